/* The Redis side of the watcher: one atomic script call per event. */
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

/* Close the connection; the caller reopens it with backoff. */
void
watch_redis_close(struct watch *w)
{
	if (w->rc != NULL)
		redisFree(w->rc);
	w->rc = NULL;
}

/* Drop what is queued: after a Redis fault it is read again from MongoDB. */
static void
drop_pending(struct watch *w)
{
	size_t i;

	for (i = 0; i < w->npending; i++)
		watch_event_clear(&w->pending[i]);
	w->npending = 0;
}

/*
 * A Redis fault: log it once per outage, then start both sides over so
 * that the stream resumes from the token Redis really holds.
 */
void
watch_fail_redis(struct watch *w, const char *what)
{
	w->total.errors++;
	if (!w->redis_down)
		log_warnx("redis %s: %s; retrying with backoff", w->cfg->redis,
		    what);
	else
		log_debug("redis %s: %s (still down)", w->cfg->redis, what);
	w->redis_down = true;
	watch_redis_close(w);
	drop_pending(w);
	watch_stream_close(w);
}

/* Load the script and keep its SHA; false on any fault. */
static bool
load_script(struct watch *w, char *err, size_t errlen)
{
	redisReply *r;
	bool ok = false;

	r = redisCommand(w->rc, "SCRIPT LOAD %s", watch_script);
	if (r == NULL) {
		snprintf(err, errlen, "%s", w->rc->errstr);
		goto done;
	}
	if (r->type != REDIS_REPLY_STRING || r->len != 40) {
		snprintf(err, errlen, "SCRIPT LOAD: %s",
		    r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
		goto done;
	}
	memcpy(w->sha, r->str, 40);
	w->sha[40] = '\0';
	ok = true;
done:
	if (r != NULL)
		freeReplyObject(r);
	return ok;
}

/*
 * Adopt the token Redis holds: it belongs to the last event in the log,
 * whatever happened while the connection was down.
 */
static bool
read_token(struct watch *w, char *err, size_t errlen)
{
	redisReply *r;
	bool ok = false;

	r = redisCommand(w->rc, "GET %s", w->k_token);
	if (r == NULL) {
		snprintf(err, errlen, "%s", w->rc->errstr);
		goto done;
	}
	if (r->type == REDIS_REPLY_STRING) {
		free(w->token);
		w->token = xstrndup(r->str, r->len);
	} else if (r->type != REDIS_REPLY_NIL) {
		snprintf(err, errlen, "GET %s: %s", w->k_token,
		    r->type == REDIS_REPLY_ERROR ? r->str : "not a string");
		goto done;
	}
	ok = true;
done:
	if (r != NULL)
		freeReplyObject(r);
	return ok;
}

/* (Re)connect, load the script and adopt the stored token. */
bool
watch_redis_open(struct watch *w)
{
	char err[256];

	w->rc = oc_redis_connect(w->cfg, w->cfg->timeout_ms, err,
	    sizeof(err));
	if (w->rc == NULL)
		goto fail;
	if (!load_script(w, err, sizeof(err)) ||
	    !read_token(w, err, sizeof(err)))
		goto fail;
	if (w->redis_down) {
		log_info("redis %s: connected again", w->cfg->redis);
		w->total.reconnects++;
	}
	w->redis_down = false;
	watch_backoff_reset(&w->redis_backoff);
	/* Resume from the token just read, not from the old position. */
	watch_stream_close(w);
	log_debug("redis %s: ready, token %s", w->cfg->redis,
	    w->token != NULL ? w->token : "(none)");
	return true;
fail:
	watch_fail_redis(w, err);
	return false;
}

/* The start position, stored before any event can carry a token. */
bool
watch_redis_set_token(struct watch *w, const char *token)
{
	redisReply *r;
	bool ok;

	if (w->rc == NULL)
		return false;
	/* NX: never move back a token a newer event stored meanwhile. */
	r = redisCommand(w->rc, "SET %s %s NX", w->k_token, token);
	if (r == NULL) {
		watch_fail_redis(w, w->rc->errstr);
		return false;
	}
	ok = r->type != REDIS_REPLY_ERROR;
	if (!ok)
		watch_fail_redis(w, r->str);
	freeReplyObject(r);
	return ok;
}

/* Queue one EVALSHA of the script for ev on the connection. */
static void
append_event(struct watch *w, const struct watch_event *ev)
{
	const char *argv[16];
	size_t len[16];
	int argc = 0, i;

	argv[argc++] = "EVALSHA";
	argv[argc++] = w->sha;
	argv[argc++] = ev->cache_key != NULL ? "6" : "3";
	argv[argc++] = w->k_log;
	argv[argc++] = w->k_token;
	argv[argc++] = w->k_low;
	if (ev->cache_key != NULL) {
		argv[argc++] = w->k_cache_products;
		argv[argc++] = ev->cache_key;
		argv[argc++] = w->k_cache_gen;
	}
	argv[argc++] = w->k_events;
	argv[argc++] = ev->body;
	argv[argc++] = ev->token != NULL ? ev->token : "";
	argv[argc++] = WATCH_LOG_MAXLEN;
	argv[argc++] = ev->stock;
	argv[argc++] = ev->alert != NULL ? ev->alert : "";
	argv[argc++] = ev->key != NULL ? ev->key : "";
	for (i = 0; i < argc; i++)
		len[i] = strlen(argv[i]);
	redisAppendCommandArgv(w->rc, argc, argv, len);
}

/* Note a published event: its token is now the one Redis holds. */
static void
event_done(struct watch *w, struct watch_event *ev, redisReply *r)
{
	long long published = 0;

	free(w->token);
	w->token = ev->token;
	ev->token = NULL;
	w->total.events++;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[1]->type == REDIS_REPLY_STRING) {
		snprintf(w->last_id, sizeof(w->last_id), "%s",
		    r->element[0]->str);
		published = strtoll(r->element[1]->str, NULL, 10);
		if (ev->cluster_ms > 0)
			w->lag_ms = published - ev->cluster_ms;
	}
}

