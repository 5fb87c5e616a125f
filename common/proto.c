/* Framing, envelopes, method and error tables of the control protocol. */
#include "proto.h"

#include "util.h"

#include <errno.h>
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

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
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

		if (r->discarding) {
			if (nl != NULL)
				r->discarding = false;
		} else if (r->len - r->frame_start + body > r->max) {
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

	memset(req, 0, sizeof(*req));
	req->root = parse_json(frame, len, err);
	if (req->root == NULL)
		return err->code;
	if (!cJSON_IsObject(req->root))
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "a request must be a JSON object");

	id = cJSON_GetObjectItemCaseSensitive(req->root, "id");
	if (id != NULL && !cJSON_IsNumber(id) && !cJSON_IsString(id) &&
	    !cJSON_IsNull(id))
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "/id: must be a number, string or null");
	req->id = id;

	if (!version_ok(req->root))
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "/jsonrpc: must be \"2.0\"");
	method = cJSON_GetObjectItemCaseSensitive(req->root, "method");
	if (!cJSON_IsString(method))
		return proto_error_set(err, PROTO_E_INVALID_REQUEST,
				       "/method: must be a string");
	if (proto_method_lookup(method->valuestring, &req->method) != 0)
		return proto_error_set(err, PROTO_E_METHOD_NOT_FOUND,
				       "unknown method '%.200s'",
				       method->valuestring);
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

static char *
finish_frame(cJSON *msg, size_t *len)
{
	char *text = cJSON_PrintUnformatted(msg);
	size_t n;

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
	if (id != NULL)
		cJSON_AddItemToObject(msg, "id", cJSON_Duplicate(id, 1));
	else
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
