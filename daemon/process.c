/*
 * The process backend: one job is one run of a trainer the user names by
 * a command line, on this machine (launcher local) or on a Slurm cluster
 * (launcher slurm).  docs/process-backend.md is the run's side of the
 * contract; this file is rftd's side.
 *
 * Each job has a directory, WORKDIR/<sweep id>-<sweep>/<trial>-<attempt>,
 * which is also its remote id.  rftd writes in it:
 *   trial.json   what the trial asks for (RFTD_TRIAL)
 *   command.sh   the command line, its {placeholders} filled in
 *   run.sh       the wrapper: runs command.sh, then writes `exit`
 *   run.json     rftd's record of the run: when it was launched (written
 *                before the launch: the intent), the wrapper's pid and
 *                start time or the Slurm job id, the seconds billed
 *   stop         why rftd stopped it (cancel or pause), before it signals
 * and the run writes stdout, stderr, metrics.jsonl, checkpoints/, pid and
 * exit.  WORKDIR/.intents/<intent key> links to the directory, so that a
 * job whose launch outcome is unknown is found again, never launched
 * twice.
 *
 * Everything that may block (reading metrics, running sbatch, squeue,
 * sacct or scancel) runs on libuv's thread pool; the loop thread only
 * writes the job's small files and starts local runs.
 */
#include "backend.h"

#include "cmdline.h"
#include "config.h"
#include "jsonutil.h"
#include "log.h"
#include "metrics.h"
#include "slurm.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define TAIL_BYTES	2048  /* of stderr, shown for a failed run */
#define COMMAND_TIMEOUT 120.0 /* seconds a Slurm command may take */
#define COMMAND_OUT_MAX (64u << 20)
#define LAUNCH_GRACE	30.0 /* seconds a launched wrapper has to say its pid */
#define PJOB_BUCKETS	1024 /* hash chains of runs held */
#define ABSENT_PROOF	60.0 /* seconds Slurm shows no job before it is none */

/* --- configuration -------------------------------------------------------- */

struct process_config {
	char *launcher;	      /* local | slurm */
	char *command;	      /* the trainer's command line */
	char *workdir;	      /* where job directories go */
	unsigned int gpus;    /* gpus_per_job */
	char *gpu_list;	      /* local: the GPUs runs share out, "0,1,2,3" */
	char *metrics_format; /* rftd | verl | trl */
	double stop_grace;    /* seconds from SIGTERM to SIGKILL */
	double poll_interval; /* seconds between two polls of a run */
	char *sbatch_args;    /* more sbatch options, split at blanks */
	char *sbatch, *squeue, *sacct, *scancel; /* the commands */
};

static const char *const launchers[] = {"local", "slurm", NULL};
static const char *const formats[] = {"rftd", "verl", "trl", NULL};

#define PC(field) offsetof(struct process_config, field)

static const struct config_option process_options[] = {
    {"launcher", CONFIG_CHOICE, PC(launcher), 0, 0, false,
     "local: each run a process group on this machine; slurm: each run a "
     "batch job (sbatch)",
     "local", launchers},
    {"command", CONFIG_STRING, PC(command), 0, 0, true,
     "the trainer's command line, run by /bin/sh in the job directory; "
     "{name} is the trial's hyperparameter (or seed, model, "
     "training_file, validation_file, grader, trial, sweep), "
     "shell-quoted"},
    {"workdir", CONFIG_PATH, PC(workdir), 0, 0, false,
     "each job gets WORKDIR/<sweep id>-<sweep>/<trial>-<attempt>/ (on "
     "Slurm: a directory every node sees)"},
    {"gpus_per_job", CONFIG_UINT, PC(gpus), 0, 1024, true,
     "GPUs a run holds: its price is gpus_per_job x hours x per_gpu_hour; "
     "on Slurm, --gres=gpu:N",
     "1"},
    {"gpus", CONFIG_STRING, PC(gpu_list), 0, 0, false,
     "local: this machine's GPUs to share out (\"0,1,2,3\"): each run gets "
     "gpus_per_job of its own in CUDA_VISIBLE_DEVICES; unset: runs see "
     "every GPU"},
    {"metrics_format", CONFIG_CHOICE, PC(metrics_format), 0, 0, true,
     "rftd: {\"step\", \"metrics\"} lines in $RFTD_METRICS; verl: its file "
     "logger at $RFTD_METRICS; trl: trainer_state.json of the checkpoints "
     "in $RFTD_CHECKPOINT_DIR",
     "rftd", formats},
    {"stop_grace", CONFIG_DURATION, PC(stop_grace), 0, 86400, true,
     "how long a run has after SIGTERM (cancel, pause) before SIGKILL", "30s"},
    {"poll_interval", CONFIG_DOUBLE, PC(poll_interval), 0.05, 3600, true,
     "seconds between two looks at a run (its state, its new metrics)", "2"},
    {"sbatch_args", CONFIG_STRING, PC(sbatch_args), 0, 0, true,
     "slurm: more sbatch options, separated by blanks (--partition=gpu "
     "--time=4:00:00)"},
    {"sbatch", CONFIG_STRING, PC(sbatch), 0, 0, true,
     "slurm: the sbatch command", "sbatch"},
    {"squeue", CONFIG_STRING, PC(squeue), 0, 0, true,
     "slurm: the squeue command", "squeue"},
    {"sacct", CONFIG_STRING, PC(sacct), 0, 0, true, "slurm: the sacct command",
     "sacct"},
    {"scancel", CONFIG_STRING, PC(scancel), 0, 0, true,
     "slurm: the scancel command", "scancel"},
};

/* --- state ---------------------------------------------------------------- */

/* A Slurm squeue answer, shared by the polls of one round. */
struct snapshot {
	int refs;
	double taken; /* monotonic seconds */
	int rc;	      /* 0, or -EAGAIN: the controller did not answer */
	char error[256];
	struct slurm_job *jobs;
	size_t n;
};

struct pjob;

struct proc {
	struct backend *be;
	const struct backend_env *env;
	bool slurm;
	char *command;
	char *workdir;
	enum metrics_format format;
	double stop_grace;
	unsigned int gpus;
	char **sbatch_args; /* NULL-terminated */
	char **gpu_ids;	    /* local: GPUs to share out; NULL: none */
	char *sbatch, *squeue, *sacct, *scancel;
	/* The runs rftd holds something for (a child, a kill timer, what it
	 * knows of their checkpoints), by remote id: every live job's is
	 * asked for at each tick (can_pause). */
	struct pjob *jobs[PJOB_BUCKETS];
	struct snapshot *snap;
	bool snapping;		  /* an squeue is under way */
	struct pollwork *waiting; /* polls waiting for it */
	bool closing;
};

/* A run that rftd holds loop handles for: a local child, a kill timer. */
struct pjob {
	struct pjob *next;
	struct proc *p;
	char *rel; /* the remote id */
	uv_process_t child;
	bool child_open;
	uv_timer_t grace;
	bool grace_open;
	int checkpointed;  /* a checkpoint exists: 1, 0, or -1 unknown */
	int grace_segment; /* the run segment the grace timer is for */
	bool released;	   /* off the list: freed when its handles close */
	bool ended;	   /* a poll found the run ended */
};

/* What run.json says. */
struct run_state {
	double launched_at;  /* 0: no launch yet */
	int64_t pid;	     /* local: the wrapper; 0 unknown */
	uint64_t start;	     /* its start time, clock ticks after boot */
	int64_t slurm_id;    /* slurm: the batch job; 0 unknown */
	double started_at;   /* local: when this segment began */
	double billed;	     /* seconds of the segments that ended */
	int segment;	     /* 1 for the first run, +1 per resume */
	double absent_since; /* slurm: an unknown sbatch's job not seen since */
	double segment_seconds; /* the segment that ended (paused): its time */
};

static char *
job_path(const struct proc *p, const char *rel, const char *file)
{
	return file ? xasprintf("%s/%s/%s", p->workdir, rel, file)
		    : xasprintf("%s/%s", p->workdir, rel);
}

/* Reads a small file whole (NUL-terminated); NULL when it cannot. */
static char *
read_small(const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > max) {
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size &&
	       (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return buf;
}

/* Writes a small file atomically (a temporary, then rename). */
static int
write_atomic(const char *path, const char *text, mode_t mode)
{
	char *tmp = xasprintf("%s.tmp", path);
	size_t len = strlen(text), done = 0;
	int fd, rc = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = -errno;
		free(tmp);
		return rc;
	}
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0) {
			rc = -errno;
			break;
		}
		done += (size_t)n;
	}
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

static void
run_state_read(const struct proc *p, const char *rel, struct run_state *rs)
{
	char *path = job_path(p, rel, "run.json"), *text;
	cJSON *j;

	memset(rs, 0, sizeof(*rs));
	text = read_small(path, 1 << 16);
	free(path);
	if (text == NULL)
		return;
	j = cJSON_Parse(text);
	free(text);
	rs->launched_at = json_number(j, "launched_at", 0);
	rs->pid = (int64_t)json_number(j, "pid", 0);
	rs->start = (uint64_t)json_number(j, "start", 0);
	rs->slurm_id = (int64_t)json_number(j, "slurm_job_id", 0);
	rs->started_at = json_number(j, "started_at", 0);
	rs->billed = json_number(j, "billed_seconds", 0);
	rs->segment = (int)json_number(j, "segment", 0);
	rs->absent_since = json_number(j, "absent_since", 0);
	rs->segment_seconds = json_number(j, "segment_seconds", 0);
	cJSON_Delete(j);
}

static int
run_state_write(const struct proc *p, const char *rel,
		const struct run_state *rs)
{
	cJSON *j = cJSON_CreateObject();
	char *path = job_path(p, rel, "run.json"), *text;
	int rc;

	cJSON_AddStringToObject(j, "launcher", p->slurm ? "slurm" : "local");
	cJSON_AddNumberToObject(j, "launched_at", rs->launched_at);
	if (rs->pid > 0) {
		cJSON_AddNumberToObject(j, "pid", (double)rs->pid);
		cJSON_AddNumberToObject(j, "start", (double)rs->start);
	}
	if (rs->slurm_id > 0)
		cJSON_AddNumberToObject(j, "slurm_job_id",
					(double)rs->slurm_id);
	cJSON_AddNumberToObject(j, "started_at", rs->started_at);
	cJSON_AddNumberToObject(j, "billed_seconds", rs->billed);
	cJSON_AddNumberToObject(j, "segment", rs->segment);
	if (rs->absent_since > 0)
		cJSON_AddNumberToObject(j, "absent_since", rs->absent_since);
	if (rs->segment_seconds > 0)
		cJSON_AddNumberToObject(j, "segment_seconds",
					rs->segment_seconds);
	text = cJSON_Print(j);
	rc = write_atomic(path, text, 0644);
	free(text);
	free(path);
	cJSON_Delete(j);
	return rc;
}

