/*
 * The FastCGI request state machine of the relay: records in, one
 * request at a time per connection, keep-conn, GET_VALUES, aborts and
 * END_REQUEST. A complete request is handed to the stream layer through
 * the operations it registered.
 */
#include "config.h"

#include <sys/epoll.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi-proto.h"
#include "oc-errbody.h"
#include "oc-log.h"
#include "oc-xmalloc.h"
#include "sse.h"

#define PARAMS_MAX	65536
#define END_GRACE_MS	5000

static struct {
	const struct sse_settings *set;
	const struct request_ops *ops;
	bool			 shutting;
} reqs;

/* Queue END_REQUEST for request id rid with a protocol status. */
static void
end_request_record(struct sse_conn *c, uint16_t rid, uint8_t status)
{
	uint8_t rec[16];

	fcgi_end_request_encode(rec, rid, 0, status);
	conn_push_bytes(c, rec, sizeof(rec));
}

/* After a request's last record: wait for another or close. */
static void
request_done(struct sse_conn *c)
{
	free(c->params);
	c->params = NULL;
	c->params_len = 0;
	if (c->keep_conn && !reqs.shutting)
		c->rstate = RS_IDLE;
	else
		c->rstate = RS_ENDING;
	conn_finish(c, END_GRACE_MS);
	if (c->rstate == RS_IDLE)
		c->closing = false;
}

void
request_push(struct sse_conn *c, struct sse_buf *b)
{
	struct sse_buf *copy;

	if (!b->id1 || c->req_id == 1) {
		conn_push(c, b);
		return;
	}
	copy = sse_buf_new(b->len);
	memcpy(copy->data, b->data, b->len);
	fcgi_records_set_id(copy->data, copy->len, c->req_id);
	conn_push(c, copy);
	sse_buf_unref(copy);
}

void
request_end(struct sse_conn *c)
{
	uint8_t rec[FCGI_HEADER_LEN];

	if (c->rstate != RS_HANDLED)
		return;
	conn_drop_unstarted(c);
	fcgi_stream_encode(rec, FCGI_STDOUT, c->req_id, NULL, 0);
	conn_push_bytes(c, rec, sizeof(rec));
	end_request_record(c, c->req_id, FCGI_REQUEST_COMPLETE);
	request_done(c);
}

void
request_respond_text(struct sse_conn *c, const char *text, size_t len)
{
	struct sse_buf *b;
	size_t n;

	b = sse_buf_new(fcgi_stream_size(len) + FCGI_HEADER_LEN);
	n = fcgi_stream_encode(b->data, FCGI_STDOUT, c->req_id, text, len);
	fcgi_stream_encode(b->data + n, FCGI_STDOUT, c->req_id, NULL, 0);
	conn_push(c, b);
	sse_buf_unref(b);
	end_request_record(c, c->req_id, FCGI_REQUEST_COMPLETE);
	request_done(c);
}

