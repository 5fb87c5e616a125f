/*
 * Notifications (see notifier.h): the outbox's rows are delivered to the
 * [notify] command and url from the loop, a few attempts at a time per
 * target, each attempt bounded by [notify] timeout and retried with
 * backoff until [notify] retry_for has passed.
 *
 * Glossary: an event is one row per target in the outbox (same id); an
 * attempt is one try of one row; a target is "command" or "url".
 */
#include "notifier.h"

#include "backend.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "outbox.h"
#include "secret.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define INFLIGHT_MAX 4	    /* attempts at once per target */
#define RETRY_BASE_S 1.0    /* the first retry's delay, doubling */
#define RETRY_MAX_S  3600.0 /* to at most an hour */
#define REARM_MAX_S  60.0   /* a look at the outbox at least this often */
#define STUCK_S	     5.0    /* ... and after the store refused a step */
#define BUSY_MS	     20	    /* a transaction is open: look again soon */
#define SECRET_MAX   256    /* bytes of a secret file read at most */
#define KEY_MAX	     128    /* bytes of a decoded secret */
#define BODY_MAX     4096   /* bytes of a receiver's answer kept */
#define ID_BYTES     16	    /* random bytes of an event id */

enum target { T_COMMAND, T_URL, T__COUNT };
static const char *const target_names[T__COUNT] = {"command", "url"};

struct attempt;
struct test;

struct notifier {
	struct daemon *d;
	bool *held;	   /* per backend: its hold was told as started */
	uv_timer_t timer;  /* the next due row, or a wake after an event */
	struct http *http; /* made at the first url attempt */
	struct attempt *inflight;
	unsigned int running[T__COUNT];
	struct test *tests; /* notify.test calls waiting for outcomes */
	bool closing;
};

/* A notify.test call: the outcome of each target's first attempt. */
struct test {
	struct notifier *n;
	char id[48];
	unsigned int waiting; /* targets whose attempt has not ended */
	cJSON *targets;	      /* [{target, delivered, outcome}] */
	notifier_test_cb cb;
	void *arg;
	struct test *next;
};

struct attempt {
	struct notifier *n;
	enum target target;
	char id[48];
	char type[48];
	char *payload;
	double created_at;
	int number; /* 1 for the first attempt */
	double started;
	struct test *test; /* a notify.test waits for it, or NULL */
	/* url */
	struct http_req *req;
	/* command */
	uv_process_t proc;
	uv_pipe_t in;
	uv_timer_t kill_timer;
	uv_write_t wr;
	int handles; /* not yet closed */
	bool exited, timed_out;
	int64_t exit_status;
	int term_signal;
	struct attempt *next;
};

static void pump(struct notifier *n);
static void wake(struct notifier *n, uint64_t ms);

/* Ends a unit begun for a write that returned `rc`: its result. */
static int
unit_end(struct store *st, bool outer, int rc)
{
	int end = store_unit_end(st, outer, rc == 0);

	return rc != 0 ? rc : end;
}

/* --- configuration ---------------------------------------------------------
 */

static const char *
target_config(const struct daemon *d, enum target t)
{
	return t == T_COMMAND ? d->cfg.notify_command : d->cfg.notify_url;
}

/* The delay before retry `number` (1: after the first attempt), with
 * jitter so that many events failing together do not retry together. */
static double
retry_delay(int number)
{
	double base = fmin(
	    RETRY_MAX_S, RETRY_BASE_S * pow(2, number > 30 ? 30 : number - 1));
	unsigned char r;

	if (RAND_bytes(&r, 1) != 1)
		r = 128;
	return base * (0.75 + 0.5 * r / 255.0);
}

