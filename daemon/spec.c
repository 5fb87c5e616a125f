/*
 * Sweep spec validation and expansion (see spec.h).  Validation walks the
 * whole document and records every problem with its JSON pointer; only a
 * spec without problems is expanded.
 */
#include "spec.h"

#include "datasets.h"
#include "jsonutil.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_AXIS_VALUES 1000  /* values in one hyperparameter list */
#define MAX_ANY_HPS	32    /* free-form hyperparameters of a spec */
#define MAX_ANY_VALUE	200   /* bytes of a free-form string value */
#define HPS_TEXT_MAX	65536 /* their canonical JSON fits this */
#define MAX_SEEDS	1000
#define MAX_GRADERS	100
#define MAX_NAME	128
#define MAX_ERRORS	200 /* reported per spec; the rest are counted */

/* --- error collection ---------------------------------------------------- */

struct vctx {
	cJSON *errors; /* array of {path, message} */
	int count;     /* including those not recorded */
	const struct spec_env *env;
	bool any_hps; /* the backend's hyperparameters are free-form */
};

static void verr(struct vctx *v, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
verr(struct vctx *v, const char *path, const char *fmt, ...)
{
	char msg[512];
	cJSON *e;
	va_list ap;

	if (v->count++ >= MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "path", path[0] ? path : "/");
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddItemToArray(v->errors, e);
}

static const cJSON *
member(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static void
join_list(char *buf, size_t len, const char *const *list)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; *list != NULL && used < len; list++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 used ? ", " : "", *list);
}

/* Reports members of `obj` whose names are not in `allowed`. */
static void
check_keys(struct vctx *v, const char *path, const cJSON *obj,
	   const char *const *allowed)
{
	const cJSON *m;
	char p[512], names[512];

	cJSON_ArrayForEach(m, obj)
	{
		if (str_in(m->string, allowed))
			continue;
		json_pointer_key(p, sizeof(p), path, m->string);
		join_list(names, sizeof(names), allowed);
		verr(v, p, "unknown key; expected one of: %s", names);
	}
}

/*
 * A string member: returns it, or NULL after reporting when it is
 * missing (and required), not a string, empty, or longer than `max`.
 */
static const char *
get_string(struct vctx *v, const char *path, const cJSON *obj, const char *key,
	   bool required, size_t max)
{
	const cJSON *s = member(obj, key);
	char p[512];

	json_pointer_key(p, sizeof(p), path, key);
	if (s == NULL) {
		if (required)
			verr(v, p, "is required");
		return NULL;
	}
	if (!cJSON_IsString(s)) {
		verr(v, p, "must be a string");
		return NULL;
	}
	if (s->valuestring[0] == '\0') {
		verr(v, p, "must not be empty");
		return NULL;
	}
	if (strlen(s->valuestring) > max) {
		verr(v, p, "is longer than %zu bytes", max);
		return NULL;
	}
	return s->valuestring;
}

static bool
is_integer(const cJSON *n)
{
	return cJSON_IsNumber(n) && n->valuedouble == floor(n->valuedouble) &&
	       fabs(n->valuedouble) < 9007199254740992.0;
}

/* An optional integer member in [min, max]; returns `def` when absent. */
static int64_t
get_int(struct vctx *v, const char *path, const cJSON *obj, const char *key,
	int64_t min, int64_t max, int64_t def)
{
	const cJSON *n = member(obj, key);
	char p[512];

	if (n == NULL)
		return def;
	json_pointer_key(p, sizeof(p), path, key);
	if (!is_integer(n) || n->valuedouble < (double)min ||
	    n->valuedouble > (double)max) {
		verr(v, p, "must be an integer %lld..%lld", (long long)min,
		     (long long)max);
		return def;
	}
	return (int64_t)n->valuedouble;
}

/* An optional number member in (min, max]; returns `def` when absent. */
static double
get_number(struct vctx *v, const char *path, const cJSON *obj, const char *key,
	   double min_exclusive, double max, double def)
{
	const cJSON *n = member(obj, key);
	char p[512];

	if (n == NULL)
		return def;
	json_pointer_key(p, sizeof(p), path, key);
	if (!cJSON_IsNumber(n) || !(n->valuedouble > min_exclusive) ||
	    n->valuedouble > max) {
		verr(v, p, "must be a number > %g and <= %g", min_exclusive,
		     max);
		return def;
	}
	return n->valuedouble;
}

/* --- hyperparameters ----------------------------------------------------- */

enum hp_kind { HP_INT, HP_NUMBER, HP_ENUM, HP_ANY };

static const char *const reasoning_efforts[] = {"default", "low", "medium",
						"high", NULL};

static const struct hp_def {
	const char *name;
	enum hp_kind kind;
	double min, max; /* HP_INT: inclusive; HP_NUMBER: (min, max] */
	const char *const *choices; /* HP_ENUM */
	const char *rule;	    /* the message when a value is wrong */
} hp_defs[] = {
    {"batch_size", HP_INT, 1, 256, NULL,
     "must be an integer 1..256 or \"auto\""},
    {"compute_multiplier", HP_NUMBER, 0, 10, NULL,
     "must be a number in (0, 10] or \"auto\""},
    {"eval_interval", HP_INT, 1, 1e9, NULL,
     "must be an integer >= 1 or \"auto\""},
    {"eval_samples", HP_INT, 1, 1e9, NULL,
     "must be an integer >= 1 or \"auto\""},
    {"learning_rate_multiplier", HP_NUMBER, 0, 1e6, NULL,
     "must be a number > 0 or \"auto\""},
    {"n_epochs", HP_INT, 1, 50, NULL, "must be an integer 1..50 or \"auto\""},
    {"reasoning_effort", HP_ENUM, 0, 0, reasoning_efforts,
     "must be one of default, low, medium, high or \"auto\""},
};

static const struct hp_def *
hp_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(hp_defs); i++)
		if (strcmp(hp_defs[i].name, name) == 0)
			return &hp_defs[i];
	return NULL;
}

/* A process backend's own hyperparameter: any JSON scalar. */
static const struct hp_def any_def = {
    NULL,
    HP_ANY,
    0,
    0,
    NULL,
    "must be a number, a boolean or a string of at most 200 bytes without "
    "control characters (or a list of them)"};

/* A name that a command line's {placeholder} can hold. */
static bool
hp_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64 ||
	    !(isalpha((unsigned char)name[0]) || name[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) &&
		    strchr("_.-", name[i]) == NULL)
			return false;
	return true;
}

static bool
is_auto(const cJSON *value)
{
	return cJSON_IsString(value) && strcmp(value->valuestring, "auto") == 0;
}

static bool
hp_value_ok(const struct hp_def *def, const cJSON *value)
{
	if (def->kind == HP_ANY && cJSON_IsString(value)) {
		size_t n = strlen(value->valuestring);

		for (size_t i = 0; i < n; i++)
			if ((unsigned char)value->valuestring[i] < 0x20)
				return false;
		return n <= MAX_ANY_VALUE;
	}
	if (def->kind == HP_ANY)
		return cJSON_IsBool(value) ||
		       (cJSON_IsNumber(value) && isfinite(value->valuedouble));
	if (is_auto(value))
		return true;
	switch (def->kind) {
	case HP_ANY:
		return false;
	case HP_INT:
		return is_integer(value) && value->valuedouble >= def->min &&
		       value->valuedouble <= def->max;
	case HP_NUMBER:
		return cJSON_IsNumber(value) && value->valuedouble > def->min &&
		       value->valuedouble <= def->max;
	case HP_ENUM:
		return cJSON_IsString(value) &&
		       str_in(value->valuestring, def->choices);
	}
	return false;
}

static void
check_hyperparameters(struct vctx *v, const char *path, const cJSON *hps,
		      bool lists_allowed)
{
	const cJSON *hp, *value;
	char p[512], q[512];

	if (!cJSON_IsObject(hps)) {
		verr(v, path, "must be an object of hyperparameters");
		return;
	}
	if (v->any_hps && cJSON_GetArraySize(hps) > MAX_ANY_HPS) {
		verr(v, path, "has more than %d hyperparameters", MAX_ANY_HPS);
		return;
	}
	cJSON_ArrayForEach(hp, hps)
	{
		const struct hp_def *def =
		    v->any_hps ? &any_def : hp_find(hp->string);
		int i = 0;

		json_pointer_key(p, sizeof(p), path, hp->string);
		if (v->any_hps && !hp_name_ok(hp->string)) {
			verr(v, p,
			     "a hyperparameter's name is 1..64 letters, "
			     "digits, '_', '.' or '-', starting with a letter "
			     "or '_'");
			continue;
		}
		if (def == NULL) {
			verr(v, p,
			     "unknown hyperparameter; expected one of: "
			     "batch_size, compute_multiplier, eval_interval, "
			     "eval_samples, learning_rate_multiplier, "
			     "n_epochs, reasoning_effort");
			continue;
		}
		if (!cJSON_IsArray(hp)) {
			if (!hp_value_ok(def, hp))
				verr(v, p, "%s", def->rule);
			continue;
		}
		if (!lists_allowed) {
			verr(v, p,
			     "must be a single value here; lists are for "
			     "grid and random search");
			continue;
		}
		if (cJSON_GetArraySize(hp) == 0)
			verr(v, p, "must not be an empty list");
		if (cJSON_GetArraySize(hp) > MAX_AXIS_VALUES)
			verr(v, p, "has more than %d values", MAX_AXIS_VALUES);
		cJSON_ArrayForEach(value, hp)
		{
			const cJSON *earlier = hp->child;

			json_pointer_index(q, sizeof(q), p, i);
			if (!hp_value_ok(def, value))
				verr(v, q, "%s", def->rule);
			for (int j = 0; j < i; j++, earlier = earlier->next) {
				if (cJSON_Compare(earlier, value, 1)) {
					verr(v, q, "repeats value %d", j);
					break;
				}
			}
			i++;
		}
	}
}

/* --- graders ------------------------------------------------------------- */

static const char *const grader_types[] = {
    "string_check", "text_similarity", "score_model", "python",
    "multi",	    "label_model",     NULL};
static const char *const string_check_keys[] = {
    "type", "name", "input", "reference", "operation", NULL};
static const char *const string_check_ops[] = {"eq", "ne", "like", "ilike",
					       NULL};
static const char *const text_similarity_keys[] = {
    "type", "name", "input", "reference", "evaluation_metric", NULL};
