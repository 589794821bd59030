/*
 * hiredis' asynchronous API on an epoll loop: the adapter hiredis leaves
 * to each program (as its adapters/ae.h does for Redis' own loop). The
 * context's fd is registered with the epoll data pointer the caller
 * gives, so the caller's loop knows whom to hand the readiness to.
 */
#ifndef OC_REDIS_ASYNC_H
#define OC_REDIS_ASYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "oc-config.h"

/*
 * Start a non-blocking connection to ORDERCAST_REDIS and attach it to
 * epfd with tag as the epoll data pointer. Nothing waits: the connect
 * callback (if any) reports the outcome once the loop runs. Returns the
 * context, freed by redisAsyncFree() or redisAsyncDisconnect(), or NULL
 * with a message in err.
 */
redisAsyncContext *oc_redis_async_connect(const struct oc_config *cfg,
    int epfd, void *tag, char *err, size_t errlen);

/*
 * The same to host:port over TCP (a sentinel, or the primary one named).
 */
redisAsyncContext *oc_redis_async_connect_addr(const char *host, int port,
    int epfd, void *tag, char *err, size_t errlen);

/*
 * The loop saw events (EPOLLIN, EPOLLOUT, ...) on ac's fd. The context
 * may be freed inside (a disconnect callback has run then).
 */
void oc_redis_async_handle(redisAsyncContext *ac, uint32_t events);

#endif
