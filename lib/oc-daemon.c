/* Options, signals, listener and PID file, the same in every daemon. */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oc-daemon.h"
#include "oc-log.h"
#include "oc-util.h"
#include "oc-xmalloc.h"

enum {
	OPT_PIDFILE = 256,
	OPT_LOG,
	OPT_LISTEN
};

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t hup_flag;
static int sig_pipe[2] = { -1, -1 };

/* The usage, from the common options and the program's own. */
void
oc_daemon_usage(const struct oc_daemon_spec *spec, FILE *f)
{
	fprintf(f, "usage: %s [-n|--check] [--pidfile FILE] [--log FILE]%s"
	    "%s%s\n", spec->prog,
	    spec->listen ? " [--listen unix:PATH|HOST:PORT]" : "",
	    spec->synopsis != NULL ? " " : "",
	    spec->synopsis != NULL ? spec->synopsis : "");
	fprintf(f, "\n"
	    "  -n, --check       validate the configuration, print it and "
	    "exit\n"
	    "  --pidfile FILE    write the process id to FILE\n"
	    "  --log FILE        log to FILE instead of stderr; SIGHUP "
	    "reopens it\n");
	if (spec->listen)
		fprintf(f, "  --listen SPEC     listen on a unix socket "
		    "(unix:PATH) or HOST:PORT\n");
	if (spec->help != NULL)
		fputs(spec->help, f);
	fprintf(f, "  -h, --help        print this and exit\n\n");
	if (spec->about != NULL)
		fprintf(f, "%s\n", spec->about);
	fprintf(f, "Configuration comes from ORDERCAST_* environment "
	    "variables.\n");
}

/* The common long options followed by the program's. Caller frees. */
static struct option *
all_options(const struct oc_daemon_spec *spec)
{
	static const struct option common[] = {
		{ "check", no_argument, NULL, 'n' },
		{ "pidfile", required_argument, NULL, OPT_PIDFILE },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "help", no_argument, NULL, 'h' },
		{ "listen", required_argument, NULL, OPT_LISTEN },
	};
	size_t ncommon = sizeof(common) / sizeof(common[0]);
	size_t nown = 0, n = 0, i;
	struct option *opts;

	if (!spec->listen)
		ncommon--;
	while (spec->options != NULL && spec->options[nown].name != NULL)
		nown++;
	opts = xcalloc(ncommon + nown + 1, sizeof(*opts));
	for (i = 0; i < ncommon; i++)
		opts[n++] = common[i];
	for (i = 0; i < nown; i++)
		opts[n++] = spec->options[i];
	return opts;
}

/* Say what was wrong, then how to call the program. */
static void
usage_error(const struct oc_daemon_spec *spec, const char *why)
{
	if (why != NULL)
		fprintf(stderr, "%s: %s\n", spec->prog, why);
	oc_daemon_usage(spec, stderr);
}

/* getopt_long over the common and own options; see the header. */
bool
oc_daemon_parse(struct oc_daemon *d, const struct oc_daemon_spec *spec,
    int argc, char *argv[], int *status)
{
	struct option *opts;
	char err[256];
	bool go_on = false;
	int ch;

	memset(d, 0, sizeof(*d));
	d->spec = spec;
	*status = OC_EXIT_USAGE;
	opts = all_options(spec);
	optind = 0;		/* glibc: start over, for repeated calls */
	opterr = 0;		/* we name the mistake ourselves */
	for (;;) {
		ch = getopt_long(argc, argv, "+:nh", opts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case 'n':
			d->check = true;
			break;
		case OPT_PIDFILE:
			d->pidfile = optarg;
			break;
		case OPT_LOG:
			d->logfile = optarg;
			break;
		case OPT_LISTEN:
			d->listen = optarg;
			break;
		case 'h':
			oc_daemon_usage(spec, stdout);
			*status = 0;
			goto done;
		case '?':
		case ':':
			if (optopt > 0 && optopt < 128)
				snprintf(err, sizeof(err), "%s -%c",
				    ch == ':' ? "missing argument of" :
				    "bad option", optopt);
			else
				snprintf(err, sizeof(err), "%s %s",
				    ch == ':' ? "missing argument of" :
				    "bad option", argv[optind - 1]);
			usage_error(spec, err);
			goto done;
		default:
			err[0] = '\0';
			if (ch < OC_DAEMON_OPT_OWN || spec->option == NULL ||
			    !spec->option(spec->arg, ch, optarg, err,
			    sizeof(err))) {
				usage_error(spec, err[0] != '\0' ? err :
				    "bad option");
				goto done;
			}
			break;
		}
	}
	if (optind != argc) {
		snprintf(err, sizeof(err), "unexpected argument %s",
		    argv[optind]);
		usage_error(spec, err);
		goto done;
	}
	go_on = true;
	*status = 0;
done:
	free(opts);
	return go_on;
}

