/*
 * ordercast-sse: the FastCGI endpoint /api/events. One thread, one epoll
 * loop holding every FastCGI connection and one Redis subscriber, so a
 * process serves thousands of event streams.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "oc-config.h"
#include "oc-daemon.h"
#include "oc-keys.h"
#include "oc-log.h"
#include "oc-xmalloc.h"
#include "sse.h"

#define LISTEN_BACKLOG	4096
#define MAX_EVENTS	256
#define DRAIN_MS	3000
#define SLICE_US	20000	/* scheduler slice asked for, see below */

/* The kernel's struct sched_attr (first version); libc lacks it. */
struct slice_attr {
	uint32_t	size;
	uint32_t	sched_policy;
	uint64_t	sched_flags;
	int32_t		sched_nice;
	uint32_t	sched_priority;
	uint64_t	sched_runtime;
	uint64_t	sched_deadline;
	uint64_t	sched_period;
};

enum {
	OPT_RING = OC_DAEMON_OPT_OWN,
	OPT_QUEUE_MAX
};

static const struct option own_options[] = {
	{ "ring", required_argument, NULL, OPT_RING },
	{ "queue-max", required_argument, NULL, OPT_QUEUE_MAX },
	{ NULL, 0, NULL, 0 }
};

/* The relay's own options: sizes of the ring and of client queues. */
static bool
own_option(void *arg, int val, const char *optarg, char *err,
    size_t errlen)
{
	struct sse_settings *set = arg;
	long v;

	switch (val) {
	case OPT_RING:
		if (!oc_parse_long(optarg, 16, 10000000, &v)) {
			snprintf(err, errlen, "--ring: expected 16 to 10000000");
			return false;
		}
		set->ring_size = (size_t)v;
		return true;
	case OPT_QUEUE_MAX:
		if (!oc_parse_long(optarg, 4096, 1L << 30, &v)) {
			snprintf(err, errlen, "--queue-max: expected 4096 to 2^30");
			return false;
		}
		set->queue_max = (size_t)v;
		return true;
	}
	return false;
}

/* Each stream holds a descriptor: take all the system lets us. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
	log_debug("open file limit %llu", (unsigned long long)rl.rlim_cur);
}

/*
 * One event goes to every client in one pass of writes; each write wakes
 * the web server, whose wakeups would otherwise cut the pass into many
 * short turns on a busy machine and delay the last clients by far more
 * than the pass costs. Ask the scheduler (Linux 6.12 and later) for a
 * longer slice; elsewhere this does nothing.
 */
static void
ask_long_slice(void)
{
#ifdef SYS_sched_setattr
	struct slice_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.sched_policy = SCHED_OTHER;
	attr.sched_runtime = (uint64_t)SLICE_US * 1000;
	if (syscall(SYS_sched_setattr, 0, &attr, 0) == -1)
		log_debug("sched_setattr: %s", strerror(errno));
#endif
}

/*
 * The listening socket: --listen, or fd 0 from the web server. Returns
 * -1 when there is none (plain CGI), -2 (logged) when --listen fails.
 */
