/*
 * The HTTP client (daemon/http.h) on a real libuv loop against a scripted
 * HTTP/1.1 server on 127.0.0.1 that runs in a child process: responses and
 * headers, bounded bodies, timeouts, refused and reset connections, cancel
 * and close, POST bodies and multipart uploads.  Every case ends the way
 * the daemon shuts down: http_close(), the loop run dry, uv_loop_close().
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "http.h"

#include "tmpdir.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#define MAX_BODY   4096	 /* the client's cap in these tests */
#define BIG_LEN	   65536 /* what /big sends */
#define SLOW_LEN   10	 /* /slow's body: one byte ... */
#define SLOW_GAP_S 1	 /* ... then one more a second */
#define SLOW_TO_MS 300	 /* the request timeout the slow case sets */
#define WAIT_MS	   3000	 /* the longest any case waits for a callback */
#define OK_BODY	   "{\"ok\":true,\"n\":42}"

/* --- the scripted server ------------------------------------------------
 *
 * A child process accepts on 127.0.0.1 and forks one process per
 * connection, which answers requests by path (keep-alive) until the peer
 * goes away or the path says to stop.  The whole process group is killed
 * after the last test, and dies with the test if that ends first.
 */

#define REQ_MAX (256 * 1024) /* request bytes the server takes */

struct conn {
	int fd;
	char buf[REQ_MAX + 1];
	size_t len;
};

struct request {
	char method[16];
	char path[128];
	char content_type[256];
	bool chunked;
	const char *body;
	size_t body_len;
	size_t used; /* bytes of conn.buf this request took */
};

static bool
send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool
fill(struct conn *c)
{
	ssize_t n;

	if (c->len == REQ_MAX)
		return false;
	do
		n = read(c->fd, c->buf + c->len, REQ_MAX - c->len);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return false;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	return true;
}

static void
copy_value(const char *v, char *out, size_t len)
{
	size_t n = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	while (v[n] != '\0' && v[n] != '\r' && n + 1 < len) {
		out[n] = v[n];
		n++;
	}
	out[n] = '\0';
}

/* Reads one whole request; false at the end of the stream or on junk. */
static bool
read_request(struct conn *c, struct request *rq)
{
	char *end, *line;
	size_t head;

	memset(rq, 0, sizeof(*rq));
	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
		if (!fill(c))
			return false;
	head = (size_t)(end - c->buf) + 4;
	*end = '\0'; /* the body starts after the blank line */
	if (sscanf(c->buf, "%15s %127s", rq->method, rq->path) != 2)
		return false;
	for (line = strstr(c->buf, "\r\n"); line != NULL;
	     line = strstr(line, "\r\n")) {
		line += 2;
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			rq->body_len = strtoul(line + 15, NULL, 10);
		else if (strncasecmp(line, "Content-Type:", 13) == 0)
			copy_value(line + 13, rq->content_type,
				   sizeof(rq->content_type));
		else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0)
			rq->chunked = true;
	}
	if (rq->body_len > REQ_MAX - head)
		return false;
	while (c->len < head + rq->body_len)
		if (!fill(c))
			return false;
	rq->body = c->buf + head;
	rq->used = head + rq->body_len;
	return true;
}

static bool
respond(int fd, int status, const char *headers, const void *body, size_t len)
{
	char head[1024];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s\r\n",
			 status, status == 200 ? "OK" : "Scripted", len,
			 headers != NULL ? headers : "");

	if (n < 0 || (size_t)n >= sizeof(head))
		return false;
	return send_all(fd, head, (size_t)n) && send_all(fd, body, len);
}

/* Headers, the first byte of the body, then a byte a second. */
static bool
dribble(int fd)
{
	char head[128];
	int n =
	    snprintf(head, sizeof(head),
		     "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", SLOW_LEN);

	if (!send_all(fd, head, (size_t)n))
		return false;
	for (int i = 0; i < SLOW_LEN; i++) {
		if (i > 0)
			sleep(SLOW_GAP_S);
		if (!send_all(fd, "s", 1))
			return false;
	}
	return true;
}

/* Waits for the peer to go away, having answered nothing. */
static bool
hang(int fd)
{
	char b[512];

	while (read(fd, b, sizeof(b)) > 0)
		continue;
	return false;
}

/* Closes with SO_LINGER 0 so that the peer gets a reset. */
static bool
reset(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	return false;
}

