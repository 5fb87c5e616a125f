/*
 * Datasets named by path in a spec.  rftd reads them to hash them (the
 * spec's identity, the provider file cache) and to check them, so a path
 * is checked before it is read: a regular file (opened without blocking,
 * so a FIFO or a device is refused, not waited on), not empty, at most
 * SPEC_MAX_DATASET_BYTES, and one the asking client could read itself.
 * Reading runs on the thread pool, once per version of a file (device,
 * inode, size, modification and change times): the loop never reads a
 * dataset.
 *
 * Glossary:
 *   example  a line that is not blank: one JSON object of an RFT dataset
 *            (a "messages" array, optional "tools", and the item's own
 *            fields, which graders read as {{item.FIELD}}).
 *   facts    what one read found: size, examples, the first line that is
 *            not an example and why, the fields of the items, and what
 *            providers' own rules ask about (system messages, the role
 *            of the last message).  They are facts of the bytes, so they
 *            hold for every path of the same version.
 *   sampled  a dataset larger than DATASET_CHECK_BYTES: every byte is
 *            hashed and its examples counted, but only the examples in
 *            its first DATASET_CHECK_BYTES are parsed and checked.
 */
#ifndef RFTD_DATASETS_H
#define RFTD_DATASETS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#define DATASET_CHECK_BYTES (64u << 20) /* parsed at most, from the start */
#define DATASET_LINE_MAX    (16u << 20) /* bytes of one example */
#define DATASET_MAX_FIELDS  64		/* item fields tracked per dataset */

/* Who asks: the client's kernel credentials and groups. */
struct dataset_client {
	uid_t uid;
	gid_t gid;
	gid_t groups[64]; /* supplementary groups */
	size_t ngroups;
};

/* A field of the items (a member of the line other than messages and
 * tools), over the examples checked. */
struct dataset_field {
	char *name;
	unsigned long long count;	  /* examples that have it */
	unsigned long long first_missing; /* line of the first without it;
					     0: none */
};

struct dataset_facts {
	unsigned long long bytes;
	unsigned long long examples; /* lines that are not blank */
	unsigned long long checked;  /* of those, parsed and checked */
	bool sampled;		     /* checked < examples: see above */
	unsigned long long first_line, last_line; /* of the checked ones */
	/* The first line that is not an example: its number (0: none), the
	 * JSON pointer inside the line ("" for the line itself) and why;
	 * and how many such lines there are. */
	unsigned long long bad_line;
	char bad_field[96];
	char bad_why[160];
	unsigned long long bad_lines;
	/* The first example with a "system" message, and that message. */
	unsigned long long system_line;
	int system_index;
	/* The first example whose last message is not the user's: the line,
	 * the message and its role. */
	unsigned long long last_role_line;
	int last_role_index;
	char last_role[24];
	struct dataset_field *fields; /* in the order first seen */
	size_t nfields;
	bool more_fields; /* more than DATASET_MAX_FIELDS: the rest untold */
};

/* A copy of `f` (free with dataset_facts_free()). */
struct dataset_facts *dataset_facts_copy(const struct dataset_facts *f);
void dataset_facts_free(struct dataset_facts *f);
/* The field `name` of the items, or NULL when no example checked has it
 * (or it is one of those past DATASET_MAX_FIELDS). */
const struct dataset_field *dataset_field(const struct dataset_facts *f,
					  const char *name);

struct dataset_cache;

struct dataset_cache *dataset_cache_new(uv_loop_t *loop);
/* Frees it; no hashing may be under way (the loop has stopped). */
void dataset_cache_free(struct dataset_cache *c);

/*
 * What is known of `path` for `client`, without blocking on its bytes:
 * 0 with `ref` (SHA-256, hex) when it was read as it is now; -EAGAIN
 * when it must be read first (dataset_hash()); or -EACCES, -EINVAL,
 * -EFBIG, -ENOENT... with `err` saying why in words.  A NULL client is
 * the daemon itself.
 */
int dataset_lookup(struct dataset_cache *c, const char *path,
		   const struct dataset_client *client, char ref[65], char *err,
		   size_t errlen);

/* Reads `path` on the thread pool into the cache; done(arg) follows on
 * the loop thread (after a failure too: dataset_lookup() then says). */
void dataset_hash(struct dataset_cache *c, const char *path,
		  void (*done)(void *arg), void *arg);

/*
 * The facts of `path` as it is now, when rftd has read this version of
 * it (dataset_hash()): a copy (free with dataset_facts_free()), or NULL
 * when it has not.  Only a stat(), no bytes read: loop thread, callable
 * where no cache is at hand (a backend checking a job).  The versions
 * read are kept for the process, the newest 256 of them.
 */
struct dataset_facts *dataset_facts_of(const char *path);

/*
 * Reads the regular file `path` now (blocking): 0 with `ref` and, when
 * `facts` is not NULL, *facts filled (release with dataset_facts_free()
 * of a copy, or dataset_facts_clear()); or a negative errno with `err`.
 * For the thread pool and for programs without a loop (tests).
 */
int dataset_scan_file(const char *path, char ref[65],
		      struct dataset_facts *facts, char *err, size_t errlen);
/* Frees what `f` holds and zeroes it (for a struct not from a copy). */
void dataset_facts_clear(struct dataset_facts *f);

/* dataset_scan_file() without the facts. */
int dataset_hash_file(const char *path, char ref[65], char *err, size_t errlen);

#endif
