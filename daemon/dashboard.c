/*
 * The read-only dashboard (dashboard.h): libh2o serves HTTP/1.1 on the
 * daemon's own loop; each page is read and rendered on the thread pool
 * (pages.h) and sent from the after-work callback.
 *
 * Lifetimes: the h2o context lives from the first listen to the moment
 * the listener, every connection and every page under way are gone;
 * then the `reaper` handle is closed, and its close callback disposes
 * of the context (which runs the loop once, which libuv allows outside
 * the poll phase only).  A request that ends before its page is read
 * (the client left) tells the page so through the dispose callback of
 * the memory it holds in the request's pool.
 */
#include "dashboard.h"
#include "daemon.h"
#include "log.h"
#include "meter.h"
#include "pages.h"
#include "secret.h"
#include "store.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <h2o.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#define PAGES_INFLIGHT 2     /* pages read at once: the pool has others' work */
#define PAGES_WAITING  64    /* pages waiting for their turn; more get a 503 */
#define REQ_TIMEOUT_MS 10000 /* to send a whole request, or idle */
#define BODY_MAX       1024  /* of a request: GET and HEAD need none */
#define GRACE_MS       5000  /* at shutdown, for answers left unread */
#define SCOPES_MS      1000  /* budget scopes are read again after this */
#define TOKEN_BYTES    32
#define TOKEN_FILE_MAX 512

static const char csp[] =
    "default-src 'none'; style-src 'self'; script-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

struct dashboard;

/* The handler h2o calls, with the way back to its dashboard. */
struct dash_handler {
	h2o_handler_t super;
	struct dashboard *dash;
};

/* An accepted connection's handle: h2o owns it until conn_closed(). */
struct dash_conn {
	uv_tcp_t tcp; /* first: the close callback gets its address */
	struct dashboard *dash;
	struct dash_conn *prev, *next;
};

struct dashboard {
	struct daemon *d;
	uv_tcp_t listener;
	uv_timer_t reaper; /* at shutdown: the grace period, then closed
			    * to end the context */
	bool tcp_up;	   /* listener initialized */
	bool config_up;	   /* h2o's config initialized */
	bool ctx_up;	   /* h2o's context initialized, not yet disposed */
	bool closing;
	bool reaping; /* the reaper's close is under way */
	h2o_globalconf_t config;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept;
	unsigned int nconns; /* handles of accepted connections */
	struct dash_conn *conns;
	unsigned int inflight; /* pages on the thread pool */
	unsigned int nwaiting;
	struct page_work *waiting, *waiting_tail; /* for the pool, in order */
	char *token;	/* required when allow_remote; else NULL */
	char where[80]; /* the address served, for messages */
	char url[96];	/* http://WHERE/ */
	cJSON *scopes;	/* meter_scopes() as of scopes_at (loop ms) */
	uint64_t scopes_at;
};

/* A page read on the thread pool for one request. */
struct page_work {
	uv_work_t work;
	struct dashboard *dash;
	h2o_req_t *req;		 /* NULL once the request is gone */
	struct page_work **slot; /* in the request's pool: points back */
	struct page_work *next;	 /* while waiting */
	struct page_req pr;
	struct page_env env;
	char *db_path;
	cJSON *scopes;
	struct page_out out;
};

/* --- the token ----------------------------------------------------------- */

static bool
token_make(char *text, size_t cap)
{
	unsigned char raw[TOKEN_BYTES];

	if (cap < 2 * TOKEN_BYTES + 1 || RAND_bytes(raw, sizeof(raw)) != 1)
		return false;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(text + 2 * i, 3, "%02x", raw[i]);
	OPENSSL_cleanse(raw, sizeof(raw));
	return true;
}

/*
 * Reads the token from its file, or creates the file.  A file others may
 * read is refused: whoever can read it can read every page.
 */
