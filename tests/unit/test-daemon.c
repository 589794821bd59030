/*
 * Unit tests of lib/oc-daemon (options, --check output, signals,
 * listener, PID file) and lib/oc-backoff. Prints TAP.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oc-backoff.h"
#include "oc-config.h"
#include "oc-daemon.h"
#include "oc-log.h"
#include "oc-util.h"
#include "oc-xmalloc.h"
#include "tap.h"

#define OPT_THREADS	(OC_DAEMON_OPT_OWN + 1)

static char tmpdir[] = "/tmp/test-daemon.XXXXXX";

/* A path inside the private temporary folder. Caller frees. */
static char *
tmp_path(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

/* Every wait of a backoff stays in [delay / 2, delay], capped. */
static void
test_backoff_growth(void)
{
	struct oc_backoff b;
	long want[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000 };
	long w;
	size_t i;
	int in_range = 1, delays = 1;

	oc_backoff_init(&b, 100, 5000, 42);
	ok(!oc_backoff_failing(&b), "a new backoff is not failing");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		w = oc_backoff_next(&b);
		if (b.delay_ms != want[i])
			delays = 0;
		if (w < want[i] / 2 || w > want[i])
			in_range = 0;
	}
	ok(delays, "the delay doubles from the minimum up to the cap");
	ok(in_range, "each wait is the delay minus up to half of jitter");
	ok(oc_backoff_failing(&b), "failing after a failure");
}

/* Connecting is not success: only the caller's success() resets. */
static void
test_backoff_success(void)
{
	struct oc_backoff b;
	long w;
	int i, capped = 1;

	oc_backoff_init(&b, 100, 5000, 7);
	for (i = 0; i < 20; i++) {
		/* a connect that works, then a request that fails */
		w = oc_backoff_next(&b);
		if (i >= 6 && w < 2500)
			capped = 0;
	}
	ok(capped, "repeated failures without success stay at the cap");
	oc_backoff_success(&b);
	ok(!oc_backoff_failing(&b), "success clears the failing state");
	w = oc_backoff_next(&b);
	ok(w >= 50 && w <= 100, "after success the next wait is short again");
}

/* Two seeds, two sequences; one seed, one sequence. */
static void
test_backoff_jitter(void)
{
	struct oc_backoff a, b, c;
	int i, same_ab = 1, same_ac = 1;
	long wa, wb, wc;

	oc_backoff_init(&a, 1000, 1000, 1);
	oc_backoff_init(&b, 1000, 1000, 2);
	oc_backoff_init(&c, 1000, 1000, 1);
	for (i = 0; i < 16; i++) {
		wa = oc_backoff_next(&a);
		wb = oc_backoff_next(&b);
		wc = oc_backoff_next(&c);
		if (wa != wb)
			same_ab = 0;
		if (wa != wc)
			same_ac = 0;
	}
	ok(!same_ab, "peers with other seeds do not retry in step");
	ok(same_ac, "a seed gives a reproducible sequence");
	oc_backoff_init(&a, 0, -5, 0);
	wa = oc_backoff_next(&a);
	ok(a.min_ms >= 1 && a.max_ms >= a.min_ms && wa >= 0 && wa <= 1,
	    "nonsense limits are made sane");
}

static int own_threads;

/* The program-specific option hook of the test spec. */
static bool
own_option(void *arg, int val, const char *optarg, char *err,
    size_t errlen)
{
	long v;

	(void)arg;
	if (val != OPT_THREADS)
		return false;
	if (!oc_parse_long(optarg, 1, 64, &v)) {
		snprintf(err, errlen, "--threads: expected 1 to 64");
		return false;
	}
	own_threads = (int)v;
	return true;
}

static const struct option own_options[] = {
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ NULL, 0, NULL, 0 }
};

static const struct oc_daemon_spec spec_listen = {
	.prog = "test-daemon",
	.listen = true,
	.synopsis = "[--threads N]",
	.help = "  --threads N       worker threads\n",
	.options = own_options,
	.option = own_option,
};

static const struct oc_daemon_spec spec_plain = {
	.prog = "test-daemon",
};

/* Parse a NULL-terminated argument list; stdout and stderr muted. */
static bool
parse(struct oc_daemon *d, const struct oc_daemon_spec *spec,
    const char **args, int *status)
{
	char *argv[16];
	int argc = 0, out, errfd, null;
	bool res;

	argv[argc++] = (char *)"test-daemon";
	while (*args != NULL && argc < 15)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	fflush(stdout);
	out = dup(STDOUT_FILENO);
	errfd = dup(STDERR_FILENO);
	null = open("/dev/null", O_WRONLY);
	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	res = oc_daemon_parse(d, spec, argc, argv, status);
	fflush(stdout);
	fflush(stderr);
	dup2(out, STDOUT_FILENO);
	dup2(errfd, STDERR_FILENO);
	close(out);
	close(errfd);
	close(null);
	return res;
}

