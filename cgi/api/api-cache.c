/*
 * Layer: the product read-through cache in Redis, beside api-db.c.
 * Calls api-deps.c and lib/.
 *
 * A reader that misses notes the generation counter PREFIX:cache:gen
 * with its GET, reads MongoDB, and stores the body only if the counter
 * is unchanged (one Lua step). Writers bump the counter and delete the
 * keys, so a slow reader can never put back a body older than a write.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "oc-log.h"
#include "oc-xmalloc.h"

static const char put_script[] =
    "local g = redis.call('GET', KEYS[2]) "
    "if (g or '') == ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1 end "
    "return 0";

/* The cache key of one product, named by lib/oc-keys. Caller frees. */
char *
api_product_key(const struct api_server *server,
    const bson_oid_t *oid)
{
	char hex[25];

	bson_oid_to_string(oid, hex);
	return oc_keys_product(&server->keys, hex);
}

/*
 * Read the replies of n pipelined commands. False if the link broke:
 * the caller asks api_redis_retry() whether to send them again.
 */
static bool
drain_replies(redisContext *c, redisReply **out, int n)
{
	void *reply;
	int i;
	bool ok = true;

	for (i = 0; i < n; i++) {
		reply = NULL;
		if (ok && redisGetReply(c, &reply) != REDIS_OK)
			ok = false;
		if (out != NULL)
			out[i] = reply;
		else if (reply != NULL)
			freeReplyObject(reply);
	}
	return ok;
}

/* Free the replies of a pipeline and clear their slots. */
static void
free_replies(redisReply **r, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (r[i] != NULL)
			freeReplyObject(r[i]);
		r[i] = NULL;
	}
}

/*
 * Look key up. Returns false when Redis is down. On a hit *body is a
 * copy of the cached text; on a miss *body is NULL and *gen holds the
 * generation to pass to api_cache_put(). Caller frees both.
 */
bool
api_cache_get(struct api_req *req, const char *key, char **body,
    char **gen)
{
	redisContext *c;
	redisReply *r[2] = { NULL, NULL };
	bool ok = false;

	*body = NULL;
	*gen = NULL;
	for (;;) {
		c = api_redis_ctx(req);
		if (c == NULL)
			return false;
		redisAppendCommand(c, "GET %s", key);
		redisAppendCommand(c, "GET %s", req->server->keys.cache_gen);
		if (drain_replies(c, r, 2))
			break;
		free_replies(r, 2);
		if (!api_redis_retry(req))
			goto done;
	}
	if (r[0]->type == REDIS_REPLY_STRING) {
		*body = xstrndup(r[0]->str, r[0]->len);
		req->cache_hits++;
	} else {
		req->cache_misses++;
		*gen = r[1]->type == REDIS_REPLY_STRING ?
		    xstrndup(r[1]->str, r[1]->len) : xstrdup("");
	}
	ok = true;
done:
	if (r[0] != NULL)
		freeReplyObject(r[0]);
	if (r[1] != NULL)
		freeReplyObject(r[1]);
	return ok;
}

/* Store a body unless a writer ran since the miss; failures are fine. */
void
api_cache_put(struct api_req *req, const char *key, const char *gen,
    const char *body, size_t len)
{
	redisContext *c = api_redis_ctx(req);
	redisReply *r;
	char ttl[16];

	if (c == NULL || gen == NULL)
		return;
	snprintf(ttl, sizeof(ttl), "%d", API_CACHE_TTL);
	r = redisCommand(c, "EVAL %s 2 %s %s %s %b %s", put_script, key,
	    req->server->keys.cache_gen, gen, body, len, ttl);
	if (r == NULL) {
		api_redis_failed(req);
		return;
	}
	if (r->type == REDIS_REPLY_ERROR)
		log_warnx("cache put %s: %s", key, r->str);
	freeReplyObject(r);
}

/*
 * Drop the list and the given products from the cache and bump the
 * generation. Returns false when Redis could not be told.
 */
bool
api_cache_invalidate(struct api_req *req, const bson_oid_t *ids, size_t n)
{
	redisContext *c;
	const char **argv = NULL;
	char **keys = NULL;
	redisReply *r[2] = { NULL, NULL };
	size_t i;
	bool ok = false, moved;

	keys = xcalloc(n + 1, sizeof(*keys));
	argv = xcalloc(n + 2, sizeof(*argv));
	argv[0] = "DEL";
	argv[1] = req->server->keys.cache_products;
	for (i = 0; i < n; i++) {
		keys[i] = api_product_key(req->server, &ids[i]);
		argv[i + 2] = keys[i];
	}
	/* Once more on a fresh connection if a kept one is stale or moved. */
	for (;;) {
		c = api_redis_ctx(req);
		if (c == NULL)
			goto done;
		redisAppendCommand(c, "INCR %s", req->server->keys.cache_gen);
		redisAppendCommandArgv(c, (int)(n + 2), argv, NULL);
		if (!drain_replies(c, r, 2)) {
			free_replies(r, 2);
			if (!api_redis_retry(req))
				goto done;
			continue;
		}
		moved = api_redis_moved(req, r[0]);
		if (!moved || req->redis_retried)
			break;
		req->redis_retried = true;
		free_replies(r, 2);
	}
	ok = r[0]->type != REDIS_REPLY_ERROR &&
	    r[1]->type != REDIS_REPLY_ERROR;
	if (!ok)
		log_warnx("cache invalidate: %s", r[0]->type ==
		    REDIS_REPLY_ERROR ? r[0]->str : r[1]->str);
done:
	free_replies(r, 2);
	for (i = 0; keys != NULL && i < n; i++)
		free(keys[i]);
	free(keys);
	free(argv);
	return ok;
}
