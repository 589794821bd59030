/*
 * The relay's Redis side, all asynchronous on the loop's epoll: one
 * subscriber on PREFIX:events, a ring of recent events, gap fill from
 * PREFIX:log after the subscription breaks, a reader of log entries
 * after an id (replays), and the counters. New events go to the one
 * callback registered at feed_init(). Under Sentinel a third link asks
 * the sentinels where the primary is, at start, after a failure and on
 * every heartbeat; the links to the primary follow its answer.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "oc-auth.h"
#include "oc-keys.h"
#include "oc-log.h"
#include "oc-metrics.h"
#include "oc-redis.h"
#include "oc-redis-async.h"
#include "oc-xmalloc.h"
#include "sse.h"

#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		5000
#define CMD_TIMEOUT_MS		10000	/* a reply overdue: drop the link */
#define METRICS_EVERY_MS	1000
#define FILL_BATCH		500
#define HELD_MAX		65536	/* live events held during a sync */
#define SENTINEL_EVERY_MS	1000	/* the heartbeat question */
#define SENTINEL_RETRY_MS	200	/* after a sentinel failed, or
					   while Redis is down */

/* One connection to Redis and its epoll tag. */
struct feed_link {
	enum sse_kind		 kind;		/* first: epoll data */
	redisAsyncContext	*ac;
	unsigned		 gen;		/* bumped per connection */
	unsigned		 inflight;	/* replies awaited */
	int64_t			 progress;	/* last reply or send */
};

/* A log read or check in flight; the reply callback's privdata. */
struct feed_req {
	bool			 cancelled;
	bool			 check;
	bool			 get;
	feed_get_cb		*get_cb;
	struct sse_id		 after;
	size_t			 max;
	feed_read_cb		*read_cb;
	feed_check_cb		*check_cb;
	void			*arg;
	struct feed_req		*failed_next;
};

enum sub_state {
	SUB_DOWN,
	SUB_SUBSCRIBING,
	SUB_LIVE
};

static struct {
	const struct sse_settings *set;
	int			 epfd;
	feed_event_cb		*on_event;
	feed_session_cb		*on_session;
	const char		*channel;
	char			*sessions;	/* channel of ended sessions */
	const char		*log_key;
	const char		*metrics_key;	/* the shared counters */
	char			*gauge_key;	/* this relay's gauges */
	bool			 sessions_heard;	/* subscribed once */
	bool			 closing;

	struct feed_link	 sub;
	struct feed_link	 cmd;
	enum sub_state		 state;
	int64_t			 next_attempt;
	int64_t			 backoff;
	bool			 down_logged;
	bool			 cmd_logged;

	bool			 syncing;
	struct sse_event	**held;		/* live events during a sync */
	size_t			 held_count;
	bool			 held_lost;	/* overflowed: fill again */

	struct sse_event	**ring;
	size_t			 ring_head;
	size_t			 ring_count;
	struct sse_id		 last;
	bool			 synced;

	struct feed_req		*failed;		/* to report */

	struct feed_link	 sen;		/* to one sentinel */
	size_t			 sen_idx;	/* which one */
	bool			 sen_out;	/* a question in flight */
	bool			 sen_logged;
	int64_t			 sen_next;	/* next question */
	bool			 have_primary;	/* primary_* is current */
	char			 primary_host[256];
	int			 primary_port;

	struct sse_counters	 flushed;
	struct sse_counters	 flushing;
	bool			 metrics_out;
	int64_t			 next_metrics;
} feed;

static void sub_fail(const char *reason);
static void sync_fill(void);
static void req_fail_later(struct feed_req *q);
static void req_fail_all(void);
static void sen_ask(void);
static void primary_lost(const char *why);

