/*
 * The control server (see control.h).  Each client owns a pipe handle and
 * an idle timer; it is freed when both have closed.  The control itself
 * is freed once its listener and every client have closed.
 */
#include "control.h"

#include "daemon.h"
#include "log.h"
#include "methods.h"
#include "proto.h"
#include "util.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CLIENT_HIGH_WATER (8u << 20) /* stop reading above this backlog */
#define CLIENT_LOW_WATER  (1u << 20) /* resume below this */
#define READ_CHUNK	  65536
#define OVERFLOW_UID	  65534 /* what namespaces map unknown users to */

struct client {
	uv_pipe_t pipe;
	uv_timer_t idle_timer; /* closes a client silent for too long */
	struct control *ctl;
	struct proto_reader reader;
	struct peer peer;
	unsigned int id;	/* for log lines */
	size_t queued;		/* reply bytes handed to libuv, unwritten */
	unsigned int deferred;	/* replies that will come later */
	bool reading;		/* uv_read_start() in effect */
	bool close_after_write; /* close once the queue drains */
	bool closing;
	int open_handles; /* handles not yet closed */
	struct client *next;
	struct client **pprev;
	char rbuf[READ_CHUNK];
};

struct control {
	struct daemon *d;
	uv_pipe_t listener;
	bool listener_open;
	bool closing;
	char *path;
	char *display_path; /* the socket's path, for status */
	gid_t gid;	    /* socket group, or (gid_t)-1 */
	struct client *clients;
	unsigned int nclients;
	unsigned int next_id;
	uint64_t idle_ms;
	unsigned int max_clients;
	unsigned int deferred; /* replies promised but not yet sent */
};

struct control_reply_to {
	struct control *ctl;
	unsigned int client_id;
	cJSON *id; /* the request's id (copied) */
};

struct write_req {
	uv_write_t req;
	struct client *c;
	size_t len;
	char *data;
};

static void client_close(struct client *c);
static void client_process(struct client *c);

static void
control_maybe_free(struct control *ctl)
{
	if (!ctl->closing || ctl->listener_open || ctl->clients != NULL ||
	    ctl->deferred > 0)
		return;
	free(ctl->path);
	free(ctl->display_path);
	free(ctl);
}

/* --- clients ------------------------------------------------------------ */

static void
on_client_handle_closed(uv_handle_t *h)
{
	struct client *c = h->data;
	struct control *ctl = c->ctl;

	if (--c->open_handles > 0)
		return;
	*c->pprev = c->next;
	if (c->next != NULL)
		c->next->pprev = c->pprev;
	ctl->nclients--;
	log_debug("control: client %u closed", c->id);
	proto_reader_free(&c->reader);
	free(c);
	control_maybe_free(ctl);
}

static void
client_close(struct client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->pipe, on_client_handle_closed);
	uv_close((uv_handle_t *)&c->idle_timer, on_client_handle_closed);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct client *c = h->data;

	(void)suggested;
	*buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void