/* A new secret: "whsec_" and 32 random bytes in base64. */
static bool
secret_make(char *text, size_t cap)
{
	unsigned char key[32];

	if (cap < 6 + 4 * (sizeof(key) + 2) / 3 + 1 ||
	    RAND_bytes(key, sizeof(key)) != 1)
		return false;
	memcpy(text, "whsec_", 6);
	EVP_EncodeBlock((unsigned char *)text + 6, key, sizeof(key));
	OPENSSL_cleanse(key, sizeof(key));
	return true;
}

/*
 * Reads the key of [notify] secret_file ("whsec_" + base64), creating
 * the file when missing.  A small file, read at each url attempt so that
 * a new secret needs no restart.  Returns the key's length, or a
 * negative errno with `err` saying what and where.
 */
static int
secret_key(const char *path, unsigned char *key, char *err, size_t errlen)
{
	char text[SECRET_MAX + 1], *b64;
	unsigned char raw[SECRET_MAX];
	size_t len, pad = 0;
	bool made;
	int n;

	n = secret_file_load("[notify] secret_file", path, secret_make, text,
			     sizeof(text), &made, err, errlen);
	if (n < 0)
		return n;
	if (made)
		log_info("notify: made a webhook secret in %s; give its "
			 "content to the receiver to verify signatures",
			 path);
	len = (size_t)n;
	b64 = text + 6;
	if (strncmp(text, "whsec_", 6) != 0 || len == 6 || (len - 6) % 4 != 0 ||
	    strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"abcdefghijklmnopqrstuvwxyz"
			"0123456789+/=") != len - 6) {
		snprintf(err, errlen,
			 "[notify] secret_file %s: not a webhook secret "
			 "(\"whsec_\" followed by base64)",
			 path);
		goto invalid;
	}
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)(len - 6));
	while (pad < 2 && len - pad > 6 && text[len - 1 - pad] == '=')
		pad++;
	if (n < 0 || n - (int)pad < 1 || n - (int)pad > KEY_MAX) {
		snprintf(err, errlen,
			 "[notify] secret_file %s: not a webhook secret "
			 "(its base64 does not decode to 1 to %d bytes)",
			 path, KEY_MAX);
		goto invalid;
	}
	n -= (int)pad;
	memcpy(key, raw, (size_t)n);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(text, sizeof(text));
	return n;
invalid:
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(text, sizeof(text));
	return -EINVAL;
}

/* "v1,<base64 of HMAC-SHA256(key, id.timestamp.body)>", Standard
 * Webhooks' signature. */
static int
sign(const unsigned char *key, int keylen, const char *id, long long ts,
     const char *body, char *out, size_t outlen)
{
	char *msg = xasprintf("%s.%lld.%s", id, ts, body);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	bool ok = HMAC(EVP_sha256(), key, keylen, (unsigned char *)msg,
		       strlen(msg), mac, &maclen) != NULL;

	free(msg);
	if (!ok || outlen < 3 + 4 * ((maclen + 2) / 3) + 1)
		return -EIO;
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen);
	return 0;
}

/* --- tests -----------------------------------------------------------------
 */

/* One target's outcome for a waiting test; the answer after the last. */
static void
test_add(struct test *t, enum target target, bool delivered,
	 const char *outcome)
{
	struct test **pp;
	cJSON *o;

	if (outcome != NULL) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "target", target_names[target]);
		cJSON_AddBoolToObject(o, "delivered", delivered);
		cJSON_AddStringToObject(o, "outcome", outcome);
		cJSON_AddItemToArray(t->targets, o);
	}
	if (--t->waiting > 0)
		return;
	for (pp = &t->n->tests; *pp != t; pp = &(*pp)->next)
		;
	*pp = t->next;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", t->id);
	cJSON_AddItemToObject(o, "targets", t->targets);
	t->cb(t->arg, 0, NULL, o);
	free(t);
}

static void
test_note(struct attempt *a, bool delivered, const char *outcome)
{
	struct test *t = a->test;

	a->test = NULL;
	if (t != NULL)
		test_add(t, a->target, delivered, outcome);
}

/* --- attempts --------------------------------------------------------------
 */

