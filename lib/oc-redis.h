/* Redis connections as every ordercast program opens them. */
#ifndef OC_REDIS_H
#define OC_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "oc-config.h"

/*
 * Connect to Redis within timeout_ms, with the same limit on every later
 * command: ORDERCAST_REDIS (TCP or unix socket), or, when
 * ORDERCAST_REDIS_SENTINELS is set, the primary the sentinels name for
 * ORDERCAST_REDIS_MASTER (each sentinel asked in turn; the server must
 * answer ROLE as a primary). AUTH with ORDERCAST_REDIS_USER and
 * ORDERCAST_REDIS_PASSWORD when set. Returns a context the caller frees
 * with redisFree(), or NULL with a message in err. After any I/O error or
 * timeout the context is unusable: free it and connect again.
 */
redisContext *oc_redis_connect(const struct oc_config *cfg, long timeout_ms,
    char *err, size_t errlen);

/*
 * Connect to the primary at host:port, as oc_redis_connect() does after
 * the sentinels named it: AUTH when configured, and ROLE must say master.
 */
redisContext *oc_redis_connect_primary(const struct oc_config *cfg,
    const char *host, int port, long timeout_ms, char *err, size_t errlen);

/*
 * Ask sentinel number i of the configuration for the primary's address.
 * False with a message in err when it cannot say.
 */
bool oc_redis_sentinel_ask(const struct oc_config *cfg, size_t i,
    long timeout_ms, char *host, size_t hostlen, int *port, char *err,
    size_t errlen);

/*
 * With sentinels configured: true when most of the sentinels that answer
 * within timeout_ms each name another primary than the server c is
 * connected to, so a failover happened even if that server still takes
 * writes. False without sentinels or answers.
 */
bool oc_redis_primary_moved(const struct oc_config *cfg,
    const redisContext *c, long timeout_ms);

/*
 * With sentinels configured: the primary that more than half of the
 * sentinels answering within timeout_ms name, into host and port.
 * False when none answer or they do not agree.
 */
bool oc_redis_sentinels_primary(const struct oc_config *cfg,
    long timeout_ms, char *host, size_t hostlen, int *port);

/* True when a ROLE reply says the server is a primary. */
bool oc_redis_role_is_primary(const redisReply *r);

/*
 * The address of a SENTINEL get-master-addr-by-name reply into host and
 * port; false when the reply is no such address (an unknown name too).
 */
bool oc_redis_sentinel_addr(const redisReply *r, char *host,
    size_t hostlen, int *port);

/*
 * True for an error reply that means this server is no longer the one to
 * use (READONLY after a failover, LOADING, MASTERDOWN, NOREPLICAS from a
 * primary cut off from its replicas, lost AUTH): drop
 * the connection and connect again, which finds the primary anew.
 */
bool oc_redis_reply_moved(const redisReply *r);

#endif
