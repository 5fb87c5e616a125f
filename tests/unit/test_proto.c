/*
 * The control protocol codec (common/proto.h): request validation, the
 * bounded frame reader, reply frames and the method and error tables.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "proto.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- helpers ------------------------------------------------------------ */

static int
parse(const char *frame, struct proto_request *req, struct proto_error *err)
{
	return proto_request_parse(frame, strlen(frame), req, err);
}

/* Expects `frame` to be refused with `code` and an explanation. */
static void
assert_rejected(const char *frame, int code)
{
	struct proto_request req;
	struct proto_error err = {0};

	assert_int_equal(parse(frame, &req, &err), code);
	assert_int_equal(err.code, code);
	assert_true(err.message[0] != '\0');
	proto_request_free(&req);
}

/*
 * A request whose params hold nested empty arrays, {"a":[[...]]}, so that
 * the JSON is `depth` containers deep (the root object counts as one).
 */
static char *
nested_request(int depth)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"method\":\"daemon."
				   "ping\",\"params\":{\"a\":";
	int arrays = depth - 2;
	size_t n = sizeof(head) - 1 + 2 * (size_t)arrays + 3;
	char *s = malloc(n);
	char *p = s;

	assert_non_null(s);
	memcpy(p, head, sizeof(head) - 1);
	p += sizeof(head) - 1;
	memset(p, '[', (size_t)arrays);
	p += arrays;
	memset(p, ']', (size_t)arrays);
	p += arrays;
	memcpy(p, "}}", 3);
	return s;
}

/* Expects the next frame of `r` to be exactly `want`. */
static void
assert_next_frame(struct proto_reader *r, const char *want)
{
	const char *frame = NULL;
	size_t len = 0;

	assert_int_equal(proto_reader_next(r, &frame, &len), 1);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(frame, want, len);
}

static void
assert_no_frame(struct proto_reader *r)
{
	const char *frame;
	size_t len;

	assert_int_equal(proto_reader_next(r, &frame, &len), 0);
}

static void
assert_next_oversized(struct proto_reader *r)
{
	const char *frame;
	size_t len;

	assert_int_equal(proto_reader_next(r, &frame, &len), -EMSGSIZE);
}

static void
feed_str(struct proto_reader *r, const char *s)
{
	proto_reader_feed(r, s, strlen(s));
}

/* Feeds `n` copies of byte `c`, `chunk` bytes at a time. */
static void
feed_repeated(struct proto_reader *r, char c, size_t n, size_t chunk)
{
	char *buf = malloc(chunk);

	assert_non_null(buf);
	memset(buf, c, chunk);
	while (n > 0) {
		size_t k = n < chunk ? n : chunk;

		proto_reader_feed(r, buf, k);
		n -= k;
	}
	free(buf);
}

/* Counts -EMSGSIZE results until no frame is left; fails on a frame. */
static int
drain_oversized(struct proto_reader *r)
{
	const char *frame;
	size_t len;
	int rc, count = 0;

	while ((rc = proto_reader_next(r, &frame, &len)) != 0) {
		assert_int_equal(rc, -EMSGSIZE);
		count++;
	}
	return count;
}

/* --- valid requests ------------------------------------------------------ */

static void
request_with_number_id_is_accepted(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(
	    parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"daemon.ping\"}",
		  &req, &err),
	    0);
	assert_non_null(req.id);
	assert_true(cJSON_IsNumber(req.id));
	assert_int_equal(req.id->valueint, 7);
	assert_int_equal(req.method, PROTO_M_DAEMON_PING);
	assert_null(req.params);
	proto_request_free(&req);
}

static void
request_with_string_id_is_accepted(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":\"abc\","
			       "\"method\":\"daemon.status\"}",
			       &req, &err),
			 0);
	assert_true(cJSON_IsString(req.id));
	assert_string_equal(req.id->valuestring, "abc");
	assert_int_equal(req.method, PROTO_M_DAEMON_STATUS);
	proto_request_free(&req);
}

static void
request_with_null_id_is_accepted(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":null,"
			       "\"method\":\"daemon.ping\"}",
			       &req, &err),
			 0);
	assert_true(cJSON_IsNull(req.id));
	proto_request_free(&req);
}

static void
request_params_object_is_passed_through(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};
	const cJSON *x;

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			       "\"daemon.status\",\"params\":{\"x\":42}}",
			       &req, &err),
			 0);
	assert_true(cJSON_IsObject(req.params));
	x = cJSON_GetObjectItemCaseSensitive(req.params, "x");
	assert_true(cJSON_IsNumber(x));
	assert_int_equal(x->valueint, 42);
	proto_request_free(&req);
}

static void
notification_without_id_has_no_id(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(
	    parse("{\"jsonrpc\":\"2.0\",\"method\":\"daemon.ping\"}", &req,
		  &err),
	    0);
	assert_null(req.id);
	assert_int_equal(req.method, PROTO_M_DAEMON_PING);
	proto_request_free(&req);
}

static void
trailing_whitespace_after_json_is_accepted(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(
	    parse("{\"jsonrpc\":\"2.0\",\"method\":\"daemon.ping\"} \t\r", &req,
		  &err),
	    0);
	proto_request_free(&req);
}

static void
request_frame_is_parsed_back_as_a_request(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};
	cJSON *params = cJSON_CreateObject();
	size_t len = 0;
	char *frame;

	(void)state;
	cJSON_AddStringToObject(params, "k", "v");
	frame = proto_request_frame(12, "daemon.status", params, &len);
	assert_non_null(frame);
	assert_int_equal(len, strlen(frame));
	assert_int_equal(frame[len - 1], '\n');
	assert_int_equal(proto_request_parse(frame, len - 1, &req, &err), 0);
	assert_int_equal(req.id->valueint, 12);
	assert_int_equal(req.method, PROTO_M_DAEMON_STATUS);
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(req.params, "k")->valuestring,
	    "v");
	proto_request_free(&req);
	free(frame);
}

