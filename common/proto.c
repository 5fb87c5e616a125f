/* Framing, envelopes, method and error tables of the control protocol. */
#include "proto.h"

#include "jsonutil.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct proto_method_info methods[PROTO_M__COUNT] = {
#define PROTO_X(id, name, access, summary)                                     \
	[PROTO_M_##id] = {name, access, summary},
    PROTO_METHODS(PROTO_X)
#undef PROTO_X
};

const struct proto_method_info *
proto_method_info(enum proto_method m)
{
	return &methods[m];
}

int
proto_method_lookup(const char *name, enum proto_method *out)
{
	for (int i = 0; i < PROTO_M__COUNT; i++) {
		if (strcmp(methods[i].name, name) == 0) {
			*out = (enum proto_method)i;
			return 0;
		}
	}
	return -ENOENT;
}

static const struct {
	int code;
	const char *text;
} error_texts[] = {
#define PROTO_X(id, code, text) {code, text},
    PROTO_ERRORS(PROTO_X)
#undef PROTO_X
};

const char *
proto_error_text(int code)
{
	for (size_t i = 0; i < ARRAY_LEN(error_texts); i++)
		if (error_texts[i].code == code)
			return error_texts[i].text;
	return "unknown error";
}

int
proto_error_set(struct proto_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	char text[2048];

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Messages quote client text: they must stay valid UTF-8. */
	utf8_excerpt(err->message, sizeof(err->message), text);
	return code;
}

/* --- frame reader ------------------------------------------------------ */

/*
 * An oversized frame leaves an empty line in its place, and its offset in
 * marks[], so that the error comes out in order with the other frames.
 * Client bytes cannot forge a mark.
 */

void
proto_reader_init(struct proto_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
}

void
proto_reader_free(struct proto_reader *r)
{
	free(r->buf);
	free(r->marks);
	memset(r, 0, sizeof(*r));
}

static void
reader_append(struct proto_reader *r, const char *data, size_t n)
{
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;

		while (cap < r->len + n)
			cap *= 2;
		r->buf = xrealloc(r->buf, cap);
		r->cap = cap;
	}
	memcpy(r->buf + r->len, data, n);
	r->len += n;
}

static void
reader_mark_oversized(struct proto_reader *r)
{
	r->len = r->frame_start;
	r->marks = xrealloc(r->marks, (r->nmarks + 1) * sizeof(*r->marks));
	r->marks[r->nmarks++] = r->len;
	reader_append(r, "\n", 1);
	r->frame_start = r->len;
}

void
proto_reader_feed(struct proto_reader *r, const char *data, size_t n)
{
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->frame_start -= r->pos;
		for (size_t i = 0; i < r->nmarks; i++)
			r->marks[i] -= r->pos;
		r->pos = 0;
	}
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t body = nl ? (size_t)(nl - data) : n;
		size_t seg = nl ? body + 1 : n;
		size_t frame = r->len - r->frame_start + body;
		size_t max = r->max;

		/* A '\r' before the newline is not part of the frame, and
		 * while the newline has not come, the last byte may be one. */
		if (nl == NULL)
			max++;
		else if (frame > 0 && (body > 0 ? data[body - 1]
						: r->buf[r->len - 1]) == '\r')
			frame--;
		if (r->discarding) {
			if (nl != NULL)
				r->discarding = false;
		} else if (frame > max) {
			reader_mark_oversized(r);
			r->discarding = nl == NULL;
		} else {
			reader_append(r, data, seg);
			if (nl != NULL)
				r->frame_start = r->len;
		}
		data += seg;
		n -= seg;
	}
}