/* The common options, the program's own, and the usage exit codes. */
static void
test_parse(void)
{
	const char *all[] = { "-n", "--pidfile", "p", "--log", "l",
	    "--listen", "unix:/x", "--threads", "3", NULL };
	const char *bogus[] = { "--bogus", NULL };
	const char *stray[] = { "stray", NULL };
	const char *missing[] = { "--pidfile", NULL };
	const char *badown[] = { "--threads", "0", NULL };
	const char *help[] = { "--help", NULL };
	const char *listen[] = { "--listen", "unix:/x", NULL };
	struct oc_daemon d;
	int status = -1;

	ok(parse(&d, &spec_listen, all, &status) && status == 0 &&
	    d.check && strcmp(d.pidfile, "p") == 0 &&
	    strcmp(d.logfile, "l") == 0 && strcmp(d.listen, "unix:/x") == 0 &&
	    own_threads == 3, "common and own options are parsed");
	ok(!parse(&d, &spec_listen, bogus, &status) &&
	    status == OC_EXIT_USAGE, "an unknown option exits with usage");
	ok(!parse(&d, &spec_listen, stray, &status) &&
	    status == OC_EXIT_USAGE, "a stray argument exits with usage");
	ok(!parse(&d, &spec_listen, missing, &status) &&
	    status == OC_EXIT_USAGE, "a missing argument exits with usage");
	ok(!parse(&d, &spec_listen, badown, &status) &&
	    status == OC_EXIT_USAGE, "a refused own option exits with usage");
	ok(!parse(&d, &spec_listen, help, &status) && status == 0,
	    "--help exits 0");
	ok(!parse(&d, &spec_plain, listen, &status) &&
	    status == OC_EXIT_USAGE,
	    "--listen is refused by a program that does not listen");
}

/* Read a whole small file into buf; false when it cannot. */
static bool
slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return false;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return true;
}

/* --check prints the effective values, passwords masked, then OK. */
static void
test_check_output(void)
{
	struct oc_config cfg;
	struct oc_daemon d;
	char err[256], *buf = NULL;
	size_t len = 0;
	const char *end;
	FILE *f;

	setenv("ORDERCAST_MONGODB_URI",
	    "mongodb://u:secret@127.0.0.1:27017/?replicaSet=rs0", 1);
	ok(oc_config_load(&cfg, err, sizeof(err)), "configuration loads");
	unsetenv("ORDERCAST_MONGODB_URI");
	memset(&d, 0, sizeof(d));
	d.spec = &spec_listen;
	d.pidfile = "/run/x.pid";
	f = open_memstream(&buf, &len);
	oc_daemon_print_check(&d, &cfg, f);
	fclose(f);
	ok(strstr(buf, "secret") == NULL && strstr(buf, "u:***@") != NULL,
	    "--check masks the password");
	ok(strstr(buf, "ORDERCAST_PREFIX=ordercast\n") != NULL &&
	    strstr(buf, "--pidfile=/run/x.pid\n") != NULL &&
	    strstr(buf, "--listen=(fd 0)\n") != NULL,
	    "--check prints the configuration and the options");
	end = "configuration OK\n";
	ok(len >= strlen(end) && strcmp(buf + len - strlen(end), end) == 0,
	    "--check ends with configuration OK");
	free(buf);
	oc_config_clear(&cfg);
}

/* True when fd is readable right now. */
static bool
readable(int fd)
{
	struct pollfd pfd;

	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 1;
}

/* HUP reopens the log; TERM stops; both wake the loop; PIPE ignored. */
static void
test_signals(void)
{
	char err[256], buf[4096];
	char *log = tmp_path("d.log"), *moved = tmp_path("d.log.1");
	int saved_err = dup(STDERR_FILENO);
	int64_t t0;
	bool woke;

	ok(oc_daemon_signal_fd() == -1, "no signal fd before setup");
	ok(oc_daemon_signals(err, sizeof(err)), "signals installed");
	ok(oc_daemon_signals(err, sizeof(err)),
	    "installing again (after FCGX_Init) works");
	ok(log_open_file(log), "log file opened");
	rename(log, moved);
	raise(SIGHUP);
	woke = readable(oc_daemon_signal_fd());
	ok(!oc_daemon_handle_signals(), "SIGHUP does not stop");
	dup2(saved_err, STDERR_FILENO);
	ok(woke, "SIGHUP wakes a poll on the signal fd");
	ok(slurp(log, buf, sizeof(buf)) && strstr(buf, "log reopened"),
	    "SIGHUP reopens the log at its path");
	ok(!readable(oc_daemon_signal_fd()), "handling drains the signal fd");
	raise(SIGPIPE);
	ok(!oc_daemon_stopping(), "SIGPIPE is ignored");
	raise(SIGTERM);
	ok(oc_daemon_stopping(), "SIGTERM asks to stop");
	t0 = oc_mono_ms();
	oc_daemon_sleep(5000);
	ok(oc_mono_ms() - t0 < 2000, "a pending signal cuts a sleep short");
	ok(oc_daemon_handle_signals(), "handling reports the stop");
	unlink(log);
	unlink(moved);
	close(saved_err);
	free(log);
	free(moved);
}

