/*
 * Events as the relay holds them: parsed once from Redis, formatted once
 * into FastCGI records, filtered per client by topic and customer.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "fcgi-proto.h"
#include "oc-json.h"
#include "oc-xmalloc.h"
#include "sse.h"

#define JSON_DEPTH	64

struct sse_counters sse_stats;

struct sse_buf *
sse_buf_new(size_t len)
{
	struct sse_buf *b;

	b = xmalloc(sizeof(*b) + len);
	b->refs = 1;
	b->id1 = false;
	b->len = len;
	return b;
}

struct sse_buf *
sse_buf_ref(struct sse_buf *b)
{
	b->refs++;
	return b;
}

void
sse_buf_unref(struct sse_buf *b)
{
	if (b == NULL)
		return;
	if (--b->refs == 0)
		free(b);
}

struct sse_buf *
sse_buf_stdout(const void *data, size_t len)
{
	struct sse_buf *b;

	b = sse_buf_new(fcgi_stream_size(len));
	fcgi_stream_encode(b->data, FCGI_STDOUT, 1, data, len);
	b->id1 = true;
	return b;
}

/* A whole unsigned decimal number, no sign, no blanks. */
static bool
parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20)
		return false;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

bool
sse_id_parse(const char *s, size_t len, struct sse_id *out)
{
	const char *dash;
	struct sse_id id;

	dash = memchr(s, '-', len);
	if (dash == NULL) {
		/* Redis accepts "ms" alone, meaning sequence 0. */
		if (!parse_u64(s, len, &id.ms))
			return false;
		id.seq = 0;
	} else if (!parse_u64(s, (size_t)(dash - s), &id.ms) ||
	    !parse_u64(dash + 1, len - (size_t)(dash - s) - 1, &id.seq))
		return false;
	*out = id;
	return true;
}

int
sse_id_cmp(const struct sse_id *a, const struct sse_id *b)
{
	if (a->ms != b->ms)
		return a->ms < b->ms ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return 0;
}

void
sse_id_format(const struct sse_id *id, char *out, size_t outlen)
{
	snprintf(out, outlen, "%" PRIu64 "-%" PRIu64, id->ms, id->seq);
}

unsigned
sse_topic_of_type(const char *type)
{
	if (strncmp(type, "order.", 6) == 0)
		return SSE_TOPIC_ORDERS;
	if (strncmp(type, "product.", 8) == 0)
		return SSE_TOPIC_PRODUCTS;
	if (strncmp(type, "user.", 5) == 0)
		return SSE_TOPIC_USERS;
	if (strncmp(type, "alert.", 6) == 0)
		return SSE_TOPIC_ALERTS;
	if (strncmp(type, "system.", 7) == 0)
		return SSE_TOPIC_SYSTEM;
	return 0;
}

