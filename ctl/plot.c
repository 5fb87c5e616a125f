/*
 * `rftctl plot` (plot.h): rows into a chart, the chart into a file.  PNG
 * goes through librsvg and cairo, so the picture is the SVG's.
 */
#include "plot.h"
#include "svg.h"
#include "util.h"

#include <cairo.h>
#include <errno.h>
#include <librsvg/rsvg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct trial {
	int64_t id;
	const char *grader; /* borrowed from the trial rows */
	double score;	    /* NaN: none */
};

int
plot_format_of(const char *path, enum plot_format *f)
{
	const char *dot = strrchr(path, '.');

	if (strcmp(path, "-") == 0) {
		*f = PLOT_SVG;
		return 0;
	}
	/* A name that is only an extension (".svg") names no file. */
	if (dot == NULL || dot == path || dot[-1] == '/')
		return -EINVAL;
	if (strcasecmp(dot, ".svg") == 0)
		*f = PLOT_SVG;
	else if (strcasecmp(dot, ".png") == 0)
		*f = PLOT_PNG;
	else
		return -EINVAL;
	return 0;
}

char *
plot_default_path(bool job, int64_t id, const char *metric)
{
	char *path = xasprintf("%s-%lld-%s.svg", job ? "job" : "sweep",
			       (long long)id, metric);
	char *m = strchr(strchr(path, '-') + 1, '-') + 1;

	/* No slash, no space, no byte that is not ASCII: a plain name. */
	for (char *c = m; c < path + strlen(path) - 4; c++)
		if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') &&
		    !(*c >= '0' && *c <= '9') && *c != '.' && *c != '_' &&
		    *c != '-')
			*c = '_';
	return path;
}

char *
plot_trials_sql(bool job, int64_t id)
{
	char where[96];

	/* The trials whose curves reward_curves gives: those the sweep ran
	 * first (trials.sweep_id). */
	if (job)
		snprintf(where, sizeof(where),
			 "t.id = (SELECT trial_id FROM jobs WHERE id = %lld)",
			 (long long)id);
	else
		snprintf(where, sizeof(where), "t.sweep_id = %lld",
			 (long long)id);
	return xasprintf(
	    "SELECT t.id, t.grader_name, CASE s.objective_mode WHEN 'min' "
	    "THEN -t.objective ELSE t.objective END, s.name FROM trials t "
	    "JOIN sweeps s ON s.id = t.sweep_id WHERE %s ORDER BY t.id",
	    where);
}

static const cJSON *
rows_of(const cJSON *result)
{
	const cJSON *rows = cJSON_GetObjectItemCaseSensitive(result, "rows");

	return cJSON_IsArray(rows) ? rows : NULL;
}

static bool
number_at(const cJSON *row, int i, double *v)
{
	const cJSON *c = cJSON_GetArrayItem(row, i);

	if (cJSON_IsNumber(c)) {
		*v = c->valuedouble;
		return true;
	}
	*v = NAN;
	return false;
}

