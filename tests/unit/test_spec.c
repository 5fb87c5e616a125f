/*
 * Sweep specs (daemon/spec.h): every validation rule names the JSON pointer
 * of its problem, expansion order and counts, trial identity, dataset
 * references and defaults.  Datasets are real files in a temporary
 * directory that the group fixture makes and removes.
 *
 * Specs are written with ' for " so that they read as JSON, and "@DIR@"
 * stands for the temporary directory.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "spec.h"
#include "tmpdir.h"
#include "util.h"

#include <errno.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* --- fixture and helpers ------------------------------------------------- */

static char tmpdir[64];

static const char train_text[] =
    "{\"messages\":[{\"role\":\"user\",\"content\":\"2+2?\"}],"
    "\"answer\":\"4\"}\n"
    "{\"messages\":[{\"role\":\"user\",\"content\":\"3+3?\"}],"
    "\"answer\":\"6\"}\n";
static const char train2_text[] =
    "{\"messages\":[{\"role\":\"user\",\"content\":\"2+3?\"}],"
    "\"answer\":\"5\"}\n";
static const char valid_text[] =
    "{\"messages\":[{\"role\":\"user\",\"content\":\"4+4?\"}],"
    "\"answer\":\"8\"}\n";
static const char valid2_text[] =
    "{\"messages\":[{\"role\":\"user\",\"content\":\"5+5?\"}],"
    "\"answer\":\"10\"}\n";

static bool
backend_exists(const char *name, void *arg)
{
	(void)arg;
	return strcmp(name, "sim") == 0 || strcmp(name, "azure") == 0 ||
	       strcmp(name, "box") == 0;
}

/* "box" stands for a process backend: hyperparameters of any name. */
static bool
any_hyperparameters(const char *name, void *arg)
{
	(void)arg;
	return strcmp(name, "box") == 0;
}

static int
write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	rc = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

static int
group_setup(void **state)
{
	(void)state;
	if (tmpdir_make(tmpdir, sizeof(tmpdir), "spec") != 0)
		return -1;
	if (write_file("train.jsonl", train_text) != 0 ||
	    write_file("train-copy.jsonl", train_text) != 0 ||
	    write_file("train2.jsonl", train2_text) != 0 ||
	    write_file("valid.jsonl", valid_text) != 0 ||
	    write_file("valid2.jsonl", valid2_text) != 0 ||
	    write_file("empty.jsonl", "") != 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return tmpdir_remove(tmpdir);
}

/* Parses `text`, written with ' for " and @DIR@ for the directory. */
static cJSON *
spec_json(const char *text)
{
	size_t dirlen = strlen(tmpdir), n = 0, cap = strlen(text) + 1;
	char *buf;
	cJSON *json;

	for (const char *s = strstr(text, "@DIR@"); s != NULL;
	     s = strstr(s + 5, "@DIR@"))
		cap += dirlen;
	buf = xmalloc(cap);
	for (const char *s = text; *s != '\0';) {
		if (strncmp(s, "@DIR@", 5) == 0) {
			memcpy(buf + n, tmpdir, dirlen);
			n += dirlen;
			s += 5;
		} else {
			buf[n++] = *s == '\'' ? '"' : *s;
			s++;
		}
	}
	buf[n] = '\0';
	json = cJSON_Parse(buf);
	if (json == NULL)
		print_error("not JSON: %s\n", buf);
	free(buf);
	assert_non_null(json);
	return json;
}

/*
 * An RFC 7386 merge patch: objects merge member by member, null removes a
 * member, anything else replaces it.  One addition: an empty object in the
 * patch sets an empty object (a no-op in RFC 7386).
 */
static void
merge_patch(cJSON *target, const cJSON *patch)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, patch)
	{
		cJSON *old =
		    cJSON_GetObjectItemCaseSensitive(target, m->string);

		if (cJSON_IsNull(m))
			cJSON_DeleteItemFromObjectCaseSensitive(target,
								m->string);
		else if (cJSON_IsObject(m) && m->child != NULL &&
			 cJSON_IsObject(old))
			merge_patch(old, m);
		else if (old != NULL)
			cJSON_ReplaceItemInObjectCaseSensitive(
			    target, m->string, cJSON_Duplicate(m, 1));
		else
			cJSON_AddItemToObject(target, m->string,
					      cJSON_Duplicate(m, 1));
	}
}

/* The spec `base` with `patch` (both in the ' notation) applied. */
static cJSON *
patched(const char *base, const char *patch)
{
	cJSON *json = spec_json(base);

	if (patch != NULL) {
		cJSON *p = spec_json(patch);

		merge_patch(json, p);
		cJSON_Delete(p);
	}
	return json;
}

static int
parse(const cJSON *json, unsigned int max_trials, struct spec **out,
      cJSON **errors)
{
	struct spec_env env = {
	    .backend_exists = backend_exists,
	    .any_hyperparameters = any_hyperparameters,
	    .arg = NULL,
	    .max_trials = max_trials ? max_trials : 10000,
	};

	return spec_parse(json, &env, out, errors);
}

/* Parses base + patch and insists that it is valid; free with spec_free. */
static struct spec *
parse_ok(const char *base, const char *patch, unsigned int max_trials)
{
	cJSON *json = patched(base, patch), *errors = NULL;
	struct spec *spec = NULL;
	int rc = parse(json, max_trials, &spec, &errors);

	cJSON_Delete(json);
	if (rc != 0) {
		char *text = spec_errors_text(errors);

		print_error("spec_parse returned %d:\n%s", rc, text);
		free(text);
	}
	cJSON_Delete(errors);
	assert_int_equal(rc, 0);
	assert_non_null(spec);
	return spec;
}

/* Whether `errors` holds {"path": path, "message": "...substring..."}. */
static bool
has_error(const cJSON *errors, const char *path, const char *substring)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, errors)
	{
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "path");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");

		if (cJSON_IsString(p) && cJSON_IsString(m) &&
		    strcmp(p->valuestring, path) == 0 &&
		    strstr(m->valuestring, substring) != NULL)
			return true;
	}
	return false;
}

/*
 * Parses base + patch and insists that it is refused; returns the errors
 * (caller deletes).
 */
static cJSON *
refused(const char *base, const char *patch)
{
	cJSON *json = patched(base, patch), *errors = NULL;
	struct spec *spec = NULL;
	int rc = parse(json, 0, &spec, &errors);

	cJSON_Delete(json);
	if (rc != -EINVAL || spec != NULL) {
		print_error("spec_parse returned %d\n", rc);
		spec_free(spec);
		cJSON_Delete(errors);
		fail();
	}
	return errors;
}

/* Prints `errors` as spec_errors_text() renders them, after a failure. */
static void
show_errors(const cJSON *errors)
{
	char *text = spec_errors_text(errors);

	print_error("errors were:\n%s", text);
	free(text);
}