static int
token_load(const char *path, char **token, char *err, size_t errlen)
{
	char buf[TOKEN_FILE_MAX + 1];
	bool made;
	int n = secret_file_load("[http] token_file", path, token_make, buf,
				 sizeof(buf), &made, err, errlen);

	if (n < 0)
		return n;
	if (made)
		log_info("dashboard: created the token file %s", path);
	if (n < 16 || n > PAGE_TOKEN_MAX) {
		snprintf(err, errlen,
			 "[http] token_file %s: a token is 16 to %d "
			 "characters",
			 path, PAGE_TOKEN_MAX);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++)
		if (buf[i] <= ' ' || buf[i] > '~') {
			snprintf(err, errlen,
				 "[http] token_file %s: a token is printable "
				 "ASCII without spaces",
				 path);
			return -EINVAL;
		}
	*token = xstrdup(buf);
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static bool
token_equal(const char *want, const char *got, size_t gotlen)
{
	size_t n = strlen(want);

	return gotlen == n && CRYPTO_memcmp(want, got, n) == 0;
}

/* The request carries the token, as a bearer or in the query. */
static bool
authorized(const struct dashboard *dash, h2o_req_t *req,
	   const struct page_req *pr)
{
	ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);

	if (i >= 0) {
		const h2o_iovec_t *v = &req->headers.entries[i].value;

		if (v->len > 7 && strncasecmp(v->base, "Bearer ", 7) == 0 &&
		    token_equal(dash->token, v->base + 7, v->len - 7))
			return true;
	}
	return pr->has_token &&
	       token_equal(dash->token, pr->token, strlen(pr->token));
}

/*
 * Without a token, only this machine's names may stand in Host: a page
 * of another site that points its own name at 127.0.0.1 (DNS
 * rebinding) would otherwise read the dashboard as one of its own.
 */
static bool
host_local(h2o_iovec_t authority)
{
	char host[80], *end;
	struct in_addr a4;
	struct in6_addr a6;

	if (authority.len == 0 || authority.len >= sizeof(host))
		return false;
	memcpy(host, authority.base, authority.len);
	host[authority.len] = '\0';
	if (host[0] == '[') {
		end = strchr(host, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return false;
		*end = '\0';
		return inet_pton(AF_INET6, host + 1, &a6) == 1 &&
		       IN6_IS_ADDR_LOOPBACK(&a6);
	}
	if ((end = strchr(host, ':')) != NULL)
		*end = '\0';
	if (strcasecmp(host, "localhost") == 0)
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	       (ntohl(a4.s_addr) >> 24) == 127;
}

/* --- answers ------------------------------------------------------------- */

static const char *
reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

static void
header(h2o_req_t *req, const char *name, const char *value)
{
	h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name),
			      1, NULL, value, strlen(value));
}

/* Sends a whole answer; every one carries the security headers. */
static void
respond(h2o_req_t *req, int status, const char *type, const char *body,
	size_t len)
{
	req->res.status = status;
	req->res.reason = reason(status);
	header(req, "content-security-policy", csp);
	header(req, "x-content-type-options", "nosniff");
	header(req, "referrer-policy", "no-referrer");
	header(req, "x-frame-options", "DENY");
	header(req, "cache-control", "no-store");
	header(req, "content-type", type);
	if (status == 405)
		header(req, "allow", "GET, HEAD");
	if (status == 401)
		header(req, "www-authenticate", "Bearer realm=\"rftd\"");
	if (status == 503)
		header(req, "retry-after", "1");
	req->res.content_length = len;
	h2o_send_inline(req, body, len);
}

static void
respond_error(h2o_req_t *req, int status, const char *why, const char *token)
{
	struct page_out out;

	page_error(status, why, token, &out);
	respond(req, status, out.type, out.body, out.len);
	free(out.body);
}

/* --- pages on the thread pool -------------------------------------------- */

static void maybe_reap(struct dashboard *dash);

static void
work_free(struct page_work *w)
{
	free(w->out.body);
	free(w->db_path);
	cJSON_Delete(w->scopes);
	free(w);
}

/* The request's pool is going: its page must not answer it, and one
 * still waiting need not be read at all. */
static void
slot_dispose(void *p)
{
	struct page_work **slot = p, *w = *slot, **pp;
	struct dashboard *dash;

	if (w == NULL)
		return;
	w->req = NULL;
	dash = w->dash;
	for (pp = &dash->waiting; *pp != NULL; pp = &(*pp)->next) {
		if (*pp != w)
			continue;
		*pp = w->next;
		if (dash->waiting_tail == w)
			dash->waiting_tail = NULL;
		for (struct page_work *t = dash->waiting; t != NULL;
		     t = t->next)
			dash->waiting_tail = t;
		dash->nwaiting--;
		work_free(w);
		return;
	}
}

