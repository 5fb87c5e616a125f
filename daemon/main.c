/*
 * rftd: arguments, start-up and the loop (the reload and the orderly
 * shutdown are in daemon.c).  Start-up failures (configuration, database,
 * socket) are fatal before the daemon reports ready; after that, failures
 * are per request.
 */
#include "backend.h"
#include "control.h"
#include "daemon.h"
#include "dashboard.h"
#include "datasets.h"
#include "log.h"
#include "meter.h"
#include "notifier.h"
#include "notify.h"
#include "paths.h"
#include "scheduler.h"
#include "store.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The options; exits with `status` (0 for -h, on stdout; else stderr). */
static void
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
		"usage: rftd [-fhnvV] [-c file]\n"
		"  -c file  configuration file (default: %s)\n"
		"  -f       stay in the foreground\n"
		"  -h       print this help and exit (also --help)\n"
		"  -n       check the configuration, print it "
		"normalized, exit\n"
		"  -v       log debug messages\n"
		"  -V       print the version and exit (also --version)\n",
		"/etc/rftd/rftd.conf or ~/.config/rftd/rftd.conf");
	exit(status);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	char *errors = NULL, changed[256];

	if (signum == SIGHUP) {
		log_info("SIGHUP: reloading %s", d->config_path);
		daemon_reload(d, &errors, changed, sizeof(changed));
		free(errors);
		return;
	}
	log_info("%s received", signum == SIGINT ? "SIGINT" : "SIGTERM");
	daemon_stop(d);
}

static void
watch_signal(struct daemon *d, uv_signal_t *h, int signum)
{
	uv_signal_init(&d->loop, h);
	h->data = d;
	uv_signal_start(h, on_signal, signum);
}

/*
 * Detaches from the terminal.  The parent waits until the child reports
 * ready (a byte on the pipe) so that start-up errors still fail the
 * command that started rftd.  Returns the pipe's write end in the child.
 */
static int
daemonize(void)
{
	int fds[2];
	pid_t pid;
	char ok;

	if (pipe(fds) != 0)
		fatal("pipe");
	pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid > 0) {
		close(fds[1]);
		exit(read(fds[0], &ok, 1) == 1 ? 0 : 1);
	}
	close(fds[0]);
	if (setsid() < 0)
		fatal("setsid");
	if (chdir("/") != 0)
		fatal("chdir /");
	return fds[1];
}

static void
detached(int ready_fd)
{
	int null = open("/dev/null", O_RDWR);

	log_to_syslog("rftd");
	if (write(ready_fd, "R", 1) != 1)
		log_warn("telling the parent we are ready");
	close(ready_fd);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
}

/*
 * The service manager's view: STATUS= with job counts, and WATCHDOG=1
 * while the loop is healthy (the scheduler ticked recently).  One timer
 * does both, at half the watchdog interval or every five seconds.
 */
static void
on_service_timer(uv_timer_t *t)
{
	struct daemon *d = t->data;
	struct store_summary sum;
	char msg[256];
	uint64_t since = now_mono_ns() - scheduler_last_tick_ns(d->sched);

	if (store_summary(d->store, &sum) == 0) {
		snprintf(msg, sizeof(msg),
			 "STATUS=%d jobs live, %d trials waiting, %d sweeps "
			 "running",
			 sum.live_jobs, sum.pending_trials, sum.running_sweeps);
		notify_send(msg);
	}
	if (d->watchdog_usec > 0 &&
	    since <
		d->watchdog_usec * 1000 + (uint64_t)d->cfg.tick_ms * 1000000)
		notify_send("WATCHDOG=1");
}

static void
service_start(struct daemon *d)
{
	uint64_t every_ms = 5000;

	d->watchdog_usec = notify_watchdog_usec();
	if (d->watchdog_usec > 0 && d->watchdog_usec / 2000 < every_ms)
		every_ms =
		    d->watchdog_usec / 2000 ? d->watchdog_usec / 2000 : 1;
	uv_timer_init(&d->loop, &d->service_timer);
	d->service_timer.data = d;
	notify_send("READY=1\nSTATUS=ready");
	on_service_timer(&d->service_timer);
	uv_timer_start(&d->service_timer, on_service_timer, every_ms, every_ms);
}

