/* Allocation, number parsing, path and clock helpers (see util.h). */
#include "util.h"

#include "log.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatalx("out of memory (%zu bytes)", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatalx("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		fatalx("out of memory (%zu bytes)", n);
	return q;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatalx("out of memory (strdup)");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("out of memory (asprintf)");
	return s;
}

bool
str_in(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

int
parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || !isfinite(v))
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
mkdir_p(const char *path, unsigned int mode)
{
	char *p = xstrdup(path);
	int rc = 0;

	for (char *s = p + 1;; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

int
mkdir_parent(const char *path, unsigned int mode)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int rc = 0;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		rc = mkdir_p(dir, mode);
	}
	free(dir);
	return rc;
}

size_t
utf8_char_len(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need;

	if (n == 0)
		return 0;
	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		need = 2;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		need = 3;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		need = 4;
	else
		return 0;
	/* The second byte's range rules out overlong forms, surrogates and
	 * code points above U+10FFFF. */
	if (u[0] == 0xe0)
		lo = 0xa0;
	else if (u[0] == 0xed)
		hi = 0x9f;
	else if (u[0] == 0xf0)
		lo = 0x90;
	else if (u[0] == 0xf4)
		hi = 0x8f;
	if (n < need || u[1] < lo || u[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (u[i] < 0x80 || u[i] > 0xbf)
			return 0;
	return need;
}

/* Bytes utf8_excerpt() writes for the first n bytes of s, uncut. */
static size_t
escaped_width(const char *s, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n;) {
		size_t c = utf8_char_len(s + i, n - i);

		w += c > 0 ? c : 4;
		i += c > 0 ? c : 1;
	}
	return w;
}

const char *
utf8_excerpt(char *buf, size_t len, const char *s)
{
	size_t n = strlen(s), used = 0, room;
	bool cut;

	if (len < 8) {
		if (len > 0)
			buf[0] = '\0';
		return buf;
	}
	cut = escaped_width(s, n) > len - 1;
	room = cut ? len - 1 - 3 : len - 1; /* "..." ends a cut text */
	while (n > 0) {
		size_t c = utf8_char_len(s, n);

		if (used + (c > 0 ? c : 4) > room)
			break;
		if (c > 0)
			memcpy(buf + used, s, c);
		else
			snprintf(buf + used, 5, "\\x%02x", (unsigned char)*s);
		used += c > 0 ? c : 4;
		s += c > 0 ? c : 1;
		n -= c > 0 ? c : 1;
	}
	if (cut) {
		memcpy(buf + used, "...", 3);
		used += 3;
	}
	buf[used] = '\0';
	return buf;
}

char *
utf8_repaired(const char *s)
{
	size_t n = strlen(s), bad = 0, used = 0;
	char *out;

	for (size_t i = 0; i < n;) {
		size_t c = utf8_char_len(s + i, n - i);

		bad += c == 0;
		i += c > 0 ? c : 1;
	}
	if (bad == 0)
		return NULL;
	out = xmalloc(n + 2 * bad + 1);
	for (size_t i = 0; i < n;) {
		size_t c = utf8_char_len(s + i, n - i);

		if (c > 0) {
			memcpy(out + used, s + i, c);
			used += c;
			i += c;
		} else {
			memcpy(out + used, "\xef\xbf\xbd", 3); /* U+FFFD */
			used += 3;
			i++;
		}
	}
	out[used] = '\0';
	return out;
}

uint64_t
now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double
now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
now_mono_s(void)
{
	return (double)now_mono_ns() / 1e9;
}
