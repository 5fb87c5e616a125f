/*
 * A process backend's command template filled with a trial's values.
 * The input is the template, then a NUL, then the value every
 * placeholder gets; a placeholder named "missing" has none.
 */
#include "cmdline.h"
#include "fuzz.h"

#include <stdbool.h>

static bool
lookup(void *arg, const char *name, char *buf, size_t len, const char **text)
{
	(void)buf;
	(void)len;
	if (strcmp(name, "missing") == 0)
		return false;
	*text = arg;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *input = fuzz_cstring(data, size), *line, err[256];
	size_t tlen = strlen(input);
	const char *value = tlen < size ? input + tlen + 1 : "";

	line = cmdline_fill(input, lookup, (void *)value, err, sizeof(err));
	free(line);
	free(input);
	return 0;
}
