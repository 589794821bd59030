/* Validated configuration, so bad values stop a program at start. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "oc-config.h"
#include "oc-xmalloc.h"

#define DEFAULT_URI	"mongodb://127.0.0.1:27017/?replicaSet=rs0"

/*
 * Digits only, after an optional '-': strtol alone would also take
 * leading blanks and a '+', which no number this program reads has.
 */
bool
oc_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || !isdigit((unsigned char)s[s[0] == '-']))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		return false;
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* The variable's value, or def when it is unset or empty. */
static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return (v == NULL || *v == '\0') ? def : v;
}

/* MongoDB database names may not hold these characters. */
static bool
valid_db_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 64 && strpbrk(s, "/\\. \"$*<>:|?") == NULL;
}

/* Prefixes end up in Redis keys and channel names: keep them plain. */
static bool
valid_prefix(const char *s)
{
	size_t n = strlen(s);
	const char *p;

	if (n == 0 || n > 64)
		return false;
	for (p = s; *p != '\0'; p++) {
		if (*p <= ' ' || *p == 0x7f || *p == '*' || *p == '?' ||
		    *p == '[' || *p == ']')
			return false;
	}
	return true;
}

/* Split ORDERCAST_REDIS into a socket path or a host and port. */
static bool
parse_redis(struct oc_config *cfg, char *err, size_t errlen)
{
	const char *s = cfg->redis;
	const char *colon;
	long port;

	if (s[0] == '/' || s[0] == '.') {
		cfg->redis_unix = xstrdup(s);
		return true;
	}
	colon = strrchr(s, ':');
	if (colon == NULL || colon == s ||
	    !oc_parse_long(colon + 1, 1, 65535, &port)) {
		snprintf(err, errlen, "ORDERCAST_REDIS: '%s' is neither "
		    "host:port nor a socket path (starting with / or .)", s);
		return false;
	}
	cfg->redis_host = xstrndup(s, (size_t)(colon - s));
	cfg->redis_port = (int)port;
	return true;
}

/* Split "host:port" into hp; false when it is not that. */
static bool
parse_hostport(const char *s, size_t len, struct oc_hostport *hp)
{
	char *copy = xstrndup(s, len);
	char *colon = strrchr(copy, ':');
	long port;
	bool ok = false;

	if (colon != NULL && colon != copy &&
	    oc_parse_long(colon + 1, 1, 65535, &port)) {
		hp->host = xstrndup(copy, (size_t)(colon - copy));
		hp->port = (int)port;
		ok = true;
	}
	free(copy);
	return ok;
}

/* ORDERCAST_REDIS_SENTINELS (host:port,...) and ORDERCAST_REDIS_MASTER. */
static bool
parse_sentinels(struct oc_config *cfg, char *err, size_t errlen)
{
	const char *p = cfg->redis_sentinels, *comma;
	size_t len;

	if (p == NULL)
		return true;
	cfg->sentinels = xcalloc(OC_MAX_SENTINELS, sizeof(*cfg->sentinels));
	while (*p != '\0') {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (cfg->nsentinels == OC_MAX_SENTINELS) {
			snprintf(err, errlen, "ORDERCAST_REDIS_SENTINELS: at "
			    "most %d sentinels", OC_MAX_SENTINELS);
			return false;
		}
		if (!parse_hostport(p, len,
		    &cfg->sentinels[cfg->nsentinels])) {
			snprintf(err, errlen, "ORDERCAST_REDIS_SENTINELS: "
			    "'%.*s' is not host:port", (int)len, p);
			return false;
		}
		cfg->nsentinels++;
		p += len;
		if (*p == ',')
			p++;
	}
	if (cfg->nsentinels == 0) {
		snprintf(err, errlen, "ORDERCAST_REDIS_SENTINELS: no sentinel "
		    "given");
		return false;
	}
	if (cfg->redis_master == NULL || cfg->redis_master[0] == '\0') {
		snprintf(err, errlen, "ORDERCAST_REDIS_MASTER: needed with "
		    "ORDERCAST_REDIS_SENTINELS (the name the sentinels "
		    "monitor)");
		return false;
	}
	return true;
}

/* A copy of a variable's value, or NULL when it is unset or empty. */
static char *
env_dup(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? xstrdup(v) : NULL;
}

