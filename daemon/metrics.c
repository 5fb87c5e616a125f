/*
 * Reads trainers' metrics files incrementally (see metrics.h): JSON Lines
 * from a byte offset for rftd and verl, trainer_state.json of the newest
 * checkpoint for trl.  Each format is a row of `formats` below, with its
 * table of canonical names.
 */
#include "metrics.h"

#include "util.h"

#include <cjson/cJSON.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * A canonical name for the raw names matching `pattern`, where '*' is one
 * or more bytes and '#' one or more digits.  When several rows of one
 * canonical name match in a line, the value is the mean of the matches of
 * the lowest rank present (so acc counts only when no reward does).
 */
struct canon {
	const char *pattern;
	const char *canonical;
	int rank;
};

#define CANON_MAX 4

static const struct canon verl_canon[] = {
    {"critic/score/mean", "train_reward_mean", 0},
    {"val-core/*/reward/mean@#", "valid_reward_mean", 0},
    {"val-core/*/acc/mean@#", "valid_reward_mean", 1},
};

static const struct canon trl_canon[] = {
    {"reward", "train_reward_mean", 0},
    {"eval_reward", "valid_reward_mean", 0},
};

_Static_assert(ARRAY_LEN(verl_canon) <= CANON_MAX &&
		   ARRAY_LEN(trl_canon) <= CANON_MAX,
	       "a canonical table is longer than CANON_MAX");

struct reader;

static int read_lines(struct reader *r, const char *path);
static int read_trl(struct reader *r, const char *path);

/* A format: how it is read, where a line keeps its metrics, its names. */
static const struct format {
	const char *name;
	int (*read)(struct reader *r, const char *path);
	const char *metrics_key; /* NULL: the entry itself, less "step" */
	bool checkpoints;	 /* lines may announce checkpoints */
	const struct canon *canon;
	size_t ncanon;
} formats[] = {
    [METRICS_RFTD] = {"rftd", read_lines, "metrics", true, NULL, 0},
    [METRICS_VERL] = {"verl", read_lines, "data", false, verl_canon,
		      ARRAY_LEN(verl_canon)},
    [METRICS_TRL] = {"trl", read_trl, NULL, false, trl_canon,
		     ARRAY_LEN(trl_canon)},
};

/* The batch's strings, in chunks freed together. */
struct metrics_strings {
	struct metrics_strings *next;
	size_t used, size;
	char data[];
};

#define STRINGS_CHUNK (64 * 1024)

/* One read in progress: the format, a copy of the cursor, the batch. */
struct reader {
	const struct format *f;
	struct metrics_cursor c;
	size_t budget;
	struct metrics_batch *out;
	size_t cap_points, cap_ckpts;
};

static const char *
strings_dup(struct metrics_batch *b, const char *s)
{
	size_t n = strlen(s) + 1;
	struct metrics_strings *k = b->strings;
	char *p;

	if (k == NULL || k->size - k->used < n) {
		size_t size = n > STRINGS_CHUNK ? n : STRINGS_CHUNK;

		k = xmalloc(sizeof(*k) + size);
		k->used = 0;
		k->size = size;
		k->next = b->strings;
		b->strings = k;
	}
	p = k->data + k->used;
	memcpy(p, s, n);
	k->used += n;
	return p;
}

/* `name` is a string of the batch or a static one. */
static void
add_point(struct reader *r, int64_t step, const char *name, double value)
{
	struct metrics_batch *b = r->out;

	if (b->npoints == r->cap_points) {
		r->cap_points = r->cap_points ? 2 * r->cap_points : 256;
		b->points =
		    xrealloc(b->points, r->cap_points * sizeof(*b->points));
	}
	b->points[b->npoints++] = (struct metrics_point){step, name, value};
}

static void
add_checkpoint(struct reader *r, int64_t step, const char *path)
{
	struct metrics_batch *b = r->out;

	if (b->ncheckpoints == r->cap_ckpts) {
		r->cap_ckpts = r->cap_ckpts ? 2 * r->cap_ckpts : 8;
		b->checkpoints = xrealloc(
		    b->checkpoints, r->cap_ckpts * sizeof(*b->checkpoints));
	}
	b->checkpoints[b->ncheckpoints++] =
	    (struct metrics_checkpoint){step, strings_dup(b, path)};
}

