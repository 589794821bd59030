/*
 * The ordercast event model, shared by the watcher (which builds events
 * from MongoDB change documents) and the SSE relay (which filters them
 * by topic).
 *
 * An event is one JSON object:
 *   {"id","type","collection","op","key","doc","changed","removed",
 *    "clusterTime","publishedAt"}
 * The watcher builds everything but "id" and "publishedAt", which its
 * Redis script adds when the event is appended to the log. Types and
 * topics are oc-model's; docs/architecture.md describes the event.
 */
#ifndef OC_EVENT_H
#define OC_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>
#include <json-c/json.h>

#include "oc-model.h"

/*
 * The event type of an operation on a watched collection, e.g.
 * ("orders", "insert") -> "order.created". NULL when the collection is
 * not watched or the operation makes no event (drop, rename, ...).
 * The string is static.
 */
const char *oc_event_type(const char *collection, const char *op);

/*
 * The SSE topic of an event type: "orders", "products", "users" or
 * "alerts". NULL for system.* events, which go to every client, and for
 * a type that oc-model does not list. The string is static. Filters
 * that keep topic bits use oc_event_kind_topic() instead.
 */
const char *oc_event_topic(const char *type);

/* What the watcher needs to know about one change besides its event. */
struct oc_change {
	const char *type;	/* static; NULL when the change makes no event */
	char op[16];		/* operationType, e.g. "update" */
	char *key;		/* documentKey._id as text; owned */
	json_object *event;	/* the event without id/publishedAt; owned */
	json_object *doc;	/* the document inside event (borrowed) */
	int64_t cluster_ms;	/* clusterTime in ms since the epoch */
	bool has_stock;		/* the change sets products' stock */
	int64_t stock;
};

/*
 * Build the event of a change stream document. Returns false with a
 * message in err when the document is malformed. On success a change
 * that makes no event has out->type NULL and out->event NULL.
 * Release out with oc_change_clear() in both cases.
 */
bool oc_change_parse(const bson_t *change, struct oc_change *out,
    char *err, size_t errlen);

/* Free what oc_change_parse() allocated; safe on a zeroed struct. */
void oc_change_clear(struct oc_change *change);

/*
 * A new event object without id and publishedAt. Takes ownership of
 * doc, changed and removed (any may be NULL: null, {} and [] are used).
 * key and collection may be NULL (JSON null). Caller releases.
 */
json_object *oc_event_new(const char *type, const char *collection,
    const char *op, const char *key, json_object *doc,
    json_object *changed, json_object *removed, int64_t cluster_ms);

/* The alert.low_stock event of a product change (c->has_stock set). */
json_object *oc_event_low_stock(const struct oc_change *c);

#endif
