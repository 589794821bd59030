/* hiredis' event hooks on epoll: interest follows what hiredis asks. */
#include "config.h"

#include <sys/epoll.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oc-log.h"
#include "oc-redis-async.h"
#include "oc-xmalloc.h"

/* One attached context: its fd's registration in the caller's epoll. */
struct oc_redis_async {
	redisAsyncContext	*ac;
	int			 epfd;
	int			 fd;
	uint32_t		 events;	/* registered interest */
	void			*tag;
	bool			 handling;	/* inside handle() */
	bool			 dead;		/* cleaned up meanwhile */
};

/* Make the kernel's interest match want (add, change or remove). */
static void
watch_set(struct oc_redis_async *a, uint32_t want)
{
	struct epoll_event ee;
	int op;

	if (want == a->events)
		return;
	memset(&ee, 0, sizeof(ee));
	ee.events = want;
	ee.data.ptr = a->tag;
	if (want == 0)
		op = EPOLL_CTL_DEL;
	else if (a->events == 0)
		op = EPOLL_CTL_ADD;
	else
		op = EPOLL_CTL_MOD;
	if (epoll_ctl(a->epfd, op, a->fd, &ee) == -1)
		fatal("epoll_ctl redis");
	a->events = want;
}

/* hiredis wants to read. */
static void
hook_add_read(void *data)
{
	struct oc_redis_async *a = data;

	watch_set(a, a->events | EPOLLIN);
}

/* hiredis no longer wants to read. */
static void
hook_del_read(void *data)
{
	struct oc_redis_async *a = data;

	watch_set(a, a->events & ~(uint32_t)EPOLLIN);
}

/* hiredis has output (or a connect) waiting for writability. */
static void
hook_add_write(void *data)
{
	struct oc_redis_async *a = data;

	watch_set(a, a->events | EPOLLOUT);
}

/* hiredis' output is gone. */
static void
hook_del_write(void *data)
{
	struct oc_redis_async *a = data;

	watch_set(a, a->events & ~(uint32_t)EPOLLOUT);
}

/* The context goes away: leave epoll; free now or after handle(). */
static void
hook_cleanup(void *data)
{
	struct oc_redis_async *a = data;

	watch_set(a, 0);
	a->ac->ev.data = NULL;
	if (a->handling)
		a->dead = true;
	else
		free(a);
}

/* Attach a fresh context to epfd, or free it and say why. */
static redisAsyncContext *
attach(redisAsyncContext *ac, bool tcp, const char *what, int epfd,
    void *tag, char *err, size_t errlen)
{
	struct oc_redis_async *a;

	if (ac == NULL) {
		snprintf(err, errlen, "redis %s: out of memory", what);
		return NULL;
	}
	if (ac->err != 0) {
		snprintf(err, errlen, "redis %s: %s", what, ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	if (tcp)
		redisEnableKeepAlive(&ac->c);
	a = xcalloc(1, sizeof(*a));
	a->ac = ac;
	a->epfd = epfd;
	a->fd = ac->c.fd;
	a->tag = tag;
	ac->ev.data = a;
	ac->ev.addRead = hook_add_read;
	ac->ev.delRead = hook_del_read;
	ac->ev.addWrite = hook_add_write;
	ac->ev.delWrite = hook_del_write;
	ac->ev.cleanup = hook_cleanup;
	/* The connect completes on writability. */
	hook_add_write(a);
	return ac;
}

redisAsyncContext *
oc_redis_async_connect(const struct oc_config *cfg, int epfd, void *tag,
    char *err, size_t errlen)
{
	redisAsyncContext *ac;

	if (cfg->redis_unix != NULL)
		ac = redisAsyncConnectUnix(cfg->redis_unix);
	else
		ac = redisAsyncConnect(cfg->redis_host, cfg->redis_port);
	return attach(ac, cfg->redis_unix == NULL, cfg->redis, epfd, tag,
	    err, errlen);
}

redisAsyncContext *
oc_redis_async_connect_addr(const char *host, int port, int epfd,
    void *tag, char *err, size_t errlen)
{
	char what[300];

	snprintf(what, sizeof(what), "%s:%d", host, port);
	return attach(redisAsyncConnect(host, port), true, what, epfd, tag,
	    err, errlen);
}

void
oc_redis_async_handle(redisAsyncContext *ac, uint32_t events)
{
	struct oc_redis_async *a = ac->ev.data;
	bool failed = (events & (EPOLLERR | EPOLLHUP)) != 0;

	if (a == NULL)
		return;
	a->handling = true;
	if ((events & EPOLLOUT) != 0 ||
	    (failed && (a->events & EPOLLOUT) != 0))
		redisAsyncHandleWrite(ac);
	if (!a->dead && ((events & EPOLLIN) != 0 ||
	    (failed && (a->events & EPOLLIN) != 0)))
		redisAsyncHandleRead(ac);
	a->handling = false;
	if (a->dead)
		free(a);
}
