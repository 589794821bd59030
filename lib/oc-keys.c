/* Redis names in one place, so no two programs can spell one differently. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "oc-keys.h"
#include "oc-xmalloc.h"

/* "<prefix>:<suffix>", the shape of every name. */
static char *
key(const char *prefix, const char *suffix)
{
	return xasprintf("%s:%s", prefix, suffix);
}

/* Built once at start, so requests only read the names. */
void
oc_keys_init(struct oc_keys *keys, const char *prefix)
{
	memset(keys, 0, sizeof(*keys));
	keys->events = key(prefix, "events");
	keys->log = key(prefix, "log");
	keys->watch_token = key(prefix, "watch:token");
	keys->watch_alive = key(prefix, "watch:alive");
	keys->watch_low = key(prefix, "watch:low");
	keys->watch_leader = key(prefix, "watch:leader");
	keys->watch_standbys = key(prefix, "watch:standbys");
	keys->cache_gen = key(prefix, "cache:gen");
	keys->cache_products = key(prefix, "cache:products");
	keys->cache_product = key(prefix, "cache:product:");
	keys->metrics = key(prefix, "metrics:");
	keys->metrics_match = key(prefix, "metrics:*");
	keys->metrics_api = key(prefix, "metrics:" OC_PROGRAM_API);
	keys->metrics_sse = key(prefix, "metrics:" OC_PROGRAM_SSE);
	keys->metrics_watch = key(prefix, "metrics:" OC_PROGRAM_WATCH);
}

/* Release every name; the struct is left zeroed. */
void
oc_keys_clear(struct oc_keys *keys)
{
	free(keys->events);
	free(keys->log);
	free(keys->watch_token);
	free(keys->watch_alive);
	free(keys->watch_low);
	free(keys->watch_leader);
	free(keys->watch_standbys);
	free(keys->cache_gen);
	free(keys->cache_products);
	free(keys->cache_product);
	free(keys->metrics);
	free(keys->metrics_match);
	free(keys->metrics_api);
	free(keys->metrics_sse);
	free(keys->metrics_watch);
	memset(keys, 0, sizeof(*keys));
}

/* One product's entry of the read-through cache. */
char *
oc_keys_product(const struct oc_keys *keys, const char *id)
{
	return xasprintf("%s%s", keys->cache_product, id);
}

/* /api/metrics names each component after its key. */
const char *
oc_keys_metrics_program(const struct oc_keys *keys, const char *k)
{
	size_t n = strlen(keys->metrics);

	if (strncmp(k, keys->metrics, n) != 0 || k[n] == '\0' ||
	    strchr(k + n, ':') != NULL)
		return NULL;
	return k + n;
}

/* Where one process keeps its gauges, beside its program's counters. */
char *
oc_keys_metrics_instance(const struct oc_keys *keys, const char *program,
    const char *instance)
{
	return xasprintf("%s%s:%s", keys->metrics, program, instance);
}

/* /api/metrics folds each process's gauges into its program's. */
bool
oc_keys_metrics_split(const struct oc_keys *keys, const char *k,
    char *program, size_t programlen, const char **instance)
{
	size_t n = strlen(keys->metrics);
	const char *colon;

	if (strncmp(k, keys->metrics, n) != 0)
		return false;
	colon = strchr(k + n, ':');
	if (colon == NULL || colon == k + n || colon[1] == '\0' ||
	    (size_t)(colon - (k + n)) >= programlen)
		return false;
	memcpy(program, k + n, (size_t)(colon - (k + n)));
	program[colon - (k + n)] = '\0';
	*instance = colon + 1;
	return true;
}