static void
work_run(uv_work_t *work)
{
	struct page_work *w = work->data;

	page_render(&w->pr, &w->env, &w->out);
}

static void work_done(uv_work_t *work, int status);

/* Answers a page that will not be read: 503. */
static void
work_refuse(struct page_work *w, const char *why)
{
	if (w->req != NULL) {
		*w->slot = NULL;
		respond_error(w->req, 503, why, w->env.token);
	}
	work_free(w);
}

/* Hands waiting pages to the pool while there is room. */
static void
work_next(struct dashboard *dash)
{
	while (dash->waiting != NULL && dash->inflight < PAGES_INFLIGHT) {
		struct page_work *w = dash->waiting;

		dash->waiting = w->next;
		if (dash->waiting == NULL)
			dash->waiting_tail = NULL;
		dash->nwaiting--;
		w->next = NULL;
		if (dash->closing) {
			work_refuse(w, "rftd is shutting down.");
			continue;
		}
		if (uv_queue_work(&dash->d->loop, &w->work, work_run,
				  work_done) != 0) {
			work_refuse(w, "The page cannot be read now.");
			continue;
		}
		dash->inflight++;
	}
}

static void
work_done(uv_work_t *work, int status)
{
	struct page_work *w = work->data;
	struct dashboard *dash = w->dash;

	dash->inflight--;
	if (w->req != NULL) {
		*w->slot = NULL;
		if (status != 0 || dash->closing)
			respond_error(w->req, 503, "rftd is shutting down.",
				      NULL);
		else
			respond(w->req, w->out.status, w->out.type, w->out.body,
				w->out.len);
	}
	work_free(w);
	work_next(dash);
	maybe_reap(dash);
}

/*
 * The budget scopes for a budgets page.  meter_scopes() works on the
 * loop, over the live jobs and the sweeps: pages asked within a second
 * share one answer, however many are open and refreshing.
 */
static cJSON *
scopes_now(struct dashboard *dash)
{
	uint64_t now = uv_now(&dash->d->loop);

	if (dash->scopes == NULL || now - dash->scopes_at >= SCOPES_MS) {
		cJSON_Delete(dash->scopes);
		dash->scopes = meter_scopes(dash->d);
		dash->scopes_at = now;
	}
	return cJSON_Duplicate(dash->scopes, true);
}

static void
page_start(struct dashboard *dash, h2o_req_t *req, const struct page_req *pr)
{
	const char *token = pr->has_token && dash->token ? pr->token : NULL;
	struct page_work *w;

	if (dash->nwaiting >= PAGES_WAITING) {
		respond_error(req, 503,
			      "Other pages are being read; try again.", token);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->work.data = w;
	w->dash = dash;
	w->req = req;
	w->pr = *pr;
	w->db_path = xstrdup(store_path(dash->d->store));
	if (pr->kind == PAGE_BUDGETS)
		w->scopes = scopes_now(dash);
	w->env.db_path = w->db_path;
	w->env.scopes = w->scopes;
	w->env.token = token ? w->pr.token : NULL;
	w->slot =
	    h2o_mem_alloc_shared(&req->pool, sizeof(*w->slot), slot_dispose);
	*w->slot = w;
	if (dash->waiting_tail != NULL)
		dash->waiting_tail->next = w;
	else
		dash->waiting = w;
	dash->waiting_tail = w;
	dash->nwaiting++;
	work_next(dash);
}

static int
on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct dashboard *dash = ((struct dash_handler *)self)->dash;
	struct page_req pr;
	const char *type, *body;
	char why[160];
	size_t len;
	int rc;

	if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
	    !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
		respond_error(req, 405,
			      "The dashboard only reads: GET or HEAD.", NULL);
		return 0;
	}
	if (dash->token == NULL && !host_local(req->authority)) {
		respond_error(req, 403,
			      "This dashboard answers to this machine's names "
			      "only: localhost, 127.0.0.1 or [::1].",
			      NULL);
		return 0;
	}
	rc = page_route(req->path.base, req->path.len, &pr, why, sizeof(why));
	if (dash->token != NULL && !authorized(dash, req, &pr)) {
		respond_error(req, 401,
			      "A token is required: the one in rftd's "
			      "[http] token_file.",
			      NULL);
		return 0;
	}
	if (dash->closing) {
		respond_error(req, 503, "rftd is shutting down.", NULL);
		return 0;
	}
	if (rc == 404) {
		respond_error(req, 404, "There is no such page.",
			      pr.has_token && dash->token ? pr.token : NULL);
		return 0;
	}
	if (rc != 0) {
		respond_error(req, 400, why,
			      pr.has_token && dash->token ? pr.token : NULL);
		return 0;
	}
	if (pr.kind == PAGE_STATIC) {
		body = page_static(pr.static_path, &type, &len);
		respond(req, 200, type, body, len);
		return 0;
	}
	page_start(dash, req, &pr);
	return 0;
}

