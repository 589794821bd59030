/*
 * Layer: route handlers of health, metrics gathered from every
 * component, and order statistics.
 * Calls api-db.c, api-deps.c, api-req.c, api-reply.c and lib/.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "oc-json.h"
#include "oc-log.h"
#include "oc-metrics.h"
#include "oc-model.h"
#include "oc-xmalloc.h"

/* Minutes covered by ordersPerMinute, and products in topProducts. */
#define STATS_MINUTES	60
#define TOP_PRODUCTS	5
/*
 * Largest Prometheus text we build; past it the remaining series are
 * dropped and counted in ordercast_metrics_dropped. Room is kept for
 * that last series.
 */
#define PROM_MAX	(1024 * 1024)
#define PROM_TRAILER	128

/* {"ok":bool,"latencyMs":N} plus "error" when it failed. */
static json_object *
dep_state(bool ok, int64_t us, const char *error)
{
	json_object *o = json_object_new_object();
	char ms[32];

	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	snprintf(ms, sizeof(ms), "%lld.%02lld", (long long)(us / 1000),
	    (long long)(us % 1000 / 10));
	json_object_object_add(o, "latencyMs",
	    json_object_new_double_s((double)us / 1000.0, ms));
	if (!ok && error != NULL)
		json_object_object_add(o, "error",
		    json_object_new_string(error));
	return o;
}

/* MongoDB's state: a ping under the breaker, with its own deadline. */
static json_object *
mongo_state(struct api_req *req, bool *ok)
{
	char err[256];
	int64_t t0 = oc_mono_us();

	*ok = api_mongo_ping(req, err, sizeof(err));
	return dep_state(*ok, oc_mono_us() - t0, *ok ? NULL : err);
}

/* The watcher's heartbeat from PREFIX:watch:alive, if Redis has it. */
static json_object *
watcher_state(struct api_req *req, bool redis_ok, bool *ok)
{
	json_object *o = NULL, *alive = NULL;
	redisReply *r = NULL;
	char err[128];

	*ok = false;
	if (redis_ok)
		r = api_redis_command(req, "GET %s", req->server->keys.watch_alive);
	if (r != NULL && r->type == REDIS_REPLY_STRING)
		alive = oc_json_parse(r->str, r->len, 4, err, sizeof(err));
	if (alive != NULL && json_object_is_type(alive, json_type_object)) {
		o = alive;
		alive = NULL;
		*ok = true;
	} else {
		o = json_object_new_object();
		json_object_object_add(o, "error", json_object_new_string(
		    redis_ok ? "no heartbeat" : "redis is down"));
	}
	json_object_object_add(o, "ok", json_object_new_boolean(*ok));
	json_object_put(alive);
	if (r != NULL)
		freeReplyObject(r);
	return o;
}

/*
 * What anyone may learn of health: the status and, per component, only
 * whether it is up and how fast it answered (no error texts, pids or
 * hosts: those are for admins). Takes full, returns a new object.
 */
static json_object *
health_public(json_object *full)
{
	static const char *const parts[] = { "mongodb", "redis", "watcher" };
	static const char *const kept[] = { "ok", "latencyMs", "lagMs" };
	json_object *out = json_object_new_object(), *v, *part, *f;
	size_t i, j;

	if (json_object_object_get_ex(full, "status", &v))
		json_object_object_add(out, "status", json_object_get(v));
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (!json_object_object_get_ex(full, parts[i], &v))
			continue;
		part = json_object_new_object();
		for (j = 0; j < sizeof(kept) / sizeof(kept[0]); j++)
			if (json_object_object_get_ex(v, kept[j], &f))
				json_object_object_add(part, kept[j],
				    json_object_get(f));
		json_object_object_add(out, parts[i], part);
	}
	json_object_put(full);
	return out;
}

/* GET /api/health: 200 only when MongoDB, Redis and the watcher are up. */
void
api_route_health(struct api_req *req)
{
	json_object *body = json_object_new_object();
	redisReply *r;
	int64_t t0;
	bool mongo_ok, redis_ok, watch_ok;

	json_object_object_add(body, "mongodb", mongo_state(req, &mongo_ok));
	t0 = oc_mono_us();
	r = api_redis_command(req, "PING");
	redis_ok = r != NULL && r->type != REDIS_REPLY_ERROR;
	json_object_object_add(body, "redis", dep_state(redis_ok,
	    oc_mono_us() - t0, r == NULL ? "unreachable" : r->str));
	if (r != NULL)
		freeReplyObject(r);
	json_object_object_add(body, "watcher",
	    watcher_state(req, redis_ok, &watch_ok));
	json_object_object_add(body, "status", json_object_new_string(
	    mongo_ok && redis_ok && watch_ok ? "ok" : "degraded"));
	if (req->caller.role != API_ROLE_ADMIN)
		body = health_public(body);
	api_reply_json(req, mongo_ok && redis_ok && watch_ok ? 200 : 503,
	    body);
}

