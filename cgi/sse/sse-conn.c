/*
 * FastCGI connections held by the relay's event loop: requests come in
 * as records, each open stream is a client with a capped queue of shared
 * buffers, and a client too slow for the feed is ended cleanly.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcgi-proto.h"
#include "oc-log.h"
#include "oc-xmalloc.h"
#include "sse.h"

#define IN_MAX		(2 * (FCGI_HEADER_LEN + 65535 + 255))
#define PARAMS_MAX	65536
#define END_GRACE_MS	5000
#define IOV_MAX_WRITE	64
#define READ_BUF	16384

enum conn_state {
	CS_IDLE,	/* waiting for BEGIN_REQUEST */
	CS_PARAMS,	/* reading the request's PARAMS */
	CS_STREAM,	/* an open event stream */
	CS_ENDING	/* answer queued; close once written */
};

struct sse_conn {
	enum sse_kind		 kind;		/* first: epoll data */
	int			 fd;
	uint32_t		 watched;
	enum conn_state		 state;
	uint16_t		 req_id;
	bool			 keep_conn;
	bool			 is_client;
	bool			 replaying;
	bool			 dirty;
	int64_t			 end_deadline;
	struct sse_filter	 filter;
	struct sse_id		 cursor;	/* newest id queued */

	uint8_t			*in;
	size_t			 in_len;
	uint8_t			*params;
	size_t			 params_len;

	struct sse_buf		**q;
	size_t			 q_head;
	size_t			 q_count;
	size_t			 q_cap;
	size_t			 q_off;		/* written of the head */
	size_t			 q_bytes;

	struct sse_conn		*prev;
	struct sse_conn		*next;
};

static struct {
	const struct sse_settings *set;
	int			 epfd;
	struct sse_conn		*head;
	size_t			 nconns;
	size_t			 nclients;
	bool			 shutting;
	bool			 any_dirty;
	bool			 replay_pending;	/* more to do now */
	struct sse_buf		*heartbeat;
	struct sse_buf		*stream_head;
	int64_t			 next_heartbeat;
	int			 lfd;
	int64_t			 accept_resume;	/* paused at EMFILE */
	void			*lwatch;
} conns;

static void conn_close(struct sse_conn *c);

/* Set the epoll interest of c, adding it the first time. */
static void
conn_watch(struct sse_conn *c, uint32_t events)
{
	struct epoll_event ee;

	if (c->watched == events)
		return;
	memset(&ee, 0, sizeof(ee));
	ee.events = events;
	ee.data.ptr = c;
	if (epoll_ctl(conns.epfd, c->watched == 0 ? EPOLL_CTL_ADD :
	    EPOLL_CTL_MOD, c->fd, &ee) == -1)
		fatal("epoll_ctl");
	c->watched = events;
}

/* Append a buffer to c's queue (a private copy if its id differs). */
static void
q_push(struct sse_conn *c, struct sse_buf *b)
{
	struct sse_buf *copy, **nq;
	size_t i;

	if (b->id1 && c->req_id != 1) {
		copy = sse_buf_new(b->len);
		memcpy(copy->data, b->data, b->len);
		fcgi_records_set_id(copy->data, copy->len, c->req_id);
		b = copy;
	} else
		sse_buf_ref(b);
	if (c->q_count == c->q_cap) {
		nq = xreallocarray(NULL, c->q_cap == 0 ? 4 : c->q_cap * 2,
		    sizeof(*nq));
		for (i = 0; i < c->q_count; i++)
			nq[i] = c->q[(c->q_head + i) % c->q_cap];
		free(c->q);
		c->q = nq;
		c->q_cap = c->q_cap == 0 ? 4 : c->q_cap * 2;
		c->q_head = 0;
	}
	c->q[(c->q_head + c->q_count) % c->q_cap] = b;
	c->q_count++;
	c->q_bytes += b->len;
	if (!c->dirty) {
		c->dirty = true;
		conns.any_dirty = true;
	}
}