static int
by_id(const void *a, const void *b)
{
	const struct trial *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* The trial rows, sorted by id; *n of them. */
static struct trial *
read_trials(const cJSON *trials, size_t *n, const char **sweep_name)
{
	const cJSON *rows = rows_of(trials), *row;
	struct trial *t;
	double id;

	*n = 0;
	*sweep_name = NULL;
	t = xcalloc((size_t)cJSON_GetArraySize(rows) + 1, sizeof(*t));
	cJSON_ArrayForEach(row, rows)
	{
		const cJSON *g = cJSON_GetArrayItem(row, 1);
		const cJSON *name = cJSON_GetArrayItem(row, 3);

		if (!number_at(row, 0, &id))
			continue;
		t[*n].id = (int64_t)id;
		t[*n].grader = cJSON_IsString(g) ? g->valuestring : NULL;
		number_at(row, 2, &t[*n].score);
		if (cJSON_IsString(name))
			*sweep_name = name->valuestring;
		(*n)++;
	}
	qsort(t, *n, sizeof(*t), by_id);
	return t;
}

static const struct trial *
find_trial(const struct trial *t, size_t n, int64_t id)
{
	struct trial key = {.id = id};

	return bsearch(&key, t, n, sizeof(*t), by_id);
}

char *
plot_svg(const struct plot *p, const cJSON *curves, const cJSON *trials,
	 size_t *series, size_t *points)
{
	const cJSON *rows = rows_of(curves), *row;
	size_t nrows = (size_t)cJSON_GetArraySize(rows), ntrials, ns = 0;
	const char *sweep_name;
	struct trial *t = read_trials(trials, &ntrials, &sweep_name);
	const struct trial *best = NULL;
	struct chart_series *s = xcalloc(nrows + 1, sizeof(*s));
	double *x = xcalloc(nrows + 1, sizeof(*x));
	double *y = xcalloc(nrows + 1, sizeof(*y));
	char **labels = xcalloc(nrows + 1, sizeof(*labels));
	size_t n = 0, best_series = 0;
	char *title, *svg;
	struct chart c;

	for (size_t i = 0; !p->job && i < ntrials; i++)
		if (!isnan(t[i].score) &&
		    (best == NULL || t[i].score > best->score))
			best = &t[i];
	/* One series a job: the rows come in job order. */
	cJSON_ArrayForEach(row, rows)
	{
		double job, trial, step;

		if (!number_at(row, 0, &job) || !number_at(row, 1, &trial) ||
		    !number_at(row, 2, &step))
			continue;
		if (ns == 0 || s[ns - 1].job != (long long)job) {
			const struct trial *tr =
			    find_trial(t, ntrials, (int64_t)trial);

			s[ns] = (struct chart_series){
			    .x = x + n,
			    .y = y + n,
			    .trial = (long long)trial,
			    .job = (long long)job,
			    .group = tr != NULL ? tr->grader : NULL};
			if (tr != NULL && tr == best)
				best_series = ns + 1;
			ns++;
		}
		x[n] = step;
		number_at(row, 3, &y[n]);
		s[ns - 1].n++;
		n++;
	}
	if (best_series > 0)
		s[best_series - 1].highlight = true;
	for (size_t i = 0; i < ns; i++) {
		if (s[i].group != NULL)
			labels[i] = xasprintf("trial %lld (%s)%s", s[i].trial,
					      s[i].group,
					      s[i].highlight ? ", best" : "");
		else
			labels[i] = xasprintf("trial %lld%s", s[i].trial,
					      s[i].highlight ? ", best" : "");
		s[i].label = labels[i];
	}
	if (p->job)
		title = xasprintf("job %lld (trial %lld): %s", (long long)p->id,
				  ns > 0 ? s[0].trial : 0LL, p->metric);
	else if (sweep_name != NULL)
		title = xasprintf("sweep %lld \"%s\": %s", (long long)p->id,
				  sweep_name, p->metric);
	else
		title =
		    xasprintf("sweep %lld: %s", (long long)p->id, p->metric);
	c = (struct chart){.title = title,
			   .x_label = "step",
			   .y_label = p->metric,
			   .width = p->width,
			   .height = p->height,
			   .series = s,
			   .nseries = ns,
			   .standalone = true};
	svg = chart_svg(&c);
	*series = ns;
	*points = n;
	for (size_t i = 0; i < ns; i++)
		free(labels[i]);
	free(labels);
	free(title);
	free(x);
	free(y);
	free(s);
	free(t);
	return svg;
}

static cairo_status_t
png_out(void *closure, const unsigned char *data, unsigned int len)
{
	return fwrite(data, 1, len, closure) == len ? CAIRO_STATUS_SUCCESS
						    : CAIRO_STATUS_WRITE_ERROR;
}

/* The SVG as PNG, its size the SVG's own, on `f`. */
static int
write_png(const char *svg, FILE *f, char *err, size_t errlen)
{
	GError *gerr = NULL;
	RsvgHandle *h =
	    rsvg_handle_new_from_data((const guint8 *)svg, strlen(svg), &gerr);
	cairo_surface_t *surface = NULL;
	cairo_t *cr = NULL;
	RsvgRectangle viewport = {0, 0, 0, 0};
	int rc = -EIO;

	if (h == NULL) {
		snprintf(err, errlen, "the chart is not SVG librsvg reads: %s",
			 gerr->message);
		goto out;
	}
	if (!rsvg_handle_get_intrinsic_size_in_pixels(h, &viewport.width,
						      &viewport.height)) {
		snprintf(err, errlen, "the chart has no size in pixels");
		goto out;
	}
	surface = cairo_image_surface_create(
	    CAIRO_FORMAT_ARGB32, (int)viewport.width, (int)viewport.height);
	cr = cairo_create(surface);
	if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errlen, "cairo: %s",
			 cairo_status_to_string(cairo_status(cr)));
		goto out;
	}
	if (!rsvg_handle_render_document(h, cr, &viewport, &gerr)) {
		snprintf(err, errlen, "librsvg: %s", gerr->message);
		goto out;
	}
	/* Rendering may leave errno set (fontconfig looks for files). */
	errno = 0;
	if (cairo_surface_write_to_png_stream(surface, png_out, f) !=
	    CAIRO_STATUS_SUCCESS) {
		rc = errno != 0 ? -errno : -EIO;
		snprintf(err, errlen, "%s", strerror(-rc));
		goto out;
	}
	rc = 0;
