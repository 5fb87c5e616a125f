/*
 * Reading the metrics a trainer writes, incrementally: the `process`
 * backend's side of the run contract.  Pure blocking file I/O, no libuv:
 * the caller runs metrics_read() on the thread pool and hands the batch to
 * the loop thread afterwards.  No global state; calls on different
 * cursors may run at once.
 *
 * Glossary:
 *   format      how a trainer writes its metrics (the table in metrics.c):
 *               "rftd"  JSON Lines {"step": N, "metrics": {name: number}},
 *                       a line may also or instead carry "checkpoint":
 *                       "path" (a checkpoint saved at that step);
 *               "verl"  verl's `file` logger, JSON Lines
 *                       {"step": N, "data": {name: number}};
 *               "trl"   no JSON Lines: the `log_history` array of
 *                       checkpoint-<N>/trainer_state.json in the output
 *                       directory (RFTD_CHECKPOINT_DIR).
 *   cursor      where the previous read stopped; kept in the store as
 *               text so that a restart neither loses nor repeats a row.
 *   line        for rftd and verl, the bytes up to and including a '\n';
 *               a last line without its '\n' is left for the next read.
 *   bad line    a line that is not one JSON object of the format's shape
 *               with an integer "step" >= 0: binary data, not UTF-8, not
 *               JSON, no step, longer than METRICS_LINE_MAX.  It is
 *               counted and skipped; the rest of the file is read.
 *   skipped     a metric of a good line that is left out: its value is
 *               not a finite number (a string, a boolean, null, NaN,
 *               Infinity, an object), or its name is empty, longer than
 *               METRICS_NAME_MAX bytes or has a control character.  The
 *               line's other metrics are kept.
 *   canonical   each metric comes under its raw name and, where the
 *               format's table maps it, also under a canonical name
 *               (train_reward_mean, valid_reward_mean).  rftd names pass
 *               as written.  verl: critic/score/mean is train_reward_mean;
 *               valid_reward_mean is the mean of the line's
 *               val-core/<source>/reward/mean@<N> values (one per data
 *               source), or when there is none of the
 *               val-core/<source>/acc/mean@<N> ones.  trl: reward is
 *               train_reward_mean, eval_reward is valid_reward_mean.
 *
 * Python writes NaN, Infinity and -Infinity for non-finite floats, which
 * is not JSON; these tokens are read as null (so that metric is skipped)
 * instead of making the whole line or trainer_state.json bad.  A name
 * that comes twice at one step comes out twice, in order; the store's
 * insert-or-replace keeps the last.
 */
#ifndef RFTD_METRICS_H
#define RFTD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A line (without its '\n') longer than this is bad. */
#define METRICS_LINE_MAX (1024 * 1024)
/* A metric name longer than this (bytes) is skipped. */
#define METRICS_NAME_MAX 200
/* A trainer_state.json larger than this is bad. */
#define METRICS_STATE_MAX (64 * 1024 * 1024)
/* trl: points one read emits at most (it stops between two steps). */
#define METRICS_TRL_POINTS_MAX (1024 * 1024)
/* A budget the caller may pass: bytes one rftd/verl read reads at most. */
#define METRICS_BUDGET_DEFAULT (4 * 1024 * 1024)
/* Room for metrics_cursor_format(), with its '\0'. */
#define METRICS_CURSOR_LEN 96

enum metrics_format {
	METRICS_RFTD,
	METRICS_VERL,
	METRICS_TRL,
};

/*
 * Where the previous read stopped.  Start: {0, false, -1, -1}.
 *   offset     rftd/verl: the file offset of the first line not read.
 *   skipping   rftd/verl: offset is inside a line already found too long;
 *              the next read drops bytes up to its '\n'.
 *   last_step  trl: the highest log_history step emitted (-1: none).
 *   last_ckpt  trl: the checkpoint-<N> whose trainer_state.json was read
 *              last; every checkpoint up to it was reported (-1: none).
 * Text form (metrics_cursor_format): "o=123;s=0;l=-1;c=-1".
 */
