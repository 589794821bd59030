/*
 * The relay's Redis side: one non-blocking subscriber on PREFIX:events in
 * the event loop, a ring of recent events, gap fill from PREFIX:log after
 * the subscription breaks, replays for Last-Event-ID, and the counters.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "oc-log.h"
#include "oc-redis.h"
#include "oc-xmalloc.h"
#include "sse.h"

#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		5000
#define CMD_TIMEOUT_MS		2000
#define METRICS_EVERY_MS	1000
#define FILL_BATCH		500

enum sub_state {
	SUB_DOWN,
	SUB_CONNECTING,
	SUB_SUBSCRIBING,
	SUB_LIVE
};

struct sse_counters sse_stats;

static struct {
	enum sse_kind		 kind;		/* first: epoll data */
	const struct sse_settings *set;
	int			 epfd;
	char			*channel;
	char			*log_key;
	char			*metrics_key;

	redisContext		*sub;
	enum sub_state		 state;
	uint32_t		 sub_events;	/* registered with epoll */
	int64_t			 next_attempt;
	int64_t			 backoff;
	bool			 ping_out;
	int64_t			 next_ping;
	bool			 down_logged;

	redisContext		*cmd;
	bool			 cmd_logged;

	struct sse_event	**ring;
	size_t			 ring_head;
	size_t			 ring_count;
	struct sse_id		 last;
	bool			 synced;

	struct sse_counters	 flushed;
	int64_t			 next_metrics;
} feed;

/* The ordinary connection for XRANGE and counters, opened on demand. */
static redisContext *
cmd_conn(void)
{
	char err[256];

	if (feed.cmd != NULL)
		return feed.cmd;
	feed.cmd = oc_redis_connect(feed.set->cfg, CMD_TIMEOUT_MS, err,
	    sizeof(err));
	if (feed.cmd == NULL && !feed.cmd_logged) {
		log_warnx("%s", err);
		feed.cmd_logged = true;
	} else if (feed.cmd != NULL)
		feed.cmd_logged = false;
	return feed.cmd;
}

/* A failed command leaves a blocking context unusable: drop it. */
static void
cmd_fail(const char *what)
{
	if (feed.cmd != NULL && feed.cmd->err != 0)
		log_warnx("redis %s: %s", what, feed.cmd->errstr);
	else
		log_warnx("redis %s failed", what);
	if (feed.cmd != NULL)
		redisFree(feed.cmd);
	feed.cmd = NULL;
}