/* Drop the head of the queue once written. */
static void
q_pop(struct sse_conn *c)
{
	struct sse_buf *b = c->q[c->q_head];

	c->q_bytes -= b->len;
	sse_buf_unref(b);
	c->q_head = (c->q_head + 1) % c->q_cap;
	c->q_count--;
	c->q_off = 0;
}

/* Forget queued buffers not started yet (a partial one must finish). */
static void
q_drop_unstarted(struct sse_conn *c)
{
	size_t keep = c->q_off > 0 ? 1 : 0;
	struct sse_buf *b;

	while (c->q_count > keep) {
		b = c->q[(c->q_head + c->q_count - 1) % c->q_cap];
		c->q_bytes -= b->len;
		sse_buf_unref(b);
		c->q_count--;
	}
}

/* Queue a private copy of bytes. */
static void
q_push_bytes(struct sse_conn *c, const uint8_t *data, size_t len)
{
	struct sse_buf *b;

	b = sse_buf_new(len);
	memcpy(b->data, data, len);
	q_push(c, b);
	sse_buf_unref(b);
}

/* Queue END_REQUEST for request id rid with a protocol status. */
static void
q_end_request(struct sse_conn *c, uint16_t rid, uint8_t status)
{
	uint8_t rec[16];

	fcgi_end_request_encode(rec, rid, 0, status);
	q_push_bytes(c, rec, sizeof(rec));
}

/* After a request's last record: wait for another or close. */
static void
request_done(struct sse_conn *c)
{
	if (c->is_client) {
		c->is_client = false;
		conns.nclients--;
	}
	c->replaying = false;
	free(c->params);
	c->params = NULL;
	c->params_len = 0;
	if (c->keep_conn && !conns.shutting) {
		c->state = CS_IDLE;
	} else
		c->state = CS_ENDING;
	c->end_deadline = oc_mono_ms() + END_GRACE_MS;
}

/* End an open stream cleanly: empty STDOUT, then END_REQUEST. */
static void
stream_end(struct sse_conn *c)
{
	uint8_t rec[FCGI_HEADER_LEN];

	q_drop_unstarted(c);
	fcgi_stream_encode(rec, FCGI_STDOUT, c->req_id, NULL, 0);
	q_push_bytes(c, rec, sizeof(rec));
	q_end_request(c, c->req_id, FCGI_REQUEST_COMPLETE);
	request_done(c);
}

/* A client whose queue passed the cap: end it, it will be replayed. */
static void
stream_slow(struct sse_conn *c)
{
	char id[SSE_ID_MAX];

	sse_id_format(&c->cursor, id, sizeof(id));
	log_info("closing a slow client (%zu bytes queued, at %s)",
	    c->q_bytes, id);
	sse_stats.slow_client_closes++;
	stream_end(c);
}

/* Answer the request with a whole response (errors) and end it. */
static void
respond(struct sse_conn *c, const char *status, const char *headers,
    const char *code, const char *message)
{
	struct sse_buf *b;
	char *text;
	size_t len, n;

	text = xasprintf("Status: %s\r\n"
	    "Content-Type: application/json; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n%s\r\n"
	    "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n",
	    status, headers, code, message);
	len = strlen(text);
	b = sse_buf_new(fcgi_stream_size(len) + FCGI_HEADER_LEN);
	n = fcgi_stream_encode(b->data, FCGI_STDOUT, c->req_id, text, len);
	fcgi_stream_encode(b->data + n, FCGI_STDOUT, c->req_id, NULL, 0);
	q_push(c, b);
	sse_buf_unref(b);
	free(text);
	q_end_request(c, c->req_id, FCGI_REQUEST_COMPLETE);
	request_done(c);
}

/* Copy a param value, NUL-terminated, into out; false if absent. */
static bool
param_get(const struct sse_conn *c, const char *name, char *out,
    size_t outlen)
{
	const uint8_t *n, *v;
	size_t off = 0, nl, vl, want = strlen(name);

	while (fcgi_pair_next(c->params, c->params_len, &off, &n, &nl, &v,
	    &vl) == 1) {
		if (nl != want || memcmp(n, name, nl) != 0)
			continue;
		if (vl >= outlen)
			vl = outlen - 1;
		memcpy(out, v, vl);
		out[vl] = '\0';
		return true;
	}
	return false;
}

