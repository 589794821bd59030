/*
 * Layer: the top of ordercast-api. Start-up, the worker threads and the
 * three ways to run (plain CGI, FastCGI on fd 0, standalone daemon with
 * --listen). The server it makes is passed to every thread.
 * Calls api-routes.c, api-init.c, api-metrics.c, api-deps.c, api-req.c
 * and lib/.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "oc-daemon.h"
#include "oc-log.h"
#include "oc-xmalloc.h"

#define MAX_THREADS	256

static int listen_fd = 0;
static volatile sig_atomic_t stopping;

extern char **environ;

/* What the program's own options asked for. */
struct api_opts {
	long		 nthreads;
	bool		 init;
	bool		 sample;
	const char	*add_user;
	const char	*name;
	const char	*role;
	const char	*set_password;
	const char	*set_role;
};

enum {
	OPT_THREADS = OC_DAEMON_OPT_OWN,
	OPT_INIT,
	OPT_SAMPLE,
	OPT_ADD_USER,
	OPT_NAME,
	OPT_ROLE,
	OPT_SET_PASSWORD,
	OPT_SET_ROLE
};

static const struct option own_options[] = {
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "init", no_argument, NULL, OPT_INIT },
	{ "sample-data", no_argument, NULL, OPT_SAMPLE },
	{ "add-user", required_argument, NULL, OPT_ADD_USER },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "role", required_argument, NULL, OPT_ROLE },
	{ "set-password", required_argument, NULL, OPT_SET_PASSWORD },
	{ "set-role", required_argument, NULL, OPT_SET_ROLE },
	{ NULL, 0, NULL, 0 }
};

/* One of the program's own options (lib/oc-daemon calls it). */
static bool
own_option(void *arg, int val, const char *optarg, char *err,
    size_t errlen)
{
	struct api_opts *o = arg;

	switch (val) {
	case OPT_THREADS:
		if (!oc_parse_long(optarg, 1, MAX_THREADS, &o->nthreads)) {
			snprintf(err, errlen, "--threads: expected 1 to %d",
			    MAX_THREADS);
			return false;
		}
		return true;
	case OPT_INIT:
		o->init = true;
		return true;
	case OPT_SAMPLE:
		o->sample = true;
		return true;
	case OPT_ADD_USER:
		o->add_user = optarg;
		return true;
	case OPT_NAME:
		o->name = optarg;
		return true;
	case OPT_ROLE:
		o->role = optarg;
		return true;
	case OPT_SET_PASSWORD:
		o->set_password = optarg;
		return true;
	case OPT_SET_ROLE:
		o->set_role = optarg;
		return true;
	}
	snprintf(err, errlen, "unknown option");
	return false;
}

static struct api_opts opts = { .nthreads = 8 };

static const struct oc_daemon_spec spec = {
	.prog = "ordercast-api",
	.listen = true,
	.synopsis = "[--threads N] | --init [--sample-data]\n"
	    "       | --add-user EMAIL --name NAME --role admin|customer\n"
	    "       | --set-password EMAIL | --set-role EMAIL --role ROLE",
	.help = "  --threads N           worker threads (1 to 256, default 8)\n"
	    "  --init                create the indexes, then exit\n"
	    "  --sample-data         with --init: sample accounts, products "
	    "and orders\n"
	    "                        on an empty database (password\n"
	    "                        ORDERCAST_DEMO_PASSWORD, default "
	    OC_DEMO_PASSWORD_DEFAULT ")\n"
	    "  --add-user EMAIL      add an account (with --name and --role)\n"
	    "  --set-password EMAIL  change a password; ends its sessions\n"
	    "  --set-role EMAIL      change a role (with --role); ends its "
	    "sessions\n",
	.about = "Passwords are read from standard input (at least 10 "
	    "characters).\nWithout --listen it serves FastCGI on fd 0, or "
	    "one request as plain CGI\nwhen fd 0 is not a FastCGI socket.",
	.options = own_options,
	.option = own_option,
	.arg = &opts,
};

