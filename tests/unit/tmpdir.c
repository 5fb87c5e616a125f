/* Temporary directories for unit tests (see tmpdir.h). */
#include "tmpdir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

int
tmpdir_make(char *buf, size_t len, const char *name)
{
	if ((size_t)snprintf(buf, len, "/tmp/rftd-test-%s-XXXXXX", name) >= len)
		return -1;
	return mkdtemp(buf) != NULL ? 0 : -1;
}

static int
remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

int
tmpdir_remove(const char *dir)
{
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
