/*
 * Slurm's answers, read (see slurm.h).  Every string is cut to fit its
 * field on a UTF-8 character boundary; every number is checked for its
 * range before it is converted.
 */
#include "slurm.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_ID	 4294967295.0 /* Slurm's job ids are uint32 */
#define MAX_TIME 1e11	      /* Unix seconds, year 5138: beyond is junk */

/* --- text ------------------------------------------------------------- */

/* Copies the n bytes at src into dst[size], cut to fit on a UTF-8
 * character boundary, NUL-terminated. */
static void
copy_text(char *dst, size_t size, const char *src, size_t n)
{
	if (size == 0)
		return;
	if (src == NULL)
		n = 0;
	if (n >= size) {
		n = size - 1;
		/* src[n] is the first byte left out: when it continues a
		 * character, leave out that character's first bytes too
		 * (at most 3 of them). */
		for (int k = 0;
		     k < 3 && n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80;
		     k++)
			n--;
	}
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Appends the string s to the NUL-terminated dst[size], cut to fit. */
static void
append_text(char *dst, size_t size, const char *s)
{
	size_t used = strnlen(dst, size);

	if (used + 1 >= size)
		return;
	copy_text(dst + used, size - used, s, strlen(s));
}

static bool
word_char(char c)
{
	return c != '\0' && c != ' ' && c != '\t' && c != '\n' && c != '\r' &&
	       c != '+';
}

/* The first word of s (up to white space or '+') into dst[size]; false
 * (dst "") when there is none or it does not fit. */
static bool
first_word(char *dst, size_t size, const char *s, size_t n)
{
	size_t i = 0, w;

	if (size == 0)
		return false;
	dst[0] = '\0';
	if (s == NULL)
		return false;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	for (w = 0; i + w < n && word_char(s[i + w]); w++)
		;
	if (w == 0 || w >= size)
		return false;
	memcpy(dst, s + i, w);
	dst[w] = '\0';
	return true;
}

/* --- states ----------------------------------------------------------- */

static const struct {
	const char *word;
	enum job_state state;
} states[] = {
    {"PENDING", JOB_QUEUED},	  {"REQUEUED", JOB_QUEUED},
    {"REQUEUE_FED", JOB_QUEUED},  {"REQUEUE_HOLD", JOB_QUEUED},
    {"SPECIAL_EXIT", JOB_QUEUED}, {"RESV_DEL_HOLD", JOB_QUEUED},
    {"CONFIGURING", JOB_QUEUED},  {"SUSPENDED", JOB_QUEUED},
    {"RUNNING", JOB_RUNNING},	  {"COMPLETING", JOB_RUNNING},
    {"STAGE_OUT", JOB_RUNNING},	  {"RESIZING", JOB_RUNNING},
    {"SIGNALING", JOB_RUNNING},	  {"STOPPED", JOB_RUNNING},
    {"COMPLETED", JOB_SUCCEEDED}, {"FAILED", JOB_FAILED},
    {"TIMEOUT", JOB_FAILED},	  {"OUT_OF_MEMORY", JOB_FAILED},
    {"NODE_FAIL", JOB_FAILED},	  {"BOOT_FAIL", JOB_FAILED},
    {"DEADLINE", JOB_FAILED},	  {"PREEMPTED", JOB_FAILED},
    {"CANCELLED", JOB_CANCELLED},
};

/* The flags that Slurm's squeue and sacct print instead of the base
 * state when they are set, in the order they win (job_state_string()). */
static const char *const shown_flags[] = {
    "COMPLETING", "STAGE_OUT",	 "CONFIGURING",	  "RESIZING",
    "REQUEUED",	  "REQUEUE_FED", "REQUEUE_HOLD",  "SPECIAL_EXIT",
    "STOPPED",	  "REVOKED",	 "RESV_DEL_HOLD", "SIGNALING",
};

enum job_state
slurm_state(const char *word)
{
	char w[SLURM_STATE_MAX];

	if (word == NULL || !first_word(w, sizeof w, word, strlen(word)))
		return JOB__COUNT;
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
		if (strcasecmp(w, states[i].word) == 0)
			return states[i].state;
	return JOB__COUNT;
}

bool
slurm_state_final(const char *word)
{
	enum job_state s = slurm_state(word);

	return s == JOB_SUCCEEDED || s == JOB_FAILED || s == JOB_CANCELLED;
}

/* --- exit -------------------------------------------------------------- */

static const char *const signal_names[] = {
    [1] = "Hangup",
    [2] = "Interrupt",
    [3] = "Quit",
    [4] = "Illegal instruction",
    [5] = "Trace/breakpoint trap",
    [6] = "Aborted",
    [7] = "Bus error",
    [8] = "Floating point exception",
    [9] = "Killed",
    [10] = "User defined signal 1",
    [11] = "Segmentation fault",
    [12] = "User defined signal 2",
    [13] = "Broken pipe",
    [14] = "Alarm clock",
    [15] = "Terminated",
    [16] = "Stack fault",
    [17] = "Child exited",
    [18] = "Continued",
    [19] = "Stopped (signal)",
    [20] = "Stopped",
    [21] = "Stopped (tty input)",
    [22] = "Stopped (tty output)",
    [23] = "Urgent I/O condition",
    [24] = "CPU time limit exceeded",
    [25] = "File size limit exceeded",
    [26] = "Virtual timer expired",
    [27] = "Profiling timer expired",
    [28] = "Window changed",
    [29] = "I/O possible",
    [30] = "Power failure",
    [31] = "Bad system call",
};

void
slurm_describe_exit(int ws, char *buf, size_t len)
{
	int sig = ws & 0x7f;

	if (buf == NULL || len == 0)
		return;
	if (ws >= 0 && ws <= 0xffff && sig == 0) {
		snprintf(buf, len, "exit code %d", (ws >> 8) & 0xff);
	} else if (ws >= 0 && ws <= 0xff && sig != 0x7f) {
		const char *name =
		    sig < (int)(sizeof signal_names / sizeof signal_names[0])
			? signal_names[sig]
			: NULL;
		bool core = (ws & 0x80) != 0;

		if (name != NULL)
			snprintf(buf, len, "killed by signal %d (%s%s)", sig,
				 name, core ? ", core dumped" : "");
		else
			snprintf(buf, len, "killed by signal %d%s", sig,
				 core ? " (core dumped)" : "");
	} else if (ws >= 0 && ws <= 0xffff && sig == 0x7f) {
		snprintf(buf, len, "stopped by signal %d", (ws >> 8) & 0xff);
	} else {
		snprintf(buf, len, "wait status 0x%x", (unsigned)ws);
	}
}

/* --- squeue --json ------------------------------------------------------ */

static const cJSON *
get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* A finite JSON number, or the v0.0.40+ {"set":true,"infinite":false,
 * "number":N}.  False when absent, null, unset, infinite or of another
 * type. */
static bool
get_number(const cJSON *v, double *out)
{
	if (cJSON_IsObject(v)) {
		if (cJSON_IsFalse(get(v, "set")) ||
		    cJSON_IsTrue(get(v, "infinite")))
			return false;
		v = get(v, "number");
	}
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return false;
	*out = v->valuedouble;
	return true;
}

/* An integral number in [lo, hi]. */
static bool
get_int(const cJSON *v, double lo, double hi, int64_t *out)
{
	double d;

	if (!get_number(v, &d) || d < lo || d > hi || d != floor(d))
		return false;
	*out = (int64_t)d;
	return true;
}

/* A time in Unix seconds; 0 when unknown or out of range. */
static double
get_time(const cJSON *v)
{
	double d;

	if (!get_number(v, &d) || d <= 0 || d > MAX_TIME)
		return 0;
	return d;
}

static void
get_string(char *dst, size_t size, const cJSON *v)
{
	const char *s = cJSON_GetStringValue(v);

	copy_text(dst, size, s, s != NULL ? strlen(s) : 0);
}

/* Whether the array v holds the string word. */
static bool
has_word(const cJSON *v, const char *word)
{
	const cJSON *e;

	if (cJSON_IsString(v))
		return strcasecmp(v->valuestring, word) == 0;
	cJSON_ArrayForEach(e, v)
	{
		if (cJSON_IsString(e) && strcasecmp(e->valuestring, word) == 0)
			return true;
	}
	return false;
}

/* job_state: a string (v0.0.38), or an array of a base state and flags
 * (v0.0.40+), where the word squeue would print is the first shown flag
 * set, else the base state, else the first word. */
static void
get_state(char *dst, size_t size, const cJSON *v)
{
	const cJSON *e;
	const char *first = NULL;

	dst[0] = '\0';
	if (cJSON_IsString(v)) {
		first_word(dst, size, v->valuestring, strlen(v->valuestring));
		return;
	}
	if (!cJSON_IsArray(v))
		return;
	for (size_t i = 0; i < sizeof shown_flags / sizeof shown_flags[0];
	     i++) {
		if (has_word(v, shown_flags[i])) {
			copy_text(dst, size, shown_flags[i],
				  strlen(shown_flags[i]));
			return;
		}
	}
	cJSON_ArrayForEach(e, v)
	{
		if (!cJSON_IsString(e))
			continue;
		if (first == NULL)
			first = e->valuestring;
		if (slurm_state(e->valuestring) != JOB__COUNT) {
			first_word(dst, size, e->valuestring,
				   strlen(e->valuestring));
			return;
		}
	}
	if (first != NULL)
		first_word(dst, size, first, strlen(first));
}

/* exit_code: the raw wait status (v0.0.38), a number object, or the
 * v0.0.40+ {"status":[..],"return_code":N,"signal":{"id":N,"name":..}}. */
static bool
get_exit(const cJSON *v, int *ws)
{
	int64_t x;

	if (cJSON_IsObject(v) &&
	    (get(v, "return_code") != NULL || get(v, "signal") != NULL ||
	     get(v, "status") != NULL)) {
		const cJSON *status = get(v, "status");
		const cJSON *sig = get(v, "signal");
		int64_t rc;

		if (has_word(status, "PENDING") || has_word(status, "INVALID"))
			return false;
		if (cJSON_IsObject(sig))
			sig = get(sig, "id");
		if (get_int(sig, 1, 127, &x)) {
			*ws = (int)x |
			      (has_word(status, "CORE_DUMPED") ? 0x80 : 0);
			return true;
		}
		if (get_int(get(v, "return_code"), 0, 255, &rc)) {
			*ws = (int)rc << 8;
			return true;
		}
		return false;
	}
	if (!get_int(v, 0, 0xffff, &x))
		return false;
	*ws = (int)x;
	return true;
}

/* The first error of a non-empty "errors" array, in words. */
static void
describe_error(const cJSON *e, char *err, size_t errlen)
{
	const char *parts[3] = {NULL, NULL, NULL};

	if (err == NULL || errlen == 0)
		return;
	err[0] = '\0';
	if (cJSON_IsString(e)) {
		append_text(err, errlen, e->valuestring);
		return;
	}
	parts[0] = cJSON_GetStringValue(get(e, "source"));
	parts[1] = cJSON_GetStringValue(get(e, "description"));
	parts[2] = cJSON_GetStringValue(get(e, "error"));
	if (parts[0] != NULL && parts[0][0] != '\0') {
		append_text(err, errlen, parts[0]);
		append_text(err, errlen, ": ");
	}
	if (parts[1] != NULL && parts[1][0] != '\0')
		append_text(err, errlen, parts[1]);
	else
		append_text(err, errlen, "error");
	if (parts[2] != NULL && parts[2][0] != '\0') {
		append_text(err, errlen, " (");
		append_text(err, errlen, parts[2]);
		append_text(err, errlen, ")");
	}
}

/* The times and exit that make sense in the record's state. */
static void
settle(struct slurm_job *j)
{
	enum job_state s = slurm_state(j->state);

	if (s == JOB_QUEUED && strcasecmp(j->state, "SUSPENDED") != 0)
		j->start_time = 0; /* an estimate, or a former run's */
	if (!slurm_state_final(j->state)) {
		j->end_time = 0; /* start + limit */
		j->has_exit = false;
		j->wait_status = 0;
	}
}

static bool
read_job(const cJSON *o, struct slurm_job *j)
{
	memset(j, 0, sizeof *j);
	j->array_task_id = -1;
	if (!cJSON_IsObject(o) || !get_int(get(o, "job_id"), 1, MAX_ID, &j->id))
		return false;
	if (!get_int(get(o, "array_job_id"), 1, MAX_ID, &j->array_job_id))
		j->array_job_id = 0;
	if (j->array_job_id == 0 ||
	    !get_int(get(o, "array_task_id"), 0, MAX_ID, &j->array_task_id))
		j->array_task_id = -1;
	get_string(j->name, sizeof j->name, get(o, "name"));
	get_string(j->comment, sizeof j->comment, get(o, "comment"));
	get_state(j->state, sizeof j->state, get(o, "job_state"));
	get_string(j->reason, sizeof j->reason, get(o, "state_reason"));
	j->has_exit = get_exit(get(o, "exit_code"), &j->wait_status);
	j->submit_time = get_time(get(o, "submit_time"));
	j->start_time = get_time(get(o, "start_time"));
	j->end_time = get_time(get(o, "end_time"));
	settle(j);
	return true;
}

int
slurm_parse_squeue(const char *json, size_t len, struct slurm_job **jobs,
		   size_t *n, char *err, size_t errlen)
{
	cJSON *root;
	const cJSON *errors, *list, *e;
	struct slurm_job *out = NULL;
	size_t count = 0, size;
	int rc = 0;

	*jobs = NULL;
	*n = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (json == NULL)
		return -EINVAL;
	root = cJSON_ParseWithLength(json, len);
	if (root == NULL)
		return -EINVAL; /* not JSON (or no memory: cJSON can't say) */
	if (!cJSON_IsObject(root)) {
		rc = -EINVAL;
		goto out;
	}
	errors = get(root, "errors");
	if (errors != NULL && !cJSON_IsNull(errors)) {
		if (!cJSON_IsArray(errors)) {
			rc = -EINVAL;
			goto out;
		}
		if (cJSON_GetArraySize(errors) > 0) {
			describe_error(cJSON_GetArrayItem(errors, 0), err,
				       errlen);
			rc = -EAGAIN;
			goto out;
		}
	}
	list = get(root, "jobs");
	if (!cJSON_IsArray(list)) {
		rc = -EINVAL;
		goto out;
	}
	size = (size_t)cJSON_GetArraySize(list);
	if (size > 0) {
		out = calloc(size, sizeof *out);
		if (out == NULL) {
			rc = -ENOMEM;
			goto out;
		}
	}
	cJSON_ArrayForEach(e, list)
	{
		if (count < size && read_job(e, &out[count]))
			count++;
	}
	if (count == 0) {
		free(out);
		out = NULL;
	}
	*jobs = out;
	*n = count;
out:
	cJSON_Delete(root);
	return rc;
}

/* --- sacct -P -n ------------------------------------------------------- */

struct field {
	const char *s;
	size_t n;
};

/* Whether the n bytes at s are all digits (n > 0), with their value in
 * *v when it is at most max. */
static bool
digits(const char *s, size_t n, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > max)
		return false;
	*v = x;
	return true;
}