/*
 * The attempt ended: records the outcome (delivered, retried later or
 * given up), tells a waiting test, and looks for more work.
 */
static void
attempt_end(struct attempt *a, bool delivered, const char *outcome)
{
	struct notifier *n = a->n;
	struct store *st = n->d->store;
	double now = now_wall(), retry_at = 0;
	bool outer;
	int rc;

	if (delivered) {
		log_debug("notify: %s %s to %s: %s", a->type, a->id,
			  target_names[a->target], outcome);
	} else {
		/* A test's outcome went to the person who asked: it is not
		 * tried again behind their back. */
		retry_at = strcmp(a->type, "test") == 0
			       ? INFINITY
			       : now + retry_delay(a->number);
		if (retry_at > a->created_at + n->d->cfg.notify_retry_for) {
			retry_at = 0;
			log_warnx("notify: %s %s to %s given up after %d "
				  "attempts: %s",
				  a->type, a->id, target_names[a->target],
				  a->number, outcome);
		} else {
			log_info("notify: %s %s to %s %s; retry in %.0f s",
				 a->type, a->id, target_names[a->target],
				 outcome, retry_at - now);
		}
	}
	rc = store_unit_begin(st, &outer);
	if (rc == 0) {
		rc = delivered ? store_outbox_delivered(
				     st, a->id, target_names[a->target], now)
			       : store_outbox_failed(st, a->id,
						     target_names[a->target],
						     outcome, retry_at);
		rc = unit_end(st, outer, rc);
	}
	/* Unrecorded, the row is tried again when its retry time comes:
	 * at least once still holds. */
	if (rc != 0)
		log_warnx("notify: cannot record the outcome of %s to %s: %s",
			  a->id, target_names[a->target], store_last_error(st));
	test_note(a, delivered, outcome);
}

/* Frees an attempt that has ended, and lets the next one start. */
static void
attempt_free(struct attempt *a)
{
	struct notifier *n = a->n;
	struct attempt **pp;

	for (pp = &n->inflight; *pp != a; pp = &(*pp)->next)
		;
	*pp = a->next;
	n->running[a->target]--;
	free(a->payload);
	free(a);
	if (!n->closing)
		wake(n, 0);
}

static void
url_done(void *arg, const struct http_result *res)
{
	struct attempt *a = arg;
	char outcome[300];

	a->req = NULL;
	if (res->rc == -ECANCELED) {
		/* Abandoned by the close: the outbox keeps the row. */
		attempt_free(a);
		return;
	}
	if (res->rc == 0)
		snprintf(outcome, sizeof(outcome), "%s (HTTP %ld)",
			 res->status / 100 == 2 ? "delivered" : "failed",
			 res->status);
	else if (res->rc == -ETIMEDOUT)
		snprintf(outcome, sizeof(outcome),
			 "failed: timed out after %.0f s",
			 a->n->d->cfg.notify_timeout);
	else
		snprintf(outcome, sizeof(outcome), "failed: %.200s",
			 res->error ? res->error : strerror(-res->rc));
	attempt_end(a, res->rc == 0 && res->status / 100 == 2, outcome);
	attempt_free(a);
}

