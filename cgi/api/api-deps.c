/*
 * The API's dependencies: MongoDB clients from the pool, a Redis
 * connection per thread, and a circuit breaker in front of each.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "oc-json.h"
#include "oc-log.h"
#include "oc-redis.h"
#include "oc-xmalloc.h"

/* Consecutive failures that open a breaker, and how long it stays open. */
#define BREAKER_THRESHOLD	3
#define BREAKER_OPEN_MS		(API_RETRY_AFTER * 1000)

/* A closed breaker. */
void
api_breaker_init(struct api_breaker *b)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
}

/*
 * May a request use the dependency now? Closed: yes. Open: no, until the
 * open period ends; then exactly one probe passes until it reports.
 */
bool
api_breaker_allow(struct api_breaker *b)
{
	bool ok = true;

	pthread_mutex_lock(&b->mu);
	if (b->failures >= BREAKER_THRESHOLD) {
		if (oc_mono_ms() < b->open_until || b->probing)
			ok = false;
		else
			b->probing = true;
	}
	pthread_mutex_unlock(&b->mu);
	return ok;
}

/* Feed one outcome: success closes, repeated failure (re)opens. */
void
api_breaker_report(struct api_breaker *b, bool ok)
{
	pthread_mutex_lock(&b->mu);
	if (ok) {
		if (b->failures >= BREAKER_THRESHOLD)
			log_info("dependency is back; breaker closed");
		b->failures = 0;
	} else {
		b->failures++;
		if (b->failures == BREAKER_THRESHOLD)
			log_warnx("dependency failing; breaker open for %d ms",
			    BREAKER_OPEN_MS);
		if (b->failures >= BREAKER_THRESHOLD)
			b->open_until = oc_mono_ms() + BREAKER_OPEN_MS;
	}
	b->probing = false;
	pthread_mutex_unlock(&b->mu);
}

/* 503 with Retry-After naming the dependency that is down. */
void
api_unavailable(struct api_req *req, const char *what)
{
	char secs[16];

	snprintf(secs, sizeof(secs), "%d", API_RETRY_AFTER);
	api_add_header(req, "Retry-After", secs);
	api_error(req, 503, "unavailable", "%s is unavailable; retry later",
	    what);
}

/* A client for this request, or NULL after answering 503. */
mongoc_client_t *
api_mongo(struct api_req *req)
{
	if (req->client != NULL)
		return req->client;
	if (!api_breaker_allow(&api_server.mongo_breaker)) {
		req->mongo_down = true;
		api_unavailable(req, "MongoDB");
		return NULL;
	}
	req->client = mongoc_client_pool_pop(api_server.pool);
	return req->client;
}

/* A collection of our database; caller destroys it. NULL after 503. */
mongoc_collection_t *
api_collection(struct api_req *req, const char *name)
{
	mongoc_client_t *c = api_mongo(req);

	if (c == NULL)
		return NULL;
	return mongoc_client_get_collection(c, api_server.cfg.db, name);
}

/* Errors that say the server cannot be reached or cannot serve now. */
static bool
is_unavailable(const bson_error_t *err)
{
	static const uint32_t codes[] = { 6, 7, 89, 91, 189, 9001, 10107,
	    11600, 11602, 13435, 13436 };
	size_t i;

	if (err->domain == MONGOC_ERROR_SERVER_SELECTION ||
	    err->domain == MONGOC_ERROR_STREAM)
		return true;
	if (err->domain == MONGOC_ERROR_SERVER ||
	    err->domain == MONGOC_ERROR_WRITE_CONCERN) {
		for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
			if (err->code == codes[i])
				return true;
	}
	return false;
}

/* A unique index refused the write (E11000). */
bool
api_is_dup_key(const bson_error_t *err)
{
	return err->code == 11000 || err->code == 11001;
}

/*
 * Answer a failed MongoDB operation: 503 when the server is out of
 * reach (and tell the breaker), 500 otherwise. Returns false.
 */
bool
api_mongo_error(struct api_req *req, const bson_error_t *err,
    const char *what)
{
	if (is_unavailable(err)) {
		log_warnx("%s: %s", what, err->message);
		req->mongo_down = true;
		api_unavailable(req, "MongoDB");
		return false;
	}
	log_warnx("%s: %s (domain %u code %u)", what, err->message,
	    err->domain, err->code);
	return api_error(req, 500, "internal", "database error");
}

/* This thread's Redis connection, connecting when needed; NULL if down. */
redisContext *
api_redis_ctx(struct api_req *req)
{
	char err[256];

	if (req->thr->redis != NULL)
		return req->thr->redis;
	if (!api_breaker_allow(&api_server.redis_breaker))
		return NULL;
	req->thr->redis = oc_redis_connect(&api_server.cfg,
	    api_server.cfg.timeout_ms, err, sizeof(err));
	if (req->thr->redis == NULL) {
		log_warnx("%s", err);
		api_breaker_report(&api_server.redis_breaker, false);
		return NULL;
	}
	api_breaker_report(&api_server.redis_breaker, true);
	return req->thr->redis;
}

/* The connection broke: drop it so the next use connects again. */
void
api_redis_failed(struct api_req *req)
{
	req->redis_down = true;
	if (req->thr->redis != NULL) {
		log_warnx("redis: %s", req->thr->redis->errstr[0] != '\0' ?
		    req->thr->redis->errstr : "connection lost");
		redisFree(req->thr->redis);
		req->thr->redis = NULL;
	}
	api_breaker_report(&api_server.redis_breaker, false);
}

/*
 * One Redis command. Returns the reply (caller frees with
 * freeReplyObject) or NULL when Redis cannot be reached.
 */
redisReply *
api_redis_command(struct api_req *req, const char *fmt, ...)
{
	redisContext *c = api_redis_ctx(req);
	redisReply *r;
	va_list ap;

	if (c == NULL)
		return NULL;
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (r == NULL)
		api_redis_failed(req);
	return r;
}

/* Give the client back and tell the breakers how the dependencies did. */
void
api_request_done(struct api_req *req)
{
	if (req->thr->redis != NULL && !req->redis_down)
		api_breaker_report(&api_server.redis_breaker, true);
	if (req->client != NULL) {
		mongoc_client_pool_push(api_server.pool, req->client);
		req->client = NULL;
		api_breaker_report(&api_server.mongo_breaker,
		    !req->mongo_down);
	}
	free(req->path);
	free(req->query);
	free(req->body);
	free(req->out);
	free(req->headers);
	memset(req, 0, sizeof(*req));
}

/* A number in [0, n) from the thread's xorshift generator. */
uint64_t
api_random(struct api_thread *thr, uint64_t n)
{
	uint64_t x = thr->rng;

	if (x == 0)
		x = 0x9e3779b97f4a7c15ULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	thr->rng = x;
	return n == 0 ? 0 : x % n;
}

/* Parse an id from the path or query; false after answering 400. */
bool
api_oid_param(struct api_req *req, const char *field, const char *s,
    bson_oid_t *out)
{
	if (!oc_oid_parse(s, out))
		return api_field_error(req, field, "expected a 24-hex id");
	return true;
}
