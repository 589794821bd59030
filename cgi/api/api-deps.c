/*
 * Layer: the API's dependencies. MongoDB clients from the pool, a Redis
 * connection per thread, and a circuit breaker in front of each.
 * Calls api-req.c, api-reply.c and lib/.
 */
#include "config.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "oc-json.h"
#include "oc-log.h"
#include "oc-redis.h"
#include "oc-util.h"
#include "oc-xmalloc.h"

/* Consecutive failures that open a breaker, and how long it stays open. */
#define BREAKER_THRESHOLD	3
#define BREAKER_OPEN_MS		(API_RETRY_AFTER * 1000)

/*
 * With Sentinel: how often the threads' kept connections are held
 * against the primary the sentinels name, and how long asking one
 * sentinel may take. A commanded failover leaves the old primary taking
 * writes until the sentinels demote it, seconds later; and after a dead
 * primary's connections fail, the breaker would wait out its open period
 * although the sentinels already name the new one.
 */
#define SENTINEL_CHECK_MS	500
#define SENTINEL_ASK_MS		300

/*
 * The primary the sentinels last named, shared by the threads. A thread
 * of its own asks every SENTINEL_CHECK_MS, so no request waits on a
 * sentinel that is slow or gone.
 */
static struct {
	pthread_mutex_t	mu;
	pthread_cond_t	cv;
	bool		stopping;
	bool		started;
	pthread_t	thread;
	bool		known;
	char		host[256];
	int		port;
	int64_t		asked_ms;	/* when the last answer was asked for */
	int64_t		changed_ms;	/* ... and when it last changed */
	int64_t		failed_ms;	/* last Redis failure of any thread */
} sentinel_view = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* When this thread's Redis connection was made (monotonic ms). */
static _Thread_local int64_t redis_since_ms;

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

/* A client for this request, or NULL after answering 503. */
mongoc_client_t *
api_mongo(struct api_req *req)
{
	if (req->client != NULL)
		return req->client;
	if (!api_breaker_allow(&req->server->mongo_breaker)) {
		req->mongo_down = true;
		api_unavailable(req, "MongoDB");
		return NULL;
	}
	req->client = mongoc_client_pool_pop(req->server->pool);
	return req->client;
}

/*
 * Ping MongoDB for GET /api/health, through the breaker like every
 * request, on a client of the health pool whose deadlines are
 * API_HEALTH_TIMEOUT_MS: a stalled server holds the thread that long,
 * not ORDERCAST_TIMEOUT_MS. The outcome feeds the breaker (a passing
 * ping closes it). Returns false with a message in err.
 */
bool
api_mongo_ping(struct api_req *req, char *err, size_t errlen)
{
	mongoc_client_t *client;
	bson_t *cmd = NULL;
	bson_error_t berr;
	bool ok = false;

	if (!api_breaker_allow(&req->server->mongo_breaker)) {
		snprintf(err, errlen, "circuit breaker open after repeated "
		    "failures");
		req->mongo_down = true;
		return false;
	}
	cmd = BCON_NEW("ping", BCON_INT32(1));
	client = mongoc_client_pool_pop(req->server->health_pool);
	ok = mongoc_client_command_simple(client, "admin", cmd, NULL, NULL,
	    &berr);
	mongoc_client_pool_push(req->server->health_pool, client);
	bson_destroy(cmd);
	if (!ok) {
		snprintf(err, errlen, "%s", berr.message);
		req->mongo_down = true;
	}
	api_breaker_report(&req->server->mongo_breaker, ok);
	return ok;
}

/*
 * Has the server closed a connection kept from an earlier request (a
 * restart, a failover, CLIENT KILL, an idle timeout)? Nothing is due on
 * an idle connection, so anything readable (EOF included) says it is
 * stale. Costs one poll(), no round trip.
 */
static bool
redis_stale(redisContext *c)
{
	struct pollfd pfd;

	if (c->err != 0)
		return true;
	pfd.fd = c->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) != 0;
}

/* Ask the sentinels once and keep what most of them name. */
static void
sentinel_view_refresh(const struct oc_config *cfg)
{
	char host[256];
	int64_t now = oc_mono_ms();
	int port;
	bool ok;

	ok = oc_redis_sentinels_primary(cfg, SENTINEL_ASK_MS, host,
	    sizeof(host), &port);
	if (!ok)
		return;		/* no answer is no news: keep the last */
	pthread_mutex_lock(&sentinel_view.mu);
	sentinel_view.asked_ms = now;
	if (!sentinel_view.known || port != sentinel_view.port ||
	    strcmp(host, sentinel_view.host) != 0) {
		memcpy(sentinel_view.host, host, strlen(host) + 1);
		sentinel_view.port = port;
		sentinel_view.known = true;
		sentinel_view.changed_ms = now;
	}
	pthread_mutex_unlock(&sentinel_view.mu);
}