/* JobID: "5", "10_1", "10_[2-3%1]", steps "5.batch", "10_1.0".  Returns 1
 * for a job, 0 for a step, -1 for something else. */
static int
parse_jobid(struct field f, struct slurm_job *j)
{
	size_t i = 0, k;
	uint64_t v;

	while (i < f.n && f.s[i] >= '0' && f.s[i] <= '9')
		i++;
	if (!digits(f.s, i, (uint64_t)MAX_ID, &v) || v == 0)
		return -1;
	j->id = (int64_t)v;
	if (memchr(f.s + i, '.', f.n - i) != NULL)
		return 0;
	if (i == f.n)
		return 1;
	if (f.s[i] != '_')
		return -1;
	j->array_job_id = j->id;
	i++;
	if (i < f.n && f.s[i] == '[')
		return f.s[f.n - 1] == ']' ? 1 : -1;
	for (k = i; k < f.n && f.s[k] >= '0' && f.s[k] <= '9'; k++)
		;
	if (k != f.n || !digits(f.s + i, k - i, (uint64_t)MAX_ID, &v))
		return -1;
	j->array_task_id = (int64_t)v;
	return 1;
}

/* ExitCode "E:S". */
static bool
parse_exitcode(struct field f, int *ws)
{
	const char *colon = memchr(f.s, ':', f.n);
	uint64_t e, s;
	size_t en;

	if (colon == NULL)
		return false;
	en = (size_t)(colon - f.s);
	if (!digits(f.s, en, 255, &e) ||
	    !digits(colon + 1, f.n - en - 1, 127, &s))
		return false;
	*ws = s > 0 ? (int)s : (int)e << 8;
	return true;
}

