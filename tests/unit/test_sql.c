/*
 * The read-only SQL runner (store_sql_run): every statement that would
 * write, escape the database or run away is refused or cut off, the
 * database and its WAL keep every byte, and ordinary queries and the
 * views answer.  The writer store stays open, as in the daemon.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "store.h"
#include "tmpdir.h"
#include "util.h"

#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
	char dir[64];
	char *db;
	char *wal;
	struct store *st;
};

static const struct store_sql_limits limits = {
    .max_rows = 1000, .max_bytes = 1 << 20, .timeout_ms = 300};

/* Seeds a sweep with trials, jobs and metrics through a side connection. */
static void
seed(const char *path)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(
		db,
		"INSERT INTO sweeps (id, name, backend, model, spec,"
		" spec_sha256, objective_metric, objective_mode, created_at,"
		" updated_at) VALUES (1, 's', 'sim', 'm', '{}', 'x',"
		" 'valid_reward_mean', 'max', 0, 0);"
		"INSERT INTO graders VALUES ('g', 'string_check', '{}');"
		"INSERT INTO trials (id, trial_sha256, sweep_id, grader_name,"
		" grader_sha256, hyperparameters, seed, state, objective,"
		" created_at, updated_at) VALUES"
		" (1, 'a', 1, 'exact', 'g', '{\"n_epochs\":1}', 1,"
		" 'succeeded', 0.5, 0, 0),"
		" (2, 'b', 1, 'exact', 'g', '{\"n_epochs\":2}', 1,"
		" 'succeeded', 0.7, 0, 0);"
		"INSERT INTO sweep_trials VALUES (1, 0, 1, 0), (1, 1, 2, 0);"
		"INSERT INTO jobs (id, trial_id, attempt, backend, intent_key,"
		" state, created_at, updated_at) VALUES"
		" (1, 1, 1, 'sim', 'k1', 'succeeded', 0, 0),"
		" (2, 2, 1, 'sim', 'k2', 'succeeded', 0, 0);"
		"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s"
		" WHERE n < 200) INSERT INTO metrics SELECT 1 + n % 2,"
		" 'valid_reward_mean', n, n / 200.0 FROM s;"
		"INSERT INTO ledger (at, job_id, scope, kind, amount_usd)"
		" VALUES (0, 1, 'global', 'accrue', 1.5),"
		" (0, 1, 'sweep:1', 'accrue', 1.5);",
		NULL, NULL, &err),
	    SQLITE_OK);
	sqlite3_free(err);
	sqlite3_close(db);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (tmpdir_make(f->dir, sizeof(f->dir), "sql") != 0)
		return -1;
	f->db = xasprintf("%s/rftd.db", f->dir);
	f->wal = xasprintf("%s/rftd.db-wal", f->dir);
	f->st = store_open(f->db, err, sizeof(err));
	if (f->st == NULL)
		return -1;
	seed(f->db);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	if (tmpdir_remove(f->dir) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f->db);
	free(f->wal);
	free(f);
	return 0;
}

