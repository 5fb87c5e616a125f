/*
 * Sweep specs: validation and expansion into trials.
 *
 * Glossary:
 *   spec     the JSON document a user submits (docs/sweep-spec.md).
 *   axis     a hyperparameter given as a list of values, the graders, or
 *            the seeds; the grid is the product of the axes.
 *   trial    one point: a grader variant, resolved hyperparameters and
 *            a seed.  Its identity is the SHA-256 of the canonical JSON of
 *            backend, model, dataset hashes, grader, hyperparameters
 *            (without "auto" values, which mean "unset"), seed, and the
 *            response_format when the spec has one.
 *   template a {{namespace.variable}} in a grader's input or reference
 *            (or a model grader's messages): {{item.FIELD}} reads the
 *            dataset's examples, {{sample.VARIABLE}} the model's output.
 *
 * Expansion order is deterministic: graders in spec order, then the
 * hyperparameters by name with each list in its given order (the last
 * name varies fastest), then seeds.
 */
#ifndef RFTD_SPEC_H
#define RFTD_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "datasets.h"
#include "early.h"

#define SPEC_MAX_BYTES	       (4u << 20) /* a whole spec, as JSON text */
#define SPEC_MAX_GRADER_BYTES  (1u << 20) /* one grader, as JSON text */
#define SPEC_MAX_PYTHON_SOURCE (256u << 10)
#define SPEC_MAX_DATASET_BYTES (1ull << 30) /* hashed by the daemon */

/* What the validator needs to know from the daemon's configuration. */
struct spec_env {
	/* Returns true when `name` is a configured backend. */
	bool (*backend_exists)(const char *name, void *arg);
	/* Returns true when the backend takes hyperparameters of any name
	 * (JSON scalars) instead of OpenAI's set; NULL: never. */
	bool (*any_hyperparameters)(const char *name, void *arg);
	/* The SHA-256 (hex) of the dataset at absolute `path`: 0, or a
	 * negative errno with `err` in words; NULL: hash it now. */
	int (*dataset_ref)(const char *path, char ref[65], char *err,
			   size_t errlen, void *arg);
	void *arg;
	unsigned int max_trials; /* cap on trials per sweep */
};

/* A grader variant of the spec. */
struct spec_grader {
	const char *name; /* key in the spec's graders (borrowed) */
	const cJSON *obj; /* the grader object (borrowed from the spec) */
	const char *type; /* its "type" (borrowed) */
	char *canonical;  /* canonical JSON (owned) */
	char sha256[65];  /* of the canonical JSON */
};

struct spec_trial {
	char sha256[65];	 /* identity, hex */
	const char *grader_name; /* key in the spec's graders (borrowed) */
	const cJSON *grader;	 /* grader object (borrowed from the spec) */
	const struct spec_grader *graderv; /* its entry in spec->graders */
	cJSON *hyperparameters;		   /* resolved object (owned) */
	char *hyperparameters_json;	   /* the same, printed (owned) */
	bool has_seed;
	int64_t seed;
};

struct spec {
	cJSON *root; /* the spec (owned) */
	const char *name;
	const char *backend;
	const char *model;
	const char *training_file;
	const char *validation_file; /* or NULL */
	char training_ref[72];	     /* sha256 hex of the content, or file id */
	char validation_ref[72];     /* "" when there is none */
	/* What reading a dataset named by path found (owned); NULL for a
	 * file id, or when rftd has no facts of it. */
	struct dataset_facts *training_facts, *validation_facts;
	/* Whether the examples were checked as RFT's (a messages array):
	 * not on a backend that runs a trainer of the user's, whose data
	 * may be in any form. */
	bool examples_checked;
	const cJSON *response_format; /* borrowed from root, or NULL */
	char sha256[65];	      /* of the canonical spec */
	int max_concurrent;	      /* 0: only the backend's limit */
	double max_job_hours;	      /* 0: none given */
	int retries;
	bool allow_unpriced; /* jobs without a price may run */
	bool has_budget;
	double budget_usd;
	int priority;
	const char *objective_metric;
	bool objective_max;	     /* mode "max" (default) or "min" */
	struct early_config early;   /* rule EARLY_NONE: none */
	struct spec_grader *graders; /* in spec order */
	size_t ngraders;
	struct spec_trial *trials;
	size_t ntrials;
};

/*
 * Validates `json` (a spec; copied, not taken) and expands it.  Returns 0
 * with *out set (free with spec_free()), or -EINVAL with *errors set to a
 * JSON array of {"path": JSON pointer, "message": sentence} objects, one
 * per problem found (all of them, not just the first).  Without
 * env->dataset_ref, reads the dataset files named by path to hash and
 * check them; with it, takes their facts from dataset_facts_of().
 */
int spec_parse(const cJSON *json, const struct spec_env *env, struct spec **out,
	       cJSON **errors);

void spec_free(struct spec *spec);

/* "PATH: message" lines for a person, from spec_parse()'s errors. */
char *spec_errors_text(const cJSON *errors);

#endif
