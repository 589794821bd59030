/*
 * Readers of tests/bench/soak: N event streams on one epoll loop, a share
 * of which leave and come back with Last-Event-ID at random intervals,
 * as browsers do. Each stream checks that the ids it receives only grow
 * (over all its connections) and keeps the set of ids it got. At the end
 * it reads PREFIX:log from Redis and compares: every event the log holds
 * at or after a stream's first id that its filter admits must have been
 * received once (lost, duplicated, out of order and unexpected must all
 * be 0).
 *
 *   soak-read -p PORT -n STREAMS -d CTLDIR -r REDIS_SOCKET -x PREFIX
 *             [-c CUSTOMER,CUSTOMER] [-s SHARE%] [-i MIN_S] [-I MAX_S]
 *             [-g GRACE_S] [-t SECONDS] [-S SEED]
 *
 * The token for `Authorization: Bearer` comes from SOAK_TOKEN. The caller
 * steers it with files in CTLDIR:
 *   hold   while present, nobody leaves and the absent come back at once
 *   final  read the log, hold, and write CTLDIR/result (JSON) once every
 *          stream has all it should have or GRACE_S has passed
 *   exit   close everything and exit
 * and reads CTLDIR/status, rewritten every second (JSON counters).
 * Everything ends after SECONDS (default 3600) with exit status 1.
 */
#define _GNU_SOURCE

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <json-c/json.h>

#define LINE_KEEP	256	/* bytes of a line kept: enough for id, event */
#define HDR_MAX		4096
#define INFLIGHT_MAX	128	/* connections opening at once */
#define OID_LEN		24
#define LOG_PAGE	"1000"

#define T_ORDERS	0x01u
#define T_PRODUCTS	0x02u
#define T_USERS		0x04u
#define T_ALERTS	0x08u
#define T_SYSTEM	0x10u
#define T_ALL		0x0fu

/* A Redis stream id. */
struct sid {
	uint64_t	ms;
	uint64_t	seq;
};

enum cstate {
	C_DOWN,		/* waiting to (re)connect */
	C_CONNECTING,	/* TCP connect in progress */
	C_HEADERS,	/* request sent, reading response headers */
	C_OPEN		/* reading the event stream */
};

enum body_state {
	B_SIZE,		/* a chunk-size line */
	B_DATA,		/* inside a chunk */
	B_DATA_END,	/* the CRLF after a chunk */
	B_PLAIN		/* not chunked */
};

struct stream {
	int		fd;
	enum cstate	state;
	unsigned	topics;
	int		customer;	/* index in customers, -1 for none */
	bool		leaves;		/* one of those that reconnect */
	bool		away;		/* left on purpose, not yet back */
	int64_t		leave_at;	/* ms: next voluntary disconnect */
	int64_t		connect_at;	/* ms: next connection attempt */
	enum body_state	bs;
	size_t		chunk_left;
	char		hdr[HDR_MAX];
	size_t		hdr_len;
	char		line[LINE_KEEP];
	size_t		line_len;
	/* The event block being read. */
	bool		blk_has_id;
	bool		blk_has_data;
	struct sid	blk_id;
	char		blk_type[32];
	/* What the stream has seen over all its connections. */
	bool		has_first;
	struct sid	first;
	bool		has_last;
	struct sid	last;
	uint64_t	*bits;		/* ids received, by index in ids[] */
	bool		complete;
	uint64_t	received, dups, disorder, resyncs;
	uint64_t	leaves_done, server_closes, refused, conn_errors;
};

/* Every id any stream received, and where it is found. */
struct id_table {
	struct sid	*ids;		/* by index */
	size_t		 n, cap;	/* cap: bits per stream bitmap */
	uint32_t	*slots;		/* open addressing, index + 1 */
	size_t		 nslots;
};

/* One entry of PREFIX:log. */
struct log_event {
	struct sid	id;
	unsigned	topic;
	int		customer;	/* index in customers, -1 for other */
	int64_t		idx;		/* in ids[], -1 when nobody got it */
};

static struct stream *streams;
static size_t nstreams;
static struct id_table tab;
static char **customers;
static size_t ncustomers;
static struct log_event *logv;
static size_t nlog;
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static int leave_min_s = 5, leave_max_s = 40;

/* Exit with a message: the soak cannot go on. */
static void
die(const char *what)
{
	fprintf(stderr, "soak-read: %s\n", what);
	exit(1);
}

