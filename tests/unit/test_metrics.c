/*
 * Reading trainers' metrics (daemon/metrics.h): lines read once and only
 * once across reads and restarts, bad lines counted and skipped (binary,
 * too long, no step), canonical names per format, checkpoints, trl's
 * newest checkpoint, and files that must not block or fail the reader.
 * Fixtures: data/metrics/verl.jsonl (verl's file logger) and
 * data/metrics/trl/checkpoint-<N>/trainer_state.json (TRL's log_history).
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "metrics.h"
#include "tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

struct fixture {
	char dir[128];
	char file[PATH_MAX]; /* dir/metrics.jsonl */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(tmpdir_make(f->dir, sizeof(f->dir), "metrics"), 0);
	snprintf(f->file, sizeof(f->file), "%s/metrics.jsonl", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static void
put(const char *path, const char *data, size_t len, bool append)
{
	int fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC),
		      0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void
append(const char *path, const char *text)
{
	put(path, text, strlen(text), true);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void
data_path(char *buf, size_t len, const char *rel)
{
	const char *base = getenv("RFTD_TEST_DATA");

	assert_non_null(base);
	snprintf(buf, len, "%s/metrics/%s", base, rel);
}

/* Copies data/metrics/trl/<name>/trainer_state.json into dir/<name>/. */
static void
copy_ckpt(const char *dir, const char *name)
{
	char src[PATH_MAX], dst[PATH_MAX], rel[128];
	size_t len;
	char *text;

	snprintf(rel, sizeof(rel), "trl/%s/trainer_state.json", name);
	data_path(src, sizeof(src), rel);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	assert_int_equal(mkdir(dst, 0755), 0);
	strncat(dst, "/trainer_state.json", sizeof(dst) - strlen(dst) - 1);
	text = slurp(src, &len);
	put(dst, text, len, false);
	free(text);
}

/* The value of name at step in the batch; NAN when absent. */
static double
value(const struct metrics_batch *b, int64_t step, const char *name)
{
	for (size_t i = 0; i < b->npoints; i++)
		if (b->points[i].step == step &&
		    strcmp(b->points[i].name, name) == 0)
			return b->points[i].value;
	return NAN;
}

static size_t
count(const struct metrics_batch *b, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < b->npoints; i++)
		n += strcmp(b->points[i].name, name) == 0;
	return n;
}

static int
read_rftd(const char *path, struct metrics_cursor *c, size_t budget,
	  struct metrics_batch *b)
{
	return metrics_read(METRICS_RFTD, path, c, budget, b);
}

static void
test_partial_last_line_waits_for_its_newline(void **state)
{
	struct fixture *f = *state;
	const char *first = "{\"step\": 1, \"metrics\": {\"loss\": 0.5}}\n";
	struct metrics_cursor c;
	struct metrics_batch b;

	metrics_cursor_start(&c);
	append(f->file, first);
	append(f->file, "{\"step\": 2, \"metr");
	assert_int_equal(read_rftd(f->file, &c, 0, &b), 0);
	assert_int_equal(b.lines, 1);
	assert_int_equal(b.npoints, 1);
	assert_true(value(&b, 1, "loss") == 0.5);
	assert_int_equal(c.offset, strlen(first));
	metrics_batch_free(&b);

	/* Nothing new until the line is whole. */
	assert_int_equal(read_rftd(f->file, &c, 0, &b), 0);
	assert_int_equal(b.lines, 0);
	assert_int_equal(b.bad, 0);
	metrics_batch_free(&b);

	append(f->file, "ics\": {\"loss\": 0.25}}\n");
	assert_int_equal(read_rftd(f->file, &c, 0, &b), 0);
	assert_int_equal(b.lines, 1);
	assert_int_equal(b.bad, 0);
	assert_int_equal(b.npoints, 1);
	assert_true(value(&b, 2, "loss") == 0.25);
	metrics_batch_free(&b);
}

static void
test_resume_from_stored_cursor_repeats_nothing(void **state)
{
	struct fixture *f = *state;
	char text[METRICS_CURSOR_LEN];
	struct metrics_cursor c;
	struct metrics_batch b;

	metrics_cursor_start(&c);
	append(f->file, "{\"step\": 1, \"metrics\": {\"a\": 1}}\n"
			"{\"step\": 2, \"metrics\": {\"a\": 2}}\n");
	assert_int_equal(read_rftd(f->file, &c, 0, &b), 0);
	assert_int_equal(b.npoints, 2);
	metrics_batch_free(&b);

	/* A restart: the cursor comes back from the store as text. */
	metrics_cursor_format(&c, text, sizeof(text));
	assert_int_equal(metrics_cursor_parse(text, &c), 0);
	assert_int_equal(read_rftd(f->file, &c, 0, &b), 0);
	assert_int_equal(b.npoints, 0);
	metrics_batch_free(&b);

	append(f->file, "{\"step\": 3, \"metrics\": {\"a\": 3}}\n");
	assert_int_equal(read_rftd(f->file, &c, 0, &b), 0);
	assert_int_equal(b.npoints, 1);
	assert_int_equal(b.points[0].step, 3);
	metrics_batch_free(&b);
}

/* 3 MiB of lines, read with the smallest budget: several reads, each
 * line exactly once, in order. */
static void
test_budget_splits_a_big_file_without_loss_or_repeat(void **state)
{
	struct fixture *f = *state;
	const size_t total = 3 * 1024 * 1024;
	char line[128], text[METRICS_CURSOR_LEN];
	struct metrics_cursor c;
	struct metrics_batch b;
	int64_t lines = 0, next = 0;
	size_t size = 0, reads = 0;
	char *buf = malloc(total + 128);

	assert_non_null(buf);
	while (size < total) {
		int n = snprintf(line, sizeof(line),
				 "{\"step\": %lld, \"metrics\": {\"x\": 1}}\n",
				 (long long)lines++);

		memcpy(buf + size, line, (size_t)n);
		size += (size_t)n;
	}
	put(f->file, buf, size, false);
	free(buf);

	metrics_cursor_start(&c);
	for (;;) {
		assert_int_equal(read_rftd(f->file, &c, 1, &b), 0);
		if (b.lines == 0) {
			metrics_batch_free(&b);
			break;
		}
		reads++;
		assert_int_equal(b.bad, 0);
		for (size_t i = 0; i < b.npoints; i++)
			assert_int_equal(b.points[i].step, next++);
		metrics_batch_free(&b);
		metrics_cursor_format(&c, text, sizeof(text));
		assert_int_equal(metrics_cursor_parse(text, &c), 0);
	}
	assert_true(reads >= 3);
	assert_int_equal(next, lines);
	assert_int_equal(c.offset, size);
}

/* A line of 3 MiB (the limit is 1 MiB): dropped across reads, through
 * a cursor stored as text after each, and counted once.  A reader that
 * forgot it was inside the line would take its tail for lines. */
static void
test_overlong_line_is_skipped_across_reads(void **state)
{
	struct fixture *f = *state;
	const char *first = "{\"step\": 1, \"metrics\": {\"a\": 1}}\n";
	const char *head = "{\"step\": 2, \"metrics\": {\"x\": \"";
	const size_t longlen = 3 * 1024 * 1024;
	char text[METRICS_CURSOR_LEN];
	struct metrics_cursor c;
	struct metrics_batch b;
	size_t reads = 0, bad = 0, lines = 0, skipping_seen = 0, size;
	int64_t first_bad = -1;
	const char *reason = NULL;
	double a1 = NAN, a3 = NAN;
	char *big = malloc(longlen);

	assert_non_null(big);
	memset(big, 'a', longlen);
	memcpy(big, head, strlen(head));
	memcpy(big + longlen - 4, "\"}}\n", 4);
	append(f->file, first);
	put(f->file, big, longlen, true);
	append(f->file, "{\"step\": 3, \"metrics\": {\"a\": 3}}\n");
	free(big);
	size = strlen(first) + longlen + strlen(first);

	metrics_cursor_start(&c);
	while (c.offset < size || c.skipping) {
		assert_true(++reads < 20);
		assert_int_equal(read_rftd(f->file, &c, 1, &b), 0);
		if (b.bad > 0 && first_bad < 0) {
			first_bad = b.first_bad_offset;
			reason = b.first_bad_reason;
		}
		bad += b.bad;
		lines += b.lines;
		if (!isnan(value(&b, 1, "a")))
			a1 = value(&b, 1, "a");
		if (!isnan(value(&b, 3, "a")))
			a3 = value(&b, 3, "a");
		assert_int_equal(count(&b, "x"), 0);
		metrics_batch_free(&b);
		metrics_cursor_format(&c, text, sizeof(text));
		if (c.skipping) {
			skipping_seen++;
			assert_non_null(strstr(text, "s=1"));
		}
		assert_int_equal(metrics_cursor_parse(text, &c), 0);
	}
	assert_true(skipping_seen >= 2); /* it spanned reads */
	assert_int_equal(bad, 1);
	assert_int_equal(lines, 3);
	assert_int_equal(first_bad, strlen(first));
	assert_string_equal(reason, "line too long");
	assert_true(a1 == 1);
	assert_true(a3 == 3);
}

static void
test_binary_junk_and_bad_lines_are_counted(void **state)
{
	struct fixture *f = *state;
	static const char junk[] = "\x7f"
				   "ELF\x02\x01\x01\x00\x00\x00\xff\xfe\n";
	static const char *const bad[] = {
	    "{\"step\": 1, \"metrics\": {\"a\": \"\xc3\x28\"}}\n", /* UTF-8 */
	    "not json at all\n",
	    "[1, 2, 3]\n",
	    "{\"metrics\": {\"a\": 1}}\n",
	    "{\"step\": -1, \"metrics\": {\"a\": 1}}\n",
	    "{\"step\": 1.5, \"metrics\": {\"a\": 1}}\n",
	    "{\"step\": \"3\", \"metrics\": {\"a\": 1}}\n",
	    "{\"step\": 3}\n",
	    "{\"step\": 3, \"metrics\": [1]}\n",
	    "{\"step\": 3, \"metrics\": {\"a\": 1}} trailing\n",
	};
	struct metrics_cursor c;
	struct metrics_batch b;

	put(f->file, junk, sizeof(junk) - 1, false);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		append(f->file, bad[i]);
	append(f->file, "\n   \n{\"step\": 7, \"metrics\": {\"good\": 7}}\r\n");
	metrics_cursor_start(&c);
	assert_int_equal(read_rftd(f->file, &c, 0, &b), 0);
	assert_int_equal(b.bad, 1 + sizeof(bad) / sizeof(bad[0]));
	assert_int_equal(b.lines, b.bad + 1); /* blank lines are not lines */
	assert_int_equal(b.first_bad_offset, 0);
	assert_string_equal(b.first_bad_reason, "binary data or not UTF-8");
	assert_int_equal(b.npoints, 1);
	assert_true(value(&b, 7, "good") == 7);
	metrics_batch_free(&b);
}

/* Values that are not finite numbers and names that are not names skip
 * the metric, not the line. */
static void
test_bad_metric_is_skipped_not_its_line(void **state)
{
	struct fixture *f = *state;
	char line[512];
	struct metrics_cursor c;
	struct metrics_batch b;

	snprintf(line, sizeof(line),
		 "{\"step\": 5, \"metrics\": {\"ok\": 1.5, \"s\": \"x\", "
		 "\"t\": true, \"n\": null, \"o\": {\"a\": 1}, \"big\": 1e999, "
		 "\"nan\": NaN, \"inf\": -Infinity, \"\": 1, "
		 "\"ctl\\u0001\": 2, \"%0*d\": 3}}\n",
		 METRICS_NAME_MAX + 1, 0);
	append(f->file, line);
	metrics_cursor_start(&c);
	assert_int_equal(read_rftd(f->file, &c, 0, &b), 0);
	assert_int_equal(b.lines, 1);
	assert_int_equal(b.bad, 0);
	assert_int_equal(b.skipped, 10);
	assert_int_equal(b.npoints, 1);
	assert_true(value(&b, 5, "ok") == 1.5);
	metrics_batch_free(&b);
}

static void
test_rftd_names_pass_as_written(void **state)
{
	struct fixture *f = *state;
	struct metrics_cursor c;
	struct metrics_batch b;

	append(f->file, "{\"step\": 4, \"metrics\": {\"train_reward_mean\": "
			"0.5, \"valid_reward_mean\": 0.25, \"reward\": 9, "
			"\"critic/score/mean\": 9}}\n");
	metrics_cursor_start(&c);
	assert_int_equal(read_rftd(f->file, &c, 0, &b), 0);
	assert_int_equal(b.npoints, 4);
	assert_true(value(&b, 4, "train_reward_mean") == 0.5);
	assert_true(value(&b, 4, "valid_reward_mean") == 0.25);
	metrics_batch_free(&b);
}

static void
test_verl_file_logger_maps_canonical_names(void **state)
{
	char path[PATH_MAX];
	struct metrics_cursor c;
	struct metrics_batch b;

	(void)state;
	data_path(path, sizeof(path), "verl.jsonl");
	metrics_cursor_start(&c);
	assert_int_equal(metrics_read(METRICS_VERL, path, &c, 0, &b), 0);
	assert_int_equal(b.lines, 5);
	assert_int_equal(b.bad, 0);
	/* Raw names stay. */
	assert_true(value(&b, 1, "critic/score/mean") == 0.3);
	assert_true(value(&b, 1, "actor/entropy") == 0.6123);
	/* critic/score/mean is the training reward. */
	assert_true(value(&b, 1, "train_reward_mean") == 0.3);
	assert_true(value(&b, 2, "train_reward_mean") == 0.35);
	assert_true(value(&b, 3, "train_reward_mean") == 0.4);
	assert_int_equal(count(&b, "train_reward_mean"), 3);
	/* Validation: the mean over data sources of reward/mean@N ... */
	assert_true(fabs(value(&b, 0, "valid_reward_mean") - 0.25) < 1e-12);
	/* ... reward before acc, and best@N is not mean@N ... */
	assert_true(value(&b, 2, "valid_reward_mean") == 0.45);
	/* ... and acc when no source has a reward. */
	assert_true(fabs(value(&b, 3, "valid_reward_mean") - 0.5) < 1e-12);
	assert_int_equal(count(&b, "valid_reward_mean"), 3);
	/* Python's NaN and Infinity skip their metric only. */
	assert_true(isnan(value(&b, 2, "actor/grad_norm")));
	assert_true(isnan(value(&b, 2, "perf/max_memory_allocated_gb")));
	assert_true(value(&b, 2, "actor/entropy") == 0.6011);
	assert_int_equal(b.skipped, 2);
	metrics_batch_free(&b);
}

static void
test_checkpoint_announcements(void **state)
{
	struct fixture *f = *state;
	struct metrics_cursor c;
	struct metrics_batch b;

	append(f->file,
	       "{\"step\": 40, \"checkpoint\": \"step-000040\"}\n"
	       "{\"step\": 80, \"metrics\": {\"train_reward_mean\": 0.7}, "
	       "\"checkpoint\": \"/abs/ckpt/step-000080\"}\n"
	       "{\"step\": 90, \"checkpoint\": 90}\n"
	       "{\"step\": 95, \"checkpoint\": \"\"}\n");
	metrics_cursor_start(&c);
	assert_int_equal(read_rftd(f->file, &c, 0, &b), 0);
	assert_int_equal(b.ncheckpoints, 2);
	assert_int_equal(b.checkpoints[0].step, 40);
	assert_string_equal(b.checkpoints[0].path, "step-000040");
	assert_int_equal(b.checkpoints[1].step, 80);
	assert_string_equal(b.checkpoints[1].path, "/abs/ckpt/step-000080");
	assert_true(value(&b, 80, "train_reward_mean") == 0.7);
	assert_int_equal(b.bad, 2);
	metrics_batch_free(&b);

	/* verl's lines carry no checkpoints: the key is not looked at. */
	metrics_cursor_start(&c);
	assert_int_equal(metrics_read(METRICS_VERL, f->file, &c, 0, &b), 0);
	assert_int_equal(b.ncheckpoints, 0);
	metrics_batch_free(&b);
}

/* Newest by number (not by name, not by mtime), then only what is new. */
static void
test_trl_reads_the_newest_checkpoint_by_number(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], text[METRICS_CURSOR_LEN];
	struct metrics_cursor c;
	struct metrics_batch b;

	copy_ckpt(f->dir, "checkpoint-10");
	copy_ckpt(f->dir, "checkpoint-20");
	copy_ckpt(f->dir, "checkpoint-9"); /* written last: newest mtime */
	snprintf(path, sizeof(path), "%s/checkpoint-40", f->dir);
	assert_int_equal(mkdir(path, 0755), 0); /* no trainer_state.json */

	metrics_cursor_start(&c);
	assert_int_equal(metrics_read(METRICS_TRL, f->dir, &c, 0, &b), 0);
	assert_int_equal(b.bad, 0);
	assert_int_equal(b.lines, 6); /* 5, 10, eval 10, 15, 20, eval 20 */
	assert_true(isnan(value(&b, 9, "reward")));
	assert_true(value(&b, 20, "reward") == 0.625);
	assert_true(value(&b, 20, "train_reward_mean") == 0.625);
	assert_true(value(&b, 10, "valid_reward_mean") == 0.4);
	assert_true(value(&b, 20, "valid_reward_mean") == 0.6);
	assert_true(value(&b, 5, "rewards/accuracy_reward/mean") == 0.25);
	assert_int_equal(count(&b, "step"), 0);
	assert_int_equal(count(&b, "train_reward_mean"), 4);
	assert_int_equal(b.ncheckpoints, 3);
	assert_int_equal(b.checkpoints[0].step, 9);
	assert_int_equal(b.checkpoints[1].step, 10);
	assert_int_equal(b.checkpoints[2].step, 20);
	snprintf(path, sizeof(path), "%s/checkpoint-20", f->dir);
	assert_string_equal(b.checkpoints[2].path, path);
	assert_int_equal(c.last_step, 20);
	assert_int_equal(c.last_ckpt, 20);
	metrics_batch_free(&b);

	metrics_cursor_format(&c, text, sizeof(text));
	assert_int_equal(metrics_cursor_parse(text, &c), 0);
	assert_int_equal(metrics_read(METRICS_TRL, f->dir, &c, 0, &b), 0);
	assert_int_equal(b.npoints, 0);
	assert_int_equal(b.ncheckpoints, 0);
	metrics_batch_free(&b);

	copy_ckpt(f->dir, "checkpoint-30");
	assert_int_equal(metrics_read(METRICS_TRL, f->dir, &c, 0, &b), 0);
	assert_int_equal(b.lines, 3); /* 25, 30, eval 30 */
	assert_true(isnan(value(&b, 20, "reward")));
	assert_true(value(&b, 25, "train_reward_mean") == 0.7);
	assert_true(value(&b, 30, "valid_reward_mean") == 0.8);
	assert_int_equal(b.ncheckpoints, 1);
	assert_int_equal(b.checkpoints[0].step, 30);
	assert_int_equal(c.last_step, 30);
	metrics_batch_free(&b);
}

