/*
 * ordercast-watch: turns the database's change stream into events in
 * Redis. The files form layers; each calls only the ones below it:
 *
 *   watch-main.c   options, the loop and the failure policy (a Redis
 *                  fault closes the stream and drops what is pending; a
 *                  MongoDB fault drops the client; both back off)
 *   watch-mongo.c  reads the change stream and fills the queue
 *   watch-redis.c  drains the queue into Redis, one Lua script per event,
 *                  holds the lease that lets one watcher publish, and
 *                  sends the heartbeat
 *   watch-queue.c  the events read but not yet published
 *
 * The MongoDB and Redis sides never call each other: they report faults
 * to the caller, which decides what else to close.
 */
#ifndef WATCH_H
#define WATCH_H

#include <stdbool.h>
#include <stddef.h>
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
/*
 * The lease of the publishing watcher (PREFIX:watch:leader): its TTL,
 * renewed with every beat, and how often a standby tries to take it.
 */
#define WATCH_LEASE_MS		4000
#define WATCH_STANDBY_TRY_MS	500
/* Each beat asks the sentinels, this long each, if the primary moved. */
#define WATCH_SENTINEL_ASK_MS	250
/* A standby not seen for this long leaves the heartbeat's list. */
#define WATCH_STANDBY_TTL_MS	5000
/*
 * Event ids (docs/architecture.md, "Events"): clusterTime (t, i) and the
 * change's index in its transaction give "<t * 1000>-<i << 16 | index
 * << 1>"; an alert takes the odd value after its change, a resync the
 * last value of its cluster time.
 */
#define WATCH_INDEX_MAX		0x7fff
#define WATCH_SEQ_LAST		0xffff

/* Counters since start; the heartbeat sends what is new to Redis. */
struct watch_counters {
	long long events;
	long long batches;
	long long errors;
	long long resyncs;
	long long resets;	/* Redis had lost the token: resync */
	long long reconnects;
	long long refused;	/* events the log already held */
	long long takeovers;	/* leases taken */
};

/* watch-queue.c: one event ready for the Redis script, all owned. */
struct watch_event {
	char *body;		/* event JSON without its braces, id, time */
	char *token;		/* resume token, canonical extended JSON */
	char *key;		/* product id, for cache and low-stock keys */
	char *alert;		/* alert.low_stock body when stock is low */
	const char *stock;	/* "low", "ok" or "" (static) */
	bool product;		/* drop the product's cache entry */
	int64_t cluster_ms;
	char id[48];		/* stream id, from the change's position */
	char alert_id[48];	/* the id of its alert */
};

/* Filled by the MongoDB side, drained by the Redis side. */
struct watch_queue {
	struct watch_event ev[WATCH_BATCH];
	size_t n;
};

/*
 * Queue an event built from JSON objects (borrowed; copied). The queue
 * must have room: the reader stops at WATCH_BATCH.
 */
void watch_queue_push(struct watch_queue *q, json_object *event,
    const char *token, const char *key, bool product, const char *stock,
    json_object *alert, int64_t cluster_ms, const char *id,
    const char *alert_id);
bool watch_queue_full(const struct watch_queue *q);
/* Release every event, published or not. */
void watch_queue_drop(struct watch_queue *q);

/* watch-mongo.c: the change stream. */
struct watch_mongo {
	const struct oc_config *cfg;
	struct watch_counters *total;	/* the caller's, not owned */
	mongoc_uri_t *uri;
	mongoc_client_t *client;
	mongoc_change_stream_t *stream;
	long batch_left;	/* documents left in the cursor's batch */
	char *start_after;	/* token of an invalidate to start after */

	/* The position of the last event queued: clusterTime, index. */
	bool have_prev;
	uint32_t prev_t, prev_i, prev_index;
	/* The log's last id when the stream opened. */
	bool have_last;
	unsigned long long last_ms, last_seq;
	/* operationTime of the aggregate that opened the stream. */
	uint32_t open_t, open_i;
};

/* What one read of the stream ended with. */
enum watch_read {
	WATCH_READ_BATCH,	/* a batch is queued; more may be ready */
	WATCH_READ_IDLE,	/* the stream has nothing more for now */
	WATCH_READ_REOPEN,	/* close the stream; reopening moves on */
	WATCH_READ_FAULT	/* a MongoDB error, in err */
};

/* Parse the URI once; false with a message naming the variable. */
bool watch_mongo_setup(struct watch_mongo *m, const struct oc_config *cfg,
    struct watch_counters *total, char *err, size_t errlen);
