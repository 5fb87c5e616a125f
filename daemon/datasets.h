/*
 * Datasets named by path in a spec.  rftd reads them to hash them (the
 * spec's identity, the provider file cache), so a path is checked before
 * it is read: a regular file (opened without blocking, so a FIFO or a
 * device is refused, not waited on), not empty, at most
 * SPEC_MAX_DATASET_BYTES, and one the asking client could read itself.
 * Hashing runs on the thread pool, once per version of a file (device,
 * inode, size, modification and change times): the loop never reads a
 * dataset.
 */
#ifndef RFTD_DATASETS_H
#define RFTD_DATASETS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

/* Who asks: the client's kernel credentials and groups. */
struct dataset_client {
	uid_t uid;
	gid_t gid;
	gid_t groups[64]; /* supplementary groups */
	size_t ngroups;
};

struct dataset_cache;

struct dataset_cache *dataset_cache_new(uv_loop_t *loop);
/* Frees it; no hashing may be under way (the loop has stopped). */
void dataset_cache_free(struct dataset_cache *c);

/*
 * What is known of `path` for `client`, without blocking on its bytes:
 * 0 with `ref` (SHA-256, hex) when it was hashed as it is now; -EAGAIN
 * when it must be hashed first (dataset_hash()); or -EACCES, -EINVAL,
 * -EFBIG, -ENOENT... with `err` saying why in words.  A NULL client is
 * the daemon itself.
 */
int dataset_lookup(struct dataset_cache *c, const char *path,
		   const struct dataset_client *client, char ref[65], char *err,
		   size_t errlen);

/* Hashes `path` on the thread pool into the cache; done(arg) follows on
 * the loop thread (after a failure too: dataset_lookup() then says). */
void dataset_hash(struct dataset_cache *c, const char *path,
		  void (*done)(void *arg), void *arg);

/*
 * Hashes the regular file `path` now (blocking): 0 with `ref`, or a
 * negative errno with `err`.  For the thread pool and for tests.
 */
int dataset_hash_file(const char *path, char ref[65], char *err, size_t errlen);

#endif
