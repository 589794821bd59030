/*
 * ordercast-sse: one event loop holding every FastCGI connection, fed by
 * one Redis subscriber per process. Shared declarations of its modules,
 * each calling only those below it (upward news goes by callbacks):
 *   sse-main.c    options, start, the loop, signals
 *   sse-stream.c  stream policy: filters, live delivery, replay pacing,
 *                 heartbeats, slow clients
 *   sse-request.c the FastCGI request state machine
 *   sse-conn.c    transport: accept, read, queues, writev, epoll
 *   sse-feed.c    the Redis side, asynchronous: subscriber, ring of
 *                 recent events, gap fill, log reader, counters
 *   sse-event.c   stream ids, events, filters, shared output buffers
 */
#ifndef SSE_H
#define SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/queue.h>

#include <json-c/json.h>

#include "oc-auth.h"
#include "oc-config.h"
#include "oc-filter.h"
#include "oc-keys.h"
#include "oc-model.h"
#include "oc-util.h"

/* What an epoll registration points at. */
enum sse_kind {
	SSE_KIND_LISTEN,
	SSE_KIND_CONN,
	SSE_KIND_REDIS,
	SSE_KIND_SIGNAL
};

struct sse_settings {
	const struct oc_config	*cfg;
	const struct oc_keys	*keys;
	size_t			 ring_size;	/* events kept in memory */
	size_t			 queue_max;	/* bytes queued per client */
	size_t			 replay_batch;	/* events per log read */
};

/* Counters, flushed to PREFIX:metrics:sse about once a second. */
struct sse_counters {
	long long	clients_connected;	/* gauge */
	long long	events_sent;
	long long	bytes_sent;
	long long	replays;
	long long	slow_client_closes;
	long long	resyncs;
};
extern struct sse_counters sse_stats;	/* sse-event.c */

/* Topic bits of an event (lib/oc-model); system events pass every filter. */
#define SSE_TOPIC_ORDERS	OC_TOPIC_ORDERS
#define SSE_TOPIC_PRODUCTS	OC_TOPIC_PRODUCTS
#define SSE_TOPIC_USERS		OC_TOPIC_USERS
#define SSE_TOPIC_ALERTS	OC_TOPIC_ALERTS
#define SSE_TOPIC_SYSTEM	OC_TOPIC_SYSTEM
#define SSE_TOPIC_ALL		OC_TOPIC_SUBSCRIBABLE

/*
 * The longest query string served; a longer one is refused (414). A
 * filter of 2 KiB fits even percent-encoded, and web servers pass it.
 */
#define SSE_QUERY_MAX		7168

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
	char		*json;		/* the event text, for filters */
	size_t		 json_len;
	json_object	*obj;		/* parsed on demand, see below */
};

/*
 * A where= filter shared by every client with the same normalised text,
 * so that each event is evaluated once per distinct filter.
 */
struct sse_where {
	unsigned		 refs;
	struct oc_filter	*filter;
	struct sse_id		 seen;		/* the last event evaluated */
	bool			 seen_set;
	bool			 seen_result;
	LIST_ENTRY(sse_where)	 entry;
};

/* What a client asked for in its query string. */
struct sse_filter {
	unsigned	topics;
	bool		topics_named;	/* topics= was given */
	char		customer[SSE_OID_LEN + 1];	/* "" for all */
	bool		has_last_id;
	struct sse_id	last_id;
	char		*where;		/* where= text, owned, or NULL */
	struct sse_where *shared;	/* where compiled, or NULL */
};

