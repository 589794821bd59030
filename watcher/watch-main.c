/*
 * ordercast-watch: the only reader of MongoDB change streams. Every
 * change to orders, products and users becomes one event in Redis,
 * exactly once, in the database's order.
 *
 * The top layer of the watcher: start-up, the loop, and the failure
 * policy. It alone calls both the MongoDB side (watch-mongo.c), which
 * fills the queue, and the Redis side (watch-redis.c), which drains it.
 */
#include "config.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oc-backoff.h"
#include "oc-config.h"
#include "oc-daemon.h"
#include "oc-log.h"
#include "watch.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000
/* Lower for Redis, so the watcher finds a new primary soon after it. */
#define REDIS_BACKOFF_MAX_MS 2000
/* Longest sleep of a backoff wait, so the heartbeat keeps its period. */
#define BACKOFF_SLICE_MS 250

#define OPT_FOREGROUND	OC_DAEMON_OPT_OWN

struct watch {
	struct watch_mongo mongo;
	struct watch_redis redis;
	struct watch_queue queue;
	struct watch_counters total;

	/* A fault was logged and no real work succeeded since. */
	bool mongo_down;
	bool redis_down;
	bool leading;		/* the loop acts on the lease it holds */
	struct oc_backoff mongo_backoff;
	struct oc_backoff redis_backoff;
};

/*
 * Every batch allocates and frees the same large buffers (cursor replies
 * up to 16 MB, pipelines); by default glibc hands them back to the kernel
 * and faults them in again each time, which cost as much CPU as all our
 * own work. Keep them instead: the watcher's memory use is bounded.
 */
static void
tune_malloc(void)
{
#ifdef M_MMAP_THRESHOLD
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_TOP_PAD, 4 * 1024 * 1024);
#endif
}

/* What the log calls Redis: the address, or the Sentinel master name. */
static const char *
redis_name(const struct watch *w)
{
	const struct oc_config *cfg = w->redis.cfg;

	return cfg->nsentinels > 0 ? cfg->redis_master : cfg->redis;
}

/*
 * Stop publishing: what was queued is read again from MongoDB by
 * whoever leads next, from the token Redis really holds.
 */
static void
stop_publishing(struct watch *w)
{
	watch_queue_drop(&w->queue);
	watch_mongo_close_stream(&w->mongo);
	w->leading = false;
}

/*
 * A Redis fault: log it once per outage, then start both sides over.
 * The next connection finds the primary again (through the sentinels
 * when configured) and takes the lease again if it is still free.
 */
static void
redis_fault(struct watch *w, const char *what)
{
	w->total.errors++;
	if (!w->redis_down)
		log_warnx("redis %s: %s; retrying with backoff",
		    redis_name(w), what);
	else
		log_debug("redis %s: %s (still down)", redis_name(w), what);
	w->redis_down = true;
	watch_redis_close(&w->redis);
	stop_publishing(w);
}

/* The lease went to another watcher (or Redis lost it): stand by. */
static void
check_lease(struct watch *w)
{
	if (!w->leading || w->redis.leader)
		return;
	log_warnx("redis %s: the lease is lost; standing by", redis_name(w));
	stop_publishing(w);
}

/* A MongoDB fault: log it once per outage; the loop reopens later. */
static void
mongo_fault(struct watch *w, const bson_error_t *err)
{
	w->total.errors++;
	if (!w->mongo_down)
		log_warnx("mongodb: %s (code %u); retrying with backoff",
		    err->message, err->code);
	else
		log_debug("mongodb: %s (code %u)", err->message, err->code);
	w->mongo_down = true;
	watch_mongo_drop_client(&w->mongo);
}

/* Real work went through: Redis is back, its delays start over. */
static void
redis_works(struct watch *w)
{
	if (w->redis_down) {
		log_info("redis %s: connected again", redis_name(w));
		w->total.reconnects++;
	}
	w->redis_down = false;
	oc_backoff_success(&w->redis_backoff);
}

/* A read was answered: MongoDB is back, its delays start over. */
static void
mongo_works(struct watch *w)
{
	if (w->mongo_down) {
		log_info("mongodb: change stream open again");
		w->total.reconnects++;
	}
	w->mongo_down = false;
	oc_backoff_success(&w->mongo_backoff);
}

/* The heartbeat, when due; a beat that went through shows Redis works. */
static void
heartbeat(struct watch *w, bool force)
{
	char err[256];
	int sent;

	sent = watch_redis_heartbeat(&w->redis, force, err, sizeof(err));
	if (sent < 0)
		redis_fault(w, err);
	else if (sent > 0)
		redis_works(w);
	check_lease(w);
}

