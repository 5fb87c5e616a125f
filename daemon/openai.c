/*
 * The OpenAI-compatible backend: RFT jobs on OpenAI's fine-tuning API or
 * on Azure OpenAI's (the "azure" dialect: the api-key header, the v1
 * paths or the dated ones with ?api-version=, an expiry on every upload,
 * and the rules of Azure's RFT checked before anything is paid: see
 * "Azure's rules" below).
 *
 * Money rules, in order:
 *  - A job is created only after its intent row is committed (the
 *    scheduler's part); the request carries the intent key in metadata.
 *  - A create whose outcome is unknown (timeout, reset, 5xx, a body cut
 *    short) is never sent again blindly: it is reported as unknown, and
 *    find() lists the provider's jobs by metadata[rftd_intent] first.
 *  - Only answers that prove nothing was created (a refused connection,
 *    408, 409, 429) are retried in place, with backoff and jitter, and
 *    Retry-After / retry-after-ms obeyed.
 *
 * Polling is batched: the scheduler asks for each job every
 * poll_interval; the polls asked for in one loop turn form a round,
 * whose statuses come from list pages when there are many jobs, and
 * whose events are read only for jobs whose object changed (or after a
 * while, to be safe).  A round's answers are delivered together in one
 * store transaction.
 *
 * The API key lives in one header string, never logged or stored.
 */
#include "backend.h"

#include "config.h"
#include "datasets.h"
#include "http.h"
#include "jsonutil.h"
#include "log.h"
#include "openai_parse.h"
#include "provider.h"
#include "store.h"
#include "util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TRIES	 6     /* attempts of one request, at most */
#define RETRY_AFTER_MAX	 120.0 /* seconds; longer: give up for now */
#define LIST_LIMIT	 100   /* jobs per list page */
#define LIST_MIN_JOBS	 8     /* from this many polls, read list pages */
#define LIST_SLACK_PAGES 3     /* pages beyond those our jobs fill */
#define LIST_PAGES_MAX	 50
#define FIND_PAGES_MAX	 10
#define OWNED_PAGES_MAX	 20
#define EVENTS_LIMIT	 100 /* events per page */
/* Per poll: a server always saying has_more cannot hold the daemon. */
#define EVENTS_PAGES_MAX 20
/* Poll intervals between two event reads of a job that did not change. */
#define EVENTS_REFRESH	  20
#define CHECKPOINTS_LIMIT 10
#define LOST_AFTER_MISSES 3 /* 404s in a row before a job counts lost */
#define KEY_MAX		  4096
#define SCRUB_PIECE	  8 /* key characters in a row that are masked */
/* Uploads that expire: the provider's limits, and how long a cached id
 * must still live to be used again (a day, or half its life if less). */
#define EXPIRY_MIN     3600.0
#define EXPIRY_MAX     2592000.0
#define EXPIRY_DEFAULT EXPIRY_MAX
#define EXPIRY_MARGIN  86400.0

struct oai {
	struct backend *be;
	const struct backend_env *env;
	struct http *http;
	bool azure;
	char *base_url, *api_version, *training_type;
	double file_expiry;   /* seconds an upload lives; 0: no expiry sent */
	char *auth;	      /* the header carrying the key: secret */
	char *org, *project;  /* headers, or NULL */
	double poll_interval; /* seconds */
	long timeout_ms;
	bool preflight;
	struct call *calls; /* in flight or waiting to retry */
	struct pollop *queued;
	uv_timer_t flush;
	bool flush_armed;
	struct upload *uploads; /* files being uploaded */
	bool closing;
};

/* --- secrets -------------------------------------------------------------- */

static void
secret_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/*
 * Masks the key wherever it shows in `text`, and any run of SCRUB_PIECE or
 * more of its characters: a server, or a proxy in between, may echo the
 * request in its error pages, whole or cut short, and errors are logged
 * and stored.  Runs on the whole text, before it is cut to fit a buffer.
 */
static void
scrub(const struct oai *o, char *text)
{
	const char *key = strchr(o->auth, ':');
	size_t len, piece;

	if (key == NULL)
		return;
	key += 2;
	if (strncmp(key, "Bearer ", 7) == 0)
		key += 7;
	len = strlen(key);
	if (len == 0)
		return;
	piece = len < SCRUB_PIECE ? len : SCRUB_PIECE;
	while (*text != '\0') {
		size_t best = 0;

		/* The longest run of the key that starts here. */
		for (size_t q = 0; q + piece <= len && best < len - q; q++) {
			size_t n = 0;

			while (q + n < len && text[n] == key[q + n])
				n++;
			if (n > best)
				best = n;
		}
		if (best >= piece) {
			size_t stars = best < 4 ? best : 4;

			memset(text, '*', stars);
			memmove(text + stars, text + best,
				strlen(text + best) + 1);
			text += stars;
		} else {
			text++;
		}
	}
}

/* The options of a [backend] of type openai. */
struct openai_config {
	char *dialect;	    /* "openai" or "azure" */
	char *base_url;	    /* up to and including /v1 (no '/' at end) */
	char *api_version;  /* azure dated paths: ?api-version= */
	char *api_key_file; /* where the key is: one of three */
	char *api_key_env;
	char *api_key_credential;  /* in $CREDENTIALS_DIRECTORY */
	char *organization;	   /* OpenAI-Organization header */
	char *project;		   /* OpenAI-Project header */
	char *training_type;	   /* azure: trainingType of new jobs */
	double file_expires_after; /* seconds; 0: none sent */
	char *ca_file;		   /* CA bundle for TLS; NULL: the system's */
	double poll_interval;	   /* seconds between polls of a job */
	double request_timeout;	   /* seconds a request may take */
	double connect_timeout;	   /* seconds to connect */
	bool preflight;		   /* validate graders before a sweep runs */
};

static const char *const dialects[] = {"openai", "azure", NULL};

#define OC(field) offsetof(struct openai_config, field)

static const struct config_option openai_options[] = {
    {"dialect", CONFIG_CHOICE, OC(dialect), 0, 0, true,
     "openai: Authorization: Bearer; azure: the api-key header", NULL,
     dialects},
    {"base_url", CONFIG_URL, OC(base_url), 0, 0, true,
     "the API up to the version: https://api.openai.com/v1, or "
     "https://NAME.openai.azure.com/openai/v1"},
    {"api_version", CONFIG_STRING, OC(api_version), 0, 0, true,
     "azure: sent as ?api-version=; the v1 paths (base_url .../openai/v1) "
     "take v1 or preview or none, the dated ones (.../openai) a date such "
     "as 2025-04-01-preview"},
    {"api_key_file", CONFIG_PATH, OC(api_key_file), 0, 0, true,
     "a file holding the API key (one of api_key_file, api_key_env, "
     "api_key_credential)"},
    {"api_key_env", CONFIG_STRING, OC(api_key_env), 0, 0, true,
     "an environment variable holding the API key"},
    {"api_key_credential", CONFIG_STRING, OC(api_key_credential), 0, 0, true,
     "a systemd credential (LoadCredential=) holding the API key"},
    {"organization", CONFIG_STRING, OC(organization), 0, 0, true,
     "sent as OpenAI-Organization"},
    {"project", CONFIG_STRING, OC(project), 0, 0, true,
     "sent as OpenAI-Project"},
    {"training_type", CONFIG_STRING, OC(training_type), 0, 0, true,
     "azure: trainingType of new jobs (e.g. globalstandard); unset: the "
     "provider's default"},
    {"file_expires_after", CONFIG_DURATION, OC(file_expires_after), 0,
     EXPIRY_MAX, true,
     "how long the provider keeps an uploaded dataset (expires_after), "
     "1h..720h; a cached upload is used again while it has a day (or half "
     "its life) left. azure: required, default 720h; openai: 0, none sent"},
    {"ca_file", CONFIG_PATH, OC(ca_file), 0, 0, false,
     "CA certificates to verify the API's TLS with; unset: the system's"},
    {"poll_interval", CONFIG_DOUBLE, OC(poll_interval), 0.05, 3600, true,
     "seconds between two polls of a live job", "30"},
    {"request_timeout", CONFIG_DOUBLE, OC(request_timeout), 1, 600, true,
     "seconds one request may take", "60"},
    {"connect_timeout", CONFIG_DOUBLE, OC(connect_timeout), 0.1, 120, false,
     "seconds to connect to the API", "10"},
    {"preflight", CONFIG_BOOL, OC(preflight), 0, 0, true,
     "validate every grader with the provider before a sweep is accepted",
     "yes"},
};

