/*
 * The Redis side of the watcher: drains the queue with one atomic script
 * call per event, and sends the heartbeat. Calls watch-queue.c and lib/
 * only; faults go back to the caller.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oc-log.h"
#include "oc-redis.h"
#include "oc-xmalloc.h"
#include "watch.h"

/*
 * One event, atomically: drop the product cache (and bump its generation,
 * so an API reader that missed before this change cannot store what it
 * read), append the event to the
 * log with its stream id inside, publish the same text, store the resume
 * token, and keep the low-stock state so an alert follows the product
 * event once per crossing.
 *
 * KEYS: log, token, low-stock set
 *       [, cache:products, cache:product:<id>, cache:gen]
 * ARGV: channel, body, token ("" deletes it), maxlen, stock ("low",
 *       "ok" or ""), alert body, product id
 * Returns {last id, publishedAt}.
 *
 * The stream id is chosen here as XADD would ("<ms>-<seq>", above the
 * stream's last generated id, even if that entry was deleted) so that
 * the event can carry it.
 */
static const char watch_script[] =
"local log = KEYS[1]\n"
"if #KEYS >= 6 then\n"
"  redis.call('DEL', KEYS[4], KEYS[5])\n"
"  redis.call('INCR', KEYS[6])\n"
"end\n"
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"local ms, seq = now, 0\n"
"if redis.call('EXISTS', log) == 1 then\n"
"  local info = redis.call('XINFO', 'STREAM', log)\n"
"  for i = 1, #info, 2 do\n"
"    if info[i] == 'last-generated-id' then\n"
"      local lms, lseq = string.match(info[i + 1], '^(%d+)-(%d+)$')\n"
"      lms = tonumber(lms)\n"
"      if lms >= ms then ms = lms; seq = tonumber(lseq) + 1 end\n"
"    end\n"
"  end\n"
"end\n"
"local nowtext = string.format('%d', now)\n"
"local lastid\n"
"local function emit(body)\n"
"  local id = string.format('%d-%d', ms, seq)\n"
"  local text = '{\"id\":\"' .. id .. '\",' .. body ..\n"
"    ',\"publishedAt\":' .. nowtext .. '}'\n"
"  redis.call('XADD', log, 'MAXLEN', '~', ARGV[4], id, 'event', text)\n"
"  redis.call('PUBLISH', ARGV[1], text)\n"
"  seq = seq + 1\n"
"  lastid = id\n"
"end\n"
"emit(ARGV[2])\n"
"if ARGV[3] == '' then redis.call('DEL', KEYS[2])\n"
"else redis.call('SET', KEYS[2], ARGV[3]) end\n"
"if ARGV[5] == 'low' then\n"
"  if redis.call('SADD', KEYS[3], ARGV[7]) == 1 then emit(ARGV[6]) end\n"
"elseif ARGV[5] == 'ok' then\n"
"  redis.call('SREM', KEYS[3], ARGV[7])\n"
"end\n"
"return {lastid, nowtext}\n";

/* Key names under the prefix, built once. */
void
watch_redis_init(struct watch_redis *r, const struct oc_config *cfg,
    struct watch_counters *total)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->total = total;
	r->k_log = oc_config_key(cfg, "log");
	r->k_events = oc_config_key(cfg, "events");
	r->k_token = oc_config_key(cfg, "watch:token");
	r->k_low = oc_config_key(cfg, "watch:low");
	r->k_alive = oc_config_key(cfg, "watch:alive");
	r->k_metrics = oc_config_key(cfg, "metrics:watch");
	r->k_cache_products = oc_config_key(cfg, "cache:products");
	r->k_cache_product = oc_config_key(cfg, "cache:product:");
	r->k_cache_gen = oc_config_key(cfg, "cache:gen");
}

/* Close the connection; the caller reopens it with backoff. */
void
watch_redis_close(struct watch_redis *r)
{
	if (r->rc != NULL)
		redisFree(r->rc);
	r->rc = NULL;
}

/* Everything watch_redis_init() and the connection hold. */
void
watch_redis_free(struct watch_redis *r)
{
	watch_redis_close(r);
	free(r->token);
	free(r->k_log);
	free(r->k_events);
	free(r->k_token);
	free(r->k_low);
	free(r->k_alive);
	free(r->k_metrics);
	free(r->k_cache_products);
	free(r->k_cache_product);
	free(r->k_cache_gen);
	memset(r, 0, sizeof(*r));
}

