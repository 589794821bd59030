/*
 * ordercast-watch: the only reader of MongoDB change streams. Every
 * change to orders, products and users becomes one event in Redis,
 * exactly once, in the database's order.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oc-config.h"
#include "oc-log.h"
#include "oc-xmalloc.h"
#include "watch.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000

volatile sig_atomic_t watch_stop;
static volatile sig_atomic_t reopen_log;

/* Release an event whether it was published or dropped. */
void
watch_event_clear(struct watch_event *ev)
{
	free(ev->body);
	free(ev->token);
	free(ev->key);
	free(ev->cache_key);
	free(ev->alert);
	memset(ev, 0, sizeof(*ev));
}

/* After a success the next fault starts from the shortest delay. */
void
watch_backoff_reset(struct watch_backoff *b)
{
	b->delay_ms = 0;
}

/* Sleep up to ms, waking early for a signal. */
static void
nap(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/*
 * Wait before the next attempt: the delay doubles up to a cap, and a
 * random half of it is jitter so restarted peers do not retry in step.
 * The heartbeat keeps going meanwhile when Redis is up.
 */
void
watch_backoff_wait(struct watch *w, struct watch_backoff *b)
{
	int64_t deadline;
	long wait, left;

	if (b->delay_ms == 0)
		b->delay_ms = BACKOFF_MIN_MS;
	else if (b->delay_ms < BACKOFF_MAX_MS / 2)
		b->delay_ms *= 2;
	else
		b->delay_ms = BACKOFF_MAX_MS;
	wait = b->delay_ms / 2 + random() % (b->delay_ms / 2 + 1);
	deadline = oc_mono_ms() + wait;
	while (!watch_stop) {
		left = (long)(deadline - oc_mono_ms());
		if (left <= 0)
			break;
		nap(left < 250 ? left : 250);
		watch_heartbeat(w, false);
	}
}

/*
 * Every batch allocates and frees the same large buffers (cursor replies
 * up to 16 MB, pipelines); by default glibc hands them back to the kernel
 * and faults them in again each time, which cost as much CPU as all our
 * own work. Keep them instead: the watcher's memory use is bounded.
 */
static void
tune_malloc(void)
{
#ifdef M_MMAP_THRESHOLD
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_TOP_PAD, 4 * 1024 * 1024);
#endif
}

/* Signals only set flags; the loop acts on them. */
static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reopen_log = 1;
	else
		watch_stop = 1;
}

/* TERM and INT end the loop; HUP reopens the log; no SA_RESTART. */
static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Options in one place, for --help and for mistakes. */
static void
usage(FILE *f)
{
	fprintf(f, "usage: ordercast-watch [-n] [--foreground] "
	    "[--pidfile FILE] [--log FILE]\n"
	    "  -n, --check       validate the configuration and exit\n"
	    "  --foreground      stay in the foreground (always the case)\n"
	    "  --pidfile FILE    write the process id to FILE\n"
	    "  --log FILE        log to FILE instead of stderr; SIGHUP "
	    "reopens it\n"
	    "Configuration comes from ORDERCAST_* environment variables.\n");
}

/* Keys and channel names, built once from the prefix. */
static void
watch_init(struct watch *w, const struct oc_config *cfg)
{
	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->k_log = oc_config_key(cfg, "log");
	w->k_events = oc_config_key(cfg, "events");
	w->k_token = oc_config_key(cfg, "watch:token");
	w->k_low = oc_config_key(cfg, "watch:low");
	w->k_alive = oc_config_key(cfg, "watch:alive");
	w->k_metrics = oc_config_key(cfg, "metrics:watch");
	w->k_cache_products = oc_config_key(cfg, "cache:products");
	w->k_cache_product = oc_config_key(cfg, "cache:product:");
	w->k_cache_gen = oc_config_key(cfg, "cache:gen");
}

static /* Release everything watch_init() and the loop acquired. */
void
watch_free(struct watch *w)
{
	size_t i;

	for (i = 0; i < w->npending; i++)
		watch_event_clear(&w->pending[i]);
	watch_mongo_cleanup(w);
	watch_redis_close(w);
	free(w->token);
	free(w->start_after);
	free(w->k_log);
	free(w->k_events);
	free(w->k_token);
	free(w->k_low);
	free(w->k_alive);
	free(w->k_metrics);
	free(w->k_cache_products);
	free(w->k_cache_product);
	free(w->k_cache_gen);
}

/* Run until SIGTERM or SIGINT; transient faults only slow it down. */
static void
watch_run(struct watch *w)
{
	while (!watch_stop) {
		if (reopen_log) {
			reopen_log = 0;
			log_reopen();
			log_info("log reopened");
		}
		if (w->rc == NULL && !watch_redis_open(w)) {
			watch_backoff_wait(w, &w->redis_backoff);
			continue;
		}
		if (w->stream == NULL && !watch_stream_open(w)) {
			watch_backoff_wait(w, &w->mongo_backoff);
			continue;
		}
		watch_stream_step(w);
		watch_heartbeat(w, false);
	}
	if (w->rc != NULL)
		watch_heartbeat(w, true);
}

/* Validate, then run until told to stop; exit 1 only on bad setup. */
int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'n' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct oc_config cfg;
	struct watch w;
	const char *pidfile = NULL, *logfile = NULL;
	char err[512];
	bool check = false, have_watch = false, mongoc_up = false;
	int ch, status = 1;

	memset(&cfg, 0, sizeof(cfg));
	while ((ch = getopt_long(argc, argv, "nfh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			check = true;
			break;
		case 'f':
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'l':
			logfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("ordercast-watch", OC_LOG_INFO, false);
	if (logfile != NULL && !log_open_file(logfile)) {
		log_warn("cannot open log %s", logfile);
		goto done;
	}
	if (!oc_config_load(&cfg, err, sizeof(err))) {
		log_errorx("%s", err);
		goto done;
	}
	log_set_level(cfg.log_level);
	oc_config_log(&cfg);
	mongoc_init();
	mongoc_up = true;
	watch_init(&w, &cfg);
	have_watch = true;
	if (!watch_mongo_setup(&w, err, sizeof(err))) {
		log_errorx("%s", err);
		goto done;
	}
	if (check) {
		printf("configuration OK\n");
		status = 0;
		goto done;
	}
	if (pidfile != NULL && !oc_pidfile_write(pidfile)) {
		log_warn("cannot write %s", pidfile);
		goto done;
	}
	install_signals();
	tune_malloc();
	srandom((unsigned)(getpid() ^ oc_wall_ms()));
	log_info("watching %s in %s; publishing to %s", cfg.db, cfg.redis,
	    w.k_log);
	watch_run(&w);
	log_info("stopping: %lld events published", w.total.events);
	if (pidfile != NULL)
		unlink(pidfile);
	status = 0;
done:
	if (have_watch)
		watch_free(&w);
	if (mongoc_up)
		mongoc_cleanup();
	oc_config_clear(&cfg);
	return status;
}