/* Allocation that cannot fail (the run is over if it does). */
static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* Monotonic ms for deadlines and timers. */
static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: reproducible randomness from the seed. */
static uint64_t
rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* A uniform integer in [lo, hi]. */
static int64_t
rnd_between(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

/* Parse "ms-seq"; false unless the whole text is one. */
static bool
sid_parse(const char *s, size_t len, struct sid *out)
{
	char buf[48], *end;
	const char *dash;
	unsigned long long ms, seq;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	dash = strchr(buf, '-');
	if (dash == NULL || dash == buf || buf[0] < '0' || buf[0] > '9' ||
	    dash[1] < '0' || dash[1] > '9')
		return false;
	errno = 0;
	ms = strtoull(buf, &end, 10);
	if (errno != 0 || end != dash)
		return false;
	seq = strtoull(dash + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	out->ms = ms;
	out->seq = seq;
	return true;
}

/* Order of two stream ids: <0, 0, >0. */
static int
sid_cmp(const struct sid *a, const struct sid *b)
{
	if (a->ms != b->ms)
		return a->ms < b->ms ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return 0;
}

/* Slot of an id in the open-addressing table. */
static size_t
tab_slot(const struct sid *id)
{
	uint64_t h = id->ms * 0x9e3779b97f4a7c15ULL ^ (id->seq + 0x632be5ab);

	h ^= h >> 29;
	return (size_t)(h % tab.nslots);
}

/* Index of an id, or -1 when no stream received it. */
static int64_t
tab_find(const struct sid *id)
{
	size_t s = tab_slot(id);

	while (tab.slots[s] != 0) {
		if (sid_cmp(&tab.ids[tab.slots[s] - 1], id) == 0)
			return (int64_t)tab.slots[s] - 1;
		s = (s + 1) % tab.nslots;
	}
	return -1;
}

/* Rebuild the hash slots at twice the size. */
static void
tab_rehash(void)
{
	size_t i, s;

	free(tab.slots);
	tab.nslots = tab.nslots ? tab.nslots * 2 : 1 << 17;
	tab.slots = xcalloc(tab.nslots, sizeof(*tab.slots));
	for (i = 0; i < tab.n; i++) {
		s = tab_slot(&tab.ids[i]);
		while (tab.slots[s] != 0)
			s = (s + 1) % tab.nslots;
		tab.slots[s] = (uint32_t)i + 1;
	}
}

/* Grow the id array and every stream's bitmap to twice the size. */
static void
tab_grow(void)
{
	size_t i, ncap = tab.cap ? tab.cap * 2 : 1 << 16;
	uint64_t *b;
	struct sid *ids;

	ids = realloc(tab.ids, ncap * sizeof(*ids));
	if (ids == NULL)
		die("out of memory");
	tab.ids = ids;
	for (i = 0; i < nstreams; i++) {
		b = xcalloc(ncap / 64, sizeof(*b));
		if (streams[i].bits != NULL)
			memcpy(b, streams[i].bits, tab.cap / 8);
		free(streams[i].bits);
		streams[i].bits = b;
	}
	tab.cap = ncap;
}

/* Index of an id, adding it when new. */
static size_t
tab_add(const struct sid *id)
{
	int64_t found = tab_find(id);
	size_t s;

	if (found >= 0)
		return (size_t)found;
	if (tab.n == tab.cap)
		tab_grow();
	if ((tab.n + 1) * 2 > tab.nslots)
		tab_rehash();
	tab.ids[tab.n] = *id;
	s = tab_slot(id);
	while (tab.slots[s] != 0)
		s = (s + 1) % tab.nslots;
	tab.slots[s] = (uint32_t)tab.n + 1;
	return tab.n++;
}

/* Whether stream c has id index i. */
static bool
has_bit(const struct stream *c, size_t i)
{
	return (c->bits[i / 64] >> (i % 64)) & 1u;
}

/* The topic of an event type, as the relay files it. */
static unsigned
topic_of_type(const char *type)
{
	if (strncmp(type, "order.", 6) == 0)
		return T_ORDERS;
	if (strncmp(type, "product.", 8) == 0)
		return T_PRODUCTS;
	if (strncmp(type, "user.", 5) == 0)
		return T_USERS;
	if (strncmp(type, "alert.", 6) == 0)
		return T_ALERTS;
	return T_SYSTEM;
}

/* Whether the filter of stream c admits a log event (the documented
 * rule: system to all; topics; with customerId, that customer's orders
 * and no user events). */
static bool
admits(const struct stream *c, const struct log_event *e)
{
	if (e->topic == T_SYSTEM)
		return true;
	if ((c->topics & e->topic) == 0)
		return false;
	if (c->customer < 0)
		return true;
	if (e->topic == T_ORDERS)
		return e->customer == c->customer;
	return e->topic != T_USERS;
}

/* One whole event block arrived on stream c. */
static void
on_event(struct stream *c)
{
	size_t i;

	if (!c->blk_has_data || !c->blk_has_id)
		return;
	if (strncmp(c->blk_type, "system.", 7) == 0) {
		/* Not in the log: history was lost for this stream. */
		c->resyncs++;
		c->last = c->blk_id;
		c->has_last = true;
		return;
	}
	c->received++;
	if (c->has_last && sid_cmp(&c->blk_id, &c->last) <= 0) {
		i = tab_add(&c->blk_id);
		if (has_bit(c, i))
			c->dups++;
		else
			c->disorder++;
		c->bits[i / 64] |= 1ULL << (i % 64);
		return;
	}
	i = tab_add(&c->blk_id);
	c->bits[i / 64] |= 1ULL << (i % 64);
	c->last = c->blk_id;
	c->has_last = true;
	if (!c->has_first) {
		c->first = c->blk_id;
		c->has_first = true;
	}
}

/* One line of the event stream (without its newline). */
static void
on_line(struct stream *c, const char *s, size_t len)
{
	const char *v;
	size_t vlen;

	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (len == 0) {
		on_event(c);
		c->blk_has_id = c->blk_has_data = false;
		c->blk_type[0] = '\0';
		return;
	}
	if (s[0] == ':')
		return;
	v = memchr(s, ':', len);
	if (v == NULL)
		return;
	vlen = len - (size_t)(v + 1 - s);
	v++;
	if (vlen > 0 && *v == ' ') {
		v++;
		vlen--;
	}
	if ((size_t)(v - s) == 4 && memcmp(s, "id:", 3) == 0)
		c->blk_has_id = sid_parse(v, vlen, &c->blk_id);
	else if ((size_t)(v - s) >= 6 && memcmp(s, "event:", 6) == 0) {
		if (vlen >= sizeof(c->blk_type))
			vlen = sizeof(c->blk_type) - 1;
		memcpy(c->blk_type, v, vlen);
		c->blk_type[vlen] = '\0';
	} else if (memcmp(s, "data:", 5) == 0)
		c->blk_has_data = true;
}

/* Body bytes: split into lines, keeping the head of long ones. */
static void
on_body(struct stream *c, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\n') {
			on_line(c, c->line, c->line_len);
			c->line_len = 0;
		} else if (c->line_len < sizeof(c->line))
			c->line[c->line_len++] = s[i];
	}
}