/* Load the script and keep its SHA; false on any fault. */
static bool
load_script(struct watch_redis *r, char *err, size_t errlen)
{
	redisReply *reply;
	bool ok = false;

	reply = redisCommand(r->rc, "SCRIPT LOAD %s", watch_script);
	if (reply == NULL) {
		snprintf(err, errlen, "%s", r->rc->errstr);
		goto done;
	}
	if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
		snprintf(err, errlen, "SCRIPT LOAD: %s",
		    reply->type == REDIS_REPLY_ERROR ? reply->str :
		    "bad reply");
		goto done;
	}
	memcpy(r->sha, reply->str, 40);
	r->sha[40] = '\0';
	ok = true;
done:
	if (reply != NULL)
		freeReplyObject(reply);
	return ok;
}

/*
 * Adopt the token Redis holds: it belongs to the last event in the log,
 * whatever happened while the connection was down.
 */
static bool
read_token(struct watch_redis *r, char *err, size_t errlen)
{
	redisReply *reply;
	bool ok = false;

	reply = redisCommand(r->rc, "GET %s", r->k_token);
	if (reply == NULL) {
		snprintf(err, errlen, "%s", r->rc->errstr);
		goto done;
	}
	if (reply->type == REDIS_REPLY_STRING) {
		free(r->token);
		r->token = xstrndup(reply->str, reply->len);
	} else if (reply->type != REDIS_REPLY_NIL) {
		snprintf(err, errlen, "GET %s: %s", r->k_token,
		    reply->type == REDIS_REPLY_ERROR ? reply->str :
		    "not a string");
		goto done;
	}
	ok = true;
done:
	if (reply != NULL)
		freeReplyObject(reply);
	return ok;
}

/* (Re)connect, load the script and adopt the stored token. */
bool
watch_redis_open(struct watch_redis *r, char *err, size_t errlen)
{
	watch_redis_close(r);
	r->rc = oc_redis_connect(r->cfg, r->cfg->timeout_ms, err, errlen);
	if (r->rc == NULL)
		return false;
	if (!load_script(r, err, errlen) || !read_token(r, err, errlen)) {
		watch_redis_close(r);
		return false;
	}
	return true;
}

/* The start position, stored before any event can carry a token. */
bool
watch_redis_set_token(struct watch_redis *r, char *token, char *err,
    size_t errlen)
{
	redisReply *reply;
	bool ok = false;

	if (r->rc == NULL) {
		snprintf(err, errlen, "not connected");
		return false;
	}
	/* NX: never move back a token a newer event stored meanwhile. */
	reply = redisCommand(r->rc, "SET %s %s NX", r->k_token, token);
	if (reply == NULL) {
		snprintf(err, errlen, "%s", r->rc->errstr);
		return false;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s", reply->str);
		goto done;
	}
	free(r->token);
	r->token = token;
	ok = true;
done:
	freeReplyObject(reply);
	return ok;
}

/* Queue one EVALSHA of the script for ev on the connection. */
static void
append_event(struct watch_redis *r, const struct watch_event *ev)
{
	const char *argv[16];
	size_t len[16];
	char *cache_key = NULL;
	int argc = 0, i;

	if (ev->product)
		cache_key = xasprintf("%s%s", r->k_cache_product, ev->key);
	argv[argc++] = "EVALSHA";
	argv[argc++] = r->sha;
	argv[argc++] = cache_key != NULL ? "6" : "3";
	argv[argc++] = r->k_log;
	argv[argc++] = r->k_token;
	argv[argc++] = r->k_low;
	if (cache_key != NULL) {
		argv[argc++] = r->k_cache_products;
		argv[argc++] = cache_key;
		argv[argc++] = r->k_cache_gen;
	}
	argv[argc++] = r->k_events;
	argv[argc++] = ev->body;
	argv[argc++] = ev->token != NULL ? ev->token : "";
	argv[argc++] = WATCH_LOG_MAXLEN;
	argv[argc++] = ev->stock;
	argv[argc++] = ev->alert != NULL ? ev->alert : "";
	argv[argc++] = ev->key != NULL ? ev->key : "";
	for (i = 0; i < argc; i++)
		len[i] = strlen(argv[i]);
	redisAppendCommandArgv(r->rc, argc, argv, len);
	free(cache_key);
}

/* Note a published event: its token is now the one Redis holds. */
static void
event_done(struct watch_redis *r, struct watch_event *ev,
    const redisReply *reply)
{
	long long published = 0;

	free(r->token);
	r->token = ev->token;
	ev->token = NULL;
	r->total->events++;
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
	    reply->element[0]->type == REDIS_REPLY_STRING &&
	    reply->element[1]->type == REDIS_REPLY_STRING) {
		snprintf(r->last_id, sizeof(r->last_id), "%s",
		    reply->element[0]->str);
		published = strtoll(reply->element[1]->str, NULL, 10);
		if (ev->cluster_ms > 0)
			r->lag_ms = published - ev->cluster_ms;
	}
}

