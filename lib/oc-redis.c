/* One way to reach Redis, with bounded waits everywhere. */
#include "config.h"

#include <stdio.h>

#include "oc-redis.h"

redisContext *
oc_redis_connect(const struct oc_config *cfg, long timeout_ms, char *err,
    size_t errlen)
{
	struct timeval tv;
	redisContext *c;

	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (cfg->redis_unix != NULL)
		c = redisConnectUnixWithTimeout(cfg->redis_unix, tv);
	else
		c = redisConnectWithTimeout(cfg->redis_host, cfg->redis_port,
		    tv);
	if (c == NULL) {
		snprintf(err, errlen, "redis %s: out of memory", cfg->redis);
		return NULL;
	}
	if (c->err != 0) {
		snprintf(err, errlen, "redis %s: %s", cfg->redis, c->errstr);
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(err, errlen, "redis %s: cannot set timeout",
		    cfg->redis);
		redisFree(c);
		return NULL;
	}
	return c;
}