/* Undo chunked transfer coding. False when the stream ended or broke. */
static bool
on_bytes(struct stream *c, const char *s, size_t len)
{
	size_t n;
	char *end;

	while (len > 0) {
		switch (c->bs) {
		case B_PLAIN:
			on_body(c, s, len);
			return true;
		case B_DATA:
			n = len < c->chunk_left ? len : c->chunk_left;
			on_body(c, s, n);
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
			c->chunk_left = strtoul(c->hdr, &end, 16);
			c->hdr_len = 0;
			if (end == c->hdr || c->chunk_left == 0)
				return false;
			c->bs = B_DATA;
			break;
		}
	}
	return true;
}

/* Close stream c's connection and plan its next one after delay_ms. */
static void
stream_drop(struct stream *c, int64_t now, int64_t delay_ms)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->state = C_DOWN;
	c->connect_at = now + delay_ms;
	c->line_len = 0;
	c->blk_has_id = c->blk_has_data = false;
	c->blk_type[0] = '\0';
}

/* The headers are in c->hdr: 200 opens the stream, anything else is a
 * refusal (the caller retries). */
static bool
on_headers(struct stream *c)
{
	const char *p;
	bool chunked = false;

	if (c->hdr_len < 12 || memcmp(c->hdr, "HTTP/1.", 7) != 0 ||
	    memcmp(c->hdr + 9, "200", 3) != 0) {
		if (c->refused < 3)
			fprintf(stderr, "soak-read: refused: %.60s\n",
			    c->hdr);
		c->refused++;
		return false;
	}
	for (p = c->hdr; (p = strchr(p, '\n')) != NULL; p++)
		if (strncasecmp(p + 1, "transfer-encoding:", 18) == 0 &&
		    strstr(p, "chunked") != NULL)
			chunked = true;
	c->bs = chunked ? B_SIZE : B_PLAIN;
	c->state = C_OPEN;
	c->hdr_len = 0;
	return true;
}