/* A trainer_state.json still being written is bad for now: the one
 * before it is read, and the newest once it is whole. */
static void
test_trl_newest_being_written_falls_back_then_catches_up(void **state)
{
	struct fixture *f = *state;
	char src[PATH_MAX], dst[PATH_MAX];
	struct metrics_cursor c;
	struct metrics_batch b;
	size_t len;
	char *text;

	copy_ckpt(f->dir, "checkpoint-10");
	data_path(src, sizeof(src), "trl/checkpoint-20/trainer_state.json");
	text = slurp(src, &len);
	snprintf(dst, sizeof(dst), "%s/checkpoint-20", f->dir);
	assert_int_equal(mkdir(dst, 0755), 0);
	strncat(dst, "/trainer_state.json", sizeof(dst) - strlen(dst) - 1);
	put(dst, text, len / 2, false);

	metrics_cursor_start(&c);
	assert_int_equal(metrics_read(METRICS_TRL, f->dir, &c, 0, &b), 0);
	assert_int_equal(b.bad, 1);
	assert_int_equal(b.first_bad_offset, -1);
	assert_string_equal(b.first_bad_reason,
			    "trainer_state.json is not JSON");
	assert_true(value(&b, 10, "reward") == 0.375);
	assert_int_equal(b.ncheckpoints, 1);
	assert_int_equal(c.last_step, 10);
	assert_int_equal(c.last_ckpt, 10);
	metrics_batch_free(&b);

	put(dst, text, len, false);
	free(text);
	assert_int_equal(metrics_read(METRICS_TRL, f->dir, &c, 0, &b), 0);
	assert_int_equal(b.bad, 0);
	assert_int_equal(b.lines, 3); /* 15, 20, eval 20 */
	assert_true(isnan(value(&b, 10, "reward")));
	assert_true(value(&b, 20, "reward") == 0.625);
	assert_int_equal(b.ncheckpoints, 1);
	assert_int_equal(b.checkpoints[0].step, 20);
	metrics_batch_free(&b);
}