/*
 * The start time of process `pid` (field 22 of /proc/PID/stat), or 0
 * when there is no such process or it is a zombie.
 */
static uint64_t
proc_start(int64_t pid)
{
	char path[64], buf[1024], *close_paren, state;
	unsigned long long start = 0;
	int fd;
	ssize_t n;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The name may hold blanks and parentheses: fields follow the last
	 * ')'. */
	close_paren = strrchr(buf, ')');
	if (close_paren == NULL ||
	    sscanf(close_paren + 1,
		   " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d "
		   "%*d %*d %*d %*d %*d %llu",
		   &state, &start) != 2 ||
	    state == 'Z' || state == 'X')
		return 0;
	return start;
}

/* Whether the run's wrapper still lives (the same process, not a reuse
 * of its pid). */
static bool
wrapper_alive(const struct run_state *rs)
{
	return rs->pid > 0 && rs->start > 0 && proc_start(rs->pid) == rs->start;
}

/* --- the command line ----------------------------------------------------- */

/* Appends `s` to the growing string *buf. */
static void
append(char **buf, size_t *len, const char *s, size_t n)
{
	*buf = xrealloc(*buf, *len + n + 1);
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/*
 * The value of placeholder `name` for `job`, as text (a string as it is,
 * a number as JSON writes it); false when the trial has none.
 */
static bool
placeholder_value(void *arg, const char *name, char *buf, size_t len,
		  const char **text)
{
	const struct backend_job *job = arg;
	const cJSON *v =
	    cJSON_GetObjectItemCaseSensitive(job->hyperparameters, name);

	*text = buf;
	if (cJSON_IsString(v)) {
		*text = v->valuestring;
	} else if (cJSON_IsNumber(v)) {
		json_print_number(buf, len, v->valuedouble);
	} else if (cJSON_IsBool(v)) {
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	} else if (v != NULL) {
		return false;
	} else if (strcmp(name, "seed") == 0 && job->has_seed) {
		snprintf(buf, len, "%lld", (long long)job->seed);
	} else if (strcmp(name, "model") == 0 && job->model != NULL) {
		*text = job->model;
	} else if (strcmp(name, "training_file") == 0 &&
		   job->training_file != NULL) {
		*text = job->training_file;
	} else if (strcmp(name, "validation_file") == 0 &&
		   job->validation_file != NULL) {
		*text = job->validation_file;
	} else if (strcmp(name, "grader") == 0 && job->grader_name != NULL) {
		*text = job->grader_name;
	} else if (strcmp(name, "trial") == 0) {
		snprintf(buf, len, "%lld", (long long)job->trial_id);
	} else if (strcmp(name, "sweep") == 0 && job->sweep_name != NULL) {
		*text = job->sweep_name;
	} else {
		return false;
	}
	return true;
}

/* The command line of `job`, or NULL with `err` saying why. */
static char *
fill_command(const char *command, const struct backend_job *job, char *err,
	     size_t errlen)
{
	return cmdline_fill(command, placeholder_value, (void *)job, err,
			    errlen);
}

/* --- running commands (thread pool only) ---------------------------------- */

struct cmd_result {
	int status; /* wait status; -1: it could not run, timed out, or said
		       more than COMMAND_OUT_MAX */
	char *out;  /* stdout, NUL-terminated */
	size_t out_len;
	char err[1024]; /* the end of stderr, or why it did not run */
};

/*
 * Runs argv (from PATH) with `envp`, collecting its output, for at most
 * COMMAND_TIMEOUT seconds.  Blocking: for worker threads.
 */
static void
cmd_run(char *const argv[], char *const envp[], struct cmd_result *r)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t defaults;
	int out[2] = {-1, -1}, er[2] = {-1, -1}, rc;
	double deadline = now_mono_s() + COMMAND_TIMEOUT;
	size_t err_len = 0;
	bool too_much = false;
	pid_t pid;
	char ebuf[4096];

	memset(r, 0, sizeof(*r));
	r->status = -1;
	r->out = xstrdup("");
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(er, O_CLOEXEC) != 0) {
		snprintf(r->err, sizeof(r->err), "pipe: %s", strerror(errno));
		goto out;
	}
	/* rftd ignores SIGPIPE and SIGXFSZ; a command must not inherit that. */
	posix_spawnattr_init(&attr);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGXFSZ);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, er[1], 2);
	rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv,
			  envp ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(out[1]);
	close(er[1]);
	out[1] = er[1] = -1;
	if (rc != 0) {
		snprintf(r->err, sizeof(r->err), "cannot run %s: %s", argv[0],
			 strerror(rc));
		goto out;
	}
	for (int open_fds = 2; open_fds > 0;) {
		struct pollfd pf[2] = {{out[0], POLLIN, 0}, {er[0], POLLIN, 0}};
		double left = deadline - now_mono_s();

		if (left <= 0) {
			kill(pid, SIGKILL);
			snprintf(r->err, sizeof(r->err),
				 "%s took more than %.0f s", argv[0],
				 COMMAND_TIMEOUT);
			waitpid(pid, NULL, 0);
			r->status = -1;
			goto out;
		}
		if (poll(pf, 2, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (pf[i].fd < 0 ||
			    !(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(pf[i].fd, ebuf, sizeof(ebuf));
			if (n <= 0) {
				close(i == 0 ? out[0] : er[0]);
				if (i == 0)
					out[0] = -1;
				else
					er[0] = -1;
				open_fds--;
				continue;
			}
			if (i == 0 && r->out_len + (size_t)n > COMMAND_OUT_MAX)
				too_much = true;
			else if (i == 0)
				append(&r->out, &r->out_len, ebuf, (size_t)n);
			if (i == 1) {
				/* Keep the end: the last words matter. */
				size_t keep = sizeof(r->err) - 1;
				size_t take =
				    (size_t)n > keep ? keep : (size_t)n;

				if (err_len + take > keep) {
					size_t drop = err_len + take - keep;

					memmove(r->err, r->err + drop,
						err_len - drop);
					err_len -= drop;
				}
				memcpy(r->err + err_len, ebuf + n - take, take);
				err_len += take;
				r->err[err_len] = '\0';
			}
		}
	}
	while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR)
		;
	if (too_much) {
		r->status = -1;
		snprintf(r->err, sizeof(r->err),
			 "%s said more than %u MiB; its answer is not read",
			 argv[0], COMMAND_OUT_MAX >> 20);
	}
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (er[i] >= 0)
			close(er[i]);
	}
	/* One line: the message, not its layout. */
	for (char *c = r->err; *c != '\0'; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
}

/* "CMD: what it said", said once (Slurm's commands name themselves). */
static void
cmd_error(const char *cmd, const struct cmd_result *r, char *buf, size_t len)
{
	const char *base = strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd;
	size_t n = strlen(base);
	const char *said = r->err[0] ? r->err : "failed";

	if (strncmp(said, base, n) == 0 && said[n] == ':')
		snprintf(buf, len, "%.960s", said);
	else
		snprintf(buf, len, "%s: %.900s", base, said);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
}

static void
cmd_result_free(struct cmd_result *r)
{
	free(r->out);
	r->out = NULL;
}

/* --- the job directory ---------------------------------------------------- */

/* A name safe as one path component: [A-Za-z0-9._-], at most 64. */
static void
safe_component(const char *name, char *buf, size_t len)
{
	size_t n = 0;

	for (const char *c = name ? name : "";
	     *c != '\0' && n + 1 < len && n < 64; c++)
		buf[n++] = (isalnum((unsigned char)*c) || *c == '.' ||
			    *c == '-' || *c == '_')
			       ? *c
			       : '_';
	buf[n] = '\0';
	if (n == 0 || buf[0] == '.')
		snprintf(buf, len, "sweep");
}

static const char wrapper[] =
    "#!/bin/sh\n"
    "# rftd's wrapper: runs command.sh in the job directory and writes how\n"
    "# it ended to ./exit.  A stop signal reaches the whole process group;\n"
    "# this shell waits for the command to end before it records it.\n"
    "cd \"$RFTD_JOB_DIR\" || exit 125\n"
    "echo $$ > pid.tmp && mv -f pid.tmp pid\n"
    "trap : TERM INT HUP\n"
    "rm -f exit\n"
    "/bin/sh ./command.sh </dev/null >>stdout 2>>stderr\n"
    "status=$?\n"
    "printf '{\"status\": %d}\\n' \"$status\" > exit.tmp && "
    "mv -f exit.tmp exit\n"
    "# What the command left behind in its group goes with it.\n"
    "[ \"$RFTD_LAUNCHER\" = local ] && kill -KILL 0\n"
    "exit \"$status\"\n";

static cJSON *
trial_json(const struct backend_job *job)
{
	cJSON *t = cJSON_CreateObject();

	cJSON_AddStringToObject(t, "intent", job->intent_key);
	cJSON_AddStringToObject(t, "sweep", job->sweep_name);
	cJSON_AddNumberToObject(t, "sweep_id", (double)job->sweep_id);
	cJSON_AddNumberToObject(t, "trial", (double)job->trial_id);
	cJSON_AddNumberToObject(t, "attempt", job->attempt);
	cJSON_AddStringToObject(t, "model", job->model);
	cJSON_AddStringToObject(t, "training_file", job->training_file);
	if (job->validation_file != NULL)
		cJSON_AddStringToObject(t, "validation_file",
					job->validation_file);
	else
		cJSON_AddNullToObject(t, "validation_file");
	cJSON_AddItemToObject(t, "hyperparameters",
			      cJSON_Duplicate(job->hyperparameters, 1));
	if (job->has_seed)
		cJSON_AddNumberToObject(t, "seed", (double)job->seed);
	else
		cJSON_AddNullToObject(t, "seed");
	cJSON_AddStringToObject(t, "grader_name", job->grader_name);
	cJSON_AddItemToObject(t, "grader", cJSON_Duplicate(job->grader, 1));
	return t;
}

static char *gpus_take(struct proc *p, const char *rel);
static void gpus_release(struct proc *p, const char *rel);

/* What a run writes about itself, left from an earlier launch. */
static const char *const run_files[] = {"pid", "exit", "stop"};

/*
 * Makes the job's directory and its files, and the intent's link.
 * Returns 0, -EEXIST when this intent was launched before (*rel is then
 * its directory), or a negative errno with `err` saying what failed.
 */
static int
prepare_dir(struct proc *p, const struct backend_job *job, char **rel,
	    char *err, size_t errlen)
{
	char sweep[80], *dir, *path, *text, *command, *link_path, target[4096];
	struct run_state rs = {0};
	ssize_t n;
	int rc;
	cJSON *t;

	command = fill_command(p->command, job, err, errlen);
	if (command == NULL)
		return -EINVAL;
	link_path = xasprintf("%s/.intents/%s", p->workdir, job->intent_key);
	n = readlink(link_path, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		*rel = xstrdup(target);
		free(link_path);
		free(command);
		return -EEXIST;
	}
	safe_component(job->sweep_name, sweep, sizeof(sweep));
	*rel = xasprintf("%lld-%s/%lld-%d", (long long)job->sweep_id, sweep,
			 (long long)job->trial_id, job->attempt);
	/* Its GPUs first: without them it waits, nothing written. */
	text = gpus_take(p, *rel);
	if (text == NULL) {
		snprintf(err, errlen,
			 "every GPU of gpus is held by a run; the job starts "
			 "when one ends");
		free(link_path);
		free(command);
		return -EDQUOT;
	}
	free(text);
	dir = job_path(p, *rel, NULL);
	rc = mkdir_p(dir, 0755);
	if (rc == 0) {
		path = job_path(p, *rel, "checkpoints");
		rc = mkdir_p(path, 0755);
		free(path);
	}
	if (rc == 0) {
		t = trial_json(job);
		text = cJSON_Print(t);
		cJSON_Delete(t);
		path = job_path(p, *rel, "trial.json");
		rc = write_atomic(path, text, 0644);
		free(path);
		free(text);
	}
	if (rc == 0) {
		/* A stop signal reaches the whole group: this shell waits for
		 * the command to handle it, then ends, never runs on. */
		text = xasprintf("# job %s of sweep %s, trial %lld\n"
				 "trap 'exit 143' TERM\n"
				 "trap 'exit 130' INT\n"
				 "trap 'exit 129' HUP\n"
				 "%s\n",
				 job->intent_key, job->sweep_name,
				 (long long)job->trial_id, command);
		path = job_path(p, *rel, "command.sh");
		rc = write_atomic(path, text, 0644);
		free(path);
		free(text);
	}
	if (rc == 0) {
		path = job_path(p, *rel, "run.sh");
		rc = write_atomic(path, wrapper, 0755);
		free(path);
	}
	/* What a launch of this directory that never happened left. */
	for (size_t i = 0; rc == 0 && i < ARRAY_LEN(run_files); i++) {
		path = job_path(p, *rel, run_files[i]);
		if (unlink(path) != 0 && errno != ENOENT)
			rc = -errno;
		free(path);
	}
	if (rc == 0) {
		/* The intent: launched, before anything runs. */
		rs.launched_at = now_wall();
		rs.segment = 1;
		rc = run_state_write(p, *rel, &rs);
	}
	if (rc == 0) {
		path = xasprintf("%s/.intents", p->workdir);
		rc = mkdir_p(path, 0755);
		free(path);
	}
	if (rc == 0 && symlink(*rel, link_path) != 0)
		rc = -errno;
	if (rc != 0) {
		snprintf(err, errlen, "cannot prepare the job directory %s: %s",
			 dir, strerror(-rc));
		gpus_release(p, *rel);
	}
	free(dir);
	free(link_path);
	free(command);
	return rc;
}

/* The newest checkpoint in the job's checkpoint directory (by the number
 * in its name), or NULL. */
static char *
newest_checkpoint(const struct proc *p, const char *rel)
{
	char *dir = job_path(p, rel, "checkpoints"), *best = NULL;
	long long best_n = -1;
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		const char *c = e->d_name + strlen(e->d_name);
		long long n;

		if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp") != NULL)
			continue;
		while (c > e->d_name && isdigit((unsigned char)c[-1]))
			c--;
		n = *c ? atoll(c) : 0;
		if (n > best_n) {
			best_n = n;
			free(best);
			best = xasprintf("%s/%s", dir, e->d_name);
		}
	}
	if (d != NULL)
		closedir(d);
	free(dir);
	return best;
}

