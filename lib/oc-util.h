/* Small process helpers every ordercast program needs. */
#ifndef OC_UTIL_H
#define OC_UTIL_H

#include <stdbool.h>
#include <stdint.h>

/* Wall-clock milliseconds since the epoch, for what others read. */
int64_t oc_wall_ms(void);

/* Monotonic time, for latencies and deadlines that clock steps must not move. */
int64_t oc_mono_ms(void);
int64_t oc_mono_us(void);

/* Write our pid to path; false with errno set when it cannot. */
bool oc_pidfile_write(const char *path);

#endif