/* Sends the request body back with the method and the Content-Type. */
static bool
echo(int fd, const struct request *rq)
{
	char headers[512];

	snprintf(headers, sizeof(headers),
		 "X-Method: %s\r\nX-Content-Type: %s\r\n", rq->method,
		 rq->content_type);
	return respond(fd, 200, headers, rq->body, rq->body_len);
}

/* Answers one request as its path says; false: close the connection. */
static bool
answer(int fd, const struct request *rq)
{
	static char big[BIG_LEN];
	const char *p = rq->path;

	if (rq->chunked)
		return respond(fd, 411, NULL, "chunked", 7);
	if (strcmp(p, "/ok") == 0)
		return respond(fd, 200,
			       "Content-Type: application/json\r\n"
			       "Retry-After: 3\r\n"
			       "X-Dup: first\r\n"
			       "X-Dup: second\r\n",
			       OK_BODY, strlen(OK_BODY));
	if (strncmp(p, "/status/", 8) == 0)
		return respond(fd, atoi(p + 8), NULL, "busy", 4);
	if (strcmp(p, "/big") == 0) {
		memset(big, 'b', sizeof(big));
		return respond(fd, 200, NULL, big, sizeof(big));
	}
	if (strcmp(p, "/slow") == 0)
		return dribble(fd);
	if (strcmp(p, "/hang") == 0)
		return hang(fd);
	if (strcmp(p, "/reset") == 0)
		return reset(fd);
	if (strcmp(p, "/post") == 0 || strcmp(p, "/upload") == 0)
		return echo(fd, rq);
	return respond(fd, 404, NULL, "no such path", 12);
}

static void
serve_conn(int fd)
{
	static struct conn c;
	struct request rq;

	c.fd = fd;
	while (read_request(&c, &rq) && answer(fd, &rq)) {
		memmove(c.buf, c.buf + rq.used, c.len - rq.used);
		c.len -= rq.used;
		c.buf[c.len] = '\0';
	}
	close(fd);
}

/* A server left behind by a crashed test would hold its output open. */
static void
die_with_parent(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(1);
}

static void
serve(int lfd)
{
	pid_t self = getpid();

	signal(SIGCHLD, SIG_IGN); /* connections reap themselves */
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pid_t pid;

		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0)
			_exit(1);
		pid = fork();
		if (pid == 0) {
			die_with_parent(self);
			close(lfd);
			serve_conn(fd);
			_exit(0);
		}
		close(fd);
	}
}

static struct {
	pid_t pid;
	int port;
} server;