/* The run's environment: rftd's own, plus the contract's variables. */
static char **
run_env(const struct proc *p, const char *rel, const char *intent,
	const char *resume_from, const char *cuda)
{
	size_t n = 0, k = 0;
	char **env, *dir = job_path(p, rel, NULL);

	while (environ[n] != NULL)
		n++;
	env = xcalloc(n + 11, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "RFTD_", 5) != 0 &&
		    strncmp(environ[i], "VERL_FILE_LOGGER_PATH=", 22) != 0 &&
		    (cuda == NULL || cuda[0] == '\0' ||
		     strncmp(environ[i], "CUDA_VISIBLE_DEVICES=", 21) != 0))
			env[k++] = xstrdup(environ[i]);
	env[k++] = xasprintf("RFTD_JOB_DIR=%s", dir);
	env[k++] = xasprintf("RFTD_TRIAL=%s/trial.json", dir);
	env[k++] = xasprintf("RFTD_METRICS=%s/metrics.jsonl", dir);
	env[k++] = xasprintf("VERL_FILE_LOGGER_PATH=%s/metrics.jsonl", dir);
	env[k++] = xasprintf("RFTD_CHECKPOINT_DIR=%s/checkpoints", dir);
	env[k++] = xasprintf("RFTD_INTENT=%s", intent);
	env[k++] = xasprintf("RFTD_LAUNCHER=%s", p->slurm ? "slurm" : "local");
	if (resume_from != NULL)
		env[k++] = xasprintf("RFTD_RESUME_FROM=%s", resume_from);
	if (cuda != NULL && cuda[0] != '\0')
		env[k++] = xasprintf("CUDA_VISIBLE_DEVICES=%s", cuda);
	env[k] = NULL;
	free(dir);
	return env;
}

static void
strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* --- loop handles of a run ------------------------------------------------ */

static struct pjob **
pjob_chain(struct proc *p, const char *rel)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *c = rel; *c != '\0'; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	return &p->jobs[h % PJOB_BUCKETS];
}

/* The run `rel`, made when `create` and it is not held yet; or NULL. */
static struct pjob *
pjob_find(struct proc *p, const char *rel, bool create)
{
	struct pjob **chain = pjob_chain(p, rel), *pj;

	for (pj = *chain; pj != NULL; pj = pj->next)
		if (strcmp(pj->rel, rel) == 0)
			return pj;
	if (!create)
		return NULL;
	pj = xcalloc(1, sizeof(*pj));
	pj->p = p;
	pj->rel = xstrdup(rel);
	pj->checkpointed = -1;
	pj->next = *chain;
	*chain = pj;
	return pj;
}

static void
pjob_closed(uv_handle_t *h)
{
	struct pjob *pj = h->data;

	if (h == (uv_handle_t *)&pj->child)
		pj->child_open = false;
	else
		pj->grace_open = false;
	if (pj->child_open || pj->grace_open || !pj->released)
		return;
	free(pj->rel);
	free(pj);
}

/* Lets go of a run's handles (it ended, or rftd stops). */
static void
pjob_release(struct pjob *pj)
{
	struct proc *p = pj->p;
	struct pjob **pp;
	bool any = pj->child_open || pj->grace_open;

	pj->released = true;
	for (pp = pjob_chain(p, pj->rel); *pp != NULL; pp = &(*pp)->next)
		if (*pp == pj) {
			*pp = pj->next;
			break;
		}
	if (pj->child_open && !uv_is_closing((uv_handle_t *)&pj->child))
		uv_close((uv_handle_t *)&pj->child, pjob_closed);
	if (pj->grace_open && !uv_is_closing((uv_handle_t *)&pj->grace))
		uv_close((uv_handle_t *)&pj->grace, pjob_closed);
	if (!any) {
		free(pj->rel);
		free(pj);
	}
}

static void
on_child_exit(uv_process_t *h, int64_t status, int sig)
{
	struct pjob *pj = h->data;

	/* The wrapper's ./exit says how the run ended; this only reaps. */
	(void)status;
	(void)sig;
	uv_close((uv_handle_t *)h, pjob_closed);
	if (pj->ended && !pj->grace_open)
		pjob_release(pj);
}

/* Starts the wrapper of a local run; fills rs with its pid and start. */
static int
launch_local(struct proc *p, const char *rel, const char *intent,
	     const char *resume_from, struct run_state *rs, char *err,
	     size_t errlen)
{
	struct pjob *pj = pjob_find(p, rel, true);
	char *dir = job_path(p, rel, NULL), **env, *cuda;
	char *args[] = {"/bin/sh", "run.sh", NULL};
	uv_stdio_container_t stdio[3] = {
	    {.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_IGNORE}};
	uv_process_options_t opt = {0};
	int rc;

	if (pj->child_open) {
		free(dir);
		snprintf(err, errlen, "a run of this job is still going");
		return -EBUSY;
	}
	cuda = gpus_take(p, rel);
	if (cuda == NULL) {
		free(dir);
		snprintf(err, errlen, "every GPU of gpus is held by a run");
		return -EDQUOT;
	}
	env = run_env(p, rel, intent, resume_from, cuda);
	free(cuda);
	opt.file = args[0];
	opt.args = args;
	opt.env = env;
	opt.cwd = dir;
	opt.flags = UV_PROCESS_DETACHED; /* its own session and group */
	opt.stdio = stdio;
	opt.stdio_count = 3;
	opt.exit_cb = on_child_exit;
	pj->child.data = pj;
	rc = uv_spawn(p->env->loop, &pj->child, &opt);
	strv_free(env);
	free(dir);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the run: %s",
			 uv_strerror(rc));
		pj->child_open = true; /* until its close, as libuv wants */
		uv_close((uv_handle_t *)&pj->child, pjob_closed);
		return -EIO;
	}
	pj->child_open = true;
	rs->pid = pj->child.pid;
	rs->start = proc_start(rs->pid);
	rs->started_at = now_wall();
	return 0;
}