/* Reads the key (first line, trimmed) from one of the configured places. */
static char *
read_key(const struct config_backend *cfg, char *err, size_t errlen)
{
	const struct openai_config *oc = cfg->opts;
	char path[4096], buf[KEY_MAX + 2];
	const char *from = NULL;
	size_t n = 0;
	ssize_t r;
	int fd;

	if (oc->api_key_env != NULL) {
		const char *v = getenv(oc->api_key_env);

		if (v == NULL || v[0] == '\0') {
			snprintf(err, errlen,
				 "api_key_env: %s is not set in rftd's "
				 "environment",
				 oc->api_key_env);
			return NULL;
		}
		snprintf(buf, sizeof(buf), "%s", v);
		n = strlen(buf);
	} else {
		if (oc->api_key_credential != NULL) {
			const char *dir = getenv("CREDENTIALS_DIRECTORY");

			if (dir == NULL) {
				snprintf(err, errlen,
					 "api_key_credential: "
					 "$CREDENTIALS_DIRECTORY is not set "
					 "(LoadCredential= in the unit)");
				return NULL;
			}
			snprintf(path, sizeof(path), "%s/%s", dir,
				 oc->api_key_credential);
		} else {
			snprintf(path, sizeof(path), "%s", oc->api_key_file);
		}
		from = path;
		fd = open(from, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errlen,
				 "cannot read the API key from %.200s: %s",
				 from, strerror(errno));
			return NULL;
		}
		while (n < sizeof(buf) - 1 &&
		       (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
			n += (size_t)r;
		close(fd);
		buf[n] = '\0';
	}
	/* The first line, without surrounding blanks. */
	buf[strcspn(buf, "\r\n")] = '\0';
	{
		char *s = buf, *e;

		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		n = strlen(s);
		if (n == 0 || n > KEY_MAX) {
			snprintf(err, errlen, "the API key from %.200s is %s",
				 from ? from : oc->api_key_env,
				 n == 0 ? "empty" : "too long");
			explicit_bzero(buf, sizeof(buf));
			return NULL;
		}
		for (e = s; *e != '\0'; e++) {
			if ((unsigned char)*e < 0x21 || *e == 0x7f) {
				snprintf(
				    err, errlen,
				    "the API key from %.200s has blanks or "
				    "control characters",
				    from ? from : oc->api_key_env);
				explicit_bzero(buf, sizeof(buf));
				return NULL;
			}
		}
		memmove(buf, s, n + 1);
	}
	{
		char *key = xstrdup(buf);

		explicit_bzero(buf, sizeof(buf));
		return key;
	}
}

/* --- JSON ----------------------------------------------------------------- */

static const char *
jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool
jnum(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		return false;
	*out = v->valuedouble;
	return true;
}

/* A step number: a number in [0, 2^53], cut to an integer; a provider's
 * answer may hold anything, and a cast of a larger one is undefined. */
static bool
jstep(const cJSON *o, const char *key, int64_t *out)
{
	double v;

	if (!jnum(o, key, &v) || !(v >= 0 && v <= 9007199254740992.0))
		return false;
	*out = (int64_t)v;
	return true;
}

/* --- requests, with retries ----------------------------------------------- */

enum policy {
	SAFE,	/* reading, or harmless to repeat: retry what can be */
	CREATE, /* creates a paid job: retry only what proves nothing
		   was created */
};

/* An answer, ready for the caller.  Borrowed for the callback only. */
struct reply {
	int rc;		    /* 0: 2xx with a JSON body; else negative errno */
	long status;	    /* HTTP status, 0 when none came */
	cJSON *json;	    /* the body, when it parsed */
	bool unknown;	    /* the request may have had its effect */
	double retry_after; /* seconds the server asked for; 0: none */
	const char *code;   /* error.code, or NULL */
	const char *param;  /* error.param, or NULL */
	char error[600];    /* what went wrong, for a person */
};

typedef void (*call_cb)(struct oai *o, struct reply *r, void *arg);

struct call {
	struct oai *o;
	struct call *prev, *next;
	enum policy policy;
	int attempt;
	char *method, *url, *path; /* path: for logs, without the base */
	char *body;
	size_t body_len;
	char *upload_path, *upload_name;
	char expiry[24]; /* expires_after[seconds] of an upload, or "" */
	call_cb cb;
	void *arg;
	struct http_req *req;
	uv_timer_t timer; /* the wait before a retry */
	bool timer_init;
	uint64_t started_ns;
};

static void call_send(struct call *c);

static void
call_link(struct oai *o, struct call *c)
{
	c->next = o->calls;
	if (o->calls != NULL)
		o->calls->prev = c;
	o->calls = c;
}

static void
call_unlink(struct call *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->o->calls = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void
call_free_now(struct call *c)
{
	free(c->method);
	free(c->url);
	free(c->path);
	free(c->body);
	free(c->upload_path);
	free(c->upload_name);
	free(c);
}

static void
on_call_timer_closed(uv_handle_t *h)
{
	call_free_now(h->data);
}

static void
call_free(struct call *c)
{
	if (c->timer_init)
		uv_close((uv_handle_t *)&c->timer, on_call_timer_closed);
	else
		call_free_now(c);
}

static double
jitter(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)now_mono_ns();
	return (double)r / 4294967296.0;
}

/* Seconds the server asked us to wait: retry-after-ms, then Retry-After. */
static double
asked_delay(const struct http_req *req)
{
	char buf[128];
	double v;

	if (http_header(req, "retry-after-ms", buf, sizeof(buf)) != NULL &&
	    parse_double(buf, 0, 1e12, &v) == 0)
		return v / 1000.0;
	if (http_header(req, "retry-after", buf, sizeof(buf)) != NULL) {
		time_t t;

		if (parse_double(buf, 0, 1e12, &v) == 0)
			return v;
		t = curl_getdate(buf, NULL);
		if (t > 0)
			return fmax(0, (double)t - now_wall());
	}
	return 0;
}

/* Fills `out` (and r's code) from an error answer. */
static void
describe_error(struct reply *r, const char *body, char *out, size_t size)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
	const char *msg = jstr(e, "message"), *type = jstr(e, "type");
	const char *code = jstr(e, "code"), *param = jstr(e, "param");
	const char *what = code ? code : type;
	size_t n;

	r->code = code;
	r->param = param;
	n = (size_t)snprintf(out, size, "HTTP %ld", r->status);
	if (what != NULL || param != NULL)
		n += (size_t)snprintf(
		    out + n, size - n, " (%.64s%s%.64s)", what ? what : "",
		    what && param ? ", param " : "", param ? param : "");
	if (n < size)
		snprintf(out + n, size - n, ": %s",
			 msg	   ? msg
			 : body[0] ? body
				   : "(no body)");
}

/* Whether the API refused the key, or is not where base_url says. */
static bool
misconfigured(const struct reply *r)
{
	return r->rc != 0 &&
	       (r->status == 401 || r->status == 403 || r->status == 404);
}

/* Whether an error answer refuses the request for what it is. */
static bool
refused(const struct reply *r)
{
	return r->rc == -EREMOTEIO && r->status >= 400 && r->status < 500 &&
	       r->status != 408 && r->status != 409 && r->status != 429 &&
	       !misconfigured(r);
}

/* Whether an answer may be retried in place, and after how long. */
static bool
should_retry(struct call *c, const struct http_result *res, struct reply *r,
	     double *delay)
{
	char buf[16];
	const char *force;

	if (c->o->closing || c->attempt >= MAX_TRIES)
		return false;
	force = res->rc == 0
		    ? http_header(res->req, "x-should-retry", buf, sizeof(buf))
		    : NULL;
	if (res->rc != 0) {
		/* A transfer that failed after sending may have created. */
		if (c->policy == CREATE && res->maybe_sent)
			return false;
		if (res->rc == -EFBIG || res->rc == -EPROTO)
			return false;
	} else if (force != NULL && strcmp(force, "false") == 0) {
		return false;
	} else if (force != NULL && strcmp(force, "true") == 0) {
		if (c->policy == CREATE && res->status >= 500)
			return false;
	} else if (r->code != NULL &&
		   (strcmp(r->code, "daily_rate_limit_exceeded") == 0 ||
		    strcmp(r->code, "insufficient_quota") == 0)) {
		return false; /* waits for a person or a new day */
	} else if (res->status >= 500) {
		if (c->policy == CREATE)
			return false; /* it may have been created */
	} else if (res->status != 408 && res->status != 409 &&
		   res->status != 429) {
		return false;
	}
	if (r->retry_after > RETRY_AFTER_MAX)
		return false;
	if (r->retry_after > 0)
		*delay = r->retry_after;
	else
		*delay = fmin(0.5 * pow(2, c->attempt - 1), 8.0) *
			 (1 - 0.25 * jitter());
	return true;
}

static void
on_retry_timer(uv_timer_t *t)
{
	struct call *c = t->data;

	call_send(c);
}

static void
on_http(void *arg, const struct http_result *res)
{
	struct call *c = arg;
	struct oai *o = c->o;
	struct reply r = {.status = res->status};
	/* The error in full, scrubbed before it is cut to r.error: a key
	 * that starts in what is kept ends in here. */
	char full[sizeof(r.error) + KEY_MAX + 1];
	double delay = 0;

	c->req = NULL;
	full[0] = '\0';
	if (res->rc == 0) {
		r.json = cJSON_ParseWithLength(res->body, res->len);
		r.retry_after = asked_delay(res->req);
		if (res->status >= 200 && res->status < 300 && r.json != NULL) {
			r.rc = 0;
		} else if (res->status >= 200 && res->status < 300) {
			/* A success whose body is cut short: the effect may
			 * have happened. */
			r.rc = -EBADMSG;
			r.unknown = true;
			snprintf(r.error, sizeof(r.error),
				 "HTTP %ld with a body that is not JSON "
				 "(%zu bytes)",
				 res->status, res->len);
		} else {
			r.rc = res->status == 404 ? -ENOENT : -EREMOTEIO;
			r.unknown = res->status >= 500;
			describe_error(&r, res->body, full, sizeof(full));
		}
	} else {
		r.rc = res->rc;
		r.unknown = res->maybe_sent;
		snprintf(full, sizeof(full), "%s", res->error);
	}
	if (full[0] != '\0') {
		size_t n;

		scrub(o, full);
		n = strnlen(full, sizeof(r.error) - 1);
		memcpy(r.error, full, n);
		r.error[n] = '\0';
	}
	log_debug("backend %s: %s %s: %s (%.0f ms, try %d)", o->be->name,
		  c->method, c->path, r.rc == 0 ? "ok" : r.error,
		  (double)(now_mono_ns() - c->started_ns) / 1e6, c->attempt);
	if (r.rc != 0 && res->rc != -ECANCELED &&
	    (r.status == 0 || r.status >= 300) &&
	    should_retry(c, res, &r, &delay)) {
		log_info("backend %s: %s %s: %s; retry %d in %.1f s",
			 o->be->name, c->method, c->path, r.error, c->attempt,
			 delay);
		cJSON_Delete(r.json);
		if (!c->timer_init) {
			uv_timer_init(o->env->loop, &c->timer);
			c->timer.data = c;
			c->timer_init = true;
		}
		uv_timer_start(&c->timer, on_retry_timer,
			       (uint64_t)(delay * 1000), 0);
		return;
	}
	if (r.rc == -EBADMSG && c->policy == SAFE && !o->closing &&
	    c->attempt < MAX_TRIES) {
		/* A reading cut short is read again. */
		cJSON_Delete(r.json);
		call_send(c);
		return;
	}
	call_unlink(c);
	c->cb(o, &r, c->arg);
	cJSON_Delete(r.json);
	call_free(c);
}

static void
call_send(struct call *c)
{
	struct oai *o = c->o;
	const char *headers[6];
	size_t n = 0;
	struct http_request rq = {
	    .method = c->method,
	    .url = c->url,
	    .headers = headers,
	    .body = c->body,
	    .body_len = c->body_len,
	    .upload_path = c->upload_path,
	    .upload_name = c->upload_name,
	    .timeout_ms = o->timeout_ms,
	    .fresh_connection = c->policy == CREATE,
	};
	/* AzureCreateFileRequestMultiPart requires expires_after; OpenAI
	 * takes it too. */
	const char *form[] = {"purpose",
			      "fine-tune",
			      "expires_after[anchor]",
			      "created_at",
			      "expires_after[seconds]",
			      c->expiry,
			      NULL};

	headers[n++] = o->auth;
	if (c->body != NULL)
		headers[n++] = "Content-Type: application/json";
	if (o->org != NULL)
		headers[n++] = o->org;
	if (o->project != NULL)
		headers[n++] = o->project;
	headers[n] = NULL;
	if (c->upload_path != NULL)
		rq.form_fields = form;
	if (c->expiry[0] == '\0')
		form[2] = NULL; /* no expiry: the provider keeps the file */
	c->attempt++;
	c->started_ns = now_mono_ns();
	c->req = http_start(o->http, &rq, on_http, c);
}

/* The URL of `path` (which may carry a query) in this dialect. */
static char *
api_url(const struct oai *o, const char *path)
{
	if (o->api_version != NULL)
		return xasprintf("%s%s%capi-version=%s", o->base_url, path,
				 strchr(path, '?') ? '&' : '?', o->api_version);
	return xasprintf("%s%s", o->base_url, path);
}

