/* Redis connections as every ordercast program opens them. */
#ifndef OC_REDIS_H
#define OC_REDIS_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "oc-config.h"

/*
 * Connect to ORDERCAST_REDIS (TCP or unix socket) within timeout_ms, with
 * the same limit on every later command. Returns a context the caller
 * frees with redisFree(), or NULL with a message in err. After any I/O
 * error or timeout the context is unusable: free it and connect again.
 */
redisContext *oc_redis_connect(const struct oc_config *cfg, long timeout_ms,
    char *err, size_t errlen);

#endif
