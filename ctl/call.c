/* rftctl's calls to rftd, with their failures told (see call.h). */
#include "call.h"

#include "client.h"
#include "util.h"

#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int
call_method(struct call_ctx *ctx, const char *method, cJSON *params,
	    struct proto_reply *rep)
{
	struct render_opts ro;
	char err[512];
	int rc;

	if (ctx->client == NULL) {
		ctx->client = client_connect(ctx->socket, err, sizeof(err));
		if (ctx->client == NULL) {
			cJSON_Delete(params);
			fprintf(stderr,
				"rftctl: rftd is not running at %s (%s)\n",
				ctx->socket, err);
			return EXIT_UNREACHABLE;
		}
		client_set_timeout(ctx->client, ctx->timeout_ms);
	}
	ctx->sent_ns = now_mono_ns();
	rc = client_call(ctx->client, method, params, rep, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "rftctl: %s: %s\n", ctx->socket, err);
		return EXIT_UNREACHABLE;
	}
	if (rep->code != 0) {
		call_render_opts(ctx, &ro);
		render_error(&ro, rep);
		proto_reply_free(rep);
		return EXIT_DAEMON_ERROR;
	}
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