/*
 * Send events [from, npending) in one pipeline and read every reply.
 * Returns the index of the first event the script cache did not know
 * (NOSCRIPT), npending when all were published, or -1 on a fault (err).
 */
static long
send_pipeline(struct watch_redis *r, struct watch_queue *q, size_t from,
    char *err, size_t errlen)
{
	redisReply *reply = NULL;
	long noscript = -1;
	long result = -1;
	size_t i;

	for (i = from; i < q->n; i++)
		append_event(r, &q->ev[i]);
	for (i = from; i < q->n; i++) {
		if (redisGetReply(r->rc, (void **)&reply) != REDIS_OK) {
			snprintf(err, errlen, "%s", r->rc->errstr);
			reply = NULL;
			goto done;
		}
		if (reply->type == REDIS_REPLY_ERROR &&
		    strncmp(reply->str, "NOSCRIPT", 8) == 0) {
			if (noscript == -1)
				noscript = (long)i;
		} else if (reply->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "script: %s", reply->str);
			goto done;
		} else if (noscript == -1) {
			event_done(r, &q->ev[i], reply);
		}
		freeReplyObject(reply);
		reply = NULL;
	}
	result = noscript != -1 ? noscript : (long)q->n;
done:
	if (reply != NULL)
		freeReplyObject(reply);
	return result;
}

/* Publish the queued events as one pipeline; false after a fault. */
bool
watch_redis_flush(struct watch_redis *r, struct watch_queue *q, char *err,
    size_t errlen)
{
	long next;
	size_t from = 0;
	int tries;

	if (q->n == 0)
		return true;
	if (r->rc == NULL) {
		snprintf(err, errlen, "not connected");
		return false;
	}
	for (tries = 0; tries < 2; tries++) {
		next = send_pipeline(r, q, from, err, errlen);
		if (next < 0)
			return false;
		if ((size_t)next == q->n)
			break;
		/* Someone flushed the script cache: load it again. */
		log_info("redis: script cache flushed; loading it again");
		if (!load_script(r, err, errlen))
			return false;
		from = (size_t)next;
	}
	if (tries == 2) {
		snprintf(err, errlen, "script keeps disappearing");
		return false;
	}
	r->total->batches++;
	watch_queue_drop(q);
	return true;
}

/* Append one HINCRBY for a counter that grew since the last beat. */
static int
append_counter(struct watch_redis *r, const char *field, long long now,
    long long *sent)
{
	if (now == *sent)
		return 0;
	redisAppendCommand(r->rc, "HINCRBY %s %s %lld", r->k_metrics, field,
	    now - *sent);
	return 1;
}

/*
 * PREFIX:watch:alive for the health check, and the counters that grew
 * since the last beat into PREFIX:metrics:watch. Sent when due, or now
 * when force is set (at exit).
 */
int
watch_redis_heartbeat(struct watch_redis *r, bool force, char *err,
    size_t errlen)
{
	struct watch_counters *t = r->total, *s = &r->sent;
	redisReply *reply = NULL;
	char alive[256];
	int64_t now = oc_mono_ms();
	bool refused = false;
	int n = 2, i;

	if (r->rc == NULL || (!force && now < r->next_beat))
		return 0;
	r->next_beat = now + WATCH_BEAT_MS;
	snprintf(alive, sizeof(alive), "{\"pid\":%ld,\"at\":%lld,"
	    "\"lagMs\":%lld,\"events\":%lld,\"errors\":%lld,"
	    "\"lastEventId\":\"%s\"}", (long)getpid(),
	    (long long)oc_wall_ms(), r->lag_ms, t->events, t->errors,
	    r->last_id);
	redisAppendCommand(r->rc, "SET %s %s EX " WATCH_ALIVE_TTL,
	    r->k_alive, alive);
	redisAppendCommand(r->rc, "HSET %s lag_ms %lld", r->k_metrics,
	    r->lag_ms);
	n += append_counter(r, "events", t->events, &s->events);
	n += append_counter(r, "batches", t->batches, &s->batches);
	n += append_counter(r, "errors", t->errors, &s->errors);
	n += append_counter(r, "resyncs", t->resyncs, &s->resyncs);
	n += append_counter(r, "reconnects", t->reconnects,
	    &s->reconnects);
	for (i = 0; i < n; i++) {
		if (redisGetReply(r->rc, (void **)&reply) != REDIS_OK) {
			snprintf(err, errlen, "%s", r->rc->errstr);
			return -1;
		}
		if (reply->type == REDIS_REPLY_ERROR)
			refused = true;
		freeReplyObject(reply);
	}
	*s = *t;
	return refused ? 0 : 1;
}