static double
hp_number(const struct spec_trial *t, const char *name)
{
	const cJSON *v =
	    cJSON_GetObjectItemCaseSensitive(t->hyperparameters, name);

	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static const char *
hp_string(const struct spec_trial *t, const char *name)
{
	const cJSON *v =
	    cJSON_GetObjectItemCaseSensitive(t->hyperparameters, name);

	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

static bool
is_lower_hex64(const char *s)
{
	size_t n = strlen(s);

	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* --- specs --------------------------------------------------------------- */

/*
 * A valid spec that uses every kind of grader: 5 graders x 2 epochs x
 * 2 learning rates = 20 points, x 2 seeds = 40 trials.  Each bad case
 * changes one thing in it.
 */
static const char base_spec[] =
    "{'name': 'tax-agent-lr', 'backend': 'sim',"
    " 'model': 'o4-mini-2025-04-16',"
    " 'training_file': '@DIR@/train.jsonl',"
    " 'validation_file': '@DIR@/valid.jsonl',"
    " 'budget_usd': 600, 'max_concurrent': 3, 'max_job_hours': 2.0,"
    " 'retries': 1, 'priority': 5,"
    " 'search': {'strategy': 'grid'},"
    " 'seeds': [1, 2],"
    " 'hyperparameters': {'n_epochs': [1, 2],"
    "   'learning_rate_multiplier': [0.5, 1.0],"
    "   'reasoning_effort': 'medium', 'batch_size': 'auto'},"
    " 'graders': {"
    "  'exact': {'type': 'string_check', 'name': 'exact',"
    "    'input': '{{sample.output_text}}', 'reference': '{{item.answer}}',"
    "    'operation': 'eq'},"
    "  'fuzzy': {'type': 'text_similarity', 'name': 'fuzzy',"
    "    'input': '{{sample.output_text}}', 'reference': '{{item.answer}}',"
    "    'evaluation_metric': 'fuzzy_match'},"
    "  'judge': {'type': 'score_model', 'name': 'judge',"
    "    'model': 'o4-mini-2025-04-16',"
    "    'input': [{'role': 'user', 'type': 'message',"
    "      'content': 'Grade {{sample.output_text}} against {{item.answer}}'}],"
    "    'range': [0, 1],"
    "    'sampling_params': {'seed': 42, 'top_p': 1,"
    "      'max_completions_tokens': 4096, 'reasoning_effort': 'medium'}},"
    "  'py': {'type': 'python', 'name': 'py', 'image_tag': '2025-05-08',"
    "    'source': 'def grade(sample, item) -> float:\\n    return 1.0\\n'},"
    "  'combo': {'type': 'multi', 'name': 'combo',"
    "    'graders': {"
    "      'match': {'type': 'string_check', 'name': 'match',"
    "        'input': '{{sample.output_text}}',"
    "        'reference': '{{item.answer}}', 'operation': 'ilike'},"
    "      'label': {'type': 'label_model', 'name': 'label',"
    "        'model': 'gpt-4o-2024-08-06',"
    "        'input': [{'role': 'system', 'content': 'Is it right?'},"
    "          {'role': 'user', 'content': [{'type': 'input_text',"
    "            'text': '{{sample.output_text}}'}]}],"
    "        'labels': ['yes', 'no'], 'passing_labels': ['yes']}},"
    "    'calculate_output': '0.5 * match + 0.5 * max(label, 0)'}},"
    " 'objective': {'metric': 'valid_reward_mean', 'mode': 'max'}}";

/* Two graders, in an order that is not alphabetical. */
#define TWO_GRADERS                                                            \
	" 'graders': {"                                                        \
	"  'zeta': {'type': 'string_check', 'name': 'zeta',"                   \
	"    'input': '{{sample.output_text}}',"                               \
	"    'reference': '{{item.answer}}', 'operation': 'eq'},"              \
	"  'alpha': {'type': 'text_similarity', 'name': 'alpha',"              \
	"    'input': '{{sample.output_text}}',"                               \
	"    'reference': '{{item.answer}}',"                                  \
	"    'evaluation_metric': 'bleu'}}"

/*
 * A grid of 2 graders x 3 learning rates x 2 epochs x 2 seeds = 24 trials.
 * The hyperparameters are not written in name order.
 */
static const char grid_spec[] =
    "{'name': 'grid', 'backend': 'sim', 'model': 'o4-mini-2025-04-16',"
    " 'training_file': '@DIR@/train.jsonl',"
    " 'seeds': [7, 3],"
    " 'hyperparameters': {'n_epochs': [1, 2], 'reasoning_effort': 'low',"
    "   'learning_rate_multiplier': [0.5, 1.0, 2.0], 'batch_size': "
    "8}," TWO_GRADERS "}";

/* 2 graders x 4 learning rates x 3 epochs = 24 points, 10 drawn, 2 seeds. */
static const char random_spec[] =
    "{'name': 'random', 'backend': 'sim', 'model': 'o4-mini-2025-04-16',"
    " 'training_file': '@DIR@/train.jsonl',"
    " 'seeds': [1, 2],"
    " 'search': {'strategy': 'random', 'samples': 10, 'seed': 7},"
    " 'hyperparameters': {'learning_rate_multiplier': [0.5, 1, 2, 4],"
    "   'n_epochs': [1, 2, 3]}," TWO_GRADERS "}";

/*
 * Explicit trials over top-level values n_epochs 2, learning rate 1 and
 * batch size 8:
 *   0-1  alpha, n_epochs 3, seeds 7 and 3
 *   2-5  zeta then alpha, learning rate 0.5, seeds 7 and 3
 *   6    zeta, seed 99
 */
static const char trials_spec[] =
    "{'name': 'explicit', 'backend': 'sim', 'model': 'o4-mini-2025-04-16',"
    " 'training_file': '@DIR@/train.jsonl',"
    " 'seeds': [7, 3],"
    " 'hyperparameters': {'n_epochs': 2, 'learning_rate_multiplier': 1.0,"
    "   'batch_size': 8},"
    " 'search': {'strategy': 'trials', 'trials': ["
    "   {'hyperparameters': {'n_epochs': 3}, 'grader': 'alpha'},"
    "   {'hyperparameters': {'learning_rate_multiplier': 0.5}},"
    "   {'grader': 'zeta', 'seed': 99}]}," TWO_GRADERS "}";

/* One trial: for identity, references and defaults. */
static const char one_trial_spec[] =
    "{'name': 'one', 'backend': 'sim', 'model': 'o4-mini-2025-04-16',"
    " 'training_file': '@DIR@/train.jsonl',"
    " 'validation_file': '@DIR@/valid.jsonl',"
    " 'seeds': [1],"
    " 'hyperparameters': {'n_epochs': 2, 'learning_rate_multiplier': 1.0,"
    "   'reasoning_effort': 'low'},"
    " 'graders': {'exact': {'type': 'string_check', 'name': 'exact',"
    "   'input': '{{sample.output_text}}', 'reference': '{{item.answer}}',"
    "   'operation': 'eq'}}}";

/* --- validation ---------------------------------------------------------- */

static void
base_spec_is_valid(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(base_spec, NULL, 0);
	assert_int_equal(spec->ntrials, 40);
	spec_free(spec);
}

/* A python source one byte over the limit. */
static void
python_source_too_long(cJSON *json)
{
	cJSON *py = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(json, "graders"), "py");
	const char *head =
	    "def grade(sample, item) -> float:\n    return 1.0\n";
	size_t len = SPEC_MAX_PYTHON_SOURCE + 1;
	char *source = xmalloc(len + 1);

	memset(source, '#', len);
	memcpy(source, head, strlen(head));
	source[len] = '\0';
	cJSON_ReplaceItemInObjectCaseSensitive(py, "source",
					       cJSON_CreateString(source));
	free(source);
}

static const struct bad_case {
	const char *patch;	 /* merge patch on base_spec */
	const char *path;	 /* JSON pointer of the expected error */
	const char *message;	 /* part of its message */
	unsigned int max_trials; /* 0: 10000 */
	void (*edit)(cJSON *json);
} bad_cases[] = {
    /* hyperparameters */
    {"{'hyperparameters': {'n_epochs': [1, 0]}}", "/hyperparameters/n_epochs/1",
     "must be an integer 1..50 or \"auto\""},
    {"{'hyperparameters': {'n_epochs': [1, 51]}}",
     "/hyperparameters/n_epochs/1", "must be an integer 1..50 or \"auto\""},
    {"{'hyperparameters': {'n_epochs': [1, 1.5]}}",
     "/hyperparameters/n_epochs/1", "must be an integer 1..50 or \"auto\""},
    {"{'hyperparameters': {'n_epochs': [1, 'many']}}",
     "/hyperparameters/n_epochs/1", "must be an integer 1..50 or \"auto\""},
    {"{'hyperparameters': {'n_epochs': 0}}", "/hyperparameters/n_epochs",
     "must be an integer 1..50 or \"auto\""},
    {"{'hyperparameters': {'batch_size': 257}}", "/hyperparameters/batch_size",
     "must be an integer 1..256 or \"auto\""},
    {"{'hyperparameters': {'learning_rate_multiplier': [0.5, 0]}}",
     "/hyperparameters/learning_rate_multiplier/1", "must be a number > 0"},
    {"{'hyperparameters': {'learning_rate_multiplier': [-1, 0.5]}}",
     "/hyperparameters/learning_rate_multiplier/0", "must be a number > 0"},
    {"{'hyperparameters': {'compute_multiplier': 10.5}}",
     "/hyperparameters/compute_multiplier", "must be a number in (0, 10]"},
    {"{'hyperparameters': {'eval_interval': 0}}",
     "/hyperparameters/eval_interval", "must be an integer >= 1"},
    {"{'hyperparameters': {'reasoning_effort': 'extreme'}}",
     "/hyperparameters/reasoning_effort",
     "must be one of default, low, medium, high"},
    {"{'hyperparameters': {'temperature': 0.7}}",
     "/hyperparameters/temperature", "unknown hyperparameter"},
    {"{'hyperparameters': {'n_epochs': []}}", "/hyperparameters/n_epochs",
     "must not be an empty list"},
    {"{'hyperparameters': {'n_epochs': [1, 2, 1]}}",
     "/hyperparameters/n_epochs/2", "repeats value 0"},
    /* top-level members */
    {"{'max_concurent': 3}", "/max_concurent", "unknown key"},
    {"{'name': null}", "/name", "is required"},
    {"{'backend': null}", "/backend", "is required"},
    {"{'model': null}", "/model", "is required"},
    {"{'training_file': null}", "/training_file", "is required"},
    {"{'graders': null}", "/graders", "is required"},
    {"{'backend': 'openai'}", "/backend", "is not a backend of this rftd"},
    {"{'name': 42}", "/name", "must be a string"},
    {"{'name': ''}", "/name", "must not be empty"},
    {"{'max_concurrent': 0}", "/max_concurrent", "must be an integer 1..10000"},
    {"{'retries': -1}", "/retries", "must be an integer 0..100"},
    {"{'budget_usd': -5}", "/budget_usd", "must be a number of dollars"},
    {"{'max_job_hours': 0}", "/max_job_hours", "must be a number > 0"},
    {"{'objective': {'mode': 'avg'}}", "/objective/mode",
     "must be \"max\" or \"min\""},
    /* graders */
    {"{'graders': {}}", "/graders", "must be a non-empty object"},
    {"{'graders': {'exact': {'type': 'regex'}}}", "/graders/exact/type",
     "must be one of string_check, text_similarity"},
    {"{'graders': {'exact': {'operation': 'contains'}}}",
     "/graders/exact/operation", "must be one of eq, ne, like, ilike"},
    {"{'graders': {'exact': {'reference': null}}}", "/graders/exact/reference",
     "is required"},
    {"{'graders': {'exact': {'name': null}}}", "/graders/exact/name",
     "is required"},
    {"{'graders': {'fuzzy': {'evaluation_metric': 'levenshtein'}}}",
     "/graders/fuzzy/evaluation_metric", "must be one of fuzzy_match"},
    {"{'graders': {'fuzzy': {'pass_threshold': 0.8}}}",
     "/graders/fuzzy/pass_threshold", "unknown key"},
    {"{'graders': {'judge': {'model': null}}}", "/graders/judge/model",
     "is required"},
    {"{'graders': {'judge': {'range': [1, 0]}}}", "/graders/judge/range",
     "must be [low, high] with low < high"},
    {"{'graders': {'judge': {'input': [{'role': 'robot', 'content': 'hi'}]}}}",
     "/graders/judge/input/0/role",
     "must be one of user, assistant, system, developer"},
    {"{'graders': {'judge': {'sampling_params': "
     "{'reasoning_effort': 'extreme'}}}}",
     "/graders/judge/sampling_params/reasoning_effort",
     "must be one of none, minimal, low, medium, high, xhigh, max"},
    {"{'graders': {'py': {'source': 'def score(sample, item):\\n    "
     "return 1.0\\n'}}}",
     "/graders/py/source", "must define grade(sample, item)"},
    {NULL, "/graders/py/source", "is longer than 262144 bytes", 0,
     python_source_too_long},
    {"{'graders': {'lm': {'type': 'label_model', 'name': 'lm',"
     " 'model': 'gpt-4o-2024-08-06', 'input': [{'role': 'user',"
     " 'content': 'ok?'}], 'labels': ['yes', 'no'],"
     " 'passing_labels': ['yes']}}}",
     "/graders/lm/type", "only allowed inside a multi grader"},
    {"{'graders': {'combo': {'graders': {'inner': {'type': 'multi',"
     " 'name': 'inner', 'graders': {'m': {'type': 'string_check',"
     " 'name': 'm', 'input': 'a', 'reference': 'b', 'operation': 'eq'}},"
     " 'calculate_output': 'm'}}}}}",
     "/graders/combo/graders/inner/type",
     "a multi grader cannot contain another multi"},
    {"{'graders': {'combo': {'graders': {}}}}", "/graders/combo/graders",
     "must be a non-empty object"},
    {"{'graders': {'combo': {'calculate_output': 'match + nope'}}}",
     "/graders/combo/calculate_output",
     "at character 9 of \"match + nope\": 'nope' is neither a key of this "
     "multi grader's graders (match, label) nor a function"},
    {"{'graders': {'combo': {'graders': {'label': "
     "{'passing_labels': ['maybe']}}}}}",
     "/graders/combo/graders/label/passing_labels/0",
     "'maybe' is not one of the labels"},
    /* seeds */
    {"{'seeds': [-1, 2]}", "/seeds/0", "must be an integer 0..2147483647"},
    {"{'seeds': [1, 2, 1]}", "/seeds/2", "repeats an earlier seed"},
    {"{'seeds': [1, 2.5]}", "/seeds/1", "must be an integer 0..2147483647"},
    {"{'seeds': []}", "/seeds", "must be a list of 1..1000 integers"},
    /* search */
    {"{'search': {'strategy': 'bayes'}}", "/search/strategy",
     "must be \"grid\", \"random\" or \"trials\""},
    {"{'search': {'strategy': 'random'}}", "/search/samples",
     "is required for random search"},
    {"{'search': {'strategy': 'random', 'samples': 21}}", "/search/samples",
     "21 is more than the 20 distinct points"},
    {"{'search': {'samples': 5}}", "/search/samples",
     "is only for random search"},
    {"{'search': {'strategy': 'trials', 'trials': [{}]}}",
     "/hyperparameters/n_epochs", "must be a single value here"},
    {"{'search': {'strategy': 'trials', 'trials': [{'grader': 'nope'}]},"
     " 'hyperparameters': {'n_epochs': 1, 'learning_rate_multiplier': 1}}",
     "/search/trials/0/grader", "must name one of the graders"},
    {"{'search': {'strategy': 'trials', 'trials': []},"
     " 'hyperparameters': {'n_epochs': 1, 'learning_rate_multiplier': 1}}",
     "/search/trials", "must be a non-empty list of trials"},
    /* datasets */
    {"{'training_file': 'data/train.jsonl'}", "/training_file",
     "must be a file id (file-...) or an absolute path"},
    {"{'training_file': '@DIR@/missing.jsonl'}", "/training_file",
     "cannot read"},
    {"{'training_file': '@DIR@/empty.jsonl'}", "/training_file", "is empty"},
    {"{'validation_file': '@DIR@/missing.jsonl'}", "/validation_file",
     "cannot read"},
    /* the expansion */
    {NULL, "/", "expands to 40 trials, more than the limit of 39", 39},
    {"{'graders': {'exact2': {'type': 'string_check', 'name': 'exact',"
     " 'input': '{{sample.output_text}}', 'reference': '{{item.answer}}',"
     " 'operation': 'eq'}}}",
     "/graders/exact2", "is identical to grader 'exact'"},
};

/*
 * Runs one bad case; returns whether spec_parse refused it with the
 * expected error, printing what it got when not.
 */
static bool
check_bad_case(size_t i, const struct bad_case *c)
{
	static struct spec unset;
	cJSON *json = patched(base_spec, c->patch), *errors = NULL;
	struct spec *spec = &unset;
	int rc;
	bool ok;

	if (c->edit != NULL)
		c->edit(json);
	rc = parse(json, c->max_trials, &spec, &errors);
	ok = rc == -EINVAL && spec == NULL && cJSON_IsArray(errors) &&
	     has_error(errors, c->path, c->message);
	if (!ok) {
		char *text = errors ? spec_errors_text(errors) : NULL;

		print_error("bad case %zu (%s): returned %d, out %s\n"
			    "expected: %s: ...%s...\ngot:\n%s",
			    i, c->patch ? c->patch : "edited", rc,
			    spec == NULL ? "NULL" : "set", c->path, c->message,
			    text ? text : "(no errors)\n");
		free(text);
	}
	if (spec != &unset)
		spec_free(spec);
	cJSON_Delete(errors);
	cJSON_Delete(json);
	return ok;
}

static void
each_bad_spec_is_refused_with_its_path_and_reason(void **state)
{
	size_t failed = 0;

	(void)state;
	assert_true(ARRAY_LEN(bad_cases) >= 35);
	for (size_t i = 0; i < ARRAY_LEN(bad_cases); i++)
		if (!check_bad_case(i, &bad_cases[i]))
			failed++;
	assert_int_equal(failed, 0);
}

static void
a_spec_must_be_an_object(void **state)
{
	cJSON *json = cJSON_Parse("[1, 2]"), *errors = NULL;
	struct spec *spec = NULL;

	(void)state;
	assert_int_equal(parse(json, 0, &spec, &errors), -EINVAL);
	assert_null(spec);
	assert_true(has_error(errors, "/", "must be a JSON object"));
	cJSON_Delete(errors);
	cJSON_Delete(json);
}

static void
every_error_is_reported_not_just_the_first(void **state)
{
	cJSON *errors =
	    refused(base_spec, "{'retries': -1, 'model': null,"
			       " 'hyperparameters': {'batch_size': 257},"
			       " 'graders': {'exact': {'operation': 'is'}}}");
	int count = cJSON_GetArraySize(errors);
	bool retries = has_error(errors, "/retries", "");
	bool model = has_error(errors, "/model", "is required");
	bool batch = has_error(errors, "/hyperparameters/batch_size", "");
	bool op = has_error(errors, "/graders/exact/operation", "");

	(void)state;
	if (count != 4 || !retries || !model || !batch || !op)
		show_errors(errors);
	cJSON_Delete(errors);
	assert_int_equal(count, 4);
	assert_true(retries);
	assert_true(model);
	assert_true(batch);
	assert_true(op);
}

/*
 * The errors of an explicit trial are problems like any other: a spec
 * with a bad trial and another mistake names both.
 */
static void
trial_errors_are_reported_with_the_others(void **state)
{
	cJSON *errors =
	    refused(trials_spec, "{'retries': -1, 'search': {'trials': ["
				 "{'grader': 'nope'}]}}");
	bool retries =
	    has_error(errors, "/retries", "must be an integer 0..100");
	bool trial = has_error(errors, "/search/trials/0/grader",
			       "must name one of the graders");

	(void)state;
	if (!retries || !trial)
		show_errors(errors);
	cJSON_Delete(errors);
	assert_true(retries);
	assert_true(trial);
}

/*
 * cJSON keeps both members of a repeated name.  A repeated hyperparameter
 * would give a trial two values for it, a repeated grader key two graders
 * of one name: both must be refused, at the repeated member.
 */
static void
a_repeated_member_name_is_refused(void **state)
{
	static const struct {
		const char *text; /* spec_json() notation */
		const char *path;
	} cases[] = {
	    {"{'name': 'x', 'backend': 'sim', 'model': 'm',"
	     " 'training_file': 'file-abc',"
	     " 'hyperparameters': {'n_epochs': [1, 2], 'n_epochs': [3]},"
	     " 'graders': {'a': {'type': 'string_check', 'name': 'a',"
	     "   'input': 'x', 'reference': 'y', 'operation': 'eq'}}}",
	     "/hyperparameters/n_epochs"},
	    {"{'name': 'x', 'backend': 'sim', 'model': 'm',"
	     " 'training_file': 'file-abc',"
	     " 'graders': {'a': {'type': 'string_check', 'name': 'a',"
	     "   'input': 'x', 'reference': 'y', 'operation': 'eq'},"
	     "  'a': {'type': 'string_check', 'name': 'b',"
	     "   'input': 'x', 'reference': 'y', 'operation': 'ne'}}}",
	     "/graders/a"},
	    {"{'name': 'x', 'backend': 'sim', 'model': 'm', 'name': 'y',"
	     " 'training_file': 'file-abc',"
	     " 'graders': {'a': {'type': 'string_check', 'name': 'a',"
	     "   'input': 'x', 'reference': 'y', 'operation': 'eq'}}}",
	     "/name"},
	};
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		cJSON *json = spec_json(cases[i].text), *errors = NULL;
		struct spec *spec = NULL;
		int rc = parse(json, 0, &spec, &errors);

		if (rc != -EINVAL || !has_error(errors, cases[i].path, "")) {
			print_error("repeated %s: spec_parse returned %d%s\n",
				    cases[i].path, rc,
				    spec ? " and a spec" : "");
			failed++;
		}
		spec_free(spec);
		cJSON_Delete(errors);
		cJSON_Delete(json);
	}
	assert_int_equal(failed, 0);
}

/* Inside a multi, label_model is allowed: the message must say so. */
static void
unknown_type_inside_multi_lists_label_model(void **state)
{
	cJSON *errors =
	    refused(base_spec, "{'graders': {'combo': {'graders': {'match': "
			       "{'type': 'regex'}}}}}");
	bool found = has_error(errors, "/graders/combo/graders/match/type",
			       "label_model");

	(void)state;
	if (!found)
		show_errors(errors);
	cJSON_Delete(errors);
	assert_true(found);
}

static void
errors_text_has_one_path_colon_message_line_per_error(void **state)
{
	cJSON *errors = spec_json(
	    "[{'path': '/retries', 'message': 'must be an integer 0..100'},"
	    " {'path': '/graders/exact/operation',"
	    "  'message': 'must be one of eq, ne, like, ilike'}]");
	char *text = spec_errors_text(errors);

	(void)state;
	assert_string_equal(text, "/retries: must be an integer 0..100\n"
				  "/graders/exact/operation: must be one of "
				  "eq, ne, like, ilike\n");
	free(text);
	cJSON_Delete(errors);
}

static void
errors_text_of_no_errors_is_empty(void **state)
{
	cJSON *errors = cJSON_CreateArray();
	char *text = spec_errors_text(errors);

	(void)state;
	assert_string_equal(text, "");
	free(text);
	cJSON_Delete(errors);
}

static void
errors_text_renders_what_spec_parse_found(void **state)
{
	cJSON *errors = refused(base_spec, "{'retries': 101}");
	char *text = spec_errors_text(errors);

	(void)state;
	cJSON_Delete(errors);
	assert_string_equal(text, "/retries: must be an integer 0..100\n");
	free(text);
}

/* --- expansion ----------------------------------------------------------- */

static void
grid_is_the_product_of_graders_lists_and_seeds(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(grid_spec, NULL, 0);
	assert_int_equal(spec->ntrials, 2 * 3 * 2 * 2);
	spec_free(spec);
}

/*
 * Graders in spec order outermost, then the hyperparameters by name
 * (learning_rate_multiplier, then n_epochs fastest), then seeds in spec
 * order innermost.
 */
static void
grid_order_is_graders_then_hyperparameters_by_name_then_seeds(void **state)
{
	static const char *const graders[] = {"zeta", "alpha"};
	static const double lrs[] = {0.5, 1.0, 2.0};
	static const double epochs[] = {1, 2};
	static const int64_t seeds[] = {7, 3};
	struct spec *spec;

	(void)state;
	spec = parse_ok(grid_spec, NULL, 0);
	assert_int_equal(spec->ntrials, 24);
	assert_string_equal(spec->trials[0].grader_name, "zeta");
	assert_float_equal(hp_number(&spec->trials[0], "n_epochs"), 1, 0);
	assert_int_equal(spec->trials[1].seed, 3);
	assert_float_equal(hp_number(&spec->trials[2], "n_epochs"), 2, 0);
	assert_float_equal(
	    hp_number(&spec->trials[4], "learning_rate_multiplier"), 1.0, 0);
	assert_string_equal(spec->trials[12].grader_name, "alpha");
	for (size_t i = 0; i < spec->ntrials; i++) {
		const struct spec_trial *t = &spec->trials[i];

		assert_string_equal(t->grader_name, graders[i / 12]);
		assert_ptr_equal(
		    t->grader,
		    cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(spec->root, "graders"),
			graders[i / 12]));
		assert_float_equal(hp_number(t, "learning_rate_multiplier"),
				   lrs[(i / 4) % 3], 0);
		assert_float_equal(hp_number(t, "n_epochs"),
				   epochs[(i / 2) % 2], 0);
		assert_true(t->has_seed);
		assert_int_equal(t->seed, seeds[i % 2]);
	}
	spec_free(spec);
}