/* True when the sentinels say where Redis is. */
static bool
sentinels(void)
{
	return feed.set->cfg->nsentinels > 0;
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

/* A new event in stream order: keep it and hand it on. */
static void
feed_accept(struct sse_event *ev)
{
	if (sse_id_cmp(&ev->id, &feed.last) <= 0)
		return;		/* seen already (gap fill, resubscribe) */
	feed.last = ev->id;
	ring_push(ev);
	feed.on_event(ev);
}

/* Drop the live events held during a sync. */
static void
held_clear(void)
{
	size_t i;

	for (i = 0; i < feed.held_count; i++)
		sse_event_unref(feed.held[i]);
	feed.held_count = 0;
}

/* A live event while the log is being read: hold it until the end. */
static void
held_push(struct sse_event *ev)
{
	if (feed.held_count == HELD_MAX) {
		held_clear();
		feed.held_lost = true;
		return;
	}
	if (feed.held == NULL)
		feed.held = xreallocarray(NULL, HELD_MAX, sizeof(*feed.held));
	feed.held[feed.held_count++] = sse_event_ref(ev);
}

/* The log is read: go live with what was held meanwhile. */
static void
sync_done(void)
{
	size_t i;

	if (feed.held_lost) {
		feed.held_lost = false;
		sync_fill();
		return;
	}
	feed.syncing = false;
	for (i = 0; i < feed.held_count; i++)
		feed_accept(feed.held[i]);
	held_clear();
	feed.backoff = BACKOFF_MIN_MS;
	if (feed.down_logged)
		log_info("redis subscriber on %s is back", feed.channel);
	feed.down_logged = false;
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
	if (feed.syncing)
		held_push(ev);
	else
		feed_accept(ev);
	sse_event_unref(ev);
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

/* Parse the event of a log entry; NULL (logged) when it is not one. */
static struct sse_event *
entry_parse(const redisReply *e)
{
	const redisReply *f, *v = NULL;
	struct sse_event *ev;
	char err[256];
	size_t i;

	f = e->element[1];
	if (f->type == REDIS_REPLY_ARRAY)
		for (i = 0; i + 1 < f->elements && v == NULL; i += 2)
			if (f->element[i]->type == REDIS_REPLY_STRING &&
			    strcmp(f->element[i]->str, "event") == 0 &&
			    f->element[i + 1]->type == REDIS_REPLY_STRING)
				v = f->element[i + 1];
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

/* The command link went away (or never came up). */
static void
cmd_gone(const redisAsyncContext *ac, int status)
{
	(void)status;
	if (feed.cmd.ac == ac) {
		feed.cmd.ac = NULL;
		feed.cmd.inflight = 0;
		primary_lost("connection closed");
	}
}

/* The command link's connect finished. */
static void
cmd_connected(const redisAsyncContext *ac, int status)
{
	if (status == REDIS_OK) {
		feed.cmd_logged = false;
		return;
	}
	if (!feed.cmd_logged)
		log_warnx("redis %s: %s", feed.set->cfg->redis, ac->errstr);
	feed.cmd_logged = true;
	cmd_gone(ac, status);
}

/* AUTH's and ROLE's answers on a new link to the primary. */
static void
hello_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	struct feed_link *l = priv;
	char why[160];

	if (r == NULL || l->ac != ac || feed.closing)
		return;		/* the link is going already */
	if (l->inflight > 0)
		l->inflight--;
	l->progress = oc_mono_ms();
	if (r->type == REDIS_REPLY_STATUS)
		return;		/* AUTH accepted */
	if (oc_redis_role_is_primary(r))
		return;
	snprintf(why, sizeof(why), "%s", r->type == REDIS_REPLY_ERROR ?
	    r->str : "not a primary (ROLE)");
	if (l == &feed.sub)
		sub_fail(why);
	else {
		log_warnx("redis %s:%d: %s", feed.primary_host,
		    feed.primary_port, why);
		primary_lost(why);
	}
}

/*
 * Connect l to the primary the sentinels named (or ORDERCAST_REDIS),
 * AUTH when configured and, under Sentinel, check that ROLE says master.
 * The commands queue behind these; a failing answer drops the link.
 */
static redisAsyncContext *
link_open(struct feed_link *l, char *err, size_t errlen)
{
	const struct oc_config *cfg = feed.set->cfg;
	redisAsyncContext *ac;
	int rc = REDIS_OK;

	if (sentinels())
		ac = oc_redis_async_connect_addr(feed.primary_host,
		    feed.primary_port, feed.epfd, l, err, errlen);
	else
		ac = oc_redis_async_connect(cfg, feed.epfd, l, err, errlen);
	if (ac == NULL)
		return NULL;
	l->gen++;
	l->inflight = 0;
	l->progress = oc_mono_ms();
	if (cfg->redis_password != NULL && cfg->redis_user != NULL)
		rc = redisAsyncCommand(ac, hello_reply, l, "AUTH %s %s",
		    cfg->redis_user, cfg->redis_password);
	else if (cfg->redis_password != NULL)
		rc = redisAsyncCommand(ac, hello_reply, l, "AUTH %s",
		    cfg->redis_password);
	if (cfg->redis_password != NULL && rc == REDIS_OK)
		l->inflight++;
	if (sentinels() && rc == REDIS_OK &&
	    (rc = redisAsyncCommand(ac, hello_reply, l, "ROLE")) == REDIS_OK)
		l->inflight++;
	if (rc != REDIS_OK) {
		snprintf(err, errlen, "redis: cannot send AUTH or ROLE");
		redisAsyncFree(ac);
		return NULL;
	}
	return ac;
}

/* The link for XRANGE and counters, connected on demand. */
static redisAsyncContext *
cmd_link(void)
{
	char err[256];

	if (feed.cmd.ac != NULL)
		return feed.cmd.ac;
	if (sentinels() && !feed.have_primary) {
		sen_ask();
		return NULL;
	}
	feed.cmd.ac = link_open(&feed.cmd, err, sizeof(err));
	if (feed.cmd.ac == NULL) {
		if (!feed.cmd_logged)
			log_warnx("%s", err);
		feed.cmd_logged = true;
		primary_lost(err);
		return NULL;
	}
	redisAsyncSetConnectCallback(feed.cmd.ac, cmd_connected);
	redisAsyncSetDisconnectCallback(feed.cmd.ac, cmd_gone);
	return feed.cmd.ac;
}

/* Send a command on the command link; false when it cannot be sent. */
static bool
cmd_send(redisCallbackFn *fn, void *priv, const char *fmt, ...)
{
	redisAsyncContext *ac;
	va_list ap;
	int rc;

	ac = cmd_link();
	if (ac == NULL)
		return false;
	va_start(ap, fmt);
	rc = redisvAsyncCommand(ac, fn, priv, fmt, ap);
	va_end(ap);
	if (rc != REDIS_OK)
		return false;
	if (feed.cmd.inflight == 0)
		feed.cmd.progress = oc_mono_ms();
	feed.cmd.inflight++;
	return true;
}

/*
 * A reply came on the command link: it is alive. An error reply saying
 * the primary moved drops the links and asks the sentinels again.
 */
static void
cmd_replied(const redisReply *r)
{
	char why[160];

	if (feed.cmd.inflight > 0)
		feed.cmd.inflight--;
	feed.cmd.progress = oc_mono_ms();
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    oc_redis_reply_moved(r) && sentinels()) {
		snprintf(why, sizeof(why), "%s", r->str);
		primary_lost(why);
	}
}

/* A sync step's reply is for the subscriber of now, and usable. */
static bool
sync_reply_ok(void *priv, const redisReply *r)
{
	if ((unsigned)(uintptr_t)priv != feed.sub.gen || !feed.syncing ||
	    feed.closing)
		return false;
	if (r == NULL) {
		sub_fail("cannot read the log");
		return false;
	}
	return true;
}

/* Replies of the gap fill: the entries after the last id seen. */
static void
fill_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	struct sse_event *ev;
	struct sse_id id;
	size_t i, n;

	(void)ac;
	cmd_replied(reply);
	if (!sync_reply_ok(priv, r))
		return;
	if (r->type != REDIS_REPLY_ARRAY) {
		sub_fail(r->type == REDIS_REPLY_ERROR ? r->str :
		    "XRANGE: unexpected reply");
		return;
	}
	n = r->elements;
	for (i = 0; i < n; i++) {
		if (!entry_id(r->element[i], &id))
			continue;
		ev = entry_parse(r->element[i]);
		if (ev != NULL) {
			feed_accept(ev);
			sse_event_unref(ev);
		}
		/* Whatever the entry held, the fill moves past it. */
		if (sse_id_cmp(&id, &feed.last) > 0)
			feed.last = id;
	}
	if (n > 0)
		log_info("filled %zu events from %s", n, feed.log_key);
	if (n == FILL_BATCH)
		sync_fill();
	else
		sync_done();
}