/* Run an XRANGE-like command; NULL (connection dropped) on failure. */
static redisReply *
cmd_array(const char *what, const char *fmt, ...)
{
	redisContext *c;
	redisReply *r;
	va_list ap;

	c = cmd_conn();
	if (c == NULL)
		return NULL;
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (r == NULL) {
		cmd_fail(what);
		return NULL;
	}
	if (r->type != REDIS_REPLY_ARRAY) {
		if (r->type == REDIS_REPLY_ERROR)
			log_warnx("redis %s: %s", what, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* The stream id of one XRANGE entry, false when malformed. */
static bool
entry_id(const redisReply *e, struct sse_id *id)
{
	if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING)
		return false;
	return sse_id_parse(e->element[0]->str, e->element[0]->len, id);
}

/* The "event" field of one XRANGE entry, or NULL. */
static const redisReply *
entry_event(const redisReply *e)
{
	const redisReply *f;
	size_t i;

	f = e->element[1];
	if (f->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (i = 0; i + 1 < f->elements; i += 2)
		if (f->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(f->element[i]->str, "event") == 0 &&
		    f->element[i + 1]->type == REDIS_REPLY_STRING)
			return f->element[i + 1];
	return NULL;
}

/* Parse the event of a log entry; NULL (logged) when it is not one. */
static struct sse_event *
entry_parse(const redisReply *e)
{
	const redisReply *v;
	struct sse_event *ev;
	char err[256];

	v = entry_event(e);
	if (v == NULL) {
		log_warnx("%s entry %s has no event field", feed.log_key,
		    e->element[0]->str);
		return NULL;
	}
	ev = sse_event_parse(v->str, v->len, err, sizeof(err));
	if (ev == NULL)
		log_warnx("%s entry %s: %s", feed.log_key,
		    e->element[0]->str, err);
	return ev;
}

/* The i-th event of the ring, oldest first. */
static struct sse_event *
ring_at(size_t i)
{
	return feed.ring[(feed.ring_head + i) % feed.set->ring_size];
}

/* Keep ev as the newest event of the ring, dropping the oldest. */
static void
ring_push(struct sse_event *ev)
{
	size_t cap = feed.set->ring_size, tail;

	if (feed.ring_count == cap) {
		sse_event_unref(feed.ring[feed.ring_head]);
		feed.ring_head = (feed.ring_head + 1) % cap;
		feed.ring_count--;
	}
	tail = (feed.ring_head + feed.ring_count) % cap;
	feed.ring[tail] = sse_event_ref(ev);
	feed.ring_count++;
}

/* A new event in stream order: keep it and hand it to the clients. */
static void
feed_accept(struct sse_event *ev)
{
	if (sse_id_cmp(&ev->id, &feed.last) <= 0)
		return;		/* seen already (gap fill, resubscribe) */
	feed.last = ev->id;
	ring_push(ev);
	conn_broadcast(ev);
}

/* An event text from the subscription. */
static void
feed_message(const char *text, size_t len)
{
	struct sse_event *ev;
	char err[256];

	ev = sse_event_parse(text, len, err, sizeof(err));
	if (ev == NULL) {
		log_warnx("%s: %s", feed.channel, err);
		return;
	}
	feed_accept(ev);
	sse_event_unref(ev);
}

/* A string field of an XINFO STREAM reply, or NULL. */
static const redisReply *
xinfo_field(const redisReply *r, const char *name)
{
	size_t i;

	for (i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(r->element[i]->str, name) == 0)
			return r->element[i + 1];
	return NULL;
}

/*
 * After a break: if the log lost entries after the last id we saw (they
 * were trimmed while we were away), tell every client to resync.
 * Returns false when Redis failed.
 */
static bool
fill_check_lost(void)
{
	const redisReply *v;
	redisReply *r;
	struct sse_id deleted;
	struct sse_event *ev;
	redisContext *c;

	c = cmd_conn();
	if (c == NULL)
		return false;
	r = redisCommand(c, "XINFO STREAM %s", feed.log_key);
	if (r == NULL) {
		cmd_fail("XINFO STREAM");
		return false;
	}
	/* No stream (an error reply): nothing was lost that we can know. */
	if (r->type == REDIS_REPLY_ARRAY) {
		v = xinfo_field(r, "max-deleted-entry-id");
		if (v != NULL && v->type == REDIS_REPLY_STRING &&
		    sse_id_parse(v->str, v->len, &deleted) &&
		    sse_id_cmp(&deleted, &feed.last) > 0) {
			log_warnx("%s was trimmed past %" PRIu64 "-%" PRIu64
			    ": clients resync", feed.log_key, feed.last.ms,
			    feed.last.seq);
			ev = sse_event_resync(&deleted, oc_wall_ms());
			sse_stats.resyncs++;
			feed_accept(ev);
			sse_event_unref(ev);
		}
	}
	freeReplyObject(r);
	return true;
}

/*
 * Bring the relay up to date after (re)subscribing: the first time learn
 * where the log ends; later replay what pub/sub lost while away.
 * Returns false when Redis failed.
 */
static bool
feed_sync(void)
{
	redisReply *r;
	struct sse_event *ev;
	struct sse_id id;
	char from[SSE_ID_MAX + 1];
	size_t i, n;

	if (!feed.synced) {
		r = cmd_array("XREVRANGE", "XREVRANGE %s + - COUNT 1",
		    feed.log_key);
		if (r == NULL)
			return false;
		if (r->elements > 0 && entry_id(r->element[0], &id))
			feed.last = id;
		freeReplyObject(r);
		feed.synced = true;
		return true;
	}
	if (!fill_check_lost())
		return false;
	do {
		from[0] = '(';
		sse_id_format(&feed.last, from + 1, sizeof(from) - 1);
		r = cmd_array("XRANGE", "XRANGE %s %s + COUNT %d",
		    feed.log_key, from, FILL_BATCH);
		if (r == NULL)
			return false;
		n = r->elements;
		for (i = 0; i < n; i++) {
			if (!entry_id(r->element[i], &id))
				continue;
			ev = entry_parse(r->element[i]);
			if (ev == NULL) {
				/* Step over it so the fill goes on. */
				feed.last = id;
				continue;
			}
			feed_accept(ev);
			sse_event_unref(ev);
			/* Whatever the entry held, the fill moves past it. */
			if (sse_id_cmp(&id, &feed.last) > 0)
				feed.last = id;
		}
		freeReplyObject(r);
		if (n > 0)
			log_info("filled %zu events from %s", n,
			    feed.log_key);
	} while (n == FILL_BATCH);
	return true;
}

/* Register the subscriber's fd for events (or change them). */
static void
sub_watch(uint32_t events)
{
	struct epoll_event ee;
	int op;

	if (events == feed.sub_events)
		return;
	memset(&ee, 0, sizeof(ee));
	ee.events = events;
	ee.data.ptr = &feed;
	op = feed.sub_events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (epoll_ctl(feed.epfd, op, feed.sub->fd, &ee) == -1)
		fatal("epoll_ctl redis");
	feed.sub_events = events;
}

/* Drop the subscriber; reconnect after a growing delay. */
static void
sub_fail(const char *reason)
{
	int64_t now = oc_mono_ms();
	char why[128];

	/* reason may live in the context freed below. */
	snprintf(why, sizeof(why), "%s", reason);
	if (feed.sub != NULL) {
		if (feed.sub_events != 0)
			epoll_ctl(feed.epfd, EPOLL_CTL_DEL, feed.sub->fd, NULL);
		redisFree(feed.sub);
	}
	feed.sub = NULL;
	feed.sub_events = 0;
	if (!feed.down_logged)
		log_warnx("redis subscriber on %s: %s; reconnecting",
		    feed.channel, why);
	feed.down_logged = true;
	feed.state = SUB_DOWN;
	feed.next_attempt = now + feed.backoff;
	feed.backoff *= 2;
	if (feed.backoff > BACKOFF_MAX_MS)
		feed.backoff = BACKOFF_MAX_MS;
}

/* Start a non-blocking connection for the subscriber. */
static void
sub_connect(void)
{
	const struct oc_config *cfg = feed.set->cfg;

	if (cfg->redis_unix != NULL)
		feed.sub = redisConnectUnixNonBlock(cfg->redis_unix);
	else
		feed.sub = redisConnectNonBlock(cfg->redis_host,
		    cfg->redis_port);
	if (feed.sub == NULL) {
		sub_fail("out of memory");
		return;
	}
	if (feed.sub->err != 0) {
		sub_fail(feed.sub->errstr);
		return;
	}
	feed.state = SUB_CONNECTING;
	sub_watch(EPOLLIN | EPOLLOUT);
}

/* Send what hiredis holds; watch for writability until it is gone. */
static bool
sub_write(void)
{
	int done = 0;

	if (redisBufferWrite(feed.sub, &done) == REDIS_ERR) {
		sub_fail(feed.sub->errstr);
		return false;
	}
	sub_watch(done ? EPOLLIN : EPOLLIN | EPOLLOUT);
	return true;
}

/* One reply from the subscription. Returns false when it failed. */
static bool
sub_reply(const redisReply *r)
{
	const char *kind;

	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING) {
		sub_fail(r->type == REDIS_REPLY_ERROR ? r->str :
		    "unexpected reply");
		return false;
	}
	kind = r->element[0]->str;
	if (strcmp(kind, "message") == 0 && r->elements == 3 &&
	    r->element[2]->type == REDIS_REPLY_STRING) {
		feed_message(r->element[2]->str, r->element[2]->len);
	} else if (strcmp(kind, "subscribe") == 0) {
		feed.state = SUB_LIVE;
		feed.ping_out = false;
		feed.next_ping = oc_mono_ms() + SSE_HEARTBEAT_MS;
		if (!feed_sync()) {
			sub_fail("cannot read the log");
			return false;
		}
		feed.backoff = BACKOFF_MIN_MS;
		if (feed.down_logged)
			log_info("redis subscriber on %s is back",
			    feed.channel);
		feed.down_logged = false;
	} else if (strcmp(kind, "pong") == 0) {
		feed.ping_out = false;
	}
	return true;
}

void
feed_io(uint32_t events, int64_t now_ms)
{
	redisReply *r;
	socklen_t len;
	int soerr;
	void *reply;

	if (feed.sub == NULL)
		return;
	if (feed.state == SUB_CONNECTING) {
		if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0)
			return;
		soerr = 0;
		len = sizeof(soerr);
		if (getsockopt(feed.sub->fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &len) == -1 || soerr != 0) {
			sub_fail(strerror(soerr != 0 ? soerr : errno));
			return;
		}
		feed.state = SUB_SUBSCRIBING;
		redisAppendCommand(feed.sub, "SUBSCRIBE %s", feed.channel);
		sub_write();
		return;
	}
	if ((events & EPOLLOUT) != 0 && !sub_write())
		return;
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) == 0)
		return;
	if (redisBufferRead(feed.sub) == REDIS_ERR) {
		sub_fail(feed.sub->errstr);
		return;
	}
	for (;;) {
		reply = NULL;
		if (redisGetReply(feed.sub, &reply) == REDIS_ERR) {
			sub_fail(feed.sub->errstr);
			return;
		}
		if (reply == NULL)
			break;
		r = reply;
		if (!sub_reply(r)) {
			freeReplyObject(r);
			return;
		}
		freeReplyObject(r);
	}
}

