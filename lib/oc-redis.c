/*
 * One way to reach Redis, with bounded waits everywhere: one server
 * (ORDERCAST_REDIS), or the primary that Redis Sentinel names
 * (ORDERCAST_REDIS_SENTINELS, ORDERCAST_REDIS_MASTER), with AUTH when a
 * password is configured.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "oc-redis.h"

/* A timeval of milliseconds. */
static struct timeval
ms_tv(long ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* Connect to one TCP or unix address; NULL with a message. */
static redisContext *
connect_addr(const char *host, int port, const char *path, long timeout_ms,
    const char *what, char *err, size_t errlen)
{
	struct timeval tv = ms_tv(timeout_ms);
	redisContext *c;

	if (path != NULL)
		c = redisConnectUnixWithTimeout(path, tv);
	else
		c = redisConnectWithTimeout(host, port, tv);
	if (c == NULL) {
		snprintf(err, errlen, "redis %s: out of memory", what);
		return NULL;
	}
	if (c->err != 0) {
		snprintf(err, errlen, "redis %s: %s", what, c->errstr);
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(err, errlen, "redis %s: cannot set timeout", what);
		redisFree(c);
		return NULL;
	}
	return c;
}

/* AUTH with the configured user and password, if any. */
static bool
authenticate(redisContext *c, const struct oc_config *cfg, const char *what,
    char *err, size_t errlen)
{
	redisReply *r;
	bool ok;

	if (cfg->redis_password == NULL)
		return true;
	if (cfg->redis_user != NULL)
		r = redisCommand(c, "AUTH %s %s", cfg->redis_user,
		    cfg->redis_password);
	else
		r = redisCommand(c, "AUTH %s", cfg->redis_password);
	ok = r != NULL && r->type == REDIS_REPLY_STATUS;
	if (!ok)
		snprintf(err, errlen, "redis %s: AUTH failed: %s", what,
		    r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ?
		    r->str : "unexpected reply");
	if (r != NULL)
		freeReplyObject(r);
	return ok;
}

/* ROLE's first element. */
bool
oc_redis_role_is_primary(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[0]->str, "master") == 0;
}

/* The two strings of get-master-addr-by-name. */
bool
oc_redis_sentinel_addr(const redisReply *r, char *host, size_t hostlen,
    int *port)
{
	long p;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len == 0 || r->element[0]->len >= hostlen ||
	    !oc_parse_long(r->element[1]->str, 1, 65535, &p))
		return false;
	memcpy(host, r->element[0]->str, r->element[0]->len + 1);
	*port = (int)p;
	return true;
}

/* True when the server says it is a primary (ROLE). */
static bool
is_primary(redisContext *c, const char *what, char *err, size_t errlen)
{
	redisReply *r = redisCommand(c, "ROLE");
	bool ok;

	ok = oc_redis_role_is_primary(r);
	if (!ok)
		snprintf(err, errlen, "redis %s: not a primary: %s", what,
		    r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ?
		    r->str : "ROLE says otherwise");
	if (r != NULL)
		freeReplyObject(r);
	return ok;
}

/* Ask one sentinel where the primary is. */
bool
oc_redis_sentinel_ask(const struct oc_config *cfg, size_t i, long timeout_ms,
    char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
	const struct oc_hostport *s = &cfg->sentinels[i];
	redisContext *c;
	redisReply *r;
	char what[300];
	bool ok;

	snprintf(what, sizeof(what), "sentinel %s:%d", s->host, s->port);
	c = connect_addr(s->host, s->port, NULL, timeout_ms, what, err,
	    errlen);
	if (c == NULL)
		return false;
	r = redisCommand(c, "SENTINEL get-master-addr-by-name %s",
	    cfg->redis_master);
	ok = oc_redis_sentinel_addr(r, host, hostlen, port);
	if (!ok && (r == NULL || r->type == REDIS_REPLY_ERROR))
		snprintf(err, errlen, "%s: %s", what, r == NULL ? c->errstr :
		    r->str);
	else if (!ok)
		snprintf(err, errlen, "%s: no primary named %s", what,
		    cfg->redis_master);
	if (r != NULL)
		freeReplyObject(r);
	redisFree(c);
	return ok;
}

