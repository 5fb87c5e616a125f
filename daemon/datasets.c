/*
 * Datasets named by path: checked, read off the loop (hashed and their
 * examples checked in one pass), and what was found kept per version.
 */
#include "datasets.h"

#include "log.h"
#include "spec.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
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
	struct dataset_facts facts;
};

/*
 * The versions read, the newest CACHE_SIZE, for the process: facts are
 * asked for by path where no cache is at hand (a backend checking a
 * job).  Loop thread only.
 */
static struct entry known[CACHE_SIZE];
static size_t nknown, next_known; /* filled; the one to replace next */

struct dataset_cache {
	uv_loop_t *loop;
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
	struct dataset_facts facts;
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

/* --- reading: the hash and the facts in one pass ---------------------------
 */

static const char *const roles[] = {"system",	 "developer", "user",
				    "assistant", "tool",      NULL};

/* The example being read and where the reading is. */
struct scan {
	struct dataset_facts *f; /* NULL: hash only */
	char *line;		 /* the current line, when it is checked */
	size_t len, cap;
	bool too_long;		       /* longer than DATASET_LINE_MAX */
	bool blank;		       /* nothing but blanks so far */
	unsigned long long lineno;     /* lines ended so far */
	unsigned long long pos, start; /* bytes read; where the line began */
	unsigned long long stamp;      /* examples checked, for fields */
	unsigned long long *seen;      /* per field: the stamp it was seen */
};

static bool
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static void bad(struct scan *s, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A line that is not an example: the first one is told, all counted. */
static void
bad(struct scan *s, const char *field, const char *fmt, ...)
{
	struct dataset_facts *f = s->f;
	va_list ap;

	if (f->bad_lines++ > 0)
		return;
	f->bad_line = s->lineno;
	snprintf(f->bad_field, sizeof(f->bad_field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(f->bad_why, sizeof(f->bad_why), fmt, ap);
	va_end(ap);
}

/* The members of an item other than messages and tools, counted. */
static void
count_fields(struct scan *s, const cJSON *item)
{
	struct dataset_facts *f = s->f;
	const cJSON *m;

	s->stamp++;
	cJSON_ArrayForEach(m, item)
	{
		size_t i;

		if (strcmp(m->string, "messages") == 0 ||
		    strcmp(m->string, "tools") == 0 || strlen(m->string) > 128)
			continue;
		for (i = 0; i < f->nfields; i++)
			if (strcmp(f->fields[i].name, m->string) == 0)
				break;
		if (i == f->nfields) {
			if (f->nfields == DATASET_MAX_FIELDS) {
				f->more_fields = true;
				continue;
			}
			f->fields = xrealloc(f->fields, (f->nfields + 1) *
							    sizeof(*f->fields));
			s->seen = xrealloc(s->seen,
					   (f->nfields + 1) * sizeof(*s->seen));
			f->fields[i] = (struct dataset_field){
			    .name = xstrdup(m->string),
			    /* The examples before lacked it. */
			    .first_missing = s->stamp > 1 ? f->first_line : 0,
			};
			f->nfields++;
		}
		if (s->seen[i] != s->stamp) {
			s->seen[i] = s->stamp;
			f->fields[i].count++;
		}
	}
	for (size_t i = 0; i < f->nfields; i++)
		if (s->seen[i] != s->stamp && f->fields[i].first_missing == 0)
			f->fields[i].first_missing = s->lineno;
}

/* One message of an example's messages array. */
static bool
check_message(struct scan *s, const cJSON *msg, int i, const char **role)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(msg, "role");
	char p[48], quoted[64];

	snprintf(p, sizeof(p), "/messages/%d", i);
	*role = NULL;
	if (!cJSON_IsObject(msg)) {
		bad(s, p, "must be a message object {role, content}");
		return false;
	}
	snprintf(p, sizeof(p), "/messages/%d/role", i);
	if (!cJSON_IsString(r)) {
		bad(s, p,
		    "is required: system, developer, user, assistant or tool");
		return false;
	}
	if (!str_in(r->valuestring, roles)) {
		bad(s, p,
		    "'%s' is not a role: system, developer, user, assistant "
		    "or tool",
		    utf8_excerpt(quoted, sizeof(quoted), r->valuestring));
		return false;
	}
	*role = r->valuestring;
	/* An assistant's turn may be tool calls alone. */
	if (cJSON_GetObjectItemCaseSensitive(msg, "content") == NULL &&
	    !(strcmp(*role, "assistant") == 0 &&
	      cJSON_GetObjectItemCaseSensitive(msg, "tool_calls") != NULL)) {
		snprintf(p, sizeof(p), "/messages/%d/content", i);
		bad(s, p, "is required");
		return false;
	}
	return true;
}

/*
 * Checks the example in s->line.  cJSON records a parse error in a
 * global of its own; the loop thread only ever compares that pointer
 * with its own buffer, so a pool thread writing it is harmless.
 */
static void
check_example(struct scan *s)
{
	struct dataset_facts *f = s->f;
	const char *end = NULL, *role = NULL;
	const cJSON *messages, *msg, *tools;
	cJSON *item;
	int i = 0;

	f->checked++;
	if (f->first_line == 0)
		f->first_line = s->lineno;
	f->last_line = s->lineno;
	item = cJSON_ParseWithLengthOpts(s->line, s->len, &end, false);
	if (item == NULL) {
		bad(s, "", "is not valid JSON (at character %zu)",
		    end != NULL ? (size_t)(end - s->line) + 1 : s->len);
		return;
	}
	while (end < s->line + s->len && is_blank((unsigned char)*end))
		end++;
	if (end < s->line + s->len) {
		bad(s, "", "has more after its JSON value (at character %zu)",
		    (size_t)(end - s->line) + 1);
		goto done;
	}
	if (!cJSON_IsObject(item)) {
		bad(s, "", "is not a JSON object {\"messages\": [...], ...}");
		goto done;
	}
	count_fields(s, item);
	messages = cJSON_GetObjectItemCaseSensitive(item, "messages");
	if (messages == NULL) {
		bad(s, "/messages",
		    "is missing: an example is a messages array and the "
		    "item's fields");
		goto done;
	}
	if (!cJSON_IsArray(messages) || messages->child == NULL) {
		bad(s, "/messages", "must be a non-empty array of messages");
		goto done;
	}
	cJSON_ArrayForEach(msg, messages)
	{
		if (!check_message(s, msg, i, &role))
			goto done;
		if (strcmp(role, "system") == 0 && f->system_line == 0) {
			f->system_line = s->lineno;
			f->system_index = i;
		}
		i++;
	}
	if (strcmp(role, "user") != 0 && f->last_role_line == 0) {
		f->last_role_line = s->lineno;
		f->last_role_index = i - 1;
		snprintf(f->last_role, sizeof(f->last_role), "%s", role);
	}
	tools = cJSON_GetObjectItemCaseSensitive(item, "tools");
	if (tools != NULL && !cJSON_IsArray(tools))
		bad(s, "/tools", "must be an array of tools");
done:
	cJSON_Delete(item);
}

/* The current line ended (or the file did). */
static void
line_end(struct scan *s)
{
	struct dataset_facts *f = s->f;

	s->lineno++;
	if (!s->blank) {
		f->examples++;
		if (s->start >= DATASET_CHECK_BYTES)
			f->sampled = true;
		else if (s->too_long)
			bad(s, "", "is longer than %u MiB",
			    DATASET_LINE_MAX >> 20);
		else
			check_example(s);
	}
	s->len = 0;
	s->too_long = false;
	s->blank = true;
	s->start = s->pos;
}

/* Part of the current line: kept when it is to be checked. */
static void
line_part(struct scan *s, const char *p, size_t n)
{
	if (s->blank)
		for (size_t i = 0; i < n; i++)
			if (!is_blank((unsigned char)p[i])) {
				s->blank = false;
				break;
			}
	if (n == 0 || s->start >= DATASET_CHECK_BYTES || s->too_long)
		return;
	if (s->len + n > DATASET_LINE_MAX) {
		s->too_long = true;
		return;
	}
	if (s->len + n > s->cap) {
		s->cap = s->len + n > 2 * s->cap ? s->len + n : 2 * s->cap;
		s->line = xrealloc(s->line, s->cap);
	}
	memcpy(s->line + s->len, p, n);
	s->len += n;
}

static void
scan_bytes(struct scan *s, const char *p, size_t n)
{
	/* A byte order mark (Azure asks for one) is no part of line 1. */
	if (s->pos == 0 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		n -= 3;
		s->pos = s->start = 3;
	}
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t k = nl != NULL ? (size_t)(nl - p) : n;

		line_part(s, p, k);
		s->pos += k;
		if (nl == NULL)
			return;
		s->pos++;
		line_end(s);
		p += k + 1;
		n -= k + 1;
	}
}

/*
 * Reads `path`: its SHA-256 into `ref` and, with `facts`, what it holds.
 * *st is the version read.
 */
static int
scan_file(const char *path, char ref[65], struct dataset_facts *facts,
	  char *err, size_t errlen, struct stat *st)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char buf[65536];
	unsigned int mdlen = 0;
	unsigned long long total = 0;
	struct scan s = {.f = facts, .blank = true};
	struct stat after;
	EVP_MD_CTX *ctx;
	ssize_t n;
	int fd = open_dataset(path, st, err, errlen), rc = 0;

	if (facts != NULL)
		memset(facts, 0, sizeof(*facts));
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
		if (facts != NULL)
			scan_bytes(&s, buf, (size_t)n);
	}
	if (rc == 0 && facts != NULL && (!s.blank || s.len > 0))
		line_end(&s); /* the last line, without its newline */
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
	free(s.line);
	free(s.seen);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (facts != NULL)
		facts->bytes = total;
	if (rc != 0) {
		if (facts != NULL)
			dataset_facts_clear(facts);
		return rc;
	}
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(ref + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int
dataset_scan_file(const char *path, char ref[65], struct dataset_facts *facts,
		  char *err, size_t errlen)
{
	struct stat st;

	return scan_file(path, ref, facts, err, errlen, &st);
}

int
dataset_hash_file(const char *path, char ref[65], char *err, size_t errlen)
{
	return dataset_scan_file(path, ref, NULL, err, errlen);
}

/* --- facts -----------------------------------------------------------------
 */

void
dataset_facts_clear(struct dataset_facts *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nfields; i++)
		free(f->fields[i].name);
	free(f->fields);
	memset(f, 0, sizeof(*f));
}

void
dataset_facts_free(struct dataset_facts *f)
{
	dataset_facts_clear(f);
	free(f);
}

struct dataset_facts *
dataset_facts_copy(const struct dataset_facts *f)
{
	struct dataset_facts *c = xmalloc(sizeof(*c));

	*c = *f;
	c->fields = f->nfields ? xcalloc(f->nfields, sizeof(*c->fields)) : NULL;
	for (size_t i = 0; i < f->nfields; i++) {
		c->fields[i] = f->fields[i];
		c->fields[i].name = xstrdup(f->fields[i].name);
	}
	return c;
}

const struct dataset_field *
dataset_field(const struct dataset_facts *f, const char *name)
{
	for (size_t i = 0; i < f->nfields; i++)
		if (strcmp(f->fields[i].name, name) == 0)
			return &f->fields[i];
	return NULL;
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
	for (size_t i = 0; i < nknown; i++)
		dataset_facts_clear(&known[i].facts);
	nknown = next_known = 0;
	free(c);
}

static const struct entry *
known_version(const struct version *v)
{
	for (size_t i = 0; i < nknown; i++)
		if (same_version(&known[i].v, v))
			return &known[i];
	return NULL;
}

int
dataset_lookup(struct dataset_cache *c, const char *path,
	       const struct dataset_client *client, char ref[65], char *err,
	       size_t errlen)
{
	const struct entry *e;
	struct version v;
	struct stat st;
	int fd, rc;

	(void)c;
	rc = client_may_read(client, path, err, errlen);
	if (rc != 0)
		return rc;
	fd = open_dataset(path, &st, err, errlen);
	if (fd < 0)
		return fd;
	close(fd);
	version_of(&st, &v);
	if ((e = known_version(&v)) != NULL) {
		memcpy(ref, e->ref, 65);
		return 0;
	}
	snprintf(err, errlen, "'%s' has not been read yet", path);
	return -EAGAIN;
}

struct dataset_facts *
dataset_facts_of(const char *path)
{
	const struct entry *e;
	struct version v;
	struct stat st;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return NULL;
	version_of(&st, &v);
	e = known_version(&v);
	return e != NULL ? dataset_facts_copy(&e->facts) : NULL;
}

static void
do_hash(uv_work_t *req)
{
	struct hash_work *w = req->data;
	struct stat st;
	char err[512];

	w->rc = scan_file(w->path, w->ref, &w->facts, err, sizeof(err), &st);
	if (w->rc == 0)
		version_of(&st, &w->v);
}

static void
after_hash(uv_work_t *req, int status)
{
	struct hash_work *w = req->data;

	if (status == 0 && w->rc == 0) {
		struct entry *e = &known[next_known];

		dataset_facts_clear(&e->facts);
		e->v = w->v;
		memcpy(e->ref, w->ref, sizeof(e->ref));
		e->facts = w->facts; /* taken */
		next_known = (next_known + 1) % CACHE_SIZE;
		if (nknown < CACHE_SIZE)
			nknown++;
	} else {
		dataset_facts_clear(&w->facts);
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