static void
bad(struct reader *r, int64_t offset, const char *reason)
{
	if (offset < 0)
		r->out->lines++; /* a state file bad as a whole: one read */
	if (r->out->bad++ == 0) {
		r->out->first_bad_offset = offset;
		r->out->first_bad_reason = reason;
	}
}

/*
 * Whether `s` is 1..max bytes of UTF-8 without control characters (C0,
 * DEL, C1): what a metric name or a checkpoint path may be.
 */
static bool
text_ok(const char *s, size_t max)
{
	size_t n = strlen(s), i = 0;

	if (n == 0 || n > max)
		return false;
	while (i < n) {
		unsigned char u = (unsigned char)s[i];
		size_t c = utf8_char_len(s + i, n - i);

		if (c == 0 || u < 0x20 || u == 0x7f)
			return false;
		if (u == 0xc2 && (unsigned char)s[i + 1] < 0xa0)
			return false; /* U+0080..U+009F */
		i += c;
	}
	return true;
}

/* Whether a line is text: UTF-8 with no control byte but tab and CR. */
static bool
line_is_text(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char u = (unsigned char)s[i];
		size_t c;

		if (u >= 0x20 && u < 0x80) {
			i++;
			continue;
		}
		if (u < 0x20 && u != '\t' && u != '\r')
			return false;
		if (u < 0x80) {
			i++;
			continue;
		}
		if ((c = utf8_char_len(s + i, n - i)) == 0)
			return false;
		i += c;
	}
	return true;
}

/* Which Python non-finite token starts at s, if any; its length. */
static size_t
nonfinite_at(const char *s, size_t n)
{
	static const char *const tokens[] = {"NaN", "Infinity", "-Infinity"};

	for (size_t i = 0; i < ARRAY_LEN(tokens); i++) {
		size_t k = strlen(tokens[i]);

		if (n >= k && memcmp(s, tokens[i], k) == 0)
			return k;
	}
	return 0;
}

/*
 * Python's json writes NaN, Infinity and -Infinity, which JSON has not.
 * Returns NULL when `s` (n bytes) has none outside strings, else a copy
 * (with a '\0' after its *outn bytes) where each is null.
 */
static char *
nonfinite_to_null(const char *s, size_t n, size_t *outn)
{
	bool in_string = false, escape = false;
	size_t found = 0, o = 0, k;
	char *out = NULL;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			char ch = s[i];

			if (in_string) {
				if (escape)
					escape = false;
				else if (ch == '\\')
					escape = true;
				else if (ch == '"')
					in_string = false;
			} else if (ch == '"') {
				in_string = true;
			} else if ((ch == 'N' || ch == 'I' || ch == '-') &&
				   (k = nonfinite_at(s + i, n - i)) > 0) {
				found++;
				if (out != NULL) {
					memcpy(out + o, "null", 4);
					o += 4;
				}
				i += k - 1;
				continue;
			}
			if (out != NULL)
				out[o++] = ch;
		}
		if (found == 0)
			return NULL;
		if (out == NULL) {
			/* Each token becomes at most one byte longer. */
			out = xmalloc(n + found + 1);
			in_string = escape = false;
		}
	}
	out[o] = '\0';
	*outn = o;
	return out;
}

/* Parses n bytes with s[n] == '\0', the whole of it one JSON value. */
static cJSON *
parse_json(const char *s, size_t n)
{
	size_t fixedn;
	char *fixed = nonfinite_to_null(s, n, &fixedn);
	cJSON *j;

	if (fixed != NULL) {
		j = cJSON_ParseWithLengthOpts(fixed, fixedn + 1, NULL, true);
		free(fixed);
	} else {
		j = cJSON_ParseWithLengthOpts(s, n + 1, NULL, true);
	}
	return j;
}

/* The integer "step" >= 0 of an object, or -1. */
static int64_t
step_of(const cJSON *obj)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, "step");
	double d;

	if (!cJSON_IsNumber(s))
		return -1;
	d = s->valuedouble;
	if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d))
		return -1;
	return (int64_t)d;
}

