/*
 * The Redis side of the watcher: drains the queue with one atomic script
 * call per event, and sends the heartbeat. Calls watch-queue.c and lib/
 * only; faults go back to the caller.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oc-keys.h"
#include "oc-log.h"
#include "oc-metrics.h"
#include "oc-redis.h"
#include "oc-xmalloc.h"
#include "watch.h"

/*
 * One event, atomically, and only for the lease holder: append it to the
 * log under the id the watcher derived from the change's position
 * (XADD refuses an id not above the stream's last: then the log already
 * holds the change and nothing else happens; any other error of XADD,
 * such as OOM, is the script's error), publish the same text,
 * store the resume token, drop the product cache (and bump its
 * generation, so an API reader that missed before this change cannot
 * store what it read), and keep the low-stock state so an alert follows
 * the product event once per crossing.
 *
 * KEYS: log, token, low-stock set, leader
 *       [, cache:products, cache:product:<id>, cache:gen]
 * ARGV: channel, body, token ("" keeps it), maxlen, stock ("low", "ok"
 *       or ""), alert body, product id, id, alert id, fencing value
 * Returns {id, publishedAt}, id "" when the log refused the event, or
 * the error NOTLEADER when the lease is not ours.
 */
static const char watch_script[] =
"if redis.call('GET', KEYS[4]) ~= ARGV[10] then\n"
"  return redis.error_reply('NOTLEADER the lease is not ours')\n"
"end\n"
"local t = redis.call('TIME')\n"
"local now = string.format('%d',\n"
"  tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))\n"
"local function emit(id, body)\n"
"  local text = '{\"id\":\"' .. id .. '\",' .. body ..\n"
"    ',\"publishedAt\":' .. now .. '}'\n"
"  local r = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], id,\n"
"    'event', text)\n"
"  if type(r) == 'table' and r.err then\n"
"    if string.find(r.err, 'equal or smaller', 1, true) then\n"
"      return false\n"
"    end\n"
"    error(r)\n"
"  end\n"
"  redis.call('PUBLISH', ARGV[1], text)\n"
"  return true\n"
"end\n"
"if not emit(ARGV[8], ARGV[2]) then return {'', now} end\n"
"local last = ARGV[8]\n"
"if #KEYS >= 7 then\n"
"  redis.call('DEL', KEYS[5], KEYS[6])\n"
"  redis.call('INCR', KEYS[7])\n"
"end\n"
"if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[3]) end\n"
"if ARGV[5] == 'low' then\n"
"  if redis.call('SADD', KEYS[3], ARGV[7]) == 1 and\n"
"    emit(ARGV[9], ARGV[6]) then last = ARGV[9] end\n"
"elseif ARGV[5] == 'ok' then\n"
"  redis.call('SREM', KEYS[3], ARGV[7])\n"
"end\n"
"return {last, now}\n";

/*
 * A position without an event (the post-batch token), under the lease.
 * KEYS: leader, token. ARGV: fencing value, token. Returns 1, or 0 when
 * the lease is not ours.
 */
static const char token_script[] =
"if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
"redis.call('SET', KEYS[2], ARGV[2])\n"
"return 1\n";

/*
 * The leader's beat: renew the lease, forget standbys not seen lately,
 * and write the heartbeat with the standbys still there.
 * KEYS: leader, alive, standbys. ARGV: fencing value, lease ms, the
 * heartbeat JSON without its closing brace, standby TTL ms, alive TTL s.
 * Returns 1, or 0 when the lease is not ours (nothing written).
 */
static const char leader_beat_script[] =
"if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
"redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf',\n"
"  string.format('%d', now - tonumber(ARGV[4])))\n"
"local s = redis.call('ZRANGE', KEYS[3], 0, -1)\n"
"local list = {}\n"
"for k = 1, #s do list[k] = '\"' .. s[k] .. '\"' end\n"
"redis.call('SET', KEYS[2], ARGV[3] .. ',\"standbys\":[' ..\n"
"  table.concat(list, ',') .. ']}', 'EX', ARGV[5])\n"
"return 1\n";

