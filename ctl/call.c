/* rftctl's calls to rftd, with their failures told (see call.h). */
#include "call.h"

#include "client.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* {"error": {code, kind, message, data}} on stdout, one line. */
static void
print_error_json(int code, const char *kind, const char *message,
		 const cJSON *data)
{
	cJSON *o = cJSON_CreateObject(), *e = cJSON_CreateObject();
	char *text;

	cJSON_AddNumberToObject(e, "code", code);
	cJSON_AddStringToObject(e, "kind", kind);
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddItemToObject(e, "data",
			      data != NULL ? cJSON_Duplicate(data, 1)
					   : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "error", e);
	text = cJSON_PrintUnformatted(o);
	printf("%s\n", text);
	fflush(stdout);
	free(text);
	cJSON_Delete(o);
}

int
call_fail(const struct call_ctx *ctx, int status, const char *kind,
	  const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctx->json)
		print_error_json(status, kind, msg, NULL);
	else
		fprintf(stderr, "rftctl: %s\n", msg);
	return status;
}

int
call_fail_reply(const struct call_ctx *ctx, struct proto_reply *rep)
{
	struct render_opts ro;

	if (ctx->json) {
		print_error_json(rep->code, proto_error_text(rep->code),
				 rep->message, rep->data);
	} else {
		call_render_opts(ctx, &ro);
		render_error(&ro, rep);
	}
	proto_reply_free(rep);
	return EXIT_DAEMON_ERROR;
}

int
call_try(struct call_ctx *ctx, const char *method, cJSON *params,
	 struct proto_reply *rep, char *err, size_t errlen)
{
	char why[512];

	if (ctx->client == NULL) {
		ctx->client = client_connect(ctx->socket, why, sizeof(why));
		if (ctx->client == NULL) {
			cJSON_Delete(params);
			snprintf(err, errlen, "rftd is not running at %s (%s)",
				 ctx->socket, why);
			return EXIT_UNREACHABLE;
		}
		client_set_timeout(ctx->client, ctx->timeout_ms);
	}
	ctx->sent_ns = now_mono_ns();
	if (client_call(ctx->client, method, params, rep, why, sizeof(why)) !=
	    0) {
		snprintf(err, errlen, "%s: %s", ctx->socket, why);
		call_close(ctx);
		return EXIT_UNREACHABLE;
	}
	return EXIT_OK;
}

int
call_method(struct call_ctx *ctx, const char *method, cJSON *params,
	    struct proto_reply *rep)
{
	char err[1024];

	if (call_try(ctx, method, params, rep, err, sizeof(err)) != EXIT_OK)
		return call_fail(ctx, EXIT_UNREACHABLE, "unreachable", "%s",
				 err);
	if (rep->code != 0)
		return call_fail_reply(ctx, rep);
	return EXIT_OK;
}

int
call_render(struct call_ctx *ctx, const char *method, cJSON *params,
	    render_fn render)
{
	struct proto_reply rep;
	struct render_opts ro;
	int rc = call_method(ctx, method, params, &rep);

	if (rc != EXIT_OK)
		return rc;
	call_render_opts(ctx, &ro);
	if (ctx->json)
		render_json(&ro, rep.result);
	else
		render(&ro, rep.result);
	proto_reply_free(&rep);
	return EXIT_OK;
}

void
call_render_opts(const struct call_ctx *ctx, struct render_opts *ro)
{
	struct winsize ws;

	*ro = (struct render_opts){.out = stdout,
				   .err = stderr,
				   .tty = ctx->tty,
				   .spec_path = ctx->spec_path};
	if (ctx->tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
		ro->width = ws.ws_col;
}

double
call_elapsed_ms(const struct call_ctx *ctx)
{
	return (double)(now_mono_ns() - ctx->sent_ns) / 1e6;
}

void
call_close(struct call_ctx *ctx)
{
	client_free(ctx->client);
	ctx->client = NULL;
}