int
proto_reader_next(struct proto_reader *r, const char **frame, size_t *len)
{
	while (r->pos < r->frame_start) {
		char *f = r->buf + r->pos;
		char *nl = memchr(f, '\n', r->frame_start - r->pos);
		size_t n = (size_t)(nl - f);

		if (r->nmarks > 0 && r->marks[0] == r->pos) {
			r->pos += 1;
			r->nmarks--;
			memmove(r->marks, r->marks + 1,
				r->nmarks * sizeof(*r->marks));
			return -EMSGSIZE;
		}
		r->pos += n + 1;
		if (n > 0 && f[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		*frame = f;
		*len = n;
		return 1;
	}
	return 0;
}

bool
proto_reader_partial(const struct proto_reader *r)
{
	return r->len > r->frame_start || r->discarding;
}

/* --- envelopes ---------------------------------------------------------- */

static int
json_depth(const cJSON *item)
{
	int deepest = 0;

	for (const cJSON *c = item->child; c != NULL; c = c->next) {
		int d = json_depth(c);

		if (d > deepest)
			deepest = d;
	}
	return deepest + 1;
}

static cJSON *
parse_json(const char *frame, size_t len, struct proto_error *err)
{
	const char *end = NULL;
	cJSON *root;

	if (memchr(frame, '\0', len) != NULL) {
		proto_error_set(err, PROTO_E_PARSE_ERROR,
				"frame contains a NUL byte");
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts(frame, len, &end, false);
	if (root != NULL) {
		while (end < frame + len && strchr(" \t\r\n", *end) != NULL)
			end++;
		if (end != frame + len) {
			cJSON_Delete(root);
			proto_error_set(err, PROTO_E_PARSE_ERROR,
					"trailing bytes after the JSON value "
					"(at byte %zu)",
					(size_t)(end - frame));
			return NULL;
		}
	}
	if (root == NULL) {
		const char *at = cJSON_GetErrorPtr();
		size_t off = at && at >= frame && at <= frame + len
				 ? (size_t)(at - frame)
				 : len;

		proto_error_set(err, PROTO_E_PARSE_ERROR,
				"not valid JSON (at byte %zu)", off);
		return NULL;
	}
	if (json_depth(root) > PROTO_MAX_DEPTH) {
		cJSON_Delete(root);
		proto_error_set(err, PROTO_E_INVALID_REQUEST,
				"JSON nested deeper than %d levels",
				PROTO_MAX_DEPTH);
		return NULL;
	}
	return root;
}

static int
cmp_member_keys(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a;
	const cJSON *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

/*
 * A key that appears twice among the members of `obj`, or NULL.  Objects
 * of more than a few members are checked sorted, so that a frame of many
 * keys costs n log n, not n squared.
 */
static const char *
duplicate_key(const cJSON *obj)
{
	const cJSON *c, **members;
	const char *dup = NULL;
	size_t n = 0, i = 0;

	cJSON_ArrayForEach(c, obj) n++;
	if (n <= 8) {
		for (c = obj->child; c != NULL; c = c->next)
			for (const cJSON *e = c->next; e != NULL; e = e->next)
				if (strcmp(c->string, e->string) == 0)
					return c->string;
		return NULL;
	}
	members = xcalloc(n, sizeof(*members));
	cJSON_ArrayForEach(c, obj) members[i++] = c;
	qsort(members, n, sizeof(*members), cmp_member_keys);
	for (i = 1; i < n && dup == NULL; i++)
		if (strcmp(members[i - 1]->string, members[i]->string) == 0)
			dup = members[i]->string;
	free(members);
	return dup;
}

/*
 * Finds a key given twice in one object, anywhere under `item` (whose
 * JSON pointer is `path`): true, with the pointer of that key in `out`.
 * cJSON keeps both members and reads the first, so a request that names
 * its method twice would run one and show the other to a reader.  The
 * recursion is bounded: parse_json() refused deeper nesting.
 */
static bool
find_duplicate_key(const cJSON *item, const char *path, char *out,
		   size_t outlen)
{
	const char *dup = cJSON_IsObject(item) ? duplicate_key(item) : NULL;
	const cJSON *c;
	char p[256];
	int i = 0;

	if (dup != NULL) {
		json_pointer_key(out, outlen, path, dup);
		return true;
	}
	cJSON_ArrayForEach(c, item)
	{
		if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
			if (cJSON_IsObject(item))
				json_pointer_key(p, sizeof(p), path, c->string);
			else
				json_pointer_index(p, sizeof(p), path, i);
			if (find_duplicate_key(c, p, out, outlen))
				return true;
		}
		i++;
	}
	return false;
}

/*
 * Finds an escaped NUL (\u0000) in a frame that parsed: true, with its
 * offset.  In valid JSON every backslash starts an escape inside a
 * string, so a scan from escape to escape is exact.  cJSON would cut the
 * string there: "daemon.ping\u0000junk" would run daemon.ping.
 */
static bool
find_escaped_nul(const char *frame, size_t len, size_t *at)
{
	const char *p = frame, *end = frame + len;

	while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL &&
	       end - p >= 2) {
		if (p[1] == 'u' && end - p >= 6 &&
		    memcmp(p + 2, "0000", 4) == 0) {
			*at = (size_t)(p - frame);
			return true;
		}
		p += 2; /* past the escaped character */
	}
	return false;
}

/* Largest integer that a double holds exactly, with all below it. */
#define EXACT_INT_MAX 9007199254740991.0 /* 2^53 - 1 */

/*
 * Prints a number id so that it reads back as the same number: an
 * integer in full, digit for digit; another number in the fewest digits
 * that read back to the same double.
 */
static void
id_number_text(double d, char *buf, size_t len)
{
	if (d == floor(d) && fabs(d) <= EXACT_INT_MAX) {
		snprintf(buf, len, "%.0f", d);
		return;
	}
	for (int digits = 15; digits <= 17; digits++) {
		snprintf(buf, len, "%.*g", digits, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/* Checks the request's id: 0, or -32600 with `err` filled. */
static int
check_id(const cJSON *id, struct proto_error *err)
{
	if (id == NULL || cJSON_IsString(id) || cJSON_IsNull(id))
		return 0;
	if (!cJSON_IsNumber(id))
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "/id: must be a number, string or null");
	if (!isfinite(id->valuedouble))
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "/id: must be a finite number");
	if (id->valuedouble == floor(id->valuedouble) &&
	    fabs(id->valuedouble) > EXACT_INT_MAX)
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "/id: an integer id must be at most "
				       "9007199254740991 (2^53 - 1) in "
				       "magnitude, so that the reply can "
				       "carry it exactly");
	return 0;
}

static bool
version_ok(const cJSON *root)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "jsonrpc");

	return cJSON_IsString(v) && strcmp(v->valuestring, "2.0") == 0;
}