/* Add counters that changed since the last flush to PREFIX:metrics:sse. */
static void
metrics_flush(void)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} fields[] = {
#define F(x) { #x, offsetof(struct sse_counters, x) }
		F(events_sent), F(bytes_sent), F(replays),
		F(slow_client_closes), F(resyncs),
#undef F
	};
	struct sse_counters now = sse_stats;
	const char *base = (const char *)&now;
	const char *old = (const char *)&feed.flushed;
	redisContext *c;
	redisReply *r;
	long long d;
	size_t i, n = 0;
	int ok = 1;

	now.clients_connected = (long long)conn_clients();
	if (memcmp(&now, &feed.flushed, sizeof(now)) == 0)
		return;
	c = cmd_conn();
	if (c == NULL)
		return;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		d = *(const long long *)(base + fields[i].off) -
		    *(const long long *)(old + fields[i].off);
		if (d == 0)
			continue;
		redisAppendCommand(c, "HINCRBY %s %s %lld", feed.metrics_key,
		    fields[i].name, d);
		n++;
	}
	redisAppendCommand(c, "HSET %s clients_connected %lld",
	    feed.metrics_key, now.clients_connected);
	n++;
	for (i = 0; i < n; i++) {
		if (redisGetReply(c, (void **)&r) != REDIS_OK) {
			ok = 0;
			break;
		}
		freeReplyObject(r);
	}
	if (!ok) {
		cmd_fail("HINCRBY");
		return;
	}
	feed.flushed = now;
}