/* --log: stderr becomes the file, so that SIGHUP can reopen it. */
bool
oc_daemon_open_log(struct oc_daemon *d)
{
	if (d->logfile == NULL)
		return true;
	if (!log_open_file(d->logfile)) {
		log_warn("cannot open log %s", d->logfile);
		return false;
	}
	return true;
}

/* One format for every program, so that operators can diff them. */
void
oc_daemon_print_check(const struct oc_daemon *d,
    const struct oc_config *cfg, FILE *f)
{
	char *masked = oc_config_mask_uri(cfg->mongodb_uri);

	fprintf(f, "ORDERCAST_MONGODB_URI=%s\n", masked);
	fprintf(f, "ORDERCAST_DB=%s\n", cfg->db);
	fprintf(f, "ORDERCAST_REDIS=%s\n", cfg->redis);
	fprintf(f, "ORDERCAST_PREFIX=%s\n", cfg->prefix);
	fprintf(f, "ORDERCAST_LOW_STOCK=%ld\n", cfg->low_stock);
	fprintf(f, "ORDERCAST_LOG_LEVEL=%s\n",
	    log_level_name(cfg->log_level));
	fprintf(f, "ORDERCAST_TIMEOUT_MS=%ld\n", cfg->timeout_ms);
	fprintf(f, "ORDERCAST_SSE_MAX_CLIENTS=%ld\n", cfg->sse_max_clients);
	if (d->spec != NULL && d->spec->listen)
		fprintf(f, "--listen=%s\n",
		    d->listen != NULL ? d->listen : "(fd 0)");
	fprintf(f, "--pidfile=%s\n", d->pidfile != NULL ? d->pidfile : "");
	fprintf(f, "--log=%s\n", d->logfile != NULL ? d->logfile : "(stderr)");
	fprintf(f, "configuration OK\n");
	fflush(f);
	free(masked);
}

/* Only flags and a byte in the pipe: the loop acts on them. */
static void
on_signal(int sig)
{
	int saved = errno;
	ssize_t n;

	if (sig == SIGHUP)
		hup_flag = 1;
	else
		stop_flag = 1;
	if (sig_pipe[1] != -1) {
		n = write(sig_pipe[1], "", 1);
		(void)n;	/* a full pipe already wakes the loop */
	}
	errno = saved;
}

/* No SA_RESTART: a blocked read or poll returns EINTR and sees the flag. */
bool
oc_daemon_signals(char *err, size_t errlen)
{
	struct sigaction sa;

	if (sig_pipe[0] == -1 && pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) ==
	    -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		sig_pipe[0] = -1;
		sig_pipe[1] = -1;
		return false;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return true;
}

/* The loop's condition. */
bool
oc_daemon_stopping(void)
{
	return stop_flag != 0;
}

/* For a program that decides to stop by itself, and for tests. */
void
oc_daemon_stop(void)
{
	ssize_t n;

	stop_flag = 1;
	if (sig_pipe[1] != -1) {
		n = write(sig_pipe[1], "", 1);
		(void)n;
	}
}

