/*
 * Layer: the API's counters, beside api-db.c. Requests add to one table
 * in memory; a flusher thread sends what accumulated to the Redis hash
 * PREFIX:metrics:api every METRICS_FLUSH_MS in one pipeline, so a request
 * never waits for metrics and a Redis failure only delays them.
 * Calls api-deps.c, api-req.c and lib/.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "oc-log.h"
#include "oc-util.h"
#include "oc-xmalloc.h"

#define METRIC_SLOTS		512
#define METRIC_NAME_MAX		64
#define METRICS_FLUSH_MS	100

struct metric {
	char		 name[METRIC_NAME_MAX];
	long long	 count;
};

static struct metric table[METRIC_SLOTS];
/* Additions refused because every slot held another name. */
static long long dropped;
static pthread_mutex_t metrics_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t metrics_cv;
static bool metrics_stopping;
static pthread_t flusher;
static bool flusher_started;

/* FNV-1a of a counter name, for its slot. */
static size_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h % METRIC_SLOTS;
}

/*
 * Add n to a counter; the caller holds metrics_mu. With the table full
 * the addition is refused and counted: the flush reports it as the
 * counter metrics_dropped, which has no slot of its own.
 */
static void
add_locked(const char *name, long long n)
{
	size_t i = name_hash(name), tries;

	for (tries = 0; tries < METRIC_SLOTS; tries++) {
		struct metric *m = &table[(i + tries) % METRIC_SLOTS];

		if (m->name[0] == '\0')
			snprintf(m->name, sizeof(m->name), "%s", name);
		if (strcmp(m->name, name) == 0) {
			m->count += n;
			return;
		}
	}
	dropped++;
}

/*
 * Count the finished request: per route, status class, error code,
 * cumulative latency buckets and cache use.
 */
void
api_metrics_record(struct api_req *req)
{
	static const struct { const char *name; int64_t le_us; } buckets[] = {
		{ "1ms", 1000 }, { "5ms", 5000 }, { "25ms", 25000 },
		{ "100ms", 100000 }, { "500ms", 500000 }, { "inf", -1 },
	};
	int64_t us = oc_mono_us() - req->started;
	char name[METRIC_NAME_MAX];
	size_t i;

	if (req->route == NULL || req->status == 0)
		return;
	pthread_mutex_lock(&metrics_mu);
	add_locked("requests_total", 1);
	snprintf(name, sizeof(name), "requests_%s", req->route);
	add_locked(name, 1);
	snprintf(name, sizeof(name), "status_%dxx", req->status / 100);
	add_locked(name, 1);
	snprintf(name, sizeof(name), "latency_%s_sum_us", req->route);
	add_locked(name, us);
	for (i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
		if (buckets[i].le_us >= 0 && us > buckets[i].le_us)
			continue;
		snprintf(name, sizeof(name), "latency_%s_le_%s", req->route,
		    buckets[i].name);
		add_locked(name, 1);
	}
	if (req->err_code != NULL) {
		snprintf(name, sizeof(name), "errors_%s", req->err_code);
		add_locked(name, 1);
	}
	if (req->cache_hits > 0)
		add_locked("cache_hits", req->cache_hits);
	if (req->cache_misses > 0)
		add_locked("cache_misses", req->cache_misses);
	pthread_mutex_unlock(&metrics_mu);
}

/*
 * Send the counters accumulated so far in one pipeline. When Redis
 * cannot be reached they are kept for the next flush; when the link
 * breaks halfway they are dropped rather than maybe counted twice.
 */
void
api_metrics_flush(struct api_thread *thr)
{
	static struct metric batch[METRIC_SLOTS + 1];
	static pthread_mutex_t flush_mu = PTHREAD_MUTEX_INITIALIZER;
	struct api_req req;
	redisContext *c;
	void *reply;
	size_t i, n = 0;
	bool requeue = false;

	pthread_mutex_lock(&flush_mu);
	pthread_mutex_lock(&metrics_mu);
	for (i = 0; i < METRIC_SLOTS; i++) {
		if (table[i].count == 0)
			continue;
		batch[n++] = table[i];
		table[i].count = 0;
	}
	if (dropped > 0) {
		snprintf(batch[n].name, sizeof(batch[n].name),
		    "metrics_dropped");
		batch[n++].count = dropped;
		dropped = 0;
	}
	pthread_mutex_unlock(&metrics_mu);
	if (n == 0)
		goto done;
	api_req_init(&req, thr, NULL, NULL);
	c = api_redis_ctx(&req);
	if (c == NULL) {
		requeue = true;
		goto done;
	}
	for (i = 0; i < n; i++)
		redisAppendCommand(c, "HINCRBY %s %s %lld",
		    thr->server->keys.metrics_api, batch[i].name, batch[i].count);
	for (i = 0; i < n; i++) {
		if (redisGetReply(c, &reply) != REDIS_OK) {
			log_warnx("metrics: %zu counters lost", n);
			api_redis_failed(&req);
			break;
		}
		freeReplyObject(reply);
	}
done:
	if (requeue) {
		pthread_mutex_lock(&metrics_mu);
		for (i = 0; i < n; i++)
			add_locked(batch[i].name, batch[i].count);
		pthread_mutex_unlock(&metrics_mu);
	}
	pthread_mutex_unlock(&flush_mu);
}

/* The flusher: every METRICS_FLUSH_MS, and once more when stopping. */
static void *
flusher_main(void *arg)
{
	struct api_thread thr;
	bool stop = false;

	memset(&thr, 0, sizeof(thr));
	thr.server = arg;
	while (!stop) {
		pthread_mutex_lock(&metrics_mu);
		if (!metrics_stopping)
			oc_cond_wait_ms(&metrics_cv, &metrics_mu,
			    METRICS_FLUSH_MS);
		stop = metrics_stopping;
		pthread_mutex_unlock(&metrics_mu);
		api_metrics_flush(&thr);
	}
	if (thr.redis != NULL)
		redisFree(thr.redis);
	return NULL;
}

/* Start the flusher thread of a daemon serving server. */
bool
api_metrics_start(struct api_server *server)
{
	oc_cond_init_mono(&metrics_cv);
	if (pthread_create(&flusher, NULL, flusher_main, server) != 0)
		return false;
	flusher_started = true;
	return true;
}

/* Flush what is left and stop the flusher thread. */
void
api_metrics_stop(void)
{
	if (!flusher_started)
		return;
	pthread_mutex_lock(&metrics_mu);
	metrics_stopping = true;
	pthread_cond_signal(&metrics_cv);
	pthread_mutex_unlock(&metrics_mu);
	pthread_join(flusher, NULL);
	flusher_started = false;
}
