/* sd_notify(3) and sd_listen_fds(3), written directly (see notify.h). */
#include "notify.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_FDS_START 3

int
notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;
	socklen_t salen;
	ssize_t n;
	int fd, rc = 0;

	if (path == NULL || path[0] == '\0')
		return 1;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* an abstract socket */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   salen);
	if (n < 0)
		rc = -errno;
	close(fd);
	return rc;
}

uint64_t
notify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	int64_t v, p;

	if (usec == NULL || parse_i64(usec, 1, INT64_MAX, &v) != 0)
		return 0;
	if (pid != NULL &&
	    (parse_i64(pid, 1, INT32_MAX, &p) != 0 || p != getpid()))
		return 0;
	return (uint64_t)v;
}

int
notify_listen_fd(char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	int64_t p, n;
	int type = 0, listening = 0, fd = LISTEN_FDS_START;
	socklen_t optlen = sizeof(int);

	if (pid == NULL || fds == NULL)
		return -1;
	if (parse_i64(pid, 1, INT32_MAX, &p) != 0 || p != getpid() ||
	    parse_i64(fds, 1, 64, &n) != 0)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &optlen) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) !=
		0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0 ||
	    sa.sun_family != AF_UNIX || type != SOCK_STREAM || !listening) {
		snprintf(err, errlen,
			 "the passed file descriptor %d is not a listening "
			 "Unix stream socket",
			 fd);
		return -EINVAL;
	}
	if (n > 1)
		snprintf(err, errlen, "%lld sockets passed; using the first",
			 (long long)n);
	/* Keep it from children (the systemd protocol leaves it to us). */
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}