static const char *const similarity_metrics[] = {
    "cosine",  "fuzzy_match", "bleu",	 "gleu",    "meteor",  "rouge_1",
    "rouge_2", "rouge_3",     "rouge_4", "rouge_5", "rouge_l", NULL};
static const char *const score_model_keys[] = {
    "type", "name", "input", "model", "range", "sampling_params", NULL};
static const char *const label_model_keys[] = {
    "type", "name", "input", "model", "labels", "passing_labels", NULL};
static const char *const python_keys[] = {"type", "name", "source", "image_tag",
					  NULL};
static const char *const multi_keys[] = {"type", "name", "graders",
					 "calculate_output", NULL};
static const char *const message_keys[] = {"role", "type", "content", NULL};
static const char *const roles[] = {"user", "assistant", "system", "developer",
				    NULL};
static const char *const content_types[] = {"input_text", "output_text",
					    "input_image", "input_audio", NULL};
static const char *const sampling_keys[] = {"seed",
					    "top_p",
					    "temperature",
					    "max_completions_tokens",
					    "reasoning_effort",
					    NULL};
static const char *const sampling_efforts[] = {
    "none", "minimal", "low", "medium", "high", "xhigh", "max", NULL};
static const char *const calc_functions[] = {
    "min", "max", "abs", "floor", "ceil", "exp", "sqrt", "log", NULL};

static void
check_content_part(struct vctx *v, const char *path, const cJSON *part)
{
	const char *type;

	if (cJSON_IsString(part))
		return;
	if (!cJSON_IsObject(part)) {
		verr(v, path, "must be a string or a content object");
		return;
	}
	type = get_string(v, path, part, "type", true, 64);
	if (type != NULL && !str_in(type, content_types)) {
		char p[512];

		json_pointer_key(p, sizeof(p), path, "type");
		verr(v, p,
		     "must be one of input_text, output_text, input_image, "
		     "input_audio");
	}
}

static void
check_messages(struct vctx *v, const char *path, const cJSON *input)
{
	const cJSON *msg;
	char p[512], q[512];
	int i = 0;

	if (!cJSON_IsArray(input) || cJSON_GetArraySize(input) == 0) {
		verr(v, path, "must be a non-empty array of messages");
		return;
	}
	cJSON_ArrayForEach(msg, input)
	{
		const cJSON *content, *part, *type;
		const char *role;
		int j = 0;

		json_pointer_index(p, sizeof(p), path, i++);
		if (!cJSON_IsObject(msg)) {
			verr(v, p, "must be a message object");
			continue;
		}
		check_keys(v, p, msg, message_keys);
		role = get_string(v, p, msg, "role", true, 32);
		json_pointer_key(q, sizeof(q), p, "role");
		if (role != NULL && !str_in(role, roles))
			verr(v, q,
			     "must be one of user, assistant, system, "
			     "developer");
		type = member(msg, "type");
		json_pointer_key(q, sizeof(q), p, "type");
		if (type != NULL &&
		    !(cJSON_IsString(type) &&
		      strcmp(type->valuestring, "message") == 0))
			verr(v, q, "must be \"message\"");
		content = member(msg, "content");
		json_pointer_key(q, sizeof(q), p, "content");
		if (content == NULL) {
			verr(v, q, "is required");
		} else if (cJSON_IsArray(content)) {
			char r[512];

			cJSON_ArrayForEach(part, content)
			{
				json_pointer_index(r, sizeof(r), q, j++);
				check_content_part(v, r, part);
			}
		} else {
			check_content_part(v, q, content);
		}
	}
}

static void
check_sampling_params(struct vctx *v, const char *path, const cJSON *sp)
{
	const cJSON *m;
	char p[512];

	if (!cJSON_IsObject(sp)) {
		verr(v, path, "must be an object");
		return;
	}
	check_keys(v, path, sp, sampling_keys);
	cJSON_ArrayForEach(m, sp)
	{
		json_pointer_key(p, sizeof(p), path, m->string);
		if (cJSON_IsNull(m) || !str_in(m->string, sampling_keys))
			continue;
		if (strcmp(m->string, "reasoning_effort") == 0) {
			if (!cJSON_IsString(m) ||
			    !str_in(m->valuestring, sampling_efforts))
				verr(v, p,
				     "must be one of none, minimal, low, "
				     "medium, high, xhigh, max, or null");
		} else if (strcmp(m->string, "seed") == 0) {
			if (!is_integer(m))
				verr(v, p, "must be an integer or null");
		} else if (strcmp(m->string, "max_completions_tokens") == 0) {
			if (!is_integer(m) || m->valuedouble < 1)
				verr(v, p, "must be an integer >= 1 or null");
		} else if (!cJSON_IsNumber(m) || m->valuedouble < 0) {
			verr(v, p, "must be a number >= 0 or null");
		}
	}
}

static void
check_labels(struct vctx *v, const char *path, const cJSON *g)
{
	const cJSON *labels = member(g, "labels");
	const cJSON *passing = member(g, "passing_labels");
	const cJSON *l;
	char p[512], q[512];
	int i = 0;

	json_pointer_key(p, sizeof(p), path, "labels");
	if (labels == NULL)
		verr(v, p, "is required");
	else if (!cJSON_IsArray(labels) || cJSON_GetArraySize(labels) == 0)
		verr(v, p, "must be a non-empty array of strings");
	else
		cJSON_ArrayForEach(l, labels)
		{
			json_pointer_index(q, sizeof(q), p, i++);
			if (!cJSON_IsString(l))
				verr(v, q, "must be a string");
		}
	json_pointer_key(p, sizeof(p), path, "passing_labels");
	i = 0;
	if (passing == NULL) {
		verr(v, p, "is required");
		return;
	}
	if (!cJSON_IsArray(passing) || cJSON_GetArraySize(passing) == 0) {
		verr(v, p, "must be a non-empty array of strings");
		return;
	}
	cJSON_ArrayForEach(l, passing)
	{
		const cJSON *k;
		bool found = false;

		json_pointer_index(q, sizeof(q), p, i++);
		if (!cJSON_IsString(l)) {
			verr(v, q, "must be a string");
			continue;
		}
		if (cJSON_IsArray(labels))
			cJSON_ArrayForEach(k, labels) found |=
			    cJSON_Compare(k, l, 1);
		if (!found)
			verr(v, q, "'%s' is not one of the labels",
			     l->valuestring);
	}
}

/*
 * calculate_output, parsed as the provider evaluates it:
 *
 *   expr  := term (("+" | "-") term)*
 *   term  := unary (("*" | "/") unary)*
 *   unary := ("-" | "+") unary | power
 *   power := atom ("^" unary)?           (right-associative)
 *   atom  := number | KEY | FUNCTION "(" expr ("," expr)* ")"
 *          | "(" expr ")"
 *
 * KEY is a key of the multi grader's graders; FUNCTION one of
 * calc_functions (min and max take one argument or more, the others
 * one).  The first problem is reported with its position.
 */
#define FORMULA_MAX_DEPTH 64

struct formula {
	const char *text, *p;
	const cJSON *graders; /* the multi grader's, an object */
	int depth;
	size_t at; /* position of the problem, 1-based; 0: none */
	char why[256];
};