static void
scalar_hyperparameters_are_in_every_trial(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(grid_spec, NULL, 0);
	for (size_t i = 0; i < spec->ntrials; i++) {
		const struct spec_trial *t = &spec->trials[i];

		assert_int_equal(cJSON_GetArraySize(t->hyperparameters), 4);
		assert_string_equal(hp_string(t, "reasoning_effort"), "low");
		assert_float_equal(hp_number(t, "batch_size"), 8, 0);
	}
	spec_free(spec);
}

static void
without_seeds_each_point_is_one_trial_without_a_seed(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(grid_spec, "{'seeds': null}", 0);
	assert_int_equal(spec->ntrials, 2 * 3 * 2);
	for (size_t i = 0; i < spec->ntrials; i++)
		assert_false(spec->trials[i].has_seed);
	assert_float_equal(hp_number(&spec->trials[1], "n_epochs"), 2, 0);
	spec_free(spec);
}

static void
random_search_draws_samples_distinct_points_times_seeds(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(random_spec, NULL, 0);
	assert_int_equal(spec->ntrials, 10 * 2);
	for (size_t i = 0; i < spec->ntrials; i += 2) {
		const struct spec_trial *a = &spec->trials[i];
		const struct spec_trial *b = &spec->trials[i + 1];

		/* Each point once per seed, seeds innermost. */
		assert_string_equal(a->grader_name, b->grader_name);
		assert_true(
		    cJSON_Compare(a->hyperparameters, b->hyperparameters, 1));
		assert_int_equal(a->seed, 1);
		assert_int_equal(b->seed, 2);
		for (size_t j = 0; j < i; j += 2)
			assert_false(
			    strcmp(a->grader_name,
				   spec->trials[j].grader_name) == 0 &&
			    cJSON_Compare(a->hyperparameters,
					  spec->trials[j].hyperparameters, 1));
	}
	spec_free(spec);
}