on_idle(uv_timer_t *t)
{
	struct client *c = t->data;

	log_info("control: client %u idle for %llu s, closing", c->id,
		 (unsigned long long)(c->ctl->idle_ms / 1000));
	client_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void
client_reading(struct client *c, bool on)
{
	if (c->closing || c->reading == on)
		return;
	if (on &&
	    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0)
		client_close(c);
	else if (!on)
		uv_read_stop((uv_stream_t *)&c->pipe);
	c->reading = on;
}

static void
on_written(uv_write_t *req, int status)
{
	struct write_req *wr = (struct write_req *)req;
	struct client *c = wr->c;

	c->queued -= wr->len;
	free(wr->data);
	free(wr);
	if (c->closing)
		return;
	if (status < 0) {
		log_debug("control: client %u: write: %s", c->id,
			  uv_strerror(status));
		client_close(c);
		return;
	}
	if (c->close_after_write && c->queued == 0 && c->deferred == 0) {
		client_close(c);
		return;
	}
	if (c->queued < CLIENT_LOW_WATER) {
		client_process(c);
		if (!c->close_after_write)
			client_reading(c, true);
	}
}

/* Queues `frame` (malloc'd, taken over) for the client. */
static void
client_send(struct client *c, char *frame, size_t len)
{
	struct write_req *wr;
	uv_buf_t buf;

	if (c->closing || frame == NULL) {
		free(frame);
		return;
	}
	wr = xmalloc(sizeof(*wr));
	wr->c = c;
	wr->len = len;
	wr->data = frame;
	buf = uv_buf_init(frame, (unsigned int)len);
	if (uv_write(&wr->req, (uv_stream_t *)&c->pipe, &buf, 1, on_written) !=
	    0) {
		free(frame);
		free(wr);
		client_close(c);
		return;
	}
	c->queued += len;
	if (c->queued > CLIENT_HIGH_WATER)
		client_reading(c, false);
}

static void
client_send_error(struct client *c, const cJSON *id, int code,
		  const char *message)
{
	size_t len;
	char *frame = proto_error_frame(id, code, message, NULL, &len);

	client_send(c, frame, len);
}

static void
client_handle_frame(struct client *c, const char *frame, size_t len)
{
	struct proto_request req;
	struct proto_error err = {0};
	cJSON *result = NULL;
	char *out;
	size_t n;
	int rc;

	rc = proto_request_parse(frame, len, &req, &err);
	if (rc == 0)
		rc = methods_dispatch(c->ctl->d, &c->peer, &req, &result, &err);
	if (rc == METHODS_DEFERRED) {
		proto_request_free(&req);
		return;
	}
	if (req.id == NULL && req.root != NULL && cJSON_IsObject(req.root) &&
	    rc != PROTO_E_PARSE_ERROR && rc != PROTO_E_INVALID_REQUEST) {
		/* A notification: JSON-RPC sends no reply, even on error. */
		if (rc != 0)
			log_debug("control: client %u: notification: %s", c->id,
				  err.message);
		cJSON_Delete(result);
		proto_request_free(&req);
		return;
	}
	if (rc == 0)
		out = proto_result_frame(req.id, result, &n);
	else /* a failed method may leave details for the error's data */
		out = proto_error_frame(req.id, rc, err.message, result, &n);
	proto_request_free(&req);
	client_send(c, out, n);
}

/* Answers buffered frames while the client's backlog allows. */
static void
client_process(struct client *c)
{
	const char *frame;
	size_t len;
	int rc;

	while (!c->closing && c->queued <= CLIENT_HIGH_WATER &&
	       (rc = proto_reader_next(&c->reader, &frame, &len)) != 0) {
		if (rc == -EMSGSIZE) {
			char msg[96];

			snprintf(
			    msg, sizeof(msg),
			    "frame longer than %u bytes; dropped up to its "
			    "newline",
			    PROTO_MAX_FRAME);
			client_send_error(c, NULL, PROTO_E_FRAME_TOO_LARGE,
					  msg);
			continue;
		}
		client_handle_frame(c, frame, len);
	}
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct client *c = s->data;

	if (nread > 0) {
		uv_timer_start(&c->idle_timer, on_idle, c->ctl->idle_ms, 0);
		proto_reader_feed(&c->reader, buf->base, (size_t)nread);
		client_process(c);
		return;
	}
	if (nread == 0)
		return;
	if (nread != UV_EOF)
		log_debug("control: client %u: read: %s", c->id,
			  uv_strerror((int)nread));
	/* The client is done sending: finish the replies, then close. */
	client_reading(c, false);
	if (nread == UV_EOF && (c->queued > 0 || c->deferred > 0))
		c->close_after_write = true;
	else
		client_close(c);
}

/* --- accepting ---------------------------------------------------------- */

/* The peer's supplementary groups, from the kernel: how many. */
static size_t
peer_groups(int fd, gid_t *groups, size_t max)
{
	socklen_t len = (socklen_t)(max * sizeof(gid_t));

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
		return 0;
	return len / sizeof(gid_t);
}

static bool
peer_in_group(int fd, gid_t gid)
{
	gid_t groups[256];
	size_t n = peer_groups(fd, groups, ARRAY_LEN(groups));

	for (size_t i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/*
 * Reads the peer's credentials from the kernel and decides: the daemon's
 * own user, root, and (when configured) members of the socket group.
 */
static bool
peer_allowed(struct control *ctl, int fd, struct peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
	    len != sizeof(cred) || cred.pid <= 0)
		return false;
	peer->uid = cred.uid;
	peer->gid = cred.gid;
	peer->pid = cred.pid;
	{
		gid_t groups[ARRAY_LEN(peer->groups)];
		size_t n = peer_groups(fd, groups, ARRAY_LEN(groups));

		for (size_t i = 0; i < n; i++)
			peer->groups[i] = groups[i];
		peer->ngroups = (unsigned int)n;
	}
	if (cred.uid == OVERFLOW_UID && geteuid() != OVERFLOW_UID)
		return false;
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	if (ctl->gid != (gid_t)-1)
		return cred.gid == ctl->gid || peer_in_group(fd, ctl->gid);
	return false;
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct control *ctl = server->data;
	struct client *c;
	uv_os_fd_t fd;

	if (status < 0) {
		log_warnx("control: accept: %s", uv_strerror(status));
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->ctl = ctl;
	c->id = ++ctl->next_id;
	uv_pipe_init(&ctl->d->loop, &c->pipe, 0);
	uv_timer_init(&ctl->d->loop, &c->idle_timer);
	c->pipe.data = c;
	c->idle_timer.data = c;
	c->open_handles = 2;
	proto_reader_init(&c->reader, PROTO_MAX_FRAME);
	c->next = ctl->clients;
	if (c->next != NULL)
		c->next->pprev = &c->next;
	c->pprev = &ctl->clients;
	ctl->clients = c;
	ctl->nclients++;

	if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0 ||
	    uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0) {
		client_close(c);
		return;
	}
	if (!peer_allowed(ctl, fd, &c->peer)) {
		log_warnx("control: refused peer uid %u gid %u pid %d",
			  c->peer.uid, c->peer.gid, c->peer.pid);
		c->close_after_write = true;
		client_send_error(c, NULL, PROTO_E_PERMISSION,
				  "permission denied: this user may not "
				  "control rftd");
		return;
	}
	if (ctl->closing || ctl->nclients > ctl->max_clients) {
		c->close_after_write = true;
		client_send_error(c, NULL,
				  ctl->closing ? PROTO_E_SHUTTING_DOWN
					       : PROTO_E_BUSY,
				  ctl->closing ? "rftd is shutting down"
					       : "too many clients; try again");
		return;
	}
	c->peer.client_id = c->id;
	log_debug("control: client %u connected (uid %u pid %d)", c->id,
		  c->peer.uid, c->peer.pid);
	uv_timer_start(&c->idle_timer, on_idle, ctl->idle_ms, 0);
	client_reading(c, true);
}

/* --- the listener ------------------------------------------------------- */

/*
 * 0 when `path` is free (a stale socket file is removed), -EADDRINUSE when
 * a daemon answers there, -EEXIST when it is not a socket, else -errno.
 */
static int
claim_path(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat sb;
	int fd, rc;

	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(sb.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
	close(fd);
	if (rc == 0)
		return -EADDRINUSE;
	if (rc != -ECONNREFUSED && rc != -ENOENT)
		return rc;
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	log_info("control: removed stale socket %s", path);
	return 0;
}

static void
on_listener_closed(uv_handle_t *h)
{
	struct control *ctl = h->data;

	ctl->listener_open = false;
	control_maybe_free(ctl);
}

/* Whether members of `gid` may pass through the directory `st`. */
static bool
group_may_search(const struct stat *st, gid_t gid)
{
	return (st->st_mode & S_IXOTH) != 0 ||
	       (st->st_gid == gid && (st->st_mode & S_IXGRP) != 0);
}

/*
 * Makes the socket's missing directories: mode 0700, or with a socket
 * group 0750 and that group, whose members must pass through them to the
 * socket.  A directory that exists is left as it is; one that keeps the
 * group's members out is warned of, once.
 */
static int
make_socket_dir(const char *path, gid_t gid)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	mode_t mode = gid != (gid_t)-1 ? 0750 : 0700;
	bool warned = false;
	int rc = 0;

	if (slash == NULL || slash == dir)
		goto done;
	*slash = '\0';
	for (char *s = dir + 1;; s++) {
		char c = *s;
		struct stat st;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(dir, mode) == 0) {
			/* chmod: the umask must not take the group's search
			 * permission away. */
			if (gid != (gid_t)-1 &&
			    (chown(dir, (uid_t)-1, gid) != 0 ||
			     chmod(dir, mode) != 0)) {
				rc = -errno;
				break;
			}
		} else if (errno != EEXIST) {
			rc = -errno;
			break;
		} else if (gid != (gid_t)-1 && !warned && stat(dir, &st) == 0 &&
			   !group_may_search(&st, gid)) {
			struct group *gr = getgrgid(gid);
			char name[24];

			snprintf(name, sizeof(name), "%u", (unsigned)gid);
			log_warnx("control: members of group %s cannot reach "
				  "%s: %s is mode %04o, owner %u:%u",
				  gr != NULL ? gr->gr_name : name, path, dir,
				  (unsigned)(st.st_mode & 07777),
				  (unsigned)st.st_uid, (unsigned)st.st_gid);
			warned = true;
		}
		*s = c;
		if (c == '\0')
			break;
	}
done:
	free(dir);
	return rc;
}

struct control *
control_open(struct daemon *d, const char *path, gid_t gid, char *err,
	     size_t errlen)
{
	struct control *ctl = xcalloc(1, sizeof(*ctl));
	mode_t mode = gid != (gid_t)-1 ? 0660 : 0600;
	mode_t old_mask;
	int rc;

	ctl->d = d;
	ctl->path = xstrdup(path);
	ctl->gid = gid;
	ctl->idle_ms = 300 * 1000;
	ctl->max_clients = 64;

	rc = make_socket_dir(path, gid);
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot create its directory: %s",
			 path, strerror(-rc));
		goto fail;
	}
	rc = claim_path(path);
	if (rc == -EADDRINUSE) {
		snprintf(err, errlen, "another rftd is running at %s", path);
		goto fail;
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path,
			 rc == -EEXIST ? "exists and is not a socket"
				       : strerror(-rc));
		goto fail;
	}

	uv_pipe_init(&d->loop, &ctl->listener, 0);
	ctl->listener.data = ctl;
	ctl->listener_open = true;
	/* The socket is born with its final mode: no window at 0777. */
	old_mask = umask(0777 & ~mode);
	rc = uv_pipe_bind(&ctl->listener, path);
	umask(old_mask);
	if (rc == 0 && gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) != 0)
		rc = -errno;
	if (rc == 0 && chmod(path, mode) != 0)
		rc = -errno;
	if (rc == 0)
		rc =
		    uv_listen((uv_stream_t *)&ctl->listener, 64, on_connection);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, uv_strerror(rc));
		unlink(path);
		ctl->closing = true;
		uv_close((uv_handle_t *)&ctl->listener, on_listener_closed);
		return NULL;
	}
	log_info("control: listening on %s (mode %04o)", path, (unsigned)mode);
	return ctl;