/*
 * One rftd per database: a write lock (fcntl) on DATABASE.lock, held until
 * the process exits.  The kernel drops it when its holder dies, so a lock
 * file left by a crash blocks no restart, and it names its holder's pid.
 * Taken after daemonize() (such a lock does not pass a fork) and before
 * the socket, so that a second rftd touches neither the first one's socket
 * nor the database.  Returns the descriptor to keep open, or -1 with a
 * sentence in `err`.
 */
static int
lock_database(const char *database, char *err, size_t errlen)
{
	struct flock want = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	/* Another spelling of the same database must meet the same lock. */
	char *real = realpath(database, NULL);
	char *path = xasprintf("%s.lock", real != NULL ? real : database);
	char pid[32];
	int fd = -1, len, rc;

	rc = mkdir_parent(path, 0700);
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot create its directory: %s",
			 database, strerror(-rc));
		goto fail;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open its lock file %s: %s",
			 database, path, strerror(errno));
		goto fail;
	}
	for (int tries = 1; fcntl(fd, F_SETLK, &want) != 0; tries++) {
		struct flock who = want;

		if ((errno != EACCES && errno != EAGAIN) ||
		    fcntl(fd, F_GETLK, &who) != 0) {
			snprintf(err, errlen, "%s: cannot lock it: %s", path,
				 strerror(errno));
			goto fail;
		}
		if (who.l_type != F_UNLCK && who.l_pid > 0) {
			snprintf(err, errlen,
				 "the database %s is in use by another rftd "
				 "(pid %d)",
				 database, (int)who.l_pid);
			goto fail;
		}
		/* Released in between, or held from another pid namespace. */
		if (tries == 3) {
			snprintf(err, errlen,
				 "the database %s is in use by another rftd",
				 database);
			goto fail;
		}
	}
	/* For people reading the file; the kernel's answer is what counts. */
	len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
		log_warn("%s: writing the pid", path);
	free(path);
	free(real);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	free(path);
	free(real);
	return -1;
}

static void
print_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	log_err("handle still open at exit: %s", uv_handle_type_name(h->type));
}