/*
 * A standby's beat: record it by Redis' clock. KEYS: standbys.
 * ARGV: this watcher's name.
 */
static const char standby_beat_script[] =
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[1])\n"
"return 1\n";

/*
 * Take the lease when free, or keep it when it is already ours (after a
 * reconnect, or on a new primary that has it by replication).
 * KEYS: leader. ARGV: fencing value, lease ms. Returns 1 or 0.
 */
static const char lead_script[] =
"local v = redis.call('GET', KEYS[1])\n"
"if v == false then\n"
"  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
"  return 1\n"
"end\n"
"if v == ARGV[1] then\n"
"  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
"  return 1\n"
"end\n"
"return 0\n";

/* Give the lease back if it is ours. KEYS: leader. ARGV: fence. */
static const char resign_script[] =
"if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
"  return redis.call('DEL', KEYS[1])\n"
"end\n"
"return 0\n";

/* This host's name, kept to characters a JSON string takes as is. */
static void
host_name(char *out, size_t outlen)
{
	char host[256];
	size_t i, n = 0;

	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0' && n + 1 < outlen; i++) {
		if (isalnum((unsigned char)host[i]) || host[i] == '.' ||
		    host[i] == '-' || host[i] == '_')
			out[n++] = host[i];
	}
	if (n == 0 && outlen > 1)
		out[n++] = '?';
	out[n] = '\0';
}

/*
 * The name and the fencing value of this watcher: "host:pid", and that
 * with random bits, so no two leases ever hold the same value.
 */
static void
make_identity(struct watch_redis *r)
{
	char host[64];
	uint64_t rnd = 0;
	FILE *f;

	host_name(host, sizeof(host));
	snprintf(r->self, sizeof(r->self), "%s:%ld", host, (long)getpid());
	f = fopen("/dev/urandom", "rb");
	if (f == NULL || fread(&rnd, sizeof(rnd), 1, f) != 1)
		rnd = (uint64_t)oc_wall_ms() ^ ((uint64_t)getpid() << 32);
	if (f != NULL)
		fclose(f);
	snprintf(r->fence, sizeof(r->fence), "%s:%016llx", r->self,
	    (unsigned long long)rnd);
}

/* Key names under the prefix, built once. */
void
watch_redis_init(struct watch_redis *r, const struct oc_config *cfg,
    struct watch_counters *total)
{
	struct oc_keys keys;

	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->total = total;
	/* Every name from lib/oc-keys, the one list of them. */
	oc_keys_init(&keys, cfg->prefix);
	r->k_log = xstrdup(keys.log);
	r->k_events = xstrdup(keys.events);
	r->k_token = xstrdup(keys.watch_token);
	r->k_low = xstrdup(keys.watch_low);
	r->k_alive = xstrdup(keys.watch_alive);
	r->k_metrics = xstrdup(keys.metrics_watch);
	r->k_cache_products = xstrdup(keys.cache_products);
	r->k_cache_product = xstrdup(keys.cache_product);
	r->k_cache_gen = xstrdup(keys.cache_gen);
	r->k_leader = xstrdup(keys.watch_leader);
	r->k_standbys = xstrdup(keys.watch_standbys);
	make_identity(r);
	r->k_gauges = oc_keys_metrics_instance(&keys, OC_PROGRAM_WATCH,
	    r->self);
	oc_keys_clear(&keys);
}

/*
 * Close the connection; the caller reopens it with backoff. The lease is
 * given up with it: the next connection takes it again if still free.
 */
void
watch_redis_close(struct watch_redis *r)
{
	if (r->rc != NULL)
		redisFree(r->rc);
	r->rc = NULL;
	r->leader = false;
	r->next_try = 0;
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
	free(r->k_gauges);
	free(r->k_cache_products);
	free(r->k_cache_product);
	free(r->k_cache_gen);
	free(r->k_leader);
	free(r->k_standbys);
	memset(r, 0, sizeof(*r));
}

