/*
 * Start-up of the ordercast daemons, so that all of them behave alike:
 *
 *   - the common options: -n/--check, --pidfile FILE, --log FILE,
 *     --listen unix:PATH|HOST:PORT (for programs that listen), --help;
 *     a program adds its own through struct oc_daemon_spec;
 *   - a bad option or argument prints the usage to stderr and exits
 *     OC_EXIT_USAGE; --help prints it to stdout and exits 0;
 *   - --check prints the effective configuration (secrets masked) and
 *     "configuration OK" to stdout, then exits 0;
 *   - SIGTERM and SIGINT ask the program to stop, SIGHUP reopens the log
 *     file (--log), SIGPIPE is ignored; a handler only sets a flag and
 *     writes a byte to a self-pipe, the program's loop does the rest.
 *
 * How a main uses it (ordercast-watch does exactly this):
 *
 *	struct oc_daemon d;
 *	int status;
 *
 *	if (!oc_daemon_parse(&d, &spec, argc, argv, &status))
 *		return status;
 *	log_init(spec.prog, OC_LOG_INFO, false);
 *	if (!oc_daemon_open_log(&d)) ... exit 1
 *	oc_config_load(), the program's own validation ... exit 1
 *	if (d.check) {
 *		oc_daemon_print_check(&d, &cfg);
 *		exit 0;
 *	}
 *	FCGX_Init();			(FastCGI programs: it installs
 *					 handlers, so signals come after)
 *	fd = oc_daemon_listen(&d, backlog, err, sizeof(err));
 *					(-1 with err, or -2 without --listen:
 *					 then serve fd 0 as before)
 *	oc_daemon_signals(err, sizeof(err));
 *	oc_daemon_write_pidfile(&d);
 *	while (!oc_daemon_stopping()) {
 *		... work, waking at least every second, or when
 *		    oc_daemon_signal_fd() is readable (epoll, poll) ...
 *		oc_daemon_handle_signals();
 *	}
 *	oc_daemon_cleanup(&d);		(removes the PID file and the unix
 *					 socket this process created)
 *
 * ordercast-api, with its worker threads, lets one thread poll
 * oc_daemon_signal_fd() and call oc_daemon_handle_signals() when it is
 * readable (instead of sigwait), then shuts the listener down when
 * oc_daemon_stopping() turns true. ordercast-sse adds the signal fd to
 * its epoll set. Both pass their own options (--threads, --init, --ring,
 * --queue-max) through spec.options and spec.option.
 */
#ifndef OC_DAEMON_H
#define OC_DAEMON_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "oc-config.h"

/* Exit status after a bad option or argument, the same in every daemon. */
#define OC_EXIT_USAGE		2

/* The first getopt value free for a program's own long options. */
#define OC_DAEMON_OPT_OWN	1000

/* What a program adds to the common options. Kept by pointer. */
struct oc_daemon_spec {
	const char *prog;	/* "ordercast-watch": usage and log lines */
	bool listen;		/* accepts --listen */
	const char *synopsis;	/* own options for the usage line, or NULL */
	const char *help;	/* lines describing them, or NULL */
	const char *about;	/* closing paragraph of --help, or NULL */
	/* Own long options, { NULL } terminated, val >= OC_DAEMON_OPT_OWN. */
	const struct option *options;
	/*
	 * Called for each own option with its val and argument. Returns
	 * false with a message in err to refuse it (a usage error).
	 */
	bool (*option)(void *arg, int val, const char *optarg, char *err,
	    size_t errlen);
	void *arg;
};

/* The common options as given, and what start-up created. */
struct oc_daemon {
	const struct oc_daemon_spec *spec;
	bool check;		/* -n, --check */
	const char *pidfile;	/* --pidfile, or NULL; points into argv */
	const char *logfile;	/* --log, or NULL */
	const char *listen;	/* --listen, or NULL */
	char *unix_path;	/* socket file we created; owned */
	bool pid_written;
};

/*
 * Fill d from argv. Returns true when the program should go on; false
 * when it should exit with *status: 0 after --help, OC_EXIT_USAGE after
 * a mistake (the usage and the reason are printed to stderr).
 */
bool oc_daemon_parse(struct oc_daemon *d, const struct oc_daemon_spec *spec,
    int argc, char *argv[], int *status);

/* Print the usage of spec to f. */
void oc_daemon_usage(const struct oc_daemon_spec *spec, FILE *f);

/* Send the log to --log when given; false (logged) when it cannot. */
bool oc_daemon_open_log(struct oc_daemon *d);

/* The --check output: effective configuration, then "configuration OK". */
void oc_daemon_print_check(const struct oc_daemon *d,
    const struct oc_config *cfg, FILE *f);

/*
 * Install the TERM/INT/HUP handlers and ignore SIGPIPE. Call it after
 * FCGX_Init(), which installs handlers of its own; calling it again
 * reinstalls them. False with err when the self-pipe cannot be made.
 */
bool oc_daemon_signals(char *err, size_t errlen);

/* True once SIGTERM or SIGINT arrived (or oc_daemon_stop() was called). */
bool oc_daemon_stopping(void);

/* Ask the loop to stop, as SIGTERM would. Async-signal-safe. */
void oc_daemon_stop(void);

/* Readable when a signal arrived; -1 before oc_daemon_signals(). */
int oc_daemon_signal_fd(void);

/*
 * Act on the signals that arrived: drain the self-pipe and reopen the
 * log after SIGHUP. Returns oc_daemon_stopping().
 */
bool oc_daemon_handle_signals(void);

/* Sleep up to ms, returning early when a signal arrives. */
void oc_daemon_sleep(long ms);

/*
 * Listen on --listen: "unix:PATH" (a stale socket file is replaced and
 * removed again by oc_daemon_cleanup) or "HOST:PORT" (HOST may be empty
 * for every address, or an IPv6 address in brackets). Returns the
 * blocking, close-on-exec descriptor, which the caller closes; -2 when
 * there was no --listen; -1 with err on failure.
 */
int oc_daemon_listen(struct oc_daemon *d, int backlog, char *err,
    size_t errlen);

/* Write --pidfile when given; false (logged, errno kept) on failure. */
bool oc_daemon_write_pidfile(struct oc_daemon *d);

/* Remove the PID file and the socket file we created; free d's copies. */
void oc_daemon_cleanup(struct oc_daemon *d);

#endif
