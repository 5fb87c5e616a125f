/*
 * Small secret files rftd keeps for itself: the dashboard's token and
 * the webhook signing secret.  Made 0600 from random bytes when missing,
 * refused when group or others may read them.
 */
#ifndef RFTD_SECRET_H
#define RFTD_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* Writes a new secret's text (NUL-terminated) into `text`; false when
 * no random bytes could be had. */
typedef bool (*secret_make_fn)(char *text, size_t cap);

/*
 * Reads the secret in `path` into `buf` (`cap` bytes, NUL-terminated,
 * blanks and line ends at its end cut), first creating the file (its
 * directory 0700 when missing) with make()'s text when it does not exist;
 * *made says so.  `what` names the option in messages ("[http]
 * token_file").  Returns the secret's length, or a negative errno with
 * `err` saying what and where: not a regular file, readable by group or
 * others, empty, or longer than cap - 1 bytes.
 */
int secret_file_load(const char *what, const char *path, secret_make_fn make,
		     char *buf, size_t cap, bool *made, char *err,
		     size_t errlen);

#endif