static void
on_alarm(int sig)
{
	(void)sig;
	fail_msg("metrics_read blocked on a FIFO");
}

static void
test_fifo_is_refused_without_blocking(void **state)
{
	struct fixture *f = *state;
	struct metrics_cursor c;
	struct metrics_batch b;

	assert_int_equal(mkfifo(f->file, 0600), 0);
	signal(SIGALRM, on_alarm);
	alarm(5);
	metrics_cursor_start(&c);
	assert_int_equal(read_rftd(f->file, &c, 0, &b), -EINVAL);
	alarm(0);
	assert_non_null(strstr(b.error, "not a regular file"));
	assert_int_equal(b.npoints, 0);
	assert_int_equal(c.offset, 0);
	metrics_batch_free(&b);

	/* A directory is not a metrics file either. */
	assert_int_equal(read_rftd(f->dir, &c, 0, &b), -EINVAL);
	metrics_batch_free(&b);
	/* Nor a file the checkpoint directory of trl. */
	assert_int_equal(metrics_read(METRICS_TRL, "/dev/null", &c, 0, &b),
			 -ENOTDIR);
	metrics_batch_free(&b);
}

static void
test_missing_file_is_nothing_yet(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];
	struct metrics_cursor c;
	struct metrics_batch b;

	metrics_cursor_start(&c);
	assert_int_equal(read_rftd(f->file, &c, 0, &b), 0);
	assert_int_equal(b.npoints + b.lines + b.bad, 0);
	assert_int_equal(c.offset, 0);
	metrics_batch_free(&b);

	snprintf(path, sizeof(path), "%s/no-such-dir", f->dir);
	assert_int_equal(metrics_read(METRICS_TRL, path, &c, 0, &b), 0);
	assert_int_equal(b.npoints, 0);
	metrics_batch_free(&b);
	/* An empty output directory: no checkpoint yet. */
	assert_int_equal(metrics_read(METRICS_TRL, f->dir, &c, 0, &b), 0);
	assert_int_equal(b.npoints + b.ncheckpoints, 0);
	assert_int_equal(c.last_ckpt, -1);
	metrics_batch_free(&b);
}

