/*
 * rftd.conf as an administrator writes it.  config_load() reads a path,
 * so each input is written to one temporary file made once per run.
 */
#include "config.h"
#include "fuzz.h"

#include <stdio.h>
#include <unistd.h>

static char path[] = "/tmp/rftd-fuzz-config.XXXXXX";
static int fd = -1;

static void
remove_file(void)
{
	unlink(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg = {0};
	char *errors = NULL;

	if (fd < 0) {
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		atexit(remove_file);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (config_load(&cfg, path, true, &errors) == 0) {
		FILE *out = fopen("/dev/null", "w");

		if (out != NULL) {
			config_print(&cfg, out);
			fclose(out);
		}
	}
	free(errors);
	config_free(&cfg);
	return 0;
}
