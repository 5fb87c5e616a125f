/*
 * ctl_latency: N round trips of daemon.status from one client over the
 * control socket; prints the latency percentiles.  A benchmark, not a
 * test: run it through bench/ctl_latency.sh, which starts an idle rftd,
 * or bench/scale.sh, which paces the calls while jobs run.
 *
 *   ctl_latency -s SOCKET [-n COUNT] [-m METHOD] [-i PAUSE_MS] [-t SECS]
 *
 * -i waits PAUSE_MS between one answer and the next call, so that the
 * calls sample the daemon over time instead of queueing behind a tick;
 * -t stops after SECS seconds, or COUNT calls if sooner.
 */
#include "client.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const uint64_t *sorted, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);

	return (double)sorted[i] / 1000.0;
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *method = "daemon.status";
	int64_t count = 10000, pause_ms = 0, secs = 0;
	struct client *c;
	uint64_t *lat, t0, total;
	char err[512];
	int ch;

	while ((ch = getopt(argc, argv, "s:n:m:i:t:")) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'n':
			if (parse_i64(optarg, 1, 100000000, &count) != 0) {
				fprintf(stderr, "-n: bad count '%s'\n", optarg);
				return 2;
			}
			break;
		case 'm':
			method = optarg;
			break;
		case 'i':
			if (parse_i64(optarg, 0, 60000, &pause_ms) != 0) {
				fprintf(stderr, "-i: bad pause '%s'\n", optarg);
				return 2;
			}
			break;
		case 't':
			if (parse_i64(optarg, 1, 86400, &secs) != 0) {
				fprintf(stderr, "-t: bad duration '%s'\n",
					optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr,
				"usage: ctl_latency -s SOCKET [-n COUNT] "
				"[-m METHOD] [-i PAUSE_MS] [-t SECS]\n");
			return 2;
		}
	}
	if (path == NULL) {
		fprintf(stderr, "ctl_latency: -s SOCKET is required\n");
		return 2;
	}
	c = client_connect(path, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "ctl_latency: %s: %s\n", path, err);
		return 1;
	}
	lat = xcalloc((size_t)count, sizeof(*lat));
	t0 = now_mono_ns();
	for (int64_t i = 0; i < count; i++) {
		struct proto_reply rep;
		uint64_t start = now_mono_ns();

		if (i > 0 && secs > 0 &&
		    start - t0 >= (uint64_t)secs * 1000000000u) {
			count = i; /* at least one call was made */
			break;
		}
		if (client_call(c, method, NULL, &rep, err, sizeof(err)) != 0 ||
		    rep.code != 0) {
			fprintf(stderr, "ctl_latency: call %lld: %s\n",
				(long long)i, rep.code ? rep.message : err);
			return 1;
		}
		proto_reply_free(&rep);
		lat[i] = now_mono_ns() - start;
		if (pause_ms > 0)
			usleep((useconds_t)pause_ms * 1000);
	}
	total = now_mono_ns() - t0;
	client_free(c);
	qsort(lat, (size_t)count, sizeof(*lat), cmp_u64);
	printf("%s: %lld round trips in %.3f s (%.0f/s)\n", method,
	       (long long)count, (double)total / 1e9,
	       (double)count / ((double)total / 1e9));
	printf("latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max "
	       "%.1f\n",
	       pct(lat, (size_t)count, 50), pct(lat, (size_t)count, 90),
	       pct(lat, (size_t)count, 99), pct(lat, (size_t)count, 99.9),
	       (double)lat[count - 1] / 1000.0);
	free(lat);
	return 0;
}