/* Ask for the next part of the gap fill. */
static void
sync_fill(void)
{
	char from[SSE_ID_MAX + 1];

	from[0] = '(';
	sse_id_format(&feed.last, from + 1, sizeof(from) - 1);
	if (!cmd_send(fill_reply, (void *)(uintptr_t)feed.sub.gen,
	    "XRANGE %s %s + COUNT %d", feed.log_key, from, FILL_BATCH))
		sub_fail("cannot read the log");
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
 * XINFO STREAM after a break: if the log lost entries after the last id
 * we saw (trimmed while we were away), every client must resync.
 */
static void
lost_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply, *v;
	struct sse_id deleted;
	struct sse_event *ev;

	(void)ac;
	cmd_replied(reply);
	if (!sync_reply_ok(priv, r))
		return;
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
	sync_fill();
}

/* The first sync: where the log ends now. */
static void
tail_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	struct sse_id id;

	(void)ac;
	cmd_replied(reply);
	if (!sync_reply_ok(priv, r))
		return;
	if (r->type != REDIS_REPLY_ARRAY) {
		sub_fail(r->type == REDIS_REPLY_ERROR ? r->str :
		    "XREVRANGE: unexpected reply");
		return;
	}
	if (r->elements > 0 && entry_id(r->element[0], &id))
		feed.last = id;
	feed.synced = true;
	sync_done();
}

