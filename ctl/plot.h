/*
 * `rftctl plot`: a sweep's (or a job's) reward curves drawn to a file,
 * as SVG (common/svg.h) or as PNG rendered from that SVG by librsvg and
 * cairo.  The rows come from the caller, who asked rftd for them;
 * nothing here talks to rftd.
 *
 * Glossary:
 *   curve rows  `reward_curves` rows (job_id, trial_id, step, value), in
 *               job then step order: one series per job.
 *   trial rows  plot_trials_sql()'s rows: what colours and titles them.
 *   best        the trial with the best objective, drawn highlighted.
 */
#ifndef RFTCTL_PLOT_H
#define RFTCTL_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum plot_format {
	PLOT_SVG,
	PLOT_PNG,
};

struct plot {
	bool job; /* id names a job, else a sweep */
	int64_t id;
	const char *metric;
	const char *path; /* "-": the SVG on standard output */
	enum plot_format format;
	int width, height; /* pixels; 0: the chart's default */
};

/*
 * The format `path` asks for by its extension: ".svg" or ".png" (in any
 * case); "-" is SVG.  Returns 0, or -EINVAL for any other.
 */
int plot_format_of(const char *path, enum plot_format *f);

/*
 * The file written without --out: "sweep-ID-METRIC.svg" (or "job-…") in
 * the current directory, each byte of the metric outside [A-Za-z0-9._-]
 * written as '_'.  Malloc'd; the caller frees.
 */
char *plot_default_path(bool job, int64_t id, const char *metric);

/*
 * The query for the trial rows of a sweep (or of a job's trial): trial
 * id, grader, score (the objective, higher better; null without one)
 * and the sweep's name, in trial order.  Malloc'd; the caller frees.
 */
char *plot_trials_sql(bool job, int64_t id);

/*
 * The chart as standalone SVG (malloc'd; the caller frees): one curve a
 * job, labelled "trial N (GRADER)" and coloured by grader, the best
 * trial's last job highlighted.  Sets *series and *points to what it
 * drew from.  Rows of another shape are skipped.
 */
char *plot_svg(const struct plot *p, const cJSON *curves, const cJSON *trials,
	       size_t *series, size_t *points);

/*
 * Draws the chart and writes it to p->path as p->format: into a
 * temporary file beside it, renamed over it once whole, so a failure
 * leaves nothing behind.  Then says what it wrote on stdout (the path,
 * or under `json` an object {path, format, series, points, truncated?});
 * with p->path "-" the SVG is all it prints.  Curve rows cut at rftd's
 * row cap are still drawn, and a note on stderr says so.
 *
 * Returns 0; 1 when the rows were cut; or a negative errno with `err`
 * naming the file and the cause.
 */
int plot_make(const struct plot *p, const cJSON *curves, const cJSON *trials,
	      bool json, char *err, size_t errlen);

#endif
