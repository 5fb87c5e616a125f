/*
 * The HTTP client (see http.h): libcurl's multi socket API on libuv.
 *
 * Ownership: struct http owns the multi handle, the timer and the list
 * of requests in flight; a struct http_sock exists per socket libcurl
 * watches and is freed by libuv's close callback; a struct http_req owns
 * its easy handle and buffers and is freed after its callback ran.
 */
#include "http.h"

#include "log.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEADERS_MAX (64 * 1024) /* response header bytes kept */

struct http {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct http_limits lim;
	char *ca_file, *user_agent;
	struct http_req *reqs; /* in flight, doubly linked */
	size_t nreqs;
	unsigned long long started;
	bool closing;
};

struct http_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct http *h;
};

struct http_req {
	struct http *h;
	struct http_req *prev, *next;
	CURL *easy;
	struct curl_slist *headers;
	curl_mime *mime;
	http_cb cb;
	void *arg;
	char *body; /* the response, NUL-terminated */
	size_t len, cap;
	bool overflow; /* the response outgrew lim.max_body */
	char *hdrs;    /* the last response's header block */
	size_t hlen;
	char errbuf[CURL_ERROR_SIZE]; /* libcurl's, cleared when added */
	int local_rc;		      /* failed here, before sending */
	char local_err[300];
};

/* --- buffers -------------------------------------------------------------- */

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct http_req *r = arg;
	size_t add = size * n;

	if (r->len + add > r->h->lim.max_body) {
		if (!r->h->lim.cut_body) {
			r->overflow = true;
			return 0; /* libcurl fails it with a write error */
		}
		if (r->len == r->h->lim.max_body)
			return size * n;
		add = r->h->lim.max_body - r->len;
	}
	if (r->len + add + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;

		while (cap < r->len + add + 1)
			cap *= 2;
		r->body = xrealloc(r->body, cap);
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, add);
	r->len += add;
	r->body[r->len] = '\0';
	return size * n;
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct http_req *r = arg;
	size_t add = size * n;

	if (add >= 5 && strncmp(data, "HTTP/", 5) == 0)
		r->hlen = 0; /* a new response (after 100 Continue...) */
	if (r->hlen + add + 1 > HEADERS_MAX)
		return add; /* keep what fits; the body is what matters */
	r->hdrs = xrealloc(r->hdrs, r->hlen + add + 1);
	memcpy(r->hdrs + r->hlen, data, add);
	r->hlen += add;
	r->hdrs[r->hlen] = '\0';
	return add;
}

const char *
http_header(const struct http_req *r, const char *name, char *buf, size_t len)
{
	size_t nlen = strlen(name);
	const char *p = r->hdrs, *found = NULL;
	size_t flen = 0;

	if (p == NULL || len == 0)
		return NULL;
	while (*p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t line = eol ? (size_t)(eol - p) : strlen(p);

		if (line > nlen && strncasecmp(p, name, nlen) == 0 &&
		    p[nlen] == ':') {
			const char *v = p + nlen + 1;
			const char *end = p + line;

			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == '\r' || end[-1] == ' ' ||
					   end[-1] == '\t'))
				end--;
			found = v;
			flen = (size_t)(end - v);
		}
		p += line + (eol ? 1 : 0);
	}
	if (found == NULL)
		return NULL;
	if (flen >= len)
		flen = len - 1;
	memcpy(buf, found, flen);
	buf[flen] = '\0';
	return buf;
}

/* --- completion ----------------------------------------------------------- */

static void
req_unlink(struct http_req *r)
{
	struct http *h = r->h;

	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		h->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	h->nreqs--;
}

static void
req_free(struct http_req *r)
{
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	curl_mime_free(r->mime);
	free(r->body);
	free(r->hdrs);
	free(r);
}

static int
curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_WRITE_ERROR:
		return -EFBIG; /* only our body cap fails writes */
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return -EPROTO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -ECONNRESET;
	}
}

/* Whether a failed transfer may have reached the server. */
static bool
maybe_sent(CURL *easy, CURLcode c)
{
	long sent = 0;

	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return false;
	default:
		break;
	}
	if (curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &sent) != CURLE_OK)
		return true;
	return sent > 0;
}

/* Removes, reports and frees one finished (or cancelled) transfer. */
static void
req_finish(struct http_req *r, CURLcode code, int rc_override)
{
	struct http *h = r->h;
	struct http_result res = {.req = r};

	curl_multi_remove_handle(h->multi, r->easy);
	req_unlink(r);
	if (rc_override != 0) {
		res.rc = rc_override;
		res.maybe_sent = true;
		res.error = "cancelled";
	} else if (r->local_rc != 0) {
		res.rc = r->local_rc;
		res.maybe_sent = false;
		res.error = r->local_err;
	} else if (code == CURLE_OK) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
		res.maybe_sent = true;
	} else {
		res.rc = curl_errno(code);
		res.maybe_sent = maybe_sent(r->easy, code);
		if (r->overflow)
			snprintf(r->errbuf, sizeof(r->errbuf),
				 "response larger than %zu bytes",
				 h->lim.max_body);
		else if (r->errbuf[0] == '\0')
			snprintf(r->errbuf, sizeof(r->errbuf), "%s",
				 curl_easy_strerror(code));
		res.error = r->errbuf;
	}
	res.body = r->body != NULL ? r->body : "";
	res.len = r->len;
	r->cb(r->arg, &res);
	req_free(r);
}

static void
drain(struct http *h)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct http_req *r = NULL;
		CURLcode code;

		if (m->msg != CURLMSG_DONE)
			continue;
		code = m->data.result; /* before the message goes away */
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &r);
		req_finish(r, code, 0);
	}
}