/* --- connections --------------------------------------------------------- */

static void
conn_closed(uv_handle_t *h)
{
	struct dash_conn *c = (struct dash_conn *)h;
	struct dashboard *dash = c->dash;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		dash->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	dash->nconns--;
	maybe_reap(dash);
}

static void
on_accept(uv_stream_t *server, int status)
{
	struct dashboard *dash = server->data;
	struct dash_conn *c;
	h2o_socket_t *sock;

	if (status != 0) {
		log_warnx("dashboard: accept: %s", uv_strerror(status));
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->dash = dash;
	uv_tcp_init(server->loop, &c->tcp);
	dash->nconns++;
	c->next = dash->conns;
	if (c->next != NULL)
		c->next->prev = c;
	dash->conns = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		uv_close((uv_handle_t *)&c->tcp, conn_closed);
		return;
	}
	/* Past the cap a connection is closed at once: rftd's own work and
	 * its control socket come first. */
	if (dash->closing || dash->nconns > dash->d->cfg.http_max_connections) {
		log_debug("dashboard: %u connections: one more refused",
			  dash->nconns - 1);
		uv_close((uv_handle_t *)&c->tcp, conn_closed);
		return;
	}
	sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, conn_closed);
	h2o_accept(&dash->accept, sock);
}

/* --- open and close ------------------------------------------------------ */

/*
 * The grace period is over: a connection still open is sending an
 * answer its client does not read.  Shutting its socket down makes the
 * write fail, and h2o closes the connection as after any failed write.
 */
static void
grace_over(uv_timer_t *t)
{
	struct dashboard *dash = t->data;
	uv_os_fd_t fd;

	for (struct dash_conn *c = dash->conns; c != NULL; c = c->next)
		if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
			shutdown(fd, SHUT_RDWR);
	if (dash->conns != NULL)
		log_warnx("dashboard: connections closed at shutdown while "
			  "sending");
}

static void
reaped(uv_handle_t *h)
{
	struct dashboard *dash = h->data;

	if (dash->ctx_up) {
		dash->ctx_up = false;
		h2o_context_dispose(&dash->ctx);
	}
}

/* Once nothing uses the context, it goes (see the file's comment). */
static void
maybe_reap(struct dashboard *dash)
{
	if (!dash->closing || dash->reaping || dash->tcp_up ||
	    dash->nconns > 0 || dash->inflight > 0)
		return;
	dash->reaping = true;
	uv_close((uv_handle_t *)&dash->reaper, reaped);
}

static void
listener_closed(uv_handle_t *h)
{
	struct dashboard *dash = h->data;

	dash->tcp_up = false;
	maybe_reap(dash);
}

