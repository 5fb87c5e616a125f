/* Blocking JSON-RPC client over the control socket (see client.h). */
#include "client.h"

#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define REPLY_MAX (64u << 20) /* replies may be larger than requests */

struct client {
	int fd;
	int timeout_ms;
	int64_t next_id;
	struct proto_reader reader;
};

struct client *
client_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct client *c;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->timeout_ms = 30000;
	c->next_id = 1;
	proto_reader_init(&c->reader, REPLY_MAX);
	return c;
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	proto_reader_free(&c->reader);
	free(c);
}

int
client_peer_pid(const struct client *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return 0;
	return (int)cred.pid;
}

void
client_set_timeout(struct client *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

static int
send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Waits for the next frame; 0 with *frame set, or -errno. */
static int
next_frame(struct client *c, const char **frame, size_t *len)
{
	uint64_t deadline = now_mono_ns() + (uint64_t)c->timeout_ms * 1000000u;
	char buf[65536];

	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		uint64_t now = now_mono_ns();
		ssize_t n;
		int rc = proto_reader_next(&c->reader, frame, len);

		if (rc == 1)
			return 0;
		if (rc < 0)
			return rc;
		if (now >= deadline)
			return -ETIMEDOUT;
		rc = poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0)
			continue;
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		if (n > 0)
			proto_reader_feed(&c->reader, buf, (size_t)n);
	}
}

int
client_call(struct client *c, const char *method, cJSON *params,
	    struct proto_reply *rep, char *err, size_t errlen)
{
	int64_t id = c->next_id++;
	struct proto_error perr;
	const char *frame;
	size_t len;
	char *req = proto_request_frame(id, method, params, &len);
	int rc;

	if (req == NULL) {
		snprintf(err, errlen, "cannot encode the request");
		return -ENOMEM;
	}
	rc = send_all(c->fd, req, len);
	free(req);
	for (;;) {
		/*
		 * Read even when the send failed: rftd may have answered (a
		 * refusal) and closed before our request arrived.
		 */
		int read_rc = next_frame(c, &frame, &len);

		if (read_rc != 0 && rc != 0) {
			snprintf(err, errlen, "send: %s", strerror(-rc));
			return rc;
		}
		rc = read_rc;
		if (rc != 0) {
			snprintf(err, errlen, "%s",
				 rc == -ECONNRESET
				     ? "rftd closed the connection"
				 : rc == -ETIMEDOUT ? "no reply in time"
						    : strerror(-rc));
			return rc;
		}
		if (proto_reply_parse(frame, len, rep, &perr) != 0) {
			proto_reply_free(rep);
			snprintf(err, errlen, "bad reply from rftd: %s",
				 perr.message);
			return -EPROTO;
		}
		/* An id-less error is about the connection: it is ours. */
		if (rep->id == id || (rep->id == -1 && rep->code != 0))
			return 0;
		proto_reply_free(rep);
	}
}
