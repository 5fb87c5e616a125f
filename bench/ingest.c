/*
 * ingest: metric rows per second through the daemon's ingestion path
 * (store_metric_add in per-tick transactions), then leaderboard query
 * latency on a store with 10,000 trials and 1,000,000 metric rows.
 *
 *   ingest [-t TRIALS] [-m METRIC_ROWS] [-b ROWS_PER_TICK] [-d DIR]
 */
#include "log.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* A sweep of `n` trials, each with one succeeded job, as the daemon
 * would have stored them. */
static void
make_sweep(struct store *st, int64_t n)
{
	struct store_sweep_new sw = {.name = "bench",
				     .backend = "sim",
				     .model = "m",
				     .spec_json = "{}",
				     .spec_sha256 = "x",
				     .objective_metric = "valid_reward_mean",
				     .objective_max = true,
				     .simulated = true};
	struct store_grader_new g = {"g", "string_check", "{}"};
	struct store_trial_new *t = xcalloc((size_t)n, sizeof(*t));
	char(*sha)[24] = xcalloc((size_t)n, sizeof(*sha));
	char(*hps)[64] = xcalloc((size_t)n, sizeof(*hps));
	cJSON *existing;
	int64_t sweep;
	size_t reused;

	for (int64_t i = 0; i < n; i++) {
		snprintf(sha[i], sizeof(sha[i]), "t%lld", (long long)i);
		snprintf(hps[i], sizeof(hps[i]),
			 "{\"learning_rate_multiplier\":%g,\"n_epochs\":%lld}",
			 0.1 * (double)(i % 10 + 1), (long long)(i % 7 + 1));
		t[i] =
		    (struct store_trial_new){sha[i], "g", "g", hps[i], true, i};
	}
	if (store_sweep_create(st, &sw, &g, 1, t, (size_t)n, false, 0, &sweep,
			       &reused, &existing) != 0)
		fatalx("cannot create the sweep");
	for (int64_t i = 1; i <= n; i++) {
		int64_t job;
		int attempt;
		char key[32];

		snprintf(key, sizeof(key), "k%lld", (long long)i);
		if (store_job_create(st, i, "sim", key, true, NULL, 0, &job,
				     &attempt) != 0)
			fatalx("cannot create job %lld", (long long)i);
	}
	free(t);
	free(sha);
	free(hps);
}

int
main(int argc, char **argv)
{
	int64_t trials = 10000, rows = 1000000, batch = 2000;
	const char *base = "/tmp";
	uint64_t t0, t1, lat[200];
	struct store *st;
	char dir[256], *path, err[512];
	int ch;

	while ((ch = getopt(argc, argv, "t:m:b:d:")) != -1) {
		switch (ch) {
		case 't':
			parse_i64(optarg, 1, 10000000, &trials);
			break;
		case 'm':
			parse_i64(optarg, 1, 100000000, &rows);
			break;
		case 'b':
			parse_i64(optarg, 1, 10000000, &batch);
			break;
		case 'd':
			base = optarg;
			break;
		default:
			fprintf(stderr, "usage: ingest [-t TRIALS] [-m ROWS] "
					"[-b ROWS_PER_TICK] [-d DIR]\n");
			return 2;
		}
	}
	log_init(LOG_LVL_WARN, false);
	snprintf(dir, sizeof(dir), "%s/rftd-ingest-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	path = xasprintf("%s/rftd.db", dir);
	st = store_open(path, err, sizeof(err));
	if (st == NULL)
		fatalx("%s", err);
	make_sweep(st, trials);

	/* Ingestion: rows spread over the jobs, one commit per tick. */
	t0 = now_mono_ns();
	for (int64_t done = 0; done < rows;) {
		store_begin(st);
		for (int64_t i = 0; i < batch && done < rows; i++, done++) {
			/* A step's metrics as the simulator reports them. */
			static const char *const names[] = {
			    "train_reward_mean", "train_mean_reward",
			    "grader.g.train_reward_mean", "valid_reward_mean",
			    "full_valid_mean_reward"};
			int64_t point = done / 5, k = done % 5;
			int64_t job = 1 + point % trials;
			int64_t step = point / trials;
			double v = (double)(done % 1000) / 1000.0;

			store_metric_add(st, job, step, names[k], v);
			if (k == 3)
				store_trial_objective(st, job, v, step, true);
		}
		if (store_commit(st) != 0)
			fatalx("commit failed");
	}
	t1 = now_mono_ns();
	printf("ingest: %lld metric rows (with objective updates) in %.2f s: "
	       "%.0f rows/s, %lld rows per commit\n",
	       (long long)rows, (double)(t1 - t0) / 1e9,
	       (double)rows / ((double)(t1 - t0) / 1e9), (long long)batch);

	/* The daemon's leaderboard (sweep.leaderboard) on its connection. */
	for (int i = 0; i < 200; i++) {
		int rc;
		cJSON *r;

		t0 = now_mono_ns();
		r = store_leaderboard_json(st, 1, 20, STORE_RANK_OBJECTIVE,
					   &rc);
		lat[i] = now_mono_ns() - t0;
		cJSON_Delete(r);
	}
	qsort(lat, 200, sizeof(lat[0]), cmp_u64);
	printf("leaderboard (sweep.leaderboard, top 20 of %lld trials): p50 "
	       "%.3f ms, p99 %.3f ms\n",
	       (long long)trials, (double)lat[100] / 1e6,
	       (double)lat[198] / 1e6);

	/* The same question through rftctl sql's hardened runner. */
	for (int i = 0; i < 50; i++) {
		struct store_sql_limits lim = {100, 1 << 20, 5000};
		int code;
		cJSON *r;

		t0 = now_mono_ns();
		r = store_sql_run(path,
				  "SELECT * FROM leaderboard WHERE sweep_id = "
				  "1 ORDER BY score DESC LIMIT 20",
				  &lim, &code, err, sizeof(err));
		lat[i] = now_mono_ns() - t0;
		if (r == NULL)
			fatalx("leaderboard view: %s", err);
		cJSON_Delete(r);
	}
	qsort(lat, 50, sizeof(lat[0]), cmp_u64);
	printf("leaderboard view (rftctl sql, new connection each time): p50 "
	       "%.3f ms, p99 %.3f ms\n",
	       (double)lat[25] / 1e6, (double)lat[49] / 1e6);
	store_close(st);
	{
		char *cmd = xasprintf("rm -rf '%s'", dir);

		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
		free(cmd);
	}
	free(path);
	return 0;
}