/* The primary through the sentinels, each asked in turn. */
static redisContext *
connect_sentinels(const struct oc_config *cfg, long timeout_ms, char *err,
    size_t errlen)
{
	redisContext *c;
	char host[256];
	int port;
	size_t i;

	for (i = 0; i < cfg->nsentinels; i++) {
		if (!oc_redis_sentinel_ask(cfg, i, timeout_ms, host,
		    sizeof(host), &port, err, errlen))
			continue;
		c = oc_redis_connect_primary(cfg, host, port, timeout_ms, err,
		    errlen);
		if (c != NULL)
			return c;
	}
	return NULL;
}

/* The primary at a known address: connect, AUTH, ROLE. */
redisContext *
oc_redis_connect_primary(const struct oc_config *cfg, const char *host,
    int port, long timeout_ms, char *err, size_t errlen)
{
	redisContext *c;
	char what[300];

	snprintf(what, sizeof(what), "%s:%d (primary %s)", host, port,
	    cfg->redis_master != NULL ? cfg->redis_master : "");
	c = connect_addr(host, port, NULL, timeout_ms, what, err, errlen);
	if (c == NULL)
		return NULL;
	if (authenticate(c, cfg, what, err, errlen) &&
	    is_primary(c, what, err, errlen))
		return c;
	redisFree(c);
	return NULL;
}

redisContext *
oc_redis_connect(const struct oc_config *cfg, long timeout_ms, char *err,
    size_t errlen)
{
	redisContext *c;

	if (cfg->nsentinels > 0)
		return connect_sentinels(cfg, timeout_ms, err, errlen);
	c = connect_addr(cfg->redis_host, cfg->redis_port, cfg->redis_unix,
	    timeout_ms, cfg->redis, err, errlen);
	if (c != NULL && !authenticate(c, cfg, cfg->redis, err, errlen)) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* A failover the server itself may not know of yet. */
bool
oc_redis_primary_moved(const struct oc_config *cfg, const redisContext *c,
    long timeout_ms)
{
	char host[256];
	int port;

	if (cfg->nsentinels == 0 || c == NULL || c->tcp.host == NULL ||
	    !oc_redis_sentinels_primary(cfg, timeout_ms, host, sizeof(host),
	    &port))
		return false;
	return port != c->tcp.port || strcmp(host, c->tcp.host) != 0;
}

/* Room for the answers of the sentinels, each a distinct address. */
#define MAX_NAMED	8

/* The primary most sentinels name now. */
bool
oc_redis_sentinels_primary(const struct oc_config *cfg, long timeout_ms,
    char *host, size_t hostlen, int *port)
{
	struct {
		char	host[256];
		int	port;
		size_t	votes;
	} named[MAX_NAMED];
	char h[256], err[256];
	size_t i, j, n = 0, answers = 0, best = 0;
	int p;

	for (i = 0; i < cfg->nsentinels; i++) {
		if (!oc_redis_sentinel_ask(cfg, i, timeout_ms, h, sizeof(h),
		    &p, err, sizeof(err)))
			continue;
		answers++;
		for (j = 0; j < n; j++)
			if (named[j].port == p && strcmp(named[j].host, h) == 0)
				break;
		if (j == n) {
			if (n == MAX_NAMED)
				continue;
			snprintf(named[n].host, sizeof(named[n].host), "%s", h);
			named[n].port = p;
			named[n].votes = 0;
			n++;
		}
		named[j].votes++;
		if (named[j].votes > named[best].votes)
			best = j;
	}
	if (n == 0 || named[best].votes * 2 <= answers ||
	    strlen(named[best].host) >= hostlen)
		return false;
	memcpy(host, named[best].host, strlen(named[best].host) + 1);
	*port = named[best].port;
	return true;
}

/* Errors after which the connection must find the primary again. */
bool
oc_redis_reply_moved(const redisReply *r)
{
	static const char *const codes[] = { "READONLY", "LOADING",
	    "MASTERDOWN", "NOAUTH", "WRONGPASS", "NOREPLICAS" };
	size_t i, n;

	if (r == NULL || r->type != REDIS_REPLY_ERROR)
		return false;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		n = strlen(codes[i]);
		if (r->len >= n && strncmp(r->str, codes[i], n) == 0)
			return true;
	}
	return false;
}