/* 24 lowercase or uppercase hex digits, as ObjectIds are written. */
static bool
is_oid(const char *s, size_t len)
{
	size_t i;

	if (len != SSE_OID_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* Format the SSE text of an event and wrap it in STDOUT records. */
static struct sse_buf *
event_record(const char *id, const char *type, const char *json,
    size_t len)
{
	struct sse_buf *b;
	char *text;

	if (id != NULL)
		text = xasprintf("id: %s\nevent: %s\ndata: %.*s\n\n", id,
		    type, (int)len, json);
	else
		text = xasprintf("event: %s\ndata: %.*s\n\n", type,
		    (int)len, json);
	b = sse_buf_stdout(text, strlen(text));
	free(text);
	return b;
}

/* A string member of obj, or NULL. */
static const char *
member_string(json_object *obj, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

struct sse_event *
sse_event_parse(const char *json, size_t len, char *err, size_t errlen)
{
	struct sse_event *ev = NULL;
	json_object *obj = NULL, *doc;
	const char *id, *type, *cust, *text;
	size_t textlen;

	obj = oc_json_parse(json, len, JSON_DEPTH, err, errlen);
	if (obj == NULL)
		goto done;
	if (!json_object_is_type(obj, json_type_object)) {
		snprintf(err, errlen, "event is not an object");
		goto done;
	}
	id = member_string(obj, "id");
	type = member_string(obj, "type");
	if (id == NULL || type == NULL) {
		snprintf(err, errlen, "event without id or type");
		goto done;
	}
	ev = xcalloc(1, sizeof(*ev));
	ev->refs = 1;
	if (!sse_id_parse(id, strlen(id), &ev->id)) {
		snprintf(err, errlen, "event id \"%.60s\" is not a stream id",
		    id);
		sse_event_unref(ev);
		ev = NULL;
		goto done;
	}
	ev->topic = sse_topic_of_type(type);
	if (ev->topic == 0 || strpbrk(type, "\r\n") != NULL) {
		snprintf(err, errlen, "unknown event type \"%.60s\"", type);
		sse_event_unref(ev);
		ev = NULL;
		goto done;
	}
	if (ev->topic == SSE_TOPIC_ORDERS &&
	    json_object_object_get_ex(obj, "doc", &doc) &&
	    json_object_is_type(doc, json_type_object)) {
		cust = member_string(doc, "customerId");
		if (cust != NULL && is_oid(cust, strlen(cust)))
			memcpy(ev->customer, cust, SSE_OID_LEN + 1);
	}
	/* A data: line ends at a newline: send such text re-printed. */
	text = json;
	textlen = len;
	if (memchr(json, '\n', len) != NULL ||
	    memchr(json, '\r', len) != NULL) {
		text = json_object_to_json_string_ext(obj,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		textlen = strlen(text);
	}
	ev->rec = event_record(id, type, text, textlen);
done:
	json_object_put(obj);
	return ev;
}

struct sse_event *
sse_event_resync(const struct sse_id *id, int64_t now_ms)
{
	struct sse_event *ev;
	char idtext[SSE_ID_MAX], *json;

	sse_id_format(id, idtext, sizeof(idtext));
	json = xasprintf("{\"id\":\"%s\",\"type\":\"system.resync\","
	    "\"collection\":null,\"op\":null,\"key\":null,\"doc\":null,"
	    "\"changed\":{},\"removed\":[],\"clusterTime\":null,"
	    "\"publishedAt\":%" PRId64 "}", idtext, now_ms);
	ev = xcalloc(1, sizeof(*ev));
	ev->refs = 1;
	ev->id = *id;
	ev->topic = SSE_TOPIC_SYSTEM;
	ev->rec = event_record(idtext, "system.resync", json, strlen(json));
	free(json);
	return ev;
}

struct sse_event *
sse_event_ref(struct sse_event *ev)
{
	ev->refs++;
	return ev;
}

void
sse_event_unref(struct sse_event *ev)
{
	if (ev == NULL)
		return;
	if (--ev->refs > 0)
		return;
	sse_buf_unref(ev->rec);
	free(ev);
}

/* Value of a hex digit; -1 when c is none. */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode a query component into out (NUL-terminated, at most
 * outlen - 1 bytes). False when it is malformed or too long.
 */
static bool
query_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (n + 1 >= outlen)
			return false;
		if (s[i] == '+') {
			out[n++] = ' ';
		} else if (s[i] == '%') {
			if (len - i < 3)
				return false;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			out[n++] = (char)(hi * 16 + lo);
			i += 2;
		} else
			out[n++] = s[i];
	}
	out[n] = '\0';
	return true;
}

/* The topics list: names separated by commas, at least one. */
static bool
topics_parse(const char *v, unsigned *out)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} names[] = {
		{ "orders", SSE_TOPIC_ORDERS },
		{ "products", SSE_TOPIC_PRODUCTS },
		{ "users", SSE_TOPIC_USERS },
		{ "alerts", SSE_TOPIC_ALERTS },
	};
	const char *p = v, *end;
	unsigned bits = 0;
	size_t i, n;

	for (;;) {
		end = strchr(p, ',');
		n = end == NULL ? strlen(p) : (size_t)(end - p);
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n &&
			    strncmp(names[i].name, p, n) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return false;
		bits |= names[i].bit;
		if (end == NULL)
			break;
		p = end + 1;
	}
	*out = bits;
	return true;
}

bool
sse_filter_parse(const char *query, struct sse_filter *f, char *err,
    size_t errlen)
{
	const char *p, *amp, *eq;
	char name[32], value[256];
	size_t n, nlen;

	memset(f, 0, sizeof(*f));
	f->topics = SSE_TOPIC_ALL;
	p = query == NULL ? "" : query;
	while (*p != '\0') {
		amp = strchr(p, '&');
		n = amp == NULL ? strlen(p) : (size_t)(amp - p);
		eq = memchr(p, '=', n);
		nlen = eq == NULL ? n : (size_t)(eq - p);
		if (n == 0 || !query_decode(p, nlen, name, sizeof(name))) {
			/* Names we do not know are ignored; so is junk. */
			name[0] = '\0';
		}
		if (eq != NULL && name[0] != '\0' &&
		    (strcmp(name, "topics") == 0 ||
		    strcmp(name, "customerId") == 0 ||
		    strcmp(name, "lastEventId") == 0) &&
		    !query_decode(eq + 1, n - nlen - 1, value, sizeof(value))) {
			snprintf(err, errlen, "%s: malformed value", name);
			return false;
		}
		if (eq == NULL && name[0] != '\0')
			value[0] = '\0';
		if (strcmp(name, "topics") == 0) {
			if (!topics_parse(value, &f->topics)) {
				snprintf(err, errlen, "topics: expected a list "
				    "of orders, products, users, alerts");
				return false;
			}
		} else if (strcmp(name, "customerId") == 0) {
			if (!is_oid(value, strlen(value))) {
				snprintf(err, errlen, "customerId: expected "
				    "a 24-hex id");
				return false;
			}
			memcpy(f->customer, value, SSE_OID_LEN + 1);
		} else if (strcmp(name, "lastEventId") == 0 &&
		    value[0] != '\0') {
			if (!sse_id_parse(value, strlen(value),
			    &f->last_id)) {
				snprintf(err, errlen, "lastEventId: expected "
				    "a stream id like 1700000000000-0");
				return false;
			}
			f->has_last_id = true;
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	return true;
}

bool
sse_filter_admits(const struct sse_filter *f, const struct sse_event *ev)
{
	if (ev->topic == SSE_TOPIC_SYSTEM)
		return true;
	if ((f->topics & ev->topic) == 0)
		return false;
	if (f->customer[0] == '\0')
		return true;
	if (ev->topic == SSE_TOPIC_ORDERS)
		return strcasecmp(ev->customer, f->customer) == 0;
	return ev->topic != SSE_TOPIC_USERS;
}