/* Binds 127.0.0.1 on a free port; the socket, or -1. */
static int
bind_loopback(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int
server_start(void **state)
{
	int lfd = bind_loopback(&server.port);
	pid_t self = getpid();

	(void)state;
	if (lfd < 0 || listen(lfd, 64) != 0)
		return -1;
	fflush(NULL);
	server.pid = fork();
	if (server.pid < 0)
		return -1;
	if (server.pid == 0) {
		die_with_parent(self);
		setpgid(0, 0);
		serve(lfd);
	}
	setpgid(server.pid, server.pid); /* either side may win the race */
	close(lfd);
	return 0;
}

static int
server_stop(void **state)
{
	(void)state;
	kill(-server.pid, SIGKILL);
	return waitpid(server.pid, NULL, 0) == server.pid ? 0 : -1;
}

/* --- the client side ---------------------------------------------------- */

struct fixture {
	uv_loop_t loop;
	uv_timer_t watchdog; /* bounds every wait */
	bool expired;
	bool closed; /* the case ended the loop itself */
	struct http *h;
	int completions; /* callbacks run, all requests together */
};

/* What one callback saw, copied out of the borrowed result. */
struct outcome {
	struct fixture *f;
	int calls;
	bool during_start; /* ran while http_start() was on the stack */
	int rc;
	bool maybe_sent;
	long status;
	char body[8192];
	size_t len;
	bool has_error;
	char error[256];
	uint64_t elapsed_ms; /* since the request started */
	uint64_t started_ns;
	bool has_retry_after, has_missing;
	char retry_after[32], retry_after_lc[32], dup[32], dup_short[3];
	char method[16], content_type[256];
};

static bool starting; /* http_start() is on the stack */

static void
header(const struct http_result *res, const char *name, char *buf, size_t len)
{
	if (http_header(res->req, name, buf, len) == NULL)
		buf[0] = '\0';
}

static void
record(void *arg, const struct http_result *res)
{
	struct outcome *o = arg;
	size_t n =
	    res->len < sizeof(o->body) - 1 ? res->len : sizeof(o->body) - 1;
	char probe[8];

	o->calls++;
	o->f->completions++;
	o->during_start |= starting;
	o->elapsed_ms = (uv_hrtime() - o->started_ns) / 1000000;
	o->rc = res->rc;
	o->maybe_sent = res->maybe_sent;
	o->status = res->status;
	o->len = res->len;
	memcpy(o->body, res->body, n);
	o->body[n] = '\0';
	o->has_error = res->error != NULL;
	snprintf(o->error, sizeof(o->error), "%s",
		 res->error != NULL ? res->error : "");
	o->has_retry_after =
	    http_header(res->req, "Retry-After", o->retry_after,
			sizeof(o->retry_after)) != NULL;
	header(res, "retry-after", o->retry_after_lc,
	       sizeof(o->retry_after_lc));
	header(res, "X-Dup", o->dup, sizeof(o->dup));
	header(res, "X-Dup", o->dup_short, sizeof(o->dup_short));
	header(res, "X-Method", o->method, sizeof(o->method));
	header(res, "X-Content-Type", o->content_type, sizeof(o->content_type));
	o->has_missing =
	    http_header(res->req, "X-Missing", probe, sizeof(probe)) != NULL;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const struct http_limits lim = {
	    .connect_timeout_ms = 1000,
	    .timeout_ms = 3000,
	    .max_body = MAX_BODY,
	    .user_agent = "rftd-test",
	};

	if (f == NULL || uv_loop_init(&f->loop) != 0) {
		free(f);
		return -1;
	}
	uv_timer_init(&f->loop, &f->watchdog);
	f->watchdog.data = f;
	f->h = http_new(&f->loop, &lim);
	*state = f;
	return 0;
}

/* Closes the watchdog and runs the loop until nothing is left on it. */
static void
end_loop(struct fixture *f)
{
	uv_close((uv_handle_t *)&f->watchdog, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	f->closed = true;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc = 0;

	if (!f->closed) { /* a case failed half-way */
		http_close(f->h);
		end_loop(f);
		rc = uv_loop_close(&f->loop) == 0 ? 0 : -1;
	}
	free(f);
	return rc;
}

/* The end of every case: the client closes and nothing is left on the
 * loop once it has run the close callbacks. */
static void
close_client(struct fixture *f)
{
	http_close(f->h);
	end_loop(f);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void
url(char *buf, size_t len, int port, const char *path)
{
	snprintf(buf, len, "http://127.0.0.1:%d%s", port, path);
}

static struct http_req *
start_url(struct fixture *f, struct http_request *rq, const char *u,
	  struct outcome *o)
{
	struct http_req *r;

	rq->url = u;
	o->f = f;
	o->started_ns = uv_hrtime();
	starting = true;
	r = http_start(f->h, rq, record, o);
	starting = false;
	return r;
}

static struct http_req *
start_rq(struct fixture *f, struct http_request *rq, const char *path,
	 struct outcome *o)
{
	char u[128];

	url(u, sizeof(u), server.port, path);
	return start_url(f, rq, u, o);
}

static struct http_req *
start_get(struct fixture *f, const char *path, struct outcome *o)
{
	struct http_request rq = {.method = "GET"};

	return start_rq(f, &rq, path, o);
}

static void
on_watchdog(uv_timer_t *t)
{
	struct fixture *f = t->data;

	f->expired = true;
}

/* Runs the loop until `n` callbacks in all have run, for WAIT_MS at most. */
static void
run_until(struct fixture *f, int n)
{
	f->expired = false;
	uv_timer_start(&f->watchdog, on_watchdog, WAIT_MS, 0);
	while (f->completions < n && !f->expired)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_timer_stop(&f->watchdog);
	assert_int_equal(f->completions, n);
}

/* Runs the loop for `ms` (requests reach the server meanwhile). */
static void
run_for(struct fixture *f, uint64_t ms)
{
	f->expired = false;
	uv_timer_start(&f->watchdog, on_watchdog, ms, 0);
	while (!f->expired)
		uv_run(&f->loop, UV_RUN_ONCE);
}

/* --- responses ---------------------------------------------------------- */

static void
a_response_brings_status_body_and_the_last_of_repeated_headers(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};

	assert_non_null(start_get(f, "/ok", &o));
	assert_int_equal(o.calls, 0);
	assert_int_equal(http_inflight(f->h), 1);
	assert_int_equal(http_started(f->h), 1);
	run_until(f, 1);

	assert_int_equal(o.calls, 1);
	assert_false(o.during_start);
	assert_int_equal(o.rc, 0);
	assert_int_equal(o.status, 200);
	assert_true(o.maybe_sent);
	assert_false(o.has_error);
	assert_int_equal(o.len, strlen(OK_BODY));
	assert_string_equal(o.body, OK_BODY);
	assert_true(o.has_retry_after);
	assert_string_equal(o.retry_after, "3");
	assert_string_equal(o.retry_after_lc, "3");
	assert_string_equal(o.dup, "second");
	assert_string_equal(o.dup_short, "se"); /* cut to the buffer */
	assert_false(o.has_missing);
	assert_int_equal(http_inflight(f->h), 0);
	close_client(f);
}

static void
an_error_status_is_a_response_not_a_failure(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};

	start_get(f, "/status/503", &o);
	run_until(f, 1);

	assert_int_equal(o.rc, 0);
	assert_int_equal(o.status, 503);
	assert_string_equal(o.body, "busy");
	assert_false(o.has_error);
	assert_false(o.has_retry_after);
	close_client(f);
}

static void
requests_in_flight_together_each_get_their_own_answer(void **state)
{
	struct fixture *f = *state;
	struct outcome ok = {0}, busy = {0}, big = {0}, missing = {0};

	start_get(f, "/ok", &ok);
	start_get(f, "/status/503", &busy);
	start_get(f, "/big", &big);
	start_get(f, "/nothing-here", &missing);
	assert_int_equal(http_inflight(f->h), 4);
	run_until(f, 4);

	assert_int_equal(ok.status, 200);
	assert_string_equal(ok.body, OK_BODY);
	assert_int_equal(busy.status, 503);
	assert_int_equal(big.rc, -EFBIG);
	assert_int_equal(missing.status, 404);
	assert_int_equal(http_inflight(f->h), 0);
	assert_int_equal(http_started(f->h), 4);
	close_client(f);
}

/* --- failures ----------------------------------------------------------- */

static void
a_body_over_max_body_fails_with_efbig_and_says_it_is_too_large(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};
	char want[64];

	start_get(f, "/big", &o);
	run_until(f, 1);

	assert_int_equal(o.rc, -EFBIG);
	assert_true(o.has_error);
	snprintf(want, sizeof(want), "larger than %d bytes", MAX_BODY);
	assert_non_null(strstr(o.error, want));
	assert_true(o.len <= MAX_BODY);
	assert_true(o.maybe_sent);
	close_client(f);
}