/*
 * The message of a failed command: the connection's error, or the
 * error reply. Frees reply.
 */
static void
command_error(struct watch_redis *r, redisReply *reply, const char *what,
    char *err, size_t errlen)
{
	if (reply == NULL)
		snprintf(err, errlen, "%s: %s", what, r->rc->errstr);
	else if (reply->type == REDIS_REPLY_ERROR)
		snprintf(err, errlen, "%s: %s", what, reply->str);
	else
		snprintf(err, errlen, "%s: unexpected reply", what);
	if (reply != NULL)
		freeReplyObject(reply);
}

/* Load the script and keep its SHA; false on any fault. */
static bool
load_script(struct watch_redis *r, char *err, size_t errlen)
{
	redisReply *reply;

	reply = redisCommand(r->rc, "SCRIPT LOAD %s", watch_script);
	if (reply == NULL || reply->type != REDIS_REPLY_STRING ||
	    reply->len != 40) {
		command_error(r, reply, "SCRIPT LOAD", err, errlen);
		return false;
	}
	memcpy(r->sha, reply->str, 40);
	r->sha[40] = '\0';
	freeReplyObject(reply);
	return true;
}

/*
 * Adopt the token Redis holds and the id of the log's last entry: they
 * belong together, whatever happened while this watcher did not lead.
 */
static bool
read_state(struct watch_redis *r, char *err, size_t errlen)
{
	redisReply *reply;
	redisReply *entry;

	reply = redisCommand(r->rc, "GET %s", r->k_token);
	if (reply == NULL || (reply->type != REDIS_REPLY_STRING &&
	    reply->type != REDIS_REPLY_NIL)) {
		command_error(r, reply, "GET token", err, errlen);
		return false;
	}
	free(r->token);
	r->token = NULL;
	if (reply->type == REDIS_REPLY_STRING)
		r->token = xstrndup(reply->str, reply->len);
	freeReplyObject(reply);
	reply = redisCommand(r->rc, "XREVRANGE %s + - COUNT 1", r->k_log);
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
		command_error(r, reply, "XREVRANGE log", err, errlen);
		return false;
	}
	r->last_id[0] = '\0';
	if (reply->elements == 1 &&
	    reply->element[0]->type == REDIS_REPLY_ARRAY &&
	    reply->element[0]->elements >= 1) {
		entry = reply->element[0]->element[0];
		if (entry->type == REDIS_REPLY_STRING)
			snprintf(r->last_id, sizeof(r->last_id), "%s",
			    entry->str);
	}
	freeReplyObject(reply);
	return true;
}

/* (Re)connect and load the script; the lease comes after. */
bool
watch_redis_open(struct watch_redis *r, char *err, size_t errlen)
{
	watch_redis_close(r);
	r->rc = oc_redis_connect(r->cfg, r->cfg->timeout_ms, err, errlen);
	if (r->rc == NULL)
		return false;
	if (r->rc->connection_type == REDIS_CONN_TCP &&
	    r->rc->tcp.host != NULL) {
		snprintf(r->primary_host, sizeof(r->primary_host), "%s",
		    r->rc->tcp.host);
		r->primary_port = r->rc->tcp.port;
	}
	if (!load_script(r, err, errlen)) {
		watch_redis_close(r);
		return false;
	}
	return true;
}

/*
 * While Redis is down: true when the sentinels now name another primary
 * than the one of the last connection (a failover happened), so the
 * next attempt need not wait out its backoff. Once per address named:
 * a new primary that cannot be reached from here waits like any other.
 */
bool
watch_redis_primary_changed(struct watch_redis *r)
{
	char host[256];
	int port;

	if (r->cfg->nsentinels == 0 || r->primary_host[0] == '\0' ||
	    !oc_redis_sentinels_primary(r->cfg, WATCH_SENTINEL_ASK_MS, host,
	    sizeof(host), &port))
		return false;
	if ((port == r->primary_port && strcmp(host, r->primary_host) == 0) ||
	    (port == r->named_port && strcmp(host, r->named_host) == 0))
		return false;
	memcpy(r->named_host, host, strlen(host) + 1);
	r->named_port = port;
	return true;
}

