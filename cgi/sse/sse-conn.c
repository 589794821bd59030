/*
 * The relay's transport: connections accepted from the web server, bytes
 * read into a buffer for the request layer, queues of shared buffers
 * written with writev. Only connections with bytes to write are visited
 * after a wakeup, and each gets a bounded share so none starves another.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oc-log.h"
#include "oc-xmalloc.h"
#include "sse.h"

#define IOV_MAX_WRITE	64
#define READ_BUF	16384
#define IN_MAX		(2 * (8 + 65535 + 255))
#define WRITE_SHARE	(128 * 1024)	/* bytes per connection per pass */
#define ACCEPT_BATCH	256

static struct {
	int			 epfd;
	conn_close_cb		*on_close;
	LIST_HEAD(, sse_conn)	 all;
	TAILQ_HEAD(conn_pending, sse_conn) pending;
	TAILQ_HEAD(, sse_conn)	 deadlines;	/* in deadline order */
	int			 lfd;
	void			*lwatch;
	int64_t			 accept_resume;	/* paused at EMFILE */
	bool			 stopped;
} conns;

/* Set the epoll interest of c, adding it the first time. */
static void
conn_watch(struct sse_conn *c, uint32_t events)
{
	struct epoll_event ee;

	if (c->watched == events)
		return;
	memset(&ee, 0, sizeof(ee));
	ee.events = events;
	ee.data.ptr = c;
	if (epoll_ctl(conns.epfd, c->watched == 0 ? EPOLL_CTL_ADD :
	    EPOLL_CTL_MOD, c->fd, &ee) == -1)
		fatal("epoll_ctl");
	c->watched = events;
}

/* Put c on the list of connections the next pass writes to. */
static void
pending_add(struct sse_conn *c)
{
	if (c->on_pending || (c->watched & EPOLLOUT) != 0)
		return;
	c->on_pending = true;
	TAILQ_INSERT_TAIL(&conns.pending, c, pending);
}

/* Take c off the pending list. */
static void
pending_del(struct sse_conn *c)
{
	if (!c->on_pending)
		return;
	c->on_pending = false;
	TAILQ_REMOVE(&conns.pending, c, pending);
}

/* Take c off the deadline list. */
static void
deadline_del(struct sse_conn *c)
{
	if (!c->on_deadline)
		return;
	c->on_deadline = false;
	c->deadline = 0;
	TAILQ_REMOVE(&conns.deadlines, c, dentry);
}

void
conn_push(struct sse_conn *c, struct sse_buf *b)
{
	struct sse_buf **nq;
	size_t i, cap;

	if (c->q_count == c->q_cap) {
		cap = c->q_cap == 0 ? 4 : c->q_cap * 2;
		nq = xreallocarray(NULL, cap, sizeof(*nq));
		for (i = 0; i < c->q_count; i++)
			nq[i] = c->q[(c->q_head + i) % c->q_cap];
		free(c->q);
		c->q = nq;
		c->q_cap = cap;
		c->q_head = 0;
	}
	c->q[(c->q_head + c->q_count) % c->q_cap] = sse_buf_ref(b);
	c->q_count++;
	c->q_bytes += b->len;
	pending_add(c);
}

void
conn_push_bytes(struct sse_conn *c, const uint8_t *data, size_t len)
{
	struct sse_buf *b;

	b = sse_buf_new(len);
	memcpy(b->data, data, len);
	conn_push(c, b);
	sse_buf_unref(b);
}

/* Drop the head of the queue once written. */
static void
q_pop(struct sse_conn *c)
{
	struct sse_buf *b = c->q[c->q_head];

	c->q_bytes -= b->len;
	sse_buf_unref(b);
	c->q_head = (c->q_head + 1) % c->q_cap;
	c->q_count--;
	c->q_off = 0;
}

void
conn_drop_unstarted(struct sse_conn *c)
{
	size_t keep = c->q_off > 0 ? 1 : 0;
	struct sse_buf *b;

	while (c->q_count > keep) {
		b = c->q[(c->q_head + c->q_count - 1) % c->q_cap];
		c->q_bytes -= b->len;
		sse_buf_unref(b);
		c->q_count--;
	}
}

size_t
conn_queued(const struct sse_conn *c)
{
	return c->q_bytes;
}

void
conn_finish(struct sse_conn *c, int64_t grace_ms)
{
	c->closing = true;
	deadline_del(c);
	c->deadline = oc_mono_ms() + grace_ms;
	c->on_deadline = true;
	TAILQ_INSERT_TAIL(&conns.deadlines, c, dentry);
	pending_add(c);
}

void
conn_keep(struct sse_conn *c)
{
	c->closing = false;
	deadline_del(c);
}

void
conn_close(struct sse_conn *c)
{
	if (conns.on_close != NULL)
		conns.on_close(c);
	pending_del(c);
	deadline_del(c);
	while (c->q_count > 0)
		q_pop(c);
	free(c->q);
	free(c->in);
	free(c->params);
	close(c->fd);	/* also leaves the epoll set */
	LIST_REMOVE(c, all);
	free(c);
}

bool
conn_read(struct sse_conn *c)
{
	static uint8_t rbuf[READ_BUF];
	ssize_t n;

	n = read(c->fd, rbuf, sizeof(rbuf));
	if (n == 0)
		return false;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (c->in_len + (size_t)n > IN_MAX + READ_BUF)
		return false;
	c->in = xreallocarray(c->in, c->in_len + (size_t)n, 1);
	memcpy(c->in + c->in_len, rbuf, (size_t)n);
	c->in_len += (size_t)n;
	return true;
}