/* '*' is one or more bytes, '#' one or more digits. */
static bool
glob_match(const char *p, const char *s)
{
	for (; *p != '\0' && *p != '*' && *p != '#'; p++, s++)
		if (*p != *s)
			return false;
	if (*p == '\0')
		return *s == '\0';
	if (*p == '*') {
		while (*s++ != '\0')
			if (glob_match(p + 1, s))
				return true;
		return false;
	}
	while (*s >= '0' && *s <= '9')
		if (glob_match(p + 1, ++s))
			return true;
	return false;
}

/*
 * Emits the metrics of `obj` at `step` (leaving out the key `except`),
 * then the canonical names the format maps them to.
 */
static void
emit(struct reader *r, int64_t step, const cJSON *obj, const char *except)
{
	const struct canon *map = r->f->canon;
	size_t nmap = r->f->ncanon, count[CANON_MAX] = {0};
	double sum[CANON_MAX] = {0};
	const cJSON *m;

	cJSON_ArrayForEach(m, obj)
	{
		if (except != NULL && strcmp(m->string, except) == 0)
			continue;
		if (!cJSON_IsNumber(m) || !isfinite(m->valuedouble) ||
		    !text_ok(m->string, METRICS_NAME_MAX)) {
			r->out->skipped++;
			continue;
		}
		add_point(r, step, strings_dup(r->out, m->string),
			  m->valuedouble);
		for (size_t i = 0; i < nmap; i++)
			if (glob_match(map[i].pattern, m->string)) {
				sum[i] += m->valuedouble;
				count[i]++;
			}
	}
	for (size_t i = 0; i < nmap; i++) {
		const char *name = map[i].canonical;
		int best = INT_MAX;
		double s = 0;
		size_t n = 0, j;

		for (j = 0; j < i; j++)
			if (strcmp(map[j].canonical, name) == 0)
				break;
		if (j < i)
			continue; /* done with its first row */
		for (j = i; j < nmap; j++)
			if (strcmp(map[j].canonical, name) == 0 &&
			    count[j] > 0 && map[j].rank < best)
				best = map[j].rank;
		for (j = i; j < nmap; j++)
			if (strcmp(map[j].canonical, name) == 0 &&
			    map[j].rank == best) {
				s += sum[j];
				n += count[j];
			}
		if (n > 0 && isfinite(s / (double)n))
			add_point(r, step, name, s / (double)n);
	}
}

/*
 * One line of an rftd or verl file (without its '\n'; line[len] may be
 * overwritten) that starts at `offset`.
 */
static void
do_line(struct reader *r, char *line, size_t len, uint64_t offset)
{
	int64_t off = (int64_t)offset, step;
	const cJSON *metrics = NULL, *ckpt = NULL;
	cJSON *j;
	size_t i;

	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			break;
	if (i == len)
		return; /* blank */
	r->out->lines++;
	if (!line_is_text(line, len)) {
		bad(r, off, "binary data or not UTF-8");
		return;
	}
	line[len] = '\0';
	if ((j = parse_json(line, len)) == NULL) {
		bad(r, off, "not JSON");
		return;
	}
	if (!cJSON_IsObject(j)) {
		bad(r, off, "not a JSON object");
		goto done;
	}
	if ((step = step_of(j)) < 0) {
		bad(r, off, "no integer \"step\" >= 0");
		goto done;
	}
	metrics = cJSON_GetObjectItemCaseSensitive(j, r->f->metrics_key);
	if (metrics != NULL && !cJSON_IsObject(metrics)) {
		bad(r, off, "metrics that are not an object");
		goto done;
	}
	if (r->f->checkpoints) {
		ckpt = cJSON_GetObjectItemCaseSensitive(j, "checkpoint");
		if (ckpt != NULL &&
		    (!cJSON_IsString(ckpt) ||
		     !text_ok(ckpt->valuestring, PATH_MAX - 1))) {
			bad(r, off, "a \"checkpoint\" that is not a path");
			goto done;
		}
	}
	if (metrics == NULL && ckpt == NULL) {
		bad(r, off, "no metrics object");
		goto done;
	}
	if (metrics != NULL)
		emit(r, step, metrics, NULL);
	if (ckpt != NULL)
		add_checkpoint(r, step, ckpt->valuestring);
done:
	cJSON_Delete(j);
}

static int
fail(struct reader *r, int rc, const char *why)
{
	r->out->error = why;
	return rc;
}