/* Starts a request; `cb` runs exactly once (with -ECANCELED at close). */
static void
api(struct oai *o, const char *method, const char *path, cJSON *body,
    enum policy policy, call_cb cb, void *arg)
{
	struct call *c = xcalloc(1, sizeof(*c));

	c->o = o;
	c->policy = policy;
	c->method = xstrdup(method);
	c->path = xstrdup(path);
	c->url = api_url(o, path);
	c->cb = cb;
	c->arg = arg;
	if (body != NULL) {
		c->body = cJSON_PrintUnformatted(body);
		c->body_len = strlen(c->body);
	}
	call_link(o, c);
	if (o->closing) {
		struct reply r = {.rc = -ECANCELED};

		snprintf(r.error, sizeof(r.error), "rftd is shutting down");
		call_unlink(c);
		cb(o, &r, arg);
		call_free(c);
		return;
	}
	call_send(c);
}

static void
api_upload(struct oai *o, const char *file, const char *name, call_cb cb,
	   void *arg)
{
	struct call *c = xcalloc(1, sizeof(*c));

	c->o = o;
	c->policy = SAFE; /* a second upload wastes space, not money */
	c->method = xstrdup("POST");
	c->path = xstrdup("/files");
	c->url = api_url(o, "/files");
	c->upload_path = xstrdup(file);
	c->upload_name = xstrdup(name);
	if (o->file_expiry > 0)
		snprintf(c->expiry, sizeof(c->expiry), "%.0f", o->file_expiry);
	c->cb = cb;
	c->arg = arg;
	call_link(o, c);
	call_send(c);
}

/* --- job objects ---------------------------------------------------------- */

/* The provider's status in our state machine; JOB__COUNT: not known. */
static enum job_state
map_status(const char *status)
{
	static const struct {
		const char *name;
		enum job_state state;
	} map[] = {
	    {"validating_files", JOB_VALIDATING},
	    {"queued", JOB_QUEUED},
	    {"running", JOB_RUNNING},
	    {"pausing", JOB_PAUSING},
	    {"paused", JOB_PAUSED},
	    {"cancelling", JOB_CANCELLING},
	    {"succeeded", JOB_SUCCEEDED},
	    {"failed", JOB_FAILED},
	    {"cancelled", JOB_CANCELLED},
	};

	for (size_t i = 0; status != NULL && i < ARRAY_LEN(map); i++)
		if (strcmp(status, map[i].name) == 0)
			return map[i].state;
	return JOB__COUNT;
}

static bool
status_final(const char *status)
{
	enum job_state s = map_status(status);

	return s == JOB_SUCCEEDED || s == JOB_FAILED || s == JOB_CANCELLED;
}

/* "code: message" of a failed job; NULL for `{}` or all-null fields. */
static char *
job_error(const cJSON *job)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(job, "error");
	const char *code = jstr(e, "code"), *msg = jstr(e, "message");
	const char *param = jstr(e, "param");

	if (code == NULL && msg == NULL)
		return NULL;
	return xasprintf("%s%s%s%s%s%s", code ? code : "",
			 code && msg ? ": " : "", msg ? msg : "",
			 param ? " (param " : "", param ? param : "",
			 param ? ")" : "");
}

/*
 * Why the provider paused a job, from its new events (newest first): the
 * latest warning or error.  Azure pauses an RFT job by itself when its
 * cost reaches its limit, and says so in an event; a pause rftd asked for
 * comes with no warning.  NULL when none says.
 */
static char *
pause_reason(const cJSON *events)
{
	const cJSON *ev;

	cJSON_ArrayForEach(ev, events)
	{
		const char *level = jstr(ev, "level"),
			   *msg = jstr(ev, "message");

		if (msg != NULL && level != NULL &&
		    (strcmp(level, "warn") == 0 ||
		     strcmp(level, "warning") == 0 ||
		     strcmp(level, "error") == 0))
			return xstrdup(msg);
	}
	return NULL;
}