int
proto_request_parse(const char *frame, size_t len, struct proto_request *req,
		    struct proto_error *err)
{
	const cJSON *id, *method, *params;
	char dup_path[256], name[204];
	bool dup, nul;
	size_t nul_at = 0;

	memset(req, 0, sizeof(*req));
	req->root = parse_json(frame, len, err);
	if (req->root == NULL)
		return err->code;
	if (!cJSON_IsObject(req->root))
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "a request must be a JSON object");

	dup = find_duplicate_key(req->root, "", dup_path, sizeof(dup_path));
	nul = find_escaped_nul(frame, len, &nul_at);
	id = cJSON_GetObjectItemCaseSensitive(req->root, "id");
	/* The id is echoed only when it is the one the client sent. */
	if (check_id(id, err) != 0)
		return err->code;
	if (!(dup && strcmp(dup_path, "/id") == 0) &&
	    !(nul && cJSON_IsString(id)))
		req->id = id;
	if (dup)
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "%s: the key appears more than once "
				       "in its object",
				       dup_path);
	if (nul)
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "a string contains \\u0000 (at byte "
				       "%zu); NUL is not allowed",
				       nul_at);

	if (!version_ok(req->root))
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "/jsonrpc: must be \"2.0\"");
	method = cJSON_GetObjectItemCaseSensitive(req->root, "method");
	if (!cJSON_IsString(method))
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "/method: must be a string");
	if (proto_method_lookup(method->valuestring, &req->method) != 0)
		return proto_error_set(
		    err, PROTO_E_METHOD_NOT_FOUND, "unknown method '%s'",
		    utf8_excerpt(name, sizeof(name), method->valuestring));
	params = cJSON_GetObjectItemCaseSensitive(req->root, "params");
	if (params != NULL && !cJSON_IsObject(params))
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params: must be an object");
	req->params = params;
	return 0;
}

void
proto_request_free(struct proto_request *req)
{
	cJSON_Delete(req->root);
	memset(req, 0, sizeof(*req));
}

/*
 * Replaces what is not valid UTF-8 in the strings and keys under `item`
 * with U+FFFD: a reply may carry text that came from outside (a client's
 * keys, a spec's names, rows of the store), and a frame must be UTF-8.
 */
static void
repair_utf8(cJSON *item)
{
	for (cJSON *c = item; c != NULL; c = c->next) {
		char *fixed;

		if (c->string != NULL &&
		    (fixed = utf8_repaired(c->string)) != NULL) {
			if (!(c->type & cJSON_StringIsConst))
				cJSON_free(c->string);
			c->string = cJSON_malloc(strlen(fixed) + 1);
			if (c->string == NULL)
				fatalx("out of memory (reply)");
			strcpy(c->string, fixed);
			c->type &= ~cJSON_StringIsConst;
			free(fixed);
		}
		if (cJSON_IsString(c) &&
		    (fixed = utf8_repaired(c->valuestring)) != NULL) {
			if (cJSON_SetValuestring(c, fixed) == NULL)
				fatalx("out of memory (reply)");
			free(fixed);
		}
		if (c->child != NULL)
			repair_utf8(c->child);
	}
}