/*
 * Bring the relay up to date after (re)subscribing: the first time learn
 * where the log ends; later replay what pub/sub lost while away. Live
 * events are held meanwhile.
 */
static void
sync_start(void)
{
	void *gen = (void *)(uintptr_t)feed.sub.gen;
	bool ok;

	feed.syncing = true;
	feed.held_lost = false;
	held_clear();
	if (!feed.synced)
		ok = cmd_send(tail_reply, gen, "XREVRANGE %s + - COUNT 1",
		    feed.log_key);
	else
		ok = cmd_send(lost_reply, gen, "XINFO STREAM %s",
		    feed.log_key);
	if (!ok)
		sub_fail("cannot read the log");
}

/* Every reply of the subscription: confirmations and messages. */
static void
sub_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	const char *kind, *chan;

	(void)ac;
	if ((unsigned)(uintptr_t)priv != feed.sub.gen || r == NULL ||
	    feed.closing)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING) {
		sub_fail(r->type == REDIS_REPLY_ERROR ? r->str :
		    "unexpected reply");
		return;
	}
	kind = r->element[0]->str;
	chan = r->element[1]->type == REDIS_REPLY_STRING ?
	    r->element[1]->str : "";
	if (strcmp(kind, "message") == 0 && r->elements == 3 &&
	    r->element[2]->type == REDIS_REPLY_STRING) {
		if (strcmp(chan, feed.sessions) == 0)
			feed.on_session(r->element[2]->str);
		else
			feed_message(r->element[2]->str, r->element[2]->len);
	} else if (strcmp(kind, "subscribe") == 0 &&
	    strcmp(chan, feed.sessions) == 0) {
		/* Sessions ended while we were away: check them all. */
		if (feed.sessions_heard)
			feed.on_session(NULL);
		feed.sessions_heard = true;
	} else if (strcmp(kind, "subscribe") == 0) {
		feed.state = SUB_LIVE;
		sync_start();
	}
}

/* The subscriber's connection ended (or never came up). */
static void
sub_gone(const redisAsyncContext *ac, int status)
{
	(void)status;
	if (feed.sub.ac != ac)
		return;
	feed.sub.ac = NULL;
	if (!feed.closing)
		sub_fail(ac->errstr[0] != '\0' ? ac->errstr :
		    "connection closed");
}

/* The subscriber's connect finished. */
static void
sub_connected(const redisAsyncContext *ac, int status)
{
	if (status != REDIS_OK)
		sub_gone(ac, status);
}

/* Drop the subscriber; reconnect after a growing delay. */
static void
sub_fail(const char *reason)
{
	redisAsyncContext *ac = feed.sub.ac;
	char why[128];

	/* reason may live in the context freed below. */
	snprintf(why, sizeof(why), "%s", reason);
	feed.sub.ac = NULL;
	feed.sub.gen++;
	if (ac != NULL)
		redisAsyncFree(ac);
	feed.syncing = false;
	held_clear();
	if (!feed.down_logged)
		log_warnx("redis subscriber on %s: %s; reconnecting",
		    feed.channel, why);
	feed.down_logged = true;
	feed.state = SUB_DOWN;
	feed.next_attempt = oc_mono_ms() + feed.backoff;
	feed.backoff *= 2;
	if (feed.backoff > BACKOFF_MAX_MS)
		feed.backoff = BACKOFF_MAX_MS;
	primary_lost(why);
}

/* Start the subscriber's connection and its SUBSCRIBE. */
static void
sub_connect(void)
{
	char err[256];

	if (sentinels() && !feed.have_primary) {
		sen_ask();
		return;
	}
	feed.sub.ac = link_open(&feed.sub, err, sizeof(err));
	if (feed.sub.ac == NULL) {
		sub_fail(err);
		return;
	}
	redisAsyncSetConnectCallback(feed.sub.ac, sub_connected);
	redisAsyncSetDisconnectCallback(feed.sub.ac, sub_gone);
	feed.state = SUB_SUBSCRIBING;
	if (redisAsyncCommand(feed.sub.ac, sub_reply,
	    (void *)(uintptr_t)feed.sub.gen, "SUBSCRIBE %s %s",
	    feed.channel, feed.sessions) != REDIS_OK)
		sub_fail("cannot send SUBSCRIBE");
}

