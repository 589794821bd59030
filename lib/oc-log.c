/* Leveled logging shared by every ordercast program. */
#include "config.h"

#include <sys/uio.h>

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

/*
 * Bytes of msg (len) to keep within max, never splitting a UTF-8
 * character: back up while the first dropped byte continues one.
 */
static size_t
log_cut(const char *msg, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)msg[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/*
 * One line, written with a single writev(2) so threads never
 * interleave. A message longer than OC_LOG_MSG_MAX is cut at a
 * character boundary and says how many bytes it lost.
 */
static void __attribute__((format(printf, 3, 0)))
log_emit(enum oc_log_level level, int errnum, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO,
	    LOG_DEBUG };
	char small[2048], prefix[128], tail[192];
	char *msg = small, *big = NULL;
	struct iovec iov[3];
	struct timespec ts;
	struct tm tm;
	size_t len, keep;
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0)
		goto done;
	len = (size_t)n;
	if (len >= sizeof(small)) {
		/* One byte past the cut, to see whether it splits. */
		keep = len < OC_LOG_MSG_MAX ? len : OC_LOG_MSG_MAX;
		big = malloc(keep + 2);
		if (big != NULL) {
			vsnprintf(big, keep + 2, fmt, aq);
			msg = big;
		} else {
			keep = sizeof(small) - 2;
		}
		if (len > keep)
			keep = log_cut(msg, len, keep);
	} else {
		keep = len;
	}
	tail[0] = '\0';
	if (keep < len)
		snprintf(tail, sizeof(tail), " ... [%zu bytes dropped]",
		    len - keep);
	if (errnum != 0) {
		size_t tlen = strlen(tail);

		snprintf(tail + tlen, sizeof(tail) - tlen, ": %s",
		    strerror(errnum));
	}
	if (log_syslog) {
		syslog(prio[level], "%.*s%s", (int)keep, msg, tail);
		goto done;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(prefix, sizeof(prefix),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s[%ld]: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[level],
	    log_prog, (long)getpid());
	if (n < 0)
		goto done;
	iov[0].iov_base = prefix;
	iov[0].iov_len = (size_t)n < sizeof(prefix) ? (size_t)n :
	    sizeof(prefix) - 1;
	iov[1].iov_base = msg;
	iov[1].iov_len = keep;
	len = strlen(tail);
	if (len + 1 >= sizeof(tail))
		len = sizeof(tail) - 2;
	tail[len] = '\n';
	iov[2].iov_base = tail;
	iov[2].iov_len = len + 1;
	if (writev(STDERR_FILENO, iov, 3) < 0) {
		/* Nowhere left to report a failing log. */
	}
done:
	va_end(aq);
	free(big);
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