/* Open the stream: headers, retry, a comment; then replay or go live. */
static void
stream_start(struct sse_conn *c, bool resync)
{
	struct sse_event *ev;
	struct sse_id last = feed_last();

	q_push(c, conns.stream_head);
	c->state = CS_STREAM;
	c->is_client = true;
	conns.nclients++;
	c->replaying = false;
	if (resync) {
		ev = sse_event_resync(&last, oc_wall_ms());
		q_push(c, ev->rec);
		sse_event_unref(ev);
		sse_stats.resyncs++;
		c->cursor = last;
	} else if (c->filter.has_last_id) {
		c->cursor = c->filter.last_id;
		c->replaying = true;
	} else
		c->cursor = last;
}

/* The request is complete: check it, then answer or open the stream. */
static void
request_start(struct sse_conn *c)
{
	char method[16], query[2048], lastid[128], err[256];
	struct sse_id hdr_id;
	bool resync = false;

	if (!param_get(c, "REQUEST_METHOD", method, sizeof(method)))
		method[0] = '\0';
	if (strcmp(method, "GET") != 0) {
		respond(c, "405 Method Not Allowed", "Allow: GET\r\n",
		    "method_not_allowed", "the event stream is GET only");
		return;
	}
	if (!param_get(c, "QUERY_STRING", query, sizeof(query)))
		query[0] = '\0';
	if (!sse_filter_parse(query, &c->filter, err, sizeof(err))) {
		respond(c, "400 Bad Request", "", "invalid_field", err);
		return;
	}
	if (param_get(c, "HTTP_LAST_EVENT_ID", lastid, sizeof(lastid)) &&
	    lastid[0] != '\0') {
		if (!sse_id_parse(lastid, strlen(lastid), &hdr_id)) {
			respond(c, "400 Bad Request", "", "invalid_field",
			    "Last-Event-ID: expected a stream id");
			return;
		}
		c->filter.last_id = hdr_id;
		c->filter.has_last_id = true;
	}
	if (conns.nclients >= (size_t)conns.set->cfg->sse_max_clients) {
		respond(c, "503 Service Unavailable", "Retry-After: 5\r\n",
		    "unavailable", "too many event streams");
		return;
	}
	if (c->filter.has_last_id) {
		if (!feed_synced() ||
		    !feed_replay_check(&c->filter.last_id, &resync)) {
			respond(c, "503 Service Unavailable",
			    "Retry-After: 2\r\n", "unavailable",
			    "the event log is not reachable");
			return;
		}
		sse_stats.replays++;
	}
	stream_start(c, resync);
}

/* Answer FCGI_GET_VALUES: we take many connections, one request each. */
static void
get_values(struct sse_conn *c, const struct fcgi_record *rec)
{
	const uint8_t *n, *v;
	size_t off = 0, nl, vl, len = 0, size;
	char max[32];
	uint8_t pairs[256], *out;
	const char *val;

	snprintf(max, sizeof(max), "%ld", conns.set->cfg->sse_max_clients);
	while (fcgi_pair_next(rec->content, rec->content_len, &off, &n, &nl,
	    &v, &vl) == 1) {
		val = NULL;
		if (nl == strlen(FCGI_MAX_CONNS) &&
		    memcmp(n, FCGI_MAX_CONNS, nl) == 0)
			val = max;
		else if (nl == strlen(FCGI_MAX_REQS) &&
		    memcmp(n, FCGI_MAX_REQS, nl) == 0)
			val = max;
		else if (nl == strlen(FCGI_MPXS_CONNS) &&
		    memcmp(n, FCGI_MPXS_CONNS, nl) == 0)
			val = "0";
		if (val == NULL ||
		    len + fcgi_pair_size(nl, strlen(val)) > sizeof(pairs))
			continue;
		len += fcgi_pair_encode(pairs + len, (const char *)n, nl, val,
		    strlen(val));
	}
	size = fcgi_stream_size(len);
	out = xmalloc(size);
	fcgi_stream_encode(out, FCGI_GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID,
	    pairs, len);
	q_push_bytes(c, out, size);
	free(out);
}

