/*
 * rftctl: parse the command line, send one request to rftd, render the
 * reply as text (default) or JSON (--json).
 *
 * Exit status: 0 success; 1 rftd answered with an error; 2 usage error;
 * 3 rftd could not be reached or did not answer properly.
 */
#include "client.h"
#include "paths.h"
#include "proto.h"
#include "util.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
	EXIT_OK = 0,
	EXIT_DAEMON_ERROR = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
};

struct ctx {
	const char *socket;
	bool json;
	int timeout_ms;
	uint64_t sent_ns; /* when the request left, for ping */
};

typedef void (*render_fn)(const struct ctx *ctx, const cJSON *result);

struct verb {
	const char *name;
	const char *method;
	render_fn render;
	const char *summary;
};

static const char *
str_or(const cJSON *obj, const char *key, const char *fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : fallback;
}

static double
num_or(const cJSON *obj, const char *key, double fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

static void
format_duration(double s, char *buf, size_t len)
{
	unsigned long long t = (unsigned long long)floor(s);

	if (t >= 86400)
		snprintf(buf, len, "%llud%lluh", t / 86400, t % 86400 / 3600);
	else if (t >= 3600)
		snprintf(buf, len, "%lluh%llum", t / 3600, t % 3600 / 60);
	else if (t >= 60)
		snprintf(buf, len, "%llum%llus", t / 60, t % 60);
	else
		snprintf(buf, len, "%.1fs", s);
}

static void
render_status(const struct ctx *ctx, const cJSON *r)
{
	const cJSON *tables = cJSON_GetObjectItemCaseSensitive(r, "tables");
	const cJSON *t;
	char up[32];

	(void)ctx;
	format_duration(num_or(r, "uptime_s", 0), up, sizeof(up));
	printf("rftd %s, pid %.0f, up %s\n", str_or(r, "version", "?"),
	       num_or(r, "pid", 0), up);
	printf("  socket    %s\n", str_or(r, "socket", "?"));
	printf("  database  %s (schema %.0f)\n", str_or(r, "database", "?"),
	       num_or(r, "schema_version", 0));
	printf("  clients   %.0f\n", num_or(r, "clients", 0));
	printf("  log level %s\n", str_or(r, "log_level", "?"));
	if (!cJSON_IsObject(tables))
		return;
	printf("  rows:\n");
	cJSON_ArrayForEach(t, tables)
	{
		if (cJSON_IsNumber(t))
			printf("    %-14s %.0f\n", t->string, t->valuedouble);
	}
}

static void
render_ping(const struct ctx *ctx, const cJSON *r)
{
	(void)r;
	printf("rftd at %s answered in %.3f ms\n", ctx->socket,
	       (double)(now_mono_ns() - ctx->sent_ns) / 1e6);
}

static const struct verb verbs[] = {
    {"status", "daemon.status", render_status,
     "show the daemon's version, uptime, database and row counts"},
    {"ping", "daemon.ping", render_ping, "check that rftd answers"},
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: rftctl [-s socket] [-t seconds] [--json] "
		     "command\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_LEN(verbs); i++)
		fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(out,
		"\noptions:\n"
		"  -s, --socket PATH   rftd's control socket (default: "
		"$RFTD_SOCKET,\n"
		"                      else the user's or the system "
		"socket)\n"
		"  -t, --timeout SECS  wait this long for a reply (default "
		"30)\n"
		"  -j, --json          print the reply's result as JSON\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n"
		"\nexit status: 0 ok, 1 rftd answered with an error, 2 usage "
		"error,\n3 rftd not reachable\n");
}

static const struct verb *
find_verb(const char *name)
{
	const struct verb *found = NULL;
	size_t len = strlen(name);

	for (size_t i = 0; i < ARRAY_LEN(verbs); i++) {
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
		if (strncmp(verbs[i].name, name, len) == 0) {
			if (found != NULL)
				return NULL; /* ambiguous prefix */
			found = &verbs[i];
		}
	}
	return found;
}

/* -s, else $RFTD_SOCKET, else the user's socket, else the system one. */
static char *
pick_socket(const char *flag)
{
	const char *env = getenv("RFTD_SOCKET");
	struct stat sb;
	char *path;

	if (flag != NULL)
		return xstrdup(flag);
	if (env != NULL && *env != '\0')
		return xstrdup(env);
	path = paths_default_socket();
	if (stat(path, &sb) != 0 && stat(PATHS_SYSTEM_SOCKET, &sb) == 0) {
		free(path);
		path = xstrdup(PATHS_SYSTEM_SOCKET);
	}
	return path;
}

static int
run(struct ctx *ctx, const struct verb *verb)
{
	struct proto_reply rep;
	struct client *c;
	char err[512];
	int rc;

	c = client_connect(ctx->socket, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "rftctl: rftd is not running at %s (%s)\n",
			ctx->socket, err);
		return EXIT_UNREACHABLE;
	}
	client_set_timeout(c, ctx->timeout_ms);
	ctx->sent_ns = now_mono_ns();
	rc = client_call(c, verb->method, NULL, &rep, err, sizeof(err));
	client_free(c);
	if (rc != 0) {
		fprintf(stderr, "rftctl: %s: %s\n", ctx->socket, err);
		return EXIT_UNREACHABLE;
	}
	if (rep.code != 0) {
		fprintf(stderr, "rftctl: %s: %s (%s)\n", verb->name,
			rep.message, proto_error_text(rep.code));
		proto_reply_free(&rep);
		return EXIT_DAEMON_ERROR;
	}
	if (ctx->json) {
		char *text = cJSON_Print(rep.result);

		puts(text);
		free(text);
	} else {
		verb->render(ctx, rep.result);
	}
	proto_reply_free(&rep);
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct ctx ctx = {.timeout_ms = 30000};
	const char *socket_flag = NULL;
	const struct verb *verb;
	char *socket;
	double secs;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "s:t:jhV", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 's':
			socket_flag = optarg;
			break;
		case 't':
			if (parse_double(optarg, 0.001, 86400, &secs) != 0) {
				fprintf(stderr,
					"rftctl: -t: '%s' is not a number of "
					"seconds in 0.001..86400\n",
					optarg);
				return EXIT_USAGE;
			}
			ctx.timeout_ms = (int)(secs * 1000);
			break;
		case 'j':
			ctx.json = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("rftctl %s\n", RFTD_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	verb = find_verb(argv[optind]);
	if (verb == NULL) {
		fprintf(stderr, "rftctl: unknown or ambiguous command '%s'\n",
			argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "rftctl: %s: unexpected argument '%s'\n",
			verb->name, argv[optind + 1]);
		return EXIT_USAGE;
	}
	socket = pick_socket(socket_flag);
	ctx.socket = socket;
	rc = run(&ctx, verb);
	free(socket);
	return rc;
}