/* Read what arrived on c. False when the connection is over. */
static bool
stream_read(struct stream *c)
{
	static char buf[65536];
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
		if (c->state == C_HEADERS) {
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
		if (!on_bytes(c, buf + off, (size_t)n - off))
			return false;
		if ((size_t)n < sizeof(buf))
			return true;
	}
}

/* Start a non-blocking connection for stream c. */
static bool
stream_connect(int ep, size_t ci, const struct sockaddr_in *sa)
{
	struct stream *c = &streams[ci];
	struct epoll_event ee;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (c->fd == -1)
		return false;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1 &&
	    errno != EINPROGRESS)
		return false;
	memset(&ee, 0, sizeof(ee));
	ee.events = EPOLLIN | EPOLLOUT;
	ee.data.u64 = ci;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ee) == -1)
		return false;
	c->state = C_CONNECTING;
	c->hdr_len = 0;
	return true;
}

/* Connected: send the request (with Last-Event-ID once the stream has
 * seen an event), then wait for input only. */
static bool
stream_send(int ep, size_t ci, const char *token)
{
	struct stream *c = &streams[ci];
	struct epoll_event ee;
	char req[1024], query[160], last[96];
	int soerr = 0, n;
	socklen_t sl = sizeof(soerr);
	static const char *const tnames[] = {
		"orders", "products", "users", "alerts"
	};
	size_t i, qlen = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1 ||
	    soerr != 0)
		return false;
	query[0] = '\0';
	if (c->topics != T_ALL) {
		qlen = (size_t)snprintf(query, sizeof(query), "?topics=");
		for (i = 0; i < 4; i++)
			if (c->topics & (1u << i))
				qlen += (size_t)snprintf(query + qlen,
				    sizeof(query) - qlen, "%s%s",
				    query[qlen - 1] == '=' ? "" : ",",
				    tnames[i]);
	}
	if (c->customer >= 0)
		snprintf(query + qlen, sizeof(query) - qlen, "%scustomerId=%s",
		    qlen == 0 ? "?" : "&", customers[c->customer]);
	last[0] = '\0';
	if (c->has_last)
		snprintf(last, sizeof(last), "Last-Event-ID: %" PRIu64 "-%"
		    PRIu64 "\r\n", c->last.ms, c->last.seq);
	n = snprintf(req, sizeof(req), "GET /api/events%s HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nAccept: text/event-stream\r\n"
	    "Cache-Control: no-cache\r\nAuthorization: Bearer %s\r\n"
	    "%s\r\n", query, token, last);
	if (n < 0 || (size_t)n >= sizeof(req))
		die("request too long");
	if (write(c->fd, req, (size_t)n) != n)
		return false;
	c->state = C_HEADERS;
	memset(&ee, 0, sizeof(ee));
	ee.events = EPOLLIN;
	ee.data.u64 = ci;
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ee) == 0;
}