/* Try for the lease (SET NX PX in effect), every WATCH_STANDBY_TRY_MS. */
int
watch_redis_lead(struct watch_redis *r, char *err, size_t errlen)
{
	redisReply *reply;
	int64_t now = oc_mono_ms();

	if (r->rc == NULL)
		return 0;
	if (r->leader)
		return 1;
	if (now < r->next_try)
		return 0;
	r->next_try = now + WATCH_STANDBY_TRY_MS;
	reply = redisCommand(r->rc, "EVAL %s 1 %s %s %d", lead_script,
	    r->k_leader, r->fence, WATCH_LEASE_MS);
	if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
		command_error(r, reply, "lease", err, errlen);
		return -1;
	}
	if (reply->integer != 1) {
		freeReplyObject(reply);
		return 0;
	}
	freeReplyObject(reply);
	reply = redisCommand(r->rc, "ZREM %s %s", r->k_standbys, r->self);
	if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
		command_error(r, reply, "ZREM standbys", err, errlen);
		return -1;
	}
	freeReplyObject(reply);
	if (!read_state(r, err, errlen))
		return -1;
	r->leader = true;
	r->total->takeovers++;
	return 1;
}

/*
 * At exit: a standby need not wait for the lease to expire, and the
 * figures need not wait for this watcher's gauges to.
 */
void
watch_redis_resign(struct watch_redis *r)
{
	redisReply *reply;

	if (r->rc == NULL)
		return;
	reply = redisCommand(r->rc, "DEL %s", r->k_gauges);
	if (reply != NULL)
		freeReplyObject(reply);
	if (r->rc->err != 0 || !r->leader)
		return;
	reply = redisCommand(r->rc, "EVAL %s 1 %s %s", resign_script,
	    r->k_leader, r->fence);
	if (reply != NULL)
		freeReplyObject(reply);
	r->leader = false;
}

/* The start or post-batch position, under the lease. */
int
watch_redis_set_token(struct watch_redis *r, char *token, char *err,
    size_t errlen)
{
	redisReply *reply;

	if (r->rc == NULL || !r->leader) {
		snprintf(err, errlen, "not leading");
		return 0;
	}
	reply = redisCommand(r->rc, "EVAL %s 2 %s %s %s %s", token_script,
	    r->k_leader, r->k_token, r->fence, token);
	if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
		command_error(r, reply, "store token", err, errlen);
		return -1;
	}
	if (reply->integer != 1) {
		freeReplyObject(reply);
		r->leader = false;
		snprintf(err, errlen, "the lease is lost");
		return 0;
	}
	freeReplyObject(reply);
	free(r->token);
	r->token = token;
	return 1;
}

/* Queue one EVALSHA of the script for ev on the connection. */
static void
append_event(struct watch_redis *r, const struct watch_event *ev)
{
	const char *argv[20];
	size_t len[20];
	char *cache_key = NULL;
	int argc = 0, i;

	if (ev->product)
		cache_key = xasprintf("%s%s", r->k_cache_product, ev->key);
	argv[argc++] = "EVALSHA";
	argv[argc++] = r->sha;
	argv[argc++] = cache_key != NULL ? "7" : "4";
	argv[argc++] = r->k_log;
	argv[argc++] = r->k_token;
	argv[argc++] = r->k_low;
	argv[argc++] = r->k_leader;
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
	argv[argc++] = ev->id;
	argv[argc++] = ev->alert_id;
	argv[argc++] = r->fence;
	for (i = 0; i < argc; i++)
		len[i] = strlen(argv[i]);
	redisAppendCommandArgv(r->rc, argc, argv, len);
	free(cache_key);
}

/*
 * Note a published event: its token is now the one Redis holds. An
 * empty id means the log already held it: counted, nothing moves.
 */
