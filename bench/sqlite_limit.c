/*
 * sqlite_limit: what SQLite itself does with the rows of a benchmark, at
 * the daemon's durability (WAL, synchronous = FULL, one commit per
 * batch), with no schema but a table as wide as the daemon's.  The
 * benchmarks print their figure as a share of this one, measured in the
 * same run.  (A benchmark's own program: the only code outside store/
 * that includes sqlite3.h.)
 *
 *   sqlite_limit metrics ROWS BATCH JOBS
 *                                     rows of (job, name, step, value),
 *                                     keyed as the metrics table is, in
 *                                     bench/ingest's order over JOBS jobs
 *   sqlite_limit trials ROWS          trial-sized rows, one commit
 *
 * Prints one line: "<rows/s>".
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "sqlite_limit: %s: %s\n", sql, err);
		exit(1);
	}
}

static void
step_done(sqlite3 *db, sqlite3_stmt *s)
{
	if (sqlite3_step(s) != SQLITE_DONE) {
		fprintf(stderr, "sqlite_limit: insert: %s\n",
			sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_reset(s);
}

/* The five metric names of a simulated step, as bench/ingest writes. */
static const char *const names[] = {
    "train_reward_mean", "train_mean_reward", "grader.g.train_reward_mean",
    "valid_reward_mean", "full_valid_mean_reward"};

static void
metrics(sqlite3 *db, long rows, long batch, long jobs)
{
	sqlite3_stmt *s;

	exec(db, "CREATE TABLE m (job INTEGER, name TEXT, step INTEGER,"
		 " value REAL, PRIMARY KEY (job, name, step)) WITHOUT ROWID;");
	sqlite3_prepare_v2(db, "INSERT INTO m VALUES (?1, ?2, ?3, ?4);", -1, &s,
			   NULL);
	for (long done = 0; done < rows;) {
		exec(db, "BEGIN;");
		for (long i = 0; i < batch && done < rows; i++, done++) {
			long point = done / 5;

			sqlite3_bind_int64(s, 1, 1 + point % jobs);
			sqlite3_bind_text(s, 2, names[done % 5], -1,
					  SQLITE_STATIC);
			sqlite3_bind_int64(s, 3, point / jobs);
			sqlite3_bind_double(s, 4, (double)(done % 1000) / 1000);
			step_done(db, s);
		}
		exec(db, "COMMIT;");
	}
	sqlite3_finalize(s);
}

static void
trials(sqlite3 *db, long rows)
{
	sqlite3_stmt *s;
	char hps[160], key[80];

	exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, sweep INTEGER,"
		 " key TEXT, hyperparameters TEXT, seed INTEGER, state TEXT);");
	sqlite3_prepare_v2(db,
			   "INSERT INTO t VALUES (NULL, 1, ?1, ?2, ?3,"
			   " 'pending');",
			   -1, &s, NULL);
	exec(db, "BEGIN;");
	for (long i = 0; i < rows; i++) {
		snprintf(key, sizeof(key), "%064lx",
			 (unsigned long)i * 2654435761u);
		snprintf(hps, sizeof(hps),
			 "{\"batch_size\":16,\"learning_rate_multiplier\":%g,"
			 "\"n_epochs\":%ld}",
			 1.0 + (double)(i % 10) / 10, 1 + i % 3);
		sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, hps, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 3, i);
		step_done(db, s);
	}
	exec(db, "COMMIT;");
	sqlite3_finalize(s);
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/sqlite-limit-XXXXXX", path[64];
	long rows, batch = 0, jobs = 0;
	sqlite3 *db;
	double t0, t;

	if (argc < 3 || (strcmp(argv[1], "metrics") == 0 && argc < 5) ||
	    (rows = atol(argv[2])) <= 0 ||
	    (argc > 3 && (batch = atol(argv[3])) <= 0) ||
	    (argc > 4 && (jobs = atol(argv[4])) <= 0)) {
		fprintf(stderr, "usage: sqlite_limit metrics ROWS BATCH JOBS | "
				"trials ROWS\n");
		return 2;
	}
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/limit.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return 1;
	exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
	t0 = now_s();
	if (strcmp(argv[1], "metrics") == 0)
		metrics(db, rows, batch, jobs);
	else
		trials(db, rows);
	t = now_s() - t0;
	sqlite3_close(db);
	printf("%.0f\n", (double)rows / t);
	snprintf(path, sizeof(path), "%s/limit.db", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/limit.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/limit.db-shm", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}