/* Read a bounded integer variable into *out. */
static bool
load_long(const char *name, const char *def, long min, long max, long *out,
    char *err, size_t errlen)
{
	const char *v = env_or(name, def);

	if (!oc_parse_long(v, min, max, out)) {
		snprintf(err, errlen, "%s: '%s' is not a whole number "
		    "from %ld to %ld", name, v, min, max);
		return false;
	}
	return true;
}

bool
oc_config_load(struct oc_config *cfg, char *err, size_t errlen)
{
	bson_error_t berr;
	mongoc_uri_t *uri = NULL;
	const char *v;
	long trust;
	bool ok = false;

	memset(cfg, 0, sizeof(*cfg));
	cfg->mongodb_uri = xstrdup(env_or("ORDERCAST_MONGODB_URI",
	    DEFAULT_URI));
	cfg->db = xstrdup(env_or("ORDERCAST_DB", "ordercast"));
	cfg->redis = xstrdup(env_or("ORDERCAST_REDIS", "127.0.0.1:6379"));
	cfg->prefix = xstrdup(env_or("ORDERCAST_PREFIX", "ordercast"));

	uri = mongoc_uri_new_with_error(cfg->mongodb_uri, &berr);
	if (uri == NULL) {
		snprintf(err, errlen, "ORDERCAST_MONGODB_URI: %s",
		    berr.message);
		goto done;
	}
	if (!valid_db_name(cfg->db)) {
		snprintf(err, errlen, "ORDERCAST_DB: '%s' is not a valid "
		    "database name", cfg->db);
		goto done;
	}
	if (!parse_redis(cfg, err, errlen))
		goto done;
	cfg->redis_sentinels = env_dup("ORDERCAST_REDIS_SENTINELS");
	cfg->redis_master = env_dup("ORDERCAST_REDIS_MASTER");
	cfg->redis_user = env_dup("ORDERCAST_REDIS_USER");
	cfg->redis_password = env_dup("ORDERCAST_REDIS_PASSWORD");
	if (!parse_sentinels(cfg, err, errlen))
		goto done;
	if (cfg->redis_user != NULL && cfg->redis_password == NULL) {
		snprintf(err, errlen, "ORDERCAST_REDIS_USER: needs "
		    "ORDERCAST_REDIS_PASSWORD");
		goto done;
	}
	if (!valid_prefix(cfg->prefix)) {
		snprintf(err, errlen, "ORDERCAST_PREFIX: '%s' must be 1 to 64 "
		    "printable characters without spaces or glob characters",
		    cfg->prefix);
		goto done;
	}
	if (!load_long("ORDERCAST_LOW_STOCK", "10", 0, 1000000000,
	    &cfg->low_stock, err, errlen))
		goto done;
	if (!load_long("ORDERCAST_TIMEOUT_MS", "5000", 100, 600000,
	    &cfg->timeout_ms, err, errlen))
		goto done;
	if (!load_long("ORDERCAST_SSE_MAX_CLIENTS", "10000", 1, 1000000,
	    &cfg->sse_max_clients, err, errlen))
		goto done;
	if (!load_long("ORDERCAST_SESSION_IDLE", "86400", 60, 31536000,
	    &cfg->session_idle_s, err, errlen))
		goto done;
	if (!load_long("ORDERCAST_SESSION_MAX", "604800", 60, 31536000,
	    &cfg->session_max_s, err, errlen))
		goto done;
	if (cfg->session_idle_s > cfg->session_max_s) {
		snprintf(err, errlen, "ORDERCAST_SESSION_IDLE: %ld is longer "
		    "than ORDERCAST_SESSION_MAX (%ld)", cfg->session_idle_s,
		    cfg->session_max_s);
		goto done;
	}
	if (!load_long("ORDERCAST_LOGIN_LIMIT", "10", 1, 1000000,
	    &cfg->login_limit, err, errlen))
		goto done;
	if (!load_long("ORDERCAST_LOGIN_WINDOW", "900", 1, 86400,
	    &cfg->login_window_s, err, errlen))
		goto done;
	if (!load_long("ORDERCAST_STREAMS_PER_SESSION", "16", 1, 100000,
	    &cfg->streams_per_session, err, errlen))
		goto done;
	if (!load_long("ORDERCAST_STREAMS_PER_ADDR", "64", 1, 1000000,
	    &cfg->streams_per_addr, err, errlen))
		goto done;
	if (!load_long("ORDERCAST_TRUST_REMOTE_USER", "0", 0, 1, &trust,
	    err, errlen))
		goto done;
	cfg->trust_remote_user = trust == 1;
	v = env_or("ORDERCAST_LOG_LEVEL", "info");
	if (!log_level_parse(v, &cfg->log_level)) {
		snprintf(err, errlen, "ORDERCAST_LOG_LEVEL: '%s' is not one "
		    "of error, warn, info, debug", v);
		goto done;
	}
	ok = true;
done:
	mongoc_uri_destroy(uri);
	return ok;
}

