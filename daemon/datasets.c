/* Datasets named by path: checked, hashed off the loop, cached. */
#include "datasets.h"

#include "log.h"
#include "spec.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_SIZE 256

/* A version of a file: what its hash is good for. */
struct version {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct entry {
	struct version v;
	char ref[65];
};

struct dataset_cache {
	uv_loop_t *loop;
	struct entry entries[CACHE_SIZE];
	size_t n, next; /* filled; the one to replace next */
};

struct hash_work {
	uv_work_t req;
	struct dataset_cache *c;
	char *path;
	void (*done)(void *arg);
	void *arg;
	int rc;
	struct version v;
	char ref[65];
};

static void
version_of(const struct stat *st, struct version *v)
{
	memset(v, 0, sizeof(*v));
	v->dev = st->st_dev;
	v->ino = st->st_ino;
	v->size = st->st_size;
	v->mtime = st->st_mtim;
	v->ctime = st->st_ctim;
}

static bool
same_version(const struct version *a, const struct version *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/*
 * Opens `path` without blocking and checks that it is a dataset: a
 * regular file, not empty, not too large.  Returns the descriptor with
 * *st filled, or a negative errno with `err`.
 */
static int
open_dataset(const char *path, struct stat *st, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		int rc = -errno;

		snprintf(err, errlen, "cannot read '%s': %s", path,
			 strerror(-rc));
		return rc;
	}
	if (fstat(fd, st) != 0) {
		int rc = -errno;

		snprintf(err, errlen, "cannot read '%s': %s", path,
			 strerror(-rc));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen,
			 "'%s' is not a regular file (a dataset is read "
			 "whole: no FIFO, device or directory)",
			 path);
		close(fd);
		return -EINVAL;
	}
	if ((unsigned long long)st->st_size > SPEC_MAX_DATASET_BYTES) {
		snprintf(err, errlen, "'%s' is larger than %llu bytes", path,
			 (unsigned long long)SPEC_MAX_DATASET_BYTES);
		close(fd);
		return -EFBIG;
	}
	if (st->st_size == 0) {
		snprintf(err, errlen, "'%s' is empty", path);
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* Hashes `path`; *st is the version hashed. */
static int
hash_file(const char *path, char ref[65], char *err, size_t errlen,
	  struct stat *st)
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned long long total = 0;
	struct stat after;
	EVP_MD_CTX *ctx;
	ssize_t n;
	int fd = open_dataset(path, st, err, errlen), rc = 0;

	if (fd < 0)
		return fd;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		fatalx("libcrypto: cannot start SHA-256");
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot read '%s': %s", path,
				 strerror(-rc));
			break;
		}
		total += (unsigned long long)n;
		if (total > SPEC_MAX_DATASET_BYTES) {
			rc = -EFBIG;
			snprintf(err, errlen, "'%s' is larger than %llu bytes",
				 path,
				 (unsigned long long)SPEC_MAX_DATASET_BYTES);
			break;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	if (rc == 0 && (fstat(fd, &after) != 0 ||
			after.st_mtim.tv_sec != st->st_mtim.tv_sec ||
			after.st_mtim.tv_nsec != st->st_mtim.tv_nsec ||
			(unsigned long long)after.st_size != total)) {
		rc = -EAGAIN;
		snprintf(err, errlen,
			 "'%s' changed while rftd read it; try again once it "
			 "is written",
			 path);
	}
	close(fd);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (rc != 0)
		return rc;
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(ref + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int
dataset_hash_file(const char *path, char ref[65], char *err, size_t errlen)
{
	struct stat st;

	return hash_file(path, ref, err, errlen, &st);
}

/* --- who may name a file --------------------------------------------------
 */

/* Whether the client's permission bits allow `want` (4 read, 1 search). */
static bool
allowed(const struct dataset_client *c, const struct stat *st, mode_t want)
{
	bool group = st->st_gid == c->gid;

	if (c->uid == 0)
		return true;
	if (st->st_uid == c->uid)
		return ((st->st_mode >> 6) & want) == want;
	for (size_t i = 0; i < c->ngroups && !group; i++)
		group = st->st_gid == c->groups[i];
	if (group)
		return ((st->st_mode >> 3) & want) == want;
	return (st->st_mode & want) == want;
}

/*
 * Whether the client could open `path` itself: search permission on
 * every directory of its real path and read permission on the file.
 * The daemon may be able to read more than the client (root); it reads
 * for a client only what the client could read.
 */
static int
client_may_read(const struct dataset_client *c, const char *path, char *err,
		size_t errlen)
{
	char *real, *slash;
	struct stat st;
	int rc = 0;

	if (c == NULL || c->uid == 0)
		return 0;
	/* The path as given first, as the kernel would walk it for the
	 * client: what lies behind a directory it may not search is not
	 * its to know, not even whether it exists. */
	real = xstrdup(path);
	for (slash = strchr(real + 1, '/'); rc == 0 && slash != NULL;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (stat(real, &st) == 0 && S_ISDIR(st.st_mode) &&
		    !allowed(c, &st, 1))
			rc = -EACCES;
		*slash = '/';
	}
	if (stat("/", &st) == 0 && !allowed(c, &st, 1))
		rc = -EACCES;
	free(real);
	if (rc != 0) {
		snprintf(err, errlen,
			 "'%s': the client (uid %u) cannot read it itself, so "
			 "rftd does not read it for the client",
			 path, (unsigned int)c->uid);
		return rc;
	}
	real = realpath(path, NULL);
	if (real == NULL) {
		rc = -errno;
		snprintf(err, errlen, "cannot read '%s': %s", path,
			 strerror(-rc));
		return rc;
	}
	for (slash = real; rc == 0 && slash != NULL;
	     slash = strchr(slash + 1, '/')) {
		char saved = slash[1];

		/* Each directory from "/" down, then the file. */
		slash[1] = '\0';
		if (stat(real, &st) != 0 || !allowed(c, &st, 1))
			rc = -EACCES;
		slash[1] = saved;
	}
	if (rc == 0 && (stat(real, &st) != 0 || !allowed(c, &st, 4)))
		rc = -EACCES;
	if (rc != 0)
		snprintf(err, errlen,
			 "'%s': the client (uid %u) cannot read it itself, so "
			 "rftd does not read it for the client",
			 path, (unsigned int)c->uid);
	free(real);
	return rc;
}

/* --- the cache -------------------------------------------------------------
 */

struct dataset_cache *
dataset_cache_new(uv_loop_t *loop)
{
	struct dataset_cache *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	return c;
}

void
dataset_cache_free(struct dataset_cache *c)
{
	free(c);
}

int
dataset_lookup(struct dataset_cache *c, const char *path,
	       const struct dataset_client *client, char ref[65], char *err,
	       size_t errlen)
{
	struct version v;
	struct stat st;
	int fd, rc;

	rc = client_may_read(client, path, err, errlen);
	if (rc != 0)
		return rc;
	fd = open_dataset(path, &st, err, errlen);
	if (fd < 0)
		return fd;
	close(fd);
	version_of(&st, &v);
	for (size_t i = 0; i < c->n; i++) {
		if (same_version(&c->entries[i].v, &v)) {
			memcpy(ref, c->entries[i].ref, 65);
			return 0;
		}
	}
	snprintf(err, errlen, "'%s' has not been read yet", path);
	return -EAGAIN;
}

static void
do_hash(uv_work_t *req)
{
	struct hash_work *w = req->data;
	struct stat st;
	char err[512];

	w->rc = hash_file(w->path, w->ref, err, sizeof(err), &st);
	if (w->rc == 0)
		version_of(&st, &w->v);
}

static void
after_hash(uv_work_t *req, int status)
{
	struct hash_work *w = req->data;
	struct dataset_cache *c = w->c;

	if (status == 0 && w->rc == 0) {
		struct entry *e = &c->entries[c->next];

		e->v = w->v;
		memcpy(e->ref, w->ref, sizeof(e->ref));
		c->next = (c->next + 1) % CACHE_SIZE;
		if (c->n < CACHE_SIZE)
			c->n++;
	}
	w->done(w->arg);
	free(w->path);
	free(w);
}

void
dataset_hash(struct dataset_cache *c, const char *path, void (*done)(void *arg),
	     void *arg)
{
	struct hash_work *w = xcalloc(1, sizeof(*w));
	int rc;

	w->c = c;
	w->path = xstrdup(path);
	w->done = done;
	w->arg = arg;
	w->req.data = w;
	rc = uv_queue_work(c->loop, &w->req, do_hash, after_hash);
	if (rc != 0)
		fatalx("uv_queue_work: %s", uv_strerror(rc));
}
