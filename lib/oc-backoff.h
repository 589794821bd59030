/*
 * Capped exponential backoff with jitter, for reconnect loops.
 *
 * The delay doubles after every failure up to a cap, and a random half
 * of it is jitter so that peers restarted together do not retry in step.
 * Only the caller knows when a connection really works: it calls
 * oc_backoff_success() after real work succeeded (a command answered, a
 * batch published), never merely after a connect, so a peer that accepts
 * connections and then fails every request is still retried slowly.
 */
#ifndef OC_BACKOFF_H
#define OC_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

struct oc_backoff {
	long min_ms;		/* first delay after a success */
	long max_ms;		/* the cap */
	long delay_ms;		/* current delay; 0 right after a success */
	uint64_t rng;		/* jitter state, never 0 */
};

/* Start with no failure yet; seed 0 picks one from the clock and pid. */
void oc_backoff_init(struct oc_backoff *b, long min_ms, long max_ms,
    uint64_t seed);

/*
 * One more failure: returns how long to wait before the next attempt,
 * in [delay / 2, delay] where delay doubles from min_ms up to max_ms.
 */
long oc_backoff_next(struct oc_backoff *b);

/* Real work succeeded: the next failure waits min_ms again. */
void oc_backoff_success(struct oc_backoff *b);

/* True when a failure was seen since the last success. */
bool oc_backoff_failing(const struct oc_backoff *b);

#endif