static void
random_search_takes_values_from_the_lists(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(random_spec, NULL, 0);
	for (size_t i = 0; i < spec->ntrials; i++) {
		double lr =
		    hp_number(&spec->trials[i], "learning_rate_multiplier");
		double n = hp_number(&spec->trials[i], "n_epochs");

		assert_true(lr == 0.5 || lr == 1 || lr == 2 || lr == 4);
		assert_true(n == 1 || n == 2 || n == 3);
	}
	spec_free(spec);
}

static void
random_search_is_reproducible_with_the_same_seed(void **state)
{
	struct spec *a, *b;

	(void)state;
	a = parse_ok(random_spec, NULL, 0);
	b = parse_ok(random_spec, NULL, 0);
	assert_int_equal(a->ntrials, b->ntrials);
	for (size_t i = 0; i < a->ntrials; i++)
		assert_string_equal(a->trials[i].sha256, b->trials[i].sha256);
	spec_free(a);
	spec_free(b);
}

static void
random_search_differs_with_another_seed(void **state)
{
	struct spec *a, *b;
	size_t same = 0;

	(void)state;
	a = parse_ok(random_spec, NULL, 0);
	b = parse_ok(random_spec, "{'search': {'seed': 8}}", 0);
	assert_int_equal(a->ntrials, b->ntrials);
	for (size_t i = 0; i < a->ntrials; i++)
		same += strcmp(a->trials[i].sha256, b->trials[i].sha256) == 0;
	assert_true(same < a->ntrials);
	spec_free(a);
	spec_free(b);
}

static void
random_search_of_the_whole_space_draws_every_point(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(random_spec,
			"{'seeds': null, 'search': {'samples': 24}}", 0);
	assert_int_equal(spec->ntrials, 24);
	spec_free(spec);
}

/*
 * A patch to random_spec for a space of 2 graders x 1000 learning rates
 * (1..1000) x 20 n_epochs (1..20) = 40,000 points, no seeds.
 */
static char *
large_space_patch(int samples, int seed)
{
	size_t cap = 16384, n = 0;
	char *p = xmalloc(cap);

	n += (size_t)snprintf(p + n, cap - n,
			      "{'seeds': null, 'search': {'samples': %d, "
			      "'seed': %d}, 'hyperparameters': "
			      "{'learning_rate_multiplier': [",
			      samples, seed);
	for (int i = 1; i <= 1000; i++)
		n += (size_t)snprintf(p + n, cap - n, "%s%d", i > 1 ? ", " : "",
				      i);
	n += (size_t)snprintf(p + n, cap - n, "], 'n_epochs': [");
	for (int i = 1; i <= 20; i++)
		n += (size_t)snprintf(p + n, cap - n, "%s%d", i > 1 ? ", " : "",
				      i);
	n += (size_t)snprintf(p + n, cap - n, "]}}");
	assert_true(n < cap);
	return p;
}

static struct spec *
parse_large_space(int samples, int seed)
{
	char *patch = large_space_patch(samples, seed);
	struct spec *spec = parse_ok(random_spec, patch, 40000);

	free(patch);
	return spec;
}

static void
random_search_of_a_whole_large_space_draws_each_point_once(void **state)
{
	struct spec *spec;
	bool *seen = xcalloc(40000, sizeof(*seen));

	(void)state;
	spec = parse_large_space(40000, 7);
	assert_int_equal(spec->ntrials, 40000);
	for (size_t i = 0; i < spec->ntrials; i++) {
		const struct spec_trial *t = &spec->trials[i];
		double lr = hp_number(t, "learning_rate_multiplier");
		double n = hp_number(t, "n_epochs");
		int g = strcmp(t->grader_name, "alpha") == 0;
		int point;

		assert_true(g || strcmp(t->grader_name, "zeta") == 0);
		assert_true(lr >= 1 && lr <= 1000 && lr == (int)lr);
		assert_true(n >= 1 && n <= 20 && n == (int)n);
		point = (g * 1000 + (int)lr - 1) * 20 + (int)n - 1;
		assert_false(seen[point]);
		seen[point] = true;
	}
	/* 40,000 distinct points of 40,000: every point of the grid. */
	free(seen);
	spec_free(spec);
}

static void
random_search_of_a_large_space_is_reproducible_with_the_same_seed(void **state)
{
	struct spec *a, *b;

	(void)state;
	a = parse_large_space(40000, 11);
	b = parse_large_space(40000, 11);
	assert_int_equal(a->ntrials, b->ntrials);
	for (size_t i = 0; i < a->ntrials; i++)
		assert_string_equal(a->trials[i].sha256, b->trials[i].sha256);
	spec_free(a);
	spec_free(b);
}

/* The points a seed draws stay what they were: a sweep submitted again
 * expands to the same trials. */
static void
random_search_draws_the_same_points_as_before_for_a_seed(void **state)
{
	static const struct {
		const char *grader;
		double lr, n_epochs;
	} drawn[] = {
	    {"alpha", 0.5, 1}, {"alpha", 2, 1},	 {"zeta", 2, 3},
	    {"alpha", 4, 2},   {"zeta", 0.5, 1}, {"zeta", 4, 3},
	    {"alpha", 0.5, 2}, {"alpha", 1, 2},	 {"zeta", 1, 1},
	    {"alpha", 4, 3},
	};
	struct spec *spec;

	(void)state;
	spec = parse_ok(random_spec, "{'seeds': null}", 0);
	assert_int_equal(spec->ntrials, ARRAY_LEN(drawn));
	for (size_t i = 0; i < spec->ntrials; i++) {
		const struct spec_trial *t = &spec->trials[i];

		assert_string_equal(t->grader_name, drawn[i].grader);
		assert_float_equal(hp_number(t, "learning_rate_multiplier"),
				   drawn[i].lr, 0);
		assert_float_equal(hp_number(t, "n_epochs"), drawn[i].n_epochs,
				   0);
	}
	spec_free(spec);
}

/*
 * Two identical graders make two points one trial.  The grid refuses
 * that; random search must not quietly return fewer trials than asked.
 */
static void
random_search_refuses_identical_graders(void **state)
{
	cJSON *json = patched(
	    random_spec,
	    "{'seeds': null, 'hyperparameters': null,"
	    " 'search': {'samples': 2},"
	    " 'graders': {'alpha': {'type': 'string_check', 'name': 'zeta',"
	    "   'input': '{{sample.output_text}}',"
	    "   'reference': '{{item.answer}}', 'operation': 'eq',"
	    "   'evaluation_metric': null}}}");
	cJSON *errors = NULL;
	struct spec *spec = NULL;
	int rc;

	(void)state;
	rc = parse(json, 0, &spec, &errors);
	if (rc == 0)
		print_error("accepted with %zu trials for 2 samples\n",
			    spec->ntrials);
	spec_free(spec);
	cJSON_Delete(errors);
	cJSON_Delete(json);
	assert_int_equal(rc, -EINVAL);
}

