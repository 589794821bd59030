/*
 * Query strings and ids in URLs, read the same way by the API and the
 * SSE relay (docs/architecture.md, "HTTP interface").
 *
 * A query string is name=value pairs separated by '&'. Names and values
 * are decoded alike: '+' is a space and %XX (two hex digits, either case)
 * is one byte. Refused as malformed: a '%' without two hex digits after
 * it, and %00 (a NUL would cut the value short). A pair without '=' has
 * the empty value; empty pairs ("&&") are skipped. When a name repeats,
 * the first pair counts. Decoding does not check UTF-8: callers that
 * keep text validate it as they would any input.
 */
#ifndef OC_QUERY_H
#define OC_QUERY_H

#include <stdbool.h>
#include <stddef.h>

/* ObjectIds are written as this many hex digits. */
#define OC_OID_LEN	24

/*
 * Decode len bytes of s into out, NUL-terminated, at most outlen - 1
 * bytes. Returns false with a message in err when s is malformed or the
 * result does not fit; out is then unspecified.
 */
bool oc_query_decode(const char *s, size_t len, char *out, size_t outlen,
    char *err, size_t errlen);

/*
 * Look up name in query (the text after '?', without it). Returns true
 * with the decoded value in *value (caller frees) when name is present,
 * true with *value NULL when it is absent, and false with a message in
 * err (starting with name) when the value of name is malformed. A pair
 * whose name is malformed cannot be the one asked for and is passed over.
 */
bool oc_query_get(const char *query, const char *name, char **value,
    char *err, size_t errlen);

/*
 * Is s (len bytes) an ObjectId as URLs and bodies carry it: exactly 24
 * hex digits, lowercase or uppercase? The API writes them lowercase.
 */
bool oc_oid_valid(const char *s, size_t len);

#endif