out:
	if (gerr != NULL)
		g_error_free(gerr);
	if (cr != NULL)
		cairo_destroy(cr);
	if (surface != NULL)
		cairo_surface_destroy(surface);
	if (h != NULL)
		g_object_unref(h);
	return rc;
}

/* -errno, or -EIO when a failure did not set errno. */
static int
neg_errno(void)
{
	return errno != 0 ? -errno : -EIO;
}

/* Writes the file through a temporary one beside it; see plot.h. */
static int
write_file(const struct plot *p, const char *svg, char *err, size_t errlen)
{
	const char *slash = strrchr(p->path, '/');
	char *tmp, why[256] = "";
	mode_t mask;
	FILE *f = NULL;
	int fd, rc = 0;

	/* Beside the file, so that rename() never crosses a file system. */
	if (slash == NULL)
		tmp = xasprintf(".%s.XXXXXX", p->path);
	else
		tmp = xasprintf("%.*s/.%s.XXXXXX", (int)(slash - p->path),
				p->path, slash + 1);
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = neg_errno();
		snprintf(err, errlen, "cannot write %s: %s", p->path,
			 strerror(errno));
		free(tmp);
		return rc;
	}
	/* mkstemp() makes it 0600; a plot is as readable as any file. */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0 || (f = fdopen(fd, "wb")) == NULL) {
		rc = neg_errno();
		close(fd);
		goto fail;
	}
	if (p->format == PLOT_PNG) {
		rc = write_png(svg, f, why, sizeof(why));
	} else if (fputs(svg, f) == EOF) {
		rc = neg_errno();
	}
	if (fflush(f) != 0 && rc == 0)
		rc = neg_errno();
	if (fsync(fileno(f)) != 0 && rc == 0)
		rc = neg_errno();
	if (fclose(f) != 0 && rc == 0)
		rc = neg_errno();
	if (rc == 0 && rename(tmp, p->path) != 0)
		rc = neg_errno();
	if (rc == 0) {
		free(tmp);
		return 0;
	}
fail:
	unlink(tmp);
	free(tmp);
	snprintf(err, errlen, "cannot write %s: %s", p->path,
		 why[0] ? why : strerror(-rc));
	return rc;
}

static void
report(const struct plot *p, bool json, size_t series, size_t points,
       const char *cut)
{
	cJSON *o;
	char *text;

	if (!json) {
		printf("%s\n", p->path);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", p->path);
	cJSON_AddStringToObject(o, "format",
				p->format == PLOT_PNG ? "png" : "svg");
	cJSON_AddNumberToObject(o, "series", (double)series);
	cJSON_AddNumberToObject(o, "points", (double)points);
	if (cut != NULL)
		cJSON_AddStringToObject(o, "truncated", cut);
	text = cJSON_Print(o);
	printf("%s\n", text);
	free(text);
	cJSON_Delete(o);
}

int
plot_make(const struct plot *p, const cJSON *curves, const cJSON *trials,
	  bool json, char *err, size_t errlen)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(curves, "truncated");
	const char *cut = cJSON_IsString(t) ? t->valuestring : NULL;
	size_t series, points;
	char *svg = plot_svg(p, curves, trials, &series, &points);
	int rc = 0;

	if (strcmp(p->path, "-") == 0) {
		if (fputs(svg, stdout) == EOF || fflush(stdout) != 0) {
			rc = neg_errno();
			snprintf(err, errlen,
				 "cannot write standard output: %s",
				 strerror(errno));
		}
	} else {
		rc = write_file(p, svg, err, errlen);
		if (rc == 0)
			report(p, json, series, points, cut);
	}
	free(svg);
	if (rc != 0)
		return rc;
	if (cut != NULL && !json)
		fprintf(stderr,
			"rftctl: plot: rftd's %s cut the points at %zu; the "
			"plot shows only those\n",
			cut, points);
	return cut != NULL ? 1 : 0;
}
