/*
 * Logging with levels to stderr (suitable for journald) or syslog.
 * Lines carry time, level, program and pid; errno is preserved.
 * A message longer than OC_LOG_MSG_MAX bytes is cut at a character
 * boundary and ends with " ... [N bytes dropped]".
 */
#ifndef OC_LOG_H
#define OC_LOG_H

#include <stdbool.h>

/* Longest message a log line carries (the line adds time, level, pid). */
#define OC_LOG_MSG_MAX	16384

enum oc_log_level {
	OC_LOG_ERROR = 0,
	OC_LOG_WARN,
	OC_LOG_INFO,
	OC_LOG_DEBUG
};

/* prog is kept by pointer: pass a string that lives as long as the process. */
void log_init(const char *prog, enum oc_log_level level, bool use_syslog);
void log_set_level(enum oc_log_level level);
bool log_enabled(enum oc_log_level level);

/* Parse "error", "warn", "info" or "debug"; false when it is none. */
bool log_level_parse(const char *s, enum oc_log_level *out);
const char *log_level_name(enum oc_log_level level);

/* Send stderr to path (append); log_reopen() opens it again (SIGHUP). */
bool log_open_file(const char *path);
void log_reopen(void);

#define OC_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* _warn variants append strerror(errno); the x variants do not. */
void log_warn(const char *fmt, ...) OC_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) OC_PRINTF(1, 2);
void log_error(const char *fmt, ...) OC_PRINTF(1, 2);
void log_errorx(const char *fmt, ...) OC_PRINTF(1, 2);
void log_info(const char *fmt, ...) OC_PRINTF(1, 2);
void log_debug(const char *fmt, ...) OC_PRINTF(1, 2);
void fatal(const char *fmt, ...) OC_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) OC_PRINTF(1, 2) __attribute__((noreturn));

#endif
