/*
 * Small helpers both binaries need: allocation that aborts on
 * out-of-memory (for small internal sizes only; sizes from outside are
 * capped by the caller first), range-checked number parsing, paths.
 */
#ifndef RFTD_UTIL_H
#define RFTD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Returns a newly allocated formatted string; never NULL. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Parses a whole decimal string into [min, max].  Returns 0, -EINVAL when
 * `s` is not a number (empty, trailing junk), -ERANGE when out of range.
 */
int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Same for a finite double in [min, max]. */
int parse_double(const char *s, double min, double max, double *out);

/* Whether `s` is one of the strings of `list` (NULL-terminated). */
bool str_in(const char *s, const char *const *list);

/*
 * Creates `path` and its missing parents with `mode` (like mkdir -p).
 * Returns 0 or -errno.
 */
int mkdir_p(const char *path, unsigned int mode);

/* Creates the parent directory of the file `path` (mkdir -p). 0 or -errno. */
int mkdir_parent(const char *path, unsigned int mode);

/*
 * UTF-8.  Valid means RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF.
 *
 * utf8_char_len() returns the length (1..4) of the valid character that
 * starts at s, whose n bytes may be read, or 0 when none starts there.
 */
size_t utf8_char_len(const char *s, size_t n);

/*
 * For a message that quotes outside text: copies `s` into buf (of size
 * len, at least 8), writing each byte that is not part of a valid
 * character as the four characters \xNN; text that does not fit is cut
 * on a character boundary and ended with "...".  The result is valid
 * UTF-8.  Returns buf.
 */
const char *utf8_excerpt(char *buf, size_t len, const char *s);

/*
 * Returns NULL when `s` is valid UTF-8, else a malloc'd copy with each
 * byte that is not part of a valid character replaced by U+FFFD.
 */
char *utf8_repaired(const char *s);

/* Monotonic clock in nanoseconds and wall clock in seconds since 1970. */
uint64_t now_mono_ns(void);
double now_mono_s(void);
double now_wall(void);

#endif