void
conn_consume(struct sse_conn *c, size_t used)
{
	if (used >= c->in_len) {
		free(c->in);
		c->in = NULL;
		c->in_len = 0;
		return;
	}
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
}

/*
 * Write up to WRITE_SHARE bytes of c's queue.
 * Returns -1 when the peer is gone, 0 when c has nothing more to write
 * now (queue empty or socket full), 1 when it has more and the socket
 * may take it.
 */
static int
conn_write(struct sse_conn *c)
{
	struct iovec iov[IOV_MAX_WRITE];
	struct sse_buf *b;
	size_t i, n, budget = WRITE_SHARE;
	ssize_t w;

	while (c->q_count > 0) {
		if (budget == 0)
			return 1;
		n = c->q_count < IOV_MAX_WRITE ? c->q_count : IOV_MAX_WRITE;
		for (i = 0; i < n; i++) {
			b = c->q[(c->q_head + i) % c->q_cap];
			iov[i].iov_base = b->data + (i == 0 ? c->q_off : 0);
			iov[i].iov_len = b->len - (i == 0 ? c->q_off : 0);
		}
		w = writev(c->fd, iov, (int)n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				conn_watch(c, EPOLLIN | EPOLLOUT);
				return 0;
			}
			return -1;
		}
		sse_stats.bytes_sent += w;
		budget = (size_t)w >= budget ? 0 : budget - (size_t)w;
		while (w > 0) {
			b = c->q[c->q_head];
			if ((size_t)w < b->len - c->q_off) {
				c->q_off += (size_t)w;
				break;
			}
			w -= (ssize_t)(b->len - c->q_off);
			q_pop(c);
		}
	}
	conn_watch(c, EPOLLIN);
	if (c->closing)
		return -1;
	deadline_del(c);	/* the answer is out */
	return 0;
}

void
conn_writable(struct sse_conn *c)
{
	conn_watch(c, EPOLLIN);
	pending_add(c);
}

bool
conn_flush_pending(void)
{
	struct sse_conn *c, *last;
	bool more = false;
	int r;

	/* Those put back for more are visited on the next pass. */
	last = TAILQ_LAST(&conns.pending, conn_pending);
	while ((c = TAILQ_FIRST(&conns.pending)) != NULL) {
		pending_del(c);
		r = conn_write(c);
		if (r < 0)
			conn_close(c);
		else if (r > 0) {
			pending_add(c);
			more = true;
		}
		if (c == last)
			break;
	}
	return more;
}

/* A new connection from the web server. */
static void
conn_new(int fd)
{
	struct sse_conn *c;

	c = xcalloc(1, sizeof(*c));
	c->kind = SSE_KIND_CONN;
	c->fd = fd;
	LIST_INSERT_HEAD(&conns.all, c, all);
	conn_watch(c, EPOLLIN);
}

void
conn_accept(void)
{
	int fd, i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		fd = accept4(conns.lfd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			conn_new(fd);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE) {
			log_warn("accept");
			/* Let connections go before trying again. */
			epoll_ctl(conns.epfd, EPOLL_CTL_DEL, conns.lfd, NULL);
			conns.accept_resume = oc_mono_ms() + 100;
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
}

void
conn_tick(int64_t now_ms)
{
	struct sse_conn *c;
	struct epoll_event ee;

	if (conns.accept_resume != 0 && now_ms >= conns.accept_resume &&
	    !conns.stopped) {
		memset(&ee, 0, sizeof(ee));
		ee.events = EPOLLIN;
		ee.data.ptr = conns.lwatch;
		epoll_ctl(conns.epfd, EPOLL_CTL_ADD, conns.lfd, &ee);
		conns.accept_resume = 0;
	}
	/* Answers that could not be written in time: give up on them. */
	while ((c = TAILQ_FIRST(&conns.deadlines)) != NULL &&
	    now_ms >= c->deadline)
		conn_close(c);
}

int64_t
conn_next_ms(int64_t now_ms)
{
	struct sse_conn *c;
	int64_t t = now_ms + 60000;

	c = TAILQ_FIRST(&conns.deadlines);
	if (c != NULL && c->deadline < t)
		t = c->deadline;
	if (conns.accept_resume != 0 && conns.accept_resume < t)
		t = conns.accept_resume;
	if (!TAILQ_EMPTY(&conns.pending))
		t = now_ms;
	return t > now_ms ? t - now_ms : 0;
}

void
conn_set_close_hook(conn_close_cb *fn)
{
	conns.on_close = fn;
}

void
conn_init(int epfd)
{
	memset(&conns, 0, sizeof(conns));
	conns.epfd = epfd;
	conns.lfd = -1;
	LIST_INIT(&conns.all);
	TAILQ_INIT(&conns.pending);
	TAILQ_INIT(&conns.deadlines);
}

void
conn_set_listener(int lfd, void *watch)
{
	conns.lfd = lfd;
	conns.lwatch = watch;
}

void
conn_stop_accepting(void)
{
	conns.stopped = true;
	conns.accept_resume = 0;
}

void
conn_foreach(void (*fn)(struct sse_conn *))
{
	struct sse_conn *c, *next;

	for (c = LIST_FIRST(&conns.all); c != NULL; c = next) {
		next = LIST_NEXT(c, all);
		fn(c);
	}
}

bool
conn_none_left(void)
{
	return LIST_EMPTY(&conns.all);
}

void
conn_free_all(void)
{
	while (!LIST_EMPTY(&conns.all))
		conn_close(LIST_FIRST(&conns.all));
}