/* SHA-256 of a file's bytes as hex ("" when it does not exist). */
static void
file_hash(const char *path, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE], buf[65536];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	FILE *fp = fopen(path, "rb");
	size_t n;

	out[0] = '\0';
	if (fp == NULL) {
		EVP_MD_CTX_free(ctx);
		return;
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		EVP_DigestUpdate(ctx, buf, n);
	fclose(fp);
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	for (unsigned int i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static cJSON *
run(struct fixture *f, const char *sql, int *code, char *err, size_t len)
{
	return store_sql_run(f->db, sql, &limits, code, err, len);
}

/* --- attacks ----------------------------------------------------------------
 */

static const struct attack {
	const char *sql;
	int code; /* the expected enum store_sql_code; 0 = cut off, not run */
} attacks[] = {
    {"INSERT INTO budgets VALUES ('x', 1, 'pause', 0)", STORE_SQL_REFUSED},
    {"REPLACE INTO budgets VALUES ('x', 1, 'pause', 0)", STORE_SQL_REFUSED},
    {"UPDATE trials SET state = 'failed'", STORE_SQL_REFUSED},
    {"DELETE FROM ledger", STORE_SQL_REFUSED},
    {"DROP TABLE jobs", STORE_SQL_REFUSED},
    {"DROP VIEW leaderboard", STORE_SQL_REFUSED},
    {"ALTER TABLE sweeps ADD COLUMN x", STORE_SQL_REFUSED},
    {"CREATE TABLE t (x)", STORE_SQL_REFUSED},
    {"CREATE TEMP TABLE t (x)", STORE_SQL_REFUSED},
    {"CREATE VIEW v AS SELECT 1", STORE_SQL_REFUSED},
    {"CREATE INDEX i ON jobs (state)", STORE_SQL_REFUSED},
    {"CREATE TRIGGER tr AFTER INSERT ON jobs BEGIN SELECT 1; END",
     STORE_SQL_REFUSED},
    {"ATTACH DATABASE '/tmp/rftd-evil.db' AS evil", STORE_SQL_REFUSED},
    {"DETACH DATABASE main", STORE_SQL_REFUSED},
    {"PRAGMA query_only = 0", STORE_SQL_REFUSED},
    {"PRAGMA journal_mode = DELETE", STORE_SQL_REFUSED},
    {"PRAGMA writable_schema = ON", STORE_SQL_REFUSED},
    {"PRAGMA user_version = 99", STORE_SQL_REFUSED},
    {"PRAGMA foreign_keys = OFF", STORE_SQL_REFUSED},
    {"VACUUM", STORE_SQL_REFUSED},
    {"VACUUM INTO '/tmp/rftd-copy.db'", STORE_SQL_REFUSED},
    {"REINDEX", STORE_SQL_REFUSED},
    {"ANALYZE", STORE_SQL_REFUSED},
    {"BEGIN IMMEDIATE", STORE_SQL_REFUSED},
    {"SAVEPOINT a", STORE_SQL_REFUSED},
    {"SELECT load_extension('/tmp/x.so')", STORE_SQL_REFUSED},
    {"SELECT * FROM temp.sqlite_master", STORE_SQL_REFUSED},
    {"UPDATE sqlite_master SET sql = 'x'", STORE_SQL_ERROR},
    {"SELECT 1; DELETE FROM ledger", STORE_SQL_REFUSED},
    {"SELECT writefile('/tmp/rftd-x', 'y')", STORE_SQL_ERROR},
    {"SELECT zeroblob(1000000000)", STORE_SQL_ERROR},
    {"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
     " SELECT count(*) FROM c",
     STORE_SQL_TIMEOUT},
    {"PRAGMA temp.table_info(jobs)", STORE_SQL_REFUSED},
    {"SELECT * FROM pragma_table_info('jobs', 'temp')", STORE_SQL_REFUSED},
    {"SELECT 1 FROM pragma_writable_schema", STORE_SQL_REFUSED},
    {"SELECT * FROM metrics a, metrics b", 0},
};

static void
every_attack_is_refused_or_cut_off_and_no_byte_changes(void **state)
{
	struct fixture *f = *state;
	char db_before[65], wal_before[65], db_after[65], wal_after[65];

	file_hash(f->db, db_before);
	file_hash(f->wal, wal_before);
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		char err[512] = "";
		int code = 1;
		cJSON *r = run(f, attacks[i].sql, &code, err, sizeof(err));

		if (attacks[i].code == 0) {
			/* A huge result is cut at the row cap. */
			assert_non_null(r);
			assert_string_equal(
			    cJSON_GetObjectItem(r, "truncated")->valuestring,
			    "row cap");
			assert_int_equal(
			    cJSON_GetArraySize(cJSON_GetObjectItem(r, "rows")),
			    limits.max_rows);
		} else {
			if (r != NULL || code != attacks[i].code)
				fail_msg("'%s': code %d (%s), want %d",
					 attacks[i].sql, code, err,
					 attacks[i].code);
			assert_true(err[0] != '\0');
		}
		cJSON_Delete(r);
	}
	file_hash(f->db, db_after);
	file_hash(f->wal, wal_after);
	assert_string_equal(db_before, db_after);
	assert_string_equal(wal_before, wal_after);
	assert_int_equal(access("/tmp/rftd-copy.db", F_OK), -1);
	assert_int_equal(access("/tmp/rftd-evil.db", F_OK), -1);
}

static void
a_refusal_names_what_was_refused(void **state)
{
	char err[512];
	int code;
	cJSON *r = run(*state, "DELETE FROM ledger", &code, err, sizeof(err));

	assert_null(r);
	assert_string_equal(err, "refused: DELETE ledger is not allowed; "
				 "queries are read-only");
}

static void
a_syntax_error_is_reported(void **state)
{
	char err[512];
	int code;
	cJSON *r = run(*state, "SELEC 1", &code, err, sizeof(err));

	assert_null(r);
	assert_int_equal(code, STORE_SQL_ERROR);
	assert_non_null(strstr(err, "syntax error"));
}

/* --- ordinary queries ------------------------------------------------------
 */

static void
a_select_returns_columns_and_rows(void **state)
{
	char err[512];
	int code;
	cJSON *r =
	    run(*state, "SELECT id, state, objective FROM trials ORDER BY id",
		&code, err, sizeof(err));
	cJSON *rows;

	assert_non_null(r);
	assert_int_equal(code, 0);
	assert_string_equal(
	    cJSON_GetArrayItem(cJSON_GetObjectItem(r, "columns"), 2)
		->valuestring,
	    "objective");
	rows = cJSON_GetObjectItem(r, "rows");
	assert_int_equal(cJSON_GetArraySize(rows), 2);
	assert_string_equal(
	    cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 1), 1)->valuestring,
	    "succeeded");
	assert_true(
	    cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 1), 2)->valuedouble ==
	    0.7);
	assert_null(cJSON_GetObjectItem(r, "truncated"));
	cJSON_Delete(r);
}

