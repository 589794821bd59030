/* The combining rule of gauges, in one place for writers and reader. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "oc-keys.h"
#include "oc-metrics.h"

/*
 * Clients add up over relays. The lag is the worst one: a standby, or a
 * leader that has just lost its lease, must not add its lag to the
 * leader's.
 */
const struct oc_gauge oc_gauges[] = {
	{ OC_PROGRAM_SSE, OC_GAUGE_CLIENTS_CONNECTED, OC_FOLD_SUM },
	{ OC_PROGRAM_WATCH, OC_GAUGE_LAG_MS, OC_FOLD_MAX },
	{ NULL, NULL, OC_FOLD_SUM }
};

/* Look the rule up by program and field. */
const struct oc_gauge *
oc_metrics_gauge(const char *program, const char *field)
{
	const struct oc_gauge *g;

	for (g = oc_gauges; g->field != NULL; g++)
		if (strcmp(g->program, program) == 0 &&
		    strcmp(g->field, field) == 0)
			return g;
	return NULL;
}

/* Whether /api/metrics adds an instance count to program's component. */
bool
oc_metrics_has_gauges(const char *program)
{
	const struct oc_gauge *g;

	for (g = oc_gauges; g->field != NULL; g++)
		if (strcmp(g->program, program) == 0)
			return true;
	return false;
}

/* One more process's value under the gauge's rule. */
void
oc_metrics_fold(const struct oc_gauge *g, bool first, long long v,
    long long *acc)
{
	if (first) {
		*acc = v;
		return;
	}
	switch (g->fold) {
	case OC_FOLD_SUM:
		*acc += v;
		break;
	case OC_FOLD_MAX:
		if (v > *acc)
			*acc = v;
		break;
	}
}

/* Prometheus types a series by this. */
bool
oc_metrics_is_gauge(const char *program, const char *field)
{
	return strcmp(field, OC_METRIC_INSTANCES) == 0 ||
	    oc_metrics_gauge(program, field) != NULL;
}

/* Named like the watcher's identity, so both read alike in Redis. */
void
oc_metrics_instance_name(char *out, size_t outlen)
{
	char host[256], clean[64];
	size_t i, n = 0;

	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0' && n + 1 < sizeof(clean); i++)
		if (isalnum((unsigned char)host[i]) || host[i] == '.' ||
		    host[i] == '-' || host[i] == '_')
			clean[n++] = host[i];
	if (n == 0)
		clean[n++] = '?';
	clean[n] = '\0';
	snprintf(out, outlen, "%s:%ld", clean, (long)getpid());
}
