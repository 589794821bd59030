/*
 * ordercast-sse: one event loop holding every FastCGI connection, fed by
 * one Redis subscriber per process. Shared declarations of its modules:
 *   sse-event.c   stream ids, events, filters, shared output buffers
 *   sse-feed.c    the Redis subscriber, the ring of recent events,
 *                 gap fill, replays and counters
 *   sse-conn.c    FastCGI connections, requests and client queues
 *   sse-main.c    options, start, the loop, signals
 */
#ifndef SSE_H
#define SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oc-config.h"
#include "oc-util.h"

/* What an epoll registration points at. */
enum sse_kind {
	SSE_KIND_LISTEN,
	SSE_KIND_CONN,
	SSE_KIND_REDIS
};

/* Topic bits of an event; system events pass every filter. */
#define SSE_TOPIC_ORDERS	0x01u
#define SSE_TOPIC_PRODUCTS	0x02u
#define SSE_TOPIC_USERS		0x04u
#define SSE_TOPIC_ALERTS	0x08u
#define SSE_TOPIC_SYSTEM	0x10u
#define SSE_TOPIC_ALL		0x0fu

#define SSE_OID_LEN		24
#define SSE_ID_MAX		48	/* "ms-seq" as text, with NUL */
#define SSE_HEARTBEAT_MS	15000

/* A Redis stream id. */
struct sse_id {
	uint64_t	ms;
	uint64_t	seq;
};

/*
 * Bytes queued by reference to many connections. When id1 is set the
 * bytes are whole FastCGI records of request id 1 (what web servers use);
 * a connection with another request id gets a private copy.
 */
struct sse_buf {
	unsigned	refs;
	bool		id1;
	size_t		len;
	uint8_t		data[];
};

/* One event, formatted once as FastCGI STDOUT records. */
struct sse_event {
	unsigned	 refs;
	struct sse_id	 id;
	unsigned	 topic;
	char		 customer[SSE_OID_LEN + 1];	/* order events */
	struct sse_buf	*rec;
};

/* What a client asked for in its query string. */
struct sse_filter {
	unsigned	topics;
	char		customer[SSE_OID_LEN + 1];	/* "" for all */
	bool		has_last_id;
	struct sse_id	last_id;
};

/* sse-event.c */
struct sse_buf *sse_buf_new(size_t len);		/* refs 1 */
struct sse_buf *sse_buf_ref(struct sse_buf *b);
void sse_buf_unref(struct sse_buf *b);			/* NULL is fine */
/* data as STDOUT records of request id 1, shared. */
struct sse_buf *sse_buf_stdout(const void *data, size_t len);

bool sse_id_parse(const char *s, size_t len, struct sse_id *out);
int sse_id_cmp(const struct sse_id *a, const struct sse_id *b);
void sse_id_format(const struct sse_id *id, char *out, size_t outlen);

/* The topic bit of an event type; SSE_TOPIC_SYSTEM for system.*. */
unsigned sse_topic_of_type(const char *type);

/*
 * Build an event from its JSON text (as published, "id" filled in).
 * Returns NULL with a reason in err when the text is not an event.
 * Release with sse_event_unref().
 */
struct sse_event *sse_event_parse(const char *json, size_t len, char *err,
    size_t errlen);
/* A system.resync event carrying id (clients reload their state). */
struct sse_event *sse_event_resync(const struct sse_id *id, int64_t now_ms);
struct sse_event *sse_event_ref(struct sse_event *ev);
void sse_event_unref(struct sse_event *ev);		/* NULL is fine */

/*
 * Parse a query string (topics, customerId, lastEventId; other names are
 * ignored). Returns false with a message in err on a bad value.
 */
bool sse_filter_parse(const char *query, struct sse_filter *f, char *err,
    size_t errlen);
bool sse_filter_admits(const struct sse_filter *f,
    const struct sse_event *ev);

/* sse-feed.c: the Redis side. */
struct sse_settings {
	const struct oc_config	*cfg;
	size_t			 ring_size;	/* events kept in memory */
	size_t			 queue_max;	/* bytes queued per client */
	size_t			 replay_batch;	/* XRANGE COUNT */
};

struct sse_conn;

void feed_init(const struct sse_settings *set, int epfd);
void feed_free(void);
/* Work due at now_ms: (re)connect, pings, counters. */
void feed_tick(int64_t now_ms);
/* Milliseconds until feed_tick() has work. */
int64_t feed_next_ms(int64_t now_ms);
/* The subscriber's fd is ready. */
void feed_io(uint32_t events, int64_t now_ms);
/* True once the relay knows where the log stands. */
bool feed_synced(void);
/* The id of the newest event seen. */
struct sse_id feed_last(void);

/*
 * Before a replay from last_id: decide whether the client must resync
 * (its id is older than the log's first entry). Returns false when
 * Redis cannot be asked (answer 503).
 */
bool feed_replay_check(const struct sse_id *last_id, bool *resync);
/*
 * Queue the next part of a replay from *cursor to c. Sets *done when the
 * client has caught up with the live feed (ring included). Returns false
 * when Redis failed; the client should then be closed.
 */
bool feed_replay_step(struct sse_conn *c, struct sse_id *cursor,
    bool *done);

/* Counters, flushed to PREFIX:metrics:sse about once a second. */
struct sse_counters {
	long long	clients_connected;	/* gauge */
	long long	events_sent;
	long long	bytes_sent;
	long long	replays;
	long long	slow_client_closes;
	long long	resyncs;
};
extern struct sse_counters sse_stats;

/* sse-conn.c: connections and clients. */
void conn_init(const struct sse_settings *set, int epfd);
/* The listener and its epoll data, to re-add it after EMFILE. */
void conn_set_listener(int lfd, void *watch);
void conn_accept(int lfd);
void conn_io(struct sse_conn *c, uint32_t events);
/* Hand an event to every live client whose filter admits it. */
void conn_broadcast(struct sse_event *ev);
/*
 * Queue an event for one client (replays) when its filter admits it.
 * Returns false when the client's stream has ended (c stays valid until
 * the loop frees it).
 */
bool conn_send_event(struct sse_conn *c, struct sse_event *ev);
/* Bytes c has queued and not written yet. */
size_t conn_queued(const struct sse_conn *c);
/* Write what is queued, run pending replays, send heartbeats. */
void conn_flush_all(void);
void conn_tick(int64_t now_ms);
int64_t conn_next_ms(int64_t now_ms);
/* End every stream cleanly; true once all connections are gone. */
void conn_shutdown(void);
bool conn_none_left(void);
void conn_free_all(void);
size_t conn_clients(void);

#endif