/* Starts a POST of the payload; false with `outcome` when it cannot. */
static bool
url_start(struct attempt *a, char *outcome, size_t len)
{
	struct notifier *n = a->n;
	const struct config *cfg = &n->d->cfg;
	unsigned char key[KEY_MAX];
	char err[512], sig[128], h_id[80], h_ts[48], h_sig[160];
	const char *headers[5];
	long long ts = (long long)time(NULL);
	int keylen = secret_key(cfg->notify_secret_file, key, err, sizeof(err));
	int rc;

	if (keylen < 0) {
		log_warnx("notify: %s", err);
		snprintf(outcome, len, "failed: %s", err);
		return false;
	}
	rc = sign(key, keylen, a->id, ts, a->payload, sig, sizeof(sig));
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != 0) {
		snprintf(outcome, len, "failed: cannot sign it");
		return false;
	}
	if (n->http == NULL) {
		struct http_limits lim = {
		    .connect_timeout_ms = 10000,
		    .timeout_ms = 10000,
		    .max_body = BODY_MAX,
		    .cut_body = true,
		    .user_agent = "rftd/" RFTD_VERSION,
		};

		n->http = http_new(&n->d->loop, &lim);
	}
	snprintf(h_id, sizeof(h_id), "webhook-id: %s", a->id);
	snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %lld", ts);
	snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
	headers[0] = "content-type: application/json";
	headers[1] = h_id;
	headers[2] = h_ts;
	headers[3] = h_sig;
	headers[4] = NULL;
	a->req =
	    http_start(n->http,
		       &(struct http_request){
			   .method = "POST",
			   .url = cfg->notify_url,
			   .headers = headers,
			   .body = a->payload,
			   .body_len = strlen(a->payload),
			   .timeout_ms = (long)(cfg->notify_timeout * 1000),
		       },
		       url_done, a);
	return true;
}

static void
command_closed(uv_handle_t *h)
{
	struct attempt *a = h->data;

	if (--a->handles == 0)
		attempt_free(a);
}

static void
command_close(struct attempt *a)
{
	if (!uv_is_closing((uv_handle_t *)&a->proc))
		uv_close((uv_handle_t *)&a->proc, command_closed);
	if (!uv_is_closing((uv_handle_t *)&a->in))
		uv_close((uv_handle_t *)&a->in, command_closed);
	if (!uv_is_closing((uv_handle_t *)&a->kill_timer))
		uv_close((uv_handle_t *)&a->kill_timer, command_closed);
}

static void
command_exited(uv_process_t *p, int64_t status, int sig)
{
	struct attempt *a = p->data;
	char outcome[128];

	a->exited = true;
	uv_timer_stop(&a->kill_timer);
	if (a->timed_out)
		snprintf(outcome, sizeof(outcome),
			 "failed: timed out after %.0f s (killed)",
			 a->n->d->cfg.notify_timeout);
	else if (sig != 0)
		snprintf(outcome, sizeof(outcome),
			 "failed: killed by signal %d", sig);
	else if (status != 0)
		snprintf(outcome, sizeof(outcome), "failed: exit %lld",
			 (long long)status);
	else
		snprintf(outcome, sizeof(outcome), "delivered (exit 0)");
	attempt_end(a, !a->timed_out && sig == 0 && status == 0, outcome);
	command_close(a);
}

/* Past [notify] timeout: the command and whatever it started go. */
static void
command_timeout(uv_timer_t *t)
{
	struct attempt *a = t->data;

	a->timed_out = true;
	kill(-a->proc.pid, SIGKILL);
}

static void
command_written(uv_write_t *w, int status)
{
	struct attempt *a = w->data;

	(void)status; /* a command that does not read its stdin may exit */
	if (!uv_is_closing((uv_handle_t *)&a->in))
		uv_close((uv_handle_t *)&a->in, command_closed);
}

/*
 * Runs the command by /bin/sh -c in a process group of its own, the
 * payload on its stdin, its output to /dev/null; false with `outcome`
 * when it cannot start.
 */
