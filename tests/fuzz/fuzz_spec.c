/*
 * Sweep specs as a client submits them: JSON text validated and expanded
 * with a stub of the daemon's configuration (backends "sim" and "box",
 * "box" taking any hyperparameters; datasets hashed to a fixed value, so
 * no file is read), and a small cap on trials so expansion stays cheap.
 */
#include "fuzz.h"
#include "spec.h"

#include <stdbool.h>
#include <stdio.h>

static bool
backend_exists(const char *name, void *arg)
{
	(void)arg;
	return strcmp(name, "sim") == 0 || strcmp(name, "box") == 0;
}

static bool
any_hyperparameters(const char *name, void *arg)
{
	(void)arg;
	return strcmp(name, "box") == 0;
}

static int
dataset_ref(const char *path, char ref[65], char *err, size_t errlen, void *arg)
{
	(void)arg;
	if (strstr(path, "missing") != NULL) {
		snprintf(err, errlen, "no such file");
		return -2;
	}
	memset(ref, 'a', 64);
	ref[64] = '\0';
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct spec_env env = {
	    .backend_exists = backend_exists,
	    .any_hyperparameters = any_hyperparameters,
	    .dataset_ref = dataset_ref,
	    .max_trials = 200,
	};
	cJSON *json, *errors = NULL;
	struct spec *spec = NULL;
	char *text;

	if (size > SPEC_MAX_BYTES)
		return 0;
	json = cJSON_ParseWithLength((const char *)data, size);
	if (json == NULL)
		return 0;
	if (spec_parse(json, &env, &spec, &errors) == 0) {
		spec_free(spec);
	} else {
		text = spec_errors_text(errors);
		free(text);
		cJSON_Delete(errors);
	}
	cJSON_Delete(json);
	return 0;
}