/* A file shorter than the offset was started anew: read from its start. */
static void
test_truncated_file_is_read_from_its_start(void **state)
{
	struct fixture *f = *state;
	const char *line = "{\"step\": 1, \"metrics\": {\"a\": 5}}\n";
	struct metrics_cursor c;
	struct metrics_batch b;

	append(f->file, "{\"step\": 1, \"metrics\": {\"a\": 1}}\n"
			"{\"step\": 2, \"metrics\": {\"a\": 2}}\n");
	metrics_cursor_start(&c);
	assert_int_equal(read_rftd(f->file, &c, 0, &b), 0);
	metrics_batch_free(&b);
	put(f->file, line, strlen(line), false);
	assert_int_equal(read_rftd(f->file, &c, 0, &b), 0);
	assert_true(b.restarted);
	assert_true(value(&b, 1, "a") == 5);
	metrics_batch_free(&b);
}

static void
test_cursor_text_round_trip(void **state)
{
	struct metrics_cursor c = {1234567890123ull, true, 40, 30}, d;
	char text[METRICS_CURSOR_LEN];

	(void)state;
	metrics_cursor_format(&c, text, sizeof(text));
	assert_string_equal(text, "o=1234567890123;s=1;l=40;c=30");
	assert_int_equal(metrics_cursor_parse(text, &d), 0);
	assert_int_equal(d.offset, c.offset);
	assert_true(d.skipping);
	assert_int_equal(d.last_step, 40);
	assert_int_equal(d.last_ckpt, 30);

	metrics_cursor_start(&c);
	metrics_cursor_format(&c, text, sizeof(text));
	assert_string_equal(text, "o=0;s=0;l=-1;c=-1");
	c = (struct metrics_cursor){(uint64_t)INT64_MAX, false, INT64_MAX,
				    INT64_MAX};
	metrics_cursor_format(&c, text, sizeof(text));
	assert_true(strlen(text) < METRICS_CURSOR_LEN);
	assert_int_equal(metrics_cursor_parse(text, &d), 0);
	assert_int_equal(d.last_step, INT64_MAX);

	/* Keys left out keep their start values. */
	assert_int_equal(metrics_cursor_parse("o=77", &d), 0);
	assert_int_equal(d.offset, 77);
	assert_false(d.skipping);
	assert_int_equal(d.last_step, -1);
}