/* --- malformed frames ---------------------------------------------------- */

static void
truncated_json_is_a_parse_error(void **state)
{
	(void)state;
	assert_rejected("{\"jsonrpc\":\"2.0\",\"id\":1,\"meth",
			PROTO_E_PARSE_ERROR);
}

static void
frame_that_is_not_json_is_a_parse_error(void **state)
{
	(void)state;
	assert_rejected("hello, daemon", PROTO_E_PARSE_ERROR);
}

static void
empty_frame_is_a_parse_error(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(proto_request_parse("", 0, &req, &err),
			 PROTO_E_PARSE_ERROR);
	proto_request_free(&req);
}

static void
trailing_garbage_after_json_is_a_parse_error(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(
	    parse("{\"jsonrpc\":\"2.0\",\"method\":\"daemon.ping\"} x", &req,
		  &err),
	    PROTO_E_PARSE_ERROR);
	assert_non_null(strstr(err.message, "trailing"));
	proto_request_free(&req);
}

static void
two_json_values_in_one_frame_are_a_parse_error(void **state)
{
	(void)state;
	assert_rejected("{\"jsonrpc\":\"2.0\",\"method\":\"daemon.ping\"}"
			"{\"jsonrpc\":\"2.0\",\"method\":\"daemon.ping\"}",
			PROTO_E_PARSE_ERROR);
}

static void
nul_byte_in_frame_is_a_parse_error(void **state)
{
	static const char frame[] =
	    "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.ping\"}\0{}";
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(
	    proto_request_parse(frame, sizeof(frame) - 1, &req, &err),
	    PROTO_E_PARSE_ERROR);
	assert_non_null(strstr(err.message, "NUL"));
	proto_request_free(&req);
}

static void
nul_byte_inside_a_string_is_a_parse_error(void **state)
{
	static const char frame[] =
	    "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.ping\0x\"}";
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(
	    proto_request_parse(frame, sizeof(frame) - 1, &req, &err),
	    PROTO_E_PARSE_ERROR);
	proto_request_free(&req);
}

static void
array_top_level_is_invalid_request(void **state)
{
	(void)state;
	assert_rejected("[{\"jsonrpc\":\"2.0\",\"method\":\"daemon.ping\"}]",
			PROTO_E_INVALID_REQUEST);
}

static void
scalar_top_level_is_invalid_request(void **state)
{
	(void)state;
	assert_rejected("42", PROTO_E_INVALID_REQUEST);
	assert_rejected("\"daemon.ping\"", PROTO_E_INVALID_REQUEST);
	assert_rejected("null", PROTO_E_INVALID_REQUEST);
}

static void
missing_jsonrpc_is_invalid_request_and_keeps_the_id(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(
	    parse("{\"id\":5,\"method\":\"daemon.ping\"}", &req, &err),
	    PROTO_E_INVALID_REQUEST);
	assert_non_null(strstr(err.message, "jsonrpc"));
	assert_non_null(req.id);
	assert_int_equal(req.id->valueint, 5);
	proto_request_free(&req);
}

static void
wrong_jsonrpc_version_is_invalid_request(void **state)
{
	(void)state;
	assert_rejected("{\"jsonrpc\":\"1.0\",\"method\":\"daemon.ping\"}",
			PROTO_E_INVALID_REQUEST);
	assert_rejected("{\"jsonrpc\":2.0,\"method\":\"daemon.ping\"}",
			PROTO_E_INVALID_REQUEST);
	assert_rejected("{\"jsonrpc\":null,\"method\":\"daemon.ping\"}",
			PROTO_E_INVALID_REQUEST);
}

static void
method_not_a_string_is_invalid_request(void **state)
{
	(void)state;
	assert_rejected("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":42}",
			PROTO_E_INVALID_REQUEST);
	assert_rejected("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":[\"a\"]}",
			PROTO_E_INVALID_REQUEST);
}

static void
missing_method_is_invalid_request(void **state)
{
	(void)state;
	assert_rejected("{\"jsonrpc\":\"2.0\",\"id\":1}",
			PROTO_E_INVALID_REQUEST);
}

static void
id_object_is_invalid_request(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},"
			       "\"method\":\"daemon.ping\"}",
			       &req, &err),
			 PROTO_E_INVALID_REQUEST);
	assert_non_null(strstr(err.message, "/id"));
	/* An unusable id is not carried into the error reply. */
	assert_null(req.id);
	proto_request_free(&req);
}

static void
id_array_is_invalid_request(void **state)
{
	(void)state;
	assert_rejected("{\"jsonrpc\":\"2.0\",\"id\":[1],"
			"\"method\":\"daemon.ping\"}",
			PROTO_E_INVALID_REQUEST);
}

static void
id_boolean_is_invalid_request(void **state)
{
	(void)state;
	assert_rejected("{\"jsonrpc\":\"2.0\",\"id\":true,"
			"\"method\":\"daemon.ping\"}",
			PROTO_E_INVALID_REQUEST);
}

static void
params_array_is_invalid_params(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
			       "\"daemon.ping\",\"params\":[1,2]}",
			       &req, &err),
			 PROTO_E_INVALID_PARAMS);
	assert_non_null(strstr(err.message, "/params"));
	assert_int_equal(req.id->valueint, 3);
	proto_request_free(&req);
}

