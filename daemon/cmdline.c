/* Filling a command line's placeholders (cmdline.h). */
#include "cmdline.h"

#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the shell stands at a point of the line. */
enum quoting {
	BARE,	/* outside quotes */
	SINGLE, /* inside '...' */
	DOUBLE, /* inside "..." */
};

struct out {
	char *text;
	size_t len;
};

static void
put(struct out *o, const char *s, size_t n)
{
	o->text = xrealloc(o->text, o->len + n + 1);
	memcpy(o->text + o->len, s, n);
	o->len += n;
	o->text[o->len] = '\0';
}

/* Writes `value` so that the shell, standing at `q`, reads it literally. */
static void
put_value(struct out *o, enum quoting q, const char *value)
{
	if (q == BARE)
		put(o, "'", 1);
	for (const char *c = value; *c != '\0'; c++) {
		if (q != DOUBLE && *c == '\'')
			put(o, "'\\''", 4); /* end, a quoted quote, resume */
		else if (q == DOUBLE && strchr("\\\"$`", *c) != NULL) {
			put(o, "\\", 1);
			put(o, c, 1);
		} else
			put(o, c, 1);
	}
	if (q == BARE)
		put(o, "'", 1);
}

static bool
name_char(char c, bool first)
{
	return isalpha((unsigned char)c) || c == '_' ||
	       (!first && (isdigit((unsigned char)c) || c == '.' || c == '-'));
}

char *
cmdline_fill(const char *command, cmdline_lookup lookup, void *arg, char *err,
	     size_t errlen)
{
	struct out o = {xstrdup(""), 0};
	enum quoting q = BARE;
	const char *s = command;
	char name[128], buf[64];

	while (*s != '\0') {
		const char *end = s + 1, *text;
		size_t n;

		/* The shell's own syntax, followed to know the quoting. */
		if (*s == '\\' && q != SINGLE && s[1] != '\0') {
			put(&o, s, 2);
			s += 2;
			continue;
		}
		if ((*s == '\'' && q != DOUBLE) || (*s == '"' && q != SINGLE)) {
			q = q != BARE ? BARE : *s == '\'' ? SINGLE : DOUBLE;
			put(&o, s++, 1);
			continue;
		}
		if (*s != '{' || (s > command && s[-1] == '$') ||
		    !name_char(s[1], true)) {
			put(&o, s++, 1);
			continue;
		}
		while (name_char(*end, false))
			end++;
		n = (size_t)(end - s - 1);
		if (*end != '}' || n >= sizeof(name)) {
			put(&o, s++, 1);
			continue;
		}
		memcpy(name, s + 1, n);
		name[n] = '\0';
		if (!lookup(arg, name, buf, sizeof(buf), &text)) {
			snprintf(err, errlen,
				 "the command's placeholder {%s} has no value: "
				 "add %s to the sweep's hyperparameters",
				 name, name);
			free(o.text);
			return NULL;
		}
		put_value(&o, q, text);
		s = end + 1;
	}
	return o.text;
}
