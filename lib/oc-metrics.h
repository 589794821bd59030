/*
 * How the metrics of several processes of one program add up
 * (docs/architecture.md, "Metrics"). Counters go by HINCRBY into the
 * program's shared hash PREFIX:metrics:<program> and so add up by
 * themselves. Gauges are one process's present value: each process
 * keeps them in PREFIX:metrics:<program>:<instance>, with a TTL, and
 * /api/metrics folds them into the program's component by the rule
 * named here per gauge.
 */
#ifndef OC_METRICS_H
#define OC_METRICS_H

#include <stdbool.h>
#include <stddef.h>

/* Gauge fields, as the processes write them. */
#define OC_GAUGE_CLIENTS_CONNECTED	"clients_connected"
#define OC_GAUGE_LAG_MS			"lag_ms"
/* Added to a component: how many processes reported gauges. */
#define OC_METRIC_INSTANCES		"instances"

/*
 * A per-process gauge hash lives this long after its last refresh, a
 * few flush periods: a process killed without a word drops out of the
 * figures within seconds.
 */
#define OC_GAUGE_TTL_MS			5000

/*
 * Set one gauge and its hash's TTL in one step (EVAL KEYS[1] = the
 * process's hash; ARGV: field, value, TTL in ms), so that no hash is
 * ever left without an expiry.
 */
#define OC_GAUGE_SET_SCRIPT \
	"redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) " \
	"return redis.call('PEXPIRE', KEYS[1], ARGV[3])"

enum oc_gauge_fold {
	OC_FOLD_SUM,		/* every process's share: clients */
	OC_FOLD_MAX		/* the worst process: lag */
};

struct oc_gauge {
	const char		*program;	/* OC_PROGRAM_* */
	const char		*field;
	enum oc_gauge_fold	 fold;
};

/* Every gauge of every program; the table ends with a NULL field. */
extern const struct oc_gauge oc_gauges[];

/* The rule of a gauge of program; NULL when field is not a gauge. */
const struct oc_gauge *oc_metrics_gauge(const char *program,
    const char *field);

/* True when some process of program reports gauges. */
bool oc_metrics_has_gauges(const char *program);

/*
 * Fold the value of one more process into *acc; first says *acc holds
 * nothing yet.
 */
void oc_metrics_fold(const struct oc_gauge *g, bool first, long long v,
    long long *acc);

/*
 * True when program's component is a gauge there: one of the table's,
 * or the instance count.
 */
bool oc_metrics_is_gauge(const char *program, const char *field);

/*
 * This process's instance name, "host:pid" (the host name with only
 * [A-Za-z0-9._-], so the name holds no ':' but the one before the pid).
 */
void oc_metrics_instance_name(char *out, size_t outlen);

#endif