static void
explicit_trials_override_the_top_level_values(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(trials_spec, NULL, 0);
	assert_int_equal(spec->ntrials, 7);
	/* Trial 0: n_epochs 3 over 2; the rest from the top level. */
	assert_float_equal(hp_number(&spec->trials[0], "n_epochs"), 3, 0);
	assert_float_equal(
	    hp_number(&spec->trials[0], "learning_rate_multiplier"), 1.0, 0);
	assert_float_equal(hp_number(&spec->trials[0], "batch_size"), 8, 0);
	/* Trial 1: learning rate 0.5 over 1.0. */
	assert_float_equal(hp_number(&spec->trials[2], "n_epochs"), 2, 0);
	assert_float_equal(
	    hp_number(&spec->trials[2], "learning_rate_multiplier"), 0.5, 0);
	/* Trial 2: nothing overridden. */
	assert_float_equal(hp_number(&spec->trials[6], "n_epochs"), 2, 0);
	assert_float_equal(
	    hp_number(&spec->trials[6], "learning_rate_multiplier"), 1.0, 0);
	assert_int_equal(cJSON_GetArraySize(spec->trials[6].hyperparameters),
			 3);
	spec_free(spec);
}

static void
explicit_trial_grader_selects_one_grader(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(trials_spec, NULL, 0);
	assert_int_equal(spec->ntrials, 7);
	assert_string_equal(spec->trials[0].grader_name, "alpha");
	assert_string_equal(spec->trials[1].grader_name, "alpha");
	assert_string_equal(spec->trials[6].grader_name, "zeta");
	spec_free(spec);
}

static void
explicit_trial_without_grader_runs_every_grader(void **state)
{
	static const char *const graders[] = {"zeta", "zeta", "alpha", "alpha"};
	struct spec *spec;

	(void)state;
	spec = parse_ok(trials_spec, NULL, 0);
	assert_int_equal(spec->ntrials, 7);
	for (size_t i = 0; i < 4; i++) {
		const struct spec_trial *t = &spec->trials[2 + i];

		assert_string_equal(t->grader_name, graders[i]);
		assert_true(t->has_seed);
		assert_int_equal(t->seed, i % 2 ? 3 : 7);
	}
	spec_free(spec);
}

static void
explicit_trial_seed_overrides_the_seeds(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(trials_spec, NULL, 0);
	assert_int_equal(spec->ntrials, 7);
	assert_int_equal(spec->trials[0].seed, 7);
	assert_int_equal(spec->trials[1].seed, 3);
	assert_true(spec->trials[6].has_seed);
	assert_int_equal(spec->trials[6].seed, 99);
	spec_free(spec);
}

/*
 * The cap on trials counts the trials a list makes: one trial that names
 * a grader and a seed is one trial, whatever the graders and seeds.
 */
static void
explicit_trials_count_against_the_cap_as_they_expand(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(trials_spec,
			"{'seeds': [1, 2, 3], 'search': {'trials': ["
			"{'grader': 'zeta', 'seed': 5}]}}",
			5);
	assert_int_equal(spec->ntrials, 1);
	spec_free(spec);
}

/* --- identity ------------------------------------------------------------ */

static void
identities_are_64_lowercase_hex_digits(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(grid_spec, NULL, 0);
	assert_true(is_lower_hex64(spec->sha256));
	for (size_t i = 0; i < spec->ntrials; i++)
		assert_true(is_lower_hex64(spec->trials[i].sha256));
	spec_free(spec);
}

/* grid_spec with its keys in another order at every level. */
static const char grid_spec_reordered[] =
    "{'graders': {"
    "  'zeta': {'operation': 'eq', 'reference': '{{item.answer}}',"
    "    'name': 'zeta', 'input': '{{sample.output_text}}',"
    "    'type': 'string_check'},"
    "  'alpha': {'evaluation_metric': 'bleu', 'type': 'text_similarity',"
    "    'reference': '{{item.answer}}', 'name': 'alpha',"
    "    'input': '{{sample.output_text}}'}},"
    " 'hyperparameters': {'batch_size': 8,"
    "   'learning_rate_multiplier': [0.5, 1.0, 2.0],"
    "   'reasoning_effort': 'low', 'n_epochs': [1, 2]},"
    " 'seeds': [7, 3], 'training_file': '@DIR@/train.jsonl',"
    " 'model': 'o4-mini-2025-04-16', 'backend': 'sim', 'name': 'grid'}";

static void
trial_identity_ignores_key_order(void **state)
{
	struct spec *a, *b;

	(void)state;
	a = parse_ok(grid_spec, NULL, 0);
	b = parse_ok(grid_spec_reordered, NULL, 0);
	assert_int_equal(a->ntrials, b->ntrials);
	for (size_t i = 0; i < a->ntrials; i++)
		assert_string_equal(a->trials[i].sha256, b->trials[i].sha256);
	spec_free(a);
	spec_free(b);
}

static void
spec_digest_ignores_key_order(void **state)
{
	struct spec *a, *b;

	(void)state;
	a = parse_ok(grid_spec, NULL, 0);
	b = parse_ok(grid_spec_reordered, NULL, 0);
	assert_string_equal(a->sha256, b->sha256);
	spec_free(a);
	spec_free(b);
}

/* The identity of the one trial of one_trial_spec + patch. */
static void
one_identity(const char *patch, char out[65])
{
	struct spec *spec = parse_ok(one_trial_spec, patch, 0);

	assert_int_equal(spec->ntrials, 1);
	memcpy(out, spec->trials[0].sha256, 65);
	spec_free(spec);
}

static void
identity_changes_with_what_makes_the_run(void **state)
{
	static const char *const changes[] = {
	    "{'model': 'gpt-4.1-2025-04-14'}",
	    "{'backend': 'azure'}",
	    "{'training_file': '@DIR@/train2.jsonl'}",
	    "{'validation_file': '@DIR@/valid2.jsonl'}",
	    "{'validation_file': null}",
	    "{'graders': {'exact': {'operation': 'ne'}}}",
	    "{'graders': {'exact': {'input': '{{sample.choices}}'}}}",
	    "{'graders': {'exact': {'reference': 'A: {{item.answer}}'}}}",
	    "{'response_format': {'type': 'json_schema', 'json_schema': {"
	    " 'name': 'answer', 'strict': true, 'schema': {'type': 'object',"
	    " 'properties': {'answer': {'type': 'string'}},"
	    " 'required': ['answer'], 'additionalProperties': false}}}}",
	    "{'graders': {'exact': {'name': 'exact-v2'}}}",
	    "{'hyperparameters': {'n_epochs': 3}}",
	    "{'hyperparameters': {'learning_rate_multiplier': 2.0}}",
	    "{'hyperparameters': {'reasoning_effort': 'high'}}",
	    "{'hyperparameters': {'batch_size': 8}}",
	    "{'seeds': [2]}",
	    "{'seeds': null}",
	};
	char base[65], changed[65];
	size_t same = 0;

	(void)state;
	one_identity(NULL, base);
	for (size_t i = 0; i < ARRAY_LEN(changes); i++) {
		one_identity(changes[i], changed);
		if (strcmp(base, changed) == 0) {
			print_error("identity unchanged by %s\n", changes[i]);
			same++;
		}
	}
	assert_int_equal(same, 0);
}

static void
identity_ignores_auto_values_and_sweep_settings(void **state)
{
	static const char *const settings[] = {
	    "{'hyperparameters': {'batch_size': 'auto'}}",
	    "{'hyperparameters': {'batch_size': 'auto', 'n_epochs': 2,"
	    " 'compute_multiplier': 'auto', 'eval_interval': 'auto'}}",
	    "{'name': 'another-sweep'}",
	    "{'max_concurrent': 7}",
	    "{'budget_usd': 25}",
	    "{'max_job_hours': 3}",
	    "{'retries': 2}",
	    "{'priority': 9}",
	    "{'objective': {'metric': 'train_reward_mean', 'mode': 'min'}}",
	    "{'search': {'strategy': 'grid'}}",
	    "{'graders': {'other': {'type': 'python', 'name': 'other',"
	    " 'source': 'def grade(sample, item):\\n    return 0.0\\n'}}}",
	    "{'training_file': '@DIR@/train-copy.jsonl'}",
	};
	char base[65];
	size_t differ = 0;

	(void)state;
	one_identity(NULL, base);
	for (size_t i = 0; i < ARRAY_LEN(settings); i++) {
		struct spec *spec = parse_ok(one_trial_spec, settings[i], 0);

		/* The trial of grader "exact" is always the first. */
		if (strcmp(base, spec->trials[0].sha256) != 0) {
			print_error("identity changed by %s\n", settings[i]);
			differ++;
		}
		spec_free(spec);
	}
	assert_int_equal(differ, 0);
}

static void
identity_is_the_same_with_auto_written_or_left_out(void **state)
{
	char with[65], without[65];
	static const char auto_spec[] =
	    "{'name': 'one', 'backend': 'sim', 'model': 'o4-mini-2025-04-16',"
	    " 'training_file': '@DIR@/train.jsonl',"
	    " 'validation_file': '@DIR@/valid.jsonl', 'seeds': [1],"
	    " 'hyperparameters': {'n_epochs': 2, 'batch_size': 'auto',"
	    "   'learning_rate_multiplier': 1.0, 'reasoning_effort': 'low'},"
	    " 'graders': {'exact': {'type': 'string_check', 'name': 'exact',"
	    "   'input': '{{sample.output_text}}',"
	    "   'reference': '{{item.answer}}', 'operation': 'eq'}}}";
	struct spec *spec;

	(void)state;
	spec = parse_ok(auto_spec, NULL, 0);
	memcpy(with, spec->trials[0].sha256, 65);
	spec_free(spec);
	spec =
	    parse_ok(auto_spec, "{'hyperparameters': {'batch_size': null}}", 0);
	memcpy(without, spec->trials[0].sha256, 65);
	spec_free(spec);
	assert_string_equal(with, without);
}

static void
spec_digest_changes_with_the_name(void **state)
{
	struct spec *a, *b;

	(void)state;
	a = parse_ok(one_trial_spec, NULL, 0);
	b = parse_ok(one_trial_spec, "{'name': 'one-again'}", 0);
	assert_true(is_lower_hex64(a->sha256));
	assert_string_not_equal(a->sha256, b->sha256);
	assert_string_equal(a->trials[0].sha256, b->trials[0].sha256);
	spec_free(a);
	spec_free(b);
}

/* --- datasets ------------------------------------------------------------ */