static void
event_done(struct watch_redis *r, struct watch_event *ev,
    const redisReply *reply)
{
	long long published = 0;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    reply->element[1]->type != REDIS_REPLY_STRING)
		return;
	if (reply->element[0]->len == 0) {
		r->total->refused++;
		log_debug("redis: the log already holds %s", ev->id);
		return;
	}
	if (ev->token != NULL) {
		free(r->token);
		r->token = ev->token;
		ev->token = NULL;
	}
	r->total->events++;
	snprintf(r->last_id, sizeof(r->last_id), "%s",
	    reply->element[0]->str);
	published = strtoll(reply->element[1]->str, NULL, 10);
	if (ev->cluster_ms > 0)
		r->lag_ms = published - ev->cluster_ms;
}

#define SEND_FAULT	(-1)
#define SEND_LOST	(-2)

/*
 * Send events [from, npending) in one pipeline and read every reply.
 * Returns the index of the first event the script cache did not know
 * (NOSCRIPT), npending when all were published, SEND_LOST when the lease
 * is not ours, or SEND_FAULT (err).
 */
static long
send_pipeline(struct watch_redis *r, struct watch_queue *q, size_t from,
    char *err, size_t errlen)
{
	redisReply *reply;
	long noscript = -1;
	bool lost = false, failed = false;
	size_t i;

	for (i = from; i < q->n; i++)
		append_event(r, &q->ev[i]);
	for (i = from; i < q->n; i++) {
		if (redisGetReply(r->rc, (void **)&reply) != REDIS_OK) {
			snprintf(err, errlen, "%s", r->rc->errstr);
			return SEND_FAULT;
		}
		if (reply->type != REDIS_REPLY_ERROR) {
			if (noscript == -1 && !lost && !failed)
				event_done(r, &q->ev[i], reply);
		} else if (strncmp(reply->str, "NOSCRIPT", 8) == 0) {
			if (noscript == -1)
				noscript = (long)i;
		} else if (strncmp(reply->str, "NOTLEADER", 9) == 0) {
			lost = true;
		} else if (!failed) {
			snprintf(err, errlen, "script: %s", reply->str);
			failed = true;
		}
		freeReplyObject(reply);
	}
	if (failed)
		return SEND_FAULT;
	if (lost)
		return SEND_LOST;
	return noscript != -1 ? noscript : (long)q->n;
}