static void
a_body_slower_than_the_timeout_fails_with_etimedout_from_the_timer(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {.method = "GET", .timeout_ms = SLOW_TO_MS};
	struct outcome o = {0};

	start_rq(f, &rq, "/slow", &o);
	run_until(f, 1);

	assert_int_equal(o.rc, -ETIMEDOUT);
	assert_true(o.has_error);
	assert_true(o.error[0] != '\0');
	assert_true(o.maybe_sent);
	/* The first byte came; the second is a second away, so nothing on
	 * the socket woke the loop: the timeout came from the timer. */
	assert_int_equal(o.len, 1);
	assert_string_equal(o.body, "s");
	assert_true(o.elapsed_ms >= SLOW_TO_MS - 10);
	assert_true(o.elapsed_ms < SLOW_GAP_S * 1000);
	close_client(f);
}

static void
a_refused_connection_fails_and_was_not_sent(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {
	    .method = "POST", .body = "{}", .body_len = 2};
	struct outcome o = {0};
	char u[128];
	int port = 0;
	int fd = bind_loopback(&port); /* bound, never listening */

	assert_true(fd >= 0);
	url(u, sizeof(u), port, "/ok");
	start_url(f, &rq, u, &o);
	run_until(f, 1);
	close(fd);

	assert_int_equal(o.rc, -ECONNREFUSED);
	assert_false(o.maybe_sent);
	assert_true(o.has_error);
	assert_true(o.error[0] != '\0');
	close_client(f);
}

static void
a_reset_connection_fails_after_the_request_may_have_been_sent(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};

	start_get(f, "/reset", &o);
	run_until(f, 1);

	assert_true(o.rc != 0);
	assert_int_equal(o.rc, -ECONNRESET);
	assert_true(o.maybe_sent);
	assert_true(o.has_error);
	assert_true(o.error[0] != '\0');
	close_client(f);
}

/* --- cancel and close --------------------------------------------------- */