static void
a_trailing_comment_is_not_a_second_statement(void **state)
{
	char err[512];
	int code;
	cJSON *r = run(*state, "SELECT 1; -- done\n/* really */", &code, err,
		       sizeof(err));

	assert_non_null(r);
	cJSON_Delete(r);
}

static double
first_number(struct fixture *f, const char *sql)
{
	char err[512];
	int code;
	cJSON *r = run(f, sql, &code, err, sizeof(err));
	double v;

	if (r == NULL)
		fail_msg("'%s': %s", sql, err);
	v = cJSON_GetArrayItem(
		cJSON_GetArrayItem(cJSON_GetObjectItem(r, "rows"), 0), 0)
		->valuedouble;
	cJSON_Delete(r);
	return v;
}

static void
every_view_answers(void **state)
{
	struct fixture *f = *state;

	assert_true(first_number(f, "SELECT n_epochs FROM leaderboard WHERE "
				    "sweep_id = 1 ORDER BY score DESC") == 2);
	assert_true(first_number(f, "SELECT count(*) FROM reward_curves "
				    "WHERE job_id = 1") == 100);
	assert_true(first_number(f, "SELECT spent_usd FROM spend_by_sweep "
				    "WHERE sweep_id = 1") == 1.5);
	assert_true(first_number(f, "SELECT spent_usd FROM spend_by_day") ==
		    1.5);
	assert_true(first_number(f, "SELECT best_objective FROM "
				    "grader_comparison") == 0.7);
	assert_true(first_number(f, "SELECT mean_objective FROM "
				    "hyperparameter_sensitivity WHERE "
				    "hyperparameter = 'n_epochs' AND value = "
				    "1") == 0.5);
}

static void
the_row_cap_cuts_a_result(void **state)
{
	struct store_sql_limits few = limits;
	char err[512];
	int code;
	cJSON *r;

	few.max_rows = 7;
	r = store_sql_run(((struct fixture *)*state)->db,
			  "SELECT * FROM metrics", &few, &code, err,
			  sizeof(err));
	assert_non_null(r);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "rows")), 7);
	assert_string_equal(cJSON_GetObjectItem(r, "truncated")->valuestring,
			    "row cap");
	cJSON_Delete(r);
}

/* --- table-valued functions ----------------------------------------------
 */

static void
json_each_json_tree_and_pragma_functions_answer(void **state)
{
	struct fixture *f = *state;

	assert_true(first_number(f, "SELECT sum(j.value) FROM trials, "
				    "json_each(trials.hyperparameters) AS j "
				    "WHERE j.key = 'n_epochs'") == 3);
	assert_true(first_number(f, "SELECT count(*) FROM trials, "
				    "json_tree(trials.hyperparameters)") == 4);
	assert_true(first_number(f, "SELECT count(*) FROM "
				    "pragma_table_info('jobs') WHERE name = "
				    "'state'") == 1);
	assert_true(first_number(f, "SELECT count(*) > 0 FROM "
				    "pragma_index_list('metrics')") >= 0);
	assert_true(first_number(f, "SELECT user_version FROM "
				    "pragma_user_version") > 0);
}

