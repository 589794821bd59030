/*
 * Unit tests (TAP) of the relay's FastCGI record layer and of its event
 * filters, the parts that must be right byte for byte.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi-proto.h"
#include "sse.h"

static int ntest;
static int nfail;

/* One TAP line per check. */
static void
ok(int cond, const char *name)
{
	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - %s\n", cond ? "" : "not ", ntest, name);
}

/* Whole records come out; partial ones wait; other versions fail. */
static void
test_parse(void)
{
	uint8_t buf[64], rec16[16];
	struct fcgi_record rec;
	size_t used = 0, n;

	n = fcgi_stream_encode(buf, FCGI_STDOUT, 7, "hello", 5);
	ok(n == 16, "5 bytes make one 16-byte record (padded to 8)");
	ok(fcgi_record_parse(buf, 7, &rec, &used) == 0, "short header waits");
	ok(fcgi_record_parse(buf, 15, &rec, &used) == 0, "short record waits");
	ok(fcgi_record_parse(buf, 16, &rec, &used) == 1 && used == 16 &&
	    rec.type == FCGI_STDOUT && rec.request_id == 7 &&
	    rec.content_len == 5 && memcmp(rec.content, "hello", 5) == 0,
	    "whole record parsed");
	buf[0] = 2;
	ok(fcgi_record_parse(buf, 16, &rec, &used) == -1, "version 2 refused");
	n = fcgi_end_request_encode(rec16, 3, 0, FCGI_CANT_MPX_CONN);
	ok(n == 16 && rec16[1] == FCGI_END_REQUEST && rec16[3] == 3 &&
	    rec16[5] == 8 && rec16[12] == FCGI_CANT_MPX_CONN,
	    "END_REQUEST layout");
	n = fcgi_unknown_type_encode(rec16, 42);
	ok(n == 16 && rec16[1] == FCGI_UNKNOWN_TYPE && rec16[8] == 42,
	    "UNKNOWN_TYPE layout");
	n = fcgi_stream_encode(buf, FCGI_STDOUT, 1, NULL, 0);
	ok(n == 8 && buf[4] == 0 && buf[5] == 0, "empty record ends a stream");
}

/* Data over one record's limit is split; set_id rewrites every header. */
static void
test_split(void)
{
	size_t len = 70000, n, off = 0, used, total = 0;
	struct fcgi_record rec;
	uint8_t *data, *out;
	int records = 0, ids_ok = 1;

	data = malloc(len);
	memset(data, 'x', len);
	out = malloc(fcgi_stream_size(len));
	n = fcgi_stream_encode(out, FCGI_STDOUT, 1, data, len);
	ok(n == fcgi_stream_size(len), "size matches encoding");
	ok(fcgi_records_set_id(out, n, 513), "set_id on whole records");
	while (off < n && fcgi_record_parse(out + off, n - off, &rec,
	    &used) == 1) {
		records++;
		total += rec.content_len;
		if (rec.request_id != 513)
			ids_ok = 0;
		off += used;
	}
	ok(records == 2 && total == len && off == n,
	    "70000 bytes in two records");
	ok(ids_ok, "request ids rewritten");
	ok(!fcgi_records_set_id(out, n - 1, 1), "set_id refuses a torn tail");
	free(data);
	free(out);
}

/* Short and long name-value lengths both ways. */
static void
test_pairs(void)
{
	char longval[300];
	uint8_t buf[512];
	const uint8_t *name, *value;
	size_t n = 0, off = 0, nl, vl;

	memset(longval, 'v', sizeof(longval));
	n += fcgi_pair_encode(buf + n, "QUERY_STRING", 12, "a=1", 3);
	n += fcgi_pair_encode(buf + n, "LONG", 4, longval, sizeof(longval));
	ok(n == fcgi_pair_size(12, 3) + fcgi_pair_size(4, 300),
	    "pair sizes");
	ok(fcgi_pair_next(buf, n, &off, &name, &nl, &value, &vl) == 1 &&
	    nl == 12 && vl == 3 && memcmp(value, "a=1", 3) == 0,
	    "short pair");
	ok(fcgi_pair_next(buf, n, &off, &name, &nl, &value, &vl) == 1 &&
	    nl == 4 && vl == 300, "long pair");
	ok(fcgi_pair_next(buf, n, &off, &name, &nl, &value, &vl) == 0,
	    "end of pairs");
	off = 0;
	ok(fcgi_pair_next(buf, n - 1, &off, &name, &nl, &value, &vl) == 1 &&
	    fcgi_pair_next(buf, n - 1, &off, &name, &nl, &value, &vl) == -1,
	    "truncated pair is malformed");
}

