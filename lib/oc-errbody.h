/*
 * The error body of every ordercast HTTP answer (docs/architecture.md,
 * "HTTP interface"):
 *   {"error":{"code":"not_found","message":"...","field":"..."}}
 * "field" only for errors about one field of a body or query. The
 * message is at most OC_ERROR_MESSAGE_MAX bytes of valid UTF-8: a longer
 * one is shortened at a character boundary, never inside a character,
 * and a byte that is not UTF-8 becomes '?'.
 */
#ifndef OC_ERRBODY_H
#define OC_ERRBODY_H

#include <stdarg.h>
#include <stddef.h>

#include <json-c/json.h>

/* Longest message in an error body, in bytes. */
#define OC_ERROR_MESSAGE_MAX	480

/*
 * The error body as an object. field may be NULL. Caller releases with
 * json_object_put() (or hands it to a function that takes it).
 */
json_object *oc_errbody_new(const char *code, const char *field,
    const char *message);

/* The same with a printf format for the message. */
json_object *oc_errbody_newf(const char *code, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
json_object *oc_errbody_newv(const char *code, const char *field,
    const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/*
 * The error body as compact JSON text with its length in *len (len may
 * be NULL), for writers that do not keep json-c objects. Caller frees.
 */
char *oc_errbody_text(const char *code, const char *field,
    const char *message, size_t *len);

/*
 * A copy of len bytes of s that is valid UTF-8 of at most max bytes:
 * invalid bytes become '?', and the copy ends on a character boundary.
 * Caller frees.
 */
char *oc_utf8_clip(const char *s, size_t len, size_t max);

#endif