static void
params_string_is_invalid_params(void **state)
{
	(void)state;
	assert_rejected("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
			"\"daemon.ping\",\"params\":\"x\"}",
			PROTO_E_INVALID_PARAMS);
}

static void
unknown_method_is_method_not_found_and_named(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":9,"
			       "\"method\":\"sweep.explode\"}",
			       &req, &err),
			 PROTO_E_METHOD_NOT_FOUND);
	assert_int_equal(err.code, -32601);
	assert_non_null(strstr(err.message, "sweep.explode"));
	assert_int_equal(req.id->valueint, 9);
	proto_request_free(&req);
}

static void
nesting_at_max_depth_is_accepted(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};
	char *frame = nested_request(PROTO_MAX_DEPTH);

	(void)state;
	assert_int_equal(parse(frame, &req, &err), 0);
	proto_request_free(&req);
	free(frame);
}

static void
nesting_deeper_than_max_depth_is_invalid_request(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};
	char *frame = nested_request(PROTO_MAX_DEPTH + 1);

	(void)state;
	assert_int_equal(parse(frame, &req, &err), PROTO_E_INVALID_REQUEST);
	assert_non_null(strstr(err.message, "nested"));
	proto_request_free(&req);
	free(frame);
}

static void
absurdly_deep_nesting_is_rejected_without_crashing(void **state)
{
	char *frame = nested_request(100000);
	struct proto_request req;
	struct proto_error err = {0};
	int rc;

	(void)state;
	rc = parse(frame, &req, &err);
	assert_true(rc == PROTO_E_PARSE_ERROR || rc == PROTO_E_INVALID_REQUEST);
	proto_request_free(&req);
	free(frame);
}

/* --- frame reader -------------------------------------------------------- */

static void
reader_returns_several_frames_from_one_feed(void **state)
{
	struct proto_reader r;

	(void)state;
	proto_reader_init(&r, 1024);
	feed_str(&r, "one\ntwo\nthree\n");
	assert_next_frame(&r, "one");
	assert_next_frame(&r, "two");
	assert_next_frame(&r, "three");
	assert_no_frame(&r);
	assert_false(proto_reader_partial(&r));
	proto_reader_free(&r);
}

static void
reader_joins_a_frame_fed_byte_by_byte(void **state)
{
	static const char text[] = "{\"jsonrpc\":\"2.0\",\"id\":1}\n";
	struct proto_reader r;

	(void)state;
	proto_reader_init(&r, 1024);
	for (size_t i = 0; i < sizeof(text) - 2; i++) {
		proto_reader_feed(&r, &text[i], 1);
		assert_no_frame(&r);
		assert_true(proto_reader_partial(&r));
	}
	proto_reader_feed(&r, "\n", 1);
	assert_next_frame(&r, "{\"jsonrpc\":\"2.0\",\"id\":1}");
	assert_no_frame(&r);
	assert_false(proto_reader_partial(&r));
	proto_reader_free(&r);
}

static void
reader_keeps_a_partial_frame_across_returned_frames(void **state)
{
	struct proto_reader r;

	(void)state;
	proto_reader_init(&r, 1024);
	feed_str(&r, "first\nsec");
	assert_next_frame(&r, "first");
	assert_no_frame(&r);
	assert_true(proto_reader_partial(&r));
	feed_str(&r, "ond\nthi");
	assert_next_frame(&r, "second");
	feed_str(&r, "rd\n");
	assert_next_frame(&r, "third");
	assert_no_frame(&r);
	proto_reader_free(&r);
}

static void
reader_strips_crlf_line_endings(void **state)
{
	struct proto_reader r;

	(void)state;
	proto_reader_init(&r, 1024);
	feed_str(&r, "alpha\r\nbeta\r");
	assert_next_frame(&r, "alpha");
	assert_no_frame(&r);
	feed_str(&r, "\n");
	assert_next_frame(&r, "beta");
	assert_no_frame(&r);
	proto_reader_free(&r);
}

static void
reader_skips_empty_lines(void **state)
{
	struct proto_reader r;

	(void)state;
	proto_reader_init(&r, 1024);
	feed_str(&r, "\n\r\n\nping\n\n\r\n");
	assert_next_frame(&r, "ping");
	assert_no_frame(&r);
	assert_false(proto_reader_partial(&r));
	proto_reader_free(&r);
}

static void
reader_accepts_a_frame_of_exactly_max_bytes(void **state)
{
	struct proto_reader r;
	const char *frame;
	size_t len;

	(void)state;
	proto_reader_init(&r, 16);
	feed_repeated(&r, 'x', 16, 16);
	feed_str(&r, "\n");
	assert_int_equal(proto_reader_next(&r, &frame, &len), 1);
	assert_int_equal(len, 16);
	assert_no_frame(&r);
	proto_reader_free(&r);
}

static void
reader_reports_oversized_frame_in_one_feed_once(void **state)
{
	struct proto_reader r;
	char buf[64];

	(void)state;
	proto_reader_init(&r, 16);
	memset(buf, 'x', 17);
	memcpy(buf + 17, "\nok\n", 5);
	feed_str(&r, buf);
	assert_next_oversized(&r);
	assert_next_frame(&r, "ok");
	assert_no_frame(&r);
	assert_false(proto_reader_partial(&r));
	proto_reader_free(&r);
}