/* Who holds a stream. */
enum sse_role {
	SSE_ROLE_ANON,
	SSE_ROLE_CUSTOMER,
	SSE_ROLE_ADMIN
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

/* The topics a role may read (system events aside). */
unsigned sse_role_topics(enum sse_role role);
/* The filter visibility flags of a role (lib/oc-filter). */
unsigned sse_role_see(enum sse_role role);

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
/* The event as JSON, parsed on first use; NULL if it cannot be. */
json_object *sse_event_object(struct sse_event *ev);
/* Let go of the parsed JSON (kept again on the next use). */
void sse_event_drop_object(struct sse_event *ev);

/*
 * Parse a query string (topics, customerId, lastEventId, where; other
 * names are ignored). Returns false with a message in err, and the name
 * of the parameter at fault in *field, on a bad value. Release what f
 * holds with sse_filter_clear().
 */
bool sse_filter_parse(const char *query, struct sse_filter *f,
    const char **field, char *err, size_t errlen);
void sse_filter_clear(struct sse_filter *f);
/*
 * Compile f->where for a role holding the visibility flags see, sharing
 * one evaluation with every client of the same normalised filter.
 * False with err filled in when the filter is refused.
 */
bool sse_filter_compile(struct sse_filter *f, unsigned see,
    struct oc_filter_error *err);
bool sse_filter_admits(const struct sse_filter *f, struct sse_event *ev);
/* Distinct where= filters in use. */
size_t sse_where_count(void);

/*
 * sse-feed.c: the Redis side. Every command goes through hiredis' async
 * API on the loop's epoll; nothing here waits for Redis.
 */

/* A log read's result: events after the id asked, oldest first. */
struct feed_batch {
	struct sse_event	**ev;		/* borrowed during the callback */
	size_t			  n;
	struct sse_id		  next;		/* read on from here */
	bool			  caught_up;	/* nothing newer yet */
};

/* Called with the batch, or NULL when Redis failed. */
typedef void feed_read_cb(void *arg, const struct feed_batch *b);
/* Whether a client id needs resync (older than the log); !ok: failed. */
typedef void feed_check_cb(void *arg, bool ok, bool resync);
/* Each new event, in stream order, once. */
typedef void feed_event_cb(struct sse_event *ev);
/*
 * A session ended (its hash, as announced on PREFIX:sessions), or NULL
 * when announcements may have been missed (the subscriber was away).
 */
typedef void feed_session_cb(const char *hash);
/* A GET's value (NULL when the key is absent); !ok: Redis failed. */
typedef void feed_get_cb(void *arg, bool ok, const char *val, size_t len);

struct feed_req;

void feed_init(const struct sse_settings *set, int epfd, feed_event_cb *cb,
    feed_session_cb *session_cb);
/* Send the last counters and leave Redis; true once nothing is pending. */
void feed_shutdown(void);
bool feed_idle(void);
void feed_free(void);
/* Work due at now_ms: (re)connect, command deadlines, counters. */
void feed_tick(int64_t now_ms);
int64_t feed_next_ms(int64_t now_ms);
/* A Redis fd is ready (tag is the epoll data pointer). */
void feed_io(void *tag, uint32_t events);
/* True once the relay knows where the log stands. */
bool feed_synced(void);
/* The id of the newest event seen. */
struct sse_id feed_last(void);

/*
 * Events after *after, at most max. When the ring of recent events holds
 * them, fills *now and returns NULL. Otherwise asks the log and returns
 * a request whose callback runs later (unless cancelled).
 */
struct feed_req *feed_read_after(const struct sse_id *after, size_t max,
    struct feed_batch *now, feed_read_cb *cb, void *arg);
/* Release the events of a batch filled by feed_read_after(). */
void feed_batch_clear(struct feed_batch *b);
/* Ask whether id is older than the log's first entry. */
struct feed_req *feed_check_after(const struct sse_id *id,
    feed_check_cb *cb, void *arg);
/* Read a key (a session record); the callback runs later. */
struct feed_req *feed_get(const char *key, feed_get_cb *cb, void *arg);
/* The callback of r will not run; r is freed by the feed. */
void feed_req_cancel(struct feed_req *r);

/* What the FastCGI request state machine knows of a connection. */
enum req_state {
	RS_IDLE,	/* waiting for BEGIN_REQUEST */
	RS_PARAMS,	/* reading the request's PARAMS */
	RS_HANDLED,	/* handed to the stream layer */
	RS_ENDING	/* answer queued; close once written */
};

#define SSE_ADDR_MAX	64	/* REMOTE_ADDR, with NUL */

/* A client of the stream layer. */
/* Longest Cookie or Authorization header the relay reads. */
#define SSE_HEADER_MAX		8192

struct sse_client {
	bool			 open;		/* counted, on the list */
	bool			 started;	/* headers sent */
	bool			 head;		/* HEAD: headers only */
	bool			 replaying;
	struct feed_req		*pending;	/* lookup, check or read */
	struct feed_req		*recheck;	/* session looked up again */
	enum sse_role		 role;
	char			 user_id[SSE_OID_LEN + 1];
	char			 session[OC_TOKEN_HASH_LEN + 1]; /* or "" */
	bool			 remote;	/* session: REMOTE_USER's hash */
	char			 addr[SSE_ADDR_MAX];
	int64_t			 expires_ms;	/* session's end, or 0 */
	struct sse_filter	 filter;
	struct sse_id		 cursor;	/* newest id queued */
	TAILQ_ENTRY(sse_conn)	 entry;		/* every open stream */
	TAILQ_ENTRY(sse_conn)	 rentry;	/* replays to move on */
	bool			 on_rlist;
};

/* One FastCGI connection, with each layer's part of it. */
struct sse_conn {
	enum sse_kind		 kind;		/* first: epoll data */
	int			 fd;
	uint32_t		 watched;
	bool			 closing;	/* close once written */
	int64_t			 deadline;	/* give up writing then */