fail:
	free(ctl->path);
	free(ctl);
	return NULL;
}

struct control_reply_to *
control_defer(struct control *ctl, unsigned int client_id, const cJSON *id)
{
	struct control_reply_to *to = xcalloc(1, sizeof(*to));

	to->ctl = ctl;
	to->client_id = client_id;
	to->id = id != NULL ? cJSON_Duplicate(id, 1) : NULL;
	ctl->deferred++;
	for (struct client *c = ctl->clients; c != NULL; c = c->next)
		if (c->id == client_id)
			c->deferred++;
	return to;
}

/* Sends the reply (when `send`), then lets the handle go. */
static void
reply_to(struct control_reply_to *to, bool send, int code, const char *message,
	 cJSON *result)
{
	struct control *ctl = to->ctl;
	struct client *c;
	char *frame;
	size_t len;

	for (c = ctl->clients; c != NULL; c = c->next)
		if (c->id == to->client_id && !c->closing)
			break;
	if (c != NULL)
		c->deferred--;
	if (c == NULL || to->id == NULL || !send) {
		cJSON_Delete(result); /* gone, or a notification */
	} else {
		frame = code == 0 ? proto_result_frame(to->id, result, &len)
				  : proto_error_frame(to->id, code, message,
						      result, &len);
		client_send(c, frame, len);
	}
	/* A client that half-closed leaves once it has everything. */
	if (c != NULL && c->close_after_write && c->queued == 0 &&
	    c->deferred == 0)
		client_close(c);
	cJSON_Delete(to->id);
	free(to);
	ctl->deferred--;
	control_maybe_free(ctl);
}

