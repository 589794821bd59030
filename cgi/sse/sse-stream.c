/*
 * Stream policy: which requests become event streams, which events each
 * client gets, how fast a replay moves (the only place that paces one),
 * heartbeats, and when a client is too slow to keep.
 */
#include "config.h"

#include <ctype.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oc-auth.h"
#include "oc-errbody.h"
#include "oc-log.h"
#include "oc-query.h"
#include "sse.h"

/* The stream's status and headers; HEAD answers only these. */
#define STREAM_HEADERS	"Status: 200 OK\r\n" \
	"Content-Type: text/event-stream\r\n" \
	"Cache-Control: no-cache\r\n" \
	"X-Accel-Buffering: no\r\n" \
	"\r\n"

/* Sent with every 401, as the API does: how to authenticate. */
#define SSE_WWW_AUTH	"WWW-Authenticate: Bearer realm=\"ordercast\"\r\n"

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
	if (cl->recheck != NULL) {
		feed_req_cancel(cl->recheck);
		cl->recheck = NULL;
	}
	replay_unqueue(c);
	cl->replaying = false;
	cl->started = false;
	sse_filter_clear(&cl->filter);
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

/* Refuse a request with an error body; nothing of it is kept. */
static void
refuse(struct sse_conn *c, const char *status, const char *headers,
    json_object *body)
{
	stream_stop(c);
	request_respond_json(c, status, headers, body);
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
		if (!c->client.started || c->client.replaying)
			continue;
		if (sse_id_cmp(&ev->id, &c->client.cursor) <= 0)
			continue;	/* had it from its replay */
		c->client.cursor = ev->id;
		stream_send(c, ev);
	}
	/* Filters have seen it; the ring keeps only the text. */
	sse_event_drop_object(ev);
}

/* A session looked up again after the subscriber was away. */
static void
recheck_done(void *arg, bool ok, const char *val, size_t len)
{
	struct sse_conn *c = arg;

	(void)len;
	c->client.recheck = NULL;
	if (ok && val == NULL)
		stream_end(c);
}