/*
 * The primary is not where the links point (it moved, failed, or the
 * sentinels must say again): drop the links and ask. Without sentinels
 * the links reconnect to ORDERCAST_REDIS as before.
 */
static void
primary_lost(const char *why)
{
	redisAsyncContext *ac = feed.cmd.ac;

	if (!sentinels() || feed.closing)
		return;
	feed.have_primary = false;
	if (ac != NULL) {
		feed.cmd.ac = NULL;
		feed.cmd.inflight = 0;
		redisAsyncFree(ac);	/* its callbacks see NULL */
	}
	if (feed.sub.ac != NULL)
		sub_fail(why);	/* comes back here */
	sen_ask();
}

/* Leave this sentinel (it failed or did not know): ask the next soon. */
static void
sen_drop(bool free_it)
{
	redisAsyncContext *ac = feed.sen.ac;

	feed.sen.ac = NULL;
	feed.sen.gen++;
	feed.sen_out = false;
	if (ac != NULL && free_it)
		redisAsyncFree(ac);
	feed.sen_idx = (feed.sen_idx + 1) % feed.set->cfg->nsentinels;
	feed.sen_next = oc_mono_ms() + SENTINEL_RETRY_MS;
}

/* The sentinel's link ended. */
static void
sen_gone(const redisAsyncContext *ac, int status)
{
	(void)status;
	if (feed.sen.ac == ac)
		sen_drop(false);
}

/* The sentinel's connect finished. */
static void
sen_connected(const redisAsyncContext *ac, int status)
{
	if (status != REDIS_OK)
		sen_gone(ac, status);
}

/*
 * A sentinel named the primary. A new address drops the links to the
 * old one (a failover: the log there may end below our last id, which
 * feed_accept() keeps from being sent twice) and reconnects now.
 */
static void
sen_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	const struct oc_hostport *s;
	char host[sizeof(feed.primary_host)];
	bool changed;
	int port;

	(void)ac;
	if ((unsigned)(uintptr_t)priv != feed.sen.gen || feed.closing)
		return;
	feed.sen_out = false;
	if (!oc_redis_sentinel_addr(r, host, sizeof(host), &port)) {
		s = &feed.set->cfg->sentinels[feed.sen_idx];
		if (!feed.sen_logged)
			log_warnx("sentinel %s:%d: no primary named %s",
			    s->host, s->port, feed.set->cfg->redis_master);
		feed.sen_logged = true;
		sen_drop(r != NULL);
		return;
	}
	feed.sen_logged = false;
	/* While the links are down, a failover is what we wait for. */
	feed.sen_next = oc_mono_ms() + (feed.state == SUB_DOWN ?
	    SENTINEL_RETRY_MS : SENTINEL_EVERY_MS);
	changed = strcmp(host, feed.primary_host) != 0 ||
	    port != feed.primary_port;
	if (!changed && feed.have_primary)
		return;
	if (changed && feed.have_primary) {
		log_info("the sentinels name %s:%d as primary %s: following",
		    host, port, feed.set->cfg->redis_master);
		primary_lost("the primary moved");
	}
	memcpy(feed.primary_host, host, strlen(host) + 1);
	feed.primary_port = port;
	feed.have_primary = true;
	if (changed && feed.state == SUB_DOWN) {
		feed.backoff = BACKOFF_MIN_MS;
		feed.next_attempt = oc_mono_ms();
	}
}

/* Ask a sentinel where the primary is, unless a question is out. */
static void
sen_ask(void)
{
	const struct oc_config *cfg = feed.set->cfg;
	const struct oc_hostport *s;
	char err[256];

	if (!sentinels() || feed.sen_out || feed.closing)
		return;
	if (feed.sen.ac == NULL) {
		s = &cfg->sentinels[feed.sen_idx];
		feed.sen.ac = oc_redis_async_connect_addr(s->host, s->port,
		    feed.epfd, &feed.sen, err, sizeof(err));
		if (feed.sen.ac == NULL) {
			log_debug("sentinel: %s", err);
			sen_drop(false);
			return;
		}
		feed.sen.gen++;
		redisAsyncSetConnectCallback(feed.sen.ac, sen_connected);
		redisAsyncSetDisconnectCallback(feed.sen.ac, sen_gone);
	}
	if (redisAsyncCommand(feed.sen.ac, sen_reply,
	    (void *)(uintptr_t)feed.sen.gen,
	    "SENTINEL get-master-addr-by-name %s", cfg->redis_master) !=
	    REDIS_OK) {
		sen_drop(true);
		return;
	}
	feed.sen_out = true;
	feed.sen.progress = oc_mono_ms();
}

