/* Reconnect delays shared by every program that retries a peer. */
#include "config.h"

#include <unistd.h>

#include "oc-backoff.h"
#include "oc-util.h"

/* xorshift64: enough for jitter, and reproducible from a seed in tests. */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

/* Fix nonsense limits once so that next() never divides by zero. */
void
oc_backoff_init(struct oc_backoff *b, long min_ms, long max_ms,
    uint64_t seed)
{
	if (min_ms < 1)
		min_ms = 1;
	if (max_ms < min_ms)
		max_ms = min_ms;
	b->min_ms = min_ms;
	b->max_ms = max_ms;
	b->delay_ms = 0;
	if (seed == 0)
		seed = (uint64_t)oc_mono_us() ^ ((uint64_t)getpid() << 32);
	b->rng = seed != 0 ? seed : 0x9e3779b97f4a7c15ULL;
}

/* Double the delay up to the cap; the wait is its upper half, at random. */
long
oc_backoff_next(struct oc_backoff *b)
{
	long half;

	if (b->delay_ms == 0)
		b->delay_ms = b->min_ms;
	else if (b->delay_ms <= b->max_ms / 2)
		b->delay_ms *= 2;
	else
		b->delay_ms = b->max_ms;
	half = b->delay_ms / 2;
	return b->delay_ms - half +
	    (long)(next_random(&b->rng) % (uint64_t)(half + 1));
}

/* Called by the owner of the work, not by the connect. */
void
oc_backoff_success(struct oc_backoff *b)
{
	b->delay_ms = 0;
}

/* For "connected again" messages: was this peer failing? */
bool
oc_backoff_failing(const struct oc_backoff *b)
{
	return b->delay_ms != 0;
}