/* Whether a control file exists. */
static bool
ctl_has(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

/* Replace CTLDIR/name with text, atomically. */
static void
ctl_write(const char *dir, const char *name, const char *text)
{
	char path[4096], tmp[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	f = fopen(tmp, "w");
	if (f == NULL)
		die("cannot write in the control folder");
	fputs(text, f);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		die("cannot write in the control folder");
}

/* The customer index of a JSON event's doc.customerId, -1 for other. */
static int
event_customer(json_object *ev)
{
	json_object *doc, *cust;
	const char *s;
	size_t i;

	if (!json_object_object_get_ex(ev, "doc", &doc) ||
	    !json_object_is_type(doc, json_type_object) ||
	    !json_object_object_get_ex(doc, "customerId", &cust) ||
	    !json_object_is_type(cust, json_type_string))
		return -1;
	s = json_object_get_string(cust);
	for (i = 0; i < ncustomers; i++)
		if (strcasecmp(s, customers[i]) == 0)
			return (int)i;
	return -1;
}

/* Append one XRANGE entry to logv; false when it is malformed. */
static bool
log_take(const redisReply *entry, size_t *cap)
{
	const redisReply *f;
	struct log_event *e;
	json_object *ev = NULL, *type;
	size_t k;
	bool ok = false;

	if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
	    entry->element[0]->type != REDIS_REPLY_STRING ||
	    entry->element[1]->type != REDIS_REPLY_ARRAY)
		return false;
	if (nlog == *cap) {
		*cap = *cap ? *cap * 2 : 65536;
		logv = realloc(logv, *cap * sizeof(*logv));
		if (logv == NULL)
			die("out of memory");
	}
	e = &logv[nlog];
	if (!sid_parse(entry->element[0]->str, entry->element[0]->len,
	    &e->id))
		goto done;
	f = entry->element[1];
	for (k = 0; k + 1 < f->elements; k += 2)
		if (f->element[k]->type == REDIS_REPLY_STRING &&
		    strcmp(f->element[k]->str, "event") == 0)
			break;
	if (k + 1 >= f->elements || f->element[k + 1]->type !=
	    REDIS_REPLY_STRING)
		goto done;
	ev = json_tokener_parse(f->element[k + 1]->str);
	if (ev == NULL || !json_object_object_get_ex(ev, "type", &type) ||
	    !json_object_is_type(type, json_type_string))
		goto done;
	e->topic = topic_of_type(json_object_get_string(type));
	e->customer = e->topic == T_ORDERS ? event_customer(ev) : -1;
	e->idx = tab_find(&e->id);
	nlog++;
	ok = true;
done:
	json_object_put(ev);
	return ok;
}

/* Read all of PREFIX:log, a page at a time. */
static void
log_load(const char *sock, const char *prefix)
{
	redisContext *rc;
	redisReply *r;
	char key[256], from[64];
	size_t i, cap = 0;
	struct timeval tv = { 30, 0 };

	snprintf(key, sizeof(key), "%s:log", prefix);
	rc = redisConnectUnixWithTimeout(sock, tv);
	if (rc == NULL || rc->err)
		die("cannot connect to Redis");
	snprintf(from, sizeof(from), "-");
	for (;;) {
		r = redisCommand(rc, "XRANGE %s %s + COUNT " LOG_PAGE, key,
		    from);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY)
			die("XRANGE failed");
		for (i = 0; i < r->elements; i++)
			if (!log_take(r->element[i], &cap))
				die("malformed entry in the log");
		if (r->elements == 0) {
			freeReplyObject(r);
			break;
		}
		snprintf(from, sizeof(from), "(%" PRIu64 "-%" PRIu64,
		    logv[nlog - 1].id.ms, logv[nlog - 1].id.seq);
		freeReplyObject(r);
	}
	redisFree(rc);
}

/* Figures of one stream against the log. */
struct tally {
	uint64_t	expected, delivered, lost, unexpected;
};

/* Compare stream c with the log: what it should have and what it got
 * (the unexpected too when asked: a pass over every id). */
static void
stream_tally(const struct stream *c, struct tally *t, bool unexpected)
{
	size_t i, start, lo, hi;
	const struct log_event *e;
	int64_t pos;
	static int64_t *logpos;	/* by id index: position in logv, -1 */
	static size_t nlogpos;

	memset(t, 0, sizeof(*t));
	if (nlogpos != tab.n) {
		free(logpos);
		logpos = xcalloc(tab.n + 1, sizeof(*logpos));
		for (i = 0; i < tab.n; i++)
			logpos[i] = -1;
		for (i = 0; i < nlog; i++)
			if (logv[i].idx >= 0 && (size_t)logv[i].idx < tab.n)
				logpos[logv[i].idx] = (int64_t)i;
		nlogpos = tab.n;
	}
	if (!c->has_first)
		return;
	/* The first log entry at or after the stream's first id. */
	lo = 0;
	hi = nlog;
	while (lo < hi) {
		i = lo + (hi - lo) / 2;
		if (sid_cmp(&logv[i].id, &c->first) < 0)
			lo = i + 1;
		else
			hi = i;
	}
	start = lo;
	for (i = start; i < nlog; i++) {
		e = &logv[i];
		if (!admits(c, e))
			continue;
		t->expected++;
		if (e->idx >= 0 && has_bit(c, (size_t)e->idx))
			t->delivered++;
		else
			t->lost++;
	}
	if (!unexpected)
		return;
	/* What it got that it should not have: filtered out, or not in the
	 * log although newer than the log's start. */
	for (i = 0; i < tab.n; i++) {
		if (!has_bit(c, i))
			continue;
		pos = logpos[i];
		if (pos < 0) {
			if (nlog > 0 && sid_cmp(&tab.ids[i], &logv[0].id) > 0)
				t->unexpected++;
		} else if (!admits(c, &logv[pos]))
			t->unexpected++;
	}
}