static const struct option longopts[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

int
main(int argc, char **argv)
{
	struct daemon d = {0};
	bool check = false, foreground = false, verbose = false;
	char *default_config = NULL, *config_real = NULL, *errors = NULL;
	char err[1024];
	int ready_fd = -1, lock_fd = -1, passed_fd, ch, rc, status = 1;
	bool failed = false;
	bool curl_up = false;

	while ((ch = getopt_long(argc, argv, "c:fhnvV", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'c':
			d.config_path = optarg;
			d.config_must_exist = true;
			break;
		case 'f':
			foreground = true;
			break;
		case 'n':
			check = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(0);
			break;
		case 'V':
			printf("rftd %s\n", RFTD_VERSION);
			return 0;
		default:
			usage(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "rftd: unexpected argument '%s'\n",
			argv[optind]);
		usage(2);
	}

	log_init_env(verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	if (d.config_path == NULL)
		d.config_path = default_config = paths_default_config();
	/* The daemon leaves its directory; reloads need an absolute path. */
	config_real = realpath(d.config_path, NULL);
	if (config_real != NULL)
		d.config_path = config_real;
	if (config_load(&d.cfg, d.config_path, d.config_must_exist, &errors) !=
	    0) {
		fputs(errors, stderr);
		fprintf(stderr, "rftd: the configuration has errors\n");
		goto out;
	}
	d.verbose = verbose;
	if (verbose)
		d.cfg.log_level = LOG_LVL_DEBUG;
	if (check) {
		config_print(&d.cfg, stdout);
		status = 0;
		goto out;
	}
	/* Before anything is created: a key that cannot be read is a
	 * configuration error. */
	if (backends_check_host(&d.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "rftd: %s\n", err);
		goto out;
	}
	log_set_level(d.cfg.log_level);
	signal(SIGPIPE, SIG_IGN);
	/* A file size limit (LimitFSIZE=) makes writes fail with EFBIG, as a
	 * full disk does, instead of killing the daemon mid-commit. */
	signal(SIGXFSZ, SIG_IGN);
	if (!foreground)
		ready_fd = daemonize();
	lock_fd = lock_database(d.cfg.database_path, err, sizeof(err));
	if (lock_fd < 0) {
		log_err("%s", err);
		goto out;
	}

	/* Once, before any thread or transfer (libcurl's rule). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	curl_up = true;
	rc = uv_loop_init(&d.loop);
	if (rc != 0)
		fatalx("uv_loop_init: %s", uv_strerror(rc));
	err[0] = '\0';
	passed_fd = notify_listen_fd(err, sizeof(err));
	if (passed_fd == -EINVAL)
		fatalx("%s", err);
	if (passed_fd >= 0 && err[0] != '\0')
		log_warnx("socket activation: %s", err);
	if (passed_fd >= 0)
		d.control = control_open_fd(
		    &d, passed_fd,
		    d.cfg.socket_group ? d.cfg.socket_gid : (gid_t)-1, err,
		    sizeof(err));
	else
		d.control = control_open(&d, d.cfg.socket_path,
					 d.cfg.socket_group ? d.cfg.socket_gid
							    : (gid_t)-1,
					 err, sizeof(err));
	if (d.control == NULL) {
		log_err("%s", err);
		uv_run(&d.loop, UV_RUN_DEFAULT);
		uv_loop_close(&d.loop);
		goto out;
	}
	/* After the socket: an rftd that shares only the socket with a
	 * running one stops before creating or migrating its store. */
	d.store = store_open(d.cfg.database_path, err, sizeof(err));
	if (d.store == NULL) {
		log_err("%s", err);
		control_close(d.control);
		uv_run(&d.loop, UV_RUN_DEFAULT);
		uv_loop_close(&d.loop);
		goto out;
	}
	control_set_limits(d.control, d.cfg.idle_timeout, d.cfg.max_clients);
	d.datasets = dataset_cache_new(&d.loop);
	backends_init(&d);
	meter_init(&d);
	d.sched = scheduler_new(&d);
	scheduler_configure(d.sched, d.cfg.tick_ms);
	watch_signal(&d, &d.sig_int, SIGINT);
	watch_signal(&d, &d.sig_term, SIGTERM);
	watch_signal(&d, &d.sig_hup, SIGHUP);
	d.started_at = now_wall();
	d.started_mono = now_mono_ns();
	/* Last, once everything they read is up.  A dashboard asked for and
	 * not served stops rftd, and its parent or manager hears of it. */
	if (notifier_open(&d, err, sizeof(err)) != 0 ||
	    dashboard_open(&d, err, sizeof(err)) != 0) {
		log_err("%s", err);
		uv_timer_init(&d.loop, &d.service_timer); /* daemon_stop's */
		daemon_stop(&d);
		failed = true;
	} else {
		log_info("rftd %s ready: pid %d, database %s (schema %d), "
			 "socket %s",
			 RFTD_VERSION, (int)getpid(), store_path(d.store),
			 store_schema_version(d.store),
			 control_path(d.control)
			     ? control_path(d.control)
			     : "(passed by the service manager)");
		if (ready_fd >= 0)
			detached(ready_fd);
		service_start(&d);
	}

	uv_run(&d.loop, UV_RUN_DEFAULT);

	rc = uv_loop_close(&d.loop);
	if (rc != 0) {
		uv_walk(&d.loop, print_handle, NULL);
		log_err("event loop not empty at exit: %s", uv_strerror(rc));
	}
	dashboard_free(&d);
	notifier_free(&d);
	backends_free(&d);
	meter_free(&d);
	dataset_cache_free(d.datasets);
	store_close(d.store);
	log_info("rftd stopped");
	status = rc == 0 && !failed ? 0 : 1;
out:
	/* Every exit frees what start-up took, so that a leak checker
	 * reports only real leaks.  The lock goes after the store: the next
	 * rftd finds the store closed. */
	if (lock_fd >= 0)
		close(lock_fd);
	if (curl_up)
		curl_global_cleanup();
	config_free(&d.cfg);
	free(errors);
	free(default_config);
	free(config_real);
	return status;
}