static void
a_file_id_passes_through_as_the_reference(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(one_trial_spec,
			"{'training_file': 'file-abc123',"
			" 'validation_file': 'file-def456'}",
			0);
	assert_string_equal(spec->training_file, "file-abc123");
	assert_string_equal(spec->training_ref, "file-abc123");
	assert_string_equal(spec->validation_ref, "file-def456");
	spec_free(spec);
}

static void
sha256_hex_of(const char *text, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	assert_int_equal(
	    EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL), 1);
	assert_int_equal(len, 32);
	for (unsigned int i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void
a_path_is_referenced_by_the_sha256_of_its_bytes(void **state)
{
	char train[65], valid[65];
	struct spec *spec;

	(void)state;
	sha256_hex_of(train_text, train);
	sha256_hex_of(valid_text, valid);
	spec = parse_ok(one_trial_spec, NULL, 0);
	assert_string_equal(spec->training_ref, train);
	assert_string_equal(spec->validation_ref, valid);
	spec_free(spec);
}

static void
without_a_validation_file_its_reference_is_empty(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(one_trial_spec, "{'validation_file': null}", 0);
	assert_null(spec->validation_file);
	assert_string_equal(spec->validation_ref, "");
	spec_free(spec);
}

/*
 * Refuses `base` + `patch` (or `json`, when not NULL) with an error at
 * `path` whose message has `message`; prints what it got when not.
 */
static bool
refused_with(const char *base, const char *patch, const char *path,
	     const char *message)
{
	cJSON *json = patched(base, patch), *errors = NULL;
	struct spec *spec = NULL;
	int rc = parse(json, 0, &spec, &errors);
	bool ok = rc == -EINVAL && has_error(errors, path, message);

	if (!ok) {
		char *text = errors ? spec_errors_text(errors) : NULL;

		print_error("%s: wanted %s: ...%s...; got:\n%s\n",
			    patch ? patch : "(base)", path, message,
			    text ? text : "(valid)\n");
		free(text);
	}
	spec_free(spec);
	cJSON_Delete(errors);
	cJSON_Delete(json);
	return ok;
}

/* Writes `text` as the dataset `name` of the temporary directory. */
static void
dataset(const char *name, const char *text)
{
	assert_int_equal(write_file(name, text), 0);
}

#define EXAMPLE(answer)                                                        \
	"{\"messages\": [{\"role\": \"user\", \"content\": \"2+2?\"}], "       \
	"\"answer\": \"" answer "\"}\n"

static void
each_line_of_a_dataset_is_an_rft_example(void **state)
{
	static const struct {
		const char *text, *message;
	} bad[] = {
	    {EXAMPLE("4") "not json\n",
	     "line 2: is not valid JSON (at character 1)"},
	    {"[1, 2]\n", "line 1: is not a JSON object"},
	    {"{\"answer\": \"4\"}\n", "line 1, /messages: is missing"},
	    {"{\"messages\": []}\n",
	     "line 1, /messages: must be a non-empty array"},
	    {"{\"messages\": [\"hi\"]}\n",
	     "line 1, /messages/0: must be a message object"},
	    {"{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}\n",
	     "line 1, /messages/0/role: 'robot' is not a role: system, "
	     "developer, user, assistant or tool"},
	    {"{\"messages\": [{\"content\": \"x\"}]}\n",
	     "line 1, /messages/0/role: is required"},
	    {"{\"messages\": [{\"role\": \"user\"}]}\n",
	     "line 1, /messages/0/content: is required"},
	    {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], "
	     "\"tools\": {}}\n",
	     "line 1, /tools: must be an array of tools"},
	    {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]} "
	     "{}\n",
	     "line 1: has more after its JSON value (at character 50)"},
	    {EXAMPLE("4") "\n{}\n[]\nnope\n",
	     "line 3, /messages: is missing: an example is a messages array "
	     "and the item's fields (and 2 more lines that are not "
	     "examples)"},
	    {"\n  \n\t\n", "has no examples: every line is blank"},
	};
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char want[512];

		dataset("bad.jsonl", bad[i].text);
		snprintf(want, sizeof(want), "'%s/bad.jsonl' %s", tmpdir,
			 bad[i].message);
		if (!refused_with(one_trial_spec,
				  "{'training_file': '@DIR@/bad.jsonl'}",
				  "/training_file", want))
			failed++;
		if (!refused_with(one_trial_spec,
				  "{'validation_file': '@DIR@/bad.jsonl'}",
				  "/validation_file", want))
			failed++;
	}
	assert_int_equal(failed, 0);
}

static void
a_dataset_with_a_bom_crlf_and_no_final_newline_is_read(void **state)
{
	struct spec *spec;

	(void)state;
	dataset("crlf.jsonl",
		"\xef\xbb\xbf{\"messages\": [{\"role\": "
		"\"developer\", \"content\": \"Be brief.\"}, "
		"{\"role\": \"user\", \"content\": \"2+2?\"}],"
		" \"answer\": \"4\"}\r\n\r\n" EXAMPLE(
		    "6") "{\"messages\": [{\"role\": \"user\", "
			 "\"content\": \"x\"}], \"answer\": \"1\"}");
	spec = parse_ok(one_trial_spec, "{'training_file': '@DIR@/crlf.jsonl'}",
			0);
	assert_non_null(spec->training_facts);
	assert_int_equal(spec->training_facts->examples, 3);
	assert_int_equal(spec->training_facts->checked, 3);
	assert_false(spec->training_facts->sampled);
	assert_int_equal(spec->training_facts->nfields, 1);
	assert_string_equal(spec->training_facts->fields[0].name, "answer");
	assert_true(spec->examples_checked);
	spec_free(spec);
}

/* Examples of about 1 KiB, `mib` MiB of them, then `tail`. */
static void
large_dataset(const char *name, unsigned int mib, const char *tail)
{
	char path[256], line[1024];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	n = snprintf(line, sizeof(line),
		     "{\"messages\": [{\"role\": \"user\", \"content\": \"");
	memset(line + n, 'x', sizeof(line) - (size_t)n - 40);
	snprintf(line + sizeof(line) - 40, 40, "\"}], \"answer\": \"4\"}\n");
	f = fopen(path, "w");
	assert_non_null(f);
	for (unsigned int i = 0; i < mib * 1024; i++)
		fputs(line, f);
	fputs(tail, f);
	assert_int_equal(fclose(f), 0);
}

static void
a_large_dataset_is_checked_in_its_first_64_mib_and_counted_whole(void **state)
{
	struct spec *spec;
	unsigned long long per_mib;

	(void)state;
	/* A line past the first 64 MiB that is no example: not parsed. */
	large_dataset("large.jsonl", (DATASET_CHECK_BYTES >> 20) + 2,
		      "not an example\n");
	spec = parse_ok(one_trial_spec,
			"{'training_file': '@DIR@/large.jsonl'}", 0);
	per_mib = 1024; /* lines of about 1 KiB */
	assert_true(spec->training_facts->sampled);
	assert_int_equal(spec->training_facts->examples,
			 ((DATASET_CHECK_BYTES >> 20) + 2) * per_mib + 1);
	assert_true(spec->training_facts->checked <
		    spec->training_facts->examples);
	assert_true(spec->training_facts->checked >=
		    (DATASET_CHECK_BYTES >> 20) * per_mib - 1);
	assert_int_equal(spec->training_facts->bad_line, 0);
	spec_free(spec);
	/* The same line within them is. */
	large_dataset("large.jsonl", 1, "not an example\n");
	assert_true(refused_with(
	    one_trial_spec, "{'training_file': '@DIR@/large.jsonl'}",
	    "/training_file", "line 1025: is not valid JSON"));
}

static void
item_fields_the_graders_use_are_in_every_example(void **state)
{
	char want[512];

	(void)state;
	dataset("partial.jsonl", EXAMPLE("4") "{\"messages\": [{\"role\": "
					      "\"user\", \"content\": "
					      "\"x\"}]}\n" EXAMPLE("6"));
	snprintf(want, sizeof(want),
		 "{{item.answer}}: '%s/partial.jsonl' line 2 has no field "
		 "'answer' (1 of 3 examples lack it)",
		 tmpdir);
	assert_true(refused_with(one_trial_spec,
				 "{'training_file': '@DIR@/partial.jsonl'}",
				 "/graders/exact/reference", want));
	snprintf(want, sizeof(want),
		 "{{item.label}}: no example of '%s/valid.jsonl' has a field "
		 "'label'; their fields: answer",
		 tmpdir);
	assert_true(refused_with(
	    one_trial_spec,
	    "{'graders': {'exact': {'reference': 'is {{ item.label.text }}'}}}",
	    "/graders/exact/reference", want));
	/* Inside a model grader's messages, and a multi grader's graders. */
	assert_true(refused_with(
	    base_spec,
	    "{'graders': {'judge': {'input': [{'role': 'user', 'content':"
	    " [{'type': 'input_text', 'text': '{{item.nope}}'}]}]}}}",
	    "/graders/judge/input/0/content/0/text",
	    "{{item.nope}}: no example"));
	assert_true(refused_with(
	    base_spec,
	    "{'graders': {'combo': {'graders': {'match': {'reference':"
	    " '{{item.nope}}'}}}}}",
	    "/graders/combo/graders/match/reference",
	    "{{item.nope}}: no example"));
	assert_true(refused_with(
	    one_trial_spec,
	    "{'graders': {'exact': {'reference': '{{item.messages}}'}}}",
	    "/graders/exact/reference",
	    "{{item.messages}}: messages is the example's own"));
}

static void
a_template_names_item_or_sample_and_what_they_have(void **state)
{
	struct spec *spec;

	(void)state;
	assert_true(
	    refused_with(one_trial_spec,
			 "{'graders': {'exact': {'reference': '{{answer}}'}}}",
			 "/graders/exact/reference",
			 "{{answer}} names no namespace: {{item.answer}}"));
	assert_true(refused_with(
	    one_trial_spec,
	    "{'graders': {'exact': {'input': '{{sample.output}}'}}}",
	    "/graders/exact/input",
	    "{{sample.output}}: a sample has output_text, output_json"));
	assert_true(refused_with(
	    one_trial_spec,
	    "{'graders': {'exact': {'input': '{{model.output_text}}'}}}",
	    "/graders/exact/input",
	    "{{model.output_text}}: the namespaces are item"));
	/* Braces around other text are the prompt's own. */
	spec = parse_ok(one_trial_spec,
			"{'graders': {'exact': {'input': '{{ sample.output_text"
			" }} {{ not a variable }} {{1}} {{'}}}",
			0);
	spec_free(spec);
}

