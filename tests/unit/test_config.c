/*
 * The configuration file (daemon/config.h): every key, defaults, and
 * errors that name FILE:LINE.  Each test writes its files into its own
 * temporary directory.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "config.h"
#include "paths.h"
#include "util.h"

#include "tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* --- fixture and helpers ------------------------------------------------- */

struct fixture {
	char dir[64]; /* the test's temporary directory */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	if (tmpdir_make(f->dir, sizeof(f->dir), "config") != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc = tmpdir_remove(f->dir);

	free(f);
	return rc;
}

/* Writes `text` to DIR/name; returns the path (caller frees). */
static char *
write_file(const struct fixture *f, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", f->dir, name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return path;
}

/* Loads `text` from a new file; *path gets its name (caller frees). */
static int
load_text(const struct fixture *f, const char *text, struct config *cfg,
	  char **errors, char **path)
{
	*path = write_file(f, "rftd.conf", text);
	return config_load(cfg, *path, true, errors);
}

/*
 * Loads `text` and checks that it fails with one error, "FILE:line: "
 * followed by `message` (whole == true) or by text starting `message`.
 * Frees everything before asserting, so that a failure leaks nothing.
 */
static void
check_one_error(const struct fixture *f, const char *text, int line,
		const char *message, bool whole)
{
	struct config cfg;
	char *errors = NULL, *path, *want;
	int rc;
	bool ok;

	rc = load_text(f, text, &cfg, &errors, &path);
	want = xasprintf("%s:%d: %s%s", path, line, message, whole ? "\n" : "");
	ok = rc == -EINVAL && errors != NULL && cfg.socket_path == NULL &&
	     (whole ? strcmp(errors, want) == 0
		    : strncmp(errors, want, strlen(want)) == 0 &&
			  strchr(errors, '\n') == errors + strlen(errors) - 1);
	if (!ok)
		print_error("config_load returned %d\nexpected: %s%s\n"
			    "got:      %s\n",
			    rc, want, whole ? "" : "...",
			    errors ? errors : "(no errors)");
	free(want);
	free(errors);
	free(path);
	config_free(&cfg);
	assert_true(ok);
}

static void
assert_one_error(const struct fixture *f, const char *text, int line,
		 const char *message)
{
	check_one_error(f, text, line, message, true);
}

static void
assert_error_starts(const struct fixture *f, const char *text, int line,
		    const char *prefix)
{
	check_one_error(f, text, line, prefix, false);
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* The name of the process's group: a group that surely exists. */
static const char *
own_group(void)
{
	struct group *gr = getgrgid(getgid());

	if (gr == NULL)
		skip();
	return gr->gr_name;
}

static char *
print_to_string(const struct config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	config_print(cfg, fp);
	assert_int_equal(fclose(fp), 0);
	return text;
}

static void
assert_str_or_null_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

/* Same settings; the file they came from may differ. */
static void
assert_same_settings(const struct config *a, const struct config *b)
{
	assert_str_or_null_equal(a->socket_path, b->socket_path);
	assert_str_or_null_equal(a->database_path, b->database_path);
	assert_int_equal(a->log_level, b->log_level);
	assert_str_or_null_equal(a->socket_group, b->socket_group);
	assert_int_equal(a->socket_gid, b->socket_gid);
	assert_int_equal(a->idle_timeout, b->idle_timeout);
	assert_int_equal(a->max_clients, b->max_clients);
}

/* A file that sets every key. */
static char *
full_config_text(void)
{
	return xasprintf("# every key\n"
			 "[daemon]\n"
			 "socket = /run/rftd-test/ctl.sock\n"
			 "database = /var/lib/rftd-test/store.db\n"
			 "log_level = debug\n"
			 "socket_group = %s\n"
			 "idle_timeout = 42\n"
			 "max_clients = 7\n",
			 own_group());
}

/* --- good files and defaults -------------------------------------------- */

static void
good_file_sets_every_key(void **state)
{
	struct fixture *f = *state;
	char *text = full_config_text();
	struct config cfg;
	char *errors = NULL, *path;

	assert_int_equal(load_text(f, text, &cfg, &errors, &path), 0);
	assert_null(errors);
	assert_string_equal(cfg.path, path);
	assert_string_equal(cfg.socket_path, "/run/rftd-test/ctl.sock");
	assert_string_equal(cfg.database_path, "/var/lib/rftd-test/store.db");
	assert_int_equal(cfg.log_level, LOG_LVL_DEBUG);
	assert_string_equal(cfg.socket_group, own_group());
	assert_int_equal(cfg.socket_gid, getgid());
	assert_int_equal(cfg.idle_timeout, 42);
	assert_int_equal(cfg.max_clients, 7);
	config_free(&cfg);
	free(path);
	free(text);
}

static void
print_shows_every_value_and_the_file(void **state)
{
	struct fixture *f = *state;
	char *text = full_config_text();
	char *expect_group = xasprintf("\nsocket_group = %s\n", own_group());
	struct config cfg;
	char *errors = NULL, *path, *out, *from;

	assert_int_equal(load_text(f, text, &cfg, &errors, &path), 0);
	out = print_to_string(&cfg);
	from = xasprintf("from %s", path);
	assert_non_null(strstr(out, from));
	assert_non_null(strstr(out, "\n[daemon]\n"));
	assert_non_null(strstr(out, "\nsocket = /run/rftd-test/ctl.sock\n"));
	assert_non_null(
	    strstr(out, "\ndatabase = /var/lib/rftd-test/store.db\n"));
	assert_non_null(strstr(out, "\nlog_level = debug\n"));
	assert_non_null(strstr(out, expect_group));
	assert_non_null(strstr(out, "\nidle_timeout = 42\n"));
	assert_non_null(strstr(out, "\nmax_clients = 7\n"));
	free(from);
	free(out);
	config_free(&cfg);
	free(path);
	free(expect_group);
	free(text);
}

static void
comments_blank_lines_and_crlf_are_accepted(void **state)
{
	struct fixture *f = *state;
	struct config cfg;
	char *errors = NULL, *path;

	assert_int_equal(load_text(f,
				   "; a comment\r\n"
				   "\r\n"
				   "# another\r\n"
				   "[daemon]\r\n"
				   "log_level = warning ; inline comment\r\n"
				   "max_clients=3\r\n",
				   &cfg, &errors, &path),
			 0);
	assert_int_equal(cfg.log_level, LOG_LVL_WARN);
	assert_int_equal(cfg.max_clients, 3);
	config_free(&cfg);
	free(path);
}

static void
null_path_gives_defaults(void **state)
{
	char *socket = paths_default_socket();
	char *database = paths_default_database();
	struct config cfg;
	char *errors = NULL;

	(void)state;
	assert_int_equal(config_load(&cfg, NULL, true, &errors), 0);
	assert_null(errors);
	assert_null(cfg.path);
	assert_string_equal(cfg.socket_path, socket);
	assert_string_equal(cfg.database_path, database);
	assert_int_equal(cfg.log_level, LOG_LVL_INFO);
	assert_null(cfg.socket_group);
	assert_int_equal(cfg.idle_timeout, 300);
	assert_int_equal(cfg.max_clients, 64);
	config_free(&cfg);
	free(socket);
	free(database);
}

static void
keys_left_out_keep_their_defaults(void **state)
{
	struct fixture *f = *state;
	char *database = paths_default_database();
	struct config cfg;
	char *errors = NULL, *path;

	assert_int_equal(
	    load_text(f, "[daemon]\nidle_timeout = 5\n", &cfg, &errors, &path),
	    0);
	assert_int_equal(cfg.idle_timeout, 5);
	assert_string_equal(cfg.database_path, database);
	assert_int_equal(cfg.max_clients, 64);
	config_free(&cfg);
	free(path);
	free(database);
}

static void
missing_file_that_must_exist_is_enoent_naming_the_path(void **state)
{
	struct fixture *f = *state;
	char *path = xasprintf("%s/absent.conf", f->dir);
	struct config cfg;
	char *errors = NULL;

	assert_int_equal(config_load(&cfg, path, true, &errors), -ENOENT);
	assert_non_null(errors);
	assert_non_null(strstr(errors, path));
	assert_null(cfg.socket_path);
	assert_null(cfg.path);
	config_free(&cfg);
	free(errors);
	free(path);
}

static void
missing_optional_file_gives_defaults(void **state)
{
	struct fixture *f = *state;
	char *path = xasprintf("%s/absent.conf", f->dir);
	struct config cfg;
	char *errors = NULL;

	assert_int_equal(config_load(&cfg, path, false, &errors), 0);
	assert_null(errors);
	assert_null(cfg.path);
	assert_non_null(cfg.socket_path);
	assert_int_equal(cfg.idle_timeout, 300);
	config_free(&cfg);
	free(path);
}

static void
directory_as_config_file_is_refused(void **state)
{
	struct fixture *f = *state;
	struct config cfg;
	char *errors = NULL;
	bool named;
	int rc;

	rc = config_load(&cfg, f->dir, true, &errors);
	named = errors != NULL && strstr(errors, f->dir) != NULL;
	config_free(&cfg);
	free(errors);
	assert_int_not_equal(rc, 0);
	assert_true(named);
}

/* --- errors that name FILE:LINE ------------------------------------------ */

static void
unknown_key_is_reported_with_its_line(void **state)
{
	assert_one_error(*state,
			 "# rftd\n"
			 "[daemon]\n"
			 "socket = /run/x.sock\n"
			 "\n"
			 "x = 1\n",
			 5, "unknown key 'x' in [daemon]");
}

static void
unknown_section_is_reported(void **state)
{
	assert_one_error(*state, "[deamon]\nsocket = /run/x.sock\n", 1,
			 "unknown section [deamon]; expected [daemon], "
			 "[backend \"NAME\"], [price \"BACKEND/MODEL\"], "
			 "[budget], [http] or [notify]");
}

static void
price_for_an_unknown_backend_is_reported(void **state)
{
	assert_one_error(*state, "[daemon]\n\n[price \"nowhere/o4-mini\"]\n", 3,
			 "price \"nowhere/o4-mini\": no backend \"nowhere\"");
}

static void
key_outside_a_section_is_reported(void **state)
{
	assert_one_error(*state, "socket = /run/x.sock\n[daemon]\n", 1,
			 "'socket' is outside a section");
}

static void
syntax_error_is_reported_with_its_line(void **state)
{
	assert_error_starts(*state, "[daemon]\nlog_level = info\n[daemon\n", 3,
			    "syntax error");
}

static void
relative_path_is_reported(void **state)
{
	assert_one_error(*state, "[daemon]\ndatabase = var/rftd.db\n", 2,
			 "database: must be an absolute path, not "
			 "'var/rftd.db'");
}

static void
empty_path_is_reported(void **state)
{
	assert_error_starts(*state, "[daemon]\nsocket =\n", 2,
			    "socket: must be an absolute path");
}

static void
bogus_log_level_is_reported(void **state)
{
	assert_one_error(*state, "[daemon]\nlog_level = chatty\n", 2,
			 "log_level: 'chatty' is not one of error, warning, "
			 "info, debug");
}

static void
idle_timeout_zero_is_reported(void **state)
{
	assert_one_error(*state, "[daemon]\nidle_timeout = 0\n", 2,
			 "idle_timeout: '0' is not an integer in 1..86400");
}

static void
idle_timeout_not_a_number_is_reported(void **state)
{
	assert_one_error(*state, "[daemon]\n\nidle_timeout = abc\n", 3,
			 "idle_timeout: 'abc' is not an integer in 1..86400");
}

static void
idle_timeout_too_large_is_reported(void **state)
{
	assert_one_error(*state, "[daemon]\nidle_timeout = 99999999\n", 2,
			 "idle_timeout: '99999999' is not an integer in "
			 "1..86400");
}

static void
max_clients_out_of_range_is_reported(void **state)
{
	assert_one_error(*state, "[daemon]\nmax_clients = 1025\n", 2,
			 "max_clients: '1025' is not an integer in 1..1024");
}

static void
socket_path_longer_than_sun_path_is_reported(void **state)
{
	char long_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	char *text;

	long_path[0] = '/';
	memset(long_path + 1, 's', sizeof(long_path) - 2);
	long_path[sizeof(long_path) - 1] = '\0';
	text = xasprintf("[daemon]\nsocket = %s\n", long_path);
	assert_error_starts(*state, text, 2,
			    "socket: path too long for a socket");
	free(text);
}

static void
socket_path_that_just_fits_sun_path_is_accepted(void **state)
{
	struct fixture *f = *state;
	char fits[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct config cfg;
	char *errors = NULL, *path, *text;

	fits[0] = '/';
	memset(fits + 1, 's', sizeof(fits) - 2);
	fits[sizeof(fits) - 1] = '\0';
	text = xasprintf("[daemon]\nsocket = %s\n", fits);
	assert_int_equal(load_text(f, text, &cfg, &errors, &path), 0);
	assert_string_equal(cfg.socket_path, fits);
	config_free(&cfg);
	free(path);
	free(text);
}

static void
unknown_group_is_reported(void **state)
{
	assert_one_error(
	    *state, "[daemon]\nsocket_group = no-such-group-rftd-test\n", 2,
	    "socket_group: no such group 'no-such-group-rftd-test'");
}

static void
group_given_by_number_resolves_to_its_name(void **state)
{
	struct fixture *f = *state;
	const char *name = own_group();
	char *text =
	    xasprintf("[daemon]\nsocket_group = %u\n", (unsigned)getgid());
	struct config cfg;
	char *errors = NULL, *path;

	assert_int_equal(load_text(f, text, &cfg, &errors, &path), 0);
	assert_string_equal(cfg.socket_group, name);
	assert_int_equal(cfg.socket_gid, getgid());
	config_free(&cfg);
	free(path);
	free(text);
}

static void
every_bad_line_is_reported(void **state)
{
	struct fixture *f = *state;
	struct config cfg;
	char *errors = NULL, *path, *want;

	assert_int_equal(load_text(f,
				   "[daemon]\n"
				   "socket = relative.sock\n"
				   "log_level = loud\n"
				   "database = /ok/rftd.db\n"
				   "idle_timeout = 0\n"
				   "colour = blue\n"
				   "\n"
				   "[nowhere]\n"
				   "a = b\n",
				   &cfg, &errors, &path),
			 -EINVAL);
	assert_non_null(errors);
	assert_int_equal(count_lines(errors), 5);
	want = xasprintf("%s:2: socket: must be an absolute path, not "
			 "'relative.sock'\n"
			 "%s:3: log_level: 'loud' is not one of error, "
			 "warning, info, debug\n"
			 "%s:5: idle_timeout: '0' is not an integer in "
			 "1..86400\n"
			 "%s:6: unknown key 'colour' in [daemon]\n"
			 "%s:8: unknown section [nowhere]; expected [daemon], "
			 "[backend \"NAME\"], [price \"BACKEND/MODEL\"], "
			 "[budget], [http] or [notify]\n",
			 path, path, path, path, path);
	assert_string_equal(errors, want);
	assert_null(cfg.socket_path);
	assert_null(cfg.database_path);
	free(want);
	free(errors);
	free(path);
	config_free(&cfg);
}

static void
every_syntax_error_is_reported(void **state)
{
	struct fixture *f = *state;
	struct config cfg;
	char *errors = NULL, *path, *want;
	bool ok;

	assert_int_equal(load_text(f,
				   "[daemon]\n"
				   "this is not ini\n"
				   "log_level = info\n"
				   "nor is this\n",
				   &cfg, &errors, &path),
			 -EINVAL);
	want = xasprintf("%s:2: syntax error: expected [section], key = value "
			 "or a comment\n"
			 "%s:4: syntax error: expected [section], key = value "
			 "or a comment\n",
			 path, path);
	ok = errors != NULL && strcmp(errors, want) == 0;
	if (!ok)
		print_error("expected:\n%sgot:\n%s", want,
			    errors ? errors : "(no errors)\n");
	free(want);
	free(errors);
	free(path);
	config_free(&cfg);
	assert_true(ok);
}

/* A backend type's option as a file writes it ("" when unset). */
static const char *
value(const struct config_backend *be, const char *key)
{
	static char buf[4][4096];
	static int next;
	char *b = buf[next++ % 4];

	config_backend_value(be, key, b, sizeof(buf[0]));
	return b;
}

static void
line_longer_than_the_limit_is_reported_with_its_line(void **state)
{
	struct fixture *f = *state;
	char *value = xmalloc(17000), *text;

	value[0] = '/';
	memset(value + 1, 'a', 17000 - 2);
	value[17000 - 1] = '\0';
	/* One error only: the line's tail must not parse as a line. */
	text = xasprintf("[daemon]\nlog_level = info\ndatabase = %s\n"
			 "max_clients = 2\n",
			 value);
	assert_error_starts(f, text, 3, "line longer than 16384 bytes");
	free(text);
	free(value);
}

/*
 * A section line too long for the parser's buffer, after a refused
 * section: the keys below it are in no section rftd took, and are
 * refused as such (they once reached a backend that did not exist).
 */
static void
keys_after_an_unreadable_section_are_refused(void **state)
{
	const struct fixture *f = *state;
	char pad[251], *text, *errors = NULL, *path;
	struct config cfg;
	int rc;

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	text = xasprintf("[nope]\n[daemon] ; %s\nmax_clients = 64\n", pad);
	rc = load_text(f, text, &cfg, &errors, &path);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(errors);
	assert_non_null(strstr(errors, ":3: 'max_clients' is in a section "
				       "that cannot be read"));
	free(text);
	free(errors);
	free(path);
	config_free(&cfg);
}

/* A trainer's command line is long: a value may be, too. */
static void
a_long_value_is_read_whole(void **state)
{
	struct fixture *f = *state;
	char *command = xmalloc(3001), *text, *errors = NULL, *path;
	const struct config_backend *be;
	struct config cfg;

	memset(command, 'x', 3000);
	command[0] = 'y';
	command[3000] = '\0';
	text = xasprintf("[backend \"box\"]\ntype = process\n"
			 "command =  %s  ; a comment\nworkdir = /w\n"
			 "; %s\nmax_concurrent = 2\n",
			 command, command);
	assert_int_equal(load_text(f, text, &cfg, &errors, &path), 0);
	be = config_backend(&cfg, "box");
	assert_string_equal(value(be, "command"), command);
	assert_int_equal(be->max_concurrent, 2);
	config_free(&cfg);
	free(path);
	free(text);
	free(command);
}

/* Sections "[backend "bN"]\ntype = sim\n" for N in 0..n-1. */
static char *
backends_text(int n)
{
	char *text = xstrdup(""), *more;

	for (int i = 0; i < n; i++) {
		more = xasprintf("%s[backend \"b%d\"]\ntype = sim\n", text, i);
		free(text);
		text = more;
	}
	return text;
}

static void
a_65th_backend_is_reported_with_its_line(void **state)
{
	char *text = backends_text(65);

	/* Its keys are not checked: there is no backend for them. */
	assert_one_error(*state, text, 129, "more than 64 backends");
	free(text);
}

static void
sixty_four_backends_are_accepted(void **state)
{
	struct config cfg;
	char *errors = NULL, *path, *text = backends_text(64);

	assert_int_equal(load_text(*state, text, &cfg, &errors, &path), 0);
	assert_int_equal(cfg.nbackends, 64 + 1); /* and the implicit sim */
	assert_non_null(config_backend(&cfg, "b63"));
	config_free(&cfg);
	free(path);
	free(text);
}

static void
a_backend_defined_twice_is_reported_once(void **state)
{
	assert_one_error(*state,
			 "[backend \"a\"]\ntype = sim\n"
			 "[backend \"a\"]\ntype = sim\n",
			 3, "backend \"a\" is defined twice");
}

/* inih cuts a section's name at 50 bytes: the keys still find theirs. */
static void
a_backend_with_a_64_character_name_gets_its_keys(void **state)
{
	static const char name[] = "n123456789012345678901234567890123456789"
				   "012345678901234567890123";
	const struct config_backend *be;
	struct config cfg;
	char *errors = NULL, *path, *text;

	assert_int_equal(strlen(name), 64);
	text = xasprintf("[backend \"%s\"]\ntype = sim\nmax_concurrent = 3\n",
			 name);
	assert_int_equal(load_text(*state, text, &cfg, &errors, &path), 0);
	be = config_backend(&cfg, name);
	assert_non_null(be);
	assert_int_equal(be->max_concurrent, 3);
	config_free(&cfg);
	free(path);
	free(text);
}

static void
key_set_twice_is_reported(void **state)
{
	assert_one_error(*state,
			 "[daemon]\n"
			 "socket = /run/a.sock\n"
			 "log_level = info\n"
			 "socket = /run/b.sock\n",
			 4, "'socket' is set twice in [daemon]");
}

static void
key_set_twice_on_consecutive_lines_is_reported_as_set_twice(void **state)
{
	assert_one_error(*state,
			 "[daemon]\n"
			 "socket = /run/a.sock\n"
			 "socket = /run/b.sock\n",
			 3, "'socket' is set twice in [daemon]");
}

static void
indented_continuation_line_is_reported(void **state)
{
	assert_error_starts(*state,
			    "[daemon]\n"
			    "socket = /run/a.sock\n"
			    "    /run/b.sock\n",
			    3, "indented line continues the previous value");
}

/* --- print round trip and restarts --------------------------------------- */

static void
printed_config_loads_back_the_same(void **state)
{
	struct fixture *f = *state;
	char *text = full_config_text();
	struct config a, b;
	char *errors = NULL, *path, *out, *printed;

	assert_int_equal(load_text(f, text, &a, &errors, &path), 0);
	out = print_to_string(&a);
	printed = write_file(f, "printed.conf", out);
	assert_int_equal(config_load(&b, printed, true, &errors), 0);
	assert_null(errors);
	assert_same_settings(&a, &b);
	config_free(&a);
	config_free(&b);
	free(printed);
	free(out);
	free(path);
	free(text);
}

static void
printed_defaults_load_back_as_defaults(void **state)
{
	struct fixture *f = *state;
	struct config a, b;
	char *errors = NULL, *out, *printed;

	assert_int_equal(config_load(&a, NULL, true, &errors), 0);
	out = print_to_string(&a);
	assert_non_null(strstr(out, "(defaults)"));
	assert_non_null(strstr(out, "\n;socket_group =\n"));
	printed = write_file(f, "defaults.conf", out);
	assert_int_equal(config_load(&b, printed, true, &errors), 0);
	assert_null(errors);
	assert_same_settings(&a, &b);
	assert_null(b.socket_group);
	config_free(&a);
	config_free(&b);
	free(printed);
	free(out);
}

static void
needs_restart_names_changed_non_reloadable_keys(void **state)
{
	struct fixture *f = *state;
	struct config a, b;
	char *errors = NULL, *pa, *pb;
	char buf[128];

	assert_int_equal(load_text(f,
				   "[daemon]\n"
				   "socket = /run/a.sock\n"
				   "database = /db/a.db\n"
				   "log_level = info\n",
				   &a, &errors, &pa),
			 0);
	pb = write_file(f, "b.conf",
			"[daemon]\n"
			"socket = /run/b.sock\n"
			"database = /db/b.db\n"
			"log_level = debug\n"
			"idle_timeout = 9\n");
	assert_int_equal(config_load(&b, pb, true, &errors), 0);
	assert_true(config_needs_restart(&a, &b, buf, sizeof(buf)));
	assert_string_equal(buf, "socket, database");
	config_free(&a);
	config_free(&b);
	free(pa);
	free(pb);
}

static void
needs_restart_names_a_socket_group_set_or_unset(void **state)
{
	struct fixture *f = *state;
	char *text = xasprintf("[daemon]\nsocket_group = %s\n", own_group());
	struct config a, b;
	char *errors = NULL, *path;
	char buf[128];

	assert_int_equal(config_load(&a, NULL, true, &errors), 0);
	assert_int_equal(load_text(f, text, &b, &errors, &path), 0);
	assert_true(config_needs_restart(&a, &b, buf, sizeof(buf)));
	assert_string_equal(buf, "socket_group");
	assert_true(config_needs_restart(&b, &a, buf, sizeof(buf)));
	assert_string_equal(buf, "socket_group");
	config_free(&a);
	config_free(&b);
	free(path);
	free(text);
}

static void
needs_restart_is_false_when_only_reloadable_keys_change(void **state)
{
	struct fixture *f = *state;
	struct config a, b;
	char *errors = NULL, *path;
	char buf[128];

	assert_int_equal(config_load(&a, NULL, true, &errors), 0);
	assert_int_equal(load_text(f,
				   "[daemon]\n"
				   "log_level = error\n"
				   "idle_timeout = 1\n"
				   "max_clients = 1\n",
				   &b, &errors, &path),
			 0);
	assert_false(config_needs_restart(&a, &b, buf, sizeof(buf)));
	assert_string_equal(buf, "");
	config_free(&a);
	config_free(&b);
	free(path);
}

static void
config_free_is_safe_twice(void **state)
{
	struct config cfg;
	char *errors = NULL;

	(void)state;
	assert_int_equal(config_load(&cfg, NULL, true, &errors), 0);
	config_free(&cfg);
	config_free(&cfg);
	assert_null(cfg.socket_path);
}

/* --- the openai backend ----------------------------------------------------
 */

static void
openai_backend_gets_its_defaults(void **state)
{
	struct fixture *f = *state;
	const struct config_backend *be;
	const struct config_price *pr;
	struct config cfg;
	char *errors = NULL, *path;

	assert_int_equal(load_text(f,
				   "[backend \"oa\"]\ntype = openai\n"
				   "api_key_file = /etc/rftd/key\n",
				   &cfg, &errors, &path),
			 0);
	be = config_backend(&cfg, "oa");
	assert_non_null(be);
	assert_string_equal(value(be, "dialect"), "openai");
	assert_string_equal(value(be, "base_url"), "https://api.openai.com/v1");
	assert_int_equal(be->max_concurrent, 3);
	assert_string_equal(value(be, "preflight"), "yes");
	assert_string_equal(value(be, "poll_interval"), "30");
	assert_string_equal(value(be, "api_version"), "");
	/* The published price of RFT on o4-mini is built in. */
	pr = config_price(&cfg, "oa", "o4-mini-2025-04-16");
	assert_non_null(pr);
	assert_true(pr->per_training_hour == 100);
	assert_null(config_price(&cfg, "oa", "gpt-4.1"));
	config_free(&cfg);
	free(path);
}

static void
openai_backend_keys_are_read(void **state)
{
	struct fixture *f = *state;
	const struct config_backend *be;
	struct config cfg;
	char *errors = NULL, *path;

	assert_int_equal(
	    load_text(f,
		      "[backend \"az\"]\ntype = openai\ndialect = azure\n"
		      "base_url = https://x.openai.azure.com/openai//\n"
		      "api_version = 2025-04-01-preview\n"
		      "api_key_credential = azure-key\nmax_concurrent = 5\n"
		      "poll_interval = 0.5\npreflight = no\n"
		      "organization = org-1\nproject = proj-1\n"
		      "training_type = globalstandard\n"
		      "[price \"az/*\"]\nper_training_hour = 90\n",
		      &cfg, &errors, &path),
	    0);
	be = config_backend(&cfg, "az");
	assert_string_equal(value(be, "dialect"), "azure");
	/* Trailing slashes go: paths are appended to it. */
	assert_string_equal(value(be, "base_url"),
			    "https://x.openai.azure.com/openai");
	assert_string_equal(value(be, "api_version"), "2025-04-01-preview");
	assert_string_equal(value(be, "api_key_credential"), "azure-key");
	assert_int_equal(be->max_concurrent, 5);
	assert_string_equal(value(be, "poll_interval"), "0.5");
	assert_string_equal(value(be, "preflight"), "no");
	assert_string_equal(value(be, "organization"), "org-1");
	assert_string_equal(value(be, "training_type"), "globalstandard");
	/* The configuration's own price wins over the built-in one. */
	assert_true(
	    config_price(&cfg, "az", "o4-mini-2025-04-16")->per_training_hour ==
	    90);
	config_free(&cfg);
	free(path);
}

static void
openai_backend_needs_exactly_one_key(void **state)
{
	struct fixture *f = *state;

	assert_one_error(f, "[backend \"oa\"]\ntype = openai\n", 1,
			 "backend \"oa\": set exactly one of api_key_file, "
			 "api_key_env and api_key_credential");
	assert_one_error(f,
			 "[backend \"oa\"]\ntype = openai\n"
			 "api_key_file = /k\napi_key_env = KEY\n",
			 1,
			 "backend \"oa\": set exactly one of api_key_file, "
			 "api_key_env and api_key_credential");
}

static void
azure_needs_a_base_url(void **state)
{
	assert_one_error(*state,
			 "[backend \"az\"]\ntype = openai\ndialect = azure\n"
			 "api_key_env = K\n",
			 1,
			 "backend \"az\": dialect azure needs base_url "
			 "(https://NAME.openai.azure.com/openai/v1)");
}

static void
options_of_another_backend_type_are_reported(void **state)
{
	struct fixture *f = *state;

	assert_one_error(f,
			 "[backend \"oa\"]\ntype = openai\napi_key_env = K\n"
			 "speed = 10\n",
			 4,
			 "backend \"oa\": speed applies to type sim, not "
			 "openai");
	assert_one_error(f, "[backend \"s\"]\ntype = sim\npoll_interval = 1\n",
			 3,
			 "backend \"s\": poll_interval applies to type "
			 "openai, not sim");
}

static void
bad_openai_values_are_reported(void **state)
{
	struct fixture *f = *state;

	assert_one_error(f,
			 "[backend \"oa\"]\ntype = openai\napi_key_env = K\n"
			 "dialect = gcp\n",
			 4, "dialect: 'gcp' is not one of openai, azure");
	assert_one_error(f,
			 "[backend \"oa\"]\ntype = openai\napi_key_env = K\n"
			 "base_url = ftp://x/v1\n",
			 4,
			 "base_url: 'ftp://x/v1' is not an http:// or "
			 "https:// URL without query or fragment");
	assert_one_error(f,
			 "[backend \"oa\"]\ntype = openai\napi_key_env = K\n"
			 "preflight = maybe\n",
			 4, "preflight: 'maybe' is not yes or no");
	assert_one_error(f,
			 "[backend \"oa\"]\ntype = openai\napi_key_env = K\n"
			 "api_version = 1\n",
			 4, "backend \"oa\": api_version is for dialect azure");
}

#define AZ_V1                                                                  \
	"[backend \"az\"]\ntype = openai\ndialect = azure\n"                   \
	"api_key_env = K\nbase_url = https://x.openai.azure.com/openai/v1\n"
#define AZ_DATED                                                               \
	"[backend \"az\"]\ntype = openai\ndialect = azure\n"                   \
	"api_key_env = K\nbase_url = https://x.openai.azure.com/openai\n"

/* Azure's v1 paths take v1 or preview, its dated paths a date. */
static void
azure_api_version_fits_the_paths_of_base_url(void **state)
{
	static const char *const good[] = {
	    AZ_V1,
	    AZ_V1 "api_version = v1\n",
	    AZ_V1 "api_version = preview\n",
	    AZ_DATED "api_version = 2025-04-01-preview\n",
	    AZ_DATED "api_version = 2024-10-21\n",
	    /* A gateway of its own: any version the service knows. */
	    "[backend \"az\"]\ntype = openai\ndialect = azure\n"
	    "api_key_env = K\nbase_url = https://gw.example/aoai\n"
	    "api_version = 2024-10-21\n",
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		struct config cfg;
		char *errors = NULL, *path;

		if (load_text(f, good[i], &cfg, &errors, &path) != 0)
			print_error("%s: %s\n", good[i], errors);
		assert_null(errors);
		config_free(&cfg);
		free(path);
	}
	assert_one_error(f, AZ_V1 "api_version = 2025-04-01-preview\n", 6,
			 "backend \"az\": api_version 2025-04-01-preview is "
			 "for the dated paths (base_url .../openai); the v1 "
			 "paths of base_url "
			 "https://x.openai.azure.com/openai/v1 take only v1 "
			 "or preview (or none)");
	assert_one_error(f, AZ_DATED "api_version = preview\n", 6,
			 "backend \"az\": api_version preview is for the v1 "
			 "paths (base_url .../openai/v1); the dated paths of "
			 "base_url https://x.openai.azure.com/openai need a "
			 "date such as 2025-04-01-preview");
	assert_one_error(f, AZ_DATED, 5,
			 "backend \"az\": base_url "
			 "https://x.openai.azure.com/openai is Azure's dated "
			 "API, which needs a dated api_version (such as "
			 "2025-04-01-preview); for the v1 API, end base_url in "
			 "/openai/v1");
	assert_error_starts(f, AZ_V1 "api_version = 2025-4-1\n", 6,
			    "backend \"az\": api_version '2025-4-1' is none "
			    "the service knows");
	assert_error_starts(f, AZ_DATED "api_version = 2025-04-01-beta\n", 6,
			    "backend \"az\": api_version '2025-04-01-beta' is "
			    "none the service knows");
}

/* Azure requires uploads to expire; OpenAI keeps them unless asked. */
static void
uploads_expire_on_azure_and_as_asked(void **state)
{
	struct fixture *f = *state;
	struct config cfg;
	char *errors = NULL, *path;

	assert_int_equal(load_text(f, AZ_V1, &cfg, &errors, &path), 0);
	assert_string_equal(
	    value(config_backend(&cfg, "az"), "file_expires_after"),
	    "2592000s");
	config_free(&cfg);
	free(path);
	assert_int_equal(
	    load_text(f,
		      "[backend \"oa\"]\ntype = openai\n"
		      "api_key_env = K\nfile_expires_after = 48h\n",
		      &cfg, &errors, &path),
	    0);
	assert_string_equal(
	    value(config_backend(&cfg, "oa"), "file_expires_after"), "172800s");
	config_free(&cfg);
	free(path);
	assert_one_error(f, AZ_V1 "file_expires_after = 0\n", 6,
			 "backend \"az\": file_expires_after: Azure OpenAI "
			 "takes 1h..720h (3600 to 2592000 seconds); an upload "
			 "must expire there");
	assert_one_error(f,
			 "[backend \"oa\"]\ntype = openai\napi_key_env = K\n"
			 "file_expires_after = 10m\n",
			 4,
			 "backend \"oa\": file_expires_after: the provider "
			 "takes 1h..720h (3600 to 2592000 seconds)");
	assert_error_starts(f, AZ_V1 "file_expires_after = 721h\n", 6,
			    "file_expires_after: '721h' is not a duration");
}

/* Built-in prices are the providers' published ones, dated. */
static void
built_in_prices_are_dated_and_printed_so(void **state)
{
	struct fixture *f = *state;
	const struct config_price *pr;
	struct config cfg;
	char *errors = NULL, *path, *printed = NULL;
	size_t len = 0;
	FILE *out;

	assert_int_equal(load_text(f, AZ_V1, &cfg, &errors, &path), 0);
	pr = config_price(&cfg, "az", "o4-mini");
	assert_non_null(pr);
	assert_true(pr->per_training_hour == 100);
	assert_non_null(pr->as_of);
	/* A model by any other name is the configuration's to price. */
	assert_null(config_price(&cfg, "az", "gpt-5-2025-08-07"));
	out = open_memstream(&printed, &len);
	config_print(&cfg, out);
	fclose(out);
	assert_non_null(strstr(printed, "[price \"az/o4-mini-2025-04-16\"]\n"
					"; built in: the provider's published "
					"price as of "));
	free(printed);
	config_free(&cfg);
	free(path);
}

static void
printed_openai_config_loads_back_without_the_key(void **state)
{
	struct fixture *f = *state;
	struct config a, b;
	char *errors = NULL, *path, *printed = NULL, *path2;
	size_t len = 0;
	FILE *out;

	assert_int_equal(load_text(f,
				   "[backend \"oa\"]\ntype = openai\n"
				   "api_key_env = RFTD_TEST_KEY\n"
				   "poll_interval = 2\n",
				   &a, &errors, &path),
			 0);
	out = open_memstream(&printed, &len);
	config_print(&a, out);
	fclose(out);
	/* Where the key comes from, never the key. */
	assert_non_null(strstr(printed, "api_key_env = RFTD_TEST_KEY\n"));
	/* The simulator's options are not printed for it. */
	{
		char *block = strstr(printed, "[backend \"oa\"]");
		char *end = block ? strstr(block + 1, "\n[") : NULL;

		assert_non_null(end);
		*end = '\0';
		assert_null(strstr(block, "speed"));
		assert_non_null(strstr(block, "poll_interval = 2\n"));
		*end = '\n';
	}
	path2 = write_file(f, "printed.conf", printed);
	assert_int_equal(config_load(&b, path2, true, &errors), 0);
	assert_string_equal(value(config_backend(&b, "oa"), "base_url"),
			    "https://api.openai.com/v1");
	assert_string_equal(value(config_backend(&b, "oa"), "poll_interval"),
			    "2");
	config_free(&a);
	config_free(&b);
	free(printed);
	free(path);
	free(path2);
}

/* --- the process backend --------------------------------------------------
 */

static void
process_backend_gets_its_defaults(void **state)
{
	struct fixture *f = *state;
	const struct config_backend *be;
	struct config cfg;
	char *errors = NULL, *path;

	assert_int_equal(load_text(f,
				   "[backend \"box\"]\ntype = process\n"
				   "command = train --lr {lr}\n"
				   "workdir = /var/lib/rftd/runs\n"
				   "stop_grace = 2m\n",
				   &cfg, &errors, &path),
			 0);
	be = config_backend(&cfg, "box");
	assert_non_null(be);
	assert_string_equal(value(be, "launcher"), "local");
	assert_string_equal(value(be, "metrics_format"), "rftd");
	assert_string_equal(value(be, "gpus_per_job"), "1");
	/* A duration is read with its unit and printed in seconds. */
	assert_string_equal(value(be, "stop_grace"), "120s");
	assert_string_equal(value(be, "sbatch"), "sbatch");
	assert_string_equal(value(be, "sbatch_args"), "");
	assert_int_equal(be->max_concurrent, 8);
	config_free(&cfg);
	free(path);
	/* Four GPUs, two a run: two runs at once, unless told otherwise. */
	assert_int_equal(load_text(f,
				   "[backend \"box\"]\ntype = process\n"
				   "command = t\nworkdir = /w\n"
				   "gpus = 0,1,2,3\ngpus_per_job = 2\n",
				   &cfg, &errors, &path),
			 0);
	assert_int_equal(config_backend(&cfg, "box")->max_concurrent, 2);
	config_free(&cfg);
	free(path);
}

static void
process_backend_needs_a_command_and_a_workdir(void **state)
{
	struct fixture *f = *state;

	assert_error_starts(f,
			    "[backend \"box\"]\ntype = process\n"
			    "workdir = /w\n",
			    1, "backend \"box\": command is missing");
	assert_error_starts(f,
			    "[backend \"box\"]\ntype = process\n"
			    "command = true\n",
			    1, "backend \"box\": workdir is missing");
}

static void
bad_process_values_are_reported(void **state)
{
	struct fixture *f = *state;

	assert_one_error(f,
			 "[backend \"box\"]\ntype = process\ncommand = t\n"
			 "workdir = /w\nlauncher = kubernetes\n",
			 5,
			 "launcher: 'kubernetes' is not one of local, slurm");
	assert_error_starts(f,
			    "[backend \"box\"]\ntype = process\ncommand = t\n"
			    "workdir = /w\nstop_grace = soon\n",
			    5, "stop_grace: 'soon' is not a duration");
	assert_one_error(f,
			 "[backend \"box\"]\ntype = process\ncommand = t\n"
			 "workdir = w\n",
			 4, "workdir: must be an absolute path, not 'w'");
	assert_one_error(f,
			 "[backend \"box\"]\ntype = process\ncommand = t\n"
			 "workdir = /w\ngpus = 0,1;2\n",
			 5,
			 "backend \"box\": gpus: '1;2' is not a GPU id (a "
			 "number or a UUID)");
	assert_one_error(f,
			 "[backend \"box\"]\ntype = process\ncommand = t\n"
			 "workdir = /w\ngpus = 0\ngpus_per_job = 2\n",
			 5,
			 "backend \"box\": gpus lists 1 GPU, fewer than one "
			 "run's gpus_per_job (2)");
	assert_error_starts(f,
			    "[backend \"box\"]\ntype = process\ncommand = t\n"
			    "workdir = /w\nlauncher = slurm\ngpus = 0\n",
			    6, "backend \"box\": gpus is for launcher local");
	/* An option given before the type is checked against it. */
	assert_one_error(f,
			 "[backend \"box\"]\nspeed = 3\ntype = process\n"
			 "command = t\nworkdir = /w\n",
			 2,
			 "backend \"box\": speed applies to type sim, not "
			 "process");
}

static void
dashboard_is_off_until_listen_is_set(void **state)
{
	struct fixture *f = *state;
	struct config cfg;
	char *errors = NULL, *path;

	assert_int_equal(load_text(f, "[daemon]\ndatabase = /d/s/rftd.db\n",
				   &cfg, &errors, &path),
			 0);
	assert_null(cfg.http_listen);
	assert_false(cfg.http_allow_remote);
	assert_int_equal(cfg.http_max_connections, 64);
	/* The token and the secret live beside the database. */
	assert_string_equal(cfg.http_token_file, "/d/s/http.token");
	assert_string_equal(cfg.notify_secret_file, "/d/s/webhook.secret");
	assert_null(cfg.notify_command);
	assert_null(cfg.notify_url);
	assert_int_equal(cfg.notify_events, (1u << CONFIG_EV_COUNT) - 1);
	free(path);
	config_free(&cfg);
}

static void
listen_addresses_are_read_and_checked(void **state)
{
	static const char *const good[] = {"127.0.0.1:8787", "[::1]:1",
					   "localhost:65535", "127.1.2.3:80"};
	static const char *const bad[] = {
	    "127.0.0.1", "127.0.0.1:0",	   "127.0.0.1:65536",
	    "::1:8787",	 "example.org:80", "[::1:80",
	    ":80",	 "127.0.0.1:8x"};
	struct fixture *f = *state;
	struct sockaddr_storage ss;
	bool loopback;

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		struct config cfg;
		char *errors = NULL, *path, *text;

		text = xasprintf("[http]\nlisten = %s\n", good[i]);
		assert_int_equal(load_text(f, text, &cfg, &errors, &path), 0);
		assert_string_equal(cfg.http_listen, good[i]);
		assert_int_equal(config_listen_addr(good[i], &ss, &loopback),
				 0);
		assert_true(loopback);
		free(text);
		free(path);
		config_free(&cfg);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char *text = xasprintf("[http]\nlisten = %s\n", bad[i]);
		char *msg = xasprintf("listen: '%s' is not HOST:PORT", bad[i]);

		assert_error_starts(f, text, 2, msg);
		free(text);
		free(msg);
	}
}

static void
remote_listen_needs_allow_remote(void **state)
{
	struct fixture *f = *state;
	struct config cfg;
	char *errors = NULL, *path;

	assert_error_starts(f,
			    "[http]\nmax_connections = 3\n"
			    "listen = 0.0.0.0:8787\n",
			    3,
			    "listen: 0.0.0.0:8787 can be reached from "
			    "other machines; set allow_remote = yes");
	assert_error_starts(f, "[http]\nlisten = [::]:8787\n", 2,
			    "listen: [::]:8787 can be reached");
	assert_int_equal(load_text(f,
				   "[http]\nlisten = 0.0.0.0:8787\n"
				   "allow_remote = yes\n"
				   "token_file = /etc/rftd/token\n",
				   &cfg, &errors, &path),
			 0);
	assert_true(cfg.http_allow_remote);
	assert_string_equal(cfg.http_token_file, "/etc/rftd/token");
	free(path);
	config_free(&cfg);
}

static void
notify_keys_are_read_and_checked(void **state)
{
	struct fixture *f = *state;
	struct config cfg;
	char *errors = NULL, *path;

	assert_int_equal(
	    load_text(f,
		      "[notify]\ncommand = /usr/bin/logger -t rftd\n"
		      "url = https://hooks.example.org/rftd/?k=1\n"
		      "secret_file = /etc/rftd/whsec\n"
		      "events = job.failed,  budget.halted\n"
		      "timeout = 30s\nretry_for = 2h\n",
		      &cfg, &errors, &path),
	    0);
	assert_string_equal(cfg.notify_command, "/usr/bin/logger -t rftd");
	/* Kept as written: the receiver tells /rftd/ from /rftd. */
	assert_string_equal(cfg.notify_url,
			    "https://hooks.example.org/rftd/?k=1");
	assert_string_equal(cfg.notify_secret_file, "/etc/rftd/whsec");
	assert_int_equal(cfg.notify_events,
			 (1u << CONFIG_EV_JOB_FAILED) |
			     (1u << CONFIG_EV_BUDGET_HALTED));
	assert_true(cfg.notify_timeout == 30);
	assert_true(cfg.notify_retry_for == 7200);
	free(path);
	config_free(&cfg);

	assert_error_starts(f, "[notify]\nurl = http://example.org/h\n", 2,
			    "url: plain http:// is allowed only to this "
			    "machine");
	assert_error_starts(f, "[notify]\nurl = ftp://127.0.0.1/h\n", 2,
			    "url: 'ftp://127.0.0.1/h' is not an http://");
	assert_error_starts(f, "[notify]\nevents = job.failed sweep.done\n", 2,
			    "events: unknown event 'sweep.done'");
	assert_error_starts(f, "[notify]\nevents = ,\n", 2,
			    "events: no event given");
	assert_error_starts(f, "[notify]\ntimeout = 0\n", 2,
			    "timeout: '0' is not a duration");
	/* Plain http to this machine is fine: a local relay. */
	assert_int_equal(load_text(f,
				   "[notify]\nurl = http://[::1]:9000/h\n"
				   "events = all\n",
				   &cfg, &errors, &path),
			 0);
	free(path);
	config_free(&cfg);
}

static void
http_keys_need_a_restart_and_notify_keys_do_not(void **state)
{
	struct fixture *f = *state;
	struct config a, b;
	char *errors = NULL, *pa, *pb, changed[256];

	assert_int_equal(load_text(f,
				   "[http]\nlisten = 127.0.0.1:8787\n"
				   "[notify]\ncommand = true\n",
				   &a, &errors, &pa),
			 0);
	assert_int_equal(load_text(f,
				   "[http]\nlisten = 127.0.0.1:8788\n"
				   "max_connections = 5\n"
				   "[notify]\ncommand = false\n"
				   "events = job.failed\n",
				   &b, &errors, &pb),
			 0);
	assert_true(config_needs_restart(&a, &b, changed, sizeof(changed)));
	assert_string_equal(changed, "listen, max_connections");
	free(pa);
	free(pb);
	config_free(&a);
	config_free(&b);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(good_file_sets_every_key),
	    TEST(print_shows_every_value_and_the_file),
	    TEST(comments_blank_lines_and_crlf_are_accepted),
	    TEST(null_path_gives_defaults),
	    TEST(keys_left_out_keep_their_defaults),
	    TEST(missing_file_that_must_exist_is_enoent_naming_the_path),
	    TEST(missing_optional_file_gives_defaults),
	    TEST(directory_as_config_file_is_refused),
	    TEST(unknown_key_is_reported_with_its_line),
	    TEST(unknown_section_is_reported),
	    TEST(price_for_an_unknown_backend_is_reported),
	    TEST(key_outside_a_section_is_reported),
	    TEST(syntax_error_is_reported_with_its_line),
	    TEST(relative_path_is_reported),
	    TEST(empty_path_is_reported),
	    TEST(bogus_log_level_is_reported),
	    TEST(idle_timeout_zero_is_reported),
	    TEST(idle_timeout_not_a_number_is_reported),
	    TEST(idle_timeout_too_large_is_reported),
	    TEST(max_clients_out_of_range_is_reported),
	    TEST(socket_path_longer_than_sun_path_is_reported),
	    TEST(socket_path_that_just_fits_sun_path_is_accepted),
	    TEST(unknown_group_is_reported),
	    TEST(group_given_by_number_resolves_to_its_name),
	    TEST(every_bad_line_is_reported),
	    TEST(every_syntax_error_is_reported),
	    TEST(line_longer_than_the_limit_is_reported_with_its_line),
	    TEST(keys_after_an_unreadable_section_are_refused),
	    TEST(a_long_value_is_read_whole),
	    TEST(a_65th_backend_is_reported_with_its_line),
	    TEST(sixty_four_backends_are_accepted),
	    TEST(a_backend_defined_twice_is_reported_once),
	    TEST(a_backend_with_a_64_character_name_gets_its_keys),
	    TEST(key_set_twice_is_reported),
	    TEST(key_set_twice_on_consecutive_lines_is_reported_as_set_twice),
	    TEST(indented_continuation_line_is_reported),
	    TEST(printed_config_loads_back_the_same),
	    TEST(printed_defaults_load_back_as_defaults),
	    TEST(needs_restart_names_changed_non_reloadable_keys),
	    TEST(needs_restart_names_a_socket_group_set_or_unset),
	    TEST(needs_restart_is_false_when_only_reloadable_keys_change),
	    TEST(config_free_is_safe_twice),
	    TEST(openai_backend_gets_its_defaults),
	    TEST(openai_backend_keys_are_read),
	    TEST(openai_backend_needs_exactly_one_key),
	    TEST(azure_needs_a_base_url),
	    TEST(options_of_another_backend_type_are_reported),
	    TEST(process_backend_gets_its_defaults),
	    TEST(process_backend_needs_a_command_and_a_workdir),
	    TEST(bad_process_values_are_reported),
	    TEST(bad_openai_values_are_reported),
	    TEST(azure_api_version_fits_the_paths_of_base_url),
	    TEST(uploads_expire_on_azure_and_as_asked),
	    TEST(built_in_prices_are_dated_and_printed_so),
	    TEST(printed_openai_config_loads_back_without_the_key),
	    TEST(dashboard_is_off_until_listen_is_set),
	    TEST(listen_addresses_are_read_and_checked),
	    TEST(remote_listen_needs_allow_remote),
	    TEST(notify_keys_are_read_and_checked),
	    TEST(http_keys_need_a_restart_and_notify_keys_do_not),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
