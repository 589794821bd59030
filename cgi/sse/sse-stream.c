/*
 * Stream policy: which requests become event streams, which events each
 * client gets, how fast a replay moves (the only place that paces one),
 * heartbeats, and when a client is too slow to keep.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oc-log.h"
#include "sse.h"

static struct {
	const struct sse_settings *set;
	TAILQ_HEAD(, sse_conn)	 clients;	/* every open stream */
	TAILQ_HEAD(, sse_conn)	 replays;	/* replaying, no read out */
	size_t			 nclients;
	struct sse_buf		*heartbeat;
	struct sse_buf		*stream_head;
	int64_t			 next_heartbeat;
} streams;

/* Count c as a client and keep it on the list of open streams. */
static void
client_add(struct sse_conn *c)
{
	c->client.open = true;
	TAILQ_INSERT_TAIL(&streams.clients, c, client.entry);
	streams.nclients++;
	sse_stats.clients_connected = (long long)streams.nclients;
}

/* Put a replaying client where stream_tick() moves it on. */
static void
replay_queue(struct sse_conn *c)
{
	if (c->client.on_rlist)
		return;
	c->client.on_rlist = true;
	TAILQ_INSERT_TAIL(&streams.replays, c, client.rentry);
}

/* Take c off the replay list. */
static void
replay_unqueue(struct sse_conn *c)
{
	if (!c->client.on_rlist)
		return;
	c->client.on_rlist = false;
	TAILQ_REMOVE(&streams.replays, c, client.rentry);
}

/* Forget everything the stream layer holds for c. */
static void
stream_stop(struct sse_conn *c)
{
	struct sse_client *cl = &c->client;

	if (cl->pending != NULL) {
		feed_req_cancel(cl->pending);
		cl->pending = NULL;
	}
	replay_unqueue(c);
	cl->replaying = false;
	if (cl->open) {
		cl->open = false;
		TAILQ_REMOVE(&streams.clients, c, client.entry);
		streams.nclients--;
		sse_stats.clients_connected = (long long)streams.nclients;
	}
}

/* End c's stream cleanly; the web server ends the response. */
static void
stream_end(struct sse_conn *c)
{
	stream_stop(c);
	request_end(c);
}

/* A client whose queue passed the cap: end it, it will be replayed. */
static void
stream_slow(struct sse_conn *c)
{
	char id[SSE_ID_MAX];

	sse_id_format(&c->client.cursor, id, sizeof(id));
	log_info("closing a slow client (%zu bytes queued, at %s)",
	    conn_queued(c), id);
	sse_stats.slow_client_closes++;
	stream_end(c);
}

/*
 * Queue an event for c when its filter admits it. Returns false when
 * the client was too slow and its stream has ended.
 */
static bool
stream_send(struct sse_conn *c, struct sse_event *ev)
{
	if (!sse_filter_admits(&c->client.filter, ev))
		return true;
	if (conn_queued(c) + ev->rec->len > streams.set->queue_max) {
		stream_slow(c);
		return false;
	}
	request_push(c, ev->rec);
	sse_stats.events_sent++;
	return true;
}

void
stream_deliver(struct sse_event *ev)
{
	struct sse_conn *c, *next;

	for (c = TAILQ_FIRST(&streams.clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, client.entry);
		if (c->client.replaying)
			continue;
		if (sse_id_cmp(&ev->id, &c->client.cursor) <= 0)
			continue;	/* had it from its replay */
		c->client.cursor = ev->id;
		stream_send(c, ev);
	}
}

/*
 * Queue a batch of a replay while c holds less than half its cap.
 * Returns false when the stream ended.
 */
static bool
replay_take(struct sse_conn *c, const struct feed_batch *b)
{
	struct sse_client *cl = &c->client;
	size_t i;

	for (i = 0; i < b->n; i++) {
		if (conn_queued(c) > streams.set->queue_max / 2)
			return true;	/* the next read starts here */
		if (!stream_send(c, b->ev[i]))
			return false;
		cl->cursor = b->ev[i]->id;
	}
	if (sse_id_cmp(&b->next, &cl->cursor) > 0)
		cl->cursor = b->next;
	if (b->caught_up)
		cl->replaying = false;	/* the live feed goes on */
	return true;
}

/* A log read came back. */
static void
replay_read_done(void *arg, const struct feed_batch *b)
{
	struct sse_conn *c = arg;

	c->client.pending = NULL;
	if (b == NULL) {
		stream_end(c);
		return;
	}
	if (replay_take(c, b) && c->client.replaying)
		replay_queue(c);
}

/* Move one replaying client on, if its queue has room. */
static void
replay_step(struct sse_conn *c)
{
	struct sse_client *cl = &c->client;
	struct feed_batch now;
	struct feed_req *r;

	if (conn_queued(c) > streams.set->queue_max / 4)
		return;		/* stays queued: tried again next tick */
	replay_unqueue(c);
	memset(&now, 0, sizeof(now));
	r = feed_read_after(&cl->cursor, streams.set->replay_batch, &now,
	    replay_read_done, c);
	if (r != NULL) {
		cl->pending = r;
		return;
	}
	if (replay_take(c, &now) && cl->replaying)
		replay_queue(c);
	feed_batch_clear(&now);
}