/* How long a sentinel may take to answer. */
static int64_t
sen_timeout_ms(void)
{
	return feed.set->cfg->timeout_ms > 0 ? feed.set->cfg->timeout_ms :
	    1000;
}

void
feed_io(void *tag, uint32_t events)
{
	struct feed_link *l = tag;

	if (l->ac != NULL)
		oc_redis_async_handle(l->ac, events);
}

/* The last reply of a metrics flush. */
static void
metrics_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;

	(void)ac;
	(void)priv;
	cmd_replied(reply);
	feed.metrics_out = false;
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		log_warnx("redis: metrics of %s not stored", feed.gauge_key);
		return;
	}
	feed.flushed = feed.flushing;
}

/* One reply of a metrics flush other than the last. */
static void
metrics_part(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	(void)priv;
	cmd_replied(reply);
}

/*
 * Add the counters that changed since the last flush to the shared
 * PREFIX:metrics:sse, and refresh this relay's gauge in its own
 * PREFIX:metrics:sse:<host>:<pid> every time, changed or not, so it
 * lives as long as the relay does and expires soon after it dies. The
 * last flush (stopping) deletes the gauge instead.
 */
static void
metrics_flush(bool stopping)
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
	long long d;
	size_t i;
	bool sent;

	if (feed.metrics_out)
		return;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		d = *(const long long *)(base + fields[i].off) -
		    *(const long long *)(old + fields[i].off);
		if (d == 0)
			continue;
		if (!cmd_send(metrics_part, NULL, "HINCRBY %s %s %lld",
		    feed.metrics_key, fields[i].name, d))
			return;
	}
	if (stopping)
		sent = cmd_send(metrics_reply, NULL, "DEL %s", feed.gauge_key);
	else
		sent = cmd_send(metrics_reply, NULL, "EVAL %s 1 %s %s %lld %d",
		    OC_GAUGE_SET_SCRIPT, feed.gauge_key,
		    OC_GAUGE_CLIENTS_CONNECTED, now.clients_connected,
		    OC_GAUGE_TTL_MS);
	if (!sent)
		return;
	feed.flushing = now;
	feed.metrics_out = true;
}

void
feed_tick(int64_t now_ms)
{
	if (feed.closing)
		return;
	req_fail_all();
	if (sentinels() && feed.sen_out &&
	    now_ms - feed.sen.progress >= sen_timeout_ms()) {
		log_debug("sentinel: no answer in %lld ms",
		    (long long)sen_timeout_ms());
		sen_drop(true);
	}
	if (sentinels() && !feed.sen_out && now_ms >= feed.sen_next) {
		feed.sen_next = now_ms + SENTINEL_EVERY_MS;
		sen_ask();
	}
	if (feed.state == SUB_DOWN && now_ms >= feed.next_attempt &&
	    (!sentinels() || feed.have_primary))
		sub_connect();
	if (feed.cmd.ac != NULL && feed.cmd.inflight > 0 &&
	    now_ms - feed.cmd.progress >= CMD_TIMEOUT_MS) {
		log_warnx("redis %s: no reply in %d ms; reconnecting",
		    feed.set->cfg->redis, CMD_TIMEOUT_MS);
		redisAsyncFree(feed.cmd.ac);	/* callbacks see NULL */
	}
	if (now_ms >= feed.next_metrics) {
		metrics_flush(false);
		feed.next_metrics = now_ms + METRICS_EVERY_MS;
	}
}

