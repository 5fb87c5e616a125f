/*
 * The dashboard's request targets (page_route(): path, percent-encoded
 * query, token, metric) and its HTML escaping, on any bytes a client may
 * send.  A target that routes must give a route that makes sense.
 */
#include "fuzz.h"
#include "pages.h"

#include <assert.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct page_req r;
	char why[160], *text, *escaped;
	int rc;

	/* The target as h2o hands it over: bytes and a length. */
	rc = page_route((const char *)data, size, &r, why, sizeof(why));
	assert(rc == 0 || rc == 400 || rc == 404);
	if (rc == 0) {
		assert(strlen(r.metric) <= PAGE_METRIC_MAX);
		assert(!r.has_token || strlen(r.token) <= PAGE_TOKEN_MAX);
		assert(r.kind != PAGE_STATIC || r.static_path != NULL);
		assert((r.kind != PAGE_SWEEP && r.kind != PAGE_JOB) ||
		       r.id > 0);
	}
	if (rc == 400)
		assert(why[0] != '\0');
	text = fuzz_cstring(data, size);
	escaped = page_escape(text);
	assert(strpbrk(escaped, "<>\"'") == NULL);
	free(escaped);
	free(text);
	return 0;
}