/* Refresh logv[].idx: ids may have arrived since the log was read. */
static void
log_reindex(void)
{
	size_t i;

	for (i = 0; i < nlog; i++)
		if (logv[i].idx < 0)
			logv[i].idx = tab_find(&logv[i].id);
}

/* Whether every stream has all it should have. */
static bool
all_complete(void)
{
	struct tally t;
	size_t i;
	bool all = true;

	log_reindex();
	for (i = 0; i < nstreams; i++) {
		if (streams[i].complete)
			continue;
		stream_tally(&streams[i], &t, false);
		if (t.lost == 0 && streams[i].has_first)
			streams[i].complete = true;
		else
			all = false;
	}
	return all;
}

/* The result: totals over all streams, as one JSON object. */
static void
write_result(const char *dir, int64_t waited_ms)
{
	struct tally t, sum;
	uint64_t rcv = 0, dups = 0, dis = 0, rsy = 0, lv = 0, sc = 0, rf = 0;
	uint64_t ce = 0;
	size_t i, incomplete = 0, nofirst = 0, shown = 0;
	char out[2048];

	memset(&sum, 0, sizeof(sum));
	log_reindex();
	for (i = 0; i < nstreams; i++) {
		const struct stream *c = &streams[i];

		stream_tally(c, &t, true);
		sum.expected += t.expected;
		sum.delivered += t.delivered;
		sum.lost += t.lost;
		sum.unexpected += t.unexpected;
		rcv += c->received;
		dups += c->dups;
		dis += c->disorder;
		rsy += c->resyncs;
		lv += c->leaves_done;
		sc += c->server_closes;
		rf += c->refused;
		ce += c->conn_errors;
		if (!c->has_first)
			nofirst++;
		if (t.lost > 0 || !c->has_first)
			incomplete++;
		if ((t.lost > 0 || t.unexpected > 0) && shown++ < 5)
			fprintf(stderr, "soak-read: stream %zu (topics %#x, "
			    "customer %d): expected %" PRIu64 ", lost %"
			    PRIu64 ", unexpected %" PRIu64 "\n", i, c->topics,
			    c->customer, t.expected, t.lost, t.unexpected);
	}
	snprintf(out, sizeof(out), "{\"streams\":%zu,\"log_events\":%zu,"
	    "\"expected\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"lost\":%"
	    PRIu64 ",\"duplicated\":%" PRIu64 ",\"out_of_order\":%" PRIu64
	    ",\"unexpected\":%" PRIu64 ",\"received\":%" PRIu64
	    ",\"resyncs\":%" PRIu64 ",\"reconnects\":%" PRIu64
	    ",\"server_closes\":%" PRIu64 ",\"refused\":%" PRIu64
	    ",\"connect_errors\":%" PRIu64 ",\"incomplete_streams\":%zu,"
	    "\"streams_without_events\":%zu,\"settle_ms\":%" PRId64 "}\n",
	    nstreams, nlog, sum.expected, sum.delivered, sum.lost, dups, dis,
	    sum.unexpected, rcv, rsy, lv, sc, rf, ce, incomplete, nofirst,
	    waited_ms);
	ctl_write(dir, "result", out);
}

/* Counters for the caller's progress lines and quiet-state checks. */
static void
write_status(const char *dir, bool held, bool finished)
{
	uint64_t rcv = 0, lv = 0, sc = 0, rf = 0, bad = 0;
	size_t i, open = 0;
	char out[512];

	for (i = 0; i < nstreams; i++) {
		if (streams[i].state == C_OPEN)
			open++;
		rcv += streams[i].received;
		lv += streams[i].leaves_done;
		sc += streams[i].server_closes;
		rf += streams[i].refused;
		bad += streams[i].dups + streams[i].disorder;
	}
	snprintf(out, sizeof(out), "{\"open\":%zu,\"held\":%s,\"done\":%s,"
	    "\"received\":%" PRIu64 ",\"reconnects\":%" PRIu64
	    ",\"server_closes\":%" PRIu64 ",\"refused\":%" PRIu64
	    ",\"dup_or_disorder\":%" PRIu64 "}\n", open,
	    held && open == nstreams ? "true" : "false",
	    finished ? "true" : "false", rcv, lv, sc, rf, bad);
	ctl_write(dir, "status", out);
}