/* --- the GPUs of this machine --------------------------------------------
 */

/*
 * With `gpus` set, each GPU is held by at most one local run:
 * WORKDIR/.gpus/<id> is a link to the holder's directory, made before its
 * launch (symlink() is atomic, and the link outlives a restart of rftd)
 * and removed when a poll finds the run ended.  A paused run keeps its
 * GPUs: it counts toward max_concurrent, and it resumes on them.
 */
static char *
gpu_link(const struct proc *p, const char *id)
{
	return xasprintf("%s/.gpus/%s", p->workdir, id);
}

/* Whether GPU `id` is held by the run in `rel`. */
static bool
gpu_held_by(const struct proc *p, const char *id, const char *rel)
{
	char *link = gpu_link(p, id), target[4096];
	ssize_t n = readlink(link, target, sizeof(target) - 1);

	free(link);
	if (n <= 0)
		return false;
	target[n] = '\0';
	return strcmp(target, rel) == 0;
}

static void
gpus_release(struct proc *p, const char *rel)
{
	for (size_t i = 0; p->gpu_ids != NULL && p->gpu_ids[i] != NULL; i++) {
		if (gpu_held_by(p, p->gpu_ids[i], rel)) {
			char *link = gpu_link(p, p->gpu_ids[i]);

			unlink(link);
			free(link);
		}
	}
}

/*
 * Holds gpus_per_job GPUs for the run in `rel` (those it holds already
 * count): returns CUDA_VISIBLE_DEVICES for it (malloc'd), "" without
 * `gpus`, or NULL when too few are free.
 */
static char *
gpus_take(struct proc *p, const char *rel)
{
	char *dir, *list = xstrdup("");
	size_t have = 0, len = 0;

	if (p->gpu_ids == NULL || p->slurm)
		return list;
	dir = xasprintf("%s/.gpus", p->workdir);
	mkdir_p(dir, 0755);
	free(dir);
	for (size_t i = 0; p->gpu_ids[i] != NULL && have < p->gpus; i++) {
		const char *id = p->gpu_ids[i];
		char *link = gpu_link(p, id);
		bool mine = gpu_held_by(p, id, rel) || symlink(rel, link) == 0;

		free(link);
		if (!mine)
			continue;
		if (have++ > 0)
			append(&list, &len, ",", 1);
		append(&list, &len, id, strlen(id));
	}
	if (have < p->gpus) {
		gpus_release(p, rel);
		free(list);
		return NULL;
	}
	return list;
}

/* --- thread-pool work ------------------------------------------------------
 */

/* A piece of work for the thread pool: its inputs, what it found, and
 * whom to tell (submit_cb or done_cb) on the loop thread. */
struct work {
	uv_work_t req;
	struct proc *p;
	char *rel;    /* the job's directory, when it has one */
	char *intent; /* find: the intent looked up */
	char **argv;  /* the command to run */
	char **envp;  /* its environment; NULL: rftd's */
	struct cmd_result res;
	int rc;
	char error[1024];
	double absent_since;   /* find: since when Slurm shows no such job */
	int64_t slurm_id;      /* sbatch, find: found; scancel: the job */
	bool hard;	       /* scancel: the job, not a signal */
	struct snapshot *snap; /* squeue: the one being taken */
	struct pollwork *pw;   /* poll */
	backend_submit_cb submit_cb;
	backend_done_cb done_cb;
	void *arg;
};

/* One poll: its inputs and what the worker found. */
struct pollwork {
	struct pollwork *next; /* waiting for a snapshot */
	struct proc *p;
	char *rel;
	char *cursor_in;
	struct snapshot *snap;
	backend_poll_cb cb;
	void *arg;
	/* out */
	int rc;
	char error[4096];
	enum job_state state;
	char status[64];
	double billed;
	struct metrics_batch batch;
	char cursor[METRICS_CURSOR_LEN + 64];
	char **ckpt_paths;
	size_t nckpt;
};

static void queue_work(struct proc *p, struct work *w, void (*fn)(uv_work_t *),
		       void (*after)(uv_work_t *, int));

static struct work *
work_new(struct proc *p, const char *rel)
{
	struct work *w = xcalloc(1, sizeof(*w));

	w->p = p;
	w->rel = rel != NULL ? xstrdup(rel) : NULL;
	return w;
}

static void
work_free(struct work *w)
{
	free(w->rel);
	free(w->intent);
	strv_free(w->argv);
	strv_free(w->envp);
	cmd_result_free(&w->res);
	free(w);
}

static void
snapshot_unref(struct snapshot *s)
{
	if (s != NULL && --s->refs == 0) {
		free(s->jobs);
		free(s);
	}
}

static const struct slurm_job *
snapshot_find(const struct snapshot *s, int64_t id, const char *name)
{
	const struct slurm_job *best = NULL;

	for (size_t i = 0; s != NULL && i < s->n; i++) {
		const struct slurm_job *j = &s->jobs[i];

		if (id > 0 ? j->id == id
			   : (name != NULL && strcmp(j->name, name) == 0)) {
			/* By name, the newest (a resumed run has several). */
			if (best == NULL || j->id > best->id)
				best = j;
		}
	}
	return best;
}

/* Runs `squeue --json` and reads it: the worker side of a snapshot. */
static void
take_snapshot(const struct proc *p, struct snapshot *s)
{
	char *argv[] = {p->squeue, "--json", NULL};
	struct cmd_result r;

	cmd_run(argv, NULL, &r);
	if (r.status != 0) {
		s->rc = -EAGAIN;
		snprintf(s->error, sizeof(s->error), "squeue: %.200s",
			 r.err[0] ? r.err : "failed");
	} else {
		s->rc = slurm_parse_squeue(r.out, r.out_len, &s->jobs, &s->n,
					   s->error, sizeof(s->error));
		if (s->rc == -EINVAL)
			s->rc = -EAGAIN; /* unreadable: never "gone" */
	}
	cmd_result_free(&r);
}

/* sacct's record of a job that left squeue; false when it has none. */
static bool
sacct_lookup(const struct proc *p, int64_t id, const char *name,
	     struct slurm_job *out)
{
	char ids[32], names[128];
	char *by_id[] = {
	    p->sacct, "-X", "-P", "-n",
	    "-j",     ids,  "-o", "JobID,JobName,State,ExitCode,Start,End",
	    NULL};
	char *by_name[] = {p->sacct, "-X",
			   "-P",     "-n",
			   "--name", names,
			   "-S",     "2000-01-01",
			   "-o",     "JobID,JobName,State,ExitCode,Start,End",
			   NULL};
	struct cmd_result r;
	struct slurm_job *jobs = NULL;
	size_t n = 0;
	bool found = false;

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	snprintf(names, sizeof(names), "%s", name ? name : "");
	cmd_run(id > 0 ? by_id : by_name, NULL, &r);
	if (r.status == 0 &&
	    slurm_parse_sacct(r.out, r.out_len, &jobs, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			bool match = id > 0 ? jobs[i].id == id
					    : strcmp(jobs[i].name, names) == 0;

			if (match && (!found || jobs[i].id > out->id)) {
				*out = jobs[i];
				found = true;
			}
		}
	}
	free(jobs);
	cmd_result_free(&r);
	return found;
}

/* What `stop` says: 'c'ancel, 'p'ause, or 0. */
static char
stop_action(const struct proc *p, const char *rel)
{
	char *path = job_path(p, rel, "stop"), *text = read_small(path, 256);
	char a = 0;

	if (text != NULL)
		a = strstr(text, "pause") != NULL ? 'p' : 'c';
	free(text);
	free(path);
	return a;
}

/* The exit file: 0 with the shell's status and end time, or -ENOENT. */
static int
read_exit(const struct proc *p, const char *rel, int *status, double *ended)
{
	char *path = job_path(p, rel, "exit"), *text = read_small(path, 256);
	struct stat st;
	cJSON *j;

	free(path);
	if (text == NULL)
		return -ENOENT;
	j = cJSON_Parse(text);
	free(text);
	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "status"))) {
		cJSON_Delete(j);
		return -ENOENT;
	}
	*status = (int)json_number(j, "status", 0);
	cJSON_Delete(j);
	/* When it was written: finer than the seconds `date` gives. */
	path = job_path(p, rel, "exit");
	*ended = stat(path, &st) == 0 ? (double)st.st_mtim.tv_sec +
					    (double)st.st_mtim.tv_nsec / 1e9
				      : now_wall();
	free(path);
	return 0;
}

/* The last lines of stderr, for a failed run's message. */
static void
stderr_tail(const struct proc *p, const char *rel, char *buf, size_t len)
{
	char *path = job_path(p, rel, "stderr"), tail[TAIL_BYTES + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	ssize_t n = 0;
	char *s;

	buf[0] = '\0';
	free(path);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		off_t from =
		    st.st_size > TAIL_BYTES ? st.st_size - TAIL_BYTES : 0;

		n = pread(fd, tail, TAIL_BYTES, from);
	}
	close(fd);
	if (n <= 0)
		return;
	tail[n] = '\0';
	while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == ' '))
		tail[--n] = '\0';
	/* The last few lines, from a line's start. */
	s = tail;
	for (int lines = 0; n > 0 && lines < 5; n--)
		if (tail[n - 1] == '\n' && ++lines == 5)
			s = tail + n;
	utf8_excerpt(buf, len, s);
}

/* "exit code 3", "killed by signal 9 (Killed)", from a shell status. */
static void
describe_status(int status, char *buf, size_t len)
{
	if (status > 128 && status < 128 + 65)
		snprintf(buf, len, "killed by signal %d (%s)", status - 128,
			 strsignal(status - 128));
	else
		snprintf(buf, len, "exit code %d", status);
}

/* The intent key of the job in `rel`, from its trial.json ("" unknown). */
static void
trial_intent(const struct proc *p, const char *rel, char *buf, size_t len)
{
	char *path = job_path(p, rel, "trial.json");
	char *text = read_small(path, 1 << 20);
	cJSON *t = cJSON_Parse(text ? text : "");
	const cJSON *intent = cJSON_GetObjectItemCaseSensitive(t, "intent");

	snprintf(buf, len, "%s",
		 cJSON_IsString(intent) ? intent->valuestring : "");
	cJSON_Delete(t);
	free(text);
	free(path);
}

/* A run asked to stop is stopping until it has ended. */
static enum job_state
stopping(char stop, enum job_state state)
{
	return stop == 'p' ? JOB_PAUSING : stop == 'c' ? JOB_CANCELLING : state;
}

