/*
 * Load generator of tests/bench/sse: N event-stream subscribers on one
 * epoll loop. Each `data:` line carrying "seq":K and "sentAt":MS (ms
 * since the epoch, as the publisher stamped it) counts as a delivery of
 * event K; its latency is the arrival time (CLOCK_REALTIME) minus MS.
 * Prints one JSON line: deliveries, events that reached every client,
 * p50/p99/max latency over all (client, event) pairs.
 *
 *   sse-load -p PORT -u PATH -n CLIENTS -e EVENTS [-t SECONDS]
 *            [-r READYFILE] [-i IDLE_MS] [-b] [-f FILTERS -m MOD]
 *
 * With -f, client i asks for ?where=doc.priceCents >= (i % FILTERS), and
 * event K (published with priceCents K * 7919 % MOD, spread over the
 * range) is due to it exactly when that price >= i % FILTERS: a delivery of an event not due is counted as
 * "wrong", and a client is complete once it has every event due to it.
 *
 * READYFILE is written once every stream has its response headers, so
 * the caller starts publishing then. The run ends when every client has
 * event EVENTS-1, after IDLE_MS without a delivery once one was seen, or
 * SECONDS after ready. -b runs the generator as a SCHED_BATCH task.
 */
#define _GNU_SOURCE

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN	512
#define HDR_MAX		2048
#define INFLIGHT_MAX	256
#define OPEN_TIMEOUT_MS	120000

enum body_state {
	B_SIZE,		/* reading a chunk-size line */
	B_DATA,		/* inside a chunk */
	B_DATA_END,	/* CRLF after a chunk */
	B_PLAIN		/* not chunked: bytes until close */
};

struct client {
	int		fd;
	bool		connected;
	bool		open;		/* headers seen */
	bool		closed;
	bool		chunked;
	enum body_state	bs;
	size_t		chunk_left;
	char		hdr[HDR_MAX];
	size_t		hdr_len;
	char		line[LINE_MAX_LEN];
	size_t		line_len;
	size_t		got;		/* events received */
};

static struct client *clients;
static size_t nclients, nevents;
static uint8_t *seen;			/* nclients x nevents bits */
static size_t *per_event;		/* clients that got event k */
static double *lat;
static size_t nlat, lat_cap;
static size_t dups, bad_lines, complete_clients, wrong;
static size_t nfilters, price_mod = 1;
static size_t *want;			/* events due to client i */
static size_t *per_event_want;		/* clients event k is due to */

/* Is event k due to client ci (its filter admits it)? */
static bool
due(size_t ci, size_t k)
{
	return nfilters == 0 || k * 7919 % price_mod >= ci % nfilters;
}
static double last_delivery_ms;

/* Wall clock in ms, to compare with the publisher's stamp. */
static double
real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Monotonic ms for deadlines. */
static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Take every descriptor the hard limit allows, at most 20,000. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (rl.rlim_cur > 20000)
		rl.rlim_cur = 20000;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		perror("setrlimit");
}

/*
 * Clients on the same machine must not preempt the servers each time a
 * few bytes arrive (remote browsers cost the servers nothing): as a batch
 * task the generator never preempts on wakeup and reads what piled up.
 */
static void
be_batch(void)
{
	struct sched_param sp;

	memset(&sp, 0, sizeof(sp));
	if (sched_setscheduler(0, SCHED_BATCH, &sp) == -1)
		perror("sched_setscheduler SCHED_BATCH");
}