void
feed_tick(int64_t now_ms)
{
	if (feed.state == SUB_DOWN && now_ms >= feed.next_attempt)
		sub_connect();
	if (feed.state == SUB_LIVE && now_ms >= feed.next_ping) {
		if (feed.ping_out) {
			sub_fail("no answer to PING");
		} else {
			redisAppendCommand(feed.sub, "PING");
			feed.ping_out = true;
			feed.next_ping = now_ms + SSE_HEARTBEAT_MS;
			sub_write();
		}
	}
	if (now_ms >= feed.next_metrics) {
		metrics_flush();
		feed.next_metrics = now_ms + METRICS_EVERY_MS;
	}
}

int64_t
feed_next_ms(int64_t now_ms)
{
	int64_t t = feed.next_metrics;

	if (feed.state == SUB_DOWN && feed.next_attempt < t)
		t = feed.next_attempt;
	if (feed.state == SUB_LIVE && feed.next_ping < t)
		t = feed.next_ping;
	return t > now_ms ? t - now_ms : 0;
}

bool
feed_synced(void)
{
	return feed.synced;
}

struct sse_id
feed_last(void)
{
	return feed.last;
}

bool
feed_replay_check(const struct sse_id *last_id, bool *resync)
{
	redisReply *r;
	struct sse_id first;

	*resync = false;
	r = cmd_array("XRANGE", "XRANGE %s - + COUNT 1", feed.log_key);
	if (r == NULL)
		return false;
	if (r->elements > 0 && entry_id(r->element[0], &first) &&
	    sse_id_cmp(last_id, &first) < 0)
		*resync = true;
	freeReplyObject(r);
	return true;
}

