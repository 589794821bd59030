/*
 * Every Redis key and channel name of ordercast, built from
 * ORDERCAST_PREFIX in one place (docs/architecture.md, "Redis keys").
 * A program fills one struct oc_keys at start and reads its fields;
 * nothing else spells a key.
 */
#ifndef OC_KEYS_H
#define OC_KEYS_H

#include <stdbool.h>
#include <stddef.h>

/* The program names under PREFIX:metrics:<program>. */
#define OC_PROGRAM_API		"api"
#define OC_PROGRAM_SSE		"sse"
#define OC_PROGRAM_WATCH	"watch"

struct oc_keys {
	char *events;		/* PREFIX:events, pub/sub channel */
	char *log;		/* PREFIX:log, stream of events for replay */
	char *watch_token;	/* PREFIX:watch:token, resume token */
	char *watch_alive;	/* PREFIX:watch:alive, heartbeat with TTL */
	char *watch_low;	/* PREFIX:watch:low, set of low products */
	char *watch_leader;	/* PREFIX:watch:leader, the publisher's lease */
	char *watch_standbys;	/* PREFIX:watch:standbys, who stands by */
	char *cache_gen;	/* PREFIX:cache:gen, product cache generation */
	char *cache_products;	/* PREFIX:cache:products, the catalog */
	char *cache_product;	/* PREFIX:cache:product:, + a product id */
	char *metrics;		/* PREFIX:metrics:, + a program name */
	char *metrics_match;	/* PREFIX:metrics:*, a SCAN pattern */
	char *metrics_api;	/* PREFIX:metrics:api */
	char *metrics_sse;	/* PREFIX:metrics:sse */
	char *metrics_watch;	/* PREFIX:metrics:watch */
};

/*
 * Build every name under prefix (a validated ORDERCAST_PREFIX). The
 * strings are owned by keys: release them with oc_keys_clear().
 */
void oc_keys_init(struct oc_keys *keys, const char *prefix);

/* Free what oc_keys_init() allocated; safe on a zeroed struct. */
void oc_keys_clear(struct oc_keys *keys);

/* PREFIX:cache:product:<id>, the cache key of one product. Caller frees. */
char *oc_keys_product(const struct oc_keys *keys, const char *id);

/*
 * The program name of a PREFIX:metrics:<program> key (a program's
 * shared counters), pointing into key; NULL when key is not one, a
 * process's PREFIX:metrics:<program>:<instance> included. The string is
 * borrowed from key.
 */
const char *oc_keys_metrics_program(const struct oc_keys *keys,
    const char *key);

/*
 * PREFIX:metrics:<program>:<instance>, the gauges of one process (the
 * instance is "host:pid"). Caller frees.
 */
char *oc_keys_metrics_instance(const struct oc_keys *keys,
    const char *program, const char *instance);

/*
 * Split a PREFIX:metrics:<program>:<instance> key: the program's name
 * into program, and *instance pointing into key. False when key is no
 * such key or the name does not fit in programlen.
 */
bool oc_keys_metrics_split(const struct oc_keys *keys, const char *key,
    char *program, size_t programlen, const char **instance);

#endif