static void
assert_start(const struct metrics_cursor *c)
{
	assert_int_equal(c->offset, 0);
	assert_false(c->skipping);
	assert_int_equal(c->last_step, -1);
	assert_int_equal(c->last_ckpt, -1);
}

static void
test_bad_cursor_gives_the_start(void **state)
{
	static const char *const bad[] = {
	    "garbage", "o=",
	    "o=-1",    "o=12x",
	    "s=2",     "l=-2",
	    "c=1.5",   "o=1;o=2",
	    "x=1",     "o=1;;s=0",
	    "o 1",     "o=99999999999999999999",
	    "=1",      "o=1;s=0;l=1;c=1;extra=1",
	};
	struct metrics_cursor c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = (struct metrics_cursor){5, true, 5, 5};
		assert_int_equal(metrics_cursor_parse(bad[i], &c), -EINVAL);
		assert_start(&c);
	}
	c = (struct metrics_cursor){5, true, 5, 5};
	assert_int_equal(metrics_cursor_parse("", &c), 0);
	assert_start(&c);
	c = (struct metrics_cursor){5, true, 5, 5};
	assert_int_equal(metrics_cursor_parse(NULL, &c), 0);
	assert_start(&c);
}

static void
test_format_names(void **state)
{
	enum metrics_format fmt;

	(void)state;
	assert_int_equal(metrics_format_parse("verl", &fmt), 0);
	assert_int_equal(fmt, METRICS_VERL);
	assert_int_equal(metrics_format_parse("trl", &fmt), 0);
	assert_int_equal(fmt, METRICS_TRL);
	assert_int_equal(metrics_format_parse("rftd", &fmt), 0);
	assert_int_equal(fmt, METRICS_RFTD);
	assert_string_equal(metrics_format_name(METRICS_TRL), "trl");
	assert_int_equal(metrics_format_parse("wandb", &fmt), -EINVAL);
	assert_int_equal(metrics_format_parse("", &fmt), -EINVAL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_partial_last_line_waits_for_its_newline),
	    T(test_resume_from_stored_cursor_repeats_nothing),
	    T(test_budget_splits_a_big_file_without_loss_or_repeat),
	    T(test_overlong_line_is_skipped_across_reads),
	    T(test_binary_junk_and_bad_lines_are_counted),
	    T(test_bad_metric_is_skipped_not_its_line),
	    T(test_rftd_names_pass_as_written),
	    T(test_verl_file_logger_maps_canonical_names),
	    T(test_checkpoint_announcements),
	    T(test_trl_reads_the_newest_checkpoint_by_number),
	    T(test_trl_newest_being_written_falls_back_then_catches_up),
	    T(test_fifo_is_refused_without_blocking),
	    T(test_missing_file_is_nothing_yet),
	    T(test_truncated_file_is_read_from_its_start),
	    T(test_cursor_text_round_trip),
	    T(test_bad_cursor_gives_the_start),
	    T(test_format_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