/* A hash's fields as {"field": integer}; NULL when the reply is odd. */
static json_object *
hash_object(const redisReply *r)
{
	json_object *o;
	long v;
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY)
		return NULL;
	o = json_object_new_object();
	for (i = 0; i + 1 < r->elements; i += 2) {
		if (r->element[i]->type != REDIS_REPLY_STRING ||
		    r->element[i + 1]->type != REDIS_REPLY_STRING)
			continue;
		if (!oc_parse_long(r->element[i + 1]->str, LONG_MIN,
		    LONG_MAX, &v))
			continue;
		json_object_object_add(o, r->element[i]->str,
		    json_object_new_int64(v));
	}
	return o;
}

/*
 * Fold one process's gauges (PREFIX:metrics:<program>:<instance>) into
 * gauges, {"program": {"instances": N, field: value}}, each field by
 * its rule in lib/oc-metrics; fields that are no gauge of the program
 * are left out.
 */
static void
fold_instance(json_object *gauges, const char *program, json_object *h)
{
	const struct oc_gauge *g;
	json_object *acc, *v;
	long long sum;
	bool first;

	if (!json_object_object_get_ex(gauges, program, &acc)) {
		acc = json_object_new_object();
		json_object_object_add(acc, OC_METRIC_INSTANCES,
		    json_object_new_int64(0));
		json_object_object_add(gauges, program, acc);
	}
	json_object_object_get_ex(acc, OC_METRIC_INSTANCES, &v);
	json_object_set_int64(v, json_object_get_int64(v) + 1);
	json_object_object_foreach(h, field, val) {
		g = oc_metrics_gauge(program, field);
		if (g == NULL)
			continue;
		first = !json_object_object_get_ex(acc, field, &v);
		sum = first ? 0 : json_object_get_int64(v);
		oc_metrics_fold(g, first, json_object_get_int64(val), &sum);
		json_object_object_add(acc, field, json_object_new_int64(sum));
	}
}

/*
 * Put the folded gauges into the components. A gauge in a program's
 * shared hash is a leftover of an older release: the processes' own
 * figures replace it. A program with gauges and no process reporting
 * them shows instances 0 and its summed gauges 0.
 */
static void
merge_gauges(json_object *comps, json_object *gauges)
{
	const struct oc_gauge *g;
	json_object *comp;

	json_object_object_foreach(comps, program, c) {
		if (!oc_metrics_has_gauges(program))
			continue;
		for (g = oc_gauges; g->field != NULL; g++)
			if (strcmp(g->program, program) == 0)
				json_object_object_del(c, g->field);
		if (json_object_object_get_ex(gauges, program, NULL))
			continue;
		for (g = oc_gauges; g->field != NULL; g++)
			if (strcmp(g->program, program) == 0 &&
			    g->fold == OC_FOLD_SUM)
				json_object_object_add(c, g->field,
				    json_object_new_int64(0));
		json_object_object_add(c, OC_METRIC_INSTANCES,
		    json_object_new_int64(0));
	}
	json_object_object_foreach(gauges, prog, acc) {
		if (!json_object_object_get_ex(comps, prog, &comp)) {
			comp = json_object_new_object();
			json_object_object_add(comps, prog, comp);
		}
		json_object_object_foreach(acc, field, val)
			json_object_object_add(comp, field,
			    json_object_get(val));
	}
}

/*
 * File one PREFIX:metrics:* hash: a program's counters go to comps as
 * its component, a process's gauges are folded into gauges once (SCAN
 * may name a key twice: seen remembers them).
 */
static void
file_hash(struct api_req *req, const char *key, json_object *h,
    json_object *comps, json_object *gauges, json_object *seen)
{
	const struct oc_keys *keys = &req->server->keys;
	const char *program, *instance;
	char name[64];

	program = oc_keys_metrics_program(keys, key);
	if (program != NULL) {
		json_object_object_add(comps, program, json_object_get(h));
		return;
	}
	if (!oc_keys_metrics_split(keys, key, name, sizeof(name),
	    &instance) || !oc_metrics_has_gauges(name) ||
	    json_object_object_get_ex(seen, key, NULL))
		return;		/* a program without gauges has no such hash */
	json_object_object_add(seen, key, NULL);
	fold_instance(gauges, name, h);
}

