/* Default file locations (see paths.h). */
#include "paths.h"

#include "util.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The first entry of a systemd directory list ("a:b" -> "a"), or NULL. */
static char *
first_dir(const char *env)
{
	const char *v = getenv(env);

	if (v == NULL || *v == '\0')
		return NULL;
	return strndup(v, strcspn(v, ":"));
}

static const char *
home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home != NULL && *home != '\0')
		return home;
	pw = getpwuid(getuid());
	return pw != NULL ? pw->pw_dir : "/";
}

static char *
xdg_dir(const char *env, const char *fallback_under_home)
{
	const char *v = getenv(env);

	if (v != NULL && v[0] == '/')
		return xstrdup(v);
	return xasprintf("%s/%s", home_dir(), fallback_under_home);
}

char *
paths_default_socket(void)
{
	char *dir = first_dir("RUNTIME_DIRECTORY");
	const char *xdg;
	char *path;

	if (dir != NULL) {
		path = xasprintf("%s/control.sock", dir);
		free(dir);
		return path;
	}
	xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/rftd/control.sock", xdg);
	if (getuid() == 0)
		return xstrdup(PATHS_SYSTEM_SOCKET);
	return xasprintf("/tmp/rftd-%u/control.sock", (unsigned)getuid());
}

char *
paths_default_database(void)
{
	char *dir = first_dir("STATE_DIRECTORY");
	char *path;

	if (dir == NULL) {
		char *state = xdg_dir("XDG_STATE_HOME", ".local/state");

		path = xasprintf("%s/rftd/rftd.db", state);
		free(state);
		return path;
	}
	path = xasprintf("%s/rftd.db", dir);
	free(dir);
	return path;
}

char *
paths_default_config(void)
{
	char *conf, *path;

	if (getuid() == 0)
		return xstrdup("/etc/rftd/rftd.conf");
	conf = xdg_dir("XDG_CONFIG_HOME", ".config");
	path = xasprintf("%s/rftd/rftd.conf", conf);
	free(conf);
	return path;
}