/* Serve requests on one thread until the listener closes; arg: server. */
static void *
worker_main(void *arg)
{
	FCGX_Request fcgi;
	struct api_thread thr;
	struct api_req req;

	memset(&thr, 0, sizeof(thr));
	thr.server = arg;
	thr.rng = (uint64_t)oc_mono_us() ^ (uint64_t)(uintptr_t)&thr;
	if (FCGX_InitRequest(&fcgi, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		fatalx("FCGX_InitRequest failed");
	while (!stopping) {
		if (FCGX_Accept_r(&fcgi) < 0)
			break;
		api_req_init(&req, &thr, &fcgi, fcgi.envp);
		api_handle(&req);
		FCGX_Finish_r(&fcgi);
		api_metrics_record(&req);
		api_request_done(&req);
	}
	FCGX_Free(&fcgi, 0);
	if (thr.redis != NULL)
		redisFree(thr.redis);
	return NULL;
}

/* One request as a plain CGI program: environment in, stdout out. */
static int
serve_cgi(struct api_server *server)
{
	struct api_thread thr;
	struct api_req req;

	memset(&thr, 0, sizeof(thr));
	thr.server = server;
	thr.rng = (uint64_t)oc_mono_us() ^ (uint64_t)getpid();
	api_req_init(&req, &thr, NULL, environ);
	api_handle(&req);
	fflush(stdout);
	api_metrics_record(&req);
	api_metrics_flush(&thr);
	api_request_done(&req);
	if (thr.redis != NULL)
		redisFree(thr.redis);
	return 0;
}

/*
 * Waits for SIGTERM/SIGINT (lib/oc-daemon's self-pipe; SIGHUP reopens
 * the log), then stops the accepting threads: in-flight requests still
 * finish.
 */
static void *
signal_main(void *arg)
{
	struct pollfd pfd = { .fd = oc_daemon_signal_fd(), .events = POLLIN };

	(void)arg;
	while (!oc_daemon_handle_signals()) {
		if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
			break;
	}
	if (!stopping)
		log_info("finishing requests and exiting");
	stopping = 1;
	/*
	 * Not FCGX_ShutdownPending(): after it libfcgi refuses every read
	 * and write, which would drop the responses still being written.
	 * Shutting the listener down makes blocked accepts fail instead.
	 */
	shutdown(listen_fd, SHUT_RDWR);
	return NULL;
}

/*
 * A MongoDB pool with the time limit t (ms) written into its URI and
 * room for every worker thread: a thread waiting for a pooled client
 * would wait past any timeout.
 */
static mongoc_client_pool_t *
new_pool(const struct api_server *server, int32_t t, long nthreads,
    const char *appname, char *err, size_t errlen)
{
	mongoc_client_pool_t *pool = NULL;
	bson_error_t berr;
	mongoc_uri_t *uri = NULL;

	uri = mongoc_uri_new_with_error(server->cfg.mongodb_uri, &berr);
	if (uri == NULL) {
		snprintf(err, errlen, "ORDERCAST_MONGODB_URI: %s",
		    berr.message);
		goto done;
	}
	mongoc_uri_set_option_as_int32(uri,
	    MONGOC_URI_SERVERSELECTIONTIMEOUTMS, t);
	mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, t);
	mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, t);
	mongoc_uri_set_option_as_int32(uri,
	    MONGOC_URI_HEARTBEATFREQUENCYMS, 1000);
	if (mongoc_uri_get_option_as_int32(uri, MONGOC_URI_MAXPOOLSIZE, 100) <
	    nthreads)
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_MAXPOOLSIZE,
		    (int32_t)nthreads);
	mongoc_uri_set_appname(uri, appname);
	pool = mongoc_client_pool_new_with_error(uri, &berr);
	if (pool == NULL) {
		snprintf(err, errlen, "mongodb: %s", berr.message);
		goto done;
	}
	mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
done:
	mongoc_uri_destroy(uri);
	return pool;
}

/*
 * The pool of the requests, with ORDERCAST_TIMEOUT_MS, and the pool of
 * health pings, with API_HEALTH_TIMEOUT_MS: a stalled MongoDB then holds
 * a health check for that deadline, not for the whole timeout.
 */
static bool
open_pool(struct api_server *server, long nthreads, char *err,
    size_t errlen)
{
	int32_t t = (int32_t)server->cfg.timeout_ms;
	int32_t ht = t < API_HEALTH_TIMEOUT_MS ? t : API_HEALTH_TIMEOUT_MS;

	server->pool = new_pool(server, t, nthreads, "ordercast-api", err,
	    errlen);
	if (server->pool == NULL)
		return false;
	server->health_pool = new_pool(server, ht, nthreads,
	    "ordercast-api-health", err, errlen);
	return server->health_pool != NULL;
}

/* Run the worker threads until a signal stops them. */
static int
serve_fastcgi(struct api_server *server, long nthreads)
{
	pthread_t threads[MAX_THREADS], sigthr;
	long i, started = 0;

	if (pthread_create(&sigthr, NULL, signal_main, NULL) != 0)
		fatalx("cannot start the signal thread");
	if (!api_metrics_start(server))
		fatalx("cannot start the metrics thread");
	if (!api_sentinels_start(server))
		fatalx("cannot start the sentinel thread");
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&threads[i], NULL, worker_main,
		    server) != 0) {
			log_warnx("cannot start thread %ld", i);
			break;
		}
		started++;
	}
	if (started == 0)
		fatalx("no worker thread started");
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	api_sentinels_stop();
	api_metrics_stop();
	if (!stopping) {
		stopping = 1;
		oc_daemon_stop();
	}
	pthread_join(sigthr, NULL);
	return 0;
}