/* --- libuv -> libcurl ----------------------------------------------------- */

static void
on_poll(uv_poll_t *p, int status, int events)
{
	struct http_sock *s = p->data;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(s->h->multi, s->fd, flags, &running);
	drain(s->h);
}

static void
on_timer(uv_timer_t *t)
{
	struct http *h = t->data;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	drain(h);
}

/* --- libcurl -> libuv ----------------------------------------------------- */

static void
on_sock_closed(uv_handle_t *handle)
{
	free(handle->data);
}

static int
on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct http *h = userp;
	struct http_sock *s = sockp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			uv_poll_stop(&s->poll);
			curl_multi_assign(h->multi, fd, NULL);
			uv_close((uv_handle_t *)&s->poll, on_sock_closed);
		}
		return 0;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->h = h;
		if (uv_poll_init_socket(h->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		curl_multi_assign(h->multi, fd, s);
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, on_poll);
	return 0;
}

static int
on_timeout(CURLM *multi, long ms, void *userp)
{
	struct http *h = userp;

	(void)multi;
	if (ms < 0)
		uv_timer_stop(&h->timer);
	else /* 0 means now, but libcurl must not be called from here */
		uv_timer_start(&h->timer, on_timer, ms > 0 ? (uint64_t)ms : 1,
			       0);
	return 0;
}

/* --- the client ----------------------------------------------------------- */

struct http *
http_new(uv_loop_t *loop, const struct http_limits *lim)
{
	struct http *h = xcalloc(1, sizeof(*h));

	h->loop = loop;
	h->lim = *lim;
	if (h->lim.max_body == 0)
		h->lim.max_body = 16 << 20;
	if (h->lim.connect_timeout_ms <= 0)
		h->lim.connect_timeout_ms = 10000;
	if (h->lim.timeout_ms <= 0)
		h->lim.timeout_ms = 60000;
	h->ca_file = lim->ca_file ? xstrdup(lim->ca_file) : NULL;
	h->user_agent = lim->user_agent ? xstrdup(lim->user_agent) : NULL;
	h->multi = curl_multi_init();
	if (h->multi == NULL)
		fatalx("curl_multi_init failed");
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timeout);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	uv_timer_init(loop, &h->timer);
	h->timer.data = h;
	return h;
}

static void
on_timer_closed(uv_handle_t *handle)
{
	struct http *h = handle->data;

	free(h->ca_file);
	free(h->user_agent);
	free(h);
}

void
http_close(struct http *h)
{
	if (h == NULL || h->closing)
		return;
	h->closing = true;
	while (h->reqs != NULL)
		req_finish(h->reqs, CURLE_OK, -ECANCELED);
	/* May still report sockets to remove while connections close. */
	curl_multi_cleanup(h->multi);
	h->multi = NULL;
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->timer, on_timer_closed);
}

static bool
set_upload(struct http_req *r, const struct http_request *rq)
{
	curl_mimepart *part;

	r->mime = curl_mime_init(r->easy);
	for (const char *const *f = rq->form_fields; f && f[0]; f += 2) {
		part = curl_mime_addpart(r->mime);
		curl_mime_name(part, f[0]);
		curl_mime_data(part, f[1], CURL_ZERO_TERMINATED);
	}
	part = curl_mime_addpart(r->mime);
	curl_mime_name(part, "file");
	if (curl_mime_filedata(part, rq->upload_path) != CURLE_OK)
		return false;
	curl_mime_filename(part, rq->upload_name);
	curl_mime_type(part, "application/octet-stream");
	return curl_easy_setopt(r->easy, CURLOPT_MIMEPOST, r->mime) == CURLE_OK;
}

struct http_req *
http_start(struct http *h, const struct http_request *rq, http_cb cb, void *arg)
{
	struct http_req *r = xcalloc(1, sizeof(*r));
	CURL *e;

	r->h = h;
	r->cb = cb;
	r->arg = arg;
	r->easy = e = curl_easy_init();
	if (e == NULL)
		fatalx("curl_easy_init failed");
	for (const char *const *hd = rq->headers; hd && *hd; hd++)
		r->headers = curl_slist_append(r->headers, *hd);
	/* libcurl's default would wait a second for 100 Continue. */
	r->headers = curl_slist_append(r->headers, "Expect:");
	curl_easy_setopt(e, CURLOPT_URL, rq->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 h->lim.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
			 rq->timeout_ms > 0 ? rq->timeout_ms
					    : h->lim.timeout_ms);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (rq->fresh_connection)
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	if (h->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
	if (h->user_agent != NULL)
		curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
	if (rq->upload_path != NULL) {
		if (!set_upload(r, rq)) {
			/* Reported like any failed transfer, from the loop: the
			 * empty URL fails at once, and req_finish() says why.
			 */
			r->local_rc = -ENOENT;
			snprintf(r->local_err, sizeof(r->local_err),
				 "cannot read %.250s", rq->upload_path);
			curl_easy_setopt(e, CURLOPT_URL, "");
		}
	} else if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)rq->body_len);
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS,
				 rq->body ? rq->body : "");
	} else if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	r->next = h->reqs;
	if (h->reqs != NULL)
		h->reqs->prev = r;
	h->reqs = r;
	h->nreqs++;
	h->started++;
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
		fatalx("curl_multi_add_handle failed");
	return r;
}

void
http_cancel(struct http_req *r)
{
	req_finish(r, CURLE_OK, -ECANCELED);
}

size_t
http_inflight(const struct http *h)
{
	return h->nreqs;
}

unsigned long long
http_started(const struct http *h)
{
	return h->started;
}
