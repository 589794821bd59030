/* Allocation that never returns NULL: out of memory aborts the process. */
#ifndef OC_XMALLOC_H
#define OC_XMALLOC_H

#include <stddef.h>

/* Every pointer returned here is freed by the caller with free(). */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
