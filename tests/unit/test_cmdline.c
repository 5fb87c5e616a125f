/*
 * A process backend's command line (daemon/cmdline.h): placeholders are
 * filled so that the shell reads each value as one literal word, outside
 * quotes, inside '...' and inside "...", whatever the value holds.  The
 * last test asks a real /bin/sh.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "cmdline.h"
#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Values: pairs of name, value; NULL-terminated. */
static bool
lookup(void *arg, const char *name, char *buf, size_t len, const char **text)
{
	const char *const *kv = arg;

	(void)buf;
	(void)len;
	for (size_t i = 0; kv[i] != NULL; i += 2)
		if (strcmp(kv[i], name) == 0) {
			*text = kv[i + 1];
			return true;
		}
	return false;
}

static void
assert_filled(const char *command, const char *const *kv, const char *want)
{
	char err[256];
	char *got = cmdline_fill(command, lookup, (void *)kv, err, sizeof(err));

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
values_are_quoted_outside_quotes(void **state)
{
	const char *kv[] = {"lr", "0.1", "name", "it's", NULL};

	(void)state;
	assert_filled("train --lr {lr} --name {name}", kv,
		      "train --lr '0.1' --name 'it'\\''s'");
}

static void
values_inside_quotes_keep_the_quotes_closed(void **state)
{
	const char *kv[] = {"v", "a'b\"c$d`e\\f", NULL};

	(void)state;
	assert_filled("x '{v}'", kv, "x 'a'\\''b\"c$d`e\\f'");
	assert_filled("x \"{v}\"", kv, "x \"a'b\\\"c\\$d\\`e\\\\f\"");
}

static void
shell_braces_and_escapes_stay(void **state)
{
	const char *kv[] = {"HOME", "no", "lr", "1", NULL};

	(void)state;
	/* ${VAR} is the shell's; \{ and a brace that is no name stay. */
	assert_filled("echo ${HOME} {1} { lr} {lr-x {lr}", kv,
		      "echo ${HOME} {1} { lr} {lr-x '1'");
	assert_filled("a\\'{lr}", kv, "a\\''1'");
}

static void
a_placeholder_without_a_value_is_named(void **state)
{
	const char *kv[] = {"lr", "1", NULL};
	char err[256];

	(void)state;
	assert_null(cmdline_fill("train --lr {lr} --group {group_size}", lookup,
				 (void *)kv, err, sizeof(err)));
	assert_non_null(strstr(err, "{group_size}"));
}

/* Runs `line` with /bin/sh and returns what it printed. */
static char *
sh_output(const char *line)
{
	char *cmd = xasprintf("%s", line), buf[4096];
	FILE *p = popen(cmd, "r");
	size_t n;

	assert_non_null(p);
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	pclose(p);
	free(cmd);
	return xstrdup(buf);
}

static void
a_real_shell_reads_hostile_values_literally(void **state)
{
	static const char *const hostile[] = {
	    "; touch /tmp/rftd-pwned #",
	    "$(id) `id` $HOME",
	    "a'b\"c\\d",
	    "' ; echo pwned ; '",
	    "\" ; echo pwned ; \"",
	    "*",
	    "",
	};
	static const char *const templates[] = {
	    "printf '<%s>' {v}",
	    "printf '<%s>' '{v}'",
	    "printf '<%s>' \"{v}\"",
	    "printf '<%s>' x{v}y",
	};

	(void)state;
	for (size_t t = 0; t < sizeof(templates) / sizeof(*templates); t++) {
		for (size_t h = 0; h < sizeof(hostile) / sizeof(*hostile);
		     h++) {
			const char *kv[] = {"v", hostile[h], NULL};
			const char *tmpl = templates[t];
			char err[256];
			char *line = cmdline_fill(tmpl, lookup, (void *)kv, err,
						  sizeof(err));
			char *got, *want;

			assert_non_null(line);
			got = sh_output(line);
			want = t == 3 ? xasprintf("<x%sy>", hostile[h])
				      : xasprintf("<%s>", hostile[h]);
			if (strcmp(got, want) != 0)
				fail_msg("template %s, value %s: the shell "
					 "read %s from %s",
					 tmpl, hostile[h], got, line);
			free(got);
			free(want);
			free(line);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(values_are_quoted_outside_quotes),
	    cmocka_unit_test(values_inside_quotes_keep_the_quotes_closed),
	    cmocka_unit_test(shell_braces_and_escapes_stay),
	    cmocka_unit_test(a_placeholder_without_a_value_is_named),
	    cmocka_unit_test(a_real_shell_reads_hostile_values_literally),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
