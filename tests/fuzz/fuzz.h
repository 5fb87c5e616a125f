/*
 * What every fuzz target shares: libFuzzer's entry point, declared (the
 * project builds with -Wmissing-prototypes), and a NUL-terminated copy
 * of an input for the parsers that read C strings.
 */
#ifndef RFTD_FUZZ_H
#define RFTD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A malloc'd copy of data with a '\0' after it; abort on out of memory. */
static inline char *
fuzz_cstring(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