static bool
command_start(struct attempt *a, char *outcome, size_t len)
{
	struct notifier *n = a->n;
	uv_loop_t *loop = &n->d->loop;
	char *args[] = {"/bin/sh", "-c", n->d->cfg.notify_command, NULL};
	uv_stdio_container_t stdio[3] = {
	    {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE,
	     .data.stream = (uv_stream_t *)&a->in},
	    {.flags = UV_IGNORE},
	    {.flags = UV_IGNORE},
	};
	size_t nenv = 0, i;
	char **env;
	uv_buf_t buf;
	int rc;

	while (environ[nenv] != NULL)
		nenv++;
	env = xcalloc(nenv + 3, sizeof(*env));
	for (i = 0; i < nenv; i++)
		env[i] = environ[i];
	env[nenv] = xasprintf("RFTD_EVENT_ID=%s", a->id);
	env[nenv + 1] = xasprintf("RFTD_EVENT_TYPE=%s", a->type);
	uv_pipe_init(loop, &a->in, 0);
	uv_timer_init(loop, &a->kill_timer);
	a->in.data = a->kill_timer.data = a->proc.data = a->wr.data = a;
	a->handles = 3;
	rc = uv_spawn(loop, &a->proc,
		      &(uv_process_options_t){
			  .file = args[0],
			  .args = args,
			  .env = env,
			  .flags = UV_PROCESS_DETACHED, /* its own group */
			  .stdio = stdio,
			  .stdio_count = 3,
			  .exit_cb = command_exited,
		      });
	free(env[nenv]);
	free(env[nenv + 1]);
	free(env);
	if (rc != 0) {
		snprintf(outcome, len, "failed: cannot run /bin/sh: %s",
			 uv_strerror(rc));
		attempt_end(a, false, outcome);
		command_close(a);
		return true; /* ended; freed when the handles close */
	}
	uv_timer_start(&a->kill_timer, command_timeout,
		       (uint64_t)(n->d->cfg.notify_timeout * 1000), 0);
	buf = uv_buf_init(a->payload, (unsigned int)strlen(a->payload));
	if (uv_write(&a->wr, (uv_stream_t *)&a->in, &buf, 1, command_written) !=
	    0)
		uv_close((uv_handle_t *)&a->in, command_closed);
	return true;
}

/*
 * Starts an attempt of row `r` to `t`: counts it in the outbox first,
 * with its retry past the attempt's end, so that a crash during it
 * leaves a row that is tried again.
 */
static bool
attempt_start(struct notifier *n, enum target t,
	      const struct store_outbox_row *r, struct test *test)
{
	struct store *st = n->d->store;
	struct attempt *a;
	char outcome[640];
	bool outer;
	int rc;

	rc = store_unit_begin(st, &outer);
	if (rc == 0) {
		rc =
		    store_outbox_attempt(st, r->id, target_names[t],
					 now_wall() + n->d->cfg.notify_timeout +
					     retry_delay(r->attempts + 1));
		rc = unit_end(st, outer, rc);
	}
	if (rc != 0) {
		log_warnx("notify: cannot record an attempt of %s: %s", r->id,
			  store_last_error(st));
		return false;
	}
	a = xcalloc(1, sizeof(*a));
	a->n = n;
	a->target = t;
	snprintf(a->id, sizeof(a->id), "%s", r->id);
	snprintf(a->type, sizeof(a->type), "%s", r->type);
	a->payload = xstrdup(r->payload);
	a->created_at = r->created_at;
	a->number = r->attempts + 1;
	a->started = now_wall();
	a->test = test;
	a->next = n->inflight;
	n->inflight = a;
	n->running[t]++;
	if (!(t == T_URL ? url_start(a, outcome, sizeof(outcome))
			 : command_start(a, outcome, sizeof(outcome)))) {
		attempt_end(a, false, outcome);
		attempt_free(a);
	}
	return true;
}

static bool
inflight(const struct notifier *n, enum target t, const char *id)
{
	for (const struct attempt *a = n->inflight; a != NULL; a = a->next)
		if (a->target == t && strcmp(a->id, id) == 0)
			return true;
	return false;
}

/* The due rows of a pass, copied: attempts write to the store. */
struct due {
	struct store_outbox_row rows[2 * INFLIGHT_MAX];
	size_t n;
};