static void
output_json_needs_a_response_format(void **state)
{
	struct spec *spec;

	(void)state;
	assert_true(refused_with(
	    one_trial_spec,
	    "{'graders': {'exact': {'input': "
	    "'{{sample.output_json.answer}}'}}}",
	    "/graders/exact/input",
	    "{{sample.output_json.answer}}: the model's output is parsed as "
	    "JSON only with a response_format"));
	spec = parse_ok(
	    one_trial_spec,
	    "{'graders': {'exact': {'input': '{{sample.output_json.answer}}'}},"
	    " 'response_format': {'type': 'json_schema', 'json_schema': {"
	    " 'name': 'answer', 'strict': true, 'schema': {'type': 'object',"
	    " 'properties': {'answer': {'type': 'string'}},"
	    " 'required': ['answer'], 'additionalProperties': false}}}}",
	    0);
	assert_non_null(spec->response_format);
	spec_free(spec);
}

static void
a_response_format_is_a_json_schema(void **state)
{
	static const struct {
		const char *patch, *path, *message;
	} bad[] = {
	    {"{'response_format': 'json'}", "/response_format",
	     "must be an object"},
	    {"{'response_format': {'type': 'json_object', 'json_schema': {}}}",
	     "/response_format/type", "must be \"json_schema\""},
	    {"{'response_format': {'type': 'json_schema'}}",
	     "/response_format/json_schema", "is required"},
	    {"{'response_format': {'type': 'json_schema', 'name': 'x',"
	     " 'schema': {}}}",
	     "/response_format/name", "unknown key"},
	    {"{'response_format': {'type': 'json_schema', 'json_schema':"
	     " {'schema': {'type': 'object'}}}}",
	     "/response_format/json_schema/name", "is required"},
	    {"{'response_format': {'type': 'json_schema', 'json_schema':"
	     " {'name': 'a b', 'schema': {'type': 'object'}}}}",
	     "/response_format/json_schema/name",
	     "must be letters, digits, '_' and '-'"},
	    {"{'response_format': {'type': 'json_schema', 'json_schema':"
	     " {'name': 'a', 'strict': 'yes', 'schema': {'type': 'object'}}}}",
	     "/response_format/json_schema/strict", "must be true or false"},
	    {"{'response_format': {'type': 'json_schema', 'json_schema':"
	     " {'name': 'a'}}}",
	     "/response_format/json_schema/schema", "is required"},
	    {"{'response_format': {'type': 'json_schema', 'json_schema':"
	     " {'name': 'a', 'schema': {'type': 'string'}}}}",
	     "/response_format/json_schema/schema/type", "must be \"object\""},
	    {"{'response_format': {'type': 'json_schema', 'json_schema':"
	     " {'name': 'a', 'schema': {'type': 'object', 'properties':"
	     " {'x': {'type': 'text'}}}}}}",
	     "/response_format/json_schema/schema/properties/x/type",
	     "must be one of object, array, string"},
	    {"{'response_format': {'type': 'json_schema', 'json_schema':"
	     " {'name': 'a', 'schema': {'type': 'object', 'properties':"
	     " {'x': {'type': 'string'}}, 'required': ['x', 'y']}}}}",
	     "/response_format/json_schema/schema/required/1",
	     "'y' is not one of the properties"},
	    {"{'response_format': {'type': 'json_schema', 'json_schema':"
	     " {'name': 'a', 'schema': {'type': 'object', 'properties':"
	     " {'x': {'type': 'array', 'items': 3}}}}}}",
	     "/response_format/json_schema/schema/properties/x/items",
	     "must be a JSON Schema"},
	    {"{'response_format': {'type': 'json_schema', 'json_schema':"
	     " {'name': 'a', 'schema': {'type': 'object', 'anyOf': []}}}}",
	     "/response_format/json_schema/schema/anyOf",
	     "must be a non-empty array of schemas"},
	};
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (!refused_with(one_trial_spec, bad[i].patch, bad[i].path,
				  bad[i].message))
			failed++;
	assert_int_equal(failed, 0);
}

/* The identity text of spec.h, hashed here by hand. */
static void
identity_is_the_documented_canonical_json(void **state)
{
	static const char rf[] =
	    "{'type': 'json_schema', 'json_schema': {'name': 'a',"
	    " 'schema': {'type': 'object'}}}";
	char train[65], valid[65], want[65], *text, *patch;
	const char *grader =
	    "{\"input\":\"{{sample.output_text}}\",\"name\":\"exact\","
	    "\"operation\":\"eq\",\"reference\":\"{{item.answer}}\","
	    "\"type\":\"string_check\"}";
	struct spec *spec;

	(void)state;
	sha256_hex_of(train_text, train);
	sha256_hex_of(valid_text, valid);
	text = xasprintf(
	    "{\"backend\":\"sim\",\"grader\":%s,\"hyperparameters\":"
	    "{\"learning_rate_multiplier\":1,\"n_epochs\":2,"
	    "\"reasoning_effort\":\"low\"},\"model\":\"o4-mini-2025-04-16\","
	    "\"seed\":1,\"training_file\":\"%s\",\"validation_file\":\"%s\"}",
	    grader, train, valid);
	sha256_hex_of(text, want);
	free(text);
	spec = parse_ok(one_trial_spec, NULL, 0);
	assert_string_equal(spec->trials[0].sha256, want);
	spec_free(spec);
	/* A response_format goes in, in its key order. */
	text = xasprintf(
	    "{\"backend\":\"sim\",\"grader\":%s,\"hyperparameters\":"
	    "{\"learning_rate_multiplier\":1,\"n_epochs\":2,"
	    "\"reasoning_effort\":\"low\"},\"model\":\"o4-mini-2025-04-16\","
	    "\"response_format\":{\"json_schema\":{\"name\":\"a\",\"schema\":"
	    "{\"type\":\"object\"}},\"type\":\"json_schema\"},"
	    "\"seed\":1,\"training_file\":\"%s\",\"validation_file\":\"%s\"}",
	    grader, train, valid);
	sha256_hex_of(text, want);
	free(text);
	patch = xasprintf("{'response_format': %s}", rf);
	spec = parse_ok(one_trial_spec, patch, 0);
	free(patch);
	assert_string_equal(spec->trials[0].sha256, want);
	spec_free(spec);
}

static void
a_trainer_backend_reads_its_datasets_and_graders_as_it_will(void **state)
{
	struct spec *spec;

	(void)state;
	dataset("rows.jsonl", "{\"prompt\": \"2+2?\", \"label\": 4}\n"
			      "plain text\n");
	spec =
	    parse_ok(base_spec,
		     "{'backend': 'box', 'training_file': '@DIR@/rows.jsonl',"
		     " 'graders': {'exact': {'reference': '{{label}}'}}}",
		     0);
	assert_false(spec->examples_checked);
	assert_int_equal(spec->training_facts->examples, 2);
	spec_free(spec);
}

/* --- grader formulas ----------------------------------------------------- */

/* A multi grader of keys ex and fz. */
static const char formula_spec[] =
    "{'name': 'f', 'backend': 'sim', 'model': 'o4-mini-2025-04-16',"
    " 'training_file': '@DIR@/train.jsonl',"
    " 'graders': {'mix': {'type': 'multi', 'name': 'mix', 'graders': {"
    "   'ex': {'type': 'string_check', 'name': 'ex',"
    "     'input': '{{sample.output_text}}', 'reference': '{{item.answer}}',"
    "     'operation': 'eq'},"
    "   'fz': {'type': 'text_similarity', 'name': 'fz',"
    "     'input': '{{sample.output_text}}', 'reference': '{{item.answer}}',"
    "     'evaluation_metric': 'fuzzy_match'}},"
    "  'calculate_output': 'ex'}}}";

/* formula_spec with `formula` as the calculate_output. */
static char *
formula_patch(const char *formula)
{
	cJSON *f = cJSON_CreateString(formula);
	char *quoted = cJSON_PrintUnformatted(f), *patch;

	patch =
	    xasprintf("{'graders': {'mix': {'calculate_output': %s}}}", quoted);
	free(quoted);
	cJSON_Delete(f);
	return patch;
}

static void
a_formula_of_the_grammar_is_accepted(void **state)
{
	static const char *const good[] = {
	    "ex",
	    "0.6 * ex + 0.4 * fz",
	    "  -ex + +fz - -1 ",
	    "ex ^ 2 ^ 0.5",
	    "(ex + fz) / 2",
	    "min(ex, fz, 1) + max(ex)",
	    "abs(ex - fz) * floor(ex) + ceil(fz)",
	    "exp(-fz) * sqrt(ex) / log(2)",
	    "1e-3 * ex + .5 * fz + 2. + 3E+2",
	    "max(min(ex, (fz)), 0)",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		char *patch = formula_patch(good[i]);
		struct spec *spec = parse_ok(formula_spec, patch, 0);

		spec_free(spec);
		free(patch);
	}
}

static void
a_formula_error_names_its_position(void **state)
{
	static const struct {
		const char *formula, *message;
	} bad[] = {
	    {"0.6 * ex + * fz",
	     "at character 12 of \"0.6 * ex + * fz\": expected a number, a "
	     "grader key, a function or '(', found '*'"},
	    {"(ex + fz",
	     "at character 9 of \"(ex + fz\": expected ')' to close the '(' "
	     "at character 1, found the end of the formula"},
	    {"ex + fz)", "at character 8 of \"ex + fz)\": a ')' that closes "
			 "no '('"},
	    {"ex fz", "at character 4 of \"ex fz\": expected an operator "
		      "(+ - * / ^) or the end, found 'f'"},
	    {"ex, fz", "at character 3 of \"ex, fz\": expected an operator"},
	    {"mean(ex)", "at character 1 of \"mean(ex)\": 'mean' is not a "
			 "function (min, max, abs, floor, ceil, exp, sqrt, "
			 "log)"},
	    {"2 * ex(fz)", "at character 5 of \"2 * ex(fz)\": 'ex' is not a "
			   "function (min, max, abs, floor, ceil, exp, sqrt, "
			   "log); it is a grader key: an operator is missing "
			   "after it"},
	    {"max + ex", "at character 1 of \"max + ex\": 'max' is a "
			 "function: write max(...)"},
	    {"0.5 * exact", "at character 7 of \"0.5 * exact\": 'exact' is "
			    "neither a key of this multi grader's graders "
			    "(ex, fz) nor a function"},
	    {"sqrt(ex, fz)", "at character 1 of \"sqrt(ex, fz)\": sqrt() "
			     "takes one argument, not 2"},
	    {"min()", "at character 5 of \"min()\": expected a number, a "
		      "grader key, a function or '(', found ')'"},
	    {"min(ex fz)", "at character 8 of \"min(ex fz)\": expected ',' "
			   "or ')' to close the '(' of min() at character 4, "
			   "found 'f'"},
	    {"1e+ * ex", "at character 2 of \"1e+ * ex\": a number's exponent "
			 "needs digits"},
	    {"2x", "at character 2 of \"2x\": a number runs into 'x'"},
	    {"ex ^", "at character 5 of \"ex ^\": expected a number, a grader "
		     "key, a function or '(', found the end of the formula"},
	    {"ex % fz", "at character 4 of \"ex % fz\": expected an operator "
			"(+ - * / ^) or the end, found '%'"},
	    {"   ", "is empty: it is an expression over the keys of graders"},
	};
	size_t failed = 0;
	char deep[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char *patch = formula_patch(bad[i].formula);

		if (!refused_with(formula_spec, patch,
				  "/graders/mix/calculate_output",
				  bad[i].message))
			failed++;
		free(patch);
	}
	assert_int_equal(failed, 0);
	/* Nesting is bounded (the parser recurses). */
	memset(deep, '(', 100);
	snprintf(deep + 100, sizeof(deep) - 100, "ex");
	memset(deep + 102, ')', 100);
	deep[202] = '\0';
	{
		char *patch = formula_patch(deep);

		assert_true(refused_with(formula_spec, patch,
					 "/graders/mix/calculate_output",
					 "nested more than 64 levels deep"));
		free(patch);
	}
}

