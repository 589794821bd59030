/*
 * Layer: the top of ordercast-api. Start-up, the worker threads and the
 * three ways to run (plain CGI, FastCGI on fd 0, standalone daemon with
 * --listen). The server it makes is passed to every thread.
 * Calls api-routes.c, api-init.c, api-metrics.c, api-deps.c, api-req.c
 * and lib/.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "oc-log.h"
#include "oc-xmalloc.h"

#define MAX_THREADS	256

static int listen_fd = 0;
static volatile sig_atomic_t stopping;

extern char **environ;

/* Printed for --help and for bad options. */
static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ordercast-api [--listen unix:PATH|HOST:PORT] "
	    "[--threads N] [--pidfile FILE]\n"
	    "       ordercast-api --init [--sample-data] | -n|--check | --help\n"
	    "       ordercast-api --add-user EMAIL --name NAME --role "
	    "admin|customer\n"
	    "       ordercast-api --set-password EMAIL\n"
	    "       ordercast-api --set-role EMAIL --role admin|customer\n"
	    "Passwords are read from standard input (at least 10 "
	    "characters).\n"
	    "Without --listen it serves FastCGI on fd 0, or one request as\n"
	    "plain CGI when fd 0 is not a FastCGI socket.\n");
}

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
 * Waits for SIGTERM/SIGINT (blocked in every other thread), then stops
 * the accepting threads: in-flight requests still finish.
 */
static void *
signal_main(void *arg)
{
	sigset_t *set = arg;
	int sig = 0;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT || sig == SIGUSR2)
			break;
	}
	if (sig != SIGUSR2)
		log_info("signal %d: finishing requests and exiting", sig);
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

/* Turn "unix:PATH" or "HOST:PORT" into what FCGX_OpenSocket takes. */
static int
open_listener(const char *spec)
{
	int fd;

	if (strncmp(spec, "unix:", 5) == 0) {
		spec += 5;
		if (*spec == '\0')
			return -1;
		unlink(spec);
	} else if (strchr(spec, ':') == NULL) {
		return -1;
	}
	fd = FCGX_OpenSocket(spec, 1024);
	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/* Run the worker threads until a signal stops them. */
static int
serve_fastcgi(struct api_server *server, long nthreads)
{
	pthread_t threads[MAX_THREADS], sigthr;
	sigset_t set;
	long i, started = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&sigthr, NULL, signal_main, &set) != 0)
		fatalx("cannot start the signal thread");
	if (!api_metrics_start(server))
		fatalx("cannot start the metrics thread");
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
	api_metrics_stop();
	if (!stopping)
		pthread_kill(sigthr, SIGUSR2);
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

/* Parse options, load the configuration and run in the chosen mode. */
int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "init", no_argument, NULL, 'i' },
		{ "sample-data", no_argument, NULL, 'S' },
		{ "add-user", required_argument, NULL, 'A' },
		{ "name", required_argument, NULL, 'N' },
		{ "role", required_argument, NULL, 'R' },
		{ "set-password", required_argument, NULL, 'P' },
		{ "set-role", required_argument, NULL, 'E' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *listen_spec = NULL, *pidfile = NULL;
	const char *add_user = NULL, *name = NULL, *role = NULL;
	const char *set_password = NULL, *set_role = NULL;
	bool sample = false;
	long nthreads = 8;
	struct api_server server;
	bool check = false, init = false, cgi;
	char err[1024];
	int ch, rc = 1;

	memset(&server, 0, sizeof(server));

	while ((ch = getopt_long(argc, argv, "nh", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen_spec = optarg;
			break;
		case 't':
			if (!oc_parse_long(optarg, 1, MAX_THREADS,
			    &nthreads)) {
				fprintf(stderr, "ordercast-api: --threads: "
				    "expected 1 to %d\n", MAX_THREADS);
				return 1;
			}
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'i':
			init = true;
			break;
		case 'S':
			sample = true;
			break;
		case 'A':
			add_user = optarg;
			break;
		case 'N':
			name = optarg;
			break;
		case 'R':
			role = optarg;
			break;
		case 'P':
			set_password = optarg;
			break;
		case 'E':
			set_role = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc || (sample && !init) ||
	    ((name != NULL || role != NULL) && add_user == NULL &&
	    set_role == NULL)) {
		usage(stderr);
		return 1;
	}
	log_init("ordercast-api", OC_LOG_INFO, false);
	if (!oc_config_load(&server.cfg, err, sizeof(err))) {
		log_errorx("%s", err);
		oc_config_clear(&server.cfg);
		return 1;
	}
	log_set_level(server.cfg.log_level);
	oc_config_log(&server.cfg);
	if (check) {
		log_info("configuration is valid");
		oc_config_clear(&server.cfg);
		return 0;
	}
	if (!oc_auth_init()) {
		log_errorx("libsodium does not start");
		goto done_early;
	}
	mongoc_init();
	if (add_user != NULL || set_password != NULL || set_role != NULL) {
		bool ok;

		if (add_user != NULL)
			ok = api_account_add(&server.cfg, add_user, name, role,
			    err, sizeof(err));
		else if (set_password != NULL)
			ok = api_account_set_password(&server.cfg,
			    set_password, err, sizeof(err));
		else
			ok = api_account_set_role(&server.cfg, set_role, role,
			    err, sizeof(err));
		if (!ok)
			log_errorx("%s", err);
		rc = ok ? 0 : 1;
		goto done;
	}
	if (init) {
		const char *pw = NULL;

		if (sample) {
			pw = getenv("ORDERCAST_DEMO_PASSWORD");
			if (pw == NULL || pw[0] == '\0')
				pw = "ordercast-demo";
		}
		if (api_init_database(&server.cfg, pw, err, sizeof(err))) {
			log_info("%s", err);
			rc = 0;
		} else {
			log_errorx("init: %s", err);
		}
		goto done;
	}
	oc_keys_init(&server.keys, server.cfg.prefix);
	api_breaker_init(&server.mongo_breaker);
	api_breaker_init(&server.redis_breaker);
	if (!open_pool(&server, nthreads, err, sizeof(err))) {
		log_errorx("%s", err);
		goto done;
	}
	if (FCGX_Init() != 0) {
		log_errorx("FCGX_Init failed");
		goto done;
	}
	if (listen_spec != NULL) {
		listen_fd = open_listener(listen_spec);
		if (listen_fd < 0) {
			log_errorx("--listen %s: cannot listen (expected "
			    "unix:PATH or HOST:PORT)", listen_spec);
			goto done;
		}
		cgi = false;
	} else {
		cgi = FCGX_IsCGI();
	}
	if (pidfile != NULL && !oc_pidfile_write(pidfile)) {
		log_warn("pidfile %s", pidfile);
		goto done;
	}
	if (cgi) {
		rc = serve_cgi(&server);
		goto done;
	}
	log_info("serving FastCGI on %s with %ld threads",
	    listen_spec != NULL ? listen_spec : "fd 0", nthreads);
	rc = serve_fastcgi(&server, nthreads);
	if (listen_spec != NULL && strncmp(listen_spec, "unix:", 5) == 0)
		unlink(listen_spec + 5);
	if (pidfile != NULL)
		unlink(pidfile);
	log_info("stopped");
done:
	server_free(&server);
	mongoc_cleanup();
	return rc;
done_early:
	server_free(&server);
	return rc;
}