/* Record one data: line of client ci. */
static void
on_data(size_t ci, const char *s, size_t len, double now)
{
	const char *p, *q;
	char num[64];
	unsigned long long k;
	double sent;
	size_t n, bit;

	p = memmem(s, len, "\"seq\":", 6);
	q = memmem(s, len, "\"sentAt\":", 9);
	if (p == NULL || q == NULL) {
		bad_lines++;
		return;
	}
	p += 6;
	n = len - (size_t)(p - s);
	if (n > sizeof(num) - 1)
		n = sizeof(num) - 1;
	memcpy(num, p, n);
	num[n] = '\0';
	k = strtoull(num, NULL, 10);
	q += 9;
	n = len - (size_t)(q - s);
	if (n > sizeof(num) - 1)
		n = sizeof(num) - 1;
	memcpy(num, q, n);
	num[n] = '\0';
	sent = strtod(num, NULL);
	if (k >= nevents) {
		bad_lines++;
		return;
	}
	bit = ci * nevents + k;
	if (seen[bit / 8] & (1u << (bit % 8))) {
		dups++;
		return;
	}
	seen[bit / 8] |= (uint8_t)(1u << (bit % 8));
	if (!due(ci, k)) {
		wrong++;
		return;
	}
	per_event[k]++;
	if (nlat == lat_cap) {
		lat_cap = lat_cap ? lat_cap * 2 : 65536;
		lat = realloc(lat, lat_cap * sizeof(*lat));
		if (lat == NULL) {
			perror("realloc");
			exit(1);
		}
	}
	lat[nlat++] = now - sent;
	last_delivery_ms = now;
	if (++clients[ci].got == want[ci])
		complete_clients++;
}

/* Body bytes of the event stream: split into lines. */
static void
on_body(size_t ci, const char *s, size_t len, double now)
{
	struct client *c = &clients[ci];
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\n') {
			if (c->line_len >= 5 &&
			    memcmp(c->line, "data:", 5) == 0)
				on_data(ci, c->line, c->line_len, now);
			c->line_len = 0;
			continue;
		}
		if (c->line_len < sizeof(c->line))
			c->line[c->line_len++] = s[i];
	}
}

/* Undo chunked transfer coding, if any. False on a framing error. */
static bool
on_bytes(size_t ci, const char *s, size_t len, double now)
{
	struct client *c = &clients[ci];
	size_t n;

	while (len > 0) {
		switch (c->bs) {
		case B_PLAIN:
			on_body(ci, s, len, now);
			return true;
		case B_DATA:
			n = len < c->chunk_left ? len : c->chunk_left;
			on_body(ci, s, n, now);
			s += n;
			len -= n;
			c->chunk_left -= n;
			if (c->chunk_left == 0) {
				c->bs = B_DATA_END;
				c->hdr_len = 0;
			}
			break;
		case B_DATA_END:
		case B_SIZE:
			/* A line: collect it in hdr. */
			if (*s != '\n') {
				if (c->hdr_len + 1 >= sizeof(c->hdr))
					return false;
				c->hdr[c->hdr_len++] = *s;
				s++;
				len--;
				break;
			}
			s++;
			len--;
			c->hdr[c->hdr_len] = '\0';
			if (c->bs == B_DATA_END) {
				c->bs = B_SIZE;
				c->hdr_len = 0;
				break;
			}
			c->chunk_left = strtoul(c->hdr, NULL, 16);
			c->hdr_len = 0;
			if (c->chunk_left == 0)
				return false;	/* the stream ended */
			c->bs = B_DATA;
			break;
		}
	}
	return true;
}

/* Headers complete in c->hdr: check status, note chunking. */
static bool
on_headers(struct client *c)
{
	const char *p;

	if (c->hdr_len < 12 || memcmp(c->hdr, "HTTP/1.", 7) != 0 ||
	    memcmp(c->hdr + 9, "200", 3) != 0) {
		fprintf(stderr, "sse-load: bad answer: %.80s\n", c->hdr);
		return false;
	}
	for (p = c->hdr; (p = strchr(p, '\n')) != NULL; p++) {
		if (strncasecmp(p + 1, "transfer-encoding:", 18) == 0 &&
		    strstr(p, "chunked") != NULL)
			c->chunked = true;
	}
	c->bs = c->chunked ? B_SIZE : B_PLAIN;
	c->open = true;
	c->hdr_len = 0;
	return true;
}

