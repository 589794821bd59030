/*
 * tests/bench/filter: the cost of evaluating a filter on one event, beside
 * a hand-written C test of the same predicates on the same json-c object
 * (the least a relay could spend), measured in the same run.
 *
 *   filter-bench [ITERATIONS]
 *
 * Prints ns per evaluation of each, their ratio, and the cost of parsing
 * the filter and of a hostile LIKE pattern.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oc-filter.h"

#define ROUNDS	5

static const char *const event_text =
    "{\"id\":\"1764064800123-0\",\"type\":\"order.updated\","
    "\"collection\":\"orders\",\"op\":\"update\","
    "\"key\":\"65f0c0ffee000000000000a1\",\"doc\":{"
    "\"id\":\"65f0c0ffee000000000000a1\","
    "\"customerId\":\"65f0c0ffee000000000000c1\","
    "\"items\":[{\"productId\":\"65f0c0ffee000000000000b1\","
    "\"sku\":\"MN-303\",\"name\":\"27-inch 4K Monitor\",\"qty\":2,"
    "\"unitPriceCents\":32999},{\"productId\":\"65f0c0ffee000000000000b2\","
    "\"sku\":\"KB-101\",\"name\":\"Mechanical Keyboard\",\"qty\":1,"
    "\"unitPriceCents\":8999}],\"totalCents\":74997,"
    "\"status\":\"processing\",\"history\":[{\"status\":\"pending\","
    "\"at\":\"2024-03-01T10:00:00.000Z\"},{\"status\":\"processing\","
    "\"at\":\"2024-03-01T10:05:00.000Z\"}],"
    "\"createdAt\":\"2024-03-01T10:00:00.000Z\","
    "\"updatedAt\":\"2024-03-01T10:05:00.000Z\"},"
    "\"changed\":{\"status\":\"processing\"},\"removed\":[],"
    "\"clusterTime\":1764064800120,\"publishedAt\":1764064800123}";

/* Five predicates, all true on the event, so none is skipped. */
static const char *const filter_text =
    "type = 'order.updated' AND doc.status IN ('pending', 'processing') "
    "AND doc.totalCents > 50000 AND doc.createdAt >= '2024-03-01' "
    "AND doc.items.sku LIKE 'KB-%'";

/* Monotonic nanoseconds. */
static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A string member at obj.key, or NULL. */
static const char *
get_str(json_object *obj, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * The same five predicates written by hand: what a relay would spend
 * with no language at all. Dates compare as text, the cheapest way.
 */
static bool
hand_match(json_object *ev)
{
	json_object *doc, *v, *items, *item;
	const char *s;
	size_t i, n;

	s = get_str(ev, "type");
	if (s == NULL || strcmp(s, "order.updated") != 0)
		return false;
	if (!json_object_object_get_ex(ev, "doc", &doc) || doc == NULL)
		return false;
	s = get_str(doc, "status");
	if (s == NULL || (strcmp(s, "pending") != 0 &&
	    strcmp(s, "processing") != 0))
		return false;
	if (!json_object_object_get_ex(doc, "totalCents", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= 50000)
		return false;
	s = get_str(doc, "createdAt");
	if (s == NULL || strcmp(s, "2024-03-01T00:00:00.000Z") < 0)
		return false;
	if (!json_object_object_get_ex(doc, "items", &items) ||
	    !json_object_is_type(items, json_type_array))
		return false;
	n = json_object_array_length(items);
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(items, i);
		s = get_str(item, "sku");
		if (s != NULL && strncmp(s, "KB-", 3) == 0)
			return true;
	}
	return false;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* Median ns per call of one round of iters evaluations. */
static double
measure(const struct oc_filter *f, json_object *ev, long iters,
    long *hits)
{
	long long t[ROUNDS], t0;
	long i;
	int r;

	for (r = 0; r < ROUNDS; r++) {
		t0 = now_ns();
		for (i = 0; i < iters; i++)
			*hits += f != NULL ? oc_filter_match(f, ev) :
			    hand_match(ev);
		t[r] = now_ns() - t0;
	}
	qsort(t, ROUNDS, sizeof(t[0]), cmp_ll);
	return (double)t[ROUNDS / 2] / (double)iters;
}

int
main(int argc, char **argv)
{
	long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	struct oc_filter_error err;
	struct oc_filter *f, *hostile;
	json_object *ev, *long_sku, *doc;
	char pat[256], *val;
	long hits = 0, i;
	long long t0;
	double ns_filter, ns_hand, ns_parse, ns_hostile;

	ev = json_tokener_parse(event_text);
	f = oc_filter_parse(filter_text, strlen(filter_text),
	    OC_FILTER_EVENTS, OC_FILTER_SEE_ALL, &err);
	if (ev == NULL || f == NULL) {
		fprintf(stderr, "filter-bench: %s\n", err.message);
		return 1;
	}
	if (!oc_filter_match(f, ev) || !hand_match(ev)) {
		fprintf(stderr, "filter-bench: the event must match\n");
		return 1;
	}
	/* Warm up, then measure both in the same run. */
	measure(f, ev, iters / 10, &hits);
	measure(NULL, ev, iters / 10, &hits);
	ns_filter = measure(f, ev, iters, &hits);
	ns_hand = measure(NULL, ev, iters, &hits);

	t0 = now_ns();
	for (i = 0; i < iters / 10; i++)
		oc_filter_free(oc_filter_parse(filter_text,
		    strlen(filter_text), OC_FILTER_EVENTS, OC_FILTER_SEE_ALL,
		    &err));
	ns_parse = (double)(now_ns() - t0) / (double)(iters / 10);

	/* 40 %-runs against 1000 'a's that never end in 'b'. */
	snprintf(pat, sizeof(pat), "doc.status LIKE '");
	for (i = 0; i < 40; i++)
		strncat(pat, "%a", sizeof(pat) - strlen(pat) - 1);
	strncat(pat, "%b'", sizeof(pat) - strlen(pat) - 1);
	hostile = oc_filter_parse(pat, strlen(pat), OC_FILTER_EVENTS,
	    OC_FILTER_SEE_ALL, &err);
	val = malloc(1001);
	memset(val, 'a', 1000);
	val[1000] = '\0';
	long_sku = json_tokener_parse("{\"doc\":{}}");
	json_object_object_get_ex(long_sku, "doc", &doc);
	json_object_object_add(doc, "status", json_object_new_string(val));
	ns_hostile = measure(hostile, long_sku, iters / 1000 + 1, &hits);

	printf("filter: %s\n", filter_text);
	printf("evaluate (oc_filter_match)  %8.1f ns per event\n", ns_filter);
	printf("hand-written C baseline     %8.1f ns per event\n", ns_hand);
	printf("ratio                       %8.2f x\n", ns_filter / ns_hand);
	printf("parse + normalise + free    %8.1f ns per filter\n", ns_parse);
	printf("hostile LIKE, 1000 chars    %8.1f ns per event\n", ns_hostile);
	printf("target: under 1000 ns per event: %s (%ld hits)\n",
	    ns_filter < 1000 ? "met" : "MISSED", hits);
	oc_filter_free(f);
	oc_filter_free(hostile);
	json_object_put(long_sku);
	json_object_put(ev);
	free(val);
	return ns_filter < 1000 ? 0 : 1;
}
