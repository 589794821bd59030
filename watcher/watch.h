/*
 * ordercast-watch: turns the database's change stream into events in
 * Redis. watch-main.c runs the loop, watch-mongo.c reads the change
 * stream, watch-redis.c publishes through one Lua script.
 */
#ifndef WATCH_H
#define WATCH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <json-c/json.h>
#include <mongoc/mongoc.h>

#include "oc-config.h"
#include "oc-util.h"

/* Events sent to Redis in one pipeline at most. */
#define WATCH_BATCH		256
/* Entries kept in PREFIX:log (trimmed approximately). */
#define WATCH_LOG_MAXLEN	"100000"
/* How long a getMore waits for changes, so the loop wakes to beat. */
#define WATCH_AWAIT_MS		1000
/* Heartbeat period and the TTL of PREFIX:watch:alive. */
#define WATCH_BEAT_MS		1000
#define WATCH_ALIVE_TTL		"5"

/* One event ready for the Redis script. Every pointer is owned. */
struct watch_event {
	char *body;		/* event JSON without its braces, id, time */
	char *token;		/* resume token, canonical extended JSON */
	char *key;		/* product id, for cache and low-stock keys */
	char *cache_key;	/* PREFIX:cache:product:<id> for products */
	char *alert;		/* alert.low_stock body when stock is low */
	const char *stock;	/* "low", "ok" or "" (static) */
	int64_t cluster_ms;
};

/* Counters since start; the heartbeat sends what is new to Redis. */
struct watch_counters {
	long long events;
	long long batches;
	long long errors;
	long long resyncs;
	long long reconnects;
};

struct watch_backoff {
	long delay_ms;
};

struct watch {
	const struct oc_config *cfg;

	/* Redis keys and channel, built once. */
	char *k_log;
	char *k_events;
	char *k_token;
	char *k_low;
	char *k_alive;
	char *k_metrics;
	char *k_cache_products;
	char *k_cache_product;	/* prefix of one product's cache key */
	char *k_cache_gen;	/* bumped with every product change */

	redisContext *rc;
	char sha[41];
	bool redis_down;
	struct watch_backoff redis_backoff;

	mongoc_uri_t *uri;
	mongoc_client_t *client;
	mongoc_change_stream_t *stream;
	bool mongo_down;
	struct watch_backoff mongo_backoff;
	long batch_left;	/* documents left in the cursor's batch */

	char *token;		/* token of the last event in Redis */
	char *start_after;	/* token of an invalidate to start after */

	struct watch_event pending[WATCH_BATCH];
	size_t npending;

	struct watch_counters total;
	struct watch_counters sent;
	long long lag_ms;
	char last_id[48];
	int64_t next_beat;	/* monotonic ms of the next heartbeat */
};

extern volatile sig_atomic_t watch_stop;

/* watch-main.c */
void watch_event_clear(struct watch_event *ev);
void watch_backoff_reset(struct watch_backoff *b);
void watch_backoff_wait(struct watch *w, struct watch_backoff *b);

/* watch-redis.c */
bool watch_redis_open(struct watch *w);
void watch_redis_close(struct watch *w);
/* Publish the pending events; on a Redis fault close both sides. */
bool watch_flush(struct watch *w);
void watch_heartbeat(struct watch *w, bool force);
void watch_fail_redis(struct watch *w, const char *what);
/* Store a token with no event (the start position); false on a fault. */
bool watch_redis_set_token(struct watch *w, const char *token);

/* watch-mongo.c */
bool watch_mongo_setup(struct watch *w, char *err, size_t errlen);
bool watch_stream_open(struct watch *w);
void watch_stream_close(struct watch *w);
void watch_mongo_cleanup(struct watch *w);
/* Read what the stream has ready, publishing at batch boundaries. */
void watch_stream_step(struct watch *w);
/* Queue an event built from a JSON object (the resync notice). */
void watch_queue(struct watch *w, json_object *event, const char *token,
    const char *key, bool product, const char *stock, json_object *alert,
    int64_t cluster_ms);

#endif