static void
reader_reports_oversized_frame_in_place_between_good_frames(void **state)
{
	struct proto_reader r;
	char buf[64];

	(void)state;
	proto_reader_init(&r, 16);
	memcpy(buf, "before\n", 7);
	memset(buf + 7, 'x', 30);
	memcpy(buf + 37, "\nafter\n", 8);
	feed_str(&r, buf);
	assert_next_frame(&r, "before");
	assert_next_oversized(&r);
	assert_next_frame(&r, "after");
	assert_no_frame(&r);
	proto_reader_free(&r);
}

static void
reader_reports_oversized_frame_in_small_chunks_once(void **state)
{
	struct proto_reader r;
	int reported = 0;

	(void)state;
	proto_reader_init(&r, 16);
	for (int i = 0; i < 100; i++) {
		feed_repeated(&r, 'x', 4, 4);
		reported += drain_oversized(&r);
	}
	assert_int_equal(reported, 1);
	assert_true(proto_reader_partial(&r));
	feed_str(&r, "xxxx");
	assert_int_equal(drain_oversized(&r), 0);
	feed_str(&r, "tail\nok\n");
	assert_next_frame(&r, "ok");
	assert_no_frame(&r);
	assert_false(proto_reader_partial(&r));
	proto_reader_free(&r);
}

static void
reader_memory_stays_bounded_while_discarding(void **state)
{
	const size_t max = 64 * 1024, chunk = 4096;
	struct proto_reader r;
	int reported = 0;

	(void)state;
	proto_reader_init(&r, max);
	for (int i = 0; i < 1024; i++) { /* 4 MiB without a newline */
		feed_repeated(&r, 'x', chunk, chunk);
		reported += drain_oversized(&r);
		assert_true(r.len <= max + chunk);
		assert_true(r.cap <= 2 * (max + chunk));
	}
	assert_int_equal(reported, 1);
	feed_str(&r, "\n{\"ok\":1}\n");
	assert_next_frame(&r, "{\"ok\":1}");
	assert_no_frame(&r);
	assert_true(r.cap <= 2 * (max + chunk));
	proto_reader_free(&r);
}

/* A frame holding one NUL byte is a (bad) frame, not an oversized one. */
static void
reader_returns_a_one_byte_nul_frame_as_a_frame(void **state)
{
	struct proto_reader r;
	const char *frame = NULL;
	size_t len = 0;
	int rc;
	char first;

	(void)state;
	proto_reader_init(&r, 1024);
	proto_reader_feed(&r, "\0\n", 2);
	rc = proto_reader_next(&r, &frame, &len);
	first = rc == 1 ? frame[0] : 'x';
	proto_reader_free(&r);
	assert_int_equal(rc, 1);
	assert_int_equal(len, 1);
	assert_int_equal(first, '\0');
}

/* --- replies ------------------------------------------------------------- */

/* Asserts `frame` is one line: a single '\n', at its end. */
static void
assert_one_line(const char *frame, size_t len)
{
	assert_true(len > 0);
	assert_int_equal(frame[len - 1], '\n');
	assert_ptr_equal(memchr(frame, '\n', len), frame + len - 1);
	assert_int_equal(strlen(frame), len);
}

static void
result_frame_is_decoded_back_by_reply_parse(void **state)
{
	cJSON *id = cJSON_CreateNumber(42);
	cJSON *result = cJSON_CreateObject();
	struct proto_reply rep;
	struct proto_error err = {0};
	size_t len = 0;
	char *frame;

	(void)state;
	cJSON_AddTrueToObject(result, "pong");
	frame = proto_result_frame(id, result, &len);
	assert_non_null(frame);
	assert_one_line(frame, len);
	assert_int_equal(proto_reply_parse(frame, len, &rep, &err), 0);
	assert_int_equal(rep.id, 42);
	assert_int_equal(rep.code, 0);
	assert_null(rep.message);
	assert_true(cJSON_IsObject(rep.result));
	assert_true(
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep.result, "pong")));
	proto_reply_free(&rep);
	free(frame);
	cJSON_Delete(id);
}

static void
result_frame_without_result_sends_null(void **state)
{
	cJSON *id = cJSON_CreateNumber(1);
	struct proto_reply rep;
	struct proto_error err = {0};
	size_t len = 0;
	char *frame;

	(void)state;
	frame = proto_result_frame(id, NULL, &len);
	assert_one_line(frame, len);
	assert_int_equal(proto_reply_parse(frame, len, &rep, &err), 0);
	assert_true(cJSON_IsNull(rep.result));
	proto_reply_free(&rep);
	free(frame);
	cJSON_Delete(id);
}

static void
error_frame_is_decoded_back_by_reply_parse(void **state)
{
	cJSON *id = cJSON_CreateNumber(9);
	cJSON *data = cJSON_CreateObject();
	struct proto_reply rep;
	struct proto_error err = {0};
	size_t len = 0;
	char *frame;

	(void)state;
	cJSON_AddStringToObject(data, "field", "lr");
	frame =
	    proto_error_frame(id, PROTO_E_INVALID_PARAMS, "bad lr", data, &len);
	assert_one_line(frame, len);
	assert_int_equal(proto_reply_parse(frame, len, &rep, &err), 0);
	assert_int_equal(rep.id, 9);
	assert_int_equal(rep.code, PROTO_E_INVALID_PARAMS);
	assert_string_equal(rep.message, "bad lr");
	assert_null(rep.result);
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(rep.data, "field")->valuestring,
	    "lr");
	proto_reply_free(&rep);
	free(frame);
	cJSON_Delete(id);
}