/*
 * Every PREFIX:metrics:* hash as {"component": {...}} in *out: the
 * counters of each program, with the gauges of its processes folded in.
 * Returns false when Redis failed.
 */
static bool
gather_metrics(struct api_req *req, json_object **out)
{
	json_object *comps = json_object_new_object(), *h;
	json_object *gauges = json_object_new_object();
	json_object *seen = json_object_new_object();
	redisReply *scan = NULL, *r;
	char cursor[32] = "0";
	size_t i;
	bool ok = false;
	int rounds = 0;

	do {
		scan = api_redis_command(req, "SCAN %s MATCH %s COUNT 100",
		    cursor, req->server->keys.metrics_match);
		if (scan == NULL || scan->type != REDIS_REPLY_ARRAY ||
		    scan->elements != 2)
			goto done;
		snprintf(cursor, sizeof(cursor), "%s", scan->element[0]->str);
		for (i = 0; i < scan->element[1]->elements; i++) {
			const char *key = scan->element[1]->element[i]->str;

			r = api_redis_command(req, "HGETALL %s", key);
			if (r == NULL)
				goto done;
			h = hash_object(r);
			freeReplyObject(r);
			/* An expired hash answers empty: nothing to file. */
			if (h != NULL && json_object_object_length(h) > 0)
				file_hash(req, key, h, comps, gauges, seen);
			json_object_put(h);
		}
		freeReplyObject(scan);
		scan = NULL;
	} while (strcmp(cursor, "0") != 0 && ++rounds < 100);
	merge_gauges(comps, gauges);
	*out = comps;
	comps = NULL;
	ok = true;
done:
	if (scan != NULL)
		freeReplyObject(scan);
	json_object_put(comps);
	json_object_put(gauges);
	json_object_put(seen);
	return ok;
}

/* A counter of a component, 0 when absent. */
static int64_t
counter(json_object *comps, const char *comp, const char *field)
{
	json_object *c, *v;

	if (!json_object_object_get_ex(comps, comp, &c) ||
	    !json_object_object_get_ex(c, field, &v))
		return 0;
	return json_object_get_int64(v);
}

/* A growing text with a hard cap. */
struct prom_buf {
	char	*s;
	size_t	 len;
	size_t	 size;
};