static void
h2o_setup(struct dashboard *dash)
{
	h2o_hostconf_t *host;
	h2o_pathconf_t *path;
	struct dash_handler *handler;

	h2o_config_init(&dash->config);
	dash->config_up = true;
	dash->config.server_name = h2o_iovec_init(H2O_STRLIT("rftd"));
	dash->config.max_request_entity_size = BODY_MAX;
	dash->config.http1.req_timeout = REQ_TIMEOUT_MS;
	dash->config.http1.upgrade_to_http2 = 0;
	dash->config.http2.idle_timeout = REQ_TIMEOUT_MS;
	host = h2o_config_register_host(
	    &dash->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	path = h2o_config_register_path(host, "/", 0);
	handler =
	    (struct dash_handler *)h2o_create_handler(path, sizeof(*handler));
	handler->super.on_req = on_req;
	handler->dash = dash;
	h2o_context_init(&dash->ctx, &dash->d->loop, &dash->config);
	dash->ctx_up = true;
	dash->accept.ctx = &dash->ctx;
	dash->accept.hosts = dash->config.hosts;
}

int
dashboard_open(struct daemon *d, char *err, size_t errlen)
{
	const struct config *cfg = &d->cfg;
	struct sockaddr_storage ss;
	struct dashboard *dash;
	char host[INET6_ADDRSTRLEN];
	int len = sizeof(ss), rc, port;
	bool loopback;

	if (cfg->http_listen == NULL)
		return 0;
	dash = xcalloc(1, sizeof(*dash));
	dash->d = d;
	d->dashboard = dash;
	uv_timer_init(&d->loop, &dash->reaper);
	dash->reaper.data = dash;
	snprintf(dash->where, sizeof(dash->where), "%s", cfg->http_listen);
	if (config_listen_addr(cfg->http_listen, &ss, &loopback) != 0) {
		snprintf(err, errlen, "[http] listen %s: not an address",
			 cfg->http_listen);
		return -1;
	}
	if (cfg->http_allow_remote &&
	    token_load(cfg->http_token_file, &dash->token, err, errlen) != 0)
		return -1;
	uv_tcp_init(&d->loop, &dash->listener);
	dash->listener.data = dash;
	dash->tcp_up = true;
	rc = uv_tcp_bind(&dash->listener, (const struct sockaddr *)&ss,
			 ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&dash->listener, 128, on_accept);
	if (rc != 0) {
		snprintf(err, errlen, "[http] listen %s: %s", cfg->http_listen,
			 uv_strerror(rc));
		return -1;
	}
	h2o_setup(dash);
	/* The port chosen when 0 was asked for, for the log. */
	uv_tcp_getsockname(&dash->listener, (struct sockaddr *)&ss, &len);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(dash->where, sizeof(dash->where), "[%s]:%d", host,
			 port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(dash->where, sizeof(dash->where), "%s:%d", host, port);
	}
	snprintf(dash->url, sizeof(dash->url), "http://%s/", dash->where);
	log_info("dashboard: serving http://%s/%s", dash->where,
		 dash->token ? " (the token is required)" : "");
	return 0;
}

const char *
dashboard_url(const struct daemon *d)
{
	const struct dashboard *dash = d->dashboard;

	return dash != NULL && !dash->closing ? dash->url : NULL;
}

void
dashboard_close(struct daemon *d)
{
	struct dashboard *dash = d->dashboard;

	if (dash == NULL || dash->closing)
		return;
	dash->closing = true;
	uv_timer_start(&dash->reaper, grace_over, GRACE_MS, 0);
	work_next(dash); /* refuses those waiting */
	if (dash->tcp_up)
		uv_close((uv_handle_t *)&dash->listener, listener_closed);
	if (dash->ctx_up) {
		/*
		 * Connections close after the answer they are sending.  Those
		 * idle, or still sending their request, wait on the request
		 * timeout: it runs now, and at once from now on.
		 */
		dash->ctx.shutdown_requested = 1;
		dash->ctx.http1.req_timeout.timeout = 0;
		h2o_timeout_run(&d->loop, &dash->ctx.http1.req_timeout,
				h2o_now(&d->loop));
	}
	maybe_reap(dash);
}

void
dashboard_free(struct daemon *d)
{
	struct dashboard *dash = d->dashboard;

	if (dash == NULL)
		return;
	if (dash->config_up)
		h2o_config_dispose(&dash->config);
	cJSON_Delete(dash->scopes);
	if (dash->token != NULL) {
		OPENSSL_cleanse(dash->token, strlen(dash->token));
		free(dash->token);
	}
	free(dash);
	d->dashboard = NULL;
}