/* BEGIN_REQUEST: one request at a time per connection. */
static bool
begin_request(struct sse_conn *c, const struct fcgi_record *rec)
{
	unsigned role;
	bool keep;

	if (rec->content_len < 8 || rec->request_id == 0)
		return false;
	role = ((unsigned)rec->content[0] << 8) | rec->content[1];
	keep = (rec->content[2] & FCGI_KEEP_CONN) != 0;
	if (c->state != CS_IDLE) {
		q_end_request(c, rec->request_id, FCGI_CANT_MPX_CONN);
		return true;
	}
	c->req_id = rec->request_id;
	c->keep_conn = keep;
	if (role != FCGI_RESPONDER) {
		q_end_request(c, rec->request_id, FCGI_UNKNOWN_ROLE);
		request_done(c);
		return true;
	}
	c->state = CS_PARAMS;
	c->end_deadline = 0;
	return true;
}

/* One record from the web server. Returns false on a protocol error. */
static bool
conn_record(struct sse_conn *c, const struct fcgi_record *rec)
{
	uint8_t out[16];

	switch (rec->type) {
	case FCGI_BEGIN_REQUEST:
		return begin_request(c, rec);
	case FCGI_PARAMS:
		if (c->state != CS_PARAMS || rec->request_id != c->req_id)
			return true;
		if (rec->content_len == 0) {
			request_start(c);
			return true;
		}
		if (c->params_len + rec->content_len > PARAMS_MAX)
			return false;
		c->params = xreallocarray(c->params,
		    c->params_len + rec->content_len, 1);
		memcpy(c->params + c->params_len, rec->content,
		    rec->content_len);
		c->params_len += rec->content_len;
		return true;
	case FCGI_ABORT_REQUEST:
		if (rec->request_id != c->req_id)
			return true;
		if (c->state == CS_STREAM)
			stream_end(c);
		else if (c->state == CS_PARAMS) {
			q_end_request(c, c->req_id, FCGI_REQUEST_COMPLETE);
			request_done(c);
		}
		return true;
	case FCGI_GET_VALUES:
		if (rec->request_id == FCGI_NULL_REQUEST_ID)
			get_values(c, rec);
		return true;
	case FCGI_STDIN:
	case FCGI_DATA:
		return true;	/* a GET has no body worth reading */
	default:
		if (rec->request_id == FCGI_NULL_REQUEST_ID) {
			fcgi_unknown_type_encode(out, rec->type);
			q_push_bytes(c, out, sizeof(out));
		}
		return true;
	}
}

/* Read what the web server sent and act on each whole record. */
static bool
conn_read(struct sse_conn *c)
{
	static uint8_t rbuf[READ_BUF];
	struct fcgi_record rec;
	const uint8_t *src;
	size_t len, off = 0, used, left;
	ssize_t n;
	int r;

	n = read(c->fd, rbuf, sizeof(rbuf));
	if (n == 0)
		return false;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (c->in_len > 0) {
		c->in = xreallocarray(c->in, c->in_len + (size_t)n, 1);
		memcpy(c->in + c->in_len, rbuf, (size_t)n);
		c->in_len += (size_t)n;
		src = c->in;
		len = c->in_len;
	} else {
		src = rbuf;
		len = (size_t)n;
	}
	for (;;) {
		r = fcgi_record_parse(src + off, len - off, &rec, &used);
		if (r < 0)
			return false;
		if (r == 0)
			break;
		if (!conn_record(c, &rec))
			return false;
		off += used;
	}
	left = len - off;
	if (left > IN_MAX)
		return false;
	if (left == 0) {
		free(c->in);
		c->in = NULL;
		c->in_len = 0;
	} else if (src == rbuf) {
		c->in = xmalloc(left);
		memcpy(c->in, rbuf + off, left);
		c->in_len = left;
	} else {
		memmove(c->in, c->in + off, left);
		c->in_len = left;
	}
	return true;
}