/* Append s unless the text would pass max bytes; false then. */
static bool
buf_add(struct prom_buf *b, const char *s, size_t max)
{
	size_t n = strlen(s);

	if (b->len + n >= max)
		return false;
	if (b->len + n >= b->size) {
		while (b->len + n >= b->size)
			b->size *= 2;
		b->s = xreallocarray(b->s, b->size, 1);
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
	return true;
}

/*
 * The metrics as Prometheus text: ordercast_<component>_<field>, typed
 * gauge or counter by lib/oc-metrics, then ordercast_metrics_dropped,
 * the series left out past PROM_MAX.
 */
static void
reply_prometheus(struct api_req *req, json_object *comps)
{
	struct prom_buf b = { xmalloc(16384), 0, 16384 };
	char name[256], line[600];
	long long dropped = 0;
	size_t i;

	b.s[0] = '\0';
	json_object_object_foreach(comps, comp, fields) {
		json_object_object_foreach(fields, field, val) {
			if (dropped > 0) {
				dropped++;
				continue;
			}
			snprintf(name, sizeof(name), "ordercast_%s_%s", comp,
			    field);
			for (i = 0; name[i] != '\0'; i++)
				if (!isalnum((unsigned char)name[i]) &&
				    name[i] != '_')
					name[i] = '_';
			snprintf(line, sizeof(line), "# TYPE %s %s\n"
			    "%s %lld\n", name, oc_metrics_is_gauge(comp, field) ?
			    "gauge" : "counter", name,
			    (long long)json_object_get_int64(val));
			if (!buf_add(&b, line, PROM_MAX - PROM_TRAILER))
				dropped++;
		}
	}
	if (dropped > 0)
		log_warnx("metrics: %lld series past %d bytes dropped",
		    dropped, PROM_MAX);
	snprintf(line, sizeof(line), "# TYPE ordercast_metrics_dropped "
	    "gauge\nordercast_metrics_dropped %lld\n", dropped);
	buf_add(&b, line, PROM_MAX);
	api_reply_raw(req, 200, b.s, b.len, "text/plain; version=0.0.4");
	free(b.s);
}

/* GET /api/metrics[?format=prometheus] */
void
api_route_metrics(struct api_req *req)
{
	json_object *comps = NULL, *body, *cache;
	char *format = NULL;
	int64_t hits, misses;

	if (api_query(req, "format", &format) &&
	    strcmp(format, "prometheus") != 0 && strcmp(format, "json") != 0) {
		api_field_error(req, "format", "expected json or prometheus");
		goto done;
	}
	if (!gather_metrics(req, &comps)) {
		api_unavailable(req, "Redis");
		goto done;
	}
	if (format != NULL && strcmp(format, "prometheus") == 0) {
		reply_prometheus(req, comps);
		goto done;
	}
	hits = counter(comps, "api", "cache_hits");
	misses = counter(comps, "api", "cache_misses");
	cache = json_object_new_object();
	json_object_object_add(cache, "hits", json_object_new_int64(hits));
	json_object_object_add(cache, "misses",
	    json_object_new_int64(misses));
	json_object_object_add(cache, "hitRatio", json_object_new_double(
	    hits + misses > 0 ? (double)hits / (double)(hits + misses) : 0));
	body = json_object_new_object();
	json_object_object_add(body, "components", json_object_get(comps));
	json_object_object_add(body, "cache", cache);
	api_reply_json(req, 200, body);
done:
	json_object_put(comps);
	free(format);
}

/* Run an aggregation on orders; its documents as JSON, or false. */
static bool
aggregate(struct api_req *req, const bson_t *pipeline, json_object **out)
{
	mongoc_collection_t *c = NULL;
	mongoc_cursor_t *cur = NULL;
	const bson_t *doc;
	bson_error_t err;
	json_object *arr = json_object_new_array();
	bool ok = false;

	*out = NULL;
	c = api_collection(req, "orders");
	if (c == NULL)
		goto done;
	cur = mongoc_collection_aggregate(c, MONGOC_QUERY_NONE, pipeline,
	    NULL, NULL);
	while (mongoc_cursor_next(cur, &doc))
		json_object_array_add(arr, oc_bson_doc_to_json(doc));
	if (mongoc_cursor_error(cur, &err)) {
		api_mongo_error(req, &err, "stats");
		goto done;
	}
	*out = arr;
	arr = NULL;
	ok = true;
done:
	json_object_put(arr);
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(c);
	return ok;
}

/* A number field of an aggregation result, 0 when absent. */
static int64_t
num(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		return 0;
	return json_object_get_int64(v);
}

/* {"pending": N, ...} with every status present. */
static bool
stats_by_status(struct api_req *req, json_object *body)
{
	bson_t *p = BCON_NEW("pipeline", "[", "{", "$group", "{", "_id",
	    BCON_UTF8("$status"), "n", "{", "$sum", BCON_INT32(1), "}", "}",
	    "}", "]");
	json_object *arr = NULL, *by, *e, *id;
	size_t i;
	bool ok;

	ok = aggregate(req, p, &arr);
	bson_destroy(p);
	if (!ok)
		return false;
	by = json_object_new_object();
	for (i = 0; i < OC_NSTATUSES; i++)
		json_object_object_add(by, oc_statuses[i],
		    json_object_new_int64(0));
	for (i = 0; i < json_object_array_length(arr); i++) {
		e = json_object_array_get_idx(arr, i);
		if (json_object_object_get_ex(e, "_id", &id) &&
		    json_object_is_type(id, json_type_string))
			json_object_object_add(by, json_object_get_string(id),
			    json_object_new_int64(num(e, "n")));
	}
	json_object_object_add(body, "byStatus", by);
	json_object_put(arr);
	return true;
}

/* Revenue of every order that was not cancelled. */
static bool
stats_revenue(struct api_req *req, json_object *body)
{
	bson_t *p = BCON_NEW("pipeline", "[",
	    "{", "$match", "{", "status", "{", "$ne", BCON_UTF8(OC_STATUS_CANCELLED),
	    "}", "}", "}",
	    "{", "$group", "{", "_id", BCON_NULL, "r", "{", "$sum",
	    BCON_UTF8("$totalCents"), "}", "}", "}", "]");
	json_object *arr = NULL;
	int64_t r = 0;
	bool ok;

	ok = aggregate(req, p, &arr);
	bson_destroy(p);
	if (!ok)
		return false;
	if (json_object_array_length(arr) > 0)
		r = num(json_object_array_get_idx(arr, 0), "r");
	json_object_object_add(body, "revenueCents", json_object_new_int64(r));
	json_object_put(arr);
	return true;
}

/* Orders and revenue per minute for the last hour, zero-filled. */
static bool
stats_per_minute(struct api_req *req, json_object *body)
{
	int64_t now = oc_wall_ms();
	int64_t first = (now / 60000 - (STATS_MINUTES - 1)) * 60000;
	bson_t *p = BCON_NEW("pipeline", "[",
	    "{", "$match", "{", "createdAt", "{", "$gte",
	    BCON_DATE_TIME(first), "}", "}", "}",
	    "{", "$group", "{", "_id", "{", "$dateToString", "{", "format",
	    BCON_UTF8("%Y-%m-%dT%H:%M:00.000Z"), "date",
	    BCON_UTF8("$createdAt"), "}", "}",
	    "n", "{", "$sum", BCON_INT32(1), "}",
	    "r", "{", "$sum", "{", "$cond", "[", "{", "$eq", "[",
	    BCON_UTF8("$status"), BCON_UTF8(OC_STATUS_CANCELLED), "]", "}",
	    BCON_INT32(0), BCON_UTF8("$totalCents"), "]", "}", "}",
	    "}", "}", "]");
	json_object *arr = NULL, *out, *m, *e, *id;
	char iso[40];
	size_t i, j;
	int64_t n, r;
	bool ok;

	ok = aggregate(req, p, &arr);
	bson_destroy(p);
	if (!ok)
		return false;
	out = json_object_new_array();
	for (i = 0; i < STATS_MINUTES; i++) {
		oc_format_iso8601(first + (int64_t)i * 60000, iso,
		    sizeof(iso));
		n = r = 0;
		for (j = 0; j < json_object_array_length(arr); j++) {
			e = json_object_array_get_idx(arr, j);
			if (json_object_object_get_ex(e, "_id", &id) &&
			    json_object_is_type(id, json_type_string) &&
			    strcmp(json_object_get_string(id), iso) == 0) {
				n = num(e, "n");
				r = num(e, "r");
			}
		}
		m = json_object_new_object();
		json_object_object_add(m, "minute",
		    json_object_new_string(iso));
		json_object_object_add(m, "count", json_object_new_int64(n));
		json_object_object_add(m, "revenueCents",
		    json_object_new_int64(r));
		json_object_array_add(out, m);
	}
	json_object_object_add(body, "ordersPerMinute", out);
	json_object_put(arr);
	return true;
}

/* The best-selling products by quantity in orders not cancelled. */
static bool
stats_top_products(struct api_req *req, json_object *body)
{
	bson_t *p = BCON_NEW("pipeline", "[",
	    "{", "$match", "{", "status", "{", "$ne", BCON_UTF8(OC_STATUS_CANCELLED),
	    "}", "}", "}",
	    "{", "$unwind", BCON_UTF8("$items"), "}",
	    "{", "$group", "{", "_id", BCON_UTF8("$items.productId"),
	    "sku", "{", "$first", BCON_UTF8("$items.sku"), "}",
	    "name", "{", "$first", BCON_UTF8("$items.name"), "}",
	    "qty", "{", "$sum", BCON_UTF8("$items.qty"), "}",
	    "revenueCents", "{", "$sum", "{", "$multiply", "[",
	    BCON_UTF8("$items.qty"), BCON_UTF8("$items.unitPriceCents"), "]",
	    "}", "}", "}", "}",
	    "{", "$sort", "{", "qty", BCON_INT32(-1), "_id", BCON_INT32(1),
	    "}", "}",
	    "{", "$limit", BCON_INT32(TOP_PRODUCTS), "}", "]");
	json_object *arr = NULL, *out, *e, *o, *v;
	size_t i;
	bool ok;

	ok = aggregate(req, p, &arr);
	bson_destroy(p);
	if (!ok)
		return false;
	out = json_object_new_array();
	for (i = 0; i < json_object_array_length(arr); i++) {
		e = json_object_array_get_idx(arr, i);
		o = json_object_new_object();
		if (json_object_object_get_ex(e, "_id", &v))
			json_object_object_add(o, "productId",
			    json_object_get(v));
		if (json_object_object_get_ex(e, "sku", &v))
			json_object_object_add(o, "sku", json_object_get(v));
		if (json_object_object_get_ex(e, "name", &v))
			json_object_object_add(o, "name", json_object_get(v));
		json_object_object_add(o, "qty",
		    json_object_new_int64(num(e, "qty")));
		json_object_object_add(o, "revenueCents",
		    json_object_new_int64(num(e, "revenueCents")));
		json_object_array_add(out, o);
	}
	json_object_object_add(body, "topProducts", out);
	json_object_put(arr);
	return true;
}

/* GET /api/stats: one aggregation per figure, nothing scanned in C. */
void
api_route_stats(struct api_req *req)
{
	json_object *body = json_object_new_object();

	if (!stats_by_status(req, body) || !stats_revenue(req, body) ||
	    !stats_per_minute(req, body) || !stats_top_products(req, body)) {
		json_object_put(body);
		return;
	}
	api_reply_json(req, 200, body);
}