/* How the run stands: the worker side of a poll. */
static void
poll_state(struct pollwork *pw, const struct run_state *rs)
{
	const struct proc *p = pw->p;
	char stop = stop_action(p, pw->rel), how[128], tail[TAIL_BYTES + 64];
	bool ended = false, known = false;
	int status = 0;
	double ended_at = 0, now = now_wall();
	struct slurm_job sj;
	const struct slurm_job *q = NULL;

	pw->billed = rs->billed;
	how[0] = '\0';
	if (read_exit(p, pw->rel, &status, &ended_at) == 0) {
		ended = known = true;
		describe_status(status, how, sizeof(how));
	}
	if (!p->slurm) {
		if (!ended && wrapper_alive(rs)) {
			pw->state = stopping(stop, JOB_RUNNING);
			snprintf(pw->status, sizeof(pw->status), "%s",
				 stop ? "stopping" : "running");
			pw->billed += fmax(0, now - rs->started_at);
			return;
		}
		if (!ended && rs->pid == 0 &&
		    now - rs->launched_at < LAUNCH_GRACE) {
			pw->state = JOB_QUEUED;
			snprintf(pw->status, sizeof(pw->status), "starting");
			return;
		}
		ended = true;
		if (rs->started_at > 0)
			pw->billed += fmax(0, (ended_at > 0 ? ended_at : now) -
						  rs->started_at);
	} else {
		const struct snapshot *s = pw->snap;

		if (rs->slurm_id == 0 && !ended) {
			/* sbatch is under way (a resume), or its answer was
			 * not recorded: the job's name finds it. */
			char intent[128], name[160];

			trial_intent(p, pw->rel, intent, sizeof(intent));
			snprintf(name, sizeof(name), "%s", intent);
			if (s != NULL && s->rc == 0)
				q = snapshot_find(s, 0, name);
			if (q == NULL && now - rs->launched_at <
					     COMMAND_TIMEOUT + LAUNCH_GRACE) {
				pw->state = stopping(stop, JOB_QUEUED);
				snprintf(pw->status, sizeof(pw->status),
					 "submitting");
				return;
			}
		} else if (s != NULL && s->rc == 0) {
			q = snapshot_find(s, rs->slurm_id, NULL);
		}
		if (q == NULL && !ended && rs->slurm_id > 0 &&
		    (s == NULL || s->rc == 0) &&
		    sacct_lookup(p, rs->slurm_id, NULL, &sj))
			q = &sj;
		if (q == NULL && !ended) {
			if (s != NULL && s->rc != 0) {
				pw->rc = -EAGAIN;
				snprintf(pw->error, sizeof(pw->error),
					 "the Slurm controller does not "
					 "answer (%s); the run's state is "
					 "unknown until it does",
					 s->error);
				return;
			}
			pw->rc = -ENOENT;
			snprintf(pw->error, sizeof(pw->error),
				 "Slurm job %lld is in neither squeue nor "
				 "sacct, and it left no exit status",
				 (long long)rs->slurm_id);
			return;
		}
		if (q != NULL) {
			double end = q->end_time > 0 ? q->end_time : now;

			snprintf(pw->status, sizeof(pw->status), "%s",
				 q->state);
			if (q->start_time > 0)
				pw->billed += fmax(0, end - q->start_time);
			if (!slurm_state_final(q->state) && !ended) {
				pw->state = slurm_state(q->state);
				if (pw->state == JOB__COUNT)
					pw->state = JOB_RUNNING;
				pw->state = stopping(stop, pw->state);
				return;
			}
			if (q->has_exit && !known) {
				slurm_describe_exit(q->wait_status, how,
						    sizeof(how));
				status = WIFEXITED(q->wait_status)
					     ? WEXITSTATUS(q->wait_status)
					     : 128 + WTERMSIG(q->wait_status);
				known = true;
			}
			if (!known && slurm_state(q->state) == JOB_SUCCEEDED) {
				known = true;
				status = 0;
			}
			if (!known)
				snprintf(how, sizeof(how), "Slurm state %s",
					 q->state);
		}
		ended = true;
	}
	/* The run has ended. */
	if (stop == 'p') {
		pw->state = JOB_PAUSED;
		snprintf(pw->status, sizeof(pw->status), "paused");
	} else if (stop == 'c') {
		pw->state = JOB_CANCELLED;
		snprintf(pw->status, sizeof(pw->status), "cancelled");
	} else if (known && status == 0) {
		pw->state = JOB_SUCCEEDED;
		snprintf(pw->status, sizeof(pw->status), "succeeded");
	} else {
		pw->state = JOB_FAILED;
		snprintf(pw->status, sizeof(pw->status), "failed");
		stderr_tail(p, pw->rel, tail, sizeof(tail));
		snprintf(pw->error, sizeof(pw->error), "the run ended: %s%s%s",
			 known ? how
			       : "without an exit status (its wrapper was "
				 "killed)",
			 tail[0] ? "; stderr ends: " : "", tail);
	}
}

static void
do_poll(uv_work_t *req)
{
	struct work *w = req->data;
	struct pollwork *pw = w->pw;
	const struct proc *p = pw->p;
	struct metrics_cursor cur;
	struct run_state rs;
	char *mpath, *dir, cursor_text[METRICS_CURSOR_LEN + 1];
	const char *bar;

	dir = job_path(p, pw->rel, NULL);
	if (access(dir, F_OK) != 0) {
		pw->rc = -ENOENT;
		snprintf(pw->error, sizeof(pw->error),
			 "the job directory %s is gone", dir);
		free(dir);
		return;
	}
	free(dir);
	run_state_read(p, pw->rel, &rs);
	poll_state(pw, &rs);
	if (pw->rc != 0)
		return;
	/* New metrics, from where the store's cursor says. */
	cursor_text[0] = '\0';
	if (pw->cursor_in != NULL) {
		bar = strchr(pw->cursor_in, '|');
		snprintf(cursor_text, sizeof(cursor_text), "%.*s",
			 (int)(bar ? (size_t)(bar - pw->cursor_in)
				   : strlen(pw->cursor_in)),
			 pw->cursor_in);
	}
	metrics_cursor_parse(cursor_text, &cur);
	mpath = p->format == METRICS_TRL
		    ? job_path(p, pw->rel, "checkpoints")
		    : job_path(p, pw->rel, "metrics.jsonl");
	if (metrics_read(p->format, mpath, &cur, METRICS_BUDGET_DEFAULT,
			 &pw->batch) != 0)
		log_warnx("job %s: metrics: %s", pw->rel,
			  pw->batch.error ? pw->batch.error : "unreadable");
	else if (pw->batch.bad > 0)
		log_warnx("job %s: metrics: %zu bad line%s skipped (the first "
			  "at byte %lld: %s)",
			  pw->rel, pw->batch.bad, pw->batch.bad == 1 ? "" : "s",
			  (long long)pw->batch.first_bad_offset,
			  pw->batch.first_bad_reason);
	free(mpath);
	metrics_cursor_format(&cur, cursor_text, sizeof(cursor_text));
	if (p->slurm)
		snprintf(pw->cursor, sizeof(pw->cursor), "%s|slurm=%lld",
			 cursor_text, (long long)rs.slurm_id);
	else
		snprintf(pw->cursor, sizeof(pw->cursor), "%s|pid=%lld:%llu",
			 cursor_text, (long long)rs.pid,
			 (unsigned long long)rs.start);
	/* Relative checkpoint paths are relative to RFTD_CHECKPOINT_DIR. */
	pw->nckpt = pw->batch.ncheckpoints;
	pw->ckpt_paths = xcalloc(pw->nckpt + 1, sizeof(char *));
	for (size_t i = 0; i < pw->nckpt; i++) {
		const char *cp = pw->batch.checkpoints[i].path;

		pw->ckpt_paths[i] = cp[0] == '/'
					? xstrdup(cp)
					: xasprintf("%s/%s/checkpoints/%s",
						    p->workdir, pw->rel, cp);
	}
}

/*
 * A paused run's segment has ended: its seconds are kept in run.json, so
 * that a resume bills them on (billed_seconds only grows, whichever
 * launcher: on Slurm the next segment is another batch job).
 */
static void
keep_segment_seconds(struct proc *p, const char *rel, double billed)
{
	struct run_state rs;

	run_state_read(p, rel, &rs);
	if (billed - rs.billed == rs.segment_seconds)
		return;
	rs.segment_seconds = fmax(0, billed - rs.billed);
	if (run_state_write(p, rel, &rs) != 0)
		log_warnx("job %s: cannot record the paused run's time", rel);
}

static void
pollwork_free(struct pollwork *pw)
{
	metrics_batch_free(&pw->batch);
	strv_free(pw->ckpt_paths);
	snapshot_unref(pw->snap);
	free(pw->rel);
	free(pw->cursor_in);
	free(pw);
}

static void
after_poll(uv_work_t *req, int status)
{
	struct work *w = req->data;
	struct pollwork *pw = w->pw;
	struct proc *p = w->p;
	struct backend_poll bp = {.billed_seconds = -1, .cost_usd = -1};
	struct backend_metric *m = NULL;
	struct backend_checkpoint *ck = NULL;
	struct pjob *pj;

	if (status == UV_ECANCELED || p->closing) {
		pw->cb(pw->arg, -ECANCELED, NULL, "rftd is shutting down");
		goto out;
	}
	if (pw->rc != 0) {
		if (pw->rc == -ENOENT)
			gpus_release(p, pw->rel);
		pw->cb(pw->arg, pw->rc, NULL, pw->error);
		goto out;
	}
	if (job_state_terminal(pw->state))
		gpus_release(p, pw->rel);
	if (pw->state == JOB_PAUSED)
		keep_segment_seconds(p, pw->rel, pw->billed);
	m = xcalloc(pw->batch.npoints + 1, sizeof(*m));
	for (size_t i = 0; i < pw->batch.npoints; i++)
		m[i] = (struct backend_metric){pw->batch.points[i].step,
					       pw->batch.points[i].name,
					       pw->batch.points[i].value};
	ck = xcalloc(pw->nckpt + 1, sizeof(*ck));
	for (size_t i = 0; i < pw->nckpt; i++)
		ck[i] = (struct backend_checkpoint){
		    pw->batch.checkpoints[i].step, pw->ckpt_paths[i],
		    pw->ckpt_paths[i], "{}"};
	bp.state = pw->state;
	bp.provider_status = pw->status;
	bp.error = pw->error[0] ? pw->error : NULL;
	bp.billed_seconds = pw->billed;
	bp.metrics = m;
	bp.nmetrics = pw->batch.npoints;
	bp.checkpoints = ck;
	bp.ncheckpoints = pw->nckpt;
	bp.cursor = pw->cursor;
	pj = pjob_find(p, pw->rel, false);
	if (pj != NULL) {
		/* A "no" is looked at again: a trainer may save without
		 * announcing it. */
		if (pw->nckpt > 0)
			pj->checkpointed = 1;
		else if (pj->checkpointed == 0)
			pj->checkpointed = -1;
		/* Its handles go once the child is reaped. */
		pj->ended = job_state_terminal(pw->state);
		if (pj->ended && !pj->child_open && !pj->grace_open)
			pjob_release(pj);
	}
	pw->cb(pw->arg, 0, &bp, NULL);
out:
	free(m);
	free(ck);
	pollwork_free(pw);
	w->pw = NULL;
	work_free(w);
}