static void
due_row(const struct store_outbox_row *r, void *arg)
{
	struct due *due = arg;
	struct store_outbox_row *c;

	if (due->n == sizeof(due->rows) / sizeof(due->rows[0]))
		return;
	c = &due->rows[due->n++];
	*c = *r;
	c->id = xstrdup(r->id);
	c->target = xstrdup(r->target);
	c->type = xstrdup(r->type);
	c->payload = xstrdup(r->payload);
}

/* Starts what is due on every target with room, and sets the timer for
 * what comes due next. */
static void
pump(struct notifier *n)
{
	struct store *st = n->d->store;
	double now = now_wall(), next = INFINITY, at;
	bool stuck = false;
	int rc;

	if (n->closing || n->d->stopping)
		return;
	/* Rows written by a transaction still open may yet be rolled
	 * back: what is delivered must have happened. */
	if (store_in_transaction(st)) {
		wake(n, BUSY_MS);
		return;
	}
	for (int t = 0; t < T__COUNT; t++) {
		struct due due = {.n = 0};

		if (target_config(n->d, t) == NULL)
			continue;
		if (n->running[t] < INFLIGHT_MAX &&
		    store_outbox_due(st, target_names[t], now,
				     (int)(INFLIGHT_MAX + n->running[t]),
				     due_row, &due) < 0)
			stuck = true;
		for (size_t i = 0; i < due.n; i++) {
			struct store_outbox_row *r = &due.rows[i];

			if (n->running[t] < INFLIGHT_MAX &&
			    !inflight(n, t, r->id) &&
			    !attempt_start(n, t, r, NULL))
				stuck = true;
			free((char *)r->id);
			free((char *)r->target);
			free((char *)r->type);
			free((char *)r->payload);
		}
		/* Due now with no room: an attempt's end wakes us. */
		rc = store_outbox_next(st, target_names[t], &at);
		if (rc == 0 && at > now)
			next = fmin(next, at);
		else if (rc != 0 && rc != -ENOENT)
			stuck = true;
	}
	/* A row the store would not let us start (a full disk, a fault)
	 * is looked at again soon, not at the next event. */
	next = fmin(next, now + (stuck ? STUCK_S : REARM_MAX_S));
	wake(n, (uint64_t)((next - now) * 1000) + 1);
}

static void
on_timer(uv_timer_t *t)
{
	pump(t->data);
}

static void
wake(struct notifier *n, uint64_t ms)
{
	if (!n->closing)
		uv_timer_start(&n->timer, on_timer, ms, 0);
}

/* --- the interface ---------------------------------------------------------
 */

int
notifier_open(struct daemon *d, char *err, size_t errlen)
{
	struct notifier *n;
	unsigned char key[KEY_MAX];

	/* A secret that cannot be used is a bad start, not a surprise at
	 * the first event. */
	if (d->cfg.notify_url != NULL &&
	    secret_key(d->cfg.notify_secret_file, key, err, errlen) < 0)
		return -1;
	n = xcalloc(1, sizeof(*n));
	n->d = d;
	uv_timer_init(&d->loop, &n->timer);
	n->timer.data = n;
	n->held = xcalloc(d->nbackends ? d->nbackends : 1, sizeof(*n->held));
	d->notifier = n;
	/* What an earlier run left, once the loop runs. */
	wake(n, 0);
	return 0;
}

void
notifier_close(struct daemon *d)
{
	struct notifier *n = d->notifier;

	if (n == NULL || n->closing)
		return;
	n->closing = true;
	while (n->tests != NULL) {
		struct test *t = n->tests;

		n->tests = t->next;
		t->cb(t->arg, -ECANCELED, "rftd is shutting down", NULL);
		cJSON_Delete(t->targets);
		free(t);
	}
	for (struct attempt *a = n->inflight; a != NULL; a = a->next) {
		a->test = NULL;
		if (a->target == T_COMMAND && a->proc.pid > 0 && !a->exited &&
		    !uv_is_closing((uv_handle_t *)&a->proc))
			kill(-a->proc.pid, SIGKILL);
	}
	/* Abandoned: each row stays pending in the outbox. */
	for (struct attempt *a = n->inflight, *next; a != NULL; a = next) {
		next = a->next;
		if (a->target == T_COMMAND)
			command_close(a);
	}
	if (n->http != NULL)
		http_close(n->http); /* url attempts end, freed */
	n->http = NULL;
	uv_close((uv_handle_t *)&n->timer, NULL);
}