/* The sentinel thread: ask, then wait SENTINEL_CHECK_MS or the end. */
static void *
sentinel_main(void *arg)
{
	const struct oc_config *cfg = arg;
	bool stop = false;

	while (!stop) {
		sentinel_view_refresh(cfg);
		pthread_mutex_lock(&sentinel_view.mu);
		if (!sentinel_view.stopping)
			oc_cond_wait_ms(&sentinel_view.cv, &sentinel_view.mu,
			    SENTINEL_CHECK_MS);
		stop = sentinel_view.stopping;
		pthread_mutex_unlock(&sentinel_view.mu);
	}
	return NULL;
}

/*
 * Start the sentinel thread of a daemon serving server; without
 * sentinels there is nothing to ask and nothing starts.
 */
bool
api_sentinels_start(struct api_server *server)
{
	if (server->cfg.nsentinels == 0)
		return true;
	oc_cond_init_mono(&sentinel_view.cv);
	sentinel_view.stopping = false;
	if (pthread_create(&sentinel_view.thread, NULL, sentinel_main,
	    &server->cfg) != 0)
		return false;
	sentinel_view.started = true;
	return true;
}

/* Stop the sentinel thread. */
void
api_sentinels_stop(void)
{
	if (!sentinel_view.started)
		return;
	pthread_mutex_lock(&sentinel_view.mu);
	sentinel_view.stopping = true;
	pthread_cond_signal(&sentinel_view.cv);
	pthread_mutex_unlock(&sentinel_view.mu);
	pthread_join(sentinel_view.thread, NULL);
	sentinel_view.started = false;
}

/*
 * True when the sentinels, asked after c was connected, name another
 * primary than c's server. A connection made after the last answer
 * found its server through the sentinels itself and is believed.
 */
static bool
sentinel_view_moved(const redisContext *c)
{
	bool moved;

	if (c->connection_type != REDIS_CONN_TCP || c->tcp.host == NULL)
		return false;
	pthread_mutex_lock(&sentinel_view.mu);
	moved = sentinel_view.known &&
	    sentinel_view.asked_ms > redis_since_ms &&
	    (c->tcp.port != sentinel_view.port ||
	    strcmp(c->tcp.host, sentinel_view.host) != 0);
	pthread_mutex_unlock(&sentinel_view.mu);
	return moved;
}

/*
 * May a thread connect while the Redis breaker is open? Yes, when the
 * sentinels have named a new primary since the last failure: the
 * failures were the old primary's.
 */
static bool
sentinel_view_new_primary(const struct oc_config *cfg)
{
	bool fresh;

	if (cfg->nsentinels == 0)
		return false;
	pthread_mutex_lock(&sentinel_view.mu);
	fresh = sentinel_view.known &&
	    sentinel_view.changed_ms > sentinel_view.failed_ms;
	pthread_mutex_unlock(&sentinel_view.mu);
	return fresh;
}

/* Note a Redis failure, after which a new primary ends the breaker. */
static void
sentinel_view_failed(void)
{
	int64_t now = oc_mono_ms();

	pthread_mutex_lock(&sentinel_view.mu);
	sentinel_view.failed_ms = now;
	pthread_mutex_unlock(&sentinel_view.mu);
}

/*
 * A new connection: to the primary the sentinel thread last heard of,
 * so no request asks the sentinels itself; through the sentinels only
 * while that is unknown (no answer yet, or no thread: plain CGI), and
 * to ORDERCAST_REDIS without sentinels.
 */
static redisContext *
redis_connect(const struct oc_config *cfg, char *err, size_t errlen)
{
	char host[sizeof(sentinel_view.host)];
	int port = 0;

	host[0] = '\0';
	if (cfg->nsentinels > 0) {
		pthread_mutex_lock(&sentinel_view.mu);
		if (sentinel_view.known) {
			memcpy(host, sentinel_view.host,
			    strlen(sentinel_view.host) + 1);
			port = sentinel_view.port;
		}
		pthread_mutex_unlock(&sentinel_view.mu);
	}
	if (host[0] != '\0')
		return oc_redis_connect_primary(cfg, host, port,
		    cfg->timeout_ms, err, errlen);
	return oc_redis_connect(cfg, cfg->timeout_ms, err, errlen);
}