/* Connect to a unix socket; true when the listener accepted. */
static bool
connect_unix(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bool res;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	res = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return res;
}

/* Connect to the TCP port fd listens on, over loopback. */
static bool
connect_tcp(int lfd)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int fd;
	bool res;

	if (getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1)
		return false;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	res = connect(fd, (struct sockaddr *)&sin, slen) == 0;
	close(fd);
	return res;
}

/* --listen: unix and TCP sockets, stale files, bad specs, cleanup. */
static void
test_listen(void)
{
	struct oc_daemon d;
	char err[256];
	char *sock = tmp_path("s.sock");
	int fd, stale;

	memset(&d, 0, sizeof(d));
	ok(oc_daemon_listen(&d, 16, err, sizeof(err)) == -2,
	    "no --listen: -2");
	stale = open(sock, O_WRONLY | O_CREAT, 0600);
	close(stale);
	d.listen = xasprintf("unix:%s", sock);
	fd = oc_daemon_listen(&d, 16, err, sizeof(err));
	ok(fd >= 0 && connect_unix(sock), "unix socket replaces a stale file");
	ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
	    "the listener is close-on-exec");
	close(fd);
	oc_daemon_cleanup(&d);
	ok(access(sock, F_OK) == -1, "cleanup removes the socket file");
	free((char *)d.listen);

	d.listen = "127.0.0.1:0";
	fd = oc_daemon_listen(&d, 16, err, sizeof(err));
	ok(fd >= 0 && connect_tcp(fd), "TCP HOST:PORT listens");
	if (fd >= 0)
		close(fd);
	d.listen = "nonsense";
	ok(oc_daemon_listen(&d, 16, err, sizeof(err)) == -1 &&
	    strstr(err, "--listen nonsense") != NULL,
	    "a bad spec fails naming the option");
	d.listen = "unix:";
	ok(oc_daemon_listen(&d, 16, err, sizeof(err)) == -1,
	    "an empty socket path fails");
	oc_daemon_cleanup(&d);
	free(sock);
}

/* The PID file holds our pid; cleanup removes only a file we wrote. */
static void
test_pidfile(void)
{
	struct oc_daemon d;
	char buf[64], want[64];
	char *pid = tmp_path("d.pid"), *bad = tmp_path("no/such/d.pid");
	int fd, null;

	memset(&d, 0, sizeof(d));
	ok(oc_daemon_write_pidfile(&d), "no --pidfile: nothing to do");
	d.pidfile = pid;
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	ok(oc_daemon_write_pidfile(&d) && slurp(pid, buf, sizeof(buf)) &&
	    strcmp(buf, want) == 0, "the PID file holds our pid");
	oc_daemon_cleanup(&d);
	ok(access(pid, F_OK) == -1, "cleanup removes the PID file");

	fd = open(pid, O_WRONLY | O_CREAT, 0600);
	close(fd);
	memset(&d, 0, sizeof(d));
	d.pidfile = pid;
	oc_daemon_cleanup(&d);
	ok(access(pid, F_OK) == 0,
	    "cleanup keeps a PID file this process did not write");
	unlink(pid);
	d.pidfile = bad;
	fd = dup(STDERR_FILENO);
	null = open("/dev/null", O_WRONLY);
	dup2(null, STDERR_FILENO);
	ok(!oc_daemon_write_pidfile(&d), "an unwritable PID file fails");
	dup2(fd, STDERR_FILENO);
	close(fd);
	close(null);
	free(pid);
	free(bad);
}

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	unsetenv("ORDERCAST_MONGODB_URI");
	unsetenv("ORDERCAST_REDIS");
	unsetenv("ORDERCAST_PREFIX");
	unsetenv("ORDERCAST_LOG_LEVEL");
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	log_init("test-daemon", OC_LOG_INFO, false);
	test_backoff_growth();
	test_backoff_success();
	test_backoff_jitter();
	test_parse();
	test_check_output();
	test_signals();
	test_listen();
	test_pidfile();
	rmdir(tmpdir);
	return tap_done();
}