/* How long a leaving stream stays away: mostly a moment (the relay's
 * ring serves it), sometimes long enough that the log must. */
static int64_t
absence_ms(void)
{
	if (rnd() % 10 == 0)
		return rnd_between(20000, 60000);
	return rnd_between(0, 2000);
}

/* Split "a,b" into the customers array. */
static void
parse_customers(const char *list)
{
	const char *p = list, *end;
	size_t n;

	customers = xcalloc(strlen(list) / OID_LEN + 2, sizeof(*customers));
	while (*p != '\0') {
		end = strchr(p, ',');
		n = end == NULL ? strlen(p) : (size_t)(end - p);
		if (n != OID_LEN)
			die("-c: expected 24-hex customer ids");
		customers[ncustomers] = xcalloc(OID_LEN + 1, 1);
		memcpy(customers[ncustomers++], p, OID_LEN);
		if (end == NULL)
			break;
		p = end + 1;
	}
}

/* Parse a whole decimal number option within [lo, hi]. */
static long
num_opt(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		die("bad number in the options");
	return v;
}

/* Take as many descriptors as the hard limit allows, at most 65536. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	rl.rlim_cur = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* The filters, spread over the streams: everything, one topic, two,
 * and one customer's view. */
static void
assign_filter(struct stream *c, size_t i)
{
	static const unsigned mixes[] = {
		T_ALL, T_ORDERS, T_PRODUCTS | T_ALERTS, T_ORDERS | T_USERS,
		T_ALL, T_ORDERS
	};
	size_t m = i % 6;

	c->topics = mixes[m];
	c->customer = -1;
	if (m >= 4 && ncustomers > 0)
		c->customer = (int)((i / 6) % ncustomers);
}

/* The options, on a usage error. */
static void
usage(void)
{
	fprintf(stderr, "usage: soak-read -p PORT -n STREAMS -d CTLDIR "
	    "-r REDIS_SOCKET -x PREFIX [-c IDS] [-s SHARE] [-i MIN_S] "
	    "[-I MAX_S] [-g GRACE_S] [-t SECONDS] [-S SEED]\n");
	exit(2);
}

/* What the loop works with. */
struct run {
	int			 ep;
	struct sockaddr_in	 sa;
	const char		*token;
	const char		*dir;
	const char		*rsock;
	const char		*prefix;
	int			 share;
	int			 grace_s;
	int			 secs;
};