int64_t
feed_next_ms(int64_t now_ms)
{
	int64_t t = feed.next_metrics;

	if (feed.failed != NULL)
		return 0;
	if (feed.state == SUB_DOWN && feed.next_attempt < t &&
	    (!sentinels() || feed.have_primary))
		t = feed.next_attempt;
	if (sentinels() && !feed.sen_out && feed.sen_next < t)
		t = feed.sen_next;
	if (sentinels() && feed.sen_out &&
	    feed.sen.progress + sen_timeout_ms() < t)
		t = feed.sen.progress + sen_timeout_ms();
	if (feed.cmd.inflight > 0 && feed.cmd.progress + CMD_TIMEOUT_MS < t)
		t = feed.cmd.progress + CMD_TIMEOUT_MS;
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

/* Add ring events after *after to b, up to max in all. */
static void
ring_fill(struct feed_batch *b, const struct sse_id *after, size_t max)
{
	struct sse_event *ev;
	size_t i;

	for (i = 0; i < feed.ring_count; i++) {
		ev = ring_at(i);
		if (sse_id_cmp(&ev->id, after) <= 0)
			continue;
		if (b->n == max)
			return;
		b->ev[b->n++] = sse_event_ref(ev);
		b->next = ev->id;
	}
	b->caught_up = true;
	if (sse_id_cmp(&feed.last, &b->next) > 0)
		b->next = feed.last;
}

/* True when the ring holds every event after id. */
static bool
ring_covers(const struct sse_id *id)
{
	if (sse_id_cmp(id, &feed.last) >= 0)
		return true;
	return feed.ring_count > 0 && sse_id_cmp(&ring_at(0)->id, id) <= 0;
}

/* Start an empty batch after id with room for max events. */
static void
batch_init(struct feed_batch *b, const struct sse_id *after, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->ev = xreallocarray(NULL, max == 0 ? 1 : max, sizeof(*b->ev));
	b->next = *after;
}

void
feed_batch_clear(struct feed_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		sse_event_unref(b->ev[i]);
	free(b->ev);
	memset(b, 0, sizeof(*b));
}

/* The log's answer to a reader: entries, then the ring's. */
static void
read_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	struct feed_req *q = priv;
	struct feed_batch b;
	struct sse_event *ev, *first;
	struct sse_id id;
	size_t i;

	(void)ac;
	cmd_replied(reply);
	if (q->cancelled || feed.closing) {
		free(q);
		return;
	}
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			log_warnx("redis XRANGE: %s", r->str);
		q->read_cb(q->arg, NULL);
		free(q);
		return;
	}
	batch_init(&b, &q->after, q->max);
	first = feed.ring_count > 0 ? ring_at(0) : NULL;
	for (i = 0; i < r->elements && b.n < q->max; i++) {
		if (!entry_id(r->element[i], &id))
			continue;
		/* From here on the ring (or the live feed) has it all. */
		if (sse_id_cmp(&id, &feed.last) > 0 ||
		    (first != NULL && sse_id_cmp(&id, &first->id) >= 0)) {
			ring_fill(&b, &b.next, q->max);
			goto out;
		}
		ev = entry_parse(r->element[i]);
		if (ev != NULL)
			b.ev[b.n++] = ev;
		b.next = id;
	}
	if (r->elements < q->max)
		ring_fill(&b, &b.next, q->max);
out:
	q->read_cb(q->arg, &b);
	feed_batch_clear(&b);
	free(q);
}

struct feed_req *
feed_read_after(const struct sse_id *after, size_t max,
    struct feed_batch *now, feed_read_cb *cb, void *arg)
{
	struct feed_req *q;
	char from[SSE_ID_MAX + 1];

	if (ring_covers(after)) {
		batch_init(now, after, max);
		ring_fill(now, after, max);
		return NULL;
	}
	q = xcalloc(1, sizeof(*q));
	q->after = *after;
	q->max = max;
	q->read_cb = cb;
	q->arg = arg;
	from[0] = '(';
	sse_id_format(after, from + 1, sizeof(from) - 1);
	if (!cmd_send(read_reply, q, "XRANGE %s %s + COUNT %d",
	    feed.log_key, from, (int)max))
		req_fail_later(q);
	return q;
}

/* The log's first entry, to compare a client's id with. */
static void
check_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	struct feed_req *q = priv;
	struct sse_id first;
	bool resync = false;

	(void)ac;
	cmd_replied(reply);
	if (q->cancelled || feed.closing) {
		free(q);
		return;
	}
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			log_warnx("redis XRANGE: %s", r->str);
		q->check_cb(q->arg, false, false);
		free(q);
		return;
	}
	if (r->elements > 0 && entry_id(r->element[0], &first) &&
	    sse_id_cmp(&q->after, &first) < 0)
		resync = true;
	q->check_cb(q->arg, true, resync);
	free(q);
}

struct feed_req *
feed_check_after(const struct sse_id *id, feed_check_cb *cb, void *arg)
{
	struct feed_req *q;

	q = xcalloc(1, sizeof(*q));
	q->check = true;
	q->after = *id;
	q->check_cb = cb;
	q->arg = arg;
	if (!cmd_send(check_reply, q, "XRANGE %s - + COUNT 1", feed.log_key))
		req_fail_later(q);
	return q;
}