/* Read what the server sent; false when the client is done. */
static bool
client_read(size_t ci, double now)
{
	static char buf[65536];
	struct client *c = &clients[ci];
	const char *end;
	ssize_t n;
	size_t off, take;

	for (;;) {
		n = read(c->fd, buf, sizeof(buf));
		if (n == 0)
			return false;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		off = 0;
		if (!c->open) {
			take = (size_t)n;
			if (take > sizeof(c->hdr) - 1 - c->hdr_len)
				take = sizeof(c->hdr) - 1 - c->hdr_len;
			memcpy(c->hdr + c->hdr_len, buf, take);
			c->hdr_len += take;
			c->hdr[c->hdr_len] = '\0';
			end = strstr(c->hdr, "\r\n\r\n");
			if (end == NULL) {
				if (c->hdr_len + 1 >= sizeof(c->hdr))
					return false;
				continue;
			}
			off = (size_t)(end + 4 - c->hdr) -
			    (c->hdr_len - take);
			c->hdr_len = (size_t)(end + 4 - c->hdr);
			if (!on_headers(c))
				return false;
		}
		if (!on_bytes(ci, buf + off, (size_t)n - off, now))
			return false;
		if ((size_t)n < sizeof(buf))
			return true;
	}
}

/* Start a non-blocking connection for client ci. */
static bool
client_connect(int ep, size_t ci, const struct sockaddr_in *sa)
{
	struct client *c = &clients[ci];
	struct epoll_event ee;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (c->fd == -1) {
		perror("socket");
		return false;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1 &&
	    errno != EINPROGRESS) {
		perror("connect");
		return false;
	}
	memset(&ee, 0, sizeof(ee));
	ee.events = EPOLLIN | EPOLLOUT;
	ee.data.u64 = ci;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ee) == -1) {
		perror("epoll_ctl");
		return false;
	}
	return true;
}

/* Connected: send the request, then wait for input only. */
static bool
client_send(int ep, size_t ci, const char *req, size_t reqlen)
{
	struct client *c = &clients[ci];
	struct epoll_event ee;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1 ||
	    soerr != 0) {
		fprintf(stderr, "sse-load: connect: %s\n", strerror(soerr));
		return false;
	}
	if (write(c->fd, req, reqlen) != (ssize_t)reqlen) {
		perror("write");
		return false;
	}
	c->connected = true;
	memset(&ee, 0, sizeof(ee));
	ee.events = EPOLLIN;
	ee.data.u64 = ci;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ee);
	return true;
}

/* Sort doubles. */
static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-th quantile of the sorted latencies. */
static double
pct(double p)
{
	size_t i;

	if (nlat == 0)
		return -1;
	i = (size_t)((double)nlat * p);
	if (i >= nlat)
		i = nlat - 1;
	return lat[i];
}