/*
 * Queue ring events after *cursor until the client holds half its cap.
 * Call only when the ring holds every event after *cursor.
 */
static void
ring_step(struct sse_conn *c, struct sse_id *cursor, bool *done)
{
	struct sse_event *ev;
	size_t i;

	for (i = 0; i < feed.ring_count; i++) {
		ev = ring_at(i);
		if (sse_id_cmp(&ev->id, cursor) <= 0)
			continue;
		if (conn_queued(c) > feed.set->queue_max / 2)
			return;
		if (!conn_send_event(c, ev)) {
			*done = true;
			return;
		}
		*cursor = ev->id;
	}
	*done = true;
}

bool
feed_replay_step(struct sse_conn *c, struct sse_id *cursor, bool *done)
{
	struct sse_event *ev, *first;
	struct sse_id id;
	redisReply *r;
	char from[SSE_ID_MAX + 1];
	size_t i;
	bool ok = true;

	*done = false;
	first = feed.ring_count > 0 ? ring_at(0) : NULL;
	if (sse_id_cmp(cursor, &feed.last) >= 0 ||
	    (first != NULL && sse_id_cmp(&first->id, cursor) <= 0)) {
		ring_step(c, cursor, done);
		return true;
	}
	from[0] = '(';
	sse_id_format(cursor, from + 1, sizeof(from) - 1);
	r = cmd_array("XRANGE", "XRANGE %s %s + COUNT %d", feed.log_key,
	    from, (int)feed.set->replay_batch);
	if (r == NULL)
		return false;
	for (i = 0; i < r->elements; i++) {
		if (!entry_id(r->element[i], &id))
			continue;
		/* From here on the ring (or the live feed) has it all. */
		if (sse_id_cmp(&id, &feed.last) > 0 ||
		    (first != NULL && sse_id_cmp(&id, &first->id) >= 0)) {
			ring_step(c, cursor, done);
			goto out;
		}
		if (conn_queued(c) > feed.set->queue_max / 2)
			goto out;
		ev = entry_parse(r->element[i]);
		if (ev != NULL) {
			ok = conn_send_event(c, ev);
			sse_event_unref(ev);
			if (!ok) {
				*done = true;
				ok = true;
				goto out;
			}
		}
		*cursor = id;
	}
	if (r->elements < feed.set->replay_batch)
		ring_step(c, cursor, done);
out:
	freeReplyObject(r);
	return ok;
}

void
feed_init(const struct sse_settings *set, int epfd)
{
	memset(&feed, 0, sizeof(feed));
	feed.kind = SSE_KIND_REDIS;
	feed.set = set;
	feed.epfd = epfd;
	feed.channel = oc_config_key(set->cfg, "events");
	feed.log_key = oc_config_key(set->cfg, "log");
	feed.metrics_key = oc_config_key(set->cfg, "metrics:sse");
	feed.ring = xcalloc(set->ring_size, sizeof(*feed.ring));
	feed.backoff = BACKOFF_MIN_MS;
	feed.state = SUB_DOWN;
	feed.next_attempt = 0;
	feed.next_metrics = oc_mono_ms() + METRICS_EVERY_MS;
}

void
feed_free(void)
{
	size_t i;

	/* The gauge goes to zero as the last clients have left. */
	feed.next_metrics = 0;
	metrics_flush();
	if (feed.sub != NULL) {
		if (feed.sub_events != 0)
			epoll_ctl(feed.epfd, EPOLL_CTL_DEL, feed.sub->fd, NULL);
		redisFree(feed.sub);
	}
	if (feed.cmd != NULL)
		redisFree(feed.cmd);
	for (i = 0; i < feed.ring_count; i++)
		sse_event_unref(ring_at(i));
	free(feed.ring);
	free(feed.channel);
	free(feed.log_key);
	free(feed.metrics_key);
	memset(&feed, 0, sizeof(feed));
}