/*
 * Wait before the next attempt on b, the heartbeat going on meanwhile
 * when Redis is up; a signal cuts the wait short, and so, while Redis
 * is down, do the sentinels naming a new primary.
 */
static void
backoff_wait(struct watch *w, struct oc_backoff *b)
{
	int64_t deadline = oc_mono_ms() + oc_backoff_next(b);
	long left;

	while (!oc_daemon_handle_signals()) {
		left = (long)(deadline - oc_mono_ms());
		if (left <= 0)
			break;
		oc_daemon_sleep(left < BACKOFF_SLICE_MS ? left :
		    BACKOFF_SLICE_MS);
		heartbeat(w, false);
		if (b == &w->redis_backoff && w->redis_down &&
		    watch_redis_primary_changed(&w->redis)) {
			log_info("redis %s: the sentinels name a new primary",
			    redis_name(w));
			break;
		}
	}
}

/*
 * (Re)connect to Redis. Connecting is not yet success: that waits for a
 * published batch or a heartbeat.
 */
static bool
redis_open(struct watch *w)
{
	char err[256];

	if (!watch_redis_open(&w->redis, err, sizeof(err))) {
		redis_fault(w, err);
		return false;
	}
	log_debug("redis %s: connected", redis_name(w));
	return true;
}

/*
 * True when this watcher holds the lease. Taking it starts the stream
 * over from the token Redis holds, whoever stored it.
 */
static bool
lead(struct watch *w)
{
	char err[256];
	int res;

	res = watch_redis_lead(&w->redis, err, sizeof(err));
	if (res < 0) {
		redis_fault(w, err);
		return false;
	}
	if (res == 0)
		return false;
	if (!w->leading) {
		log_info("redis %s: leading (lease %s), token %s",
		    redis_name(w), w->redis.fence,
		    w->redis.token != NULL ? w->redis.token : "(none)");
		stop_publishing(w);
		w->leading = true;
	}
	return true;
}

/* A standby beats and waits for its next try at the lease. */
static void
standby_wait(struct watch *w)
{
	int64_t until = oc_mono_ms() + WATCH_STANDBY_TRY_MS;
	long left;

	heartbeat(w, false);
	while (w->redis.rc != NULL && !oc_daemon_handle_signals()) {
		left = (long)(until - oc_mono_ms());
		if (left <= 0)
			break;
		oc_daemon_sleep(left < BACKOFF_SLICE_MS ? left :
		    BACKOFF_SLICE_MS);
		heartbeat(w, false);
	}
}

/* Open the stream after the token Redis holds. */
static bool
stream_open(struct watch *w)
{
	bson_error_t err;

	if (!watch_mongo_open(&w->mongo, w->redis.token, w->redis.last_id,
	    &w->queue, &err)) {
		mongo_fault(w, &err);
		return false;
	}
	log_debug("mongodb: change stream open after %s",
	    w->redis.token != NULL ? w->redis.token : "(now)");
	return true;
}

/* Publish what is queued; a Redis fault starts both sides over. */
static bool
flush(struct watch *w)
{
	char err[512];
	int res;

	if (w->queue.n == 0)
		return true;
	res = watch_redis_flush(&w->redis, &w->queue, err, sizeof(err));
	if (res < 0) {
		redis_fault(w, err);
		return false;
	}
	if (res == 0) {
		check_lease(w);
		return false;
	}
	redis_works(w);
	return true;
}

/*
 * After a whole batch, empty ones included, store the stream's
 * post-batch token, so the stored position keeps up with MongoDB's
 * history even while nothing we watch changes.
 */
static void
store_position(struct watch *w)
{
	char err[256];
	char *tok;
	int res;

	tok = watch_mongo_position(&w->mongo);
	if (tok == NULL || (w->redis.token != NULL &&
	    strcmp(tok, w->redis.token) == 0)) {
		free(tok);
		return;
	}
	res = watch_redis_set_token(&w->redis, tok, err, sizeof(err));
	if (res == 1)
		return;
	free(tok);
	if (res < 0)
		redis_fault(w, err);
	else
		check_lease(w);
}