static void
usage(void)
{
	fprintf(stderr, "usage: sse-load -p PORT -u PATH -n CLIENTS "
	    "-e EVENTS [-t SECONDS] [-r READYFILE] [-i IDLE_MS] [-b]\n"
	    "                [-f FILTERS -m MOD]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct epoll_event evs[1024];
	struct sockaddr_in sa;
	const char *path = NULL, *ready = NULL;
	char req[512];
	size_t i, next = 0, opened = 0, pending = 0, closed = 0, full = 0;
	size_t reqlen, expected = 0;
	int ch, ep, n, port = 0, secs = 60, idle = 5000, k;
	bool batch = false;
	int64_t deadline, t0;
	double now;
	FILE *f;

	while ((ch = getopt(argc, argv, "bp:u:n:e:t:r:i:f:m:")) != -1) {
		switch (ch) {
		case 'f': nfilters = strtoul(optarg, NULL, 10); break;
		case 'm': price_mod = strtoul(optarg, NULL, 10); break;
		case 'b': batch = true; break;
		case 'p': port = (int)strtol(optarg, NULL, 10); break;
		case 'u': path = optarg; break;
		case 'n': nclients = strtoul(optarg, NULL, 10); break;
		case 'e': nevents = strtoul(optarg, NULL, 10); break;
		case 't': secs = (int)strtol(optarg, NULL, 10); break;
		case 'r': ready = optarg; break;
		case 'i': idle = (int)strtol(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (port <= 0 || path == NULL || nclients == 0 || nevents == 0 ||
	    nclients > 20000 || price_mod == 0)
		usage();
	raise_nofile();
	if (batch)
		be_batch();
	reqlen = (size_t)snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nAccept: text/event-stream\r\n"
	    "Cache-Control: no-cache\r\n\r\n", path);
	clients = calloc(nclients, sizeof(*clients));
	seen = calloc((nclients * nevents + 7) / 8, 1);
	per_event = calloc(nevents, sizeof(*per_event));
	want = calloc(nclients, sizeof(*want));
	per_event_want = calloc(nevents, sizeof(*per_event_want));
	if (clients == NULL || seen == NULL || per_event == NULL ||
	    want == NULL || per_event_want == NULL) {
		perror("calloc");
		return 1;
	}
	for (i = 0; i < nclients; i++)
		for (k = 0; (size_t)k < nevents; k++)
			if (due(i, (size_t)k)) {
				want[i]++;
				per_event_want[k]++;
				expected++;
			}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep == -1) {
		perror("epoll_create1");
		return 1;
	}

	/* Open every stream, a bounded number in flight at a time. */
	t0 = mono_ms();
	while (opened < nclients) {
		while (next < nclients && pending < INFLIGHT_MAX) {
			if (!client_connect(ep, next, &sa))
				return 1;
			next++;
			pending++;
		}
		if (mono_ms() - t0 > OPEN_TIMEOUT_MS) {
			fprintf(stderr, "sse-load: only %zu of %zu streams "
			    "opened\n", opened, nclients);
			return 1;
		}
		n = epoll_wait(ep, evs, 1024, 200);
		now = real_ms();
		for (k = 0; k < n; k++) {
			i = (size_t)evs[k].data.u64;
			if (clients[i].closed)
				continue;
			if (!clients[i].connected) {
				if (nfilters > 0)
					reqlen = (size_t)snprintf(req,
					    sizeof(req), "GET %s?where="
					    "doc.priceCents%%20%%3E%%3D%%20%zu"
					    " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
					    "Accept: text/event-stream\r\n\r\n",
					    path, i % nfilters);
				if (!client_send(ep, i, req, reqlen))
					return 1;
				continue;
			}
			if (!client_read(i, now)) {
				fprintf(stderr, "sse-load: stream %zu closed "
				    "while opening\n", i);
				return 1;
			}
		}
		for (opened = 0, i = 0; i < next; i++)
			if (clients[i].open)
				opened++;
		pending = next - opened;
	}
	fprintf(stderr, "sse-load: %zu streams open in %lld ms\n", opened,
	    (long long)(mono_ms() - t0));
	if (ready != NULL) {
		f = fopen(ready, "w");
		if (f == NULL || fprintf(f, "%zu\n", opened) < 0 ||
		    fclose(f) != 0) {
			perror(ready);
			return 1;
		}
	}

	/* Receive until all is in, things go quiet, or time is up. */
	deadline = mono_ms() + (int64_t)secs * 1000;
	while (complete_clients < nclients && mono_ms() < deadline) {
		if (nlat > 0 && real_ms() - last_delivery_ms > idle)
			break;
		n = epoll_wait(ep, evs, 1024, 100);
		now = real_ms();
		for (k = 0; k < n; k++) {
			i = (size_t)evs[k].data.u64;
			if (clients[i].closed)
				continue;
			if (!client_read(i, now)) {
				clients[i].closed = true;
				close(clients[i].fd);
				closed++;
			}
		}
	}
	for (i = 0; i < nevents; i++)
		if (per_event[i] == per_event_want[i])
			full++;
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("{\"clients\":%zu,\"events\":%zu,\"complete_events\":%zu,"
	    "\"deliveries\":%zu,\"expected\":%zu,\"p50\":%.2f,\"p99\":%.2f,"
	    "\"max\":%.2f,\"closed\":%zu,\"dups\":%zu,\"bad_lines\":%zu,"
	    "\"wrong\":%zu,\"filters\":%zu}\n",
	    nclients, nevents, full, nlat, expected, pct(0.50),
	    pct(0.99), nlat ? lat[nlat - 1] : -1.0, closed, dups, bad_lines,
	    wrong, nfilters);
	for (i = 0; i < nclients; i++)
		if (!clients[i].closed)
			close(clients[i].fd);
	close(ep);
	free(clients);
	free(seen);
	free(per_event);
	free(want);
	free(per_event_want);
	free(lat);
	return 0;
}