/* --- limits ----------------------------------------------------------------
 */

static void
a_value_over_the_length_limit_is_an_error_naming_it(void **state)
{
	static const char *const sql[] = {
	    "SELECT randomblob(16000000) AS c0, randomblob(16000000) AS c1",
	    /* printf() answers NULL for a result over the limit */
	    "SELECT printf('%s%s', printf('%.*c', 200000, 'x'), "
	    "printf('%.*c', 200000, 'x'))",
	};

	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		char err[512] = "";
		int code = 1;
		cJSON *r = run(*state, sql[i], &code, err, sizeof(err));

		if (r != NULL || code != STORE_SQL_ERROR ||
		    strstr(err, "longer than the limit of 262144 bytes") ==
			NULL)
			fail_msg("'%s': code %d (%s)", sql[i], code, err);
	}
}

static void
a_row_is_measured_before_it_is_built(void **state)
{
	char err[512] = "";
	int code = 1;
	cJSON *r = run(*state,
		       "SELECT randomblob(200000) AS c0, randomblob(200000), "
		       "randomblob(200000)",
		       &code, err, sizeof(err));
	char *text;

	assert_null(r);
	assert_int_equal(code, STORE_SQL_ERROR);
	assert_non_null(strstr(err, "limit of 1048576 bytes of a reply"));
	/* Later rows that do not fit are cut, and the rest fits. */
	r = run(*state,
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM "
		"c WHERE x < 100) SELECT randomblob(100000) FROM c",
		&code, err, sizeof(err));
	assert_non_null(r);
	assert_string_equal(cJSON_GetObjectItem(r, "truncated")->valuestring,
			    "byte cap");
	text = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "rows"));
	assert_true(strlen(text) <= limits.max_bytes);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "rows")), 5);
	free(text);
	cJSON_Delete(r);
}

static void
a_call_that_would_outrun_the_deadline_is_refused(void **state)
{
	/* Each ran for seconds or more inside one call, where neither the
	 * progress handler nor an interrupt reaches. */
	static const char *const sql[] = {
	    "SELECT printf('%.*c', 2000000000, 'x')",
	    "SELECT format('%.2000000000c', 'x')",
	    "SELECT instr(printf('%.*c', 200000, 'a'), printf('%.*c', "
	    "100000, 'a') || 'b')",
	    "SELECT trim(printf('%.*c', 200000, 'a'), printf('%.*c', "
	    "100000, 'b'))",
	};

	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		char err[512] = "";
		int code = 1;
		cJSON *r = run(*state, sql[i], &code, err, sizeof(err));

		if (r != NULL || code != STORE_SQL_ERROR ||
		    strstr(err, "over the limit") == NULL)
			fail_msg("'%s': code %d (%s)", sql[i], code, err);
	}
}

static void
checked_built_ins_still_answer(void **state)
{
	char err[512];
	int code;
	cJSON *r = run(*state,
		       "SELECT printf('%s=%d', 'a', 5), format('%5.1f', 2.25), "
		       "instr('hello', 'l'), replace('abc', 'b', 'x'), "
		       "trim('  x '), ltrim('xxa', 'x'), rtrim('ayy', 'y'), "
		       "printf(NULL)",
		       &code, err, sizeof(err));
	char *text;

	assert_non_null(r);
	text = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "rows"));
	assert_string_equal(
	    text, "[[\"a=5\",\"  2.3\",3,\"axc\",\"x\",\"a\",\"a\",null]]");
	free(text);
	cJSON_Delete(r);
}

int
main(void)
{
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    TEST(every_attack_is_refused_or_cut_off_and_no_byte_changes),
	    TEST(a_refusal_names_what_was_refused),
	    TEST(a_syntax_error_is_reported),
	    TEST(a_select_returns_columns_and_rows),
	    TEST(a_trailing_comment_is_not_a_second_statement),
	    TEST(every_view_answers),
	    TEST(the_row_cap_cuts_a_result),
	    TEST(json_each_json_tree_and_pragma_functions_answer),
	    TEST(a_value_over_the_length_limit_is_an_error_naming_it),
	    TEST(a_row_is_measured_before_it_is_built),
	    TEST(a_call_that_would_outrun_the_deadline_is_refused),
	    TEST(checked_built_ins_still_answer),
	};
#undef TEST
	return cmocka_run_group_tests(tests, NULL, NULL);
}