	uint8_t			*in;
	size_t			 in_len;

	struct sse_buf		**q;
	size_t			 q_head;
	size_t			 q_count;
	size_t			 q_cap;
	size_t			 q_off;		/* written of the head */
	size_t			 q_bytes;

	bool			 on_pending;
	bool			 on_deadline;
	LIST_ENTRY(sse_conn)	 all;
	TAILQ_ENTRY(sse_conn)	 pending;	/* has bytes to write */
	TAILQ_ENTRY(sse_conn)	 dentry;	/* has a deadline */

	/* sse-request.c */
	enum req_state		 rstate;
	uint16_t		 req_id;
	bool			 keep_conn;
	uint8_t			*params;
	size_t			 params_len;

	/* sse-stream.c */
	struct sse_client	 client;
};

/* sse-conn.c: transport. */
typedef void conn_close_cb(struct sse_conn *c);
void conn_init(int epfd);
/* Who hears of each connection about to close (the request layer). */
void conn_set_close_hook(conn_close_cb *fn);
/* The listener and its epoll data, to re-add it after EMFILE. */
void conn_set_listener(int lfd, void *watch);
void conn_accept(void);
/* Read what is there into c->in. False: peer gone or error. */
bool conn_read(struct sse_conn *c);
/* Forget the first used bytes of c->in. */
void conn_consume(struct sse_conn *c, size_t used);
/* The socket is writable again (EPOLLOUT). */
void conn_writable(struct sse_conn *c);
void conn_push(struct sse_conn *c, struct sse_buf *b);
void conn_push_bytes(struct sse_conn *c, const uint8_t *data, size_t len);
/* Forget queued buffers not started yet (a partial one must finish). */
void conn_drop_unstarted(struct sse_conn *c);
size_t conn_queued(const struct sse_conn *c);
/* Close c once its queue is written, or after grace_ms regardless. */
void conn_finish(struct sse_conn *c, int64_t grace_ms);
/* Stop the deadline set by conn_finish (another request came). */
void conn_keep(struct sse_conn *c);
void conn_close(struct sse_conn *c);
/*
 * Write to connections with pending bytes, at most a share per
 * connection. True when some still have bytes the socket would take.
 */
bool conn_flush_pending(void);
void conn_tick(int64_t now_ms);
int64_t conn_next_ms(int64_t now_ms);
/* Stop accepting; call fn on every connection (it may close them). */
void conn_foreach(void (*fn)(struct sse_conn *));
void conn_stop_accepting(void);
bool conn_none_left(void);
void conn_free_all(void);

/* sse-request.c: the FastCGI request state machine. */
struct request_ops {
	void	(*start)(struct sse_conn *c);	/* PARAMS complete */
	void	(*stop)(struct sse_conn *c);	/* aborted or gone */
};
void request_init(const struct sse_settings *set,
    const struct request_ops *ops);
/* Records from the web server; the loop calls it on c's events. */
void request_io(struct sse_conn *c, uint32_t events);
/* Copy a param value, NUL-terminated; false if absent. */
bool request_param(const struct sse_conn *c, const char *name, char *out,
    size_t outlen);
/*
 * A copy of a param value (caller frees); NULL when absent, or when
 * longer than max bytes (then *too_long is set).
 */
char *request_param_dup(const struct sse_conn *c, const char *name,
    size_t max, bool *too_long);
/* Queue a buffer of STDOUT records (a copy if the request id differs). */
void request_push(struct sse_conn *c, struct sse_buf *b);
/* Answer with a whole CGI response (headers, body) and end the request. */
void request_respond_text(struct sse_conn *c, const char *text, size_t len);
/* Answer with a whole JSON error response and end the request. */
void request_respond(struct sse_conn *c, const char *status,
    const char *headers, const char *code, const char *message);
/* The same with a body of the caller's, which this releases. */
void request_respond_json(struct sse_conn *c, const char *status,
    const char *headers, json_object *body);
/* End a handled request cleanly: empty STDOUT, END_REQUEST. */
void request_end(struct sse_conn *c);
/* No more requests: idle connections close, others end when written. */
void request_shutdown(void);

/* sse-stream.c: stream policy. */
void stream_init(const struct sse_settings *set);
extern const struct request_ops stream_ops;
/* Called by the feed for each new event. */
void stream_deliver(struct sse_event *ev);
/* Called by the feed when a session ended (NULL: maybe some did). */
void stream_session_ended(const char *hash);
/* Move replays on, send heartbeats. */
void stream_tick(int64_t now_ms);
int64_t stream_next_ms(int64_t now_ms);
/* End every stream cleanly. */
void stream_shutdown(void);
size_t stream_clients(void);
void stream_free(void);

#endif