static void
start_poll(struct pollwork *pw)
{
	struct work *w = work_new(pw->p, NULL);

	w->pw = pw;
	queue_work(pw->p, w, do_poll, after_poll);
}

static void
do_squeue(uv_work_t *req)
{
	struct work *w = req->data;

	take_snapshot(w->p, w->snap);
}

static void
after_squeue(uv_work_t *req, int status)
{
	struct work *w = req->data;
	struct proc *p = w->p;
	struct pollwork *waiting = p->waiting;

	p->snapping = false;
	p->waiting = NULL;
	if (status == UV_ECANCELED)
		w->snap->rc = -EAGAIN;
	snapshot_unref(p->snap);
	p->snap = w->snap; /* the round's reference */
	while (waiting != NULL) {
		struct pollwork *pw = waiting;

		waiting = pw->next;
		pw->snap = p->snap;
		p->snap->refs++;
		if (p->closing) {
			pw->cb(pw->arg, -ECANCELED, NULL,
			       "rftd is shutting down");
			pollwork_free(pw);
		} else {
			start_poll(pw);
		}
	}
	work_free(w);
}

static void
proc_poll(struct backend *be, const char *remote_id, const char *cursor,
	  backend_poll_cb cb, void *arg)
{
	struct proc *p = be->priv;
	struct pollwork *pw = xcalloc(1, sizeof(*pw));
	double fresh = fmax(0.05, be->poll_interval / 2);

	pw->p = p;
	pw->rel = xstrdup(remote_id);
	pw->cursor_in = cursor ? xstrdup(cursor) : NULL;
	pw->cb = cb;
	pw->arg = arg;
	if (!p->slurm) {
		start_poll(pw);
		return;
	}
	if (p->snap != NULL && now_mono_s() - p->snap->taken < fresh) {
		pw->snap = p->snap;
		p->snap->refs++;
		start_poll(pw);
		return;
	}
	pw->next = p->waiting;
	p->waiting = pw;
	if (!p->snapping) {
		struct work *w = work_new(p, NULL);

		p->snapping = true;
		w->snap = xcalloc(1, sizeof(*w->snap));
		w->snap->refs = 1;
		w->snap->taken = now_mono_s();
		queue_work(p, w, do_squeue, after_squeue);
	}
}

/* --- submit ----------------------------------------------------------------
 */

static char **
sbatch_argv(const struct proc *p, const char *rel, const char *intent)
{
	char *dir = job_path(p, rel, NULL);
	size_t n = 0, k = 0;
	char **argv;

	while (p->sbatch_args[n] != NULL)
		n++;
	argv = xcalloc(n + 16, sizeof(*argv));
	argv[k++] = xstrdup(p->sbatch);
	argv[k++] = xstrdup("--parsable");
	argv[k++] = xasprintf("--job-name=%s", intent); /* rftd-<hex> */
	argv[k++] = xasprintf("--comment=rftd:%s", rel);
	argv[k++] = xasprintf("--chdir=%s", dir);
	argv[k++] = xasprintf("--output=%s/slurm-%%j.out", dir);
	argv[k++] = xasprintf("--error=%s/slurm-%%j.out", dir);
	argv[k++] = xstrdup("--export=ALL");
	if (p->gpus > 0)
		argv[k++] = xasprintf("--gres=gpu:%u", p->gpus);
	for (size_t i = 0; i < n; i++)
		argv[k++] = xstrdup(p->sbatch_args[i]);
	argv[k++] = xasprintf("%s/run.sh", dir);
	argv[k] = NULL;
	free(dir);
	return argv;
}

static void
do_sbatch(uv_work_t *req)
{
	struct work *w = req->data;
	int64_t id;
	char idtext[32];

	cmd_run(w->argv, w->envp, &w->res);
	if (w->res.status == -1) {
		/* Not known to have run: it may have reached the cluster. */
		w->rc = -EAGAIN;
		cmd_error(w->argv[0], &w->res, w->error, sizeof(w->error));
		return;
	}
	if (!WIFEXITED(w->res.status) || WEXITSTATUS(w->res.status) != 0) {
		bool unreachable = strstr(w->res.err, "contact") != NULL ||
				   strstr(w->res.err, "timed out") != NULL ||
				   strstr(w->res.err, "Connection") != NULL;

		w->rc = unreachable ? -EAGAIN : -EINVAL;
		cmd_error(w->argv[0], &w->res, w->error, sizeof(w->error));
		return;
	}
	snprintf(idtext, sizeof(idtext), "%.*s",
		 (int)strcspn(w->res.out, ";\n"), w->res.out);
	if (parse_i64(idtext, 1, INT64_MAX, &id) != 0) {
		w->rc = -EAGAIN;
		snprintf(w->error, sizeof(w->error),
			 "sbatch answered '%.100s', not a job id", w->res.out);
		return;
	}
	w->slurm_id = id;
}

static void
after_sbatch(uv_work_t *req, int status)
{
	struct work *w = req->data;
	struct proc *p = w->p;
	struct run_state rs;

	if (status == UV_ECANCELED) {
		w->rc = -EAGAIN;
		snprintf(w->error, sizeof(w->error), "rftd is shutting down");
	}
	if (w->rc == 0) {
		run_state_read(p, w->rel, &rs);
		rs.slurm_id = w->slurm_id;
		if (run_state_write(p, w->rel, &rs) != 0)
			log_warnx("job %s: cannot record Slurm job %lld in "
				  "run.json; its name finds it",
				  w->rel, (long long)w->slurm_id);
		log_info("backend %s: job %s is Slurm job %lld", p->be->name,
			 w->rel, (long long)w->slurm_id);
	}
	if (w->submit_cb != NULL)
		w->submit_cb(w->arg, w->rc, w->rc == 0 ? w->rel : NULL,
			     w->rc == 0 ? NULL : w->error);
	else
		w->done_cb(w->arg, w->rc, w->rc == 0 ? NULL : w->error);
	work_free(w);
}

/*
 * Starts a segment of the run in its prepared directory: the first, or a
 * resume.  Local runs start at once; Slurm ones when sbatch answers.
 * Exactly one of submit_cb and done_cb is set.
 */
static void
launch(struct proc *p, const char *rel, const char *intent,
       const char *resume_from, backend_submit_cb submit_cb,
       backend_done_cb done_cb, void *arg)
{
	struct run_state rs;
	char err[512];
	int rc;

	run_state_read(p, rel, &rs);
	if (!p->slurm) {
		rc = launch_local(p, rel, intent, resume_from, &rs, err,
				  sizeof(err));
		if (rc == 0 && run_state_write(p, rel, &rs) != 0)
			log_warnx("job %s: cannot record pid %lld in "
				  "run.json; its pid file finds it",
				  rel, (long long)rs.pid);
		if (submit_cb != NULL)
			submit_cb(arg, rc, rc == 0 ? rel : NULL,
				  rc == 0 ? NULL : err);
		else
			done_cb(arg, rc, rc == 0 ? NULL : err);
		return;
	}
	{
		struct work *w = work_new(p, rel);

		w->argv = sbatch_argv(p, rel, intent);
		w->envp = run_env(p, rel, intent, resume_from, NULL);
		w->submit_cb = submit_cb;
		w->done_cb = done_cb;
		w->arg = arg;
		queue_work(p, w, do_sbatch, after_sbatch);
	}
}

static void
proc_submit(struct backend *be, const struct backend_job *job,
	    backend_submit_cb cb, void *arg)
{
	struct proc *p = be->priv;
	char err[1024], *rel = NULL;
	int rc = prepare_dir(p, job, &rel, err, sizeof(err));

	if (rc == -EEXIST) {
		/* Launched before under this intent: that run is the job. */
		cb(arg, 0, rel, NULL);
		free(rel);
		return;
	}
	if (rc == -EDQUOT) {
		/* Held until a poll's interval has passed: a run may end. */
		be->hold_until = now_wall() + fmax(1, be->poll_interval);
		snprintf(be->hold_reason, sizeof(be->hold_reason), "%.200s",
			 err);
	}
	if (rc != 0) {
		cb(arg, rc == -EINVAL || rc == -EDQUOT ? rc : -EIO, NULL, err);
		free(rel);
		return;
	}
	launch(p, rel, job->intent_key, NULL, cb, NULL, arg);
	free(rel);
}

/* --- find ------------------------------------------------------------------
 */

/*
 * A Slurm job for the intent is absent from an answering controller.
 * It counts as never submitted only once sbatch cannot be running any
 * more and the controller has shown no such job for ABSENT_PROOF
 * seconds on end: a submission that timed out may still be carried out
 * when the controller gets to it.
 */
static void
absent(struct work *w, const struct run_state *rs, double now)
{
	double from = rs->launched_at + COMMAND_TIMEOUT;

	if (now < from) {
		w->rc = -EAGAIN;
		snprintf(w->error, sizeof(w->error),
			 "Slurm shows no job %s yet; its sbatch may still be "
			 "running",
			 w->intent);
		return;
	}
	if (w->absent_since < from)
		w->absent_since = now;
	if (now - w->absent_since >= ABSENT_PROOF) {
		w->rc = -ENOENT;
		return;
	}
	w->rc = -EAGAIN;
	snprintf(w->error, sizeof(w->error),
		 "Slurm has shown no job %s for %.0f s; it is submitted again "
		 "after %.0f s without one",
		 w->intent, now - w->absent_since, ABSENT_PROOF);
}