static void fail_at(struct formula *f, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail_at(struct formula *f, const char *at, const char *fmt, ...)
{
	va_list ap;

	if (f->at != 0)
		return;
	f->at = (size_t)(at - f->text) + 1;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
}

static bool
is_word_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_word(char c)
{
	return is_word_start(c) || (c >= '0' && c <= '9');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void
skip_blanks(struct formula *f)
{
	while (*f->p == ' ' || *f->p == '\t' || *f->p == '\n' || *f->p == '\r')
		f->p++;
}

/* What the parser found where it wanted something else, for a person. */
static const char *
found(const char *p, char *buf, size_t len)
{
	if (*p == '\0')
		return "the end of the formula";
	if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
		snprintf(buf, len, "the byte 0x%02x", (unsigned char)*p);
	else
		snprintf(buf, len, "'%c'", *p);
	return buf;
}

static void formula_expr(struct formula *f);

static void
formula_number(struct formula *f)
{
	char buf[16];

	while (is_digit(*f->p))
		f->p++;
	if (*f->p == '.')
		f->p++;
	while (is_digit(*f->p))
		f->p++;
	if (*f->p == 'e' || *f->p == 'E') {
		const char *e = f->p++;

		if (*f->p == '+' || *f->p == '-')
			f->p++;
		if (!is_digit(*f->p)) {
			fail_at(f, e, "a number's exponent needs digits");
			return;
		}
		while (is_digit(*f->p))
			f->p++;
	}
	if (is_word(*f->p) || *f->p == '.')
		fail_at(f, f->p, "a number runs into %s",
			found(f->p, buf, sizeof(buf)));
}

/* FUNCTION "(" expr ("," expr)* ")", at the '('. */
static void
formula_call(struct formula *f, const char *name, const char *at)
{
	bool many = strcmp(name, "min") == 0 || strcmp(name, "max") == 0;
	const char *open = f->p++;
	int args = 0;
	char buf[16];

	for (;;) {
		formula_expr(f);
		args++;
		skip_blanks(f);
		if (f->at != 0 || *f->p != ',')
			break;
		f->p++;
	}
	if (f->at != 0)
		return;
	if (*f->p != ')') {
		fail_at(f, f->p,
			"expected ',' or ')' to close the '(' of %s() at "
			"character %zu, found %s",
			name, (size_t)(open - f->text) + 1,
			found(f->p, buf, sizeof(buf)));
		return;
	}
	f->p++;
	if (!many && args != 1)
		fail_at(f, at, "%s() takes one argument, not %d", name, args);
}

static void
formula_atom(struct formula *f)
{
	const char *at;
	char word[MAX_NAME + 1], buf[16];
	size_t n = 0;

	skip_blanks(f);
	at = f->p;
	if (is_digit(*f->p) || (*f->p == '.' && is_digit(f->p[1]))) {
		formula_number(f);
		return;
	}
	if (*f->p == '(') {
		f->p++;
		formula_expr(f);
		skip_blanks(f);
		if (f->at == 0 && *f->p != ')')
			fail_at(f, f->p,
				"expected ')' to close the '(' at character "
				"%zu, found %s",
				(size_t)(at - f->text) + 1,
				found(f->p, buf, sizeof(buf)));
		else if (f->at == 0)
			f->p++;
		return;
	}
	if (!is_word_start(*f->p)) {
		fail_at(f, f->p,
			"expected a number, a grader key, a function or '(', "
			"found %s",
			found(f->p, buf, sizeof(buf)));
		return;
	}
	while (is_word(*f->p)) {
		if (n < MAX_NAME)
			word[n++] = *f->p;
		f->p++;
	}
	word[n] = '\0';
	skip_blanks(f);
	if (*f->p == '(') {
		if (!str_in(word, calc_functions))
			fail_at(f, at,
				"'%s' is not a function (min, max, abs, "
				"floor, ceil, exp, sqrt, log)%s",
				word,
				member(f->graders, word) != NULL
				    ? "; it is a grader key: an operator is "
				      "missing after it"
				    : "");
		else
			formula_call(f, word, at);
		return;
	}
	if (member(f->graders, word) != NULL)
		return;
	if (str_in(word, calc_functions))
		fail_at(f, at, "'%s' is a function: write %s(...)", word, word);
	else {
		char keys[256];
		const cJSON *g;
		size_t used = 0;

		keys[0] = '\0';
		cJSON_ArrayForEach(g, f->graders)
		{
			if (used < sizeof(keys))
				used += (size_t)snprintf(
				    keys + used, sizeof(keys) - used, "%s%s",
				    used ? ", " : "", g->string);
		}
		fail_at(f, at,
			"'%s' is neither a key of this multi grader's graders "
			"(%s) nor a function",
			word, keys);
	}
}

/* power := atom ("^" unary)?;  unary := ("-" | "+") unary | power */
static void
formula_unary(struct formula *f)
{
	skip_blanks(f);
	if (f->depth >= FORMULA_MAX_DEPTH) {
		fail_at(f, f->p, "nested more than %d levels deep",
			FORMULA_MAX_DEPTH);
		return;
	}
	f->depth++;
	if (*f->p == '-' || *f->p == '+') {
		f->p++;
		formula_unary(f);
	} else {
		formula_atom(f);
		skip_blanks(f);
		if (f->at == 0 && *f->p == '^') {
			f->p++;
			formula_unary(f);
		}
	}
	f->depth--;
}

static void
formula_term(struct formula *f)
{
	formula_unary(f);
	for (skip_blanks(f); f->at == 0 && (*f->p == '*' || *f->p == '/');
	     skip_blanks(f)) {
		f->p++;
		formula_unary(f);
	}
}

static void
formula_expr(struct formula *f)
{
	if (f->depth >= FORMULA_MAX_DEPTH) {
		fail_at(f, f->p, "nested more than %d levels deep",
			FORMULA_MAX_DEPTH);
		return;
	}
	f->depth++;
	formula_term(f);
	for (skip_blanks(f); f->at == 0 && (*f->p == '+' || *f->p == '-');
	     skip_blanks(f)) {
		f->p++;
		formula_term(f);
	}
	f->depth--;
}

static void
check_formula(struct vctx *v, const char *path, const char *formula,
	      const cJSON *graders)
{
	struct formula f = {.text = formula, .p = formula, .graders = graders};
	char buf[16], excerpt[104];

	if (!cJSON_IsObject(graders))
		return; /* reported with the graders */
	skip_blanks(&f);
	if (*f.p == '\0') {
		verr(v, path,
		     "is empty: it is an expression over the keys of "
		     "graders");
		return;
	}
	formula_expr(&f);
	skip_blanks(&f);
	if (f.at == 0 && *f.p == ')')
		fail_at(&f, f.p, "a ')' that closes no '('");
	else if (f.at == 0 && *f.p != '\0')
		fail_at(&f, f.p,
			"expected an operator (+ - * / ^) or the end, found %s",
			found(f.p, buf, sizeof(buf)));
	if (f.at != 0)
		verr(v, path, "at character %zu of \"%s\": %s", f.at,
		     utf8_excerpt(excerpt, sizeof(excerpt), formula), f.why);
}

static void check_grader(struct vctx *v, const char *path, const cJSON *g,
			 bool inside_multi);

static void
check_multi(struct vctx *v, const char *path, const cJSON *g)
{
	const cJSON *subs = member(g, "graders"), *sub;
	const char *formula;
	char p[512], q[512];

	json_pointer_key(p, sizeof(p), path, "graders");
	if (subs == NULL)
		verr(v, p, "is required");
	else if (!cJSON_IsObject(subs) || subs->child == NULL)
		verr(v, p,
		     "must be a non-empty object mapping keys to graders");
	else
		cJSON_ArrayForEach(sub, subs)
		{
			const char *k = sub->string;
			bool word = is_word_start(k[0]);

			for (size_t i = 1; word && k[i] != '\0'; i++)
				word = is_word(k[i]);
			json_pointer_key(q, sizeof(q), p, k);
			if (!word)
				verr(v, q,
				     "calculate_output cannot name this key: a "
				     "key is letters, digits and '_', not "
				     "starting with a digit");
			check_grader(v, q, sub, true);
		}
	formula = get_string(v, path, g, "calculate_output", true, 4096);
	json_pointer_key(q, sizeof(q), path, "calculate_output");
	if (formula != NULL)
		check_formula(v, q, formula, subs);
}

static void
check_grader(struct vctx *v, const char *path, const cJSON *g,
	     bool inside_multi)
{
	const char *type, *s;
	const cJSON *range, *sp;
	char p[512];

	if (!cJSON_IsObject(g)) {
		verr(v, path, "must be a grader object");
		return;
	}
	type = get_string(v, path, g, "type", true, 64);
	get_string(v, path, g, "name", true, 256);
	if (type == NULL)
		return;
	json_pointer_key(p, sizeof(p), path, "type");
	if (!str_in(type, grader_types)) {
		verr(v, p,
		     inside_multi ? "must be one of string_check, "
				    "text_similarity, score_model, python, "
				    "label_model"
				  : "must be one of string_check, "
				    "text_similarity, score_model, python, "
				    "multi");
		return;
	}
	if (strcmp(type, "string_check") == 0) {
		check_keys(v, path, g, string_check_keys);
		get_string(v, path, g, "input", true, 65536);
		get_string(v, path, g, "reference", true, 65536);
		s = get_string(v, path, g, "operation", true, 16);
		json_pointer_key(p, sizeof(p), path, "operation");
		if (s != NULL && !str_in(s, string_check_ops))
			verr(v, p, "must be one of eq, ne, like, ilike");
	} else if (strcmp(type, "text_similarity") == 0) {
		check_keys(v, path, g, text_similarity_keys);
		get_string(v, path, g, "input", true, 65536);
		get_string(v, path, g, "reference", true, 65536);
		s = get_string(v, path, g, "evaluation_metric", true, 32);
		json_pointer_key(p, sizeof(p), path, "evaluation_metric");
		if (s != NULL && !str_in(s, similarity_metrics))
			verr(v, p,
			     "must be one of fuzzy_match, bleu, gleu, meteor, "
			     "cosine, rouge_1..rouge_5, rouge_l");
	} else if (strcmp(type, "score_model") == 0) {
		check_keys(v, path, g, score_model_keys);
		get_string(v, path, g, "model", true, 256);
		json_pointer_key(p, sizeof(p), path, "input");
		if (member(g, "input") == NULL)
			verr(v, p, "is required");
		else
			check_messages(v, p, member(g, "input"));
		range = member(g, "range");
		json_pointer_key(p, sizeof(p), path, "range");
		if (range != NULL &&
		    (!cJSON_IsArray(range) || cJSON_GetArraySize(range) != 2 ||
		     !cJSON_IsNumber(range->child) ||
		     !cJSON_IsNumber(range->child->next) ||
		     !(range->child->valuedouble <
		       range->child->next->valuedouble)))
			verr(v, p, "must be [low, high] with low < high");
		sp = member(g, "sampling_params");
		json_pointer_key(p, sizeof(p), path, "sampling_params");
		if (sp != NULL)
			check_sampling_params(v, p, sp);
	} else if (strcmp(type, "python") == 0) {
		check_keys(v, path, g, python_keys);
		s = get_string(v, path, g, "source", true,
			       SPEC_MAX_PYTHON_SOURCE);
		json_pointer_key(p, sizeof(p), path, "source");
		if (s != NULL && strstr(s, "def grade(") == NULL)
			verr(v, p, "must define grade(sample, item) -> float");
		get_string(v, path, g, "image_tag", false, 64);
	} else if (strcmp(type, "label_model") == 0) {
		if (!inside_multi) {
			verr(v, p,
			     "label_model is only allowed inside a multi "
			     "grader");
			return;
		}
		check_keys(v, path, g, label_model_keys);
		get_string(v, path, g, "model", true, 256);
		json_pointer_key(p, sizeof(p), path, "input");
		if (member(g, "input") == NULL)
			verr(v, p, "is required");
		else
			check_messages(v, p, member(g, "input"));
		check_labels(v, path, g);
	} else if (inside_multi) {
		verr(v, p, "a multi grader cannot contain another multi");
	} else {
		check_keys(v, path, g, multi_keys);
		check_multi(v, path, g);
	}
}

static void
check_graders(struct vctx *v, const cJSON *graders)
{
	const cJSON *g;
	char p[512];

	if (graders == NULL) {
		verr(v, "/graders", "is required");
		return;
	}
	if (!cJSON_IsObject(graders) || graders->child == NULL) {
		verr(v, "/graders",
		     "must be a non-empty object mapping names to graders");
		return;
	}
	if (cJSON_GetArraySize(graders) > MAX_GRADERS)
		verr(v, "/graders", "has more than %d graders", MAX_GRADERS);
	cJSON_ArrayForEach(g, graders)
	{
		char *text;

		json_pointer_key(p, sizeof(p), "/graders", g->string);
		check_grader(v, p, g, false);
		text = cJSON_PrintUnformatted(g);
		if (text != NULL && strlen(text) > SPEC_MAX_GRADER_BYTES)
			verr(v, p, "is larger than %u bytes as JSON",
			     SPEC_MAX_GRADER_BYTES);
		free(text);
	}
}

/* --- datasets ------------------------------------------------------------ */

/* A path for a message: its end when it is long. */
static const char *
short_path(const char *path, char *buf, size_t len)
{
	size_t n = strlen(path);

	if (n < 120)
		return path;
	path += n - 100;
	while ((*path & 0xc0) == 0x80)
		path++; /* not inside a character */
	snprintf(buf, len, "...%s", path);
	return buf;
}

/*
 * A file id passes through; a path is hashed (SHA-256 of its bytes), and
 * what reading it found goes to *facts (NULL when nothing is known).
 */
static void
dataset_ref(struct vctx *v, const char *path, const char *value, char *ref,
	    size_t reflen, struct dataset_facts **facts)
{
	struct dataset_facts f;
	char err[512];
	int rc;

	*facts = NULL;
	if (strncmp(value, "file-", 5) == 0) {
		if (strlen(value) >= reflen) {
			verr(v, path, "file id is too long");
			return;
		}
		snprintf(ref, reflen, "%s", value);
		return;
	}
	if (value[0] != '/') {
		verr(v, path,
		     "must be a file id (file-...) or an absolute path "
		     "(rftctl makes paths absolute)");
		return;
	}
	if (reflen < 65) {
		verr(v, path, "no room for a dataset's hash");
		return;
	}
	if (v->env->dataset_ref != NULL) {
		rc = v->env->dataset_ref(value, ref, err, sizeof(err),
					 v->env->arg);
		if (rc == 0)
			*facts = dataset_facts_of(value);
	} else {
		rc = dataset_scan_file(value, ref, &f, err, sizeof(err));
		if (rc == 0)
			*facts = dataset_facts_copy(&f);
		dataset_facts_clear(&f);
	}
	if (rc != 0)
		verr(v, path, "%s", err);
}

/* Whether the dataset's lines are RFT examples; the first problem. */
static void
check_examples(struct vctx *v, const char *path, const char *value,
	       const struct dataset_facts *f)
{
	char buf[128], more[96] = "";

	if (f == NULL)
		return;
	value = short_path(value, buf, sizeof(buf));
	if (f->examples == 0) {
		verr(v, path, "'%s' has no examples: every line is blank",
		     value);
		return;
	}
	if (f->bad_line == 0)
		return;
	if (f->bad_lines > 1)
		snprintf(more, sizeof(more), " (and %llu more line%s)",
			 f->bad_lines - 1,
			 f->bad_lines > 2 ? "s that are not examples"
					  : " that is not an example");
	verr(v, path, "'%s' line %llu%s%s: %s%s", value, f->bad_line,
	     f->bad_field[0] ? ", " : "", f->bad_field, f->bad_why, more);
}

/* --- templates ----------------------------------------------------------- */

static const char *const sample_variables[] = {"output_text",  "output_json",
					       "output_tools", "choices",
					       "output_audio", NULL};

/* What the template checks have said already, so each is said once. */
struct said {
	char **keys;
	size_t n;
};

static bool say_once(struct said *said, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool
say_once(struct said *said, const char *fmt, ...)
{
	char key[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(key, sizeof(key), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < said->n; i++)
		if (strcmp(said->keys[i], key) == 0)
			return false;
	said->keys = xrealloc(said->keys, (said->n + 1) * sizeof(*said->keys));
	said->keys[said->n++] = xstrdup(key);
	return true;
}

/* {{item.FIELD}}: FIELD must be a field of every example checked. */
static void
check_item_field(struct vctx *v, const struct spec *spec, const char *path,
		 const char *field, struct said *said)
{
	const struct {
		const char *file;
		const struct dataset_facts *f;
	} sets[] = {{spec->training_file, spec->training_facts},
		    {spec->validation_file, spec->validation_facts}};
	char buf[128], names[200], sample[128];

	if (strcmp(field, "messages") == 0 || strcmp(field, "tools") == 0) {
		if (say_once(said, "reserved %s", field))
			verr(
			    v, path,
			    "{{item.%s}}: %s is the example's own, not a field "
			    "of the item",
			    field, field);
		return;
	}
	for (size_t i = 0; i < ARRAY_LEN(sets); i++) {
		const struct dataset_facts *f = sets[i].f;
		const struct dataset_field *df;
		const char *file;

		if (f == NULL || f->checked == 0 || f->bad_line != 0)
			continue;
		df = dataset_field(f, field);
		if (df != NULL && df->count == f->checked)
			continue;
		if (df == NULL && f->more_fields)
			continue; /* past the fields counted: cannot tell */
		if (!say_once(said, "%zu %s", i, field))
			continue;
		file = short_path(sets[i].file, buf, sizeof(buf));
		sample[0] = '\0';
		if (f->sampled)
			snprintf(sample, sizeof(sample),
				 " (of the %llu examples in its first %u MiB, "
				 "the ones checked)",
				 f->checked, DATASET_CHECK_BYTES >> 20);
		if (df == NULL) {
			size_t used = 0;

			names[0] = '\0';
			for (size_t k = 0;
			     k < f->nfields && used < sizeof(names); k++)
				used += (size_t)snprintf(
				    names + used, sizeof(names) - used, "%s%s",
				    k ? ", " : "", f->fields[k].name);
			verr(v, path,
			     "{{item.%s}}: no example of '%s' has a field "
			     "'%s'%s; %s%s",
			     field, file, field, sample,
			     f->nfields ? "their fields: " : "they have none",
			     names);
		} else {
			verr(v, path,
			     "{{item.%s}}: '%s' line %llu has no field '%s' "
			     "(%llu of %llu examples lack it%s)",
			     field, file, df->first_missing, field,
			     f->checked - df->count, f->checked,
			     f->sampled ? ", of those checked" : "");
		}
	}
}

/* Each {{...}} of a grader's text that names a variable. */
static void
check_templates(struct vctx *v, const struct spec *spec, const char *path,
		const char *text, struct said *said)
{
	for (const char *p = strstr(text, "{{"); p != NULL;
	     p = strstr(p, "{{")) {
		const char *end = strstr(p + 2, "}}"), *a, *z, *dot;
		char inner[MAX_NAME * 2], ns[MAX_NAME], var[MAX_NAME];
		size_t n;

		if (end == NULL)
			return;
		a = p + 2;
		z = end;
		p = end + 2;
		while (a < z && (*a == ' ' || *a == '\t'))
			a++;
		while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
			z--;
		n = (size_t)(z - a);
		/* Only a name or a dotted path is a variable; other text
		 * between braces is the prompt's own. */
		if (n == 0 || n >= sizeof(inner) || !is_word_start(*a))
			continue;
		memcpy(inner, a, n);
		inner[n] = '\0';
		if (strspn(inner, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR"
				  "STUVWXYZ0123456789_.[]") != n)
			continue;
		dot = strchr(inner, '.');
		if (dot == NULL) {
			verr(v, path,
			     "{{%s}} names no namespace: {{item.%s}} (a field "
			     "of the dataset's examples) or {{sample.%s}} (the "
			     "model's output)?",
			     inner, inner, "output_text");
			continue;
		}
		snprintf(ns, sizeof(ns), "%.*s", (int)(dot - inner), inner);
		snprintf(var, sizeof(var), "%.*s", (int)strcspn(dot + 1, ".["),
			 dot + 1);
		if (strcmp(ns, "item") == 0 && var[0] != '\0') {
			check_item_field(v, spec, path, var, said);
		} else if (strcmp(ns, "sample") == 0 &&
			   str_in(var, sample_variables)) {
			if (strcmp(var, "output_json") == 0 &&
			    spec->response_format == NULL)
				verr(v, path,
				     "{{%s}}: the model's output is parsed as "
				     "JSON only with a response_format in the "
				     "spec (/response_format); without one, "
				     "output_json is empty and this grader "
				     "scores nothing",
				     inner);
		} else if (strcmp(ns, "sample") == 0) {
			verr(v, path,
			     "{{%s}}: a sample has output_text, output_json, "
			     "output_tools, choices and output_audio",
			     inner);
		} else {
			verr(v, path,
			     "{{%s}}: the namespaces are item (a field of the "
			     "dataset's examples) and sample (the model's "
			     "output)",
			     inner);
		}
	}
}

/* The templates of a grader's messages (score_model, label_model). */
static void
message_templates(struct vctx *v, const struct spec *spec, const char *path,
		  const cJSON *input, struct said *said)
{
	const cJSON *msg, *part;
	char p[512], q[512], r[512], t[512];
	int i = 0, j;

	cJSON_ArrayForEach(msg, (cJSON_IsArray(input) ? input : NULL))
	{
		const cJSON *content = member(msg, "content");

		json_pointer_index(p, sizeof(p), path, i++);
		json_pointer_key(q, sizeof(q), p, "content");
		if (cJSON_IsString(content)) {
			check_templates(v, spec, q, content->valuestring, said);
			continue;
		}
		j = 0;
		cJSON_ArrayForEach(part,
				   (cJSON_IsArray(content) ? content : NULL))
		{
			const cJSON *text = member(part, "text");

			json_pointer_index(r, sizeof(r), q, j++);
			if (cJSON_IsString(part))
				check_templates(v, spec, r, part->valuestring,
						said);
			else if (cJSON_IsString(text)) {
				json_pointer_key(t, sizeof(t), r, "text");
				check_templates(v, spec, t, text->valuestring,
						said);
			}
		}
		if (cJSON_IsObject(content) &&
		    cJSON_IsString(member(content, "text"))) {
			json_pointer_key(r, sizeof(r), q, "text");
			check_templates(v, spec, r,
					member(content, "text")->valuestring,
					said);
		}
	}
}

/* The templates of a grader, and of a multi grader's graders. */
static void
grader_templates(struct vctx *v, const struct spec *spec, const char *path,
		 const cJSON *g, struct said *said)
{
	static const char *const texts[] = {"input", "reference"};
	const cJSON *subs = member(g, "graders"), *sub;
	char p[512];

	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		const cJSON *t = member(g, texts[i]);

		json_pointer_key(p, sizeof(p), path, texts[i]);
		if (cJSON_IsString(t))
			check_templates(v, spec, p, t->valuestring, said);
		else if (cJSON_IsArray(t))
			message_templates(v, spec, p, t, said);
	}
	json_pointer_key(p, sizeof(p), path, "graders");
	cJSON_ArrayForEach(sub, (cJSON_IsObject(subs) ? subs : NULL))
	{
		char q[512];

		json_pointer_key(q, sizeof(q), p, sub->string);
		grader_templates(v, spec, q, sub, said);
	}
}

static void
check_graders_templates(struct vctx *v, const struct spec *spec)
{
	const cJSON *g, *graders = member(spec->root, "graders");
	struct said said = {0};
	char p[512];

	/* A trainer of the user's reads its graders as it will. */
	if (v->any_hps)
		return;
	cJSON_ArrayForEach(g, (cJSON_IsObject(graders) ? graders : NULL))
	{
		json_pointer_key(p, sizeof(p), "/graders", g->string);
		grader_templates(v, spec, p, g, &said);
	}
	for (size_t i = 0; i < said.n; i++)
		free(said.keys[i]);
	free(said.keys);
}

/* --- response_format ----------------------------------------------------- */

#define SCHEMA_MAX_DEPTH 32

static const char *const schema_types[] = {
    "object", "array", "string", "number", "integer", "boolean", "null", NULL};

static void check_schema(struct vctx *v, const char *path, const cJSON *s,
			 int depth);

/* A member whose value is a schema, or a list or map of schemas. */
static void
check_subschemas(struct vctx *v, const char *path, const cJSON *s,
		 const char *key, int shape, int depth)
{
	const cJSON *m = member(s, key), *e;
	char p[512], q[512];
	int i = 0;

	if (m == NULL)
		return;
	json_pointer_key(p, sizeof(p), path, key);
	if (shape == 0) { /* one schema */
		check_schema(v, p, m, depth + 1);
		return;
	}
	if (shape == 1 && (!cJSON_IsArray(m) || m->child == NULL)) {
		verr(v, p, "must be a non-empty array of schemas");
		return;
	}
	if (shape == 2 && !cJSON_IsObject(m)) {
		verr(v, p, "must be an object mapping names to schemas");
		return;
	}
	cJSON_ArrayForEach(e, m)
	{
		if (shape == 1)
			json_pointer_index(q, sizeof(q), p, i++);
		else
			json_pointer_key(q, sizeof(q), p, e->string);
		check_schema(v, q, e, depth + 1);
	}
}

/*
 * A JSON Schema, as far as what the providers' structured outputs read:
 * types, properties and required, items, the combinators, enum.
 */
static void
check_schema(struct vctx *v, const char *path, const cJSON *s, int depth)
{
	const cJSON *type, *props, *req, *e, *t;
	char p[512], q[512];
	int i = 0;

	if (cJSON_IsBool(s))
		return; /* true or false: anything, nothing */
	if (!cJSON_IsObject(s)) {
		verr(v, path, "must be a JSON Schema (an object)");
		return;
	}
	if (depth > SCHEMA_MAX_DEPTH) {
		verr(v, path, "is nested more than %d levels deep",
		     SCHEMA_MAX_DEPTH);
		return;
	}
	type = member(s, "type");
	json_pointer_key(p, sizeof(p), path, "type");
	if (cJSON_IsArray(type) && type->child != NULL) {
		cJSON_ArrayForEach(t, type)
		{
			json_pointer_index(q, sizeof(q), p, i++);
			if (!cJSON_IsString(t) ||
			    !str_in(t->valuestring, schema_types))
				verr(v, q,
				     "must be one of object, array, string, "
				     "number, integer, boolean, null");
		}
	} else if (type != NULL && (!cJSON_IsString(type) ||
				    !str_in(type->valuestring, schema_types)))
		verr(v, p,
		     "must be one of object, array, string, number, integer, "
		     "boolean, null (or a list of them)");
	props = member(s, "properties");
	check_subschemas(v, path, s, "properties", 2, depth);
	req = member(s, "required");
	json_pointer_key(p, sizeof(p), path, "required");
	i = 0;
	if (req != NULL && !cJSON_IsArray(req))
		verr(v, p, "must be an array of property names");
	cJSON_ArrayForEach(e, (cJSON_IsArray(req) ? req : NULL))
	{
		json_pointer_index(q, sizeof(q), p, i++);
		if (!cJSON_IsString(e))
			verr(v, q, "must be a property name");
		else if (cJSON_IsObject(props) &&
			 member(props, e->valuestring) == NULL)
			verr(v, q, "'%s' is not one of the properties",
			     e->valuestring);
		else
			for (const cJSON *x = req->child; x != e; x = x->next)
				if (cJSON_Compare(x, e, 1)) {
					verr(v, q, "repeats an earlier name");
					break;
				}
	}
	if (cJSON_IsArray(member(s, "items")))
		check_subschemas(v, path, s, "items", 1, depth);
	else
		check_subschemas(v, path, s, "items", 0, depth);
	if (member(s, "additionalProperties") != NULL &&
	    !cJSON_IsBool(member(s, "additionalProperties")))
		check_subschemas(v, path, s, "additionalProperties", 0, depth);
	check_subschemas(v, path, s, "anyOf", 1, depth);
	check_subschemas(v, path, s, "oneOf", 1, depth);
	check_subschemas(v, path, s, "allOf", 1, depth);
	check_subschemas(v, path, s, "$defs", 2, depth);
	check_subschemas(v, path, s, "definitions", 2, depth);
	e = member(s, "enum");
	json_pointer_key(p, sizeof(p), path, "enum");
	if (e != NULL && (!cJSON_IsArray(e) || e->child == NULL))
		verr(v, p, "must be a non-empty array of values");
	for (size_t k = 0; k < 2; k++) {
		static const char *const texts[] = {"title", "description"};

		json_pointer_key(p, sizeof(p), path, texts[k]);
		if (member(s, texts[k]) != NULL &&
		    !cJSON_IsString(member(s, texts[k])))
			verr(v, p, "must be a string");
	}
}

/*
 * "response_format": {"type": "json_schema", "json_schema": {"name",
 * "schema", "strict", "description"}}, the form both services take in
 * the RFT method (Azure's ResponseFormatJSONSchemaRequest).
 */
static void
check_response_format(struct vctx *v, const cJSON *rf)
{
	static const char *const keys[] = {"type", "json_schema", NULL};
	static const char *const js_keys[] = {"name", "schema", "strict",
					      "description", NULL};
	const cJSON *js, *schema, *type;
	const char *name, *t;

	if (rf == NULL)
		return;
	if (!cJSON_IsObject(rf)) {
		verr(v, "/response_format",
		     "must be an object {\"type\": \"json_schema\", "
		     "\"json_schema\": {\"name\", \"schema\", \"strict\"}}");
		return;
	}
	check_keys(v, "/response_format", rf, keys);
	t = get_string(v, "/response_format", rf, "type", true, 32);
	if (t != NULL && strcmp(t, "json_schema") != 0)
		verr(v, "/response_format/type",
		     "must be \"json_schema\" (RFT takes a JSON schema, which "
		     "fills {{sample.output_json}})");
	js = member(rf, "json_schema");
	if (js == NULL) {
		verr(v, "/response_format/json_schema",
		     "is required: {\"name\", \"schema\", \"strict\"}");
		return;
	}
	if (!cJSON_IsObject(js)) {
		verr(v, "/response_format/json_schema",
		     "must be an object {\"name\", \"schema\", \"strict\"}");
		return;
	}
	check_keys(v, "/response_format/json_schema", js, js_keys);
	name =
	    get_string(v, "/response_format/json_schema", js, "name", true, 64);
	if (name != NULL &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789_-") != strlen(name))
		verr(v, "/response_format/json_schema/name",
		     "must be letters, digits, '_' and '-' (at most 64)");
	if (member(js, "strict") != NULL && !cJSON_IsBool(member(js, "strict")))
		verr(v, "/response_format/json_schema/strict",
		     "must be true or false");
	get_string(v, "/response_format/json_schema", js, "description", false,
		   4096);
	schema = member(js, "schema");
	if (schema == NULL) {
		verr(v, "/response_format/json_schema/schema",
		     "is required: the JSON Schema of the model's output");
		return;
	}
	if (!cJSON_IsObject(schema)) {
		verr(v, "/response_format/json_schema/schema",
		     "must be a JSON Schema object");
		return;
	}
	type = member(schema, "type");
	if (!cJSON_IsString(type) || strcmp(type->valuestring, "object") != 0)
		verr(v, "/response_format/json_schema/schema/type",
		     "must be \"object\": the model's output is a JSON object "
		     "that graders read as {{sample.output_json.NAME}}");
	check_schema(v, "/response_format/json_schema/schema", schema, 0);
}

static void
sha256_hex(const char *text, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL) != 1)
		fatalx("libcrypto: SHA-256 failed");
	for (unsigned int i = 0; i < len && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* --- expansion ----------------------------------------------------------- */

/* One axis of the search space. */
struct axis {
	const char *name;    /* hyperparameter name, NULL for graders */
	const cJSON *values; /* array, or the graders object */
	int count;
};

struct expander {
	struct spec *spec;
	const cJSON *hps;  /* top-level hyperparameters (object) */
	struct axis *axes; /* [0] graders, then list hyperparameters */
	int naxes;
	const cJSON *seeds; /* array, or NULL for "no seed" */
	size_t cap;	    /* allocated trials */
	struct identity *id;
};

static const cJSON *
nth(const cJSON *container, int i)
{
	const cJSON *c = container->child;

	while (i-- > 0 && c != NULL)
		c = c->next;
	return c;
}

/* A JSON string literal for `s`, as cJSON prints it.  Newly allocated. */
static char *
json_string(const char *s)
{
	cJSON *item = cJSON_CreateString(s);
	char *text = cJSON_PrintUnformatted(item);

	cJSON_Delete(item);
	if (text == NULL)
		fatalx("out of memory (json_string)");
	return text;
}

static void
digest_hex(EVP_MD_CTX *ctx, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_DigestFinal_ex(ctx, md, &len);
	for (unsigned int i = 0; i < len && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/*
 * Hashing trial identities.  The identity is the SHA-256 of
 *   json_canonical({backend, grader, hyperparameters (no "auto"), model,
 *                   response_format (when given), seed, training_file,
 *                   validation_file})
 * and is computed by hashing that text's pieces in key order, with the
 * parts shared by every trial of the spec printed once.
 */
struct identity {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
	char *head;  /* {"backend":B,"grader": */
	char *model; /* ,"model":M[,"response_format":R],"seed": */
	char *tail;  /* ,"training_file":T,"validation_file":V} */
};

static void
identity_init(struct identity *id, const struct spec *spec)
{
	char *b = json_string(spec->backend), *m = json_string(spec->model);
	char *t = json_string(spec->training_ref);
	char *v = spec->validation_ref[0] ? json_string(spec->validation_ref)
					  : xstrdup("null");
	char *rf = spec->response_format != NULL
		       ? json_canonical(spec->response_format)
		       : NULL;

	id->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	id->ctx = EVP_MD_CTX_new();
	if (id->md == NULL || id->ctx == NULL)
		fatalx("libcrypto: SHA-256 is not available");
	id->head = xasprintf("{\"backend\":%s,\"grader\":", b);
	/* Without a response_format, the identity is what it always was. */
	id->model = xasprintf(",\"model\":%s%s%s,\"seed\":", m,
			      rf ? ",\"response_format\":" : "", rf ? rf : "");
	id->tail =
	    xasprintf(",\"training_file\":%s,\"validation_file\":%s}", t, v);
	free(b);
	free(m);
	free(t);
	free(v);
	free(rf);
}

static void
identity_free(struct identity *id)
{
	EVP_MD_CTX_free(id->ctx);
	EVP_MD_free(id->md);
	free(id->head);
	free(id->model);
	free(id->tail);
}

static void
update(EVP_MD_CTX *ctx, const char *text)
{
	EVP_DigestUpdate(ctx, text, strlen(text));
}

/*
 * Prints a checked hyperparameter object (members in name order, scalar
 * values, names and strings that need no escaping) as canonical JSON,
 * without cJSON's allocations: this runs for every trial.  With
 * `skip_auto`, "auto" members are left out.
 */
static void
print_hps(const cJSON *hps, bool skip_auto, char *buf, size_t len)
{
	const cJSON *m;
	size_t used = 0;

	buf[used++] = '{';
	cJSON_ArrayForEach(m, hps)
	{
		if (skip_auto && is_auto(m))
			continue;
		if (used + 2 * MAX_ANY_VALUE + 96 + strlen(m->string) >= len)
			break; /* cannot happen: names and values are short */
		used += (size_t)snprintf(buf + used, len - used,
					 "%s\"%s\":", used > 1 ? "," : "",
					 m->string);
		if (cJSON_IsString(m) &&
		    strpbrk(m->valuestring, "\"\\") == NULL) {
			used += (size_t)snprintf(buf + used, len - used,
						 "\"%s\"", m->valuestring);
		} else if (cJSON_IsString(m) || cJSON_IsBool(m)) {
			/* A free-form value: cJSON escapes it. */
			char *text = cJSON_PrintUnformatted(m);

			used += (size_t)snprintf(buf + used, len - used, "%s",
						 text);
			free(text);
		} else
			used += json_print_number(buf + used, len - used,
						  m->valuedouble);
	}
	snprintf(buf + used, len - used, "}");
}

static void
trial_identity(struct identity *id, const struct spec_grader *g,
	       const cJSON *hps, bool has_seed, int64_t seed, char out[65])
{
	char text[HPS_TEXT_MAX], seed_text[32];

	/* "auto" means unset: it is not part of the identity. */
	print_hps(hps, true, text, sizeof(text));
	if (has_seed)
		snprintf(seed_text, sizeof(seed_text), "%lld", (long long)seed);
	else
		snprintf(seed_text, sizeof(seed_text), "null");
	if (EVP_DigestInit_ex(id->ctx, id->md, NULL) != 1)
		fatalx("libcrypto: cannot start SHA-256");
	update(id->ctx, id->head);
	update(id->ctx, g->canonical);
	update(id->ctx, ",\"hyperparameters\":");
	update(id->ctx, text);
	update(id->ctx, id->model);
	update(id->ctx, seed_text);
	update(id->ctx, id->tail);
	digest_hex(id->ctx, out);
}

static const struct spec_grader *
grader_of(const struct spec *spec, const cJSON *grader)
{
	for (size_t i = 0; i < spec->ngraders; i++)
		if (spec->graders[i].obj == grader)
			return &spec->graders[i];
	fatalx("spec: grader not in the table"); /* cannot happen */
}

static void
add_trial(struct expander *x, const char *grader_name, const cJSON *grader,
	  const cJSON *hps, bool has_seed, int64_t seed)
{
	struct spec *spec = x->spec;
	struct spec_trial *t;

	if (spec->ntrials == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 64;
		spec->trials =
		    xrealloc(spec->trials, x->cap * sizeof(*spec->trials));
	}
	t = &spec->trials[spec->ntrials++];
	memset(t, 0, sizeof(*t));
	t->grader_name = grader_name;
	t->grader = grader;
	t->graderv = grader_of(spec, grader);
	{
		char text[HPS_TEXT_MAX];

		print_hps(hps, false, text, sizeof(text));
		t->hyperparameters_json = xstrdup(text);
	}
	t->hyperparameters = cJSON_Duplicate(hps, 1);
	t->has_seed = has_seed;
	t->seed = seed;
	trial_identity(x->id, t->graderv, hps, has_seed, seed, t->sha256);
}

/* Adds one trial per seed (or one without a seed) for a point. */
static void
add_point(struct expander *x, const cJSON *grader, const cJSON *hps)
{
	const cJSON *s;

	if (x->seeds == NULL) {
		add_trial(x, grader->string, grader, hps, false, 0);
		return;
	}
	cJSON_ArrayForEach(s, x->seeds) add_trial(
	    x, grader->string, grader, hps, true, (int64_t)s->valuedouble);
}

/* Builds the hyperparameter object of the point with axis indices idx. */
static cJSON *
point_hps(const struct expander *x, const int *idx)
{
	cJSON *hps = cJSON_CreateObject();
	const cJSON *m;
	int a = 1;

	/* Axes follow the (sorted) member order of x->hps. */
	cJSON_ArrayForEach(m, x->hps)
	{
		if (cJSON_IsArray(m))
			cJSON_AddItemToObject(
			    hps, m->string,
			    cJSON_Duplicate(nth(m, idx[a++]), 1));
		else
			cJSON_AddItemToObject(hps, m->string,
					      cJSON_Duplicate(m, 1));
	}
	return hps;
}

static void
expand_point(struct expander *x, const int *idx)
{
	cJSON *hps = point_hps(x, idx);

	add_point(x, nth(x->axes[0].values, idx[0]), hps);
	cJSON_Delete(hps);
}

/* Mixed-radix counting over every axis, the last varying fastest. */
static void
expand_grid(struct expander *x)
{
	int *idx = xcalloc((size_t)x->naxes, sizeof(*idx));

	for (;;) {
		int a;

		expand_point(x, idx);
		for (a = x->naxes - 1; a >= 0; a--) {
			if (++idx[a] < x->axes[a].count)
				break;
			idx[a] = 0;
		}
		if (a < 0)
			break;
	}
	free(idx);
}

static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A hash of one point's axis indices, for the set of points drawn. */
static uint64_t
point_hash(const int *idx, int naxes)
{
	uint64_t h = 0;

	for (int a = 0; a < naxes; a++) {
		uint64_t state = h ^ (uint64_t)(unsigned int)idx[a];

		h = splitmix64(&state);
	}
	return h;
}

/*
 * Draws `samples` distinct points uniformly, reproducibly from `seed`:
 * each draw takes one index per axis from the seed's stream, and a point
 * drawn before is passed over for the next draw.  The points drawn are
 * kept in a hash set of their indices: a draw costs the same however many
 * came before.
 * The caller has checked that the space has at least that many points.
 */
static void
expand_random(struct expander *x, int64_t samples, uint64_t seed)
{
	size_t want = (size_t)samples, naxes = (size_t)x->naxes;
	size_t size = 2, drawn = 0;
	int *points = xcalloc(want, naxes * sizeof(*points));
	size_t *slots; /* 1 + the point's row in points; 0: empty */
	int64_t attempts = 0;

	while (size < 2 * want)
		size *= 2;
	slots = xcalloc(size, sizeof(*slots));
	while (drawn < want && attempts++ < samples * 1000) {
		int *idx = points + drawn * naxes; /* the next row, if new */
		size_t h;

		for (size_t a = 0; a < naxes; a++)
			idx[a] = (int)(splitmix64(&seed) %
				       (uint64_t)x->axes[a].count);
		for (h = (size_t)point_hash(idx, x->naxes) & (size - 1);
		     slots[h] != 0; h = (h + 1) & (size - 1))
			if (memcmp(points + (slots[h] - 1) * naxes, idx,
				   naxes * sizeof(*idx)) == 0)
				break;
		if (slots[h] != 0)
			continue;
		slots[h] = ++drawn;
		expand_point(x, idx);
	}
	free(slots);
	free(points);
}

static const char *const trial_keys[] = {"hyperparameters", "grader", "seed",
					 NULL};

/*
 * Checks the explicit trials list; returns how many trials it expands
 * to (a trial without "grader" runs on every grader, one without "seed"
 * on every seed).
 */
static uint64_t
check_explicit(struct vctx *v, const cJSON *list, const cJSON *graders,
	       const cJSON *seeds)
{
	const cJSON *t;
	char p[512], q[512];
	uint64_t total = 0;
	int i = 0;

	cJSON_ArrayForEach(t, list)
	{
		const cJSON *over, *g, *seed;

		json_pointer_index(p, sizeof(p), "/search/trials", i++);
		if (!cJSON_IsObject(t)) {
			verr(v, p, "must be an object");
			continue;
		}
		check_keys(v, p, t, trial_keys);
		over = member(t, "hyperparameters");
		json_pointer_key(q, sizeof(q), p, "hyperparameters");
		if (over != NULL)
			check_hyperparameters(v, q, over, false);
		g = member(t, "grader");
		json_pointer_key(q, sizeof(q), p, "grader");
		if (g != NULL &&
		    (!cJSON_IsString(g) || !cJSON_IsObject(graders) ||
		     member(graders, g->valuestring) == NULL))
			verr(v, q, "must name one of the graders");
		seed = member(t, "seed");
		json_pointer_key(q, sizeof(q), p, "seed");
		if (seed != NULL &&
		    (!is_integer(seed) || seed->valuedouble < 0 ||
		     seed->valuedouble > 2147483647))
			verr(v, q, "must be an integer 0..2147483647");
		total +=
		    (uint64_t)(g != NULL ? 1 : cJSON_GetArraySize(graders)) *
		    (uint64_t)(seed != NULL || seeds == NULL
				   ? 1
				   : cJSON_GetArraySize(seeds));
	}
	return total;
}

/* Expands a checked explicit trials list. */
static void
expand_explicit(struct expander *x, const cJSON *list)
{
	const cJSON *t, *m;

	cJSON_ArrayForEach(t, list)
	{
		const cJSON *over = member(t, "hyperparameters");
		const cJSON *g = member(t, "grader"), *seed = member(t, "seed");
		cJSON *hps = cJSON_Duplicate(x->hps, 1);
		char *sorted;

		/* The trial's values over the spec's defaults. */
		cJSON_ArrayForEach(m, over)
		{
			cJSON_DeleteItemFromObjectCaseSensitive(hps, m->string);
			cJSON_AddItemToObject(hps, m->string,
					      cJSON_Duplicate(m, 1));
		}
		sorted = json_canonical(hps);
		cJSON_Delete(hps);
		hps = cJSON_Parse(sorted);
		free(sorted);
		for (const cJSON *gr = x->axes[0].values->child; gr != NULL;
		     gr = gr->next) {
			if (g != NULL && strcmp(gr->string, g->valuestring))
				continue;
			if (seed != NULL)
				add_trial(x, gr->string, gr, hps, true,
					  (int64_t)seed->valuedouble);
			else
				add_point(x, gr, hps);
		}
		cJSON_Delete(hps);
	}
}

/*
 * Refuses an object member name given twice anywhere in the spec: cJSON
 * keeps both, and the two copies could disagree about what is paid for.
 */
static void
check_unique_members(struct vctx *v, const char *path, const cJSON *item)
{
	const cJSON *c;
	char p[512];
	int i = 0;

	for (c = item->child; c != NULL; c = c->next, i++) {
		if (cJSON_IsObject(item)) {
			json_pointer_key(p, sizeof(p), path, c->string);
			for (const cJSON *e = item->child; e != c; e = e->next)
				if (strcmp(e->string, c->string) == 0) {
					verr(v, p, "is given twice");
					break;
				}
		} else {
			json_pointer_index(p, sizeof(p), path, i);
		}
		if (cJSON_IsObject(c) || cJSON_IsArray(c))
			check_unique_members(v, p, c);
	}
}

/* Two identical graders would run every trial twice under two names. */
static void
check_identical_graders(struct vctx *v, const cJSON *graders)
{
	char p[512];

	if (!cJSON_IsObject(graders))
		return;
	for (const cJSON *g = graders->child; g != NULL; g = g->next)
		for (const cJSON *e = graders->child; e != g; e = e->next)
			if (cJSON_Compare(e, g, 1)) {
				json_pointer_key(p, sizeof(p), "/graders",
						 g->string);
				verr(v, p,
				     "is identical to grader '%s'; it would "
				     "run the same trials again",
				     e->string);
				break;
			}
}

/* --- the spec ------------------------------------------------------------ */

static const char *const spec_keys[] = {"name",
					"backend",
					"model",
					"training_file",
					"validation_file",
					"hyperparameters",
					"graders",
					"seeds",
					"search",
					"max_concurrent",
					"max_job_hours",
					"retries",
					"budget_usd",
					"objective",
					"priority",
					"allow_unpriced",
					"early_stopping",
					"response_format",
					NULL};
static const char *const search_keys[] = {"strategy", "samples", "seed",
					  "trials", NULL};

static void
check_seeds(struct vctx *v, const cJSON *seeds)
{
	const cJSON *s;
	char p[64];
	int i = 0;

	if (seeds == NULL)
		return;
	if (!cJSON_IsArray(seeds) || cJSON_GetArraySize(seeds) == 0 ||
	    cJSON_GetArraySize(seeds) > MAX_SEEDS) {
		verr(v, "/seeds", "must be a list of 1..%d integers",
		     MAX_SEEDS);
		return;
	}
	cJSON_ArrayForEach(s, seeds)
	{
		json_pointer_index(p, sizeof(p), "/seeds", i);
		if (!is_integer(s) || s->valuedouble < 0 ||
		    s->valuedouble > 2147483647)
			verr(v, p, "must be an integer 0..2147483647");
		else
			for (const cJSON *e = seeds->child; e != s; e = e->next)
				if (cJSON_Compare(e, s, 1)) {
					verr(v, p, "repeats an earlier seed");
					break;
				}
		i++;
	}
}

static void
check_objective(struct vctx *v, struct spec *spec, const cJSON *obj)
{
	static const char *const keys[] = {"metric", "mode", NULL};
	const char *mode;

	spec->objective_metric = "valid_reward_mean";
	spec->objective_max = true;
	if (obj == NULL)
		return;
	if (!cJSON_IsObject(obj)) {
		verr(v, "/objective", "must be an object {metric, mode}");
		return;
	}
	check_keys(v, "/objective", obj, keys);
	spec->objective_metric =
	    get_string(v, "/objective", obj, "metric", true, MAX_NAME);
	mode = get_string(v, "/objective", obj, "mode", false, 8);
	if (mode != NULL && strcmp(mode, "max") != 0 &&
	    strcmp(mode, "min") != 0)
		verr(v, "/objective/mode", "must be \"max\" or \"min\"");
	spec->objective_max = mode == NULL || strcmp(mode, "max") == 0;
}

/*
 * "early_stopping": {rule, metric, mode, grace_steps, reduction_factor,
 * min_trials}; the metric and mode default to the objective's.
 */
static void
check_early_stopping(struct vctx *v, struct spec *spec, const cJSON *obj)
{
	static const char *const keys[] = {
	    "rule",	  "metric", "mode", "grace_steps", "reduction_factor",
	    "min_trials", NULL};
	struct early_config *c = &spec->early;
	const char *rule, *metric, *mode;

	c->rule = EARLY_NONE;
	if (obj == NULL)
		return;
	if (!cJSON_IsObject(obj)) {
		verr(v, "/early_stopping",
		     "must be an object {rule, metric, grace_steps, ...}");
		return;
	}
	check_keys(v, "/early_stopping", obj, keys);
	rule = get_string(v, "/early_stopping", obj, "rule", true, 16);
	if (rule != NULL && strcmp(rule, "median") == 0)
		c->rule = EARLY_MEDIAN;
	else if (rule != NULL && strcmp(rule, "asha") == 0)
		c->rule = EARLY_ASHA;
	else if (rule != NULL)
		verr(v, "/early_stopping/rule",
		     "must be \"median\" or \"asha\"");
	metric = get_string(v, "/early_stopping", obj, "metric", false,
			    EARLY_MAX_METRIC - 1);
	if (metric == NULL)
		metric = spec->objective_metric;
	snprintf(c->metric, sizeof(c->metric), "%s", metric ? metric : "");
	mode = get_string(v, "/early_stopping", obj, "mode", false, 8);
	if (mode != NULL && strcmp(mode, "max") != 0 &&
	    strcmp(mode, "min") != 0)
		verr(v, "/early_stopping/mode", "must be \"max\" or \"min\"");
	c->maximize =
	    mode == NULL ? spec->objective_max : strcmp(mode, "min") != 0;
	c->grace_steps = get_int(v, "/early_stopping", obj, "grace_steps", 1,
				 1000000, EARLY_DEFAULT_GRACE_STEPS);
	c->reduction_factor =
	    (int)get_int(v, "/early_stopping", obj, "reduction_factor", 2, 100,
			 EARLY_DEFAULT_REDUCTION);
	if (c->rule == EARLY_MEDIAN && member(obj, "reduction_factor") != NULL)
		verr(v, "/early_stopping/reduction_factor",
		     "applies to rule \"asha\" only");
	c->min_trials = (int)get_int(v, "/early_stopping", obj, "min_trials", 2,
				     100000, EARLY_DEFAULT_MIN_TRIALS);
}

/* The number of points of the space, saturating at UINT64_MAX. */
static uint64_t
space_size(const struct expander *x)
{
	uint64_t n = 1;

	for (int a = 0; a < x->naxes; a++) {
		if (n > UINT64_MAX / (uint64_t)x->axes[a].count)
			return UINT64_MAX;
		n *= (uint64_t)x->axes[a].count;
	}
	return n;
}

static int
cmp_identity(const void *a, const void *b)
{
	const struct spec_trial *x = *(const struct spec_trial *const *)a;
	const struct spec_trial *y = *(const struct spec_trial *const *)b;

	return strcmp(x->sha256, y->sha256);
}

/* Two points with one identity would be one paid run counted twice. */
static void
find_duplicates(struct vctx *v, const struct spec *spec)
{
	size_t n = spec->ntrials;
	const struct spec_trial **sorted = xcalloc(n, sizeof(*sorted));

	for (size_t i = 0; i < n; i++)
		sorted[i] = &spec->trials[i];
	qsort(sorted, n, sizeof(*sorted), cmp_identity);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(sorted[i]->sha256, sorted[i - 1]->sha256) == 0) {
			verr(v, "/",
			     "trials %zu and %zu are the same trial (graders "
			     "'%s' and '%s' are identical, or a value "
			     "repeats)",
			     (size_t)(sorted[i - 1] - spec->trials),
			     (size_t)(sorted[i] - spec->trials),
			     sorted[i - 1]->grader_name,
			     sorted[i]->grader_name);
			break;
		}
	}
	free(sorted);
}

/* The grader variants, each with its canonical JSON and its hash. */
static void
build_graders(struct spec *spec)
{
	const cJSON *g, *graders = member(spec->root, "graders");

	spec->graders = xcalloc((size_t)cJSON_GetArraySize(graders),
				sizeof(*spec->graders));
	cJSON_ArrayForEach(g, graders)
	{
		struct spec_grader *sg = &spec->graders[spec->ngraders++];

		sg->name = g->string;
		sg->obj = g;
		sg->type = member(g, "type")->valuestring;
		sg->canonical = json_canonical(g);
		sha256_hex(sg->canonical, sg->sha256);
	}
}

int
spec_parse(const cJSON *json, const struct spec_env *env, struct spec **out,
	   cJSON **errors)
{
	struct vctx v = {.errors = cJSON_CreateArray(), .env = env};
	struct spec *spec = xcalloc(1, sizeof(*spec));
	struct expander x = {.spec = spec};
	struct identity id = {0};
	const cJSON *search, *hps, *strategy_item, *m;
	const char *strategy = "grid";
	int64_t samples = 0, search_seed = 0;
	uint64_t explicit_total = 0;
	char *canon;
	int64_t max_trials = env->max_trials ? env->max_trials : 10000;

	*out = NULL;
	*errors = NULL;
	if (!cJSON_IsObject(json)) {
		verr(&v, "/", "a sweep spec must be a JSON object");
		goto fail;
	}
	spec->root = cJSON_Duplicate(json, 1);
	canon = json_canonical(spec->root);
	if (strlen(canon) > SPEC_MAX_BYTES)
		verr(&v, "/", "the spec is larger than %u bytes",
		     SPEC_MAX_BYTES);
	sha256_hex(canon, spec->sha256);
	free(canon);
	json = spec->root;

	check_unique_members(&v, "", json);
	check_keys(&v, "", json, spec_keys);
	spec->name = get_string(&v, "", json, "name", true, MAX_NAME);
	spec->backend = get_string(&v, "", json, "backend", true, MAX_NAME);
	if (spec->backend != NULL && env->any_hyperparameters != NULL &&
	    env->backend_exists(spec->backend, env->arg))
		v.any_hps = env->any_hyperparameters(spec->backend, env->arg);
	if (spec->backend != NULL &&
	    !env->backend_exists(spec->backend, env->arg))
		verr(&v, "/backend",
		     "'%s' is not a backend of this rftd (see the [backend] "
		     "sections of its configuration)",
		     spec->backend);
	spec->model = get_string(&v, "", json, "model", true, 256);
	spec->examples_checked = !v.any_hps;
	spec->training_file =
	    get_string(&v, "", json, "training_file", true, 4096);
	if (spec->training_file != NULL)
		dataset_ref(&v, "/training_file", spec->training_file,
			    spec->training_ref, sizeof(spec->training_ref),
			    &spec->training_facts);
	spec->validation_file =
	    get_string(&v, "", json, "validation_file", false, 4096);
	if (spec->validation_file != NULL)
		dataset_ref(&v, "/validation_file", spec->validation_file,
			    spec->validation_ref, sizeof(spec->validation_ref),
			    &spec->validation_facts);
	if (spec->examples_checked) {
		check_examples(&v, "/training_file", spec->training_file,
			       spec->training_facts);
		check_examples(&v, "/validation_file", spec->validation_file,
			       spec->validation_facts);
	}
	spec->response_format = member(json, "response_format");
	check_response_format(&v, spec->response_format);
	spec->max_concurrent =
	    (int)get_int(&v, "", json, "max_concurrent", 1, 10000, 0);
	spec->max_job_hours =
	    get_number(&v, "", json, "max_job_hours", 0, 720, 0);
	spec->retries = (int)get_int(&v, "", json, "retries", 0, 100, 0);
	spec->priority =
	    (int)get_int(&v, "", json, "priority", -1000000, 1000000, 0);
	if (member(json, "budget_usd") != NULL) {
		const cJSON *b = member(json, "budget_usd");

		if (!cJSON_IsNumber(b) || b->valuedouble < 0 ||
		    b->valuedouble > 1e9)
			verr(&v, "/budget_usd",
			     "must be a number of dollars 0..1e9");
		spec->has_budget = true;
		spec->budget_usd = cJSON_IsNumber(b) ? b->valuedouble : 0;
	}
	if (member(json, "allow_unpriced") != NULL) {
		if (!cJSON_IsBool(member(json, "allow_unpriced")))
			verr(&v, "/allow_unpriced", "must be true or false");
		spec->allow_unpriced =
		    cJSON_IsTrue(member(json, "allow_unpriced"));
	}
	check_objective(&v, spec, member(json, "objective"));
	check_early_stopping(&v, spec, member(json, "early_stopping"));
	check_graders(&v, member(json, "graders"));
	check_identical_graders(&v, member(json, "graders"));
	check_graders_templates(&v, spec);
	check_seeds(&v, member(json, "seeds"));

	search = member(json, "search");
	if (search != NULL && !cJSON_IsObject(search)) {
		verr(&v, "/search", "must be an object with a strategy");
		search = NULL;
	}
	if (search != NULL) {
		check_keys(&v, "/search", search, search_keys);
		strategy_item = member(search, "strategy");
		if (strategy_item != NULL &&
		    (!cJSON_IsString(strategy_item) ||
		     !str_in(strategy_item->valuestring,
			     (const char *const[]){"grid", "random", "trials",
						   NULL})))
			verr(&v, "/search/strategy",
			     "must be \"grid\", \"random\" or \"trials\"");
		else if (strategy_item != NULL)
			strategy = strategy_item->valuestring;
		if (strcmp(strategy, "random") == 0) {
			if (member(search, "samples") == NULL)
				verr(&v, "/search/samples",
				     "is required for random search");
			samples = get_int(&v, "/search", search, "samples", 1,
					  max_trials, 0);
			search_seed = get_int(&v, "/search", search, "seed", 0,
					      INT64_MAX / 2, 0);
		} else {
			if (member(search, "samples") != NULL)
				verr(&v, "/search/samples",
				     "is only for random search");
			if (member(search, "seed") != NULL)
				verr(&v, "/search/seed",
				     "is only for random search");
		}
		if (strcmp(strategy, "trials") == 0) {
			const cJSON *list = member(search, "trials");

			if (!cJSON_IsArray(list) ||
			    cJSON_GetArraySize(list) == 0)
				verr(&v, "/search/trials",
				     "must be a non-empty list of trials");
			else
				explicit_total = check_explicit(
				    &v, list, member(json, "graders"),
				    member(json, "seeds"));
		} else if (member(search, "trials") != NULL) {
			verr(&v, "/search/trials",
			     "is only for the \"trials\" strategy");
		}
	}

	hps = member(json, "hyperparameters");
	if (hps != NULL)
		check_hyperparameters(&v, "/hyperparameters", hps,
				      strcmp(strategy, "trials") != 0);
	if (v.count > 0)
		goto fail;

	/* Axes: graders first, then list-valued hyperparameters by name. */
	if (hps != NULL) {
		/* Members in name order: the axes' order. */
		char *sorted = json_canonical(hps);

		x.hps = cJSON_Parse(sorted);
		free(sorted);
	} else {
		x.hps = cJSON_CreateObject();
	}
	x.axes = xcalloc(1 + ARRAY_LEN(hp_defs), sizeof(*x.axes));
	x.axes[0].values = member(json, "graders");
	x.axes[0].count = cJSON_GetArraySize(x.axes[0].values);
	x.naxes = 1;
	cJSON_ArrayForEach(m, x.hps)
	{
		if (cJSON_IsArray(m)) {
			x.axes[x.naxes].name = m->string;
			x.axes[x.naxes].values = m;
			x.axes[x.naxes].count = cJSON_GetArraySize(m);
			x.naxes++;
		}
	}
	x.seeds = member(json, "seeds");
	build_graders(spec);
	identity_init(&id, spec);
	x.id = &id;
	{
		uint64_t points = space_size(&x);
		uint64_t per_point =
		    x.seeds ? (uint64_t)cJSON_GetArraySize(x.seeds) : 1;
		uint64_t total;

		if (strcmp(strategy, "random") == 0) {
			if ((uint64_t)samples > points)
				verr(&v, "/search/samples",
				     "%lld is more than the %llu distinct "
				     "points of the search space",
				     (long long)samples,
				     (unsigned long long)points);
			points = (uint64_t)samples;
		}
		total = points > UINT64_MAX / per_point ? UINT64_MAX
							: points * per_point;
		if (strcmp(strategy, "trials") == 0)
			total = explicit_total;
		if (total > (uint64_t)max_trials)
			verr(&v, "/",
			     "the sweep expands to %llu trials, more than the "
			     "limit of %lld (max_trials_per_sweep)",
			     (unsigned long long)total, (long long)max_trials);
	}
	if (v.count > 0)
		goto fail;
	if (strcmp(strategy, "random") == 0) {
		size_t want =
		    (size_t)samples *
		    (x.seeds ? (size_t)cJSON_GetArraySize(x.seeds) : 1);

		expand_random(&x, samples, (uint64_t)search_seed);
		if (spec->ntrials < want)
			verr(&v, "/search/samples",
			     "only %zu distinct trials could be drawn of the "
			     "%zu asked for",
			     spec->ntrials, want);
	} else if (strcmp(strategy, "trials") == 0) {
		expand_explicit(&x, member(search, "trials"));
	} else {
		expand_grid(&x);
	}
	if (v.count == 0 && spec->ntrials == 0)
		verr(&v, "/", "the sweep expands to no trials");
	if (v.count == 0)
		find_duplicates(&v, spec);
	if (v.count > 0)
		goto fail;

	cJSON_Delete((cJSON *)x.hps);
	free(x.axes);
	identity_free(&id);
	cJSON_Delete(v.errors);
	*out = spec;
	return 0;
fail:
	if (v.count > MAX_ERRORS) {
		cJSON *e = cJSON_CreateObject();
		char msg[64];

		snprintf(msg, sizeof(msg), "... and %d more problems",
			 v.count - MAX_ERRORS);
		cJSON_AddStringToObject(e, "path", "/");
		cJSON_AddStringToObject(e, "message", msg);
		cJSON_AddItemToArray(v.errors, e);
	}
	cJSON_Delete((cJSON *)x.hps);
	free(x.axes);
	if (x.id != NULL)
		identity_free(&id);
	spec_free(spec);
	*errors = v.errors;
	return -EINVAL;
}

void
spec_free(struct spec *spec)
{
	if (spec == NULL)
		return;
	dataset_facts_free(spec->training_facts);
	dataset_facts_free(spec->validation_facts);
	for (size_t i = 0; i < spec->ngraders; i++)
		free(spec->graders[i].canonical);
	free(spec->graders);
	for (size_t i = 0; i < spec->ntrials; i++) {
		cJSON_Delete(spec->trials[i].hyperparameters);
		free(spec->trials[i].hyperparameters_json);
	}
	free(spec->trials);
	cJSON_Delete(spec->root);
	free(spec);
}

char *
spec_errors_text(const cJSON *errors)
{
	const cJSON *e;
	char *text = xstrdup("");

	cJSON_ArrayForEach(e, errors)
	{
		const cJSON *p = member(e, "path"), *m = member(e, "message");
		char *next =
		    xasprintf("%s%s: %s\n", text,
			      cJSON_IsString(p) ? p->valuestring : "/",
			      cJSON_IsString(m) ? m->valuestring : "?");

		free(text);
		text = next;
	}
	return text;
}