void
stream_session_ended(const char *hash)
{
	struct sse_conn *c, *next;
	char *key;

	for (c = TAILQ_FIRST(&streams.clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, client.entry);
		if (c->client.session[0] == '\0')
			continue;
		if (hash != NULL) {
			if (strcmp(c->client.session, hash) == 0)
				stream_end(c);
			continue;
		}
		if (c->client.recheck != NULL)
			continue;
		key = c->client.remote ?
		    oc_remote_user_key_hash(streams.set->cfg->prefix,
		    c->client.session) :
		    oc_session_key(streams.set->cfg->prefix, c->client.session);
		c->client.recheck = feed_get(key, recheck_done, c);
		free(key);
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

/*
 * Open the stream: headers, retry, a comment; then replay or go live.
 * HEAD, past the same checks, gets the headers and the end instead.
 */
static void
stream_open(struct sse_conn *c, bool resync)
{
	struct sse_client *cl = &c->client;
	struct sse_event *ev;
	struct sse_id last = feed_last();

	if (cl->head) {
		stream_stop(c);
		request_respond_text(c, STREAM_HEADERS,
		    sizeof(STREAM_HEADERS) - 1);
		return;
	}
	request_push(c, streams.stream_head);
	cl->started = true;
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

	struct sse_id last = feed_last();

	c->client.pending = NULL;
	if (!ok) {
		refuse(c, "503 Service Unavailable", "Retry-After: 2\r\n",
		    oc_errbody_new("unavailable", NULL,
		    "the event log is not reachable"));
		return;
	}
	/* An id past the newest event: the client's state is not ours. */
	if (sse_id_cmp(&c->client.filter.last_id, &last) > 0)
		resync = true;
	if (!c->client.head)
		sse_stats.replays++;
	stream_open(c, resync);
}

/* How many open streams share a session, or a client address. */
static size_t
count_streams(const char *session, const char *addr)
{
	struct sse_conn *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &streams.clients, client.entry) {
		if (session != NULL && strcmp(c->client.session, session) == 0)
			n++;
		else if (addr != NULL && strcmp(c->client.addr, addr) == 0)
			n++;
	}
	return n;
}

/* The error body of a refused filter, with its position. */
static json_object *
bad_filter_body(const struct oc_filter_error *fe)
{
	json_object *body, *error;

	body = oc_errbody_new("bad_filter", "where", fe->message);
	if (json_object_object_get_ex(body, "error", &error))
		json_object_object_add(error, "position",
		    json_object_new_int64((int64_t)fe->position));
	return body;
}

/*
 * The holder is known: narrow the request to what the role may see,
 * apply the limits, then open the stream (after a replay check).
 */
static void
stream_admit(struct sse_conn *c)
{
	struct sse_client *cl = &c->client;
	struct sse_filter *f = &cl->filter;
	struct oc_filter_error fe;
	unsigned allowed = sse_role_topics(cl->role);
	const struct oc_config *cfg = streams.set->cfg;

	if (f->topics_named && (f->topics & ~allowed) != 0) {
		if (cl->role == SSE_ROLE_ANON)
			refuse(c, "401 Unauthorized", SSE_WWW_AUTH, oc_errbody_new(
			    "unauthorized", "topics",
			    "sign in to read these topics"));
		else
			refuse(c, "403 Forbidden", "", oc_errbody_new(
			    "forbidden", "topics",
			    "these topics are not yours to read"));
		return;
	}
	f->topics &= allowed;
	if (cl->role == SSE_ROLE_CUSTOMER) {
		if (f->customer[0] != '\0' &&
		    strcasecmp(f->customer, cl->user_id) != 0) {
			refuse(c, "403 Forbidden", "", oc_errbody_new(
			    "forbidden", "customerId",
			    "another customer's events are not yours"));
			return;
		}
		memcpy(f->customer, cl->user_id, sizeof(f->customer));
	}
	if (!sse_filter_compile(f, sse_role_see(cl->role), &fe)) {
		refuse(c, "400 Bad Request", "", bad_filter_body(&fe));
		return;
	}
	if (streams.nclients >= (size_t)cfg->sse_max_clients) {
		refuse(c, "503 Service Unavailable", "Retry-After: 5\r\n",
		    oc_errbody_new("unavailable", NULL,
		    "too many event streams"));
		return;
	}
	if ((cl->session[0] != '\0' && count_streams(cl->session, NULL) >=
	    (size_t)cfg->streams_per_session) ||
	    count_streams(NULL, cl->addr) >= (size_t)cfg->streams_per_addr) {
		refuse(c, "429 Too Many Requests", "Retry-After: 5\r\n",
		    oc_errbody_new("too_many_streams", NULL,
		    "too many event streams open"));
		return;
	}
	if (!cl->head)
		client_add(c);
	if (!f->has_last_id) {
		stream_open(c, false);
		return;
	}
	if (!feed_synced()) {
		check_done(c, false, false);
		return;
	}
	cl->pending = feed_check_after(&f->last_id, check_done, c);
}

/* The role of a session record. */
static enum sse_role
role_of(const char *role)
{
	if (strcmp(role, "admin") == 0)
		return SSE_ROLE_ADMIN;
	if (strcmp(role, "customer") == 0)
		return SSE_ROLE_CUSTOMER;
	return SSE_ROLE_ANON;
}

/* The session record came back from Redis (or nothing did). */
static void
session_done(void *arg, bool ok, const char *val, size_t len)
{
	struct sse_conn *c = arg;
	struct sse_client *cl = &c->client;
	struct oc_session s;

	cl->pending = NULL;
	if (!ok) {
		refuse(c, "503 Service Unavailable", "Retry-After: 2\r\n",
		    oc_errbody_new("unavailable", NULL,
		    "sessions cannot be checked now"));
		return;
	}
	memset(&s, 0, sizeof(s));
	if (val == NULL || !oc_session_parse_record(val, len, &s) ||
	    s.expires_ms <= oc_wall_ms() || role_of(s.role) == SSE_ROLE_ANON ||
	    !oc_oid_valid(s.user_id, strlen(s.user_id))) {
		cl->session[0] = '\0';
		refuse(c, "401 Unauthorized", SSE_WWW_AUTH, oc_errbody_new(
		    "unauthorized", NULL, "the session is unknown or ended"));
		return;
	}
	cl->role = role_of(s.role);
	memcpy(cl->user_id, s.user_id, sizeof(cl->user_id));
	cl->expires_ms = s.expires_ms;
	stream_admit(c);
}

/*
 * The record the API keeps of a web-server-authenticated user came back
 * (ORDERCAST_TRUST_REMOTE_USER=1). Without one the stream is anonymous:
 * the API writes it at that user's first request.
 */
static void
remote_user_done(void *arg, bool ok, const char *val, size_t len)
{
	struct sse_conn *c = arg;
	struct sse_client *cl = &c->client;
	struct oc_session s;

	cl->pending = NULL;
	if (!ok) {
		refuse(c, "503 Service Unavailable", "Retry-After: 2\r\n",
		    oc_errbody_new("unavailable", NULL,
		    "users cannot be checked now"));
		return;
	}
	memset(&s, 0, sizeof(s));
	cl->role = SSE_ROLE_ANON;
	if (val != NULL && oc_session_parse_record(val, len, &s) &&
	    s.expires_ms > oc_wall_ms() &&
	    oc_oid_valid(s.user_id, strlen(s.user_id))) {
		cl->role = role_of(s.role);
		memcpy(cl->user_id, s.user_id, sizeof(cl->user_id));
		/*
		 * The stream ends with the record (the API renews it at the
		 * user's requests; the dashboard reconnects), or at once when
		 * a role or password change announces the user's hash.
		 */
		cl->expires_ms = s.expires_ms;
	} else {
		cl->session[0] = '\0';
		cl->remote = false;
	}
	stream_admit(c);
}

/*
 * Look up REMOTE_USER when the web server authenticates: true when a
 * lookup was started (the stream goes on in remote_user_done).
 */
static bool
stream_remote_user(struct sse_conn *c)
{
	struct sse_client *cl = &c->client;
	char remote[256], *key;
	size_t i;

	if (!streams.set->cfg->trust_remote_user ||
	    !request_param(c, "REMOTE_USER", remote, sizeof(remote)) ||
	    remote[0] == '\0')
		return false;
	for (i = 0; remote[i] != '\0'; i++)
		remote[i] = (char)tolower((unsigned char)remote[i]);
	/* Known by the hash of the email, like a session by its token's. */
	oc_text_hash(remote, cl->session);
	cl->remote = true;
	key = oc_remote_user_key_hash(streams.set->cfg->prefix, cl->session);
	cl->pending = feed_get(key, remote_user_done, c);
	free(key);
	return true;
}

/*
 * The session token of the request (bearer, else cookie) into token;
 * *found says whether there is one. A header longer than the relay
 * reads is refused (431), never read cut, so a cookie past the cut
 * cannot turn a signed-in stream anonymous. False after answering.
 */
static bool
request_token(struct sse_conn *c, char *token, size_t tokenlen, bool *found)
{
	char *auth, *cookie;
	bool long_auth, long_cookie;

	auth = request_param_dup(c, "HTTP_AUTHORIZATION", SSE_HEADER_MAX,
	    &long_auth);
	cookie = request_param_dup(c, "HTTP_COOKIE", SSE_HEADER_MAX,
	    &long_cookie);
	*found = false;
	if (!long_auth && !long_cookie)
		*found = oc_token_from_headers(auth, cookie, token, tokenlen);
	free(auth);
	free(cookie);
	if (long_auth || long_cookie) {
		request_respond(c, "431 Request Header Fields Too Large", "",
		    "header_too_large", "the Cookie or Authorization header "
		    "is too long");
		return false;
	}
	return true;
}

/* The request is complete: check it, then answer or open the stream. */
static void
stream_start(struct sse_conn *c)
{
	struct sse_client *cl = &c->client;
	struct sse_filter *f = &cl->filter;
	char method[16], lastid[128], err[256], token[OC_TOKEN_LEN + 2];
	char *query, *key;
	const char *field;
	struct sse_id hdr_id;
	bool too_long, found;

	memset(cl, 0, sizeof(*cl));
	if (!request_param(c, "REQUEST_METHOD", method, sizeof(method)))
		method[0] = '\0';
	if (strcmp(method, "HEAD") == 0)
		cl->head = true;
	else if (strcmp(method, "GET") != 0) {
		request_respond(c, "405 Method Not Allowed",
		    "Allow: GET, HEAD\r\n", "method_not_allowed",
		    "the event stream is GET (or HEAD) only");
		return;
	}
	query = request_param_dup(c, "QUERY_STRING", SSE_QUERY_MAX,
	    &too_long);
	if (too_long) {
		request_respond_json(c, "414 URI Too Long", "",
		    oc_errbody_newf("uri_too_long", NULL, "the query string "
		    "is longer than %d bytes", SSE_QUERY_MAX));
		return;
	}
	if (!sse_filter_parse(query, f, &field, err, sizeof(err))) {
		free(query);
		request_respond_json(c, "400 Bad Request", "",
		    oc_errbody_new("invalid_field", field, err));
		return;
	}
	free(query);
	if (request_param(c, "HTTP_LAST_EVENT_ID", lastid, sizeof(lastid)) &&
	    lastid[0] != '\0') {
		if (!sse_id_parse(lastid, strlen(lastid), &hdr_id)) {
			refuse(c, "400 Bad Request", "", oc_errbody_new(
			    "invalid_field", "Last-Event-ID",
			    "Last-Event-ID: expected a stream id"));
			return;
		}
		f->last_id = hdr_id;
		f->has_last_id = true;
	}
	if (!request_param(c, "REMOTE_ADDR", cl->addr, sizeof(cl->addr)))
		cl->addr[0] = '\0';
	if (stream_remote_user(c))
		return;
	if (!request_token(c, token, sizeof(token), &found))
		return;
	if (!found) {
		cl->role = SSE_ROLE_ANON;
		stream_admit(c);
		return;
	}
	if (!oc_token_syntax_ok(token)) {
		refuse(c, "401 Unauthorized", SSE_WWW_AUTH, oc_errbody_new(
		    "unauthorized", NULL, "the session is unknown or ended"));
		return;
	}
	oc_token_hash(token, cl->session);
	key = oc_session_key(streams.set->cfg->prefix, cl->session);
	cl->pending = feed_get(key, session_done, c);
	free(key);
}

const struct request_ops stream_ops = {
	.start = stream_start,
	.stop = stream_stop,
};

void
stream_tick(int64_t now_ms)
{
	struct sse_conn *c, *next;
	int64_t wall;

	for (c = TAILQ_FIRST(&streams.replays); c != NULL; c = next) {
		next = TAILQ_NEXT(c, client.rentry);
		replay_step(c);
	}
	if (now_ms < streams.next_heartbeat)
		return;
	streams.next_heartbeat = now_ms + SSE_HEARTBEAT_MS;
	wall = oc_wall_ms();
	for (c = TAILQ_FIRST(&streams.clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, client.entry);
		if (!c->client.started)
			continue;
		if (c->client.expires_ms != 0 && c->client.expires_ms <= wall)
			stream_end(c);	/* the session's absolute end */
		else if (conn_queued(c) + streams.heartbeat->len >
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
	static const char head[] = STREAM_HEADERS
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