static void
do_find(uv_work_t *req)
{
	struct work *w = req->data;
	struct proc *p = w->p;
	char *link_path = xasprintf("%s/.intents/%s", p->workdir, w->intent);
	char target[4096], name[128], *pidfile;
	struct run_state rs;
	struct snapshot s = {0};
	const struct slurm_job *q;
	struct slurm_job sj;
	ssize_t n = readlink(link_path, target, sizeof(target) - 1);

	free(link_path);
	if (n <= 0) {
		w->rc = -ENOENT;
		return;
	}
	target[n] = '\0';
	w->rel = xstrdup(target);
	run_state_read(p, w->rel, &rs);
	if (!p->slurm) {
		char *text;
		int64_t pid;

		if (rs.pid > 0)
			return;
		/* Launched, and the record of its pid lost: the wrapper's
		 * own pid file says. */
		pidfile = job_path(p, w->rel, "pid");
		text = read_small(pidfile, 64);
		free(pidfile);
		if (text != NULL) {
			text[strcspn(text, "\n")] = '\0';
			if (parse_i64(text, 1, INT32_MAX, &pid) == 0) {
				w->slurm_id = pid; /* carried to the loop */
				free(text);
				return;
			}
		}
		free(text);
		pidfile = job_path(p, w->rel, "exit");
		n = access(pidfile, F_OK);
		free(pidfile);
		if (n == 0)
			return;
		w->rc = now_wall() - rs.launched_at < LAUNCH_GRACE ? -EAGAIN
								   : -ENOENT;
		return;
	}
	if (rs.slurm_id > 0)
		return;
	/* sbatch may have answered without its answer being recorded, or
	 * timed out while the controller went on to create the job: the job
	 * name says. */
	snprintf(name, sizeof(name), "%s", w->intent);
	w->absent_since = rs.absent_since;
	take_snapshot(p, &s);
	if (s.rc != 0) {
		/* Requests may wait at an unreachable controller: the time
		 * it has shown no such job starts again. */
		w->rc = -EAGAIN;
		w->absent_since = 0;
		snprintf(w->error, sizeof(w->error), "%s", s.error);
	} else if ((q = snapshot_find(&s, 0, name)) != NULL ||
		   (sacct_lookup(p, 0, name, &sj) && (q = &sj) != NULL)) {
		w->slurm_id = q->id;
	} else {
		absent(w, &rs, now_wall());
	}
	free(s.jobs);
}

static void
after_find(uv_work_t *req, int status)
{
	struct work *w = req->data;
	struct proc *p = w->p;
	struct run_state rs;

	if (status == UV_ECANCELED)
		w->rc = -ECANCELED;
	if (p->slurm && w->rel != NULL && w->rc == -EAGAIN) {
		run_state_read(p, w->rel, &rs);
		if (rs.absent_since != w->absent_since) {
			rs.absent_since = w->absent_since;
			run_state_write(p, w->rel, &rs);
		}
	}
	if (w->rc == 0 && w->slurm_id > 0) {
		run_state_read(p, w->rel, &rs);
		if (p->slurm) {
			rs.slurm_id = w->slurm_id;
		} else {
			rs.pid = w->slurm_id;
			rs.start = proc_start(rs.pid);
			if (rs.started_at == 0)
				rs.started_at = rs.launched_at;
		}
		run_state_write(p, w->rel, &rs);
	}
	if (w->rc == -ENOENT && w->rel != NULL) {
		/* Never launched: the intent may be tried again. */
		char *link_path =
		    xasprintf("%s/.intents/%s", p->workdir, w->intent);

		unlink(link_path);
		free(link_path);
	}
	w->submit_cb(w->arg, w->rc, w->rc == 0 ? w->rel : NULL,
		     w->error[0] ? w->error : NULL);
	work_free(w);
}

static void
proc_find(struct backend *be, const char *intent_key, backend_submit_cb cb,
	  void *arg)
{
	struct proc *p = be->priv;
	struct work *w = work_new(p, NULL);

	w->intent = xstrdup(intent_key);
	w->submit_cb = cb;
	w->arg = arg;
	queue_work(p, w, do_find, after_find);
}

/* --- control ---------------------------------------------------------------
 */

static void
do_scancel(uv_work_t *req)
{
	struct work *w = req->data;

	cmd_run(w->argv, NULL, &w->res);
	if (w->res.status != 0 && !w->hard) {
		/* A pending job takes no signal: cancel it outright. */
		char ids[32];
		char *argv[] = {w->p->scancel, ids, NULL};

		snprintf(ids, sizeof(ids), "%lld", (long long)w->slurm_id);
		cmd_result_free(&w->res);
		cmd_run(argv, NULL, &w->res);
	}
	if (w->res.status != 0) {
		w->rc = -EAGAIN;
		cmd_error(w->p->scancel, &w->res, w->error, sizeof(w->error));
	}
}

static void
after_scancel(uv_work_t *req, int status)
{
	struct work *w = req->data;

	(void)status;
	if (w->rc != 0)
		log_warnx("job %s: %s", w->rel, w->error);
	if (w->done_cb != NULL)
		w->done_cb(w->arg, w->rc, w->rc ? w->error : NULL);
	work_free(w);
}

/* Signals a Slurm run: TERM first (`hard` false), or cancels it. */
static void
slurm_signal(struct proc *p, const char *rel, int64_t id, bool hard,
	     backend_done_cb cb, void *arg)
{
	struct work *w = work_new(p, rel);
	size_t k = 0;

	w->slurm_id = id;
	w->hard = hard;
	w->argv = xcalloc(6, sizeof(char *));
	w->argv[k++] = xstrdup(p->scancel);
	if (!hard) {
		w->argv[k++] = xstrdup("--signal=TERM");
		w->argv[k++] = xstrdup("--full");
	}
	w->argv[k++] = xasprintf("%lld", (long long)id);
	w->done_cb = cb;
	w->arg = arg;
	queue_work(p, w, do_scancel, after_scancel);
}

/* stop_grace is over: what still runs is killed. */
static void
on_grace(uv_timer_t *t)
{
	struct pjob *pj = t->data;
	struct proc *p = pj->p;
	struct run_state rs;

	run_state_read(p, pj->rel, &rs);
	if (rs.segment != pj->grace_segment) {
		/* Resumed since: the stop was for a run that has ended. */
	} else if (p->slurm) {
		if (rs.slurm_id > 0)
			slurm_signal(p, pj->rel, rs.slurm_id, true, NULL, NULL);
	} else if (wrapper_alive(&rs)) {
		log_warnx("job %s: still running %.0f s after SIGTERM: "
			  "SIGKILL",
			  pj->rel, p->stop_grace);
		kill(-(pid_t)rs.pid, SIGKILL);
	}
	uv_close((uv_handle_t *)t, pjob_closed);
	if (pj->ended && !pj->child_open)
		pjob_release(pj);
}

/* Asks the run to stop, for `action` ("cancel" or "pause"). */
static int
stop_run(struct proc *p, const char *rel, const char *action,
	 backend_done_cb cb, void *arg)
{
	struct pjob *pj;
	struct run_state rs;
	char *path = job_path(p, rel, "stop"), *text;
	int st;
	double ended;
	int rc;

	if (read_exit(p, rel, &st, &ended) == 0) {
		/* It ended already, on its own: the poll says how. */
		free(path);
		cb(arg, 0, NULL);
		return 0;
	}
	text = xasprintf("{\"action\": \"%s\", \"at\": %.3f}\n", action,
			 now_wall());
	rc = write_atomic(path, text, 0644);
	free(text);
	free(path);
	if (rc != 0)
		return rc;
	run_state_read(p, rel, &rs);
	pj = pjob_find(p, rel, true);
	pj->grace_segment = rs.segment;
	if (!pj->grace_open) {
		uv_timer_init(p->env->loop, &pj->grace);
		pj->grace.data = pj;
		pj->grace_open = true;
		uv_timer_start(&pj->grace, on_grace,
			       (uint64_t)(p->stop_grace * 1000), 0);
	}
	if (p->slurm) {
		if (rs.slurm_id > 0) {
			slurm_signal(p, rel, rs.slurm_id, false, cb, arg);
			return 0;
		}
	} else if (wrapper_alive(&rs)) {
		kill(-(pid_t)rs.pid, SIGTERM);
	}
	cb(arg, 0, NULL);
	return 0;
}

static void
resume_run(struct proc *p, const char *rel, backend_done_cb cb, void *arg)
{
	struct run_state rs;
	struct pjob *pj;
	char *path, *from;
	char intent[128] = "";
	int st;
	double ended = 0;

	run_state_read(p, rel, &rs);
	if (read_exit(p, rel, &st, &ended) != 0 && !p->slurm &&
	    wrapper_alive(&rs)) {
		cb(arg, -EALREADY, "the run has not stopped yet");
		return;
	}
	trial_intent(p, rel, intent, sizeof(intent));
	from = newest_checkpoint(p, rel);
	if (from == NULL) {
		cb(arg, -EINVAL, "the run left no checkpoint to resume from");
		return;
	}
	/* The stop's kill timer was for the run that ended. */
	pj = pjob_find(p, rel, false);
	if (pj != NULL && pj->grace_open &&
	    !uv_is_closing((uv_handle_t *)&pj->grace))
		uv_close((uv_handle_t *)&pj->grace, pjob_closed);
	/* The segment that ended is billed (as its paused poll saw it); the
	 * next begins. */
	rs.billed += rs.segment_seconds;
	rs.segment_seconds = 0;
	rs.started_at = 0;
	rs.pid = 0;
	rs.start = 0;
	rs.slurm_id = 0;
	rs.segment++;
	rs.launched_at = now_wall();
	run_state_write(p, rel, &rs);
	path = job_path(p, rel, "stop");
	unlink(path);
	free(path);
	path = job_path(p, rel, "exit");
	unlink(path);
	free(path);
	log_info("job %s: resumes from %s", rel, from);
	launch(p, rel, intent, from, NULL, cb, arg);
	free(from);
}

static void
proc_control(struct backend *be, const char *remote_id,
	     enum backend_action action, backend_done_cb cb, void *arg)
{
	struct proc *p = be->priv;
	int rc = 0;