/* Drop the thread's connection without blaming Redis: a retry follows. */
static void
redis_drop(struct api_req *req, const char *why)
{
	if (req->thr->redis == NULL)
		return;
	log_info("redis: %s; connecting again", why);
	redisFree(req->thr->redis);
	req->thr->redis = NULL;
}

/*
 * This thread's Redis connection, connecting when needed; NULL if down.
 * A connection kept from an earlier request is checked once per request
 * and replaced when the server closed it.
 */
redisContext *
api_redis_ctx(struct api_req *req)
{
	const struct oc_config *cfg = &req->server->cfg;
	char err[256];

	if (req->thr->redis != NULL && !req->redis_checked) {
		req->redis_checked = true;
		if (redis_stale(req->thr->redis))
			redis_drop(req, "connection closed by the server");
		else if (sentinel_view_moved(req->thr->redis))
			redis_drop(req, "the sentinels name another primary");
	}
	if (req->thr->redis != NULL)
		return req->thr->redis;
	if (!api_breaker_allow(&req->server->redis_breaker) &&
	    !sentinel_view_new_primary(cfg))
		return NULL;
	req->thr->redis = redis_connect(cfg, err, sizeof(err));
	if (req->thr->redis == NULL) {
		log_warnx("%s", err);
		sentinel_view_failed();
		api_breaker_report(&req->server->redis_breaker, false);
		return NULL;
	}
	redis_since_ms = oc_mono_ms();
	req->redis_checked = true;
	req->redis_fresh = true;
	api_breaker_report(&req->server->redis_breaker, true);
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
	sentinel_view_failed();
	api_breaker_report(&req->server->redis_breaker, false);
}

/*
 * A command failed on this thread's connection (no reply). Returns true
 * when it may be sent again on a fresh connection: the connection was
 * kept from an earlier request and this request has not retried yet.
 * Otherwise the failure is reported (api_redis_failed) and false is
 * returned.
 */
bool
api_redis_retry(struct api_req *req)
{
	if (req->redis_fresh || req->redis_retried) {
		api_redis_failed(req);
		return false;
	}
	req->redis_retried = true;
	redis_drop(req, req->thr->redis != NULL &&
	    req->thr->redis->errstr[0] != '\0' ? req->thr->redis->errstr :
	    "connection lost");
	return true;
}

/*
 * An error reply that says this server is not the one to use now
 * (READONLY after a failover, LOADING, MASTERDOWN...): the connection is
 * dropped so that the next one finds the primary again. Returns true
 * when it was such a reply.
 */
bool
api_redis_moved(struct api_req *req, const redisReply *r)
{
	if (r == NULL || !oc_redis_reply_moved(r))
		return false;
	log_warnx("redis: %.*s", (int)r->len, r->str);
	redis_drop(req, "the server is not the primary");
	return true;
}

/*
 * One Redis command, sent again once on a fresh connection when a kept
 * connection turns out stale or the server is no longer the primary.
 * Returns the reply (caller frees with freeReplyObject) or NULL when
 * Redis cannot be reached.
 */
redisReply *
api_redis_command(struct api_req *req, const char *fmt, ...)
{
	redisContext *c;
	redisReply *r = NULL;
	va_list ap;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		c = api_redis_ctx(req);
		if (c == NULL)
			return NULL;
		va_start(ap, fmt);
		r = redisvCommand(c, fmt, ap);
		va_end(ap);
		if (r == NULL) {
			if (!api_redis_retry(req))
				return NULL;
			continue;
		}
		if (attempt == 0 && api_redis_moved(req, r)) {
			freeReplyObject(r);
			r = NULL;
			continue;
		}
		break;
	}
	return r;
}

/* Give the client back and tell the breakers how the dependencies did. */
void
api_request_done(struct api_req *req)
{
	if (req->thr->redis != NULL && !req->redis_down)
		api_breaker_report(&req->server->redis_breaker, true);
	if (req->client != NULL) {
		mongoc_client_pool_push(req->server->pool, req->client);
		req->client = NULL;
		api_breaker_report(&req->server->mongo_breaker,
		    !req->mongo_down);
	}
	api_req_clear(req);
}