/* Start, End: local "YYYY-MM-DDTHH:MM:SS", or Unix seconds; 0 else. */
static double
parse_time(struct field f)
{
	char buf[32];
	struct tm tm;
	int y, mo, d, h, mi, s, used = -1;
	uint64_t v;
	time_t t;

	if (digits(f.s, f.n, (uint64_t)MAX_TIME, &v))
		return (double)v;
	if (f.n >= sizeof buf)
		return 0;
	memcpy(buf, f.s, f.n);
	buf[f.n] = '\0';
	if (sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s,
		   &used) != 6 ||
	    used != (int)f.n)
		return 0;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60)
		return 0;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t == (time_t)-1 || (double)t <= 0 || (double)t > MAX_TIME)
		return 0;
	return (double)t;
}

#define MAX_FIELDS 64 /* a JobName with more '|' than this: not read */

/* One line: 1 a job (in *j), 0 a step, -1 not a record. */
static int
parse_sacct_line(const char *s, size_t n, struct slurm_job *j)
{
	struct field f[MAX_FIELDS];
	size_t nf = 0, start = 0;
	struct field id, name = {"", 0}, state, code, st = {"", 0},
			 en = {"", 0};
	int kind;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '|') {
			if (nf == MAX_FIELDS)
				return -1;
			f[nf].s = s + start;
			f[nf].n = i - start;
			nf++;
			start = i + 1;
		}
	}
	/* -p ends every line with '|'. */
	if (nf >= 4 && f[nf - 1].n == 0)
		nf--;
	if (nf == 3) { /* JobID,State,ExitCode */
		id = f[0];
		state = f[1];
		code = f[2];
	} else if (nf == 5) { /* JobID,State,ExitCode,Start,End */
		id = f[0];
		state = f[1];
		code = f[2];
		st = f[3];
		en = f[4];
	} else if (nf >= 6) { /* JobID,JobName (may hold '|'),State,... */
		id = f[0];
		name.s = f[1].s;
		name.n = (size_t)(f[nf - 4].s - 1 - f[1].s);
		state = f[nf - 4];
		code = f[nf - 3];
		st = f[nf - 2];
		en = f[nf - 1];
	} else {
		return -1;
	}

	memset(j, 0, sizeof *j);
	j->array_task_id = -1;
	kind = parse_jobid(id, j);
	if (kind <= 0)
		return kind;
	if (!first_word(j->state, sizeof j->state, state.s, state.n))
		return -1;
	j->has_exit = parse_exitcode(code, &j->wait_status);
	if (!j->has_exit && code.n > 0)
		return -1; /* not sacct's ExitCode: not this format */
	copy_text(j->name, sizeof j->name, name.s, name.n);
	j->start_time = parse_time(st);
	j->end_time = parse_time(en);
	settle(j);
	return 1;
}