	switch (action) {
	case BACKEND_CANCEL:
		rc = stop_run(p, remote_id, "cancel", cb, arg);
		break;
	case BACKEND_PAUSE:
		rc = stop_run(p, remote_id, "pause", cb, arg);
		break;
	case BACKEND_RESUME:
		resume_run(p, remote_id, cb, arg);
		return;
	}
	if (rc != 0)
		cb(arg, -EIO, strerror(-rc));
}

/* A run can pause only when it kept a checkpoint to resume from: what
 * its polls reported, or once a look in its directory. */
static bool
proc_can_pause(struct backend *be, const char *remote_id)
{
	struct pjob *pj;
	char *ck;

	if (remote_id == NULL)
		return false;
	pj = pjob_find(be->priv, remote_id, true);
	if (pj->checkpointed < 0) {
		ck = newest_checkpoint(be->priv, remote_id);
		pj->checkpointed = ck != NULL;
		free(ck);
	}
	return pj->checkpointed == 1;
}

static void
proc_list_owned(struct backend *be, backend_owned_cb each, backend_done_cb done,
		void *arg)
{
	/* A run exists only after its intent is committed: the store knows
	 * every one of them. */
	(void)be;
	(void)each;
	done(arg, 0, NULL);
}

static double
proc_estimate_hours(struct backend *be, const struct backend_job *job)
{
	(void)be;
	(void)job;
	return HUGE_VAL; /* unknown: the sweep's max_job_hours bounds it */
}

static int
proc_check_job(struct backend *be, const struct backend_job *job, char *err,
	       size_t errlen)
{
	struct proc *p = be->priv;
	char *cmd = fill_command(p->command, job, err, errlen);

	free(cmd);
	return cmd != NULL ? 0 : -EINVAL;
}

/* --- the backend ------------------------------------------------------------
 */

static void
queue_work(struct proc *p, struct work *w, void (*fn)(uv_work_t *),
	   void (*after)(uv_work_t *, int))
{
	int rc;

	w->req.data = w;
	rc = uv_queue_work(p->env->loop, &w->req, fn, after);
	if (rc != 0)
		fatalx("uv_queue_work: %s", uv_strerror(rc));
}

static char **
split_args(const char *s)
{
	char **v = xcalloc(1, sizeof(*v));
	size_t n = 0;

	while (s != NULL && *s != '\0') {
		size_t len;

		s += strspn(s, " \t");
		len = strcspn(s, " \t");
		if (len == 0)
			break;
		v = xrealloc(v, (n + 2) * sizeof(*v));
		v[n++] = strndup(s, len);
		v[n] = NULL;
		s += len;
	}
	return v;
}

/* "0, 1,2" -> {"0", "1", "2", NULL}. */
static char **
split_list(const char *s)
{
	char *copy = xstrdup(s), *c;

	for (c = copy; *c != '\0'; c++)
		if (*c == ',')
			*c = ' ';
	{
		char **v = split_args(copy);

		free(copy);
		return v;
	}
}

static void
proc_reconfigure(struct backend *be, const struct config_backend *cfg)
{
	struct proc *p = be->priv;
	const struct process_config *pc = cfg->opts;

	free(p->command);
	free(p->sbatch);
	free(p->squeue);
	free(p->sacct);
	free(p->scancel);
	strv_free(p->sbatch_args);
	p->command = xstrdup(pc->command);
	p->sbatch = xstrdup(pc->sbatch);
	p->squeue = xstrdup(pc->squeue);
	p->sacct = xstrdup(pc->sacct);
	p->scancel = xstrdup(pc->scancel);
	p->sbatch_args = split_args(pc->sbatch_args);
	strv_free(p->gpu_ids);
	p->gpu_ids = pc->gpu_list != NULL ? split_list(pc->gpu_list) : NULL;
	metrics_format_parse(pc->metrics_format, &p->format);
	p->stop_grace = pc->stop_grace;
	p->gpus = pc->gpus;
	be->gpus_per_job = pc->gpus;
	be->max_concurrent = cfg->max_concurrent;
	be->poll_interval = pc->poll_interval;
}

static void
proc_close(struct backend *be)
{
	struct proc *p = be->priv;

	p->closing = true;
	/* Runs go on without rftd: only its handles go. */
	for (size_t i = 0; i < PJOB_BUCKETS; i++)
		while (p->jobs[i] != NULL)
			pjob_release(p->jobs[i]);
	snapshot_unref(p->snap);
	p->snap = NULL;
}

static void
proc_destroy(struct backend *be)
{
	struct proc *p = be->priv;

	free(p->command);
	free(p->workdir);
	free(p->sbatch);
	free(p->squeue);
	free(p->sacct);
	free(p->scancel);
	strv_free(p->sbatch_args);
	strv_free(p->gpu_ids);
	free(p);
	free(be->name);
	free(be);
}

/*
 * The canonical names (metrics.h); a trainer reports any names it likes
 * besides, so a name not listed here is not an error.
 */
static const char *const proc_metric_names[] = {
    "train_reward_mean",
    "valid_reward_mean",
    NULL,
};

static const struct backend_metrics proc_metrics = {
    .names = proc_metric_names,
    .open = true,
};

static const struct backend_ops proc_ops = {
    .type = "process",
    .any_hyperparameters = true,
    .submit = proc_submit,
    .find = proc_find,
    .poll = proc_poll,
    .control = proc_control,
    .can_pause = proc_can_pause,
    .list_owned = proc_list_owned,
    .estimate_hours = proc_estimate_hours,
    .metrics = &proc_metrics,
    .check_job = proc_check_job,
    .reconfigure = proc_reconfigure,
    .close = proc_close,
    .destroy = proc_destroy,
};

static struct backend *
proc_create(const struct backend_env *env, const struct config_backend *cfg)
{
	const struct process_config *pc = cfg->opts;
	struct backend *be = xcalloc(1, sizeof(*be));
	struct proc *p = xcalloc(1, sizeof(*p));

	be->ops = &proc_ops;
	be->name = xstrdup(cfg->name);
	be->caps = BACKEND_CAN_PAUSE;
	be->time_scale = 1;
	be->env = env;
	be->priv = p;
	p->be = be;
	p->env = env;
	p->slurm = strcmp(pc->launcher, "slurm") == 0;
	p->workdir = xstrdup(pc->workdir);
	proc_reconfigure(be, cfg);
	return be;
}

/* `gpus`: ids for CUDA_VISIBLE_DEVICES, enough for one run; they bound
 * max_concurrent when it is not given. */
static void
check_gpus(struct config_backend *cfg, struct config_check *check)
{
	struct process_config *pc = cfg->opts;
	int line = config_check_line(check, "gpus");
	char **ids = split_list(pc->gpu_list);
	size_t n = 0;

	for (; ids[n] != NULL; n++) {
		for (const char *c = ids[n]; *c != '\0'; c++)
			if (!isalnum((unsigned char)*c) && *c != '-') {
				config_check_error(check, line,
						   "gpus: '%s' is not a GPU id "
						   "(a number or a UUID)",
						   ids[n]);
				strv_free(ids);
				return;
			}
	}
	strv_free(ids);
	if (strcmp(pc->launcher, "local") != 0)
		config_check_error(check, line,
				   "gpus is for launcher local (Slurm gives "
				   "runs their GPUs)");
	else if (pc->gpus == 0 || n < pc->gpus)
		config_check_error(check, line,
				   "gpus lists %zu GPU%s, fewer than one run's "
				   "gpus_per_job (%u)",
				   n, n == 1 ? "" : "s", pc->gpus);
	else if (config_check_line(check, "max_concurrent") == 0)
		cfg->max_concurrent = (unsigned int)(n / pc->gpus);
}

static void
proc_check_config(struct config_backend *cfg, struct config_check *check)
{
	struct process_config *pc = cfg->opts;

	if (pc->command == NULL ||
	    pc->command[strspn(pc->command, " \t")] == '\0')
		config_check_error(check, 0,
				   "command is missing: the trainer's command "
				   "line, e.g. command = python3 train.py "
				   "--lr {learning_rate}");
	if (pc->workdir == NULL)
		config_check_error(check, 0,
				   "workdir is missing: the directory where "
				   "each job gets its own directory");
	if (pc->gpu_list != NULL)
		check_gpus(cfg, check);
}

/* Whether `cmd` names an executable: a path, or a name on PATH. */
static bool
on_path(const char *cmd)
{
	const char *path = getenv("PATH");
	bool found = false;
	char *copy, *dir, *save = NULL;

	if (strchr(cmd, '/') != NULL)
		return access(cmd, X_OK) == 0;
	copy = xstrdup(path ? path : "/usr/bin:/bin");
	for (dir = strtok_r(copy, ":", &save); dir != NULL && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		char *full = xasprintf("%s/%s", *dir ? dir : ".", cmd);

		found = access(full, X_OK) == 0;
		free(full);
	}
	free(copy);
	return found;
}

/* The work directory must exist or be creatable, and be writable; a
 * Slurm launcher's commands must be there. */
static int
proc_check_host(const struct config_backend *cfg, char *err, size_t errlen)
{
	const struct process_config *pc = cfg->opts;
	char *probe;
	int rc = mkdir_p(pc->workdir, 0755), fd;

	if (rc != 0) {
		snprintf(err, errlen, "workdir %s: %s", pc->workdir,
			 strerror(-rc));
		return -EINVAL;
	}
	probe = xasprintf("%s/.rftd-probe-%ld", pc->workdir, (long)getpid());
	fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "workdir %s is not writable: %s",
			 pc->workdir, strerror(errno));
		free(probe);
		return -EINVAL;
	}
	close(fd);
	unlink(probe);
	free(probe);
	if (strcmp(pc->launcher, "slurm") == 0) {
		const char *cmds[] = {pc->sbatch, pc->squeue, pc->sacct,
				      pc->scancel};

		for (size_t i = 0; i < ARRAY_LEN(cmds); i++) {
			if (!on_path(cmds[i])) {
				snprintf(err, errlen,
					 "launcher slurm: %s is not an "
					 "executable here (PATH=%s)",
					 cmds[i],
					 getenv("PATH") ? getenv("PATH") : "");
				return -EINVAL;
			}
		}
	}
	return 0;
}

const struct backend_type process_backend_type = {
    .name = "process",
    .help = "a trainer run per job, on this machine or on Slurm",
    .options = process_options,
    .noptions = ARRAY_LEN(process_options),
    .opts_size = sizeof(struct process_config),
    .check_config = proc_check_config,
    .check_host = proc_check_host,
    .create = proc_create,
};