void
request_respond_json(struct sse_conn *c, const char *status,
    const char *headers, json_object *body)
{
	char *text;

	text = xasprintf("Status: %s\r\n"
	    "Content-Type: application/json; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n%s\r\n%s\n",
	    status, headers, json_object_to_json_string_ext(body,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(body);
	request_respond_text(c, text, strlen(text));
	free(text);
}

void
request_respond(struct sse_conn *c, const char *status, const char *headers,
    const char *code, const char *message)
{
	request_respond_json(c, status, headers,
	    oc_errbody_new(code, NULL, message));
}

char *
request_param_dup(const struct sse_conn *c, const char *name, size_t max,
    bool *too_long)
{
	const uint8_t *n, *v;
	size_t off = 0, nl, vl, want = strlen(name);
	char *out;

	*too_long = false;
	while (fcgi_pair_next(c->params, c->params_len, &off, &n, &nl, &v,
	    &vl) == 1) {
		if (nl != want || memcmp(n, name, nl) != 0)
			continue;
		if (vl > max) {
			*too_long = true;
			return NULL;
		}
		out = xmalloc(vl + 1);
		memcpy(out, v, vl);
		out[vl] = '\0';
		return out;
	}
	return NULL;
}

bool
request_param(const struct sse_conn *c, const char *name, char *out,
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

/* Answer FCGI_GET_VALUES: we take many connections, one request each. */
static void
get_values(struct sse_conn *c, const struct fcgi_record *rec)
{
	const uint8_t *n, *v;
	size_t off = 0, nl, vl, len = 0, size;
	char max[32];
	uint8_t pairs[256], *out;
	const char *val;

	snprintf(max, sizeof(max), "%ld", reqs.set->cfg->sse_max_clients);
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
	conn_push_bytes(c, out, size);
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
	if (c->rstate != RS_IDLE) {
		end_request_record(c, rec->request_id, FCGI_CANT_MPX_CONN);
		return true;
	}
	c->req_id = rec->request_id;
	c->keep_conn = keep;
	if (role != FCGI_RESPONDER) {
		end_request_record(c, rec->request_id, FCGI_UNKNOWN_ROLE);
		request_done(c);
		return true;
	}
	c->rstate = RS_PARAMS;
	conn_keep(c);
	return true;
}

/* The request's PARAMS are complete: hand it to the stream layer. */
static void
params_done(struct sse_conn *c)
{
	c->rstate = RS_HANDLED;
	reqs.ops->start(c);
}

/* One record from the web server. Returns false on a protocol error. */
static bool
request_record(struct sse_conn *c, const struct fcgi_record *rec)
{
	uint8_t out[16];

	switch (rec->type) {
	case FCGI_BEGIN_REQUEST:
		return begin_request(c, rec);
	case FCGI_PARAMS:
		if (c->rstate != RS_PARAMS || rec->request_id != c->req_id)
			return true;
		if (rec->content_len == 0) {
			params_done(c);
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
		if (c->rstate == RS_HANDLED) {
			reqs.ops->stop(c);
			request_end(c);
		} else if (c->rstate == RS_PARAMS) {
			end_request_record(c, c->req_id,
			    FCGI_REQUEST_COMPLETE);
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
			conn_push_bytes(c, out, sizeof(out));
		}
		return true;
	}
}

/* Act on each whole record read so far. False on a protocol error. */
static bool
request_parse(struct sse_conn *c)
{
	struct fcgi_record rec;
	size_t off = 0, used;
	bool ok = true;
	int r;

	for (;;) {
		r = fcgi_record_parse(c->in + off, c->in_len - off, &rec,
		    &used);
		if (r < 0) {
			ok = false;
			break;
		}
		if (r == 0)
			break;
		if (!request_record(c, &rec)) {
			ok = false;
			break;
		}
		off += used;
	}
	conn_consume(c, off);
	if (c->in_len > 2 * (FCGI_HEADER_LEN + 65535 + 255))
		ok = false;
	return ok;
}

void
request_io(struct sse_conn *c, uint32_t events)
{
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
		if (!conn_read(c) || (c->in_len > 0 && !request_parse(c))) {
			conn_close(c);
			return;
		}
	}
	if ((events & EPOLLOUT) != 0)
		conn_writable(c);
}

/* A connection goes away: the stream layer lets go of it. */
static void
request_gone(struct sse_conn *c)
{
	if (c->rstate == RS_HANDLED)
		reqs.ops->stop(c);
	c->rstate = RS_ENDING;
}

/* At shutdown: close idle connections, let answers finish. */
static void
request_shut_one(struct sse_conn *c)
{
	if (c->rstate == RS_IDLE && conn_queued(c) == 0) {
		conn_close(c);
		return;
	}
	if (c->rstate == RS_HANDLED) {
		reqs.ops->stop(c);
		request_end(c);
		return;
	}
	if (c->rstate != RS_ENDING || !c->closing) {
		c->rstate = RS_ENDING;
		conn_finish(c, END_GRACE_MS);
	}
}

void
request_shutdown(void)
{
	reqs.shutting = true;
	conn_foreach(request_shut_one);
}

void
request_init(const struct sse_settings *set, const struct request_ops *ops)
{
	memset(&reqs, 0, sizeof(reqs));
	reqs.set = set;
	reqs.ops = ops;
	conn_set_close_hook(request_gone);
}