/* rftd and verl: complete lines from the offset, within the budget. */
static int
read_lines(struct reader *r, const char *path)
{
	const size_t cap = (size_t)METRICS_LINE_MAX + 1;
	struct metrics_cursor *c = &r->c;
	size_t have = 0, total = 0, bufsize;
	char *buf = NULL;
	struct stat st;
	int fd, rc = 0;

	/* O_NONBLOCK: opening a FIFO must not wait for its writer. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		return fail(r, -errno, "cannot open the metrics file");
	}
	if (fstat(fd, &st) < 0) {
		rc = fail(r, -errno, "cannot stat the metrics file");
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = fail(r, -EINVAL,
			  "the metrics file is not a regular file (a FIFO, a "
			  "device or a directory)");
		goto done;
	}
	if ((uint64_t)st.st_size < c->offset) {
		c->offset = 0;
		c->skipping = false;
		r->out->restarted = true;
	}
	if ((uint64_t)st.st_size == c->offset)
		goto done;
	/* Enough for what the file holds now, at most one line. */
	bufsize = (uint64_t)st.st_size - c->offset < cap
		      ? (size_t)((uint64_t)st.st_size - c->offset)
		      : cap;
	buf = xmalloc(bufsize + 1);
	while (total < r->budget && have < bufsize) {
		size_t want = bufsize - have, start = 0;
		ssize_t n;

		if (want > r->budget - total)
			want = r->budget - total;
		n = pread(fd, buf + have, want, (off_t)(c->offset + have));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail(r, -errno, "cannot read the metrics file");
			goto done;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		total += (size_t)n;
		for (;;) {
			char *nl = memchr(buf + start, '\n', have - start);
			size_t len = nl ? (size_t)(nl - (buf + start)) : 0;

			if (c->skipping && nl == NULL) {
				c->offset += have - start;
				start = have;
				break;
			}
			if (c->skipping) {
				c->skipping = false;
			} else if (nl == NULL) {
				if (have - start < cap)
					break; /* a line still being written */
				r->out->lines++;
				bad(r, (int64_t)c->offset, "line too long");
				c->skipping = true;
				c->offset += cap;
				start = have;
				break;
			} else {
				do_line(r, buf + start, len, c->offset);
			}
			c->offset += len + 1;
			start += len + 1;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
	}
done:
	free(buf);
	close(fd);
	return rc;
}

/* trl: a checkpoint-<N> directory that has a trainer_state.json. */
struct trl_ckpt {
	int64_t n;
	char name[32];
};

#define TRL_CKPTS_MAX 65536

static int
ckpt_cmp(const void *a, const void *b)
{
	const struct trl_ckpt *x = a, *y = b;

	return (x->n > y->n) - (x->n < y->n);
}

/* The step of a name "checkpoint-<digits>", or -1. */
static int64_t
ckpt_step(const char *name)
{
	static const char prefix[] = "checkpoint-";
	const char *d = name + sizeof(prefix) - 1;
	int64_t n = 0;

	if (strncmp(name, prefix, sizeof(prefix) - 1) != 0 || *d == '\0' ||
	    strlen(d) > 18)
		return -1;
	for (; *d != '\0'; d++) {
		if (*d < '0' || *d > '9')
			return -1;
		n = n * 10 + (*d - '0');
	}
	return n;
}

/*
 * The checkpoint directories under dfd that have a trainer_state.json,
 * sorted by step; at most TRL_CKPTS_MAX, the newest.  Returns how many.
 */
static size_t
trl_list(int dfd, struct trl_ckpt **out)
{
	struct trl_ckpt *v = NULL;
	size_t n = 0, size = 0;
	struct dirent *e;
	int fd2;
	DIR *dir;

	*out = NULL;
	if ((fd2 = dup(dfd)) < 0)
		return 0;
	if ((dir = fdopendir(fd2)) == NULL) {
		close(fd2);
		return 0;
	}
	while ((e = readdir(dir)) != NULL) {
		int64_t step = ckpt_step(e->d_name);
		char state[sizeof(e->d_name) + 32];
		struct stat st;
		size_t at = n;

		if (step < 0)
			continue;
		snprintf(state, sizeof(state), "%s/trainer_state.json",
			 e->d_name);
		if (fstatat(dfd, state, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == TRL_CKPTS_MAX) {
			at = 0; /* full: the newest replace the oldest */
			for (size_t i = 1; i < n; i++)
				if (v[i].n < v[at].n)
					at = i;
			if (v[at].n >= step)
				continue;
		} else if (n == size) {
			size = size ? 2 * size : 16;
			v = xrealloc(v, size * sizeof(*v));
		}
		v[at].n = step;
		/* ckpt_step() allows 11 + 18 bytes at most. */
		memcpy(v[at].name, e->d_name, strlen(e->d_name) + 1);
		if (at == n)
			n++;
	}
	closedir(dir);
	if (n > 1)
		qsort(v, n, sizeof(*v), ckpt_cmp);
	*out = v;
	return n;
}

/*
 * Reads <dir>/<name>/trainer_state.json.  Returns 0 with *state its JSON
 * (whose log_history is an array), 1 when it is bad (counted), or a
 * negative errno.
 */
static int
trl_state(struct reader *r, int dfd, const char *name, cJSON **state)
{
	char path[64], *buf = NULL;
	size_t have = 0, size;
	struct stat st;
	int fd, rc = 1;

	*state = NULL;
	snprintf(path, sizeof(path), "%s/trainer_state.json", name);
	if ((fd = openat(dfd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 1; /* removed since it was listed */
		return fail(r, -errno, "cannot open trainer_state.json");
	}
	if (fstat(fd, &st) < 0) {
		rc = fail(r, -errno, "cannot stat trainer_state.json");
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		bad(r, -1, "trainer_state.json is not a regular file");
		goto done;
	}
	if (st.st_size > METRICS_STATE_MAX) {
		bad(r, -1, "trainer_state.json is larger than 64 MiB");
		goto done;
	}
	size = (size_t)st.st_size;
	buf = xmalloc(size + 1);
	while (have < size) {
		ssize_t n = pread(fd, buf + have, size - have, (off_t)have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail(r, -errno, "cannot read trainer_state.json");
			goto done;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	buf[have] = '\0';
	if ((*state = parse_json(buf, have)) == NULL) {
		bad(r, -1, "trainer_state.json is not JSON");
		goto done;
	}
	if (!cJSON_IsArray(
		cJSON_GetObjectItemCaseSensitive(*state, "log_history"))) {
		bad(r, -1, "trainer_state.json has no log_history array");
		cJSON_Delete(*state);
		*state = NULL;
		goto done;
	}
	rc = 0;
done:
	free(buf);
	close(fd);
	return rc;
}

/* How many trainer_state.json files one read tries, newest first. */
#define TRL_TRIES 2

/* trl: log_history of the newest checkpoint's trainer_state.json. */
static int
read_trl(struct reader *r, const char *path)
{
	struct metrics_cursor *c = &r->c;
	struct trl_ckpt *v = NULL;
	cJSON *state = NULL;
	const cJSON *e;
	int64_t prev = -1, top = c->last_step, index = 0;
	size_t n, i, tries = 0;
	bool stopped = false;
	int dfd, rc = 0;

	dfd = open(path, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ENOTDIR)
			return fail(r, -ENOTDIR,
				    "the checkpoint directory is not a "
				    "directory");
		return fail(r, -errno, "cannot open the checkpoint directory");
	}
	n = trl_list(dfd, &v);
	for (i = n; i-- > 0 && v[i].n > c->last_ckpt && tries < TRL_TRIES;
	     tries++) {
		if ((rc = trl_state(r, dfd, v[i].name, &state)) <= 0)
			break;
	}
	if (rc < 0 || state == NULL) {
		rc = rc < 0 ? rc : 0;
		goto done;
	}
	cJSON_ArrayForEach(
	    e, cJSON_GetObjectItemCaseSensitive(state, "log_history"))
	{
		int64_t step = cJSON_IsObject(e) ? step_of(e) : -1;

		index++;
		if (step < 0) {
			r->out->lines++;
			bad(r, index - 1, "no integer \"step\" >= 0");
			continue;
		}
		if (step <= c->last_step)
			continue;
		if (step != prev && r->out->npoints >= METRICS_TRL_POINTS_MAX) {
			stopped = true;
			break;
		}
		r->out->lines++;
		emit(r, step, e, "step");
		prev = step;
		if (step > top)
			top = step;
	}
	c->last_step = top;
	if (!stopped) {
		for (size_t k = 0; k <= i; k++) {
			char *p;

			if (v[k].n <= c->last_ckpt)
				continue;
			p = xasprintf("%s/%s", path, v[k].name);
			add_checkpoint(r, v[k].n, p);
			free(p);
		}
		c->last_ckpt = v[i].n;
	}
done:
	cJSON_Delete(state);
	free(v);
	close(dfd);
	return rc;
}

int
metrics_format_parse(const char *name, enum metrics_format *fmt)
{
	for (size_t i = 0; i < ARRAY_LEN(formats); i++)
		if (name != NULL && strcmp(name, formats[i].name) == 0) {
			*fmt = (enum metrics_format)i;
			return 0;
		}
	return -EINVAL;
}

const char *
metrics_format_name(enum metrics_format fmt)
{
	if ((size_t)fmt >= ARRAY_LEN(formats))
		return "?";
	return formats[fmt].name;
}

int
metrics_read(enum metrics_format fmt, const char *path,
	     struct metrics_cursor *cur, size_t budget,
	     struct metrics_batch *out)
{
	struct reader r = {.c = *cur, .out = out};
	int rc;

	memset(out, 0, sizeof(*out));
	out->first_bad_offset = -1;
	if ((size_t)fmt >= ARRAY_LEN(formats))
		return fail(&r, -EINVAL, "unknown metrics format");
	r.f = &formats[fmt];
	r.budget = budget > METRICS_LINE_MAX ? budget : METRICS_LINE_MAX + 1;
	if ((rc = r.f->read(&r, path)) < 0) {
		const char *why = out->error;

		metrics_batch_free(out);
		out->error = why;
		return rc;
	}
	*cur = r.c;
	return 0;
}

void
metrics_batch_free(struct metrics_batch *b)
{
	struct metrics_strings *k, *next;

	for (k = b->strings; k != NULL; k = next) {
		next = k->next;
		free(k);
	}
	free(b->points);
	free(b->checkpoints);
	memset(b, 0, sizeof(*b));
	b->first_bad_offset = -1;
}

void
metrics_cursor_start(struct metrics_cursor *cur)
{
	*cur = (struct metrics_cursor){0, false, -1, -1};
}

int
metrics_cursor_parse(const char *text, struct metrics_cursor *cur)
{
	struct metrics_cursor c;
	const char *p = text;
	unsigned seen = 0;

	metrics_cursor_start(cur);
	if (text == NULL || *text == '\0')
		return 0;
	if (strlen(text) >= METRICS_CURSOR_LEN)
		return -EINVAL;
	c = *cur;
	while (*p != '\0') {
		static const char keys[] = "oslc";
		const char *k = strchr(keys, p[0]), *end;
		char value[METRICS_CURSOR_LEN];
		unsigned bit;
		int64_t x;

		if (k == NULL || p[1] != '=')
			return -EINVAL;
		bit = 1u << (k - keys);
		if (seen & bit)
			return -EINVAL;
		seen |= bit;
		end = strchr(p + 2, ';');
		if (end == NULL)
			end = p + strlen(p);
		snprintf(value, sizeof(value), "%.*s", (int)(end - (p + 2)),
			 p + 2);
		switch (p[0]) {
		case 'o':
			if (parse_i64(value, 0, INT64_MAX, &x) < 0)
				return -EINVAL;
			c.offset = (uint64_t)x;
			break;
		case 's':
			if (parse_i64(value, 0, 1, &x) < 0)
				return -EINVAL;
			c.skipping = x == 1;
			break;
		case 'l':
			if (parse_i64(value, -1, INT64_MAX, &c.last_step) < 0)
				return -EINVAL;
			break;
		case 'c':
			if (parse_i64(value, -1, INT64_MAX, &c.last_ckpt) < 0)
				return -EINVAL;
			break;
		}
		p = *end == ';' ? end + 1 : end;
	}
	*cur = c;
	return 0;
}

void
metrics_cursor_format(const struct metrics_cursor *cur, char *buf, size_t len)
{
	snprintf(buf, len, "o=%" PRIu64 ";s=%d;l=%" PRId64 ";c=%" PRId64,
		 cur->offset, cur->skipping ? 1 : 0, cur->last_step,
		 cur->last_ckpt);
}