static void
error_frame_with_newlines_in_message_stays_one_line(void **state)
{
	static const char message[] = "line one\nline \"two\"\r\n\ttab";
	struct proto_reply rep;
	struct proto_error err = {0};
	size_t len = 0;
	char *frame;

	(void)state;
	frame = proto_error_frame(NULL, PROTO_E_INTERNAL, message, NULL, &len);
	assert_one_line(frame, len);
	assert_int_equal(proto_reply_parse(frame, len, &rep, &err), 0);
	assert_string_equal(rep.message, message);
	assert_null(rep.data);
	proto_reply_free(&rep);
	free(frame);
}

static void
error_frame_without_id_sends_null_id(void **state)
{
	struct proto_reply rep;
	struct proto_error err = {0};
	size_t len = 0;
	char *frame;

	(void)state;
	frame = proto_error_frame(NULL, PROTO_E_FRAME_TOO_LARGE, "too big",
				  NULL, &len);
	assert_one_line(frame, len);
	assert_non_null(strstr(frame, "\"id\":null"));
	assert_int_equal(proto_reply_parse(frame, len, &rep, &err), 0);
	assert_int_equal(rep.id, -1);
	assert_int_equal(rep.code, PROTO_E_FRAME_TOO_LARGE);
	proto_reply_free(&rep);
	free(frame);
}

static void
reply_parse_reads_an_error_reply_with_null_id(void **state)
{
	static const char frame[] =
	    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
	    "{\"code\":-32700,\"message\":\"not valid JSON (at byte 3)\"}}";
	struct proto_reply rep;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(
	    proto_reply_parse(frame, sizeof(frame) - 1, &rep, &err), 0);
	assert_int_equal(rep.id, -1);
	assert_int_equal(rep.code, PROTO_E_PARSE_ERROR);
	assert_string_equal(rep.message, "not valid JSON (at byte 3)");
	assert_null(rep.data);
	assert_null(rep.result);
	proto_reply_free(&rep);
}

static void
reply_without_result_or_error_is_rejected(void **state)
{
	static const char frame[] = "{\"jsonrpc\":\"2.0\",\"id\":1}";
	struct proto_reply rep;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(
	    proto_reply_parse(frame, sizeof(frame) - 1, &rep, &err),
	    PROTO_E_INVALID_REQUEST);
	proto_reply_free(&rep);
}

static void
reply_with_string_id_is_rejected(void **state)
{
	static const char frame[] =
	    "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":1}";
	struct proto_reply rep;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(
	    proto_reply_parse(frame, sizeof(frame) - 1, &rep, &err),
	    PROTO_E_INVALID_REQUEST);
	proto_reply_free(&rep);
}

/* --- tables -------------------------------------------------------------- */

static void
method_lookup_finds_every_table_entry(void **state)
{
	(void)state;
	for (int i = 0; i < PROTO_M__COUNT; i++) {
		const struct proto_method_info *info = proto_method_info(i);
		enum proto_method m = PROTO_M__COUNT;

		assert_non_null(info->name);
		assert_non_null(info->summary);
		assert_int_equal(proto_method_lookup(info->name, &m), 0);
		assert_int_equal(m, i);
	}
}

static void
method_lookup_of_known_names(void **state)
{
	enum proto_method m;

	(void)state;
	assert_int_equal(proto_method_lookup("daemon.ping", &m), 0);
	assert_int_equal(m, PROTO_M_DAEMON_PING);
	assert_int_equal(proto_method_info(m)->access, PROTO_READONLY);
	assert_int_equal(proto_method_lookup("daemon.status", &m), 0);
	assert_int_equal(m, PROTO_M_DAEMON_STATUS);
}

static void
method_lookup_of_unknown_name_is_enoent(void **state)
{
	enum proto_method m = PROTO_M_DAEMON_STATUS;

	(void)state;
	assert_int_equal(proto_method_lookup("daemon.pin", &m), -ENOENT);
	assert_int_equal(proto_method_lookup("DAEMON.PING", &m), -ENOENT);
	assert_int_equal(proto_method_lookup("", &m), -ENOENT);
	assert_int_equal(m, PROTO_M_DAEMON_STATUS);
}

static void
error_text_names_known_codes(void **state)
{
	(void)state;
	assert_string_equal(proto_error_text(-32700), "parse error");
	assert_string_equal(proto_error_text(-32600), "invalid request");
	assert_string_equal(proto_error_text(-32601), "method not found");
	assert_string_equal(proto_error_text(-32602), "invalid params");
	assert_string_equal(proto_error_text(PROTO_E_FRAME_TOO_LARGE),
			    "frame too large");
	assert_string_equal(proto_error_text(PROTO_E_BUSY), "busy");
}

static void
error_text_of_unknown_code_says_unknown(void **state)
{
	(void)state;
	assert_string_equal(proto_error_text(0), "unknown error");
	assert_string_equal(proto_error_text(-1), "unknown error");
	assert_string_equal(proto_error_text(12345), "unknown error");
}

static void
error_set_fills_code_and_truncates_message(void **state)
{
	struct proto_error err;
	char big[1024];

	(void)state;
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(proto_error_set(&err, PROTO_E_CONFLICT, "%s", big),
			 PROTO_E_CONFLICT);
	assert_int_equal(err.code, PROTO_E_CONFLICT);
	assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
}

/* --- review: UTF-8, ids, parser quirks, CRLF at the cap ------------------ */

/* True when the n bytes at s are valid UTF-8 (RFC 3629). */
static bool
valid_utf8(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t c = utf8_char_len(s + i, n - i);

		if (c == 0)
			return false;
		i += c;
	}
	return true;
}

/* Parses `frame` and sends its error back as a reply frame. */
static char *
error_reply_of(const char *frame, int want_code)
{
	struct proto_request req;
	struct proto_error err = {0};
	size_t len;
	char *out;

	assert_int_equal(parse(frame, &req, &err), want_code);
	out = proto_error_frame(req.id, err.code, err.message, NULL, &len);
	assert_non_null(out);
	assert_true(valid_utf8(out, len));
	proto_request_free(&req);
	return out;
}