/* A fingerprint of a job object: it changes when anything in it does. */
static void
fingerprint(const cJSON *job, char out[17])
{
	char *text = json_canonical(job);
	uint64_t h = 1469598103934665603ull;

	for (const char *p = text; p && *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	free(text);
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* --- the poll cursor --------------------------------------------------------
 *
 * Stored by the scheduler with the job, so it survives restarts:
 *   e   the newest event id ingested
 *   f   the fingerprint of the job object last seen
 *   ts  seconds of training in the steps reported so far
 *   rs  wall time the running clock was last anchored (0: not running)
 *   ft  wall time events were last read
 *   m   404s in a row
 */
struct cursor {
	char e[128];
	char f[17];
	double ts, rs, ft;
	int m;
};

static void
cursor_parse(const char *text, struct cursor *c)
{
	cJSON *j = text ? cJSON_Parse(text) : NULL;
	const char *s;
	double v;

	memset(c, 0, sizeof(*c));
	if ((s = jstr(j, "e")) != NULL)
		snprintf(c->e, sizeof(c->e), "%s", s);
	if ((s = jstr(j, "f")) != NULL)
		snprintf(c->f, sizeof(c->f), "%s", s);
	if (jnum(j, "ts", &v))
		c->ts = v;
	if (jnum(j, "rs", &v))
		c->rs = v;
	if (jnum(j, "ft", &v))
		c->ft = v;
	if (jnum(j, "m", &v) && v >= 0 && v <= INT_MAX)
		c->m = (int)v;
	cJSON_Delete(j);
}

static char *
cursor_print(const struct cursor *c)
{
	cJSON *j = cJSON_CreateObject();
	char *text;

	if (c->e[0] != '\0')
		cJSON_AddStringToObject(j, "e", c->e);
	cJSON_AddStringToObject(j, "f", c->f);
	cJSON_AddNumberToObject(j, "ts", c->ts);
	cJSON_AddNumberToObject(j, "rs", c->rs);
	cJSON_AddNumberToObject(j, "ft", c->ft);
	cJSON_AddNumberToObject(j, "m", c->m);
	text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return text;
}

/* --- the provider's list of jobs ------------------------------------------ */

/*
 * A walk through the provider's jobs, newest first, a page at a time, at
 * most `max_pages` (a server that always says has_more cannot hold the
 * daemon).  `each` sees every job until it returns false; `done` ends the
 * walk, with 0 or the error, and frees what it must.
 */
struct walk {
	struct oai *o;
	const char *filter; /* more of the query, e.g. a metadata filter */
	int pages, max_pages;
	bool (*each)(struct walk *w, const cJSON *job);
	void (*done)(struct walk *w, int rc, const char *error);
	void *arg;
};

static void walk_page(struct walk *w, const char *after);

static void
on_walk(struct oai *o, struct reply *r, void *arg)
{
	struct walk *w = arg;
	const cJSON *job;
	const char *last = NULL;
	bool more = true;

	(void)o;
	w->pages++;
	if (r->rc != 0) {
		w->done(w, r->rc, r->error);
		return;
	}
	cJSON_ArrayForEach(job,
			   cJSON_GetObjectItemCaseSensitive(r->json, "data"))
	{
		if (jstr(job, "id") != NULL)
			last = jstr(job, "id");
		if (more)
			more = w->each(w, job);
	}
	if (more && last != NULL && w->pages < w->max_pages &&
	    cJSON_IsTrue(
		cJSON_GetObjectItemCaseSensitive(r->json, "has_more"))) {
		walk_page(w, last);
		return;
	}
	w->done(w, 0, NULL);
}

static void
walk_page(struct walk *w, const char *after)
{
	char path[600];

	snprintf(path, sizeof(path), "/fine_tuning/jobs?limit=%d%s%s%s",
		 LIST_LIMIT, w->filter ? w->filter : "", after ? "&after=" : "",
		 after ? after : "");
	api(w->o, "GET", path, NULL, SAFE, on_walk, w);
}

/* --- polls ---------------------------------------------------------------- */

struct round;

struct pollop {
	struct oai *o;
	struct round *round;
	struct pollop *next; /* in o->queued */
	char *remote_id;
	struct cursor cur;
	backend_poll_cb cb;
	void *arg;
	cJSON *job;    /* the job object */
	cJSON *events; /* new events, newest first */
	cJSON *ckpts;  /* checkpoints, newest first */
	int pages;
	int rc;
	bool lost;
	bool missed;   /* 404, not yet lost: only the cursor changes */
	char seen[17]; /* the fingerprint before this poll */
	char error[600];
};

struct round {
	struct oai *o;
	struct pollop **ops;
	size_t n;
	size_t waiting; /* ops not finished */
	size_t listed;	/* ops whose job the list showed */
	struct walk walk;
};

static void op_have_job(struct pollop *op);
static void op_deliver(struct pollop *op);

static void
round_deliver(struct round *rd)
{
	struct oai *o = rd->o;
	bool round = !o->closing;

	if (round)
		o->env->round(o->env->arg, true);
	for (size_t i = 0; i < rd->n; i++) {
		struct pollop *op = rd->ops[i];

		op_deliver(op);
		cJSON_Delete(op->job);
		cJSON_Delete(op->events);
		cJSON_Delete(op->ckpts);
		free(op->remote_id);
		free(op);
	}
	if (round)
		o->env->round(o->env->arg, false);
	free(rd->ops);
	free(rd);
}

static void
op_finish(struct pollop *op, int rc, const char *error)
{
	struct round *rd = op->round;

	op->rc = rc;
	if (error != NULL)
		snprintf(op->error, sizeof(op->error), "%s", error);
	if (--rd->waiting == 0)
		round_deliver(rd);
}

static void
on_checkpoints(struct oai *o, struct reply *r, void *arg)
{
	struct pollop *op = arg;

	(void)o;
	if (r->rc == 0) {
		op->ckpts =
		    cJSON_DetachItemFromObjectCaseSensitive(r->json, "data");
	} else if (r->rc != -ECANCELED) {
		log_warnx("backend %s: checkpoints of %s: %s", o->be->name,
			  op->remote_id, r->error);
	}
	op_finish(op, r->rc == -ECANCELED ? r->rc : 0, r->error);
}

/* Whether new events show a new evaluation (so a new checkpoint). */
static bool
events_evaluated(const cJSON *events)
{
	const cJSON *ev;

	cJSON_ArrayForEach(ev, events)
	{
		const cJSON *data =
		    cJSON_GetObjectItemCaseSensitive(ev, "data");
		const cJSON *scores =
		    cJSON_GetObjectItemCaseSensitive(data, "scores");
		double v;

		if (jnum(scores, "valid_reward_mean", &v) ||
		    jnum(data, "full_valid_mean_reward", &v))
			return true;
	}
	return false;
}

static void
op_after_events(struct pollop *op)
{
	const char *status = jstr(op->job, "status");
	char path[300];

	if (events_evaluated(op->events) || status_final(status) ||
	    map_status(status) == JOB_PAUSED) {
		snprintf(path, sizeof(path),
			 "/fine_tuning/jobs/%s/checkpoints?limit=%d",
			 op->remote_id, CHECKPOINTS_LIMIT);
		api(op->o, "GET", path, NULL, SAFE, on_checkpoints, op);
		return;
	}
	op_finish(op, 0, NULL);
}

static void events_page(struct pollop *op, const char *after);

static void
on_events(struct oai *o, struct reply *r, void *arg)
{
	struct pollop *op = arg;
	const cJSON *data, *more, *ev;
	const char *last = NULL;
	bool reached = false;

	if (r->rc != 0) {
		if (r->rc != -ECANCELED)
			log_warnx("backend %s: events of %s: %s", o->be->name,
				  op->remote_id, r->error);
		/* The status still counts; events come next poll. */
		cJSON_Delete(op->events);
		op->events = NULL;
		memcpy(op->cur.f, op->seen, sizeof(op->cur.f));
		op_finish(op, r->rc == -ECANCELED ? r->rc : 0, r->error);
		return;
	}
	data = cJSON_GetObjectItemCaseSensitive(r->json, "data");
	more = cJSON_GetObjectItemCaseSensitive(r->json, "has_more");
	cJSON_ArrayForEach(ev, data)
	{
		const char *id = jstr(ev, "id");

		if (id == NULL)
			continue;
		if (op->cur.e[0] != '\0' && strcmp(id, op->cur.e) == 0) {
			reached = true;
			break;
		}
		cJSON_AddItemToArray(op->events, cJSON_Duplicate(ev, true));
		last = id;
	}
	op->pages++;
	if (!reached && cJSON_IsTrue(more) && last != NULL) {
		if (op->pages < EVENTS_PAGES_MAX) {
			char after[128];

			snprintf(after, sizeof(after), "%s", last);
			events_page(op, after);
			return;
		}
		log_warnx("backend %s: %s: more than %d pages of new events; "
			  "the older ones are skipped",
			  o->be->name, op->remote_id, EVENTS_PAGES_MAX);
	}
	op_after_events(op);
}

static void
events_page(struct pollop *op, const char *after)
{
	char path[400];

	snprintf(path, sizeof(path), "/fine_tuning/jobs/%s/events?limit=%d%s%s",
		 op->remote_id, EVENTS_LIMIT, after ? "&after=" : "",
		 after ? after : "");
	api(op->o, "GET", path, NULL, SAFE, on_events, op);
}

/* The job object is here: read events if it changed, then checkpoints. */
static void
op_have_job(struct pollop *op)
{
	char f[17];
	double now = now_wall();
	bool stale = now - op->cur.ft > EVENTS_REFRESH * op->o->poll_interval;

	fingerprint(op->job, f);
	op->cur.m = 0;
	if (strcmp(f, op->cur.f) == 0 && !stale) {
		op_finish(op, 0, NULL);
		return;
	}
	memcpy(op->seen, op->cur.f, sizeof(op->seen));
	snprintf(op->cur.f, sizeof(op->cur.f), "%s", f);
	op->cur.ft = now;
	op->events = cJSON_CreateArray();
	events_page(op, NULL);
}

static void
on_job(struct oai *o, struct reply *r, void *arg)
{
	struct pollop *op = arg;

	(void)o;
	if (r->rc == 0) {
		op->job = r->json;
		r->json = NULL;
		op_have_job(op);
		return;
	}
	if (r->rc == -ENOENT) {
		/* Counted in the cursor: lost only after several in a row. */
		op->lost = ++op->cur.m >= LOST_AFTER_MISSES;
		op->missed = !op->lost;
		log_warnx("backend %s: job %s: %s (%d of %d before it counts "
			  "as lost)",
			  o->be->name, op->remote_id, r->error, op->cur.m,
			  LOST_AFTER_MISSES);
		op_finish(op, op->lost ? -ENOENT : 0, r->error);
		return;
	}
	op_finish(op, r->rc, r->error);
}

static void
op_get(struct pollop *op)
{
	char path[300];

	snprintf(path, sizeof(path), "/fine_tuning/jobs/%s", op->remote_id);
	api(op->o, "GET", path, NULL, SAFE, on_job, op);
}

static int
op_cmp(const void *a, const void *b)
{
	const struct pollop *x = *(struct pollop *const *)a;
	const struct pollop *y = *(struct pollop *const *)b;

	return strcmp(x->remote_id, y->remote_id);
}

static struct pollop *
round_lookup(struct round *rd, const char *id)
{
	struct pollop key = {.remote_id = (char *)id}, *kp = &key, **hit;

	hit = bsearch(&kp, rd->ops, rd->n, sizeof(*rd->ops), op_cmp);
	return hit ? *hit : NULL;
}

/* Jobs the list did not show are asked for one by one. */
static void
round_rest(struct round *rd)
{
	size_t n = rd->n;

	/* Counted down by each op; hold one so none delivers early. */
	rd->waiting++;
	for (size_t i = 0; i < n; i++)
		if (rd->ops[i]->job == NULL && rd->ops[i]->rc == 0)
			op_get(rd->ops[i]);
	for (size_t i = 0; i < n; i++)
		if (rd->ops[i]->job != NULL)
			op_have_job(rd->ops[i]);
	if (--rd->waiting == 0)
		round_deliver(rd);
}

static bool
list_each(struct walk *w, const cJSON *job)
{
	struct round *rd = w->arg;
	const char *id = jstr(job, "id");
	struct pollop *op = id ? round_lookup(rd, id) : NULL;

	if (op != NULL && op->job == NULL) {
		op->job = cJSON_Duplicate(job, true);
		rd->listed++;
	}
	return rd->listed < rd->n;
}

static void
list_done(struct walk *w, int rc, const char *error)
{
	struct round *rd = w->arg;

	if (rc == -ECANCELED) {
		/* Shutting down: every poll of the round ends. */
		for (size_t i = 0; i < rd->n; i++)
			rd->ops[i]->rc = -ECANCELED;
		round_deliver(rd);
		return;
	}
	if (rc != 0)
		log_warnx("backend %s: listing jobs: %s", rd->o->be->name,
			  error);
	round_rest(rd);
}

/* The polls asked for in one loop turn, as one round. */
static void
on_flush(uv_timer_t *t)
{
	struct oai *o = t->data;
	struct round *rd = xcalloc(1, sizeof(*rd));
	struct pollop *op;

	o->flush_armed = false;
	rd->o = o;
	for (op = o->queued; op != NULL; op = op->next)
		rd->n++;
	rd->ops = xcalloc(rd->n, sizeof(*rd->ops));
	rd->n = 0;
	for (op = o->queued; op != NULL; op = op->next) {
		op->round = rd;
		rd->ops[rd->n++] = op;
	}
	o->queued = NULL;
	rd->waiting = rd->n;
	if (rd->n == 0) {
		free(rd->ops);
		free(rd);
		return;
	}
	qsort(rd->ops, rd->n, sizeof(*rd->ops), op_cmp);
	if (rd->n >= LIST_MIN_JOBS) {
		/* Twice the pages our jobs fill: ended jobs lie between. */
		int pages = 2 * (int)((rd->n + LIST_LIMIT - 1) / LIST_LIMIT) +
			    LIST_SLACK_PAGES;

		rd->walk = (struct walk){
		    .o = o,
		    .max_pages =
			pages < LIST_PAGES_MAX ? pages : LIST_PAGES_MAX,
		    .each = list_each,
		    .done = list_done,
		    .arg = rd,
		};
		walk_page(&rd->walk, NULL);
		return;
	}
	/* A few jobs: one by one (each op counts itself down). */
	for (size_t i = 0, n = rd->n; i < n; i++)
		op_get(rd->ops[i]);
}

static void
oai_poll(struct backend *be, const char *remote_id, const char *cursor,
	 backend_poll_cb cb, void *arg)
{
	struct oai *o = be->priv;
	struct pollop *op = xcalloc(1, sizeof(*op));

	op->o = o;
	op->remote_id = xstrdup(remote_id);
	op->cb = cb;
	op->arg = arg;
	cursor_parse(cursor, &op->cur);
	if (o->closing) {
		cb(arg, -ECANCELED, NULL, "rftd is shutting down");
		free(op->remote_id);
		free(op);
		return;
	}
	op->next = o->queued;
	o->queued = op;
	if (!o->flush_armed) {
		o->flush_armed = true;
		uv_timer_start(&o->flush, on_flush, 0, 0);
	}
}

/* --- turning a poll's answers into the backend contract ------------------- */

struct metric_list {
	struct backend_metric *items;
	char **names; /* owned names, parallel to items */
	size_t n, cap;
};

static void
metric_add(struct metric_list *l, int64_t step, const char *name, double v,
	   bool owned)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
		l->names = xrealloc(l->names, l->cap * sizeof(*l->names));
	}
	l->items[l->n] = (struct backend_metric){step, name, v};
	l->names[l->n++] = owned ? (char *)name : NULL;
}

/*
 * The spec's key of a grader the provider names by its "name": the key of
 * a multi grader's sub-grader, or the key of a single grader, which the
 * job's metadata carries (rftd_grader).  Per-grader metrics go by keys,
 * as on every backend.
 */
static const char *
grader_key(const cJSON *job, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(job, "method");
	const cJSON *rft = cJSON_GetObjectItemCaseSensitive(m, "reinforcement");
	const cJSON *grader = cJSON_GetObjectItemCaseSensitive(rft, "grader");
	const cJSON *subs = cJSON_GetObjectItemCaseSensitive(grader, "graders");
	const cJSON *sub;
	const char *own = jstr(grader, "name");
	const char *key = jstr(
	    cJSON_GetObjectItemCaseSensitive(job, "metadata"), "rftd_grader");

	if (!cJSON_IsObject(subs))
		subs = NULL;
	cJSON_ArrayForEach(sub, subs)
	{
		const char *n = jstr(sub, "name");

		if (n != NULL && sub->string != NULL && strcmp(n, name) == 0)
			return sub->string;
	}
	if (subs == NULL && own != NULL && key != NULL &&
	    strcmp(own, name) == 0)
		return key;
	return name;
}