/*
 * Open the stream after token, last_id being the id of the last entry
 * in the log ("" when none). Without a token, or when the token has left
 * the history, open from now and queue system.resync in q. False with
 * err on a fault.
 */
bool watch_mongo_open(struct watch_mongo *m, const char *token,
    const char *last_id, struct watch_queue *q, bson_error_t *err);
/*
 * The stream's resume token as text, or NULL; after a whole batch it is
 * the post-batch token. Caller frees.
 */
char *watch_mongo_position(const struct watch_mongo *m);
/* Queue what the stream has ready, up to the end of its batch. */
enum watch_read watch_mongo_read(struct watch_mongo *m,
    struct watch_queue *q, bson_error_t *err);
void watch_mongo_close_stream(struct watch_mongo *m);
/* After a fault: the next open starts with a new client. */
void watch_mongo_drop_client(struct watch_mongo *m);
void watch_mongo_free(struct watch_mongo *m);

/* watch-redis.c: the log, the channel, the token and the heartbeat. */
struct watch_redis {
	const struct oc_config *cfg;
	struct watch_counters *total;	/* the caller's, not owned */

	/* Redis keys and channel, built once. */
	char *k_log;
	char *k_events;
	char *k_token;
	char *k_low;
	char *k_alive;
	char *k_metrics;	/* the shared counters */
	char *k_gauges;		/* this watcher's gauges */
	char *k_cache_products;
	char *k_cache_product;	/* prefix of one product's cache key */
	char *k_cache_gen;	/* bumped with every product change */
	char *k_leader;		/* the lease, holding its fencing value */
	char *k_standbys;	/* sorted set of standbys, by last beat */

	redisContext *rc;
	char primary_host[256];	/* the last connection's, or "" */
	int primary_port;
	char named_host[256];	/* the last new primary a wait ended for */
	int named_port;
	char sha[41];
	char *token;		/* token of the last event in Redis */
	char self[96];		/* "host:pid", as the heartbeat shows it */
	char fence[160];	/* this watcher's lease value */
	bool leader;		/* the lease is ours */
	int64_t next_try;	/* monotonic ms of a standby's next try */

	struct watch_counters sent;	/* what the last beat reported */
	long long lag_ms;
	char last_id[48];
	int64_t next_beat;	/* monotonic ms of the next heartbeat */
};

void watch_redis_init(struct watch_redis *r, const struct oc_config *cfg,
    struct watch_counters *total);
/* Connect, load the script and adopt the stored token; false with err. */
bool watch_redis_open(struct watch_redis *r, char *err, size_t errlen);
void watch_redis_close(struct watch_redis *r);
/*
 * True when the sentinels name another primary than the last one, once
 * per address they name.
 */
bool watch_redis_primary_changed(struct watch_redis *r);
/*
 * Take the lease when free (or ours). Returns 1 when this watcher leads
 * (then r->token and r->last_id hold what Redis has), 0 when another
 * does, -1 on a fault (err).
 */
int watch_redis_lead(struct watch_redis *r, char *err, size_t errlen);
/*
 * Give the lease back, if ours, so a standby takes over at once, and drop
 * this watcher's gauges.
 */
void watch_redis_resign(struct watch_redis *r);
/*
 * Store token (a start or post-batch position) under the lease. On
 * success r->token takes ownership of token; otherwise the caller keeps
 * it. Returns 1 on success, 0 when the lease is lost, -1 on a fault.
 */
int watch_redis_set_token(struct watch_redis *r, char *token, char *err,
    size_t errlen);
/*
 * Publish every queued event as one pipeline and empty the queue. An
 * event whose id the log has passed is refused and counted. Returns 1
 * on success; 0 when the lease was lost (r->leader is then false);
 * -1 on a fault (err), the events published so far having moved the
 * token and the rest staying queued.
 */
int watch_redis_flush(struct watch_redis *r, struct watch_queue *q,
    char *err, size_t errlen);
/*
 * The beat, when due or when force is set: the leader renews its lease
 * and writes PREFIX:watch:alive, a standby records itself in
 * PREFIX:watch:standbys; both add their counters. With sentinels, it
 * then asks them whether the primary moved. Returns 1 when Redis took
 * it, 0 when not due or not connected (or the lease was lost: r->leader
 * is then false), -1 on a fault, a refusal or a failover (err).
 */
int watch_redis_heartbeat(struct watch_redis *r, bool force, char *err,
    size_t errlen);
void watch_redis_free(struct watch_redis *r);

#endif
