/* Leveled logging shared by every ordercast program. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "oc-log.h"

static const char *log_prog = "ordercast";
static enum oc_log_level log_level = OC_LOG_INFO;
static bool log_syslog;
static char *log_path;

static const char *const level_names[] = { "error", "warn", "info",
    "debug" };

void
log_init(const char *prog, enum oc_log_level level, bool use_syslog)
{
	log_prog = prog;
	log_level = level;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(enum oc_log_level level)
{
	log_level = level;
}

bool
log_enabled(enum oc_log_level level)
{
	return level <= log_level;
}

bool
log_level_parse(const char *s, enum oc_log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum oc_log_level)i;
			return true;
		}
	}
	return false;
}

const char *
log_level_name(enum oc_log_level level)
{
	return level_names[level];
}

bool
log_open_file(const char *path)
{
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return false;
	if (dup2(fd, STDERR_FILENO) == -1) {
		close(fd);
		return false;
	}
	close(fd);
	if (log_path != path) {
		free(log_path);
		log_path = strdup(path);
	}
	return true;
}

void
log_reopen(void)
{
	if (log_path != NULL && !log_open_file(log_path))
		log_warn("reopen %s", log_path);
}

/* One line, written with a single write(2) so threads never interleave. */
static void
log_emit(enum oc_log_level level, int errnum, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO,
	    LOG_DEBUG };
	char msg[2048], line[2400];
	struct timespec ts;
	struct tm tm;
	int n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum != 0) {
		size_t len = strlen(msg);

		snprintf(msg + len, sizeof(msg) - len, ": %s",
		    strerror(errnum));
	}
	if (log_syslog) {
		syslog(prio[level], "%s", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s[%ld]: %s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[level],
	    log_prog, (long)getpid(), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nowhere left to report a failing log. */
	}
}

#define LOG_BODY(level, errnum) do {				\
	int saved = errno;					\
	va_list ap;						\
	if (log_enabled(level)) {				\
		va_start(ap, fmt);				\
		log_emit(level, errnum, fmt, ap);		\
		va_end(ap);					\
	}							\
	errno = saved;						\
} while (0)

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(OC_LOG_WARN, saved);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(OC_LOG_WARN, 0);
}

void
log_error(const char *fmt, ...)
{
	LOG_BODY(OC_LOG_ERROR, saved);
}

void
log_errorx(const char *fmt, ...)
{
	LOG_BODY(OC_LOG_ERROR, 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(OC_LOG_INFO, 0);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(OC_LOG_DEBUG, 0);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(OC_LOG_ERROR, saved);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(OC_LOG_ERROR, 0);
	exit(1);
}