/* The metrics of one RFT metrics event, canonical names and raw ones. */
static void
event_metrics(struct metric_list *l, const cJSON *data, const cJSON *job)
{
	const cJSON *scores = cJSON_GetObjectItemCaseSensitive(data, "scores");
	const cJSON *g, *item;
	int64_t step;
	double v;

	if (!jstep(data, "step", &step))
		return;
	if (jnum(scores, "train_reward_mean", &v) ||
	    jnum(data, "train_mean_reward", &v))
		metric_add(l, step, "train_reward_mean", v, false);
	if (jnum(scores, "valid_reward_mean", &v) ||
	    jnum(data, "full_valid_mean_reward", &v))
		metric_add(l, step, "valid_reward_mean", v, false);
	cJSON_ArrayForEach(g,
			   cJSON_GetObjectItemCaseSensitive(scores, "graders"))
	{
		const char *name = jstr(g, "name");

		if (name == NULL)
			continue;
		name = grader_key(job, name);
		if (jnum(g, "train_reward_mean", &v))
			metric_add(
			    l, step,
			    xasprintf("grader.%.64s.train_reward_mean", name),
			    v, true);
		if (jnum(g, "valid_reward_mean", &v))
			metric_add(
			    l, step,
			    xasprintf("grader.%.64s.valid_reward_mean", name),
			    v, true);
	}
	/* The provider's own flat figures, under their own names. */
	cJSON_ArrayForEach(item, data)
	{
		if (cJSON_IsNumber(item) && item->string != NULL &&
		    strcmp(item->string, "step") != 0 &&
		    strcmp(item->string, "total_steps") != 0 &&
		    strlen(item->string) < 64)
			metric_add(l, step, item->string, item->valuedouble,
				   false);
	}
	{
		const cJSON *timing =
		    cJSON_GetObjectItemCaseSensitive(data, "timing");
		const cJSON *st =
		    cJSON_GetObjectItemCaseSensitive(timing, "step");

		if (jnum(st, "full_iteration", &v))
			metric_add(l, step, "step_seconds", v, false);
	}
}

static void
op_deliver(struct pollop *op)
{
	struct backend_poll p = {.billed_seconds = -1, .cost_usd = -1};
	struct metric_list ml = {0};
	struct backend_event *evs = NULL;
	struct backend_checkpoint *cks = NULL;
	char **texts = NULL; /* printed event data and checkpoint metrics */
	size_t ntexts = 0, nev = 0, nck = 0;
	const char *status;
	char *error, *cursor;
	double now = now_wall();

	if (op->lost) {
		op->cb(op->arg, -ENOENT, NULL, op->error);
		return;
	}
	if (op->missed) {
		cursor = cursor_print(&op->cur);
		p.state = JOB__COUNT; /* unchanged */
		p.cursor = cursor;
		op->cb(op->arg, 0, &p, NULL);
		free(cursor);
		return;
	}
	if (op->rc != 0 || op->job == NULL) {
		op->cb(op->arg, op->rc ? op->rc : -EIO, NULL, op->error);
		return;
	}
	status = jstr(op->job, "status");
	p.state = map_status(status);
	p.provider_status = status;
	p.fine_tuned_model = jstr(op->job, "fine_tuned_model");
	error = job_error(op->job);
	if (p.state == JOB_PAUSED && error == NULL)
		error = pause_reason(op->events);
	/* A failure's reason, or the provider's word on a pause it made. */
	p.error = p.state == JOB_FAILED || p.state == JOB_PAUSED ? error : NULL;
	/* Events, oldest first. */
	{
		int n = cJSON_GetArraySize(op->events);

		evs = xcalloc((size_t)n + 1, sizeof(*evs));
		texts = xcalloc(2 * (size_t)n + CHECKPOINTS_LIMIT * 2 + 2,
				sizeof(*texts));
		for (int i = n - 1; i >= 0; i--) {
			const cJSON *ev = cJSON_GetArrayItem(op->events, i);
			const cJSON *data =
			    cJSON_GetObjectItemCaseSensitive(ev, "data");
			const char *type = jstr(ev, "type");
			struct backend_event *e = &evs[nev++];
			double t = 0, secs;

			jnum(ev, "created_at", &t);
			e->remote_id = jstr(ev, "id");
			e->created_at = t;
			e->level = jstr(ev, "level");
			e->type = type;
			e->message = jstr(ev, "message");
			if (data != NULL && !cJSON_IsNull(data)) {
				texts[ntexts] = cJSON_PrintUnformatted(data);
				e->data = texts[ntexts++];
			}
			if (type == NULL || strcmp(type, "metrics") != 0)
				continue;
			event_metrics(&ml, data, op->job);
			/* Billed time: the steps' own seconds when given. */
			{
				const cJSON *timing =
				    cJSON_GetObjectItemCaseSensitive(data,
								     "timing");
				const cJSON *st =
				    cJSON_GetObjectItemCaseSensitive(timing,
								     "step");

				if (jnum(st, "full_iteration", &secs) &&
				    secs >= 0)
					op->cur.ts += secs;
				else if (op->cur.rs > 0)
					op->cur.ts += fmax(0, now - op->cur.rs);
				op->cur.rs = now;
			}
		}
		if (n > 0)
			snprintf(op->cur.e, sizeof(op->cur.e), "%s",
				 jstr(cJSON_GetArrayItem(op->events, 0), "id")
				     ?: op->cur.e);
	}
	/* The running clock: anchored while running, stopped otherwise. */
	if (p.state == JOB_RUNNING && op->cur.rs == 0)
		op->cur.rs = now;
	else if (p.state != JOB_RUNNING && op->cur.rs > 0) {
		/* The time since the last step was spent, then it stopped. */
		if (!status_final(status) || p.state == JOB_CANCELLED)
			op->cur.ts += fmax(0, now - op->cur.rs);
		op->cur.rs = 0;
	}
	p.billed_seconds =
	    op->cur.ts + (op->cur.rs > 0 ? fmax(0, now - op->cur.rs) : 0);
	/* Checkpoints. */
	{
		int n = cJSON_GetArraySize(op->ckpts);

		cks = xcalloc((size_t)n + 1, sizeof(*cks));
		for (int i = 0; i < n; i++) {
			const cJSON *k = cJSON_GetArrayItem(op->ckpts, i);
			const cJSON *m =
			    cJSON_GetObjectItemCaseSensitive(k, "metrics");
			int64_t step;

			if (!jstep(k, "step_number", &step))
				continue;
			texts[ntexts] =
			    m ? cJSON_PrintUnformatted(m) : xstrdup("{}");
			cks[nck++] = (struct backend_checkpoint){
			    .step = step,
			    .remote_id = jstr(k, "id"),
			    .model = jstr(k, "fine_tuned_model_checkpoint"),
			    .metrics = texts[ntexts++],
			};
		}
	}
	cursor = cursor_print(&op->cur);
	p.metrics = ml.items;
	p.nmetrics = ml.n;
	p.events = evs;
	p.nevents = nev;
	p.checkpoints = cks;
	p.ncheckpoints = nck;
	p.cursor = cursor;
	op->cb(op->arg, 0, &p, NULL);
	for (size_t i = 0; i < ml.n; i++)
		free(ml.names[i]);
	free(ml.items);
	free(ml.names);
	for (size_t i = 0; i < ntexts; i++)
		free(texts[i]);
	free(texts);
	free(evs);
	free(cks);
	free(cursor);
	free(error);
}

/* The same reading without the network (openai_parse.h). */
void
openai_read_answers(const struct openai_answers *a, backend_poll_cb cb,
		    void *arg, char *err, size_t errlen)
{
	struct pollop op = {.cb = cb, .arg = arg};
	struct reply r = {.status = a->status};
	cJSON *page = NULL;
	const cJSON *ev;
	char *body;

	cursor_parse(a->cursor, &op.cur);
	if (a->job != NULL)
		op.job = cJSON_ParseWithLength(a->job, a->job_len);
	if (op.job != NULL)
		fingerprint(op.job, op.seen);
	/* New events, as on_events() keeps them. */
	op.events = cJSON_CreateArray();
	if (a->events != NULL)
		page = cJSON_ParseWithLength(a->events, a->events_len);
	cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(page, "data"))
	{
		const char *id = jstr(ev, "id");

		if (id == NULL)
			continue;
		if (op.cur.e[0] != '\0' && strcmp(id, op.cur.e) == 0)
			break;
		cJSON_AddItemToArray(op.events, cJSON_Duplicate(ev, true));
	}
	cJSON_Delete(page);
	(void)events_evaluated(op.events);
	if (a->checkpoints != NULL) {
		page =
		    cJSON_ParseWithLength(a->checkpoints, a->checkpoints_len);
		op.ckpts =
		    cJSON_DetachItemFromObjectCaseSensitive(page, "data");
		cJSON_Delete(page);
	}
	op_deliver(&op);
	cJSON_Delete(op.job);
	cJSON_Delete(op.events);
	cJSON_Delete(op.ckpts);
	/* An error answer, as on_http() reads it. */
	body = xmalloc(a->error_len + 1);
	if (a->error_len > 0)
		memcpy(body, a->error, a->error_len);
	body[a->error_len] = '\0';
	r.json = cJSON_Parse(body);
	describe_error(&r, body, err, errlen);
	cJSON_Delete(r.json);
	free(body);
}

/* --- holds ---------------------------------------------------------------- */

/* When a daily quota is likely to reset: the next UTC midnight. */
static double
next_day(double now)
{
	return now - fmod(now, 86400) + 86400;
}

/* Whether the answer says no job can be created for now. */
static bool
must_hold(const struct reply *r)
{
	/* A 429 here outlasted the retries, or asked for a long wait. */
	return (r->rc != 0 && r->status == 429) || misconfigured(r);
}

/*
 * Nothing was created, and nothing will be until the quota is back (or
 * the key or base_url is fixed, and rftd reloaded): the backend's
 * submissions wait.
 */
static void
hold(struct oai *o, const struct reply *r)
{
	double now = now_wall();
	bool daily = r->code != NULL &&
		     strcmp(r->code, "daily_rate_limit_exceeded") == 0;

	bool quota =
	    r->code != NULL && strcmp(r->code, "insufficient_quota") == 0;

	o->be->hold_until = r->retry_after > 0 ? now + r->retry_after
			    : daily	       ? next_day(now)
			    : quota	       ? now + 3600
			    : misconfigured(r) ? now + 300
					       : now + 60;
	snprintf(o->be->hold_reason, sizeof(o->be->hold_reason), "%s%.200s",
		 misconfigured(r) ? "check the key and base_url: " : "",
		 r->error);
	log_warnx("backend %s: submissions held for %.0f s: %s", o->be->name,
		  o->be->hold_until - now, o->be->hold_reason);
}

/* --- files ---------------------------------------------------------------- */

typedef void (*file_cb)(struct oai *o, int rc, const char *file_id,
			const char *error, void *arg);

struct waiter {
	file_cb cb;
	void *arg;
	struct waiter *next;
};

/* One upload under way; later askers for the same bytes wait on it. */
struct upload {
	struct upload *next;
	char sha256[65];
	char *path;
	long long bytes;
	struct waiter *waiters;
};

/* SHA-256 (hex) and size of a file. */
static int
hash_file(const char *path, char out[65], long long *bytes, char *err,
	  size_t errlen)
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	FILE *f = fopen(path, "rb");
	size_t n;

	*bytes = 0;
	if (f == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path,
			 strerror(errno));
		return -EINVAL;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		fatalx("libcrypto: cannot start SHA-256");
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		EVP_DigestUpdate(ctx, buf, n);
		*bytes += (long long)n;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read %s: %s", path,
			 strerror(errno));
		fclose(f);
		EVP_MD_CTX_free(ctx);
		return -EINVAL;
	}
	fclose(f);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static void