/*
 * Send events [from, npending) in one pipeline and read every reply.
 * Returns the index of the first event the script cache did not know
 * (NOSCRIPT), npending when all were published, or -1 on a fault (err).
 */
static long
send_pipeline(struct watch *w, size_t from, char *err, size_t errlen)
{
	redisReply *r = NULL;
	long noscript = -1;
	long result = -1;
	size_t i;

	for (i = from; i < w->npending; i++)
		append_event(w, &w->pending[i]);
	for (i = from; i < w->npending; i++) {
		if (redisGetReply(w->rc, (void **)&r) != REDIS_OK) {
			snprintf(err, errlen, "%s", w->rc->errstr);
			r = NULL;
			goto done;
		}
		if (r->type == REDIS_REPLY_ERROR &&
		    strncmp(r->str, "NOSCRIPT", 8) == 0) {
			if (noscript == -1)
				noscript = (long)i;
		} else if (r->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "script: %s", r->str);
			goto done;
		} else if (noscript == -1) {
			event_done(w, &w->pending[i], r);
		}
		freeReplyObject(r);
		r = NULL;
	}
	result = noscript != -1 ? noscript : (long)w->npending;
done:
	if (r != NULL)
		freeReplyObject(r);
	return result;
}

/* Publish the pending events as one pipeline; false after a fault. */
bool
watch_flush(struct watch *w)
{
	char err[512];
	long next;
	size_t from = 0;
	int tries;

	if (w->npending == 0)
		return true;
	if (w->rc == NULL) {
		watch_fail_redis(w, "not connected");
		return false;
	}
	for (tries = 0; tries < 2; tries++) {
		next = send_pipeline(w, from, err, sizeof(err));
		if (next < 0)
			goto fail;
		if ((size_t)next == w->npending)
			break;
		/* Someone flushed the script cache: load it again. */
		log_info("redis: script cache flushed; loading it again");
		if (!load_script(w, err, sizeof(err)))
			goto fail;
		from = (size_t)next;
	}
	if (tries == 2) {
		snprintf(err, sizeof(err), "script keeps disappearing");
		goto fail;
	}
	w->total.batches++;
	drop_pending(w);
	return true;
fail:
	watch_fail_redis(w, err);
	return false;
}

/* Append one HINCRBY for a counter that grew since the last beat. */
static int
append_counter(struct watch *w, const char *field, long long now,
    long long *sent)
{
	if (now == *sent)
		return 0;
	redisAppendCommand(w->rc, "HINCRBY %s %s %lld", w->k_metrics, field,
	    now - *sent);
	return 1;
}

/*
 * PREFIX:watch:alive for the health check, and the counters that grew
 * since the last beat into PREFIX:metrics:watch. Sent when due, or now
 * when force is set (at exit).
 */
void
watch_heartbeat(struct watch *w, bool force)
{
	struct watch_counters *t = &w->total, *s = &w->sent;
	redisReply *r = NULL;
	char alive[256];
	int64_t now = oc_mono_ms();
	int n = 2, i;

	if (w->rc == NULL || (!force && now < w->next_beat))
		return;
	w->next_beat = now + WATCH_BEAT_MS;
	snprintf(alive, sizeof(alive), "{\"pid\":%ld,\"at\":%lld,"
	    "\"lagMs\":%lld,\"events\":%lld,\"errors\":%lld,"
	    "\"lastEventId\":\"%s\"}", (long)getpid(),
	    (long long)oc_wall_ms(), w->lag_ms, t->events, t->errors,
	    w->last_id);
	redisAppendCommand(w->rc, "SET %s %s EX " WATCH_ALIVE_TTL,
	    w->k_alive, alive);
	redisAppendCommand(w->rc, "HSET %s lag_ms %lld", w->k_metrics,
	    w->lag_ms);
	n += append_counter(w, "events", t->events, &s->events);
	n += append_counter(w, "batches", t->batches, &s->batches);
	n += append_counter(w, "errors", t->errors, &s->errors);
	n += append_counter(w, "resyncs", t->resyncs, &s->resyncs);
	n += append_counter(w, "reconnects", t->reconnects,
	    &s->reconnects);
	for (i = 0; i < n; i++) {
		if (redisGetReply(w->rc, (void **)&r) != REDIS_OK) {
			watch_fail_redis(w, w->rc->errstr);
			return;
		}
		freeReplyObject(r);
	}
	*s = *t;
}