int
slurm_parse_sacct(const char *text, size_t len, struct slurm_job **jobs,
		  size_t *n)
{
	struct slurm_job *out = NULL, j;
	size_t count = 0, cap = 0, pos = 0;
	bool lines = false, records = false;

	*jobs = NULL;
	*n = 0;
	if (text == NULL)
		return len == 0 ? 0 : -EINVAL;
	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t ln = nl != NULL ? (size_t)(nl - s) : len - pos;
		size_t b = 0;
		int kind;

		pos += ln + (nl != NULL);
		while (ln > 0 && (s[ln - 1] == '\r' || s[ln - 1] == ' ' ||
				  s[ln - 1] == '\t'))
			ln--;
		while (b < ln && (s[b] == ' ' || s[b] == '\t'))
			b++;
		if (b == ln)
			continue;
		lines = true;
		kind = parse_sacct_line(s + b, ln - b, &j);
		if (kind >= 0)
			records = true;
		if (kind <= 0)
			continue;
		if (count == cap) {
			size_t ncap = cap != 0 ? cap * 2 : 16;
			struct slurm_job *p;

			if (ncap > SIZE_MAX / sizeof *out)
				goto nomem;
			p = realloc(out, ncap * sizeof *out);
			if (p == NULL)
				goto nomem;
			out = p;
			cap = ncap;
		}
		out[count++] = j;
	}
	if (lines && !records) {
		free(out);
		return -EINVAL;
	}
	if (count == 0) {
		free(out);
		out = NULL;
	}
	*jobs = out;
	*n = count;
	return 0;
nomem:
	free(out);
	return -ENOMEM;
}
