/*
 * sweep_create: submits a grid sweep of COUNT trials (default 10,000)
 * through the control socket and prints trials per second from request
 * to durable commit (the reply comes after the commit), then the
 * daemon's resident memory.  Run it through bench/sweep_create.sh.
 *
 *   sweep_create -s SOCKET -d DATASET -p RFTD_PID [-n COUNT] [-r RUN]
 */
#include "client.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cJSON *
list(int n, double first, double step)
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(first + step * i));
	return a;
}

/* 2 graders x 10 lr x 10 epochs x 5 batch sizes x (count / 1000) seeds. */
static cJSON *
grid_spec(const char *dataset, int64_t count, int64_t run)
{
	cJSON *spec = cJSON_CreateObject(), *hps, *graders, *g;
	char name[64];

	snprintf(name, sizeof(name), "bench-%lld", (long long)run);
	cJSON_AddStringToObject(spec, "name", name);
	cJSON_AddStringToObject(spec, "backend", "sim");
	cJSON_AddStringToObject(spec, "model", "o4-mini-2025-04-16");
	cJSON_AddStringToObject(spec, "training_file", dataset);
	hps = cJSON_AddObjectToObject(spec, "hyperparameters");
	cJSON_AddItemToObject(hps, "learning_rate_multiplier",
			      list(10, 0.1, 0.2));
	cJSON_AddItemToObject(hps, "n_epochs", list(10, 1, 1));
	cJSON_AddItemToObject(hps, "batch_size", list(5, 8, 8));
	cJSON_AddItemToObject(spec, "seeds",
			      list((int)(count / 1000), (double)run * 1000, 1));
	graders = cJSON_AddObjectToObject(spec, "graders");
	for (int i = 0; i < 2; i++) {
		g = cJSON_CreateObject();
		cJSON_AddStringToObject(g, "type", "string_check");
		cJSON_AddStringToObject(g, "name", i ? "ne" : "eq");
		cJSON_AddStringToObject(g, "input", "{{sample.output_text}}");
		cJSON_AddStringToObject(g, "reference", "{{item.answer}}");
		cJSON_AddStringToObject(g, "operation", i ? "ne" : "eq");
		cJSON_AddItemToObject(graders, i ? "ne" : "eq", g);
	}
	return spec;
}

static long
rss_kib(long pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *dataset = NULL;
	int64_t count = 10000, pid = 0, run = 1;
	struct proto_reply rep;
	struct client *c;
	cJSON *params;
	uint64_t t0, t1;
	char err[512];
	int ch;

	while ((ch = getopt(argc, argv, "s:d:p:n:r:")) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'd':
			dataset = optarg;
			break;
		case 'p':
			parse_i64(optarg, 1, INT32_MAX, &pid);
			break;
		case 'n':
			parse_i64(optarg, 1000, 1000000, &count);
			break;
		case 'r':
			parse_i64(optarg, 1, 1000000, &run);
			break;
		default:
			fprintf(stderr, "usage: sweep_create -s SOCKET -d "
					"DATASET -p PID [-n COUNT] [-r RUN]\n");
			return 2;
		}
	}
	if (path == NULL || dataset == NULL) {
		fprintf(stderr, "sweep_create: -s and -d are required\n");
		return 2;
	}
	c = client_connect(path, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "sweep_create: %s: %s\n", path, err);
		return 1;
	}
	client_set_timeout(c, 600000);
	if (pid > 0)
		printf("rftd RSS before: %ld KiB\n", rss_kib((long)pid));
	params = cJSON_CreateObject();
	cJSON_AddItemToObject(params, "spec", grid_spec(dataset, count, run));
	cJSON_AddTrueToObject(params, "yes"); /* past the plan's warnings */
	t0 = now_mono_ns();
	if (client_call(c, "sweep.submit", params, &rep, err, sizeof(err)) !=
		0 ||
	    rep.code != 0) {
		fprintf(stderr, "sweep_create: %s\n",
			rep.code ? rep.message : err);
		return 1;
	}
	t1 = now_mono_ns();
	printf("sweep.submit of %.0f trials: %.1f ms, %.0f trials/s (request "
	       "to durable commit)\n",
	       cJSON_GetObjectItem(rep.result, "trials")->valuedouble,
	       (double)(t1 - t0) / 1e6,
	       cJSON_GetObjectItem(rep.result, "trials")->valuedouble /
		   ((double)(t1 - t0) / 1e9));
	proto_reply_free(&rep);
	client_free(c);
	if (pid > 0)
		printf("rftd RSS after: %ld KiB\n", rss_kib((long)pid));
	return 0;
}