void
notifier_free(struct daemon *d)
{
	if (d->notifier != NULL)
		free(d->notifier->held);
	free(d->notifier);
	d->notifier = NULL;
}

/* An id receivers de-duplicate by: "msg_" and 32 hex digits. */
static int
event_id(char *out, size_t len)
{
	unsigned char raw[ID_BYTES];
	size_t o;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	o = (size_t)snprintf(out, len, "msg_");
	for (size_t i = 0; i < sizeof(raw) && o + 3 <= len; i++)
		o += (size_t)snprintf(out + o, len - o, "%02x", raw[i]);
	return 0;
}

/*
 * Records the event for every configured target: 0 with `id` set and
 * *payload the JSON recorded (caller frees), or -EIO.
 */
static int
record(struct daemon *d, const char *type, cJSON *data, char *id, size_t len,
       char **payload)
{
	struct store *st = d->store;
	double now = now_wall();
	struct timespec ts;
	struct tm tm;
	char stamp[40];
	cJSON *o = cJSON_CreateObject();
	bool outer;
	int rc;

	*payload = NULL;
	cJSON_AddStringToObject(o, "type", type);
	if (event_id(id, len) != 0) {
		cJSON_Delete(data);
		cJSON_Delete(o);
		return -EIO;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S",
		 gmtime_r(&ts.tv_sec, &tm));
	snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp),
		 ".%03ldZ", ts.tv_nsec / 1000000);
	cJSON_AddStringToObject(o, "timestamp", stamp);
	cJSON_AddItemToObject(o, "data", data ? data : cJSON_CreateObject());
	*payload = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	rc = store_unit_begin(st, &outer);
	if (rc == 0) {
		for (int t = 0; rc == 0 && t < T__COUNT; t++)
			if (target_config(d, t) != NULL)
				rc = store_outbox_add(st, id, target_names[t],
						      type, *payload, now);
		rc = unit_end(st, outer, rc);
	}
	if (rc != 0) {
		log_warnx("notify: cannot record %s: %s", type,
			  store_last_error(st));
		free(*payload);
		*payload = NULL;
	}
	return rc;
}

int
notifier_event(struct daemon *d, const char *type, cJSON *data)
{
	const struct config *cfg = &d->cfg;
	int ev = config_event(type);
	char id[48], *payload;
	int rc;

	if ((cfg->notify_command == NULL && cfg->notify_url == NULL) ||
	    (ev >= 0 && !(cfg->notify_events & (1u << ev)))) {
		cJSON_Delete(data);
		return 0;
	}
	rc = record(d, type, data, id, sizeof(id), &payload);
	free(payload);
	if (rc == 0) {
		log_info("notify: %s recorded as %s", type, id);
		/* Delivery looks once the caller's transaction is over. */
		if (d->notifier != NULL)
			wake(d->notifier, 0);
	}
	return rc;
}