/* Query strings become filters; bad values are refused. */
static void
test_filters(void)
{
	struct sse_filter f;
	struct sse_event ev;
	struct sse_id a, b;
	const char *field;
	char err[256];

	ok(sse_filter_parse("", &f, &field, err, sizeof(err)) &&
	    f.topics == SSE_TOPIC_ALL && !f.has_last_id, "default: all");
	ok(sse_filter_parse("topics=orders%2Calerts&x=1", &f, &field, err,
	    sizeof(err)) && f.topics == (SSE_TOPIC_ORDERS | SSE_TOPIC_ALERTS),
	    "encoded topics list");
	ok(!sse_filter_parse("topics=orders,", &f, &field, err, sizeof(err)),
	    "empty topic refused");
	ok(!sse_filter_parse("customerId=xyz", &f, &field, err, sizeof(err)),
	    "bad customerId refused");
	ok(sse_filter_parse("lastEventId=17-3", &f, &field, err, sizeof(err)) &&
	    f.has_last_id && f.last_id.ms == 17 && f.last_id.seq == 3,
	    "lastEventId parsed");
	ok(!sse_filter_parse("lastEventId=17-x", &f, &field, err, sizeof(err)),
	    "bad lastEventId refused");
	ok(sse_filter_parse("customerId=65f0c0ffee65f0c0ffee0001", &f, &field, err,
	    sizeof(err)), "customerId accepted");
	memset(&ev, 0, sizeof(ev));
	ev.topic = SSE_TOPIC_ORDERS;
	memcpy(ev.customer, "65f0c0ffee65f0c0ffee0002", 25);
	ok(!sse_filter_admits(&f, &ev), "other customer's order hidden");
	memcpy(ev.customer, "65f0c0ffee65f0c0ffee0001", 25);
	ok(sse_filter_admits(&f, &ev), "own order shown");
	ev.topic = SSE_TOPIC_USERS;
	ok(!sse_filter_admits(&f, &ev), "users hidden from a customer");
	ev.topic = SSE_TOPIC_SYSTEM;
	ok(sse_filter_admits(&f, &ev), "system events always pass");
	ok(sse_id_parse("5-10", 4, &a) && sse_id_parse("10-1", 4, &b) &&
	    sse_id_cmp(&a, &b) < 0 && sse_id_cmp(&b, &a) > 0,
	    "ids compare as numbers");
	ok(!sse_id_parse("99999999999999999999999-0", 25, &a),
	    "overflowing id refused");
	ok(!sse_filter_parse("topics=orders%00", &f, &field, err,
	    sizeof(err)) && strcmp(field, "topics") == 0,
	    "%00 in a value refused, naming the parameter");
	ok(!sse_filter_parse("where=a%2", &f, &field, err, sizeof(err)) &&
	    strcmp(field, "where") == 0, "a malformed % refused");
}

/* Clients with the same normalised filter share one evaluation. */
static void
test_where(void)
{
	static const char pending[] = "{\"id\":\"5-1\","
	    "\"type\":\"order.created\",\"collection\":\"orders\","
	    "\"op\":\"insert\",\"key\":\"65f0c0ffee65f0c0ffee0009\","
	    "\"doc\":{\"customerId\":\"65f0c0ffee65f0c0ffee0001\","
	    "\"status\":\"pending\",\"totalCents\":700}}";
	struct sse_filter f, g, h;
	struct oc_filter_error fe;
	struct sse_event *ev;
	const char *field;
	char err[256];

	ok(sse_filter_parse("where=doc.status%3D%27pending%27", &f, &field,
	    err, sizeof(err)) && sse_filter_compile(&f, OC_FILTER_SEE_ALL,
	    &fe), "where= compiled");
	ok(sse_filter_parse("where=doc.status+%3D+%27pending%27", &g, &field,
	    err, sizeof(err)) && sse_filter_compile(&g, OC_FILTER_SEE_ALL,
	    &fe), "same filter spelled otherwise");
	ok(f.shared == g.shared && sse_where_count() == 1,
	    "one shared evaluation for the same normalised text");
	ok(sse_filter_parse("where=doc.totalCents+>+1000", &h, &field, err,
	    sizeof(err)) && sse_filter_compile(&h, OC_FILTER_SEE_ALL, &fe) &&
	    sse_where_count() == 2, "another filter, another evaluation");
	ev = sse_event_parse(pending, strlen(pending), err, sizeof(err));
	ok(ev != NULL && sse_filter_admits(&f, ev) &&
	    sse_filter_admits(&g, ev) && !sse_filter_admits(&h, ev),
	    "each client gets what its filter admits");
	sse_event_unref(ev);
	sse_filter_clear(&f);
	sse_filter_clear(&g);
	sse_filter_clear(&h);
	ok(sse_where_count() == 0, "the last client frees the filter");
	ok(sse_filter_parse("where=doc.status+%3D", &f, &field, err,
	    sizeof(err)) && !sse_filter_compile(&f, OC_FILTER_SEE_ALL, &fe) &&
	    fe.position > 0, "a bad filter has a position");
	sse_filter_clear(&f);
	ok(sse_filter_parse("where=doc.email+%3D+%27a%27+AND+"
	    "collection+%3D+%27users%27", &f, &field, err, sizeof(err)) &&
	    !sse_filter_compile(&f, OC_FILTER_SEE_PRODUCTS, &fe),
	    "a field the role may not see is refused");
	sse_filter_clear(&f);
}

int
main(void)
{
	test_parse();
	test_split();
	test_pairs();
	test_filters();
	test_where();
	printf("1..%d\n", ntest);
	return nfail == 0 ? 0 : 1;
}
