/*
 * The filter language of ?where= on REST lists and on /api/events
 * (docs/filters.md): one parser, a compiler to a MongoDB filter for the
 * lists, and an evaluator over JSON for the live streams, with the same
 * meaning in both.
 *
 *   f = oc_filter_parse(text, len, OC_FILTER_ORDERS, see, &err);
 *   oc_filter_to_bson(f, &query);         REST: run by MongoDB
 *   oc_filter_match(f, event_json);       streams: run on every event
 *   oc_filter_text(f);                    the normalised text, to share
 *                                         one evaluation among clients
 */
#ifndef OC_FILTER_H
#define OC_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>
#include <json-c/json.h>

/* What a filter is written against. */
enum oc_filter_target {
	OC_FILTER_ORDERS,	/* GET /api/orders: fields of an order */
	OC_FILTER_PRODUCTS,	/* GET /api/products */
	OC_FILTER_USERS,	/* GET /api/users */
	OC_FILTER_EVENTS	/* /api/events: type collection op key doc.* */
};

/*
 * Visibility: each field needs some of these flags; the caller passes
 * the flags its role holds, and a field whose flags are not all held is
 * an error naming it. Every role sees products; customers see orders
 * (the API narrows them to their own); only admins see users.
 */
#define OC_FILTER_SEE_ORDERS	0x1u
#define OC_FILTER_SEE_PRODUCTS	0x2u
#define OC_FILTER_SEE_USERS	0x4u
#define OC_FILTER_SEE_ALL	0x7u

/* Limits of one filter. */
#define OC_FILTER_MAX_TEXT	2048	/* bytes of text */
#define OC_FILTER_MAX_PREDS	64	/* predicates */
#define OC_FILTER_MAX_DEPTH	16	/* levels of '(' and NOT */
#define OC_FILTER_MAX_IN	100	/* values in one IN list */

/* Why a filter was refused, for {"error":{"code":"bad_filter",...}}. */
struct oc_filter_error {
	size_t	position;	/* byte offset into the text, from 0 */
	char	message[256];	/* e.g. "expected ')', found end of filter" */
};

struct oc_filter;

/*
 * Parse and type-check len bytes of filter text for target, as seen by
 * a role holding the visibility flags see. Returns a new filter (release
 * with oc_filter_free()) or NULL with err filled in.
 */
struct oc_filter *oc_filter_parse(const char *text, size_t len,
    enum oc_filter_target target, unsigned see,
    struct oc_filter_error *err);

/* Release a filter; accepts NULL. */
void oc_filter_free(struct oc_filter *f);

/* The target the filter was parsed for. */
enum oc_filter_target oc_filter_target(const struct oc_filter *f);

/*
 * The normalised text: keywords in capitals, one spelling per operator,
 * minimal parentheses, ids in lower case, dates as the API prints them.
 * Filters with the same normalised text admit the same documents.
 * Owned by f.
 */
const char *oc_filter_text(const struct oc_filter *f);

/*
 * Append the MongoDB filter to out (initialised, normally empty): typed
 * values only, `id` as `_id`, LIKE as an anchored regex. For
 * OC_FILTER_EVENTS the paths are those of the event JSON.
 */
void oc_filter_to_bson(const struct oc_filter *f, bson_t *out);

/*
 * Does the filter admit obj? For a collection target obj is a document
 * as the API shows it (oc_bson_to_json()); for OC_FILTER_EVENTS it is
 * the whole event object. Same meaning as oc_filter_to_bson(). Does not
 * allocate; safe to call from many threads on one filter.
 */
bool oc_filter_match(const struct oc_filter *f, json_object *obj);

#endif