/* Write as much of the queue as the socket takes. False: peer gone. */
static bool
conn_write(struct sse_conn *c)
{
	struct iovec iov[IOV_MAX_WRITE];
	struct sse_buf *b;
	size_t i, n;
	ssize_t w;

	c->dirty = false;
	while (c->q_count > 0) {
		n = c->q_count < IOV_MAX_WRITE ? c->q_count : IOV_MAX_WRITE;
		for (i = 0; i < n; i++) {
			b = c->q[(c->q_head + i) % c->q_cap];
			iov[i].iov_base = b->data + (i == 0 ? c->q_off : 0);
			iov[i].iov_len = b->len - (i == 0 ? c->q_off : 0);
		}
		w = writev(c->fd, iov, (int)n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				conn_watch(c, EPOLLIN | EPOLLOUT);
				return true;
			}
			return false;
		}
		sse_stats.bytes_sent += w;
		while (w > 0) {
			b = c->q[c->q_head];
			if ((size_t)w < b->len - c->q_off) {
				c->q_off += (size_t)w;
				break;
			}
			w -= (ssize_t)(b->len - c->q_off);
			q_pop(c);
		}
	}
	conn_watch(c, EPOLLIN);
	if (c->state == CS_ENDING)
		return false;
	c->end_deadline = 0;
	return true;
}

/* Free a connection and everything it holds, at once. */
static void
conn_close(struct sse_conn *c)
{
	if (c->is_client)
		conns.nclients--;
	while (c->q_count > 0)
		q_pop(c);
	free(c->q);
	free(c->in);
	free(c->params);
	close(c->fd);	/* also leaves the epoll set */
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		conns.head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	conns.nconns--;
	free(c);
}

void
conn_io(struct sse_conn *c, uint32_t events)
{
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 &&
	    !conn_read(c)) {
		conn_close(c);
		return;
	}
	if (c->q_count > 0 || c->state == CS_ENDING) {
		if (!conn_write(c))
			conn_close(c);
	}
}

void
conn_accept(int lfd)
{
	struct sse_conn *c;
	int fd, i;

	conns.lfd = lfd;
	for (i = 0; i < 256; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("accept");
				/* Let connections go before trying again. */
				epoll_ctl(conns.epfd, EPOLL_CTL_DEL, lfd, NULL);
				conns.accept_resume = oc_mono_ms() + 100;
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		c = xcalloc(1, sizeof(*c));
		c->kind = SSE_KIND_CONN;
		c->fd = fd;
		c->state = CS_IDLE;
		c->next = conns.head;
		if (conns.head != NULL)
			conns.head->prev = c;
		conns.head = c;
		conns.nconns++;
		conn_watch(c, EPOLLIN);
	}
}

bool
conn_send_event(struct sse_conn *c, struct sse_event *ev)
{
	if (c->state != CS_STREAM)
		return false;
	if (!sse_filter_admits(&c->filter, ev))
		return true;
	if (c->q_bytes + ev->rec->len > conns.set->queue_max) {
		stream_slow(c);
		return false;
	}
	q_push(c, ev->rec);
	sse_stats.events_sent++;
	return true;
}

void
conn_broadcast(struct sse_event *ev)
{
	struct sse_conn *c;

	for (c = conns.head; c != NULL; c = c->next) {
		if (c->state != CS_STREAM || c->replaying)
			continue;
		if (sse_id_cmp(&ev->id, &c->cursor) <= 0)
			continue;	/* had it from its replay */
		c->cursor = ev->id;
		conn_send_event(c, ev);
	}
}

size_t
conn_queued(const struct sse_conn *c)
{
	return c->q_bytes;
}

/* Move a replaying client on while its queue has room. */
static void
conn_replay(struct sse_conn *c)
{
	bool done = false;

	if (conn_queued(c) > conns.set->queue_max / 4)
		return;
	if (!feed_replay_step(c, &c->cursor, &done)) {
		if (c->state == CS_STREAM)
			stream_end(c);
		return;
	}
	if (done && c->state == CS_STREAM)
		c->replaying = false;
}