/* For programs that wait in poll or epoll. */
int
oc_daemon_signal_fd(void)
{
	return sig_pipe[0];
}

/* Drain the pipe first, so that a signal arriving meanwhile is kept. */
bool
oc_daemon_handle_signals(void)
{
	char buf[64];

	if (sig_pipe[0] != -1) {
		while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
			continue;
	}
	if (hup_flag) {
		hup_flag = 0;
		log_reopen();
		log_info("log reopened");
	}
	return oc_daemon_stopping();
}

/* poll() on the self-pipe, or a plain sleep before there is one. */
void
oc_daemon_sleep(long ms)
{
	struct pollfd pfd;
	struct timespec ts;

	if (ms <= 0)
		return;
	if (sig_pipe[0] == -1) {
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		return;
	}
	pfd.fd = sig_pipe[0];
	pfd.events = POLLIN;
	pfd.revents = 0;
	poll(&pfd, 1, ms > 60000 ? 60000 : (int)ms);
}

/* A unix socket at path, replacing a stale one; -1 with err. */
static int
listen_unix(const char *path, int backlog, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (*path == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "unix socket path empty or too long");
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "bind %s: %s", path, strerror(errno));
		goto fail;
	}
	if (listen(fd, backlog) == -1) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* Split "HOST:PORT" ("[V6]:PORT", ":PORT") into owned host and port. */
static bool
split_host_port(const char *spec, char **host, char **port)
{
	const char *colon = strrchr(spec, ':');
	const char *h = spec;
	size_t hlen;

	*host = NULL;
	*port = NULL;
	if (colon == NULL || colon[1] == '\0')
		return false;
	hlen = (size_t)(colon - spec);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	} else if (memchr(h, ':', hlen) != NULL) {
		return false;	/* an IPv6 address needs brackets */
	}
	if (hlen > 0)
		*host = xstrndup(h, hlen);
	*port = xstrdup(colon + 1);
	return true;
}

/* A TCP socket on the first address of HOST:PORT that binds. */
static int
listen_tcp(const char *spec, int backlog, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char *host = NULL, *port = NULL;
	int fd = -1, one = 1, gai;

	if (!split_host_port(spec, &host, &port)) {
		snprintf(err, errlen, "expected unix:PATH or HOST:PORT");
		goto done;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "%s", gai_strerror(gai));
		goto done;
	}
	snprintf(err, errlen, "no address");
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, backlog) == 0)
			break;
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		fd = -1;
	}
done:
	if (res != NULL)
		freeaddrinfo(res);
	free(host);
	free(port);
	return fd;
}

/* --listen for every program: the same syntax, the same cleanup. */
int
oc_daemon_listen(struct oc_daemon *d, int backlog, char *err,
    size_t errlen)
{
	char why[256];
	int fd;

	if (d->listen == NULL)
		return -2;
	if (strncmp(d->listen, "unix:", 5) == 0) {
		fd = listen_unix(d->listen + 5, backlog, why, sizeof(why));
		if (fd >= 0) {
			free(d->unix_path);
			d->unix_path = xstrdup(d->listen + 5);
		}
	} else {
		fd = listen_tcp(d->listen, backlog, why, sizeof(why));
	}
	if (fd < 0)
		snprintf(err, errlen, "--listen %s: %s", d->listen, why);
	return fd;
}

/* Written once the program is ready to serve, removed at exit. */
bool
oc_daemon_write_pidfile(struct oc_daemon *d)
{
	if (d->pidfile == NULL)
		return true;
	if (!oc_pidfile_write(d->pidfile)) {
		log_warn("cannot write %s", d->pidfile);
		return false;
	}
	d->pid_written = true;
	return true;
}

/* Only what this process created: never another instance's files. */
void
oc_daemon_cleanup(struct oc_daemon *d)
{
	if (d->pid_written)
		unlink(d->pidfile);
	d->pid_written = false;
	if (d->unix_path != NULL)
		unlink(d->unix_path);
	free(d->unix_path);
	d->unix_path = NULL;
}