int
notifier_test(struct daemon *d, notifier_test_cb cb, void *arg, char *err,
	      size_t errlen)
{
	struct notifier *n = d->notifier;
	struct test *t;
	cJSON *data;
	char id[48], *payload;
	int rc;

	if (n == NULL || n->closing) {
		snprintf(err, errlen, "rftd is shutting down");
		return -ECANCELED;
	}
	if (d->cfg.notify_command == NULL && d->cfg.notify_url == NULL) {
		snprintf(err, errlen,
			 "[notify] has neither command nor url: there is "
			 "nowhere to send a notification");
		return -ENOENT;
	}
	data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "message",
				"a test notification from rftd");
	rc = record(d, "test", data, id, sizeof(id), &payload);
	if (rc != 0) {
		snprintf(err, errlen, "cannot record the test notification: %s",
			 store_last_error(d->store));
		return rc;
	}
	log_info("notify: test recorded as %s", id);
	t = xcalloc(1, sizeof(*t));
	t->n = n;
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->targets = cJSON_CreateArray();
	t->cb = cb;
	t->arg = arg;
	t->next = n->tests;
	n->tests = t;
	/* One for each target, and one until every attempt has started:
	 * an attempt may end at once. */
	t->waiting = 1;
	for (int tg = 0; tg < T__COUNT; tg++)
		if (target_config(d, tg) != NULL)
			t->waiting++;
	/* Its attempts start now, past the limit on attempts at once: a
	 * person waits for them. */
	for (int tg = 0; tg < T__COUNT; tg++) {
		struct store_outbox_row r = {
		    .id = id,
		    .target = target_names[tg],
		    .type = "test",
		    .payload = payload,
		    .created_at = now_wall(),
		};

		if (target_config(d, tg) != NULL &&
		    !attempt_start(n, tg, &r, t))
			test_add(t, tg, false,
				 "failed: cannot record the attempt");
	}
	free(payload);
	test_add(t, T_COMMAND, false, NULL);
	return 0;
}

/* Whether an event of `type` would be recorded now. */
static bool
wanted(const struct daemon *d, const char *type)
{
	int ev = config_event(type);

	return (d->cfg.notify_command != NULL || d->cfg.notify_url != NULL) &&
	       (ev < 0 || (d->cfg.notify_events & (1u << ev)));
}

int
notifier_trial_event(struct daemon *d, const char *type, int64_t sweep_id,
		     int64_t trial_id, int64_t job_id, const char *error)
{
	cJSON *data;

	if (!wanted(d, type))
		return 0;
	data = store_outbox_trial_data(d->store, sweep_id, trial_id, job_id);
	if (data == NULL)
		return -EIO;
	if (error != NULL)
		cJSON_AddStringToObject(data, "error", error);
	return notifier_event(d, type, data);
}

int
notifier_sweeps_refresh(struct daemon *d, double now)
{
	struct store *st = d->store;
	int64_t *ids = NULL;
	size_t n = 0;
	bool outer;
	int rc;

	if (!wanted(d, "sweep.completed"))
		return store_sweeps_refresh(st, now, NULL, NULL);
	rc = store_unit_begin(st, &outer);
	if (rc != 0)
		return rc;
	rc = store_sweeps_refresh(st, now, &ids, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		cJSON *data = store_outbox_sweep_data(st, ids[i]);

		rc = data != NULL ? notifier_event(d, "sweep.completed", data)
				  : -EIO;
	}
	free(ids);
	return unit_end(st, outer, rc);
}

void
notifier_holds(struct daemon *d)
{
	struct notifier *n = d->notifier;
	double now = now_wall();

	if (n == NULL || n->closing)
		return;
	for (size_t i = 0; i < d->nbackends; i++) {
		struct backend *be = d->backends[i];
		bool held = be->hold_until > now;
		cJSON *data;

		/* A process backend holds while its GPUs are busy: its own
		 * work, no provider's. */
		if (held == n->held[i] || strcmp(be->ops->type, "process") == 0)
			continue;
		n->held[i] = held;
		data = cJSON_CreateObject();
		cJSON_AddStringToObject(data, "backend", be->name);
		cJSON_AddStringToObject(data, "backend_type", be->ops->type);
		if (held) {
			cJSON_AddNumberToObject(data, "until", be->hold_until);
			cJSON_AddStringToObject(data, "reason",
						be->hold_reason);
		}
		notifier_event(
		    d, held ? "provider.hold_started" : "provider.hold_ended",
		    data);
	}
}
