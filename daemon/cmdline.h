/*
 * A process backend's command line: {placeholders} filled with a trial's
 * values, each quoted for where it stands in sh's syntax.  Pure text, no
 * I/O.
 */
#ifndef RFTD_CMDLINE_H
#define RFTD_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The value of placeholder `name`: true with *text set (it may point into
 * buf, of len bytes), false when there is none.
 */
typedef bool (*cmdline_lookup)(void *arg, const char *name, char *buf,
			       size_t len, const char **text);

/*
 * Returns `command` (malloc'd) with each {name} replaced by its value: a
 * name of letters, digits, '_', '.' and '-' starting with a letter or '_'
 * in braces, not after '$' (so ${VAR} stays the shell's).  A value goes
 * in single-quoted outside quotes, with its quotes escaped inside '...',
 * and with \, ", $ and ` escaped inside "...": it is always one literal
 * word to the shell that reads the line, whatever it holds.  Returns
 * NULL with `err` naming the placeholder when lookup() has no value.
 */
char *cmdline_fill(const char *command, cmdline_lookup lookup, void *arg,
		   char *err, size_t errlen);

#endif