static void
unknown_method_of_many_two_byte_characters_is_cut_between_characters(
    void **state)
{
	char frame[512], *reply, *at = frame;

	(void)state;
	at += sprintf(at, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a");
	for (int i = 0; i < 150; i++)
		at += sprintf(at, "\xc3\xa9");
	sprintf(at, "\"}");
	reply = error_reply_of(frame, PROTO_E_METHOD_NOT_FOUND);
	assert_non_null(strstr(reply, "\xc3\xa9...'"));
	free(reply);
}

static void
unknown_method_with_invalid_utf8_is_quoted_with_escapes(void **state)
{
	char *reply;

	(void)state;
	reply = error_reply_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			       "\"ping\xff\xc3\"}",
			       PROTO_E_METHOD_NOT_FOUND);
	/* The message says \xff\xc3; JSON escapes each backslash. */
	assert_non_null(strstr(reply, "ping\\\\xff\\\\xc3'"));
	free(reply);
}

static void
unknown_parameter_name_of_invalid_utf8_stays_valid_in_the_message(void **state)
{
	struct proto_error err;

	(void)state;
	proto_error_set(&err, PROTO_E_INVALID_PARAMS, "/params/%s: unknown",
			"\xe2\x82");
	assert_true(valid_utf8(err.message, strlen(err.message)));
	assert_string_equal(err.message, "/params/\\xe2\\x82: unknown");
}

static void
error_message_cut_at_its_cap_ends_on_a_character(void **state)
{
	struct proto_error err;
	char big[2000];

	(void)state;
	for (size_t i = 0; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[sizeof(big) - 2] = '\0';
	proto_error_set(&err, PROTO_E_CONFLICT, "x%s", big);
	assert_true(valid_utf8(err.message, strlen(err.message)));
	assert_true(strlen(err.message) < sizeof(err.message));
	assert_non_null(strstr(err.message, "\xc3\xa9..."));
}

static void
excerpt_that_fits_is_copied_whole(void **state)
{
	char buf[16];

	(void)state;
	assert_string_equal(utf8_excerpt(buf, sizeof(buf), "caf\xc3\xa9"),
			    "caf\xc3\xa9");
	/* 15 bytes exactly: no "..." */
	assert_string_equal(utf8_excerpt(buf, sizeof(buf), "123456789012345"),
			    "123456789012345");
	assert_string_equal(utf8_excerpt(buf, sizeof(buf), "1234567890123456"),
			    "123456789012...");
}

static void
reply_strings_that_are_not_utf8_are_repaired(void **state)
{
	cJSON *result = cJSON_CreateObject();
	size_t len;
	char *out;

	(void)state;
	cJSON_AddStringToObject(result, "name\xff", "x\xc3y\xed\xa0\x80");
	out = proto_result_frame(NULL, result, &len);
	assert_true(valid_utf8(out, len));
	assert_non_null(strstr(out, "\"name\xef\xbf\xbd\""));
	assert_non_null(strstr(
	    out, "\"x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""));
	free(out);
}

/* The reply to `frame` (an accepted request) as a result frame. */
static char *
result_reply_of(const char *frame)
{
	struct proto_request req;
	struct proto_error err = {0};
	size_t len;
	char *out;

	assert_int_equal(parse(frame, &req, &err), 0);
	out = proto_result_frame(req.id, NULL, &len);
	proto_request_free(&req);
	return out;
}

static void
integer_ids_up_to_2_to_the_53_are_echoed_digit_for_digit(void **state)
{
	char *out;

	(void)state;
	out = result_reply_of("{\"jsonrpc\":\"2.0\",\"id\":9007199254740991,"
			      "\"method\":\"daemon.ping\"}");
	assert_string_equal(
	    out,
	    "{\"jsonrpc\":\"2.0\",\"id\":9007199254740991,\"result\":null}\n");
	free(out);
	out = result_reply_of("{\"jsonrpc\":\"2.0\",\"id\":-9007199254740991,"
			      "\"method\":\"daemon.ping\"}");
	assert_non_null(strstr(out, "\"id\":-9007199254740991,"));
	free(out);
	out = result_reply_of("{\"jsonrpc\":\"2.0\",\"id\":4294967296,"
			      "\"method\":\"daemon.ping\"}");
	assert_non_null(strstr(out, "\"id\":4294967296,"));
	free(out);
}

static void
fractional_ids_are_echoed_as_the_same_number(void **state)
{
	char *out;

	(void)state;
	out = result_reply_of("{\"jsonrpc\":\"2.0\",\"id\":0.1,"
			      "\"method\":\"daemon.ping\"}");
	assert_non_null(strstr(out, "\"id\":0.1,"));
	free(out);
	out = result_reply_of("{\"jsonrpc\":\"2.0\",\"id\":1.0000000000000002,"
			      "\"method\":\"daemon.ping\"}");
	assert_non_null(strstr(out, "\"id\":1.0000000000000002,"));
	free(out);
}

/* Expects `frame` refused as -32600, without an id, naming `what`. */
static void
assert_invalid_without_id(const char *frame, const char *what)
{
	struct proto_request req;
	struct proto_error err = {0};

	assert_int_equal(parse(frame, &req, &err), PROTO_E_INVALID_REQUEST);
	assert_null(req.id);
	assert_non_null(strstr(err.message, what));
	proto_request_free(&req);
}

static void
non_finite_id_is_invalid_request(void **state)
{
	(void)state;
	assert_invalid_without_id("{\"jsonrpc\":\"2.0\",\"id\":1e999,"
				  "\"method\":\"daemon.ping\"}",
				  "/id: must be a finite number");
	assert_invalid_without_id("{\"jsonrpc\":\"2.0\",\"id\":-1e999,"
				  "\"method\":\"daemon.ping\"}",
				  "/id: must be a finite number");
}

static void
integer_id_beyond_2_to_the_53_is_invalid_request(void **state)
{
	(void)state;
	assert_invalid_without_id(
	    "{\"jsonrpc\":\"2.0\",\"id\":"
	    "9007199254740993,\"method\":\"daemon.ping\"}",
	    "/id: an integer id");
	assert_invalid_without_id("{\"jsonrpc\":\"2.0\",\"id\":1e20,"
				  "\"method\":\"daemon.ping\"}",
				  "/id: an integer id");
}

static void
duplicate_method_key_is_invalid_request(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":"
			       "\"daemon.ping\",\"method\":\"daemon.reload\"}",
			       &req, &err),
			 PROTO_E_INVALID_REQUEST);
	assert_string_equal(err.message,
			    "/method: the key appears more than once in its "
			    "object");
	assert_int_equal(req.id->valueint, 7);
	proto_request_free(&req);
}

static void
duplicate_key_deep_in_params_is_named_by_its_path(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			       "\"sweep.plan\",\"params\":{\"spec\":{\"g\":[1,"
			       "{\"a/b\":1,\"a/b\":2}]}}}",
			       &req, &err),
			 PROTO_E_INVALID_REQUEST);
	assert_non_null(strstr(err.message, "/params/spec/g/1/a~1b: "));
	proto_request_free(&req);
}

