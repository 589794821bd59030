/* Small process helpers every ordercast program needs. */
#ifndef OC_UTIL_H
#define OC_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Wall-clock milliseconds since the epoch, for what others read. */
int64_t oc_wall_ms(void);

/* Monotonic time, for latencies and deadlines that clock steps must not move. */
int64_t oc_mono_ms(void);
int64_t oc_mono_us(void);

/*
 * A condition variable that waits by the monotonic clock, and a wait of
 * at most ms on it (the caller holds mu), so that a step of the wall
 * clock neither stretches nor cuts a thread's period.
 */
void oc_cond_init_mono(pthread_cond_t *cv);
void oc_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, long ms);

/* Write our pid to path; false with errno set when it cannot. */
bool oc_pidfile_write(const char *path);

#endif