void
control_answer(struct control_reply_to *to, int code, const char *message,
	       cJSON *result)
{
	reply_to(to, true, code, message, result);
}

void
control_forget(struct control_reply_to *to)
{
	reply_to(to, false, 0, NULL, NULL);
}

struct control *
control_open_fd(struct daemon *d, int fd, gid_t gid, char *err, size_t errlen)
{
	struct control *ctl = xcalloc(1, sizeof(*ctl));
	int rc;

	struct sockaddr_un sa;
	socklen_t salen = sizeof(sa);
	struct stat sb;

	ctl->d = d;
	ctl->gid = gid;
	ctl->idle_ms = 300 * 1000;
	ctl->max_clients = 64;
	/*
	 * The manager made the socket: its path is only for display, and a
	 * group-writable socket file lets its group in, as the file mode
	 * promises, unless the configuration names a group of its own.
	 */
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) == 0 &&
	    sa.sun_path[0] == '/') {
		ctl->display_path = xstrdup(sa.sun_path);
		if (gid == (gid_t)-1 && stat(sa.sun_path, &sb) == 0 &&
		    (sb.st_mode & 0060) == 0060)
			ctl->gid = sb.st_gid;
	}
	uv_pipe_init(&d->loop, &ctl->listener, 0);
	ctl->listener.data = ctl;
	ctl->listener_open = true;
	rc = uv_pipe_open(&ctl->listener, fd);
	if (rc == 0)
		rc =
		    uv_listen((uv_stream_t *)&ctl->listener, 64, on_connection);
	if (rc != 0) {
		snprintf(err, errlen, "passed socket %d: %s", fd,
			 uv_strerror(rc));
		ctl->closing = true;
		uv_close((uv_handle_t *)&ctl->listener, on_listener_closed);
		return NULL;
	}
	log_info("control: serving on the passed socket (fd %d)", fd);
	return ctl;
}

void
control_set_limits(struct control *ctl, unsigned int idle_timeout_s,
		   unsigned int max_clients)
{
	ctl->idle_ms = (uint64_t)idle_timeout_s * 1000;
	ctl->max_clients = max_clients;
}

const char *
control_path(const struct control *ctl)
{
	return ctl->path ? ctl->path : ctl->display_path;
}

unsigned int
control_clients(const struct control *ctl)
{
	return ctl->nclients;
}

void
control_close(struct control *ctl)
{
	struct client *c, *next;

	if (ctl == NULL || ctl->closing)
		return;
	ctl->closing = true;
	if (ctl->path != NULL && unlink(ctl->path) != 0 && errno != ENOENT)
		log_warn("control: unlink %s", ctl->path);
	for (c = ctl->clients; c != NULL; c = next) {
		next = c->next;
		client_close(c);
	}
	uv_close((uv_handle_t *)&ctl->listener, on_listener_closed);
}