static void
duplicate_key_among_many_members_is_found(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};
	char frame[8192], *at = frame;

	(void)state;
	at += sprintf(at, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			  "\"daemon.ping\",\"params\":{");
	for (int i = 0; i < 500; i++)
		at += sprintf(at, "\"k%d\":%d,", i, i);
	sprintf(at, "\"k250\":0}}");
	assert_int_equal(parse(frame, &req, &err), PROTO_E_INVALID_REQUEST);
	assert_non_null(strstr(err.message, "/params/k250: "));
	proto_request_free(&req);
}

static void
duplicate_id_is_refused_without_an_id(void **state)
{
	(void)state;
	assert_invalid_without_id("{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,"
				  "\"method\":\"daemon.ping\"}",
				  "/id: the key appears more than once");
}

static void
escaped_nul_in_a_string_is_invalid_request(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
			       "\"daemon.ping\\u0000junk\"}",
			       &req, &err),
			 PROTO_E_INVALID_REQUEST);
	assert_non_null(strstr(err.message, "\\u0000 (at byte 45)"));
	assert_int_equal(req.id->valueint, 3);
	proto_request_free(&req);
	assert_invalid_without_id("{\"jsonrpc\":\"2.0\",\"id\":\"a\\u0000b\","
				  "\"method\":\"daemon.ping\"}",
				  "\\u0000");
}

static void
escaped_backslash_before_u0000_text_is_not_a_nul(void **state)
{
	struct proto_request req;
	struct proto_error err = {0};
	const cJSON *x;

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			       "\"daemon.ping\",\"params\":{\"x\":"
			       "\"\\\\u0000\"}}",
			       &req, &err),
			 0);
	x = cJSON_GetObjectItemCaseSensitive(req.params, "x");
	assert_string_equal(x->valuestring, "\\u0000");
	proto_request_free(&req);
}

static void
reader_accepts_a_frame_of_max_bytes_ended_by_crlf(void **state)
{
	struct proto_reader r;
	const char *frame;
	size_t len;

	(void)state;
	proto_reader_init(&r, 16);
	feed_repeated(&r, 'x', 16, 16);
	feed_str(&r, "\r\n");
	assert_int_equal(proto_reader_next(&r, &frame, &len), 1);
	assert_int_equal(len, 16);
	/* The '\r' alone in one feed, its newline in the next. */
	feed_repeated(&r, 'y', 16, 16);
	feed_str(&r, "\r");
	assert_no_frame(&r);
	feed_str(&r, "\n");
	assert_int_equal(proto_reader_next(&r, &frame, &len), 1);
	assert_int_equal(len, 16);
	assert_int_equal(frame[0], 'y');
	/* All of it in one feed. */
	{
		char buf[18];

		memset(buf, 'z', 16);
		memcpy(buf + 16, "\r\n", 2);
		proto_reader_feed(&r, buf, sizeof(buf));
	}
	assert_int_equal(proto_reader_next(&r, &frame, &len), 1);
	assert_int_equal(len, 16);
	assert_no_frame(&r);
	proto_reader_free(&r);
}