void
conn_flush_all(void)
{
	struct sse_conn *c, *next;

	conns.replay_pending = false;
	for (c = conns.head; c != NULL; c = c->next) {
		if (c->state != CS_STREAM || !c->replaying)
			continue;
		conn_replay(c);
		/* Room left for the next part: do not sleep in epoll. */
		if (c->state == CS_STREAM && c->replaying &&
		    conn_queued(c) <= conns.set->queue_max / 4)
			conns.replay_pending = true;
	}
	for (c = conns.head; c != NULL; c = next) {
		next = c->next;
		if (!c->dirty || (c->watched & EPOLLOUT) != 0)
			continue;
		if (!conn_write(c))
			conn_close(c);
	}
	conns.any_dirty = false;
}

void
conn_tick(int64_t now_ms)
{
	struct sse_conn *c, *next;
	struct epoll_event ee;

	if (conns.accept_resume != 0 && now_ms >= conns.accept_resume &&
	    !conns.shutting) {
		memset(&ee, 0, sizeof(ee));
		ee.events = EPOLLIN;
		ee.data.ptr = conns.lwatch;
		epoll_ctl(conns.epfd, EPOLL_CTL_ADD, conns.lfd, &ee);
		conns.accept_resume = 0;
	}
	if (now_ms >= conns.next_heartbeat) {
		conns.next_heartbeat = now_ms + SSE_HEARTBEAT_MS;
		for (c = conns.head; c != NULL; c = c->next) {
			if (c->state != CS_STREAM)
				continue;
			if (c->q_bytes + conns.heartbeat->len >
			    conns.set->queue_max)
				stream_slow(c);
			else
				q_push(c, conns.heartbeat);
		}
	}
	/* Answers that could not be written in time: give up on them. */
	for (c = conns.head; c != NULL; c = next) {
		next = c->next;
		if (c->end_deadline != 0 && now_ms >= c->end_deadline &&
		    (c->q_count > 0 || c->state == CS_ENDING))
			conn_close(c);
	}
}

int64_t
conn_next_ms(int64_t now_ms)
{
	int64_t t = conns.next_heartbeat;

	if (conns.replay_pending)
		return 0;
	if (conns.accept_resume != 0 && conns.accept_resume < t)
		t = conns.accept_resume;
	return t > now_ms ? t - now_ms : 0;
}

void
conn_init(const struct sse_settings *set, int epfd)
{
	static const char head[] = "Status: 200 OK\r\n"
	    "Content-Type: text/event-stream\r\n"
	    "Cache-Control: no-cache\r\n"
	    "X-Accel-Buffering: no\r\n"
	    "\r\n"
	    "retry: 2000\n"
	    ": ordercast event stream\n\n";
	static const char beat[] = ": heartbeat\n\n";

	memset(&conns, 0, sizeof(conns));
	conns.set = set;
	conns.epfd = epfd;
	conns.lfd = -1;
	conns.stream_head = sse_buf_stdout(head, sizeof(head) - 1);
	conns.heartbeat = sse_buf_stdout(beat, sizeof(beat) - 1);
	conns.next_heartbeat = oc_mono_ms() + SSE_HEARTBEAT_MS;
}

void
conn_set_listener(int lfd, void *watch)
{
	conns.lfd = lfd;
	conns.lwatch = watch;
}

void
conn_shutdown(void)
{
	struct sse_conn *c, *next;

	conns.shutting = true;
	conns.accept_resume = 0;
	for (c = conns.head; c != NULL; c = next) {
		next = c->next;
		if (c->state == CS_STREAM) {
			stream_end(c);
		} else if (c->q_count == 0) {
			conn_close(c);
			continue;
		} else {
			c->state = CS_ENDING;
			c->end_deadline = oc_mono_ms() + END_GRACE_MS;
		}
		if ((c->watched & EPOLLOUT) == 0 && !conn_write(c))
			conn_close(c);
	}
}

bool
conn_none_left(void)
{
	return conns.head == NULL;
}

size_t
conn_clients(void)
{
	return conns.nclients;
}

void
conn_free_all(void)
{
	while (conns.head != NULL)
		conn_close(conns.head);
	sse_buf_unref(conns.stream_head);
	sse_buf_unref(conns.heartbeat);
	conns.stream_head = NULL;
	conns.heartbeat = NULL;
}