static void
cancel_completes_with_ecanceled_before_it_returns(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};
	struct http_req *r = start_get(f, "/hang", &o);

	run_for(f, 100); /* the server has the request and sits on it */
	assert_int_equal(o.calls, 0);
	assert_int_equal(http_inflight(f->h), 1);

	http_cancel(r);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.rc, -ECANCELED);
	assert_true(o.maybe_sent);
	assert_true(o.has_error);
	assert_int_equal(http_inflight(f->h), 0);

	run_for(f, 50); /* and never again */
	assert_int_equal(o.calls, 1);
	close_client(f);
}

static void
cancel_before_the_loop_ran_completes_at_once(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};
	struct http_req *r = start_get(f, "/ok", &o);

	http_cancel(r);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.rc, -ECANCELED);
	run_for(f, 50);
	assert_int_equal(o.calls, 1);
	close_client(f);
}

static void
close_completes_every_transfer_in_flight_with_ecanceled(void **state)
{
	struct fixture *f = *state;
	struct outcome o[3] = {{0}};
	struct outcome slow = {0};

	for (size_t i = 0; i < 3; i++)
		start_get(f, "/hang", &o[i]);
	start_get(f, "/slow", &slow);
	run_for(f, 100);
	assert_int_equal(f->completions, 0);
	assert_int_equal(http_inflight(f->h), 4);

	http_close(f->h);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(o[i].calls, 1);
		assert_int_equal(o[i].rc, -ECANCELED);
	}
	assert_int_equal(slow.calls, 1);
	assert_int_equal(slow.rc, -ECANCELED);

	end_loop(f);
	assert_int_equal(f->completions, 4);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void
close_after_a_kept_alive_connection_leaves_nothing_on_the_loop(void **state)
{
	struct fixture *f = *state;
	struct outcome a = {0}, b = {0};

	start_get(f, "/ok", &a);
	run_until(f, 1);
	start_get(f, "/ok", &b); /* on the connection the first left open */
	run_until(f, 2);
	assert_int_equal(b.status, 200);
	close_client(f);
}

/* --- request bodies ----------------------------------------------------- */

static void
a_post_body_arrives_intact(void **state)
{
	struct fixture *f = *state;
	static const char *const headers[] = {"Content-Type: application/json",
					      NULL};
	char want[3000], body[sizeof(want)];
	struct http_request rq = {
	    .method = "POST",
	    .headers = headers,
	    .body = body,
	    .body_len = sizeof(body),
	};
	struct outcome o = {0};

	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = (char)(i * 7); /* NUL bytes included */
	memcpy(body, want, sizeof(body));
	start_rq(f, &rq, "/post", &o);
	memset(body, 0, sizeof(body)); /* borrowed for the call only */
	run_until(f, 1);

	assert_int_equal(o.rc, 0);
	assert_int_equal(o.status, 200);
	assert_string_equal(o.method, "POST");
	assert_string_equal(o.content_type, "application/json");
	assert_int_equal(o.len, sizeof(want));
	assert_memory_equal(o.body, want, sizeof(want));
	close_client(f);
}

static void
a_multipart_upload_carries_the_fields_and_the_file(void **state)
{
	struct fixture *f = *state;
	static const char data[] = "{\"messages\":[]}\r\n\0binary\xff\n";
	static const char *const fields[] = {"purpose", "fine-tune", NULL};
	const char *field = "Content-Disposition: form-data; name=\"purpose\""
			    "\r\n\r\nfine-tune\r\n";
	const char *file = "Content-Disposition: form-data; name=\"file\"; "
			   "filename=\"train.jsonl\"\r\n"
			   "Content-Type: application/octet-stream\r\n\r\n";
	const char *prefix = "multipart/form-data; boundary=";
	char dir[64], path[128], closing[320];
	struct http_request rq = {
	    .method = "POST",
	    .upload_path = path,
	    .upload_name = "train.jsonl",
	    .form_fields = fields,
	};
	struct outcome o = {0};
	const char *at;
	FILE *fp;

	assert_int_equal(tmpdir_make(dir, sizeof(dir), "http"), 0);
	snprintf(path, sizeof(path), "%s/upload.bin", dir);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, sizeof(data) - 1, fp),
			 sizeof(data) - 1);
	assert_int_equal(fclose(fp), 0);
	start_rq(f, &rq, "/upload", &o);
	run_until(f, 1);
	assert_int_equal(tmpdir_remove(dir), 0);

	assert_int_equal(o.rc, 0);
	assert_int_equal(o.status, 200);
	assert_true(o.len < sizeof(o.body));
	assert_int_equal(strncmp(o.content_type, prefix, strlen(prefix)), 0);
	assert_non_null(memmem(o.body, o.len, field, strlen(field)));
	at = memmem(o.body, o.len, file, strlen(file));
	assert_non_null(at);
	at += strlen(file);
	assert_true((size_t)(o.body + o.len - at) > sizeof(data) - 1);
	assert_memory_equal(at, data, sizeof(data) - 1);
	/* The file's bytes end where the closing boundary starts. */
	snprintf(closing, sizeof(closing), "\r\n--%s--",
		 o.content_type + strlen(prefix));
	at += sizeof(data) - 1;
	assert_int_equal(strncmp(at, closing, strlen(closing)), 0);
	close_client(f);
}