/* Free what start-up made, so leak checks see a clean exit. */
static void
server_free(struct api_server *server)
{
	if (server->pool != NULL)
		mongoc_client_pool_destroy(server->pool);
	if (server->health_pool != NULL)
		mongoc_client_pool_destroy(server->health_pool);
	oc_keys_clear(&server->keys);
	oc_config_clear(&server->cfg);
}

/* --add-user, --set-password or --set-role; exit status. */
static int
run_account_command(const struct oc_config *cfg)
{
	char err[1024];
	bool ok;

	if (opts.add_user != NULL)
		ok = api_account_add(cfg, opts.add_user, opts.name, opts.role,
		    err, sizeof(err));
	else if (opts.set_password != NULL)
		ok = api_account_set_password(cfg, opts.set_password, err,
		    sizeof(err));
	else
		ok = api_account_set_role(cfg, opts.set_role, opts.role, err,
		    sizeof(err));
	if (!ok)
		log_errorx("%s", err);
	return ok ? 0 : 1;
}

/* --init [--sample-data]; exit status. */
static int
run_init(const struct oc_config *cfg)
{
	const char *pw = NULL;
	char err[1024];

	if (opts.sample) {
		/* The local demo's password, read here at start only. */
		pw = getenv("ORDERCAST_DEMO_PASSWORD");
		if (pw == NULL || pw[0] == '\0')
			pw = OC_DEMO_PASSWORD_DEFAULT;
	}
	if (!api_init_database(cfg, pw, err, sizeof(err))) {
		log_errorx("init: %s", err);
		return 1;
	}
	log_info("%s", err);
	return 0;
}

/* Options that only make sense together. */
static bool
opts_consistent(void)
{
	if (opts.sample && !opts.init)
		return false;
	if ((opts.name != NULL || opts.role != NULL) &&
	    opts.add_user == NULL && opts.set_role == NULL)
		return false;
	return true;
}

/* Parse options, load the configuration and run in the chosen mode. */
int
main(int argc, char **argv)
{
	struct api_server server;
	struct oc_daemon d;
	bool cgi;
	char err[1024];
	int rc = 1, status;

	memset(&server, 0, sizeof(server));
	if (!oc_daemon_parse(&d, &spec, argc, argv, &status))
		return status;
	if (!opts_consistent()) {
		oc_daemon_usage(&spec, stderr);
		return OC_EXIT_USAGE;
	}
	log_init("ordercast-api", OC_LOG_INFO, false);
	if (!oc_daemon_open_log(&d))
		return 1;
	if (!oc_config_load(&server.cfg, err, sizeof(err))) {
		log_errorx("%s", err);
		oc_config_clear(&server.cfg);
		return 1;
	}
	log_set_level(server.cfg.log_level);
	oc_config_log(&server.cfg);
	if (d.check) {
		oc_daemon_print_check(&d, &server.cfg, stdout);
		oc_config_clear(&server.cfg);
		return 0;
	}
	if (!oc_auth_init()) {
		log_errorx("libsodium does not start");
		oc_config_clear(&server.cfg);
		return 1;
	}
	mongoc_init();
	if (opts.add_user != NULL || opts.set_password != NULL ||
	    opts.set_role != NULL) {
		rc = run_account_command(&server.cfg);
		goto done;
	}
	if (opts.init) {
		rc = run_init(&server.cfg);
		goto done;
	}
	oc_keys_init(&server.keys, server.cfg.prefix);
	api_breaker_init(&server.mongo_breaker);
	api_breaker_init(&server.redis_breaker);
	if (!open_pool(&server, opts.nthreads, err, sizeof(err))) {
		log_errorx("%s", err);
		goto done;
	}
	if (FCGX_Init() != 0) {
		log_errorx("FCGX_Init failed");
		goto done;
	}
	listen_fd = oc_daemon_listen(&d, 1024, err, sizeof(err));
	if (listen_fd == -1) {
		log_errorx("%s", err);
		goto done;
	}
	cgi = false;
	if (listen_fd == -2) {
		listen_fd = 0;
		cgi = FCGX_IsCGI();
	}
	/* After FCGX_Init, which installs handlers of its own. */
	if (!oc_daemon_signals(err, sizeof(err))) {
		log_errorx("%s", err);
		goto done;
	}
	if (!oc_daemon_write_pidfile(&d))
		goto done;
	if (cgi) {
		rc = serve_cgi(&server);
		goto done;
	}
	log_info("serving FastCGI on %s with %ld threads",
	    d.listen != NULL ? d.listen : "fd 0", opts.nthreads);
	rc = serve_fastcgi(&server, opts.nthreads);
	log_info("stopped");
done:
	oc_daemon_cleanup(&d);
	server_free(&server);
	mongoc_cleanup();
	return rc;
}