/* The value of a GET, for a session lookup. */
static void
get_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	struct feed_req *q = priv;

	(void)ac;
	cmd_replied(reply);
	if (q->cancelled || feed.closing) {
		free(q);
		return;
	}
	if (r == NULL || (r->type != REDIS_REPLY_STRING &&
	    r->type != REDIS_REPLY_NIL)) {
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			log_warnx("redis GET: %s", r->str);
		q->get_cb(q->arg, false, NULL, 0);
	} else if (r->type == REDIS_REPLY_NIL)
		q->get_cb(q->arg, true, NULL, 0);
	else
		q->get_cb(q->arg, true, r->str, r->len);
	free(q);
}

struct feed_req *
feed_get(const char *key, feed_get_cb *cb, void *arg)
{
	struct feed_req *q;

	q = xcalloc(1, sizeof(*q));
	q->get = true;
	q->get_cb = cb;
	q->arg = arg;
	if (!cmd_send(get_reply, q, "GET %s", key))
		req_fail_later(q);
	return q;
}

void
feed_req_cancel(struct feed_req *q)
{
	q->cancelled = true;
}

/* Requests that could not be sent fail from the loop, not the caller. */
static void
req_fail_later(struct feed_req *q)
{
	q->failed_next = feed.failed;
	feed.failed = q;
}

/* Report the requests that could not be sent. */
static void
req_fail_all(void)
{
	struct feed_req *q;

	while ((q = feed.failed) != NULL) {
		feed.failed = q->failed_next;
		if (!q->cancelled && !feed.closing) {
			if (q->check)
				q->check_cb(q->arg, false, false);
			else if (q->get)
				q->get_cb(q->arg, false, NULL, 0);
			else
				q->read_cb(q->arg, NULL);
		}
		free(q);
	}
}

void
feed_init(const struct sse_settings *set, int epfd, feed_event_cb *cb,
    feed_session_cb *session_cb)
{
	char instance[96];

	memset(&feed, 0, sizeof(feed));
	feed.sub.kind = SSE_KIND_REDIS;
	feed.cmd.kind = SSE_KIND_REDIS;
	feed.sen.kind = SSE_KIND_REDIS;
	feed.set = set;
	feed.epfd = epfd;
	feed.on_event = cb;
	feed.on_session = session_cb;
	feed.channel = set->keys->events;
	feed.sessions = oc_sessions_channel(set->cfg->prefix);
	feed.log_key = set->keys->log;
	feed.metrics_key = set->keys->metrics_sse;
	oc_metrics_instance_name(instance, sizeof(instance));
	feed.gauge_key = oc_keys_metrics_instance(set->keys, OC_PROGRAM_SSE,
	    instance);
	feed.ring = xcalloc(set->ring_size, sizeof(*feed.ring));
	feed.backoff = BACKOFF_MIN_MS;
	feed.state = SUB_DOWN;
	feed.next_attempt = 0;
	feed.next_metrics = oc_mono_ms() + METRICS_EVERY_MS;
}

void
feed_shutdown(void)
{
	redisAsyncContext *ac = feed.sub.ac;

	req_fail_all();
	feed.sub.ac = NULL;
	feed.sub.gen++;
	if (ac != NULL)
		redisAsyncFree(ac);
	ac = feed.sen.ac;
	feed.sen.ac = NULL;
	feed.sen.gen++;
	if (ac != NULL)
		redisAsyncFree(ac);
	/* The last counters, and this relay's gauge goes. */
	feed.metrics_out = false;
	metrics_flush(true);
	feed.closing = true;
}

bool
feed_idle(void)
{
	return feed.cmd.ac == NULL || feed.cmd.inflight == 0;
}

void
feed_free(void)
{
	size_t i;

	feed.closing = true;
	if (feed.sub.ac != NULL)
		redisAsyncFree(feed.sub.ac);
	if (feed.cmd.ac != NULL)
		redisAsyncFree(feed.cmd.ac);
	if (feed.sen.ac != NULL)
		redisAsyncFree(feed.sen.ac);
	req_fail_all();
	held_clear();
	free(feed.held);
	for (i = 0; i < feed.ring_count; i++)
		sse_event_unref(ring_at(i));
	free(feed.ring);
	free(feed.sessions);
	free(feed.gauge_key);
	memset(&feed, 0, sizeof(feed));
}