struct metrics_cursor {
	uint64_t offset;
	bool skipping;
	int64_t last_step;
	int64_t last_ckpt;
};

/* One metric at a step.  Same members, in the same order, as struct
 * backend_metric, so the caller can pass them on field by field. */
struct metrics_point {
	int64_t step;
	const char *name; /* owned by the batch */
	double value;
};

/* A checkpoint saved at a step.  rftd: the path as the line wrote it
 * (a relative one is relative to RFTD_CHECKPOINT_DIR; the caller resolves
 * it); trl: <dir>/checkpoint-<N>. */
struct metrics_checkpoint {
	int64_t step;
	const char *path; /* owned by the batch */
};

struct metrics_strings;

/*
 * What one read found.  The arrays and their strings belong to the batch
 * (metrics_batch_free); being plain data, the batch may be filled on a
 * worker thread and used and freed on another.
 */
struct metrics_batch {
	struct metrics_point *points; /* in file order */
	size_t npoints;
	struct metrics_checkpoint *checkpoints; /* in file / step order */
	size_t ncheckpoints;
	size_t lines;	/* lines read (trl: log_history entries above the
			   cursor's step, bad ones, and each state file bad
			   as a whole) */
	size_t bad;	/* of which bad (trl: bad entries, bad state files) */
	size_t skipped; /* metrics skipped in good lines */
	/* The first bad line: its file offset (trl: its log_history index,
	 * or -1 for a state file that is bad as a whole) and why, a static
	 * string; NULL when bad is 0. */
	int64_t first_bad_offset;
	const char *first_bad_reason;
	bool restarted;	   /* the file was shorter than the offset: read anew
			      from its start (a trainer that truncated it) */
	const char *error; /* a static string, when metrics_read failed */
	struct metrics_strings *strings;
};

/* The format named `name` ("rftd", "verl", "trl").  0 or -EINVAL. */
int metrics_format_parse(const char *name, enum metrics_format *fmt);
/* Its name, a static string. */
const char *metrics_format_name(enum metrics_format fmt);

/*
 * Reads what is new since *cur from `path` (rftd/verl: the metrics file;
 * trl: the directory holding the checkpoint-<N> directories) into *out,
 * which it overwrites, and moves *cur past it.
 *
 * rftd/verl: complete lines from cur->offset on, reading at most `budget`
 * bytes (raised to METRICS_LINE_MAX + 1 when smaller, so that any line
 * that is not too long fits in one read).  A line too long is counted bad
 * once and dropped up to its '\n', across as many reads as it takes.
 * trl: when the newest checkpoint-<N> (by N) that has a trainer_state.json
 * is newer than cur->last_ckpt, reads that file (its older neighbour when
 * it is bad, e.g. still being written) and emits the log_history entries
 * with a step above cur->last_step, and the checkpoints after
 * cur->last_ckpt that have a trainer_state.json.  `budget` is not used.
 *
 * Returns 0 (also when the file or directory does not exist yet: nothing
 * read), or a negative errno with *cur unchanged, *out empty and
 * out->error set: -EINVAL when `path` is not a regular file (rftd/verl;
 * a FIFO or a device is refused without blocking on it), -ENOTDIR when
 * it is not a directory (trl), or the error of open/read.  Blocking;
 * not for the loop thread.
 */
int metrics_read(enum metrics_format fmt, const char *path,
		 struct metrics_cursor *cur, size_t budget,
		 struct metrics_batch *out);

/* Frees what the batch holds and empties it.  Safe on an empty batch. */
void metrics_batch_free(struct metrics_batch *b);

/* The start: nothing read yet. */
void metrics_cursor_start(struct metrics_cursor *cur);

/*
 * Reads the text form.  NULL, "" and any text that is not a valid cursor
 * give the start; a key left out keeps its start value.  Returns 0, or
 * -EINVAL for a bad text (*cur is then the start).
 */
int metrics_cursor_parse(const char *text, struct metrics_cursor *cur);

/* Writes the text form into buf (METRICS_CURSOR_LEN is enough). */
void metrics_cursor_format(const struct metrics_cursor *cur, char *buf,
			   size_t len);

#endif