/* Publish the queued events as one pipeline. */
int
watch_redis_flush(struct watch_redis *r, struct watch_queue *q, char *err,
    size_t errlen)
{
	long next;
	size_t from = 0;
	int tries;

	if (q->n == 0)
		return 1;
	if (r->rc == NULL) {
		snprintf(err, errlen, "not connected");
		return -1;
	}
	for (tries = 0; tries < 2; tries++) {
		next = send_pipeline(r, q, from, err, errlen);
		if (next == SEND_LOST) {
			r->leader = false;
			snprintf(err, errlen, "the lease is lost");
			return 0;
		}
		if (next < 0)
			return -1;
		if ((size_t)next == q->n)
			break;
		/* Someone flushed the script cache: load it again. */
		log_info("redis: script cache flushed; loading it again");
		if (!load_script(r, err, errlen))
			return -1;
		from = (size_t)next;
	}
	if (tries == 2) {
		snprintf(err, errlen, "script keeps disappearing");
		return -1;
	}
	r->total->batches++;
	watch_queue_drop(q);
	return 1;
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
 * This watcher's gauge, in its own hash, refreshed on every beat with a
 * TTL: the lag of what it published, 0 for a standby, which publishes
 * nothing. /api/metrics takes the largest over watchers.
 */
static int
append_gauges(struct watch_redis *r)
{
	redisAppendCommand(r->rc, "EVAL %s 1 %s %s %lld %d",
	    OC_GAUGE_SET_SCRIPT, r->k_gauges, OC_GAUGE_LAG_MS,
	    r->leader ? r->lag_ms : 0LL, OC_GAUGE_TTL_MS);
	return 1;
}

/* Queue the beat proper: the leader's heartbeat, or a standby's mark. */
static int
append_beat(struct watch_redis *r)
{
	struct watch_counters *t = r->total;
	char alive[512], ttl_ms[16], lease[16], sttl[16];

	if (!r->leader) {
		redisAppendCommand(r->rc, "EVAL %s 1 %s %s",
		    standby_beat_script, r->k_standbys, r->self);
		return 1 + append_gauges(r);
	}
	/* The script closes the object after "standbys". */
	snprintf(alive, sizeof(alive), "{\"pid\":%ld,\"at\":%lld,"
	    "\"lagMs\":%lld,\"events\":%lld,\"errors\":%lld,"
	    "\"lastEventId\":\"%s\",\"role\":\"leader\","
	    "\"leader\":\"%s\",\"refused\":%lld,\"takeovers\":%lld",
	    (long)getpid(), (long long)oc_wall_ms(), r->lag_ms, t->events,
	    t->errors, r->last_id, r->self, t->refused, t->takeovers);
	snprintf(lease, sizeof(lease), "%d", WATCH_LEASE_MS);
	snprintf(sttl, sizeof(sttl), "%d", WATCH_STANDBY_TTL_MS);
	snprintf(ttl_ms, sizeof(ttl_ms), "%s", WATCH_ALIVE_TTL);
	redisAppendCommand(r->rc, "EVAL %s 3 %s %s %s %s %s %s %s %s",
	    leader_beat_script, r->k_leader, r->k_alive, r->k_standbys,
	    r->fence, lease, alive, sttl, ttl_ms);
	return 1 + append_gauges(r);
}

/*
 * The beat and the counters that grew since the last one. Every reply
 * is checked: an error reply is a fault like a lost connection, so a
 * Redis that refuses writes is retried with backoff.
 */
int
watch_redis_heartbeat(struct watch_redis *r, bool force, char *err,
    size_t errlen)
{
	struct watch_counters *t = r->total, *s = &r->sent;
	redisReply *reply = NULL;
	int64_t now = oc_mono_ms();
	bool kept = true, failed = false;
	int n, i;

	if (r->rc == NULL || (!force && now < r->next_beat))
		return 0;
	r->next_beat = now + WATCH_BEAT_MS;
	n = append_beat(r);
	n += append_counter(r, "events", t->events, &s->events);
	n += append_counter(r, "batches", t->batches, &s->batches);
	n += append_counter(r, "errors", t->errors, &s->errors);
	n += append_counter(r, "resyncs", t->resyncs, &s->resyncs);
	n += append_counter(r, "resets", t->resets, &s->resets);
	n += append_counter(r, "reconnects", t->reconnects,
	    &s->reconnects);
	n += append_counter(r, "refused", t->refused, &s->refused);
	n += append_counter(r, "takeovers", t->takeovers, &s->takeovers);
	for (i = 0; i < n; i++) {
		if (redisGetReply(r->rc, (void **)&reply) != REDIS_OK) {
			snprintf(err, errlen, "heartbeat: %s",
			    r->rc->errstr);
			return -1;
		}
		if (reply->type == REDIS_REPLY_ERROR && !failed) {
			snprintf(err, errlen, "heartbeat: %s", reply->str);
			failed = true;
		}
		/* The leader's beat answers 0 when the lease is gone. */
		if (i == 0 && r->leader &&
		    reply->type == REDIS_REPLY_INTEGER && reply->integer != 1)
			kept = false;
		freeReplyObject(reply);
	}
	if (failed)
		return -1;
	*s = *t;
	if (!kept) {
		r->leader = false;
		return 0;
	}
	/* The old primary may take writes for seconds after a failover. */
	if (oc_redis_primary_moved(r->cfg, r->rc, WATCH_SENTINEL_ASK_MS)) {
		snprintf(err, errlen, "the sentinels name another primary");
		return -1;
	}
	return 1;
}