on_uploaded(struct oai *o, struct reply *r, void *arg)
{
	struct upload *u = arg, **pp;
	const char *id = r->rc == 0 ? jstr(r->json, "id") : NULL;
	int rc = r->rc;
	char error[700];

	for (pp = &o->uploads; *pp != NULL; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	if (rc == 0 && id == NULL) {
		rc = -EBADMSG;
		snprintf(r->error, sizeof(r->error),
			 "the upload's answer has no file id");
	}
	if (rc == 0) {
		double now = now_wall(), expires = 0;

		/* The provider's word on the expiry, else what was asked. */
		if (!jnum(r->json, "expires_at", &expires) &&
		    o->file_expiry > 0)
			expires = now + o->file_expiry;
		store_upload_add(o->env->store, o->be->name, u->sha256, id,
				 u->path, u->bytes, "fine-tune", now, expires);
		log_info("backend %s: uploaded %s as %s (%lld bytes%s)",
			 o->be->name, u->path, id, u->bytes,
			 expires > 0 ? ", kept by the provider for a while"
				     : "");
	} else {
		snprintf(error, sizeof(error), "uploading %s: %s", u->path,
			 r->error);
		if (must_hold(r)) {
			hold(o, r);
			rc = -EDQUOT;
		}
		/* A refusal is final; anything else may pass next time. */
		rc = rc == -ECANCELED || rc == -EDQUOT ? rc
		     : refused(r)		       ? -EINVAL
						       : -EAGAIN;
	}
	while (u->waiters != NULL) {
		struct waiter *w = u->waiters;

		u->waiters = w->next;
		w->cb(o, rc, id, rc ? error : NULL, w->arg);
		free(w);
	}
	free(u->path);
	free(u);
}

/*
 * The provider's id of a dataset: a file id as is, a path uploaded once
 * (and again when the upload expires before a job could be sure of it).
 */
static void
ensure_file(struct oai *o, const char *ref, file_cb cb, void *arg)
{
	char sha[65], err[600], id[256];
	double until = now_wall();
	struct waiter *w;
	struct upload *u;
	long long bytes;
	const char *base;

	if (ref == NULL || strncmp(ref, "file-", 5) == 0) {
		cb(o, 0, ref, NULL, arg);
		return;
	}
	/* Hashed on the loop: datasets are at most a few hundred MB. */
	if (hash_file(ref, sha, &bytes, err, sizeof(err)) != 0) {
		cb(o, -EINVAL, NULL, err, arg);
		return;
	}
	if (o->file_expiry > 0)
		until += fmin(EXPIRY_MARGIN, o->file_expiry / 2);
	if (store_upload_get(o->env->store, o->be->name, sha, "fine-tune",
			     until, id, sizeof(id)) == 0) {
		cb(o, 0, id, NULL, arg);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->cb = cb;
	w->arg = arg;
	for (u = o->uploads; u != NULL; u = u->next) {
		if (strcmp(u->sha256, sha) == 0) {
			w->next = u->waiters;
			u->waiters = w;
			return;
		}
	}
	u = xcalloc(1, sizeof(*u));
	memcpy(u->sha256, sha, sizeof(sha));
	u->path = xstrdup(ref);
	u->bytes = bytes;
	u->waiters = w;
	u->next = o->uploads;
	o->uploads = u;
	base = strrchr(ref, '/') ? strrchr(ref, '/') + 1 : ref;
	api_upload(o, ref, base, on_uploaded, u);
}

/* --- submission ----------------------------------------------------------- */

struct submit {
	cJSON *body;
	char *training, *validation; /* as in the spec */
	char *intent;
	backend_submit_cb cb;
	void *arg;
};

static void
submit_free(struct submit *sb)
{
	cJSON_Delete(sb->body);
	free(sb->training);
	free(sb->validation);
	free(sb->intent);
	free(sb);
}

/* A suffix for the fine-tuned model's name: the sweep's name and trial. */
static void
model_suffix(char *out, size_t len, const struct backend_job *job)
{
	char name[33];
	size_t n = 0;

	for (const char *p = job->sweep_name; p && *p && n < sizeof(name) - 1;
	     p++)
		name[n++] =
		    isalnum((unsigned char)*p) ? (char)tolower(*p) : '-';
	name[n] = '\0';
	snprintf(out, len, "%s%st%lld", name, n ? "-" : "",
		 (long long)job->trial_id);
}

static cJSON *
create_body(const struct oai *o, const struct backend_job *job)
{
	cJSON *b = cJSON_CreateObject(), *meta, *method, *rft, *hps;
	const cJSON *h;
	char num[32], suffix[64];

	cJSON_AddStringToObject(b, "model", job->model);
	model_suffix(suffix, sizeof(suffix), job);
	cJSON_AddStringToObject(b, "suffix", suffix);
	if (job->has_seed)
		cJSON_AddNumberToObject(b, "seed", (double)job->seed);
	meta = cJSON_AddObjectToObject(b, "metadata");
	cJSON_AddStringToObject(meta, "rftd_intent", job->intent_key);
	snprintf(num, sizeof(num), "%lld", (long long)job->sweep_id);
	cJSON_AddStringToObject(meta, "rftd_sweep", num);
	snprintf(num, sizeof(num), "%lld", (long long)job->trial_id);
	cJSON_AddStringToObject(meta, "rftd_trial", num);
	if (job->grader_name != NULL && strlen(job->grader_name) <= 512)
		cJSON_AddStringToObject(meta, "rftd_grader", job->grader_name);
	method = cJSON_AddObjectToObject(b, "method");
	cJSON_AddStringToObject(method, "type", "reinforcement");
	rft = cJSON_AddObjectToObject(method, "reinforcement");
	cJSON_AddItemToObject(rft, "grader",
			      cJSON_Duplicate(job->grader, true));
	hps = cJSON_AddObjectToObject(rft, "hyperparameters");
	cJSON_ArrayForEach(h, job->hyperparameters)
	    cJSON_AddItemToObject(hps, h->string, cJSON_Duplicate(h, true));
	/* The spec's response_format: both dialects take it in this form. */
	if (job->response_format != NULL)
		cJSON_AddItemToObject(
		    rft, "response_format",
		    cJSON_Duplicate(job->response_format, true));
	if (o->azure && o->training_type != NULL)
		cJSON_AddStringToObject(b, "trainingType", o->training_type);
	return b;
}

static void
on_created(struct oai *o, struct reply *r, void *arg)
{
	struct submit *sb = arg;
	const char *id = r->rc == 0 ? jstr(r->json, "id") : NULL;

	if (r->rc == 0 && id != NULL) {
		sb->cb(sb->arg, 0, id, NULL);
	} else if (r->rc == 0) {
		sb->cb(sb->arg, -EAGAIN, NULL,
		       "the create answer has no job id; looking it up");
	} else if (must_hold(r)) {
		hold(o, r);
		sb->cb(sb->arg, -EDQUOT, NULL, r->error);
	} else if (refused(r) && r->param != NULL &&
		   (strcmp(r->param, "training_file") == 0 ||
		    strcmp(r->param, "validation_file") == 0)) {
		/* A dataset the provider no longer has: uploaded afresh by
		 * the trial's next attempt. */
		const char *file = jstr(sb->body, r->param);

		if (file != NULL)
			store_upload_forget(o->env->store, o->be->name, file);
		sb->cb(sb->arg, -EIO, NULL, r->error);
	} else if (r->rc == -ECANCELED) {
		sb->cb(sb->arg, -ECANCELED, NULL, r->error);
	} else if (r->unknown || r->status == 0 || r->status == 408 ||
		   r->status == 409) {
		/* Maybe created, or refused for now: find() settles it. */
		sb->cb(sb->arg, -EAGAIN, NULL, r->error);
	} else {
		sb->cb(sb->arg, -EINVAL, NULL, r->error);
	}
	submit_free(sb);
}

static void
on_file(struct oai *o, int rc, const char *file_id, const char *error,
	void *arg)
{
	struct submit *sb = arg;
	const char *key =
	    cJSON_GetObjectItemCaseSensitive(sb->body, "training_file")
		? "validation_file"
		: "training_file";

	if (rc != 0) {
		sb->cb(sb->arg, rc, NULL, error);
		submit_free(sb);
		return;
	}
	if (file_id != NULL)
		cJSON_AddStringToObject(sb->body, key, file_id);
	else if (strcmp(key, "training_file") == 0) {
		sb->cb(sb->arg, -EINVAL, NULL, "no training_file");
		submit_free(sb);
		return;
	}
	if (strcmp(key, "training_file") == 0) {
		ensure_file(o, sb->validation, on_file, sb);
		return;
	}
	if (o->be->hold_until > now_wall()) {
		sb->cb(sb->arg, -EDQUOT, NULL, o->be->hold_reason);
		submit_free(sb);
		return;
	}
	log_debug("backend %s: creating the job of intent %s", o->be->name,
		  sb->intent);
	api(o, "POST", "/fine_tuning/jobs", sb->body, CREATE, on_created, sb);
}

static void
oai_submit(struct backend *be, const struct backend_job *job,
	   backend_submit_cb cb, void *arg)
{
	struct oai *o = be->priv;
	struct submit *sb = xcalloc(1, sizeof(*sb));

	sb->body = create_body(o, job);
	sb->training = xstrdup(job->training_file ? job->training_file : "");
	sb->validation =
	    job->validation_file ? xstrdup(job->validation_file) : NULL;
	sb->intent = xstrdup(job->intent_key);
	sb->cb = cb;
	sb->arg = arg;
	if (o->closing) {
		cb(arg, -ECANCELED, NULL, "rftd is shutting down");
		submit_free(sb);
		return;
	}
	ensure_file(o, sb->training[0] ? sb->training : NULL, on_file, sb);
}

/* --- finding a job by its intent key -------------------------------------- */

struct find {
	struct walk walk;
	char *intent;
	char filter[200]; /* &metadata[rftd_intent]=KEY */
	char *best;	  /* the oldest job carrying the key */
	double best_created;
	int found;
	backend_submit_cb cb;
	void *arg;
};

static bool
find_each(struct walk *w, const cJSON *job)
{
	struct find *f = w->arg;
	const char *key = jstr(
	    cJSON_GetObjectItemCaseSensitive(job, "metadata"), "rftd_intent");
	const char *id = jstr(job, "id");
	double created = 0;

	/* The server filtered; check, in case it did not. */
	if (id == NULL || key == NULL || strcmp(key, f->intent) != 0)
		return true;
	jnum(job, "created_at", &created);
	f->found++;
	if (f->best == NULL || created < f->best_created) {
		free(f->best);
		f->best = xstrdup(id);
		f->best_created = created;
	}
	return true;
}

static void
find_done(struct walk *w, int rc, const char *error)
{
	struct find *f = w->arg;

	if (rc != 0)
		f->cb(f->arg, rc == -ENOENT ? -EIO : rc, NULL, error);
	else if (f->best == NULL)
		f->cb(f->arg, -ENOENT, NULL, NULL);
	else {
		if (f->found > 1)
			log_warnx("backend %s: %d jobs carry intent %s; "
				  "keeping the oldest, %s",
				  w->o->be->name, f->found, f->intent, f->best);
		f->cb(f->arg, 0, f->best, NULL);
	}
	free(f->intent);
	free(f->best);
	free(f);
}

static void
oai_find(struct backend *be, const char *intent_key, backend_submit_cb cb,
	 void *arg)
{
	struct find *f;

	if (strlen(intent_key) > 128 ||
	    strspn(intent_key, "abcdefghijklmnopqrstuvwxyz"
			       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
		strlen(intent_key)) {
		cb(arg, -EINVAL, NULL, "malformed intent key");
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->intent = xstrdup(intent_key);
	snprintf(f->filter, sizeof(f->filter),
		 "&metadata%%5Brftd_intent%%5D=%s", intent_key);
	f->cb = cb;
	f->arg = arg;
	f->walk = (struct walk){
	    .o = be->priv,
	    .filter = f->filter,
	    .max_pages = FIND_PAGES_MAX,
	    .each = find_each,
	    .done = find_done,
	    .arg = f,
	};
	walk_page(&f->walk, NULL);
}

/* --- control -------------------------------------------------------------- */

struct ctl {
	backend_done_cb cb;
	void *arg;
};

static void
on_controlled(struct oai *o, struct reply *r, void *arg)
{
	struct ctl *c = arg;

	(void)o;
	if (r->rc == -EREMOTEIO && r->status >= 400 && r->status < 500) {
		/*
		 * Refused because of the job's state (it ended, or is not
		 * running): the poll that follows shows which.
		 */
		log_info("backend %s: %s", o->be->name, r->error);
		c->cb(c->arg, 0, NULL);
	} else {
		c->cb(c->arg, r->rc, r->rc ? r->error : NULL);
	}
	free(c);
}

static void
oai_control(struct backend *be, const char *remote_id,
	    enum backend_action action, backend_done_cb cb, void *arg)
{
	static const char *const verbs[] = {"cancel", "pause", "resume"};
	struct ctl *c = xcalloc(1, sizeof(*c));
	char path[300];

	c->cb = cb;
	c->arg = arg;
	snprintf(path, sizeof(path), "/fine_tuning/jobs/%s/%s", remote_id,
		 verbs[action]);
	api(be->priv, "POST", path, NULL, SAFE, on_controlled, c);
}

/* --- our jobs at the provider --------------------------------------------- */

struct owned {
	struct walk walk;
	backend_owned_cb each;
	backend_done_cb done;
	void *arg;
};

static int64_t
tag_number(const cJSON *meta, const char *key)
{
	const char *v = jstr(meta, key);
	int64_t n;

	return v != NULL && parse_i64(v, 1, INT64_MAX, &n) == 0 ? n : 0;
}

static bool
owned_each(struct walk *w, const cJSON *job)
{
	struct owned *ow = w->arg;
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(job, "metadata");
	struct backend_owned b = {
	    .remote_id = jstr(job, "id"),
	    .intent_key = jstr(meta, "rftd_intent"),
	    .model = jstr(job, "model"),
	    .sweep_id = tag_number(meta, "rftd_sweep"),
	    .trial_id = tag_number(meta, "rftd_trial"),
	};

	if (b.remote_id != NULL && b.intent_key != NULL &&
	    !status_final(jstr(job, "status")))
		ow->each(ow->arg, &b);
	return true;
}

static void
owned_done(struct walk *w, int rc, const char *error)
{
	struct owned *ow = w->arg;

	ow->done(ow->arg, rc, rc ? error : NULL);
	free(ow);
}

static void
oai_list_owned(struct backend *be, backend_owned_cb each, backend_done_cb done,
	       void *arg)
{
	struct owned *ow = xcalloc(1, sizeof(*ow));

	ow->each = each;
	ow->done = done;
	ow->arg = arg;
	ow->walk = (struct walk){
	    .o = be->priv,
	    .max_pages = OWNED_PAGES_MAX,
	    .each = owned_each,
	    .done = owned_done,
	    .arg = ow,
	};
	walk_page(&ow->walk, NULL);
}

/* --- grader preflight ----------------------------------------------------- */

struct preflight {
	cJSON *graders; /* name -> grader */
	const cJSON *next;
	backend_done_cb cb;
	void *arg;
};

static void preflight_next(struct oai *o, struct preflight *pf);

static void
on_validated(struct oai *o, struct reply *r, void *arg)
{
	struct preflight *pf = arg;
	char error[800];

	if (r->rc != 0) {
		bool no = refused(r);

		snprintf(error, sizeof(error),
			 "/graders/%s: %s by backend %s: %s", pf->next->string,
			 no ? "rejected" : "could not be validated",
			 o->be->name, r->error);
		pf->cb(pf->arg,
		       no		     ? -EINVAL
		       : r->rc == -ECANCELED ? r->rc
					     : -EAGAIN,
		       error);
		cJSON_Delete(pf->graders);
		free(pf);
		return;
	}
	pf->next = pf->next->next;
	preflight_next(o, pf);
}

static void
preflight_next(struct oai *o, struct preflight *pf)
{
	cJSON *body;

	if (pf->next == NULL) {
		pf->cb(pf->arg, 0, NULL);
		cJSON_Delete(pf->graders);
		free(pf);
		return;
	}
	body = cJSON_CreateObject();
	cJSON_AddItemToObject(body, "grader", cJSON_Duplicate(pf->next, true));
	api(o, "POST", "/fine_tuning/alpha/graders/validate", body, SAFE,
	    on_validated, pf);
	cJSON_Delete(body);
}

static void
oai_preflight(struct backend *be, const cJSON *graders, backend_done_cb cb,
	      void *arg)
{
	struct oai *o = be->priv;
	struct preflight *pf;

	if (!o->preflight) {
		cb(arg, 0, NULL);
		return;
	}
	pf = xcalloc(1, sizeof(*pf));
	pf->graders = cJSON_Duplicate(graders, true);
	pf->next = pf->graders->child;
	pf->cb = cb;
	pf->arg = arg;
	preflight_next(o, pf);
}

/* --- Azure's rules, checked at plan ---------------------------------------
 *
 * What Azure OpenAI's v1 API refuses of an RFT job, or its RFT guide asks
 * of the data, checked when a sweep is planned or submitted so that
 * nothing is paid for a job that cannot run (preflight cannot catch the
 * grader: Azure's graders/validate accepts python):
 *  - the grader is string_check, text_similarity, score_model or multi,
 *    with no python grader in it (AzureFineTuneReinforcementMethod);
 *  - a training and a validation file (RFT guide);
 *  - in each example, no system message, and the last message the
 *    user's (RFT guide), read from what rftd found in the local files.
 * The reason starts with the JSON pointer of the spec's value.
 */

/* Whether grader `name` of the spec is or holds a python grader, whose
 * JSON pointer goes to `where`. */
static bool
python_grader(const cJSON *g, const char *name, char *where, size_t len)
{
	const cJSON *subs = cJSON_GetObjectItemCaseSensitive(g, "graders");
	const cJSON *sub;
	const char *type = jstr(g, "type");

	json_pointer_key(where, len, "/graders", name);
	if (type != NULL && strcmp(type, "python") == 0)
		return true;
	cJSON_ArrayForEach(sub, (cJSON_IsObject(subs) ? subs : NULL))
	{
		const char *t = jstr(sub, "type");

		if (t != NULL && strcmp(t, "python") == 0) {
			char p[512];

			json_pointer_key(p, sizeof(p), where, "graders");
			json_pointer_key(where, len, p, sub->string);
			return true;
		}
	}
	return false;
}

/* Azure's rules for the examples of the dataset at `path`. */
static int
azure_examples(const char *key, const char *path, char *err, size_t errlen)
{
	struct dataset_facts *f;
	int rc = 0;

	if (path == NULL || strncmp(path, "file-", 5) == 0 ||
	    (f = dataset_facts_of(path)) == NULL)
		return 0; /* a provider's file: the provider checks it */
	if (f->system_line != 0) {
		snprintf(err, errlen,
			 "/%s: '%s' line %llu, /messages/%d/role: Azure "
			 "OpenAI's RFT takes no system message (give the "
			 "instructions as a developer message)",
			 key, path, f->system_line, f->system_index);
		rc = -EINVAL;
	} else if (f->last_role_line != 0) {
		snprintf(err, errlen,
			 "/%s: '%s' line %llu, /messages/%d/role: the last "
			 "message of an example is the user's on Azure "
			 "OpenAI's RFT, not the %s's",
			 key, path, f->last_role_line, f->last_role_index,
			 f->last_role);
		rc = -EINVAL;
	}
	dataset_facts_free(f);
	return rc;
}

static int
oai_check_job(struct backend *be, const struct backend_job *job, char *err,
	      size_t errlen)
{
	struct oai *o = be->priv;
	char where[512];

	if (!o->azure)
		return 0;
	if (job->grader_name != NULL &&
	    python_grader(job->grader, job->grader_name, where,
			  sizeof(where))) {
		snprintf(err, errlen,
			 "%s: Azure OpenAI's RFT takes no python grader, not "
			 "even inside a multi grader (its graders are "
			 "string_check, text_similarity, score_model and "
			 "multi); grade with those, or run this grader on a "
			 "backend of dialect openai",
			 where);
		return -EINVAL;
	}
	if (job->validation_file == NULL) {
		snprintf(err, errlen,
			 "/validation_file: is required on Azure OpenAI: its "
			 "RFT takes a training and a validation file");
		return -EINVAL;
	}
	if (azure_examples("training_file", job->training_file, err, errlen))
		return -EINVAL;
	return azure_examples("validation_file", job->validation_file, err,
			      errlen);
}

/* --- the backend ---------------------------------------------------------- */

/*
 * A rough expectation for plans: an hour per epoch at the default
 * compute, as RFT runs on small datasets go; the budget's worst case is
 * the sweep's max_job_hours, not this.
 */
static double
oai_estimate_hours(struct backend *be, const struct backend_job *job)
{
	const cJSON *e =
	    cJSON_GetObjectItemCaseSensitive(job->hyperparameters, "n_epochs");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(job->hyperparameters,
							  "compute_multiplier");
	double epochs = cJSON_IsNumber(e) ? e->valuedouble : 1;
	double compute = cJSON_IsNumber(c) ? c->valuedouble : 1;

	(void)be;
	return epochs * fmax(0.25, compute);
}

static int
apply_config(struct oai *o, const struct config_backend *cfg, char *err,
	     size_t errlen)
{
	const struct openai_config *oc = cfg->opts;
	char *key = read_key(cfg, err, errlen);

	if (key == NULL)
		return -EINVAL;
	o->azure = strcmp(oc->dialect, "azure") == 0;
	secret_free(o->auth);
	o->auth = xasprintf(
	    "%s%s", o->azure ? "api-key: " : "Authorization: Bearer ", key);
	secret_free(key);
	free(o->base_url);
	free(o->api_version);
	free(o->training_type);
	free(o->org);
	free(o->project);
	o->base_url = xstrdup(oc->base_url);
	o->api_version = oc->api_version ? xstrdup(oc->api_version) : NULL;
	o->training_type =
	    oc->training_type ? xstrdup(oc->training_type) : NULL;
	o->org = oc->organization
		     ? xasprintf("OpenAI-Organization: %s", oc->organization)
		     : NULL;
	o->project =
	    oc->project ? xasprintf("OpenAI-Project: %s", oc->project) : NULL;
	o->file_expiry = oc->file_expires_after;
	o->poll_interval = oc->poll_interval;
	o->timeout_ms = (long)(oc->request_timeout * 1000);
	o->preflight = oc->preflight;
	o->be->max_concurrent = cfg->max_concurrent;
	o->be->poll_interval = oc->poll_interval;
	return 0;
}

static void
oai_reconfigure(struct backend *be, const struct config_backend *cfg)
{
	struct oai *o = be->priv;
	char err[512];

	if (apply_config(o, cfg, err, sizeof(err)) != 0) {
		log_warnx("backend %s: %s; keeping the previous key and "
			  "settings",
			  be->name, err);
		return;
	}
	/* A new key or base_url deserves a try; a quota holds again at
	 * the next refusal. */
	be->hold_until = 0;
	be->hold_reason[0] = '\0';
}

static void
oai_close(struct backend *be)
{
	struct oai *o = be->priv;

	if (o->closing)
		return;
	o->closing = true;
	/* Transfers end first; their callbacks start nothing new. */
	http_close(o->http);
	while (o->calls != NULL) {
		struct call *c = o->calls;
		struct reply r = {.rc = -ECANCELED};

		snprintf(r.error, sizeof(r.error), "rftd is shutting down");
		call_unlink(c);
		c->cb(o, &r, c->arg);
		call_free(c);
	}
	while (o->queued != NULL) {
		struct pollop *op = o->queued;

		o->queued = op->next;
		op->cb(op->arg, -ECANCELED, NULL, "rftd is shutting down");
		free(op->remote_id);
		free(op);
	}
	uv_close((uv_handle_t *)&o->flush, NULL);
}

static void
oai_destroy(struct backend *be)
{
	struct oai *o = be->priv;

	secret_free(o->auth);
	free(o->base_url);
	free(o->api_version);
	free(o->training_type);
	free(o->org);
	free(o->project);
	free(o);
	free(be->name);
	free(be);
}

static int
oai_check_host(const struct config_backend *cfg, char *err, size_t errlen)
{
	char *key = read_key(cfg, err, errlen);

	if (key == NULL)
		return -EINVAL;
	secret_free(key);
	return 0;
}

/*
 * What event_metrics() stores: the canonical names, step_seconds, and the
 * flat figures of an RFT metrics event under the provider's own names.
 */
static const char *const oai_metric_names[] = {
    "train_reward_mean",
    "valid_reward_mean",
    "step_seconds",
    "train_mean_reward",
    "full_valid_mean_reward",
    "full_valid_mean_parse_error",
    "reasoning_tokens_mean",
    "completion_tokens_mean",
    "valid_reasoning_tokens_mean",
    "mean_unresponsive_rewards",
    NULL,
};

static const struct backend_metrics oai_metrics = {
    .names = oai_metric_names,
    .per_grader = true,
};

static const struct backend_ops oai_ops = {
    .type = "openai",
    .submit = oai_submit,
    .check_job = oai_check_job,
    .find = oai_find,
    .poll = oai_poll,
    .control = oai_control,
    .list_owned = oai_list_owned,
    .preflight = oai_preflight,
    .estimate_hours = oai_estimate_hours,
    .metrics = &oai_metrics,
    .reconfigure = oai_reconfigure,
    .close = oai_close,
    .destroy = oai_destroy,
};

static struct backend *
oai_create(const struct backend_env *env, const struct config_backend *cfg)
{
	const struct openai_config *oc = cfg->opts;
	struct backend *be = xcalloc(1, sizeof(*be));
	struct oai *o = xcalloc(1, sizeof(*o));
	struct http_limits lim = {
	    .connect_timeout_ms = (long)(oc->connect_timeout * 1000),
	    .timeout_ms = (long)(oc->request_timeout * 1000),
	    .max_body = 32u << 20,
	    .ca_file = oc->ca_file,
	    .user_agent = "rftd/" RFTD_VERSION,
	};
	char err[512];

	be->ops = &oai_ops;
	be->name = xstrdup(cfg->name);
	be->caps = BACKEND_CAN_PAUSE;
	be->time_scale = 1;
	be->env = env;
	be->priv = o;
	o->be = be;
	o->env = env;
	if (apply_config(o, cfg, err, sizeof(err)) != 0)
		fatalx("backend %s: %s", cfg->name, err);
	o->http = http_new(env->loop, &lim);
	uv_timer_init(env->loop, &o->flush);
	o->flush.data = o;
	return be;
}

/*
 * Prices rftd knows without configuration: USD per hour of training (the
 * billed wall-clock time of the training loop), as the providers publish
 * them, with when they were read.  A [price "BACKEND/MODEL"] section
 * overrides one and prices any other model: a spec may name any model
 * the provider trains (gpt-5-2025-08-07 on Azure, in preview, has no
 * published price, so it needs a [price] section or allow_unpriced).
 * Model graders' tokens are billed apart, at the grader model's rates:
 * grader_per_mtok_in and _out of a [price] section.
 */
static const struct builtin_price {
	const char *model;
	double per_training_hour;
	const char *as_of;
} builtin_prices[] = {
    /* OpenAI's RFT billing guide; Azure OpenAI's RFT guide and price
     * list for o4-mini RFT. */
    {"o4-mini-2025-04-16", 100, "2025-08-29"},
    {"o4-mini", 100, "2025-08-29"},
};

/* "2025-04-01-preview": a date, and maybe "-preview". */
static bool
dated_version(const char *v)
{
	static const char shape[] = "dddd-dd-dd";
	size_t i;

	for (i = 0; i < sizeof(shape) - 1; i++)
		if (v[i] == '\0' ||
		    (shape[i] == 'd' ? !isdigit((unsigned char)v[i])
				     : v[i] != shape[i]))
			return false;
	return v[i] == '\0' || strcmp(v + i, "-preview") == 0;
}

static bool
ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n >= m && strcmp(s + n - m, tail) == 0;
}

/*
 * Azure's two APIs: the v1 paths ({endpoint}/openai/v1/...) take an
 * api-version of v1 or preview at most (AzureAIFoundryModelsApiVersion),
 * the dated paths ({endpoint}/openai/...) need a dated one.
 */
static void
check_azure_version(struct openai_config *oc, struct config_check *check)
{
	int line = config_check_line(check, "api_version");
	const char *v = oc->api_version;
	bool v1 = ends_with(oc->base_url, "/openai/v1");
	bool dated_paths = ends_with(oc->base_url, "/openai");

	if (v != NULL && strcmp(v, "v1") != 0 && strcmp(v, "preview") != 0 &&
	    !dated_version(v)) {
		config_check_error(check, line,
				   "api_version '%s' is none the service "
				   "knows: v1 or preview on the v1 paths "
				   "(base_url .../openai/v1), a date such as "
				   "2025-04-01-preview on the dated ones "
				   "(base_url .../openai)",
				   v);
		return;
	}
	if (v1 && v != NULL && dated_version(v))
		config_check_error(check, line,
				   "api_version %s is for the dated paths "
				   "(base_url .../openai); the v1 paths of "
				   "base_url %s take only v1 or preview (or "
				   "none)",
				   v, oc->base_url);
	else if (dated_paths && v == NULL)
		config_check_error(
		    check, config_check_line(check, "base_url"),
		    "base_url %s is Azure's dated API, which needs a dated "
		    "api_version (such as 2025-04-01-preview); for the v1 "
		    "API, end base_url in /openai/v1",
		    oc->base_url);
	else if (dated_paths && !dated_version(v))
		config_check_error(check, line,
				   "api_version %s is for the v1 paths "
				   "(base_url .../openai/v1); the dated paths "
				   "of base_url %s need a date such as "
				   "2025-04-01-preview",
				   v, oc->base_url);
}

/* The options of an openai backend: defaults, and how they fit. */
static void
oai_check_config(struct config_backend *cfg, struct config_check *check)
{
	struct openai_config *oc = cfg->opts;
	int keys = (oc->api_key_file != NULL) + (oc->api_key_env != NULL) +
		   (oc->api_key_credential != NULL);
	int expiry_line = config_check_line(check, "file_expires_after");
	bool azure;

	if (config_check_line(check, "max_concurrent") == 0)
		cfg->max_concurrent = 3; /* OpenAI's limit of running jobs */
	if (oc->dialect == NULL)
		oc->dialect = xstrdup("openai");
	azure = strcmp(oc->dialect, "azure") == 0;
	if (keys != 1)
		config_check_error(check, 0,
				   "set exactly one of api_key_file, "
				   "api_key_env and api_key_credential");
	if (oc->base_url == NULL && azure)
		config_check_error(check, 0,
				   "dialect azure needs base_url "
				   "(https://NAME.openai.azure.com/openai/v1)");
	else if (oc->base_url == NULL)
		oc->base_url = xstrdup("https://api.openai.com/v1");
	if (oc->api_version != NULL && !azure)
		config_check_error(check,
				   config_check_line(check, "api_version"),
				   "api_version is for dialect azure");
	else if (azure && oc->base_url != NULL)
		check_azure_version(oc, check);
	/* AzureCreateFileRequestMultiPart: an upload must expire. */
	if (azure && expiry_line == 0)
		oc->file_expires_after = EXPIRY_DEFAULT;
	if ((azure || oc->file_expires_after > 0) &&
	    oc->file_expires_after < EXPIRY_MIN)
		config_check_error(check, expiry_line,
				   "file_expires_after: %s takes 1h..720h "
				   "(3600 to 2592000 seconds)%s",
				   azure ? "Azure OpenAI" : "the provider",
				   azure ? "; an upload must expire there"
					 : "");
	for (size_t i = 0; i < ARRAY_LEN(builtin_prices); i++)
		config_check_published_price(
		    check, builtin_prices[i].model,
		    builtin_prices[i].per_training_hour,
		    builtin_prices[i].as_of);
}

const struct backend_type openai_backend_type = {
    .name = "openai",
    .help = "an OpenAI-compatible fine-tuning API (OpenAI, Azure OpenAI, "
	    "Bedrock)",
    .options = openai_options,
    .noptions = ARRAY_LEN(openai_options),
    .opts_size = sizeof(struct openai_config),
    .check_config = oai_check_config,
    .check_host = oai_check_host,
    .create = oai_create,
};