static void
a_key_the_formula_cannot_name_is_refused(void **state)
{
	(void)state;
	assert_true(refused_with(
	    formula_spec,
	    "{'graders': {'mix': {'graders': {'my-key': {'type': "
	    "'string_check', 'name': 'k', 'input': 'a', 'reference': 'b',"
	    " 'operation': 'eq'}}}}}",
	    "/graders/mix/graders/my-key",
	    "calculate_output cannot name this key"));
}

/* --- defaults ------------------------------------------------------------ */

static void
objective_defaults_to_maximising_valid_reward_mean(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(one_trial_spec, NULL, 0);
	assert_string_equal(spec->objective_metric, "valid_reward_mean");
	assert_true(spec->objective_max);
	spec_free(spec);
}

static void
objective_mode_min_minimises(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(one_trial_spec,
			"{'objective': {'metric': 'train_reward_mean',"
			" 'mode': 'min'}}",
			0);
	assert_string_equal(spec->objective_metric, "train_reward_mean");
	assert_false(spec->objective_max);
	spec_free(spec);
}

static void
retries_default_to_zero(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(one_trial_spec, NULL, 0);
	assert_int_equal(spec->retries, 0);
	spec_free(spec);
}

static void
max_concurrent_defaults_to_zero(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(one_trial_spec, NULL, 0);
	assert_int_equal(spec->max_concurrent, 0);
	spec_free(spec);
}

static void
given_settings_are_read(void **state)
{
	struct spec *spec;

	(void)state;
	spec = parse_ok(base_spec, NULL, 0);
	assert_string_equal(spec->name, "tax-agent-lr");
	assert_string_equal(spec->backend, "sim");
	assert_string_equal(spec->model, "o4-mini-2025-04-16");
	assert_int_equal(spec->max_concurrent, 3);
	assert_int_equal(spec->retries, 1);
	assert_int_equal(spec->priority, 5);
	assert_true(spec->has_budget);
	assert_float_equal(spec->budget_usd, 600, 0);
	assert_float_equal(spec->max_job_hours, 2.0, 0);
	spec_free(spec);
}

/* A process backend takes the trainer's own names with scalar values. */
static void
a_process_backend_takes_its_own_hyperparameters(void **state)
{
	static const struct {
		const char *patch, *path, *message;
	} bad[] = {
	    {"{'backend': 'box', 'hyperparameters': {'cfg': {'a': 1}}}",
	     "/hyperparameters/cfg", "must be a number, a boolean or a string"},
	    {"{'backend': 'box', 'hyperparameters': {'x': [1, [2]]}}",
	     "/hyperparameters/x/1", "must be a number, a boolean or a string"},
	    {"{'backend': 'box', 'hyperparameters': {'bad name': 1}}",
	     "/hyperparameters/bad name", "a hyperparameter's name is"},
	    {"{'backend': 'box', 'hyperparameters': {'s': 'a\\nb'}}",
	     "/hyperparameters/s", "without control characters"},
	    {"{'backend': 'box', 'hyperparameters': {'lr': [1, 1]}}",
	     "/hyperparameters/lr/1", "repeats value 0"},
	};
	struct spec *spec;

	(void)state;
	spec =
	    parse_ok(base_spec,
		     "{'backend': 'box', 'hyperparameters': {'learning_rate':"
		     " [1e-6, 40], 'group_size': 8, 'note': 'say \\\"hi\\\"',"
		     " 'fast': "
		     "true}}",
		     0);
	/* 2 learning rates x 2 graders x the base spec's seeds. */
	assert_true(spec->ntrials >= 4);
	assert_non_null(
	    strstr(spec->trials[0].hyperparameters_json, "\"fast\":true"));
	assert_non_null(strstr(spec->trials[0].hyperparameters_json,
			       "\"note\":\"say \\\"hi\\\"\""));
	spec_free(spec);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cJSON *json = patched(base_spec, bad[i].patch), *errors = NULL;
		int rc = parse(json, 0, &spec, &errors);

		cJSON_Delete(json);
		if (rc != -EINVAL ||
		    !has_error(errors, bad[i].path, bad[i].message)) {
			char *text = errors ? spec_errors_text(errors) : NULL;

			print_error("%s: wanted %s: %s, got:\n%s\n",
				    bad[i].patch, bad[i].path, bad[i].message,
				    text ? text : "(valid)");
			free(text);
			cJSON_Delete(errors);
			if (rc == 0)
				spec_free(spec);
			fail();
		}
		cJSON_Delete(errors);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(base_spec_is_valid),
	    cmocka_unit_test(a_process_backend_takes_its_own_hyperparameters),
	    cmocka_unit_test(each_bad_spec_is_refused_with_its_path_and_reason),
	    cmocka_unit_test(a_spec_must_be_an_object),
	    cmocka_unit_test(every_error_is_reported_not_just_the_first),
	    cmocka_unit_test(trial_errors_are_reported_with_the_others),
	    cmocka_unit_test(a_repeated_member_name_is_refused),
	    cmocka_unit_test(unknown_type_inside_multi_lists_label_model),
	    cmocka_unit_test(
		errors_text_has_one_path_colon_message_line_per_error),
	    cmocka_unit_test(errors_text_of_no_errors_is_empty),
	    cmocka_unit_test(errors_text_renders_what_spec_parse_found),
	    cmocka_unit_test(grid_is_the_product_of_graders_lists_and_seeds),
	    cmocka_unit_test(
		grid_order_is_graders_then_hyperparameters_by_name_then_seeds),
	    cmocka_unit_test(scalar_hyperparameters_are_in_every_trial),
	    cmocka_unit_test(
		without_seeds_each_point_is_one_trial_without_a_seed),
	    cmocka_unit_test(
		random_search_draws_samples_distinct_points_times_seeds),
	    cmocka_unit_test(random_search_takes_values_from_the_lists),
	    cmocka_unit_test(random_search_is_reproducible_with_the_same_seed),
	    cmocka_unit_test(random_search_differs_with_another_seed),
	    cmocka_unit_test(
		random_search_of_the_whole_space_draws_every_point),
	    cmocka_unit_test(random_search_refuses_identical_graders),
	    cmocka_unit_test(
		random_search_of_a_whole_large_space_draws_each_point_once),
	    cmocka_unit_test(
		random_search_of_a_large_space_is_reproducible_with_the_same_seed),
	    cmocka_unit_test(
		random_search_draws_the_same_points_as_before_for_a_seed),
	    cmocka_unit_test(explicit_trials_override_the_top_level_values),
	    cmocka_unit_test(explicit_trial_grader_selects_one_grader),
	    cmocka_unit_test(explicit_trial_without_grader_runs_every_grader),
	    cmocka_unit_test(explicit_trial_seed_overrides_the_seeds),
	    cmocka_unit_test(
		explicit_trials_count_against_the_cap_as_they_expand),
	    cmocka_unit_test(identities_are_64_lowercase_hex_digits),
	    cmocka_unit_test(trial_identity_ignores_key_order),
	    cmocka_unit_test(spec_digest_ignores_key_order),
	    cmocka_unit_test(identity_changes_with_what_makes_the_run),
	    cmocka_unit_test(identity_ignores_auto_values_and_sweep_settings),
	    cmocka_unit_test(
		identity_is_the_same_with_auto_written_or_left_out),
	    cmocka_unit_test(spec_digest_changes_with_the_name),
	    cmocka_unit_test(a_file_id_passes_through_as_the_reference),
	    cmocka_unit_test(a_path_is_referenced_by_the_sha256_of_its_bytes),
	    cmocka_unit_test(without_a_validation_file_its_reference_is_empty),
	    cmocka_unit_test(each_line_of_a_dataset_is_an_rft_example),
	    cmocka_unit_test(
		a_dataset_with_a_bom_crlf_and_no_final_newline_is_read),
	    cmocka_unit_test(
		a_large_dataset_is_checked_in_its_first_64_mib_and_counted_whole),
	    cmocka_unit_test(item_fields_the_graders_use_are_in_every_example),
	    cmocka_unit_test(
		a_template_names_item_or_sample_and_what_they_have),
	    cmocka_unit_test(output_json_needs_a_response_format),
	    cmocka_unit_test(a_response_format_is_a_json_schema),
	    cmocka_unit_test(identity_is_the_documented_canonical_json),
	    cmocka_unit_test(
		a_trainer_backend_reads_its_datasets_and_graders_as_it_will),
	    cmocka_unit_test(a_formula_of_the_grammar_is_accepted),
	    cmocka_unit_test(a_formula_error_names_its_position),
	    cmocka_unit_test(a_key_the_formula_cannot_name_is_refused),
	    cmocka_unit_test(
		objective_defaults_to_maximising_valid_reward_mean),
	    cmocka_unit_test(objective_mode_min_minimises),
	    cmocka_unit_test(retries_default_to_zero),
	    cmocka_unit_test(max_concurrent_defaults_to_zero),
	    cmocka_unit_test(given_settings_are_read),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
