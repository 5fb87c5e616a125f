/*
 * Slurm's answers: the same bytes read as `squeue --json` and as
 * `sacct -P -n` text, each job's state word mapped and its wait status
 * described.
 */
#include "fuzz.h"
#include "slurm.h"

#include <assert.h>

static void
check(const struct slurm_job *jobs, size_t n)
{
	char buf[SLURM_DESCRIBE_MAX];

	for (size_t i = 0; i < n; i++) {
		assert(jobs[i].id > 0);
		assert(memchr(jobs[i].name, '\0', sizeof(jobs[i].name)));
		assert(memchr(jobs[i].state, '\0', sizeof(jobs[i].state)));
		(void)slurm_state(jobs[i].state);
		(void)slurm_state_final(jobs[i].state);
		slurm_describe_exit(jobs[i].wait_status, buf, sizeof(buf));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct slurm_job *jobs = NULL;
	char err[SLURM_ERROR_MAX];
	size_t n = 0;

	if (slurm_parse_squeue((const char *)data, size, &jobs, &n, err,
			       sizeof(err)) == 0)
		check(jobs, n);
	free(jobs);
	jobs = NULL;
	if (slurm_parse_sacct((const char *)data, size, &jobs, &n) == 0)
		check(jobs, n);
	free(jobs);
	return 0;
}
