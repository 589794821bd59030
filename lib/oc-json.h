/*
 * The one converter between BSON documents and JSON (json-c), used by the
 * REST API and the watcher alike so a document looks the same in both,
 * and a strict JSON parser for request bodies.
 *
 * BSON to JSON: ObjectId -> 24-hex string; date -> ISO-8601 UTC with
 * milliseconds; Int32/Int64 -> exact integers; Decimal128 -> its exact
 * decimal string; NaN and infinities -> null; Timestamp -> {"t","i"};
 * binary -> base64 string; regex -> "/pattern/flags". A top-level "_id"
 * is shown as "id".
 */
#ifndef OC_JSON_H
#define OC_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>
#include <json-c/json.h>

/* Print flags for every JSON ordercast writes. */
#define OC_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Default nesting limit of request bodies. */
#define OC_JSON_MAX_DEPTH 32

/* A document as the API shows it. Caller releases with json_object_put(). */
json_object *oc_bson_to_json(const bson_t *doc);

/* One BSON value (iterator positioned on it). Caller releases. */
json_object *oc_bson_value_to_json(const bson_iter_t *it);

/* Same as oc_bson_to_json() but keeps "_id" as it is (nested documents). */
json_object *oc_bson_doc_to_json(const bson_t *doc);

/*
 * Append a JSON value to out under key. Objects become documents, arrays
 * arrays, integers Int32 when they fit and Int64 otherwise. Returns false
 * (with a message in err) when the value cannot be represented.
 */
bool oc_json_append_bson(bson_t *out, const char *key, json_object *val,
    char *err, size_t errlen);

/* Convert a JSON object into a new BSON document in *out (bson_init'ed). */
bool oc_json_to_bson(json_object *obj, bson_t *out, char *err,
    size_t errlen);

/*
 * Parse exactly len bytes as one JSON value: strict syntax, valid UTF-8,
 * at most max_depth levels, nothing but white space after it.
 * Returns a new object (caller releases) or NULL with a message in err.
 */
json_object *oc_json_parse(const char *buf, size_t len, int max_depth,
    char *err, size_t errlen);

/* The compact text of obj; owned by obj, valid until obj changes. */
const char *oc_json_text(json_object *obj, size_t *len);

/* Parse exactly 24 hex digits into an ObjectId; false on anything else. */
bool oc_oid_parse(const char *s, bson_oid_t *out);

/* Format milliseconds since the epoch as ISO-8601 UTC into buf (>= 32). */
void oc_format_iso8601(int64_t ms, char *buf, size_t buflen);

#endif