static char *
finish_frame(cJSON *msg, size_t *len)
{
	char *text;
	size_t n;

	repair_utf8(msg);
	text = cJSON_PrintUnformatted(msg);
	cJSON_Delete(msg);
	if (text == NULL)
		return NULL;
	n = strlen(text);
	text = xrealloc(text, n + 2);
	text[n] = '\n';
	text[n + 1] = '\0';
	*len = n + 1;
	return text;
}

static cJSON *
envelope(const cJSON *id)
{
	cJSON *msg = cJSON_CreateObject();

	cJSON_AddStringToObject(msg, "jsonrpc", "2.0");
	if (cJSON_IsNumber(id) && isfinite(id->valuedouble)) {
		/* cJSON prints 2^53 - 1 as 9.00719925474099e+15. */
		char text[64];

		id_number_text(id->valuedouble, text, sizeof(text));
		cJSON_AddRawToObject(msg, "id", text);
	} else if (id != NULL && !cJSON_IsNumber(id)) {
		cJSON_AddItemToObject(msg, "id", cJSON_Duplicate(id, 1));
	} else
		cJSON_AddNullToObject(msg, "id");
	return msg;
}

char *
proto_result_frame(const cJSON *id, cJSON *result, size_t *len)
{
	cJSON *msg = envelope(id);

	cJSON_AddItemToObject(msg, "result",
			      result ? result : cJSON_CreateNull());
	return finish_frame(msg, len);
}

char *
proto_error_frame(const cJSON *id, int code, const char *message, cJSON *data,
		  size_t *len)
{
	cJSON *msg = envelope(id);
	cJSON *e = cJSON_AddObjectToObject(msg, "error");

	cJSON_AddNumberToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", message);
	if (data != NULL)
		cJSON_AddItemToObject(e, "data", data);
	return finish_frame(msg, len);
}

char *
proto_request_frame(int64_t id, const char *method, cJSON *params, size_t *len)
{
	cJSON *msg = cJSON_CreateObject();

	cJSON_AddStringToObject(msg, "jsonrpc", "2.0");
	cJSON_AddNumberToObject(msg, "id", (double)id);
	cJSON_AddStringToObject(msg, "method", method);
	if (params != NULL)
		cJSON_AddItemToObject(msg, "params", params);
	return finish_frame(msg, len);
}

int
proto_reply_parse(const char *frame, size_t len, struct proto_reply *rep,
		  struct proto_error *err)
{
	const cJSON *id, *e, *code, *message;

	memset(rep, 0, sizeof(*rep));
	rep->id = -1;
	rep->root = parse_json(frame, len, err);
	if (rep->root == NULL)
		return err->code;
	if (!cJSON_IsObject(rep->root) || !version_ok(rep->root))
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "not a JSON-RPC 2.0 reply");
	id = cJSON_GetObjectItemCaseSensitive(rep->root, "id");
	if (cJSON_IsNumber(id))
		rep->id = (int64_t)id->valuedouble;
	else if (!cJSON_IsNull(id))
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "/id: must be a number or null");

	e = cJSON_GetObjectItemCaseSensitive(rep->root, "error");
	if (e == NULL) {
		rep->result =
		    cJSON_GetObjectItemCaseSensitive(rep->root, "result");
		if (rep->result == NULL)
			return proto_error_set(err, PROTO_E_INVALID_REQUEST,
					       "reply has neither result nor "
					       "error");
		return 0;
	}
	code = cJSON_GetObjectItemCaseSensitive(e, "code");
	message = cJSON_GetObjectItemCaseSensitive(e, "message");
	if (!cJSON_IsNumber(code) || !cJSON_IsString(message))
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "/error: needs a numeric code and a "
				       "message");
	rep->code = code->valueint != 0 ? code->valueint : PROTO_E_INTERNAL;
	rep->message = message->valuestring;
	rep->data = cJSON_GetObjectItemCaseSensitive(e, "data");
	return 0;
}

void
proto_reply_free(struct proto_reply *rep)
{
	cJSON_Delete(rep->root);
	memset(rep, 0, sizeof(*rep));
}
