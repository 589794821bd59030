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
#include "oc-model.h"
#include "oc-query.h"
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
	return oc_event_kind_topic(type);
}

unsigned
sse_role_topics(enum sse_role role)
{
	switch (role) {
	case SSE_ROLE_ADMIN:
		return SSE_TOPIC_ALL;
	case SSE_ROLE_CUSTOMER:
		return SSE_TOPIC_PRODUCTS | SSE_TOPIC_ORDERS;
	default:
		return SSE_TOPIC_PRODUCTS;
	}
}

unsigned
sse_role_see(enum sse_role role)
{
	switch (role) {
	case SSE_ROLE_ADMIN:
		return OC_FILTER_SEE_ALL;
	case SSE_ROLE_CUSTOMER:
		return OC_FILTER_SEE_PRODUCTS | OC_FILTER_SEE_ORDERS;
	default:
		return OC_FILTER_SEE_PRODUCTS;
	}
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
		if (cust != NULL && oc_oid_valid(cust, strlen(cust)))
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
	ev->json = xmalloc(textlen + 1);
	memcpy(ev->json, text, textlen);
	ev->json[textlen] = '\0';
	ev->json_len = textlen;
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
	ev->json_len = strlen(json);
	ev->json = json;
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
	json_object_put(ev->obj);
	free(ev->json);
	free(ev);
}

json_object *
sse_event_object(struct sse_event *ev)
{
	char err[128];

	if (ev->obj == NULL && ev->json != NULL)
		ev->obj = oc_json_parse(ev->json, ev->json_len, JSON_DEPTH, err,
		    sizeof(err));
	return ev->obj;
}

void
sse_event_drop_object(struct sse_event *ev)
{
	json_object_put(ev->obj);
	ev->obj = NULL;
}

/* The topics list: names separated by commas, at least one. */
static bool
topics_parse(const char *v, unsigned *out)
{
	const char *p = v, *end;
	unsigned bits = 0, bit;
	size_t n;

	for (;;) {
		end = strchr(p, ',');
		n = end == NULL ? strlen(p) : (size_t)(end - p);
		bit = oc_topic_parse(p, n);
		if (bit == 0)
			return false;
		bits |= bit;
		if (end == NULL)
			break;
		p = end + 1;
	}
	*out = bits;
	return true;
}

/* One query parameter, decoded by lib/oc-query; false when malformed. */
static bool
query_value(const char *query, const char *name, char **value,
    const char **field, char *err, size_t errlen)
{
	if (oc_query_get(query, name, value, err, errlen))
		return true;
	*field = name;
	return false;
}

bool
sse_filter_parse(const char *query, struct sse_filter *f,
    const char **field, char *err, size_t errlen)
{
	char *topics = NULL, *cust = NULL, *last = NULL;
	bool ok = false;

	memset(f, 0, sizeof(*f));
	f->topics = SSE_TOPIC_ALL;
	*field = NULL;
	if (query == NULL)
		query = "";
	if (!query_value(query, "topics", &topics, field, err, errlen) ||
	    !query_value(query, "customerId", &cust, field, err, errlen) ||
	    !query_value(query, "lastEventId", &last, field, err, errlen) ||
	    !query_value(query, "where", &f->where, field, err, errlen))
		goto done;
	if (topics != NULL) {
		if (!topics_parse(topics, &f->topics)) {
			*field = "topics";
			snprintf(err, errlen, "topics: expected a list "
			    "of orders, products, users, alerts");
			goto done;
		}
		f->topics_named = true;
	}
	if (cust != NULL) {
		if (!oc_oid_valid(cust, strlen(cust))) {
			*field = "customerId";
			snprintf(err, errlen, "customerId: expected "
			    "a 24-hex id");
			goto done;
		}
		memcpy(f->customer, cust, SSE_OID_LEN + 1);
	}
	if (last != NULL && last[0] != '\0') {
		if (!sse_id_parse(last, strlen(last), &f->last_id)) {
			*field = "lastEventId";
			snprintf(err, errlen, "lastEventId: expected "
			    "a stream id like 1700000000000-0");
			goto done;
		}
		f->has_last_id = true;
	}
	ok = true;
done:
	free(topics);
	free(cust);
	free(last);
	if (!ok)
		sse_filter_clear(f);
	return ok;
}

/* Every where= filter in use, by normalised text. */
static LIST_HEAD(, sse_where) wheres = LIST_HEAD_INITIALIZER(wheres);
static size_t nwheres;

/* Let go of a shared filter; the last client frees it. */
static void
where_unref(struct sse_where *w)
{
	if (w == NULL || --w->refs > 0)
		return;
	LIST_REMOVE(w, entry);
	nwheres--;
	oc_filter_free(w->filter);
	free(w);
}

void
sse_filter_clear(struct sse_filter *f)
{
	free(f->where);
	f->where = NULL;
	where_unref(f->shared);
	f->shared = NULL;
}

bool
sse_filter_compile(struct sse_filter *f, unsigned see,
    struct oc_filter_error *err)
{
	struct oc_filter *filter;
	struct sse_where *w;
	const char *text;

	if (f->where == NULL || f->shared != NULL)
		return true;
	filter = oc_filter_parse(f->where, strlen(f->where),
	    OC_FILTER_EVENTS, see, err);
	if (filter == NULL)
		return false;
	text = oc_filter_text(filter);
	LIST_FOREACH(w, &wheres, entry)
		if (strcmp(oc_filter_text(w->filter), text) == 0)
			break;
	if (w != NULL) {
		oc_filter_free(filter);
		w->refs++;
	} else {
		w = xcalloc(1, sizeof(*w));
		w->refs = 1;
		w->filter = filter;
		LIST_INSERT_HEAD(&wheres, w, entry);
		nwheres++;
	}
	f->shared = w;
	return true;
}

size_t
sse_where_count(void)
{
	return nwheres;
}

/* Does a shared filter admit ev? Evaluated once per event. */
static bool
where_admits(struct sse_where *w, struct sse_event *ev)
{
	json_object *obj;

	if (w->seen_set && sse_id_cmp(&w->seen, &ev->id) == 0)
		return w->seen_result;
	obj = sse_event_object(ev);
	w->seen_result = obj != NULL && oc_filter_match(w->filter, obj);
	w->seen = ev->id;
	w->seen_set = true;
	return w->seen_result;
}

bool
sse_filter_admits(const struct sse_filter *f, struct sse_event *ev)
{
	if (ev->topic == SSE_TOPIC_SYSTEM)
		return true;
	if ((f->topics & ev->topic) == 0)
		return false;
	if (f->customer[0] != '\0') {
		if (ev->topic == SSE_TOPIC_ORDERS &&
		    strcasecmp(ev->customer, f->customer) != 0)
			return false;
		if (ev->topic == SSE_TOPIC_USERS)
			return false;
	}
	if (f->shared != NULL)
		return where_admits(f->shared, ev);
	return true;
}