/* Open the stream: headers, retry, a comment; then replay or go live. */
static void
stream_open(struct sse_conn *c, bool resync)
{
	struct sse_client *cl = &c->client;
	struct sse_event *ev;
	struct sse_id last = feed_last();

	request_push(c, streams.stream_head);
	client_add(c);
	cl->replaying = false;
	if (resync) {
		ev = sse_event_resync(&last, oc_wall_ms());
		request_push(c, ev->rec);
		sse_event_unref(ev);
		sse_stats.resyncs++;
		cl->cursor = last;
	} else if (cl->filter.has_last_id) {
		cl->cursor = cl->filter.last_id;
		cl->replaying = true;
		replay_queue(c);
	} else
		cl->cursor = last;
}

/* The log said where it starts: open the stream or answer 503. */
static void
check_done(void *arg, bool ok, bool resync)
{
	struct sse_conn *c = arg;

	c->client.pending = NULL;
	if (!ok) {
		request_respond(c, "503 Service Unavailable",
		    "Retry-After: 2\r\n", "unavailable",
		    "the event log is not reachable");
		return;
	}
	sse_stats.replays++;
	stream_open(c, resync);
}

/* The request is complete: check it, then answer or open the stream. */
static void
stream_start(struct sse_conn *c)
{
	char method[16], query[2048], lastid[128], err[256];
	struct sse_filter *f = &c->client.filter;
	struct sse_id hdr_id;

	memset(&c->client, 0, sizeof(c->client));
	if (!request_param(c, "REQUEST_METHOD", method, sizeof(method)))
		method[0] = '\0';
	if (strcmp(method, "GET") != 0) {
		request_respond(c, "405 Method Not Allowed", "Allow: GET\r\n",
		    "method_not_allowed", "the event stream is GET only");
		return;
	}
	if (!request_param(c, "QUERY_STRING", query, sizeof(query)))
		query[0] = '\0';
	if (!sse_filter_parse(query, f, err, sizeof(err))) {
		request_respond(c, "400 Bad Request", "", "invalid_field",
		    err);
		return;
	}
	if (request_param(c, "HTTP_LAST_EVENT_ID", lastid, sizeof(lastid)) &&
	    lastid[0] != '\0') {
		if (!sse_id_parse(lastid, strlen(lastid), &hdr_id)) {
			request_respond(c, "400 Bad Request", "",
			    "invalid_field",
			    "Last-Event-ID: expected a stream id");
			return;
		}
		f->last_id = hdr_id;
		f->has_last_id = true;
	}
	if (streams.nclients >= (size_t)streams.set->cfg->sse_max_clients) {
		request_respond(c, "503 Service Unavailable",
		    "Retry-After: 5\r\n", "unavailable",
		    "too many event streams");
		return;
	}
	if (!f->has_last_id) {
		stream_open(c, false);
		return;
	}
	if (!feed_synced()) {
		check_done(c, false, false);
		return;
	}
	c->client.pending = feed_check_after(&f->last_id, check_done, c);
}

const struct request_ops stream_ops = {
	.start = stream_start,
	.stop = stream_stop,
};

void
stream_tick(int64_t now_ms)
{
	struct sse_conn *c, *next;

	for (c = TAILQ_FIRST(&streams.replays); c != NULL; c = next) {
		next = TAILQ_NEXT(c, client.rentry);
		replay_step(c);
	}
	if (now_ms < streams.next_heartbeat)
		return;
	streams.next_heartbeat = now_ms + SSE_HEARTBEAT_MS;
	for (c = TAILQ_FIRST(&streams.clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, client.entry);
		if (conn_queued(c) + streams.heartbeat->len >
		    streams.set->queue_max)
			stream_slow(c);
		else
			request_push(c, streams.heartbeat);
	}
}

int64_t
stream_next_ms(int64_t now_ms)
{
	struct sse_conn *c;
	int64_t t = streams.next_heartbeat;

	/* A replay with room for its next part: do not sleep. */
	TAILQ_FOREACH(c, &streams.replays, client.rentry)
		if (conn_queued(c) <= streams.set->queue_max / 4)
			return 0;
	return t > now_ms ? t - now_ms : 0;
}

void
stream_shutdown(void)
{
	struct sse_conn *c;

	while ((c = TAILQ_FIRST(&streams.clients)) != NULL)
		stream_end(c);
}

size_t
stream_clients(void)
{
	return streams.nclients;
}

void
stream_init(const struct sse_settings *set)
{
	static const char head[] = "Status: 200 OK\r\n"
	    "Content-Type: text/event-stream\r\n"
	    "Cache-Control: no-cache\r\n"
	    "X-Accel-Buffering: no\r\n"
	    "\r\n"
	    "retry: 2000\n"
	    ": ordercast event stream\n\n";
	static const char beat[] = ": heartbeat\n\n";

	memset(&streams, 0, sizeof(streams));
	streams.set = set;
	TAILQ_INIT(&streams.clients);
	TAILQ_INIT(&streams.replays);
	streams.stream_head = sse_buf_stdout(head, sizeof(head) - 1);
	streams.heartbeat = sse_buf_stdout(beat, sizeof(beat) - 1);
	streams.next_heartbeat = oc_mono_ms() + SSE_HEARTBEAT_MS;
}

void
stream_free(void)
{
	sse_buf_unref(streams.stream_head);
	sse_buf_unref(streams.heartbeat);
	streams.stream_head = NULL;
	streams.heartbeat = NULL;
}