static void
reader_refuses_max_plus_one_bytes_ended_by_crlf(void **state)
{
	struct proto_reader r;

	(void)state;
	proto_reader_init(&r, 16);
	feed_repeated(&r, 'x', 17, 17);
	feed_str(&r, "\r\nok\n");
	assert_next_oversized(&r);
	assert_next_frame(&r, "ok");
	/* 16 bytes and a byte that is not '\r', its newline later. */
	feed_repeated(&r, 'x', 17, 17);
	feed_str(&r, "\n");
	assert_next_oversized(&r);
	assert_no_frame(&r);
	proto_reader_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(request_with_number_id_is_accepted),
	    cmocka_unit_test(request_with_string_id_is_accepted),
	    cmocka_unit_test(request_with_null_id_is_accepted),
	    cmocka_unit_test(request_params_object_is_passed_through),
	    cmocka_unit_test(notification_without_id_has_no_id),
	    cmocka_unit_test(trailing_whitespace_after_json_is_accepted),
	    cmocka_unit_test(request_frame_is_parsed_back_as_a_request),
	    cmocka_unit_test(truncated_json_is_a_parse_error),
	    cmocka_unit_test(frame_that_is_not_json_is_a_parse_error),
	    cmocka_unit_test(empty_frame_is_a_parse_error),
	    cmocka_unit_test(trailing_garbage_after_json_is_a_parse_error),
	    cmocka_unit_test(two_json_values_in_one_frame_are_a_parse_error),
	    cmocka_unit_test(nul_byte_in_frame_is_a_parse_error),
	    cmocka_unit_test(nul_byte_inside_a_string_is_a_parse_error),
	    cmocka_unit_test(array_top_level_is_invalid_request),
	    cmocka_unit_test(scalar_top_level_is_invalid_request),
	    cmocka_unit_test(
		missing_jsonrpc_is_invalid_request_and_keeps_the_id),
	    cmocka_unit_test(wrong_jsonrpc_version_is_invalid_request),
	    cmocka_unit_test(method_not_a_string_is_invalid_request),
	    cmocka_unit_test(missing_method_is_invalid_request),
	    cmocka_unit_test(id_object_is_invalid_request),
	    cmocka_unit_test(id_array_is_invalid_request),
	    cmocka_unit_test(id_boolean_is_invalid_request),
	    cmocka_unit_test(params_array_is_invalid_params),
	    cmocka_unit_test(params_string_is_invalid_params),
	    cmocka_unit_test(unknown_method_is_method_not_found_and_named),
	    cmocka_unit_test(nesting_at_max_depth_is_accepted),
	    cmocka_unit_test(nesting_deeper_than_max_depth_is_invalid_request),
	    cmocka_unit_test(
		absurdly_deep_nesting_is_rejected_without_crashing),
	    cmocka_unit_test(reader_returns_several_frames_from_one_feed),
	    cmocka_unit_test(reader_joins_a_frame_fed_byte_by_byte),
	    cmocka_unit_test(
		reader_keeps_a_partial_frame_across_returned_frames),
	    cmocka_unit_test(reader_strips_crlf_line_endings),
	    cmocka_unit_test(reader_skips_empty_lines),
	    cmocka_unit_test(reader_accepts_a_frame_of_exactly_max_bytes),
	    cmocka_unit_test(reader_reports_oversized_frame_in_one_feed_once),
	    cmocka_unit_test(
		reader_reports_oversized_frame_in_place_between_good_frames),
	    cmocka_unit_test(
		reader_reports_oversized_frame_in_small_chunks_once),
	    cmocka_unit_test(reader_memory_stays_bounded_while_discarding),
	    cmocka_unit_test(reader_returns_a_one_byte_nul_frame_as_a_frame),
	    cmocka_unit_test(result_frame_is_decoded_back_by_reply_parse),
	    cmocka_unit_test(result_frame_without_result_sends_null),
	    cmocka_unit_test(error_frame_is_decoded_back_by_reply_parse),
	    cmocka_unit_test(
		error_frame_with_newlines_in_message_stays_one_line),
	    cmocka_unit_test(error_frame_without_id_sends_null_id),
	    cmocka_unit_test(reply_parse_reads_an_error_reply_with_null_id),
	    cmocka_unit_test(reply_without_result_or_error_is_rejected),
	    cmocka_unit_test(reply_with_string_id_is_rejected),
	    cmocka_unit_test(method_lookup_finds_every_table_entry),
	    cmocka_unit_test(method_lookup_of_known_names),
	    cmocka_unit_test(method_lookup_of_unknown_name_is_enoent),
	    cmocka_unit_test(error_text_names_known_codes),
	    cmocka_unit_test(error_text_of_unknown_code_says_unknown),
	    cmocka_unit_test(error_set_fills_code_and_truncates_message),
	    cmocka_unit_test(
		unknown_method_of_many_two_byte_characters_is_cut_between_characters),
	    cmocka_unit_test(
		unknown_method_with_invalid_utf8_is_quoted_with_escapes),
	    cmocka_unit_test(
		unknown_parameter_name_of_invalid_utf8_stays_valid_in_the_message),
	    cmocka_unit_test(error_message_cut_at_its_cap_ends_on_a_character),
	    cmocka_unit_test(excerpt_that_fits_is_copied_whole),
	    cmocka_unit_test(reply_strings_that_are_not_utf8_are_repaired),
	    cmocka_unit_test(
		integer_ids_up_to_2_to_the_53_are_echoed_digit_for_digit),
	    cmocka_unit_test(fractional_ids_are_echoed_as_the_same_number),
	    cmocka_unit_test(non_finite_id_is_invalid_request),
	    cmocka_unit_test(integer_id_beyond_2_to_the_53_is_invalid_request),
	    cmocka_unit_test(duplicate_method_key_is_invalid_request),
	    cmocka_unit_test(duplicate_key_deep_in_params_is_named_by_its_path),
	    cmocka_unit_test(duplicate_key_among_many_members_is_found),
	    cmocka_unit_test(duplicate_id_is_refused_without_an_id),
	    cmocka_unit_test(escaped_nul_in_a_string_is_invalid_request),
	    cmocka_unit_test(escaped_backslash_before_u0000_text_is_not_a_nul),
	    cmocka_unit_test(reader_accepts_a_frame_of_max_bytes_ended_by_crlf),
	    cmocka_unit_test(reader_refuses_max_plus_one_bytes_ended_by_crlf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