/* One read of the stream, published, then what the read ended with. */
static void
step(struct watch *w)
{
	enum watch_read res;
	bson_error_t err;

	res = watch_mongo_read(&w->mongo, &w->queue, &err);
	if (!flush(w))
		return;
	switch (res) {
	case WATCH_READ_BATCH:
	case WATCH_READ_IDLE:
		mongo_works(w);
		if (res == WATCH_READ_IDLE || w->mongo.batch_left == 0)
			store_position(w);
		break;
	case WATCH_READ_REOPEN:
		watch_mongo_close_stream(&w->mongo);
		break;
	case WATCH_READ_FAULT:
		mongo_fault(w, &err);
		break;
	}
}

/*
 * Run until SIGTERM or SIGINT; transient faults only slow it down. After
 * a fault, wherever it happened, the next attempt waits its backoff,
 * until real work shows the peer works again.
 */
static void
watch_run(struct watch *w)
{
	while (!oc_daemon_handle_signals()) {
		if (w->redis.rc == NULL) {
			if (w->redis_down)
				backoff_wait(w, &w->redis_backoff);
			if (oc_daemon_stopping() || !redis_open(w))
				continue;
		}
		if (!lead(w)) {
			standby_wait(w);
			continue;
		}
		if (w->mongo.stream == NULL) {
			if (w->mongo_down)
				backoff_wait(w, &w->mongo_backoff);
			if (oc_daemon_stopping() || !stream_open(w))
				continue;
		}
		step(w);
		heartbeat(w, false);
	}
	if (w->redis.rc != NULL) {
		heartbeat(w, true);
		watch_redis_resign(&w->redis);
	}
}

/*
 * --foreground: the systemd unit passes it; the watcher never forks, so
 * it changes nothing and is not in the usage.
 */
static bool
own_option(void *arg, int val, const char *optarg, char *err,
    size_t errlen)
{
	(void)arg;
	(void)optarg;
	(void)err;
	(void)errlen;
	return val == OPT_FOREGROUND;
}

static const struct option own_options[] = {
	{ "foreground", no_argument, NULL, OPT_FOREGROUND },
	{ NULL, 0, NULL, 0 }
};

static const struct oc_daemon_spec spec = {
	.prog = "ordercast-watch",
	.about = "Publishes every change of the database to Redis, once.",
	.options = own_options,
	.option = own_option,
};

/* Release everything start-up and the loop acquired. */
static void
watch_free(struct watch *w)
{
	watch_queue_drop(&w->queue);
	watch_mongo_free(&w->mongo);
	watch_redis_free(&w->redis);
}

/* Validate, then run until told to stop; exit 1 only on bad setup. */
int
main(int argc, char *argv[])
{
	struct oc_daemon d;
	struct oc_config cfg;
	struct watch w;
	char err[512];
	bool mongoc_up = false;
	uint64_t seed;
	int status;

	if (!oc_daemon_parse(&d, &spec, argc, argv, &status))
		return status;
	status = 1;
	memset(&cfg, 0, sizeof(cfg));
	memset(&w, 0, sizeof(w));
	log_init(spec.prog, OC_LOG_INFO, false);
	if (!oc_daemon_open_log(&d))
		goto done;
	if (!oc_config_load(&cfg, err, sizeof(err))) {
		log_errorx("%s", err);
		goto done;
	}
	log_set_level(cfg.log_level);
	oc_config_log(&cfg);
	mongoc_init();
	mongoc_up = true;
	watch_redis_init(&w.redis, &cfg, &w.total);
	if (!watch_mongo_setup(&w.mongo, &cfg, &w.total, err, sizeof(err))) {
		log_errorx("%s", err);
		goto done;
	}
	if (d.check) {
		oc_daemon_print_check(&d, &cfg, stdout);
		status = 0;
		goto done;
	}
	if (!oc_daemon_signals(err, sizeof(err))) {
		log_errorx("%s", err);
		goto done;
	}
	if (!oc_daemon_write_pidfile(&d))
		goto done;
	seed = (uint64_t)oc_wall_ms() ^ ((uint64_t)getpid() << 20);
	oc_backoff_init(&w.redis_backoff, BACKOFF_MIN_MS,
	    REDIS_BACKOFF_MAX_MS, seed);
	oc_backoff_init(&w.mongo_backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS,
	    ~seed);
	tune_malloc();
	log_info("watching database %s; publishing to %s in redis %s as %s",
	    cfg.db, w.redis.k_log, redis_name(&w), w.redis.self);
	watch_run(&w);
	log_info("stopping: %lld events published", w.total.events);
	status = 0;
done:
	oc_daemon_cleanup(&d);
	watch_free(&w);
	if (mongoc_up)
		mongoc_cleanup();
	oc_config_clear(&cfg);
	return status;
}