/* Read the options into r; exits on a usage error. */
static void
parse_options(int argc, char *argv[], struct run *r)
{
	int ch, port = 0;

	while ((ch = getopt(argc, argv, "p:n:d:r:x:c:s:i:I:g:t:S:")) != -1) {
		switch (ch) {
		case 'p': port = (int)num_opt(optarg, 1, 65535); break;
		case 'n': nstreams = (size_t)num_opt(optarg, 1, 30000); break;
		case 'd': r->dir = optarg; break;
		case 'r': r->rsock = optarg; break;
		case 'x': r->prefix = optarg; break;
		case 'c': parse_customers(optarg); break;
		case 's': r->share = (int)num_opt(optarg, 0, 100); break;
		case 'i': leave_min_s = (int)num_opt(optarg, 1, 86400); break;
		case 'I': leave_max_s = (int)num_opt(optarg, 1, 86400); break;
		case 'g': r->grace_s = (int)num_opt(optarg, 1, 3600); break;
		case 't': r->secs = (int)num_opt(optarg, 1, 86400); break;
		case 'S':
			rng_state ^= (uint64_t)num_opt(optarg, 0, 1L << 30);
			break;
		default: usage();
		}
	}
	r->token = getenv("SOAK_TOKEN");
	if (port == 0 || nstreams == 0 || r->dir == NULL || r->rsock == NULL ||
	    r->prefix == NULL || r->token == NULL || leave_max_s < leave_min_s)
		usage();
	memset(&r->sa, 0, sizeof(r->sa));
	r->sa.sin_family = AF_INET;
	r->sa.sin_port = htons((uint16_t)port);
	r->sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* Every stream down, with its filter and its first leave planned. */
static void
streams_init(const struct run *r, int64_t now)
{
	struct stream *c;
	size_t i;

	streams = xcalloc(nstreams, sizeof(*streams));
	tab_grow();
	tab_rehash();
	for (i = 0; i < nstreams; i++) {
		c = &streams[i];
		c->fd = -1;
		c->state = C_DOWN;
		assign_filter(c, i);
		c->leaves = (int)(rnd() % 100) < r->share;
		c->leave_at = now + rnd_between(leave_min_s * 1000,
		    leave_max_s * 1000);
	}
}

/* One readiness report from epoll for stream ci. */
static void
on_io(const struct run *r, size_t ci, int64_t now)
{
	struct stream *c = &streams[ci];

	if (c->state == C_CONNECTING) {
		if (!stream_send(r->ep, ci, r->token)) {
			c->conn_errors++;
			stream_drop(c, now, 1000);
		}
		return;
	}
	if (c->state == C_DOWN || stream_read(c))
		return;
	/* The connection is over: the server ended it, or refused. */
	if (c->state == C_OPEN)
		c->server_closes++;
	stream_drop(c, now, c->state == C_OPEN ? 100 : 1000);
}

/* Leave, and come back, on schedule; in hold nobody leaves and those
 * away come back at once. A bounded number connect at a time. */
static void
schedule(const struct run *r, int64_t now, bool hold)
{
	struct stream *c;
	size_t i, inflight = 0;

	for (i = 0; i < nstreams; i++)
		if (streams[i].state == C_CONNECTING ||
		    streams[i].state == C_HEADERS)
			inflight++;
	for (i = 0; i < nstreams; i++) {
		c = &streams[i];
		if (c->state == C_OPEN && c->leaves && !hold &&
		    now >= c->leave_at) {
			c->leaves_done++;
			stream_drop(c, now, absence_ms());
			c->away = true;
			c->leave_at = now + rnd_between(leave_min_s * 1000,
			    leave_max_s * 1000);
		}
		if (c->state != C_DOWN || inflight >= INFLIGHT_MAX)
			continue;
		if (now < c->connect_at && !(hold && c->away))
			continue;
		c->away = false;
		if (!stream_connect(r->ep, i, &r->sa)) {
			c->conn_errors++;
			stream_drop(c, now, 1000);
			continue;
		}
		inflight++;
	}
}

int
main(int argc, char *argv[])
{
	struct epoll_event evs[1024];
	struct run r = { .share = 20, .grace_s = 60, .secs = 3600 };
	size_t i;
	int k, n;
	int64_t now, deadline, next_tick = 0, next_second = 0, final_at = 0;
	bool hold, final = false, finished = false;

	parse_options(argc, argv, &r);
	raise_nofile();
	now = mono_ms();
	streams_init(&r, now);
	r.ep = epoll_create1(EPOLL_CLOEXEC);
	if (r.ep == -1)
		die("epoll_create1 failed");
	deadline = now + (int64_t)r.secs * 1000;
	for (;;) {
		n = epoll_wait(r.ep, evs, 1024, 100);
		now = mono_ms();
		for (k = 0; k < n; k++)
			on_io(&r, (size_t)evs[k].data.u64, now);
		if (now >= deadline)
			die("time is up");
		if (now < next_tick)
			continue;
		next_tick = now + 100;
		if (ctl_has(r.dir, "exit"))
			break;
		if (!final && ctl_has(r.dir, "final")) {
			log_load(r.rsock, r.prefix);
			final = true;
			final_at = now;
		}
		hold = final || ctl_has(r.dir, "hold");
		schedule(&r, now, hold);
		if (now < next_second)
			continue;
		next_second = now + 1000;
		if (final && !finished && (all_complete() ||
		    now - final_at > (int64_t)r.grace_s * 1000)) {
			write_result(r.dir, now - final_at);
			finished = true;
		}
		write_status(r.dir, hold, finished);
	}
	for (i = 0; i < nstreams; i++) {
		if (streams[i].fd != -1)
			close(streams[i].fd);
		free(streams[i].bits);
	}
	close(r.ep);
	return 0;
}
