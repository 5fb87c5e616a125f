/*
 * The control socket's input: bytes fed to the bounded frame reader in
 * chunks the input chooses, each frame decoded as a request and answered
 * as a reply, and the whole input also decoded as one reply (rftctl's
 * side).  The first byte picks the chunk size; the frame cap is small so
 * that oversized frames are reached.
 */
#include "fuzz.h"
#include "proto.h"

#include <assert.h>
#include <errno.h>

#define FUZZ_FRAME_MAX 4096

static void
answer(const char *frame, size_t len)
{
	struct proto_request req;
	struct proto_error err = {0};
	char *out;
	size_t outlen;
	int rc = proto_request_parse(frame, len, &req, &err);

	if (rc == 0)
		out = proto_result_frame(req.id, NULL, &outlen);
	else
		out = proto_error_frame(req.id, rc, err.message, NULL, &outlen);
	assert(out != NULL && outlen > 0 && out[outlen - 1] == '\n');
	free(out);
	proto_request_free(&req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_reader r;
	struct proto_reply rep;
	struct proto_error err = {0};
	size_t chunk = 1, off = 0;
	const char *frame;
	size_t len;
	int rc;

	if (size > 0) {
		chunk = (size_t)data[0] + 1;
		data++;
		size--;
	}
	proto_reader_init(&r, FUZZ_FRAME_MAX);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		proto_reader_feed(&r, (const char *)data + off, n);
		off += n;
		while ((rc = proto_reader_next(&r, &frame, &len)) != 0) {
			if (rc == -EMSGSIZE)
				continue;
			assert(rc == 1 && len <= FUZZ_FRAME_MAX);
			answer(frame, len);
		}
	}
	(void)proto_reader_partial(&r);
	proto_reader_free(&r);

	if (proto_reply_parse((const char *)data, size, &rep, &err) == 0)
		assert(rep.code != 0 || rep.result != NULL);
	proto_reply_free(&rep);
	return 0;
}
