/*
 * A trainer's metrics as metrics_read() finds them on disk, in each of
 * the three formats, and a stored cursor's text.  The first byte picks
 * the format and the read budget; the rest is the file (rftd, verl) or
 * checkpoint-1/trainer_state.json (trl), written to a scratch directory
 * made once per run.  The file is read twice from the start cursor,
 * the second time also from where the first read stopped.
 */
#include "fuzz.h"
#include "metrics.h"

#include <assert.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/rftd-fuzz-metrics.XXXXXX";
static char file[sizeof(dir) + 32], state[sizeof(dir) + 64];
static char ckpt[sizeof(dir) + 32];

static void
remove_files(void)
{
	unlink(file);
	unlink(state);
	rmdir(ckpt);
	rmdir(dir);
}

static void
setup(void)
{
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(file, sizeof(file), "%s/metrics.jsonl", dir);
	snprintf(ckpt, sizeof(ckpt), "%s/checkpoint-1", dir);
	snprintf(state, sizeof(state), "%s/trainer_state.json", ckpt);
	if (mkdir(ckpt, 0700) != 0)
		abort();
	atexit(remove_files);
}

static void
put(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
}

static void
read_once(enum metrics_format fmt, const char *path, struct metrics_cursor *cur,
	  size_t budget)
{
	struct metrics_batch b = {0};
	char text[METRICS_CURSOR_LEN];
	struct metrics_cursor again;

	/* trl counts a bad trainer_state.json as bad, not as a line. */
	if (metrics_read(fmt, path, cur, budget, &b) == 0 && fmt != METRICS_TRL)
		assert(b.bad <= b.lines);
	metrics_batch_free(&b);
	metrics_cursor_format(cur, text, sizeof(text));
	assert(metrics_cursor_parse(text, &again) == 0);
	assert(again.offset == cur->offset &&
	       again.last_step == cur->last_step &&
	       again.last_ckpt == cur->last_ckpt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t budgets[] = {1, 64, METRICS_BUDGET_DEFAULT};
	struct metrics_cursor cur;
	enum metrics_format fmt;
	const char *path;
	char *text;
	static bool ready;

	if (size < 1)
		return 0;
	if (!ready) {
		setup();
		ready = true;
	}
	fmt = (enum metrics_format)(data[0] % 3);
	data++;
	size--;
	/* The bytes as a stored cursor's text, too. */
	text = fuzz_cstring(data, size < 128 ? size : 128);
	(void)metrics_cursor_parse(text, &cur);
	free(text);

	if (fmt == METRICS_TRL) {
		put(state, data, size);
		path = dir;
	} else {
		put(file, data, size);
		path = file;
	}
	metrics_cursor_start(&cur);
	read_once(fmt, path, &cur, budgets[(data[-1] / 3) % 3]);
	read_once(fmt, path, &cur, budgets[(data[-1] / 3) % 3]);
	return 0;
}
