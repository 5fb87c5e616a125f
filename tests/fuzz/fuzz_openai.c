/*
 * The provider's answers to the openai backend: a job object, a page of
 * its events, a page of its checkpoints and an error body, read as a
 * poll reads them.  The input is the stored poll cursor and the four
 * bodies, in that order, separated by form feeds ('\f').
 */
#include "fuzz.h"
#include "openai_parse.h"

#include <assert.h>

static void
on_poll(void *arg, int rc, const struct backend_poll *poll, const char *error)
{
	(void)arg;
	(void)error;
	if (rc != 0)
		return;
	assert(poll != NULL && poll->cursor != NULL);
	for (size_t i = 0; i < poll->nmetrics; i++)
		assert(poll->metrics[i].name != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *piece[5] = {0};
	size_t len[5] = {0}, n = 0, start = 0;
	struct openai_answers a = {.status = 400};
	char *cursor, err[600];

	for (size_t i = 0; i <= size && n < 5; i++) {
		if (i == size || data[i] == '\f') {
			piece[n] = (const char *)data + start;
			len[n++] = i - start;
			start = i + 1;
		}
	}
	cursor =
	    piece[0] ? fuzz_cstring((const uint8_t *)piece[0], len[0]) : NULL;
	a.cursor = cursor;
	a.job = piece[1];
	a.job_len = len[1];
	a.events = piece[2];
	a.events_len = len[2];
	a.checkpoints = piece[3];
	a.checkpoints_len = len[3];
	a.error = piece[4];
	a.error_len = len[4];
	openai_read_answers(&a, on_poll, NULL, err, sizeof(err));
	assert(strlen(err) < sizeof(err));
	free(cursor);
	return 0;
}
