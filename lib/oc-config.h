/*
 * Configuration from ORDERCAST_* environment variables, read and
 * validated once at start. Nothing reads getenv() after this.
 */
#ifndef OC_CONFIG_H
#define OC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "oc-log.h"

/* A host and a TCP port. */
struct oc_hostport {
	char	*host;
	int	 port;
};

#define OC_MAX_SENTINELS 16

struct oc_config {
	char *mongodb_uri;	/* ORDERCAST_MONGODB_URI */
	char *db;		/* ORDERCAST_DB */
	char *redis;		/* ORDERCAST_REDIS, as given */
	char *redis_host;	/* set when redis is host:port */
	int redis_port;
	char *redis_unix;	/* set when redis is a socket path */
	char *redis_sentinels;	/* ORDERCAST_REDIS_SENTINELS, as given */
	struct oc_hostport *sentinels;	/* parsed, nsentinels of them */
	size_t nsentinels;
	char *redis_master;	/* ORDERCAST_REDIS_MASTER */
	char *redis_user;	/* ORDERCAST_REDIS_USER, or NULL */
	char *redis_password;	/* ORDERCAST_REDIS_PASSWORD, or NULL */
	char *prefix;		/* ORDERCAST_PREFIX */
	long low_stock;		/* ORDERCAST_LOW_STOCK */
	enum oc_log_level log_level;	/* ORDERCAST_LOG_LEVEL */
	long timeout_ms;	/* ORDERCAST_TIMEOUT_MS */
	long sse_max_clients;	/* ORDERCAST_SSE_MAX_CLIENTS */
	long session_idle_s;	/* ORDERCAST_SESSION_IDLE */
	long session_max_s;	/* ORDERCAST_SESSION_MAX */
	long login_limit;	/* ORDERCAST_LOGIN_LIMIT: failures per window */
	long login_window_s;	/* ORDERCAST_LOGIN_WINDOW */
	long streams_per_session;	/* ORDERCAST_STREAMS_PER_SESSION */
	long streams_per_addr;	/* ORDERCAST_STREAMS_PER_ADDR */
	bool trust_remote_user;	/* ORDERCAST_TRUST_REMOTE_USER */
};

/*
 * Fill cfg from the environment. Returns false with a message naming the
 * variable in err when a value is invalid; cfg must then still be passed
 * to oc_config_clear(). Strings in cfg are owned by cfg.
 */
bool oc_config_load(struct oc_config *cfg, char *err, size_t errlen);

/* Free what oc_config_load() allocated; safe on a zeroed struct. */
void oc_config_clear(struct oc_config *cfg);

/* Log every value at debug level, with passwords masked. */
void oc_config_log(const struct oc_config *cfg);

/* Copy of a MongoDB URI with any password replaced by "***". Caller frees. */
char *oc_config_mask_uri(const char *uri);

/*
 * Parse a whole decimal integer in [min, max], digits after an optional
 * '-'; false on anything else (blanks and '+' included).
 */
bool oc_parse_long(const char *s, long min, long max, long *out);

#endif
