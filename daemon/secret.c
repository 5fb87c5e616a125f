/* Secret files (secret.h): read with their permissions checked, or made. */
#include "secret.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* Makes `path` with `text` and a newline, never over an existing file. */
static int
secret_create(const char *what, const char *path, const char *text, char *err,
	      size_t errlen)
{
	size_t len = strlen(text);
	int fd, rc = mkdir_parent(path, 0700);

	if (rc != 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(-rc));
		return rc;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		rc = -errno;
		if (rc == -EEXIST) /* made meanwhile: it is read next */
			return 0;
		snprintf(err, errlen, "%s %s: cannot create: %s", what, path,
			 strerror(-rc));
		return rc;
	}
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) != 0) {
		rc = errno ? -errno : -EIO;
		snprintf(err, errlen, "%s %s: cannot write: %s", what, path,
			 strerror(-rc));
		close(fd);
		unlink(path);
		return rc;
	}
	close(fd);
	return 0;
}

int
secret_file_load(const char *what, const char *path, secret_make_fn make,
		 char *buf, size_t cap, bool *made, char *err, size_t errlen)
{
	struct stat sb;
	ssize_t n;
	int fd, rc;

	*made = false;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (!make(buf, cap)) {
			snprintf(err, errlen, "%s %s: no random bytes", what,
				 path);
			return -EIO;
		}
		rc = secret_create(what, path, buf, err, errlen);
		OPENSSL_cleanse(buf, cap);
		if (rc != 0)
			return rc;
		*made = true;
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", what, path);
		close(fd);
		return -EINVAL;
	}
	if ((sb.st_mode & 077) != 0) {
		snprintf(err, errlen,
			 "%s %s: group or others may read it (mode %04o); it "
			 "must be 0600 (chmod 600 %s)",
			 what, path, (unsigned int)(sb.st_mode & 07777), path);
		close(fd);
		return -EPERM;
	}
	n = read(fd, buf, cap);
	rc = errno;
	close(fd);
	if (n < 0 || (size_t)n >= cap) {
		OPENSSL_cleanse(buf, cap);
		if (n < 0)
			snprintf(err, errlen, "%s %s: %s", what, path,
				 strerror(rc));
		else
			snprintf(err, errlen, "%s %s: longer than %zu bytes",
				 what, path, cap - 1);
		return -EINVAL;
	}
	while (n > 0 && strchr(" \t\r\n", buf[n - 1]) != NULL)
		n--;
	buf[n] = '\0';
	if (n == 0) {
		snprintf(err, errlen, "%s %s: empty", what, path);
		return -EINVAL;
	}
	return (int)n;
}