static int
listener_open(struct oc_daemon *d)
{
	char err[256];
	int fd, flags;

	fd = oc_daemon_listen(d, LISTEN_BACKLOG, err, sizeof(err));
	if (fd == -1) {
		log_errorx("%s", err);
		return -2;
	}
	if (fd == -2) {
		if (FCGX_IsCGI())
			return -1;
		fd = FCGI_LISTENSOCK_FILENO;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		fatal("fcntl listener");
	return fd;
}

/* Run as plain CGI: an event stream needs a FastCGI server. */
static void
cgi_refuse(void)
{
	printf("Status: 503 Service Unavailable\r\n"
	    "Content-Type: application/json; charset=utf-8\r\n"
	    "Retry-After: 60\r\n\r\n"
	    "{\"error\":{\"code\":\"unavailable\",\"message\":"
	    "\"the event stream needs ordercast-sse as a FastCGI server\"}}\n");
	fflush(stdout);
}

/* Hand each ready descriptor to the layer that owns it. */
static void
dispatch(struct epoll_event *evs, int n, bool accepting)
{
	enum sse_kind *kind;
	int i;

	for (i = 0; i < n; i++) {
		kind = evs[i].data.ptr;
		if (*kind == SSE_KIND_LISTEN) {
			if (accepting)
				conn_accept();
		} else if (*kind == SSE_KIND_SIGNAL)
			oc_daemon_handle_signals();
		else if (*kind == SSE_KIND_REDIS)
			feed_io(evs[i].data.ptr, evs[i].events);
		else
			request_io(evs[i].data.ptr, evs[i].events);
	}
}

/* The loop: I/O, then timers, then writes; it never waits on Redis. */
static void
run_loop(int epfd)
{
	struct epoll_event evs[MAX_EVENTS];
	int64_t now, wait, t;
	int n;

	while (!oc_daemon_stopping()) {
		now = oc_mono_ms();
		wait = 1000;
		t = feed_next_ms(now);
		if (t < wait)
			wait = t;
		t = conn_next_ms(now);
		if (t < wait)
			wait = t;
		t = stream_next_ms(now);
		if (t < wait)
			wait = t;
		n = epoll_wait(epfd, evs, MAX_EVENTS, (int)wait);
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		dispatch(evs, n < 0 ? 0 : n, true);
		now = oc_mono_ms();
		feed_tick(now);
		conn_tick(now);
		stream_tick(now);
		conn_flush_pending();
	}
}

/* After SIGTERM: let answers and the last counters go out, a little. */
static void
drain(int epfd)
{
	struct epoll_event evs[MAX_EVENTS];
	int64_t deadline = oc_mono_ms() + DRAIN_MS;
	int n;

	conn_flush_pending();
	while ((!conn_none_left() || !feed_idle()) &&
	    oc_mono_ms() < deadline) {
		n = epoll_wait(epfd, evs, MAX_EVENTS, 100);
		dispatch(evs, n < 0 ? 0 : n, false);
		conn_tick(oc_mono_ms());
		conn_flush_pending();
	}
}

/* Every setting of the relay: the ring, client queues, replays. */
static struct sse_settings settings = {
	.ring_size = 4096,
	.queue_max = 1048576,
	.replay_batch = 200,
};

static const struct oc_daemon_spec spec = {
	.prog = "ordercast-sse",
	.listen = true,
	.synopsis = "[--ring N] [--queue-max BYTES]",
	.help =
	    "  --ring N          recent events kept in memory (4096)\n"
	    "  --queue-max BYTES bytes queued per client before it is\n"
	    "                    closed as too slow (1048576)\n",
	.about = "Relays ordercast events from Redis to browsers as\n"
	    "text/event-stream (GET /api/events) over FastCGI. Without\n"
	    "--listen it serves the FastCGI socket on fd 0 that a web\n"
	    "server passes. Configuration comes from ORDERCAST_* variables.",
	.options = own_options,
	.option = own_option,
	.arg = &settings,
};

/* Validate, then serve streams until told to stop. */
int
main(int argc, char *argv[])
{
	static enum sse_kind listen_kind = SSE_KIND_LISTEN;
	static enum sse_kind signal_kind = SSE_KIND_SIGNAL;
	struct sse_settings *set = &settings;
	struct oc_daemon d;
	struct oc_config cfg;
	struct oc_keys keys;
	struct epoll_event ee;
	char err[512];
	int lfd, epfd, rc;

	if (!oc_daemon_parse(&d, &spec, argc, argv, &rc))
		return rc;
	rc = 1;
	memset(&cfg, 0, sizeof(cfg));
	memset(&keys, 0, sizeof(keys));
	log_init(spec.prog, OC_LOG_INFO, false);
	if (!oc_daemon_open_log(&d))
		goto done;
	if (!oc_config_load(&cfg, err, sizeof(err))) {
		log_errorx("%s", err);
		goto done;
	}
	log_set_level(cfg.log_level);
	oc_config_log(&cfg);
	oc_keys_init(&keys, cfg.prefix);
	set->cfg = &cfg;
	set->keys = &keys;
	if (d.check) {
		oc_daemon_print_check(&d, &cfg, stdout);
		rc = 0;
		goto done;
	}
	if (FCGX_Init() != 0) {
		log_errorx("FCGX_Init failed");
		goto done;
	}
	lfd = listener_open(&d);
	if (lfd == -2)
		goto done;
	if (lfd == -1) {
		cgi_refuse();
		rc = 0;
		goto done;
	}
	if (!oc_daemon_signals(err, sizeof(err))) {
		log_errorx("%s", err);
		goto done;
	}
	raise_nofile();
	ask_long_slice();
	if (!oc_daemon_write_pidfile(&d))
		goto done;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd == -1)
		fatal("epoll_create1");
	memset(&ee, 0, sizeof(ee));
	ee.events = EPOLLIN;
	ee.data.ptr = &listen_kind;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ee) == -1)
		fatal("epoll_ctl listener");
	ee.data.ptr = &signal_kind;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, oc_daemon_signal_fd(), &ee) == -1)
		fatal("epoll_ctl signals");
	conn_init(epfd);
	conn_set_listener(lfd, &listen_kind);
	request_init(set, &stream_ops);
	stream_init(set);
	feed_init(set, epfd, stream_deliver, stream_session_ended);
	log_info("serving event streams on %s (max %ld clients, ring %zu)",
	    d.listen != NULL ? d.listen : "fd 0", cfg.sse_max_clients,
	    set->ring_size);
	run_loop(epfd);
	log_info("stopping: ending %zu streams", stream_clients());
	epoll_ctl(epfd, EPOLL_CTL_DEL, lfd, NULL);
	close(lfd);
	conn_stop_accepting();
	stream_shutdown();
	request_shutdown();
	feed_shutdown();
	drain(epfd);
	conn_free_all();
	feed_free();
	stream_free();
	close(epfd);
	rc = 0;
done:
	oc_daemon_cleanup(&d);
	oc_keys_clear(&keys);
	oc_config_clear(&cfg);
	return rc;
}
