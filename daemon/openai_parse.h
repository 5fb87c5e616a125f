/*
 * The openai backend's reading of the provider's answers, without the
 * network: what a poll makes of a job object, a page of its events and
 * a page of its checkpoints, and the words of an error answer.  The
 * backend itself (openai.c) is reached through backend.h; this entry is
 * for the tests and the fuzz targets, which feed it hostile text.
 */
#ifndef RFTD_OPENAI_PARSE_H
#define RFTD_OPENAI_PARSE_H

#include "backend.h"

#include <stddef.h>

/* Answers as the provider sends them: JSON text, not NUL-terminated. */
struct openai_answers {
	const char *cursor; /* the poll cursor stored with the job, or NULL */
	const char *job;    /* GET /fine_tuning/jobs/ID; NULL: none came */
	size_t job_len;
	const char *events; /* a page of GET .../events, newest first */
	size_t events_len;
	const char *checkpoints; /* a page of GET .../checkpoints */
	size_t checkpoints_len;
	const char *error; /* the body of an error answer (HTTP `status`) */
	size_t error_len;
	long status;
};

/*
 * Reads `a` as a poll does and hands the result to `cb` once, exactly as
 * the backend's poll would (rc 0 with the poll, or a negative errno when
 * there is no job object); writes the error answer in words into `err`
 * (always NUL-terminated, errlen > 0).  No I/O, no loop.
 */
void openai_read_answers(const struct openai_answers *a, backend_poll_cb cb,
			 void *arg, char *err, size_t errlen);

#endif