static void
an_upload_of_a_missing_file_fails_from_the_loop_and_names_it(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {
	    .method = "POST",
	    .upload_path = "/nonexistent/rftd-test/upload.bin",
	    .upload_name = "train.jsonl",
	};
	struct outcome o = {0};

	start_rq(f, &rq, "/upload", &o);
	assert_int_equal(o.calls, 0);
	run_until(f, 1);

	assert_false(o.during_start);
	assert_true(o.rc != 0);
	assert_false(o.maybe_sent);
	assert_non_null(strstr(o.error, "/nonexistent/rftd-test/upload.bin"));
	close_client(f);
}

/* --- completions -------------------------------------------------------- */

struct chain {
	struct outcome first, second;
};

/* Starts the next request from a completion; libcurl refuses (and
 * http_start() dies) when that happens inside one of its callbacks. */
static void
start_next(void *arg, const struct http_result *res)
{
	struct chain *c = arg;

	record(&c->first, res);
	start_get(c->first.f, "/status/503", &c->second);
}

static void
a_completion_may_start_the_next_request(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {.method = "GET"};
	struct chain c = {.first = {.f = f}};
	char u[128];

	url(u, sizeof(u), server.port, "/ok");
	rq.url = u;
	c.first.started_ns = uv_hrtime();
	http_start(f->h, &rq, start_next, &c);
	run_until(f, 2);

	assert_int_equal(c.first.calls, 1);
	assert_int_equal(c.first.status, 200);
	assert_int_equal(c.second.calls, 1);
	assert_false(c.second.during_start);
	assert_int_equal(c.second.rc, 0);
	assert_int_equal(c.second.status, 503);
	assert_int_equal(http_started(f->h), 2);
	close_client(f);
}

/* Closes the client from a completion, as a shutdown might. */
static void
close_on_completion(void *arg, const struct http_result *res)
{
	struct chain *c = arg;

	record(&c->first, res);
	http_close(c->first.f->h);
}

static void
a_completion_may_close_the_client_and_cancel_the_rest(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {.method = "GET"};
	struct chain c = {.first = {.f = f}};
	char u[128];

	start_get(f, "/hang", &c.second);
	url(u, sizeof(u), server.port, "/ok");
	rq.url = u;
	c.first.started_ns = uv_hrtime();
	http_start(f->h, &rq, close_on_completion, &c);
	run_until(f, 2);

	assert_int_equal(c.first.status, 200);
	assert_int_equal(c.second.calls, 1);
	assert_int_equal(c.second.rc, -ECANCELED);
	end_loop(f);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		a_response_brings_status_body_and_the_last_of_repeated_headers,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(
		an_error_status_is_a_response_not_a_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		requests_in_flight_together_each_get_their_own_answer, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		a_body_over_max_body_fails_with_efbig_and_says_it_is_too_large,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(
		a_body_slower_than_the_timeout_fails_with_etimedout_from_the_timer,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(
		a_refused_connection_fails_and_was_not_sent, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		a_reset_connection_fails_after_the_request_may_have_been_sent,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(
		cancel_completes_with_ecanceled_before_it_returns, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		cancel_before_the_loop_ran_completes_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		close_completes_every_transfer_in_flight_with_ecanceled, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		close_after_a_kept_alive_connection_leaves_nothing_on_the_loop,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(a_post_body_arrives_intact, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		a_multipart_upload_carries_the_fields_and_the_file, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		an_upload_of_a_missing_file_fails_from_the_loop_and_names_it,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(
		a_completion_may_start_the_next_request, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		a_completion_may_close_the_client_and_cancel_the_rest, setup,
		teardown),
	};
	int failed;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	alarm(60); /* a hung loop fails the test instead of stalling it */
	failed = cmocka_run_group_tests(tests, server_start, server_stop);
	curl_global_cleanup();
	return failed;
}