void
oc_config_clear(struct oc_config *cfg)
{
	free(cfg->mongodb_uri);
	free(cfg->db);
	free(cfg->redis);
	free(cfg->redis_host);
	free(cfg->redis_unix);
	free(cfg->prefix);
	for (size_t i = 0; i < cfg->nsentinels; i++)
		free(cfg->sentinels[i].host);
	free(cfg->sentinels);
	free(cfg->redis_sentinels);
	free(cfg->redis_master);
	free(cfg->redis_user);
	free(cfg->redis_password);
	memset(cfg, 0, sizeof(*cfg));
}

char *
oc_config_mask_uri(const char *uri)
{
	const char *scheme, *at, *colon, *slash;

	scheme = strstr(uri, "://");
	if (scheme == NULL)
		return xstrdup(uri);
	scheme += 3;
	slash = strchr(scheme, '/');
	at = strrchr(scheme, '@');
	if (at == NULL || (slash != NULL && at > slash))
		return xstrdup(uri);
	colon = memchr(scheme, ':', (size_t)(at - scheme));
	if (colon == NULL)
		return xstrdup(uri);
	return xasprintf("%.*s***%s", (int)(colon + 1 - uri), uri, at);
}

void
oc_config_log(const struct oc_config *cfg)
{
	char *masked;

	if (!log_enabled(OC_LOG_DEBUG))
		return;
	masked = oc_config_mask_uri(cfg->mongodb_uri);
	log_debug("ORDERCAST_MONGODB_URI=%s", masked);
	log_debug("ORDERCAST_DB=%s", cfg->db);
	log_debug("ORDERCAST_REDIS=%s", cfg->redis);
	log_debug("ORDERCAST_REDIS_SENTINELS=%s",
	    cfg->redis_sentinels != NULL ? cfg->redis_sentinels : "");
	log_debug("ORDERCAST_REDIS_MASTER=%s",
	    cfg->redis_master != NULL ? cfg->redis_master : "");
	log_debug("ORDERCAST_REDIS_USER=%s",
	    cfg->redis_user != NULL ? cfg->redis_user : "");
	log_debug("ORDERCAST_REDIS_PASSWORD=%s",
	    cfg->redis_password != NULL ? "***" : "");
	log_debug("ORDERCAST_PREFIX=%s", cfg->prefix);
	log_debug("ORDERCAST_LOW_STOCK=%ld", cfg->low_stock);
	log_debug("ORDERCAST_LOG_LEVEL=%s", log_level_name(cfg->log_level));
	log_debug("ORDERCAST_TIMEOUT_MS=%ld", cfg->timeout_ms);
	log_debug("ORDERCAST_SSE_MAX_CLIENTS=%ld", cfg->sse_max_clients);
	log_debug("ORDERCAST_SESSION_IDLE=%ld", cfg->session_idle_s);
	log_debug("ORDERCAST_SESSION_MAX=%ld", cfg->session_max_s);
	log_debug("ORDERCAST_LOGIN_LIMIT=%ld", cfg->login_limit);
	log_debug("ORDERCAST_LOGIN_WINDOW=%ld", cfg->login_window_s);
	log_debug("ORDERCAST_STREAMS_PER_SESSION=%ld",
	    cfg->streams_per_session);
	log_debug("ORDERCAST_STREAMS_PER_ADDR=%ld", cfg->streams_per_addr);
	log_debug("ORDERCAST_TRUST_REMOTE_USER=%d", cfg->trust_remote_user);
	free(masked);
}
