/* One event model for the watcher and the SSE relay. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oc-event.h"
#include "oc-json.h"
#include "oc-xmalloc.h"

/* The verb of a change stream operationType; OC_VERB_NONE if no event. */
static enum oc_verb
op_verb(const char *op)
{
	if (strcmp(op, "insert") == 0)
		return OC_VERB_CREATED;
	if (strcmp(op, "update") == 0 || strcmp(op, "replace") == 0)
		return OC_VERB_UPDATED;
	if (strcmp(op, "delete") == 0)
		return OC_VERB_DELETED;
	return OC_VERB_NONE;
}

/* Types come from oc-model so the relay and watcher agree on names. */
const char *
oc_event_type(const char *collection, const char *op)
{
	if (collection == NULL || op == NULL)
		return NULL;
	return oc_event_kind_type(collection, op_verb(op));
}

/* The one type-to-topic mapping, by name; system events have none. */
const char *
oc_event_topic(const char *type)
{
	unsigned bit = oc_event_kind_topic(type);

	if ((bit & OC_TOPIC_SUBSCRIBABLE) == 0)
		return NULL;
	return oc_topic_name(bit);
}

/* A string member or NULL-as-JSON-null, for the optional fields. */
static json_object *
string_or_null(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

/* Fields in the order docs/architecture.md shows, so events read alike. */
json_object *
oc_event_new(const char *type, const char *collection, const char *op,
    const char *key, json_object *doc, json_object *changed,
    json_object *removed, int64_t cluster_ms)
{
	json_object *ev = json_object_new_object();

	if (changed == NULL)
		changed = json_object_new_object();
	if (removed == NULL)
		removed = json_object_new_array();
	json_object_object_add(ev, "type", json_object_new_string(type));
	json_object_object_add(ev, "collection", string_or_null(collection));
	json_object_object_add(ev, "op", string_or_null(op));
	json_object_object_add(ev, "key", string_or_null(key));
	json_object_object_add(ev, "doc", doc);
	json_object_object_add(ev, "changed", changed);
	json_object_object_add(ev, "removed", removed);
	json_object_object_add(ev, "clusterTime",
	    json_object_new_int64(cluster_ms));
	return ev;
}

/* The text of a document key: strings and ObjectIds as they are. */
static char *
key_text(const bson_iter_t *it)
{
	json_object *v;
	char *s;

	v = oc_bson_value_to_json(it);
	if (v == NULL)
		return xstrdup("null");
	if (json_object_is_type(v, json_type_string))
		s = xstrdup(json_object_get_string(v));
	else
		s = xstrdup(oc_json_text(v, NULL));
	json_object_put(v);
	return s;
}

/* A sub-document of the change as a bson_t view; false if absent. */
static bool
sub_document(const bson_t *change, const char *path, bson_t *out)
{
	bson_iter_t it;
	const uint8_t *data;
	uint32_t len;

	if (!bson_iter_init(&it, change) ||
	    !bson_iter_find_descendant(&it, path, &it) ||
	    !BSON_ITER_HOLDS_DOCUMENT(&it))
		return false;
	bson_iter_document(&it, &len, &data);
	return bson_init_static(out, data, len);
}

/* A whole number held by any BSON numeric type. */
static bool
iter_integer(const bson_iter_t *it, int64_t *out)
{
	double d;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
		*out = bson_iter_as_int64(it);
		return true;
	case BSON_TYPE_DOUBLE:
		d = bson_iter_double(it);
		if (!(d > -9e15 && d < 9e15))
			return false;
		*out = (int64_t)d;
		return true;
	default:
		return false;
	}
}

/*
 * Record the stock this change set: from updatedFields for an update
 * (the looked-up document may already be newer), else from the document.
 */
static void
note_stock(const bson_t *change, struct oc_change *c, bool stock_changed)
{
	bson_iter_t it;
	const char *path = "fullDocument.stock";

	if (!stock_changed || strcmp(c->op, "delete") == 0)
		return;
	if (strcmp(c->op, "update") == 0)
		path = "updateDescription.updatedFields.stock";
	if (!bson_iter_init(&it, change) ||
	    !bson_iter_find_descendant(&it, path, &it))
		return;
	c->has_stock = iter_integer(&it, &c->stock);
}

/*
 * Events of the users collection never carry a password hash: not in the
 * document, not among the changed or removed fields (a password change
 * shows only as an update of updatedAt or as nothing at all).
 */
static void
strip_secrets(json_object *doc, json_object *changed, json_object *removed)
{
	static const char secret[] = "passwordHash";
	size_t i;

	if (doc != NULL)
		json_object_object_del(doc, secret);
	if (changed != NULL)
		json_object_object_del(changed, secret);
	if (removed == NULL || !json_object_is_type(removed, json_type_array))
		return;
	for (i = json_object_array_length(removed); i > 0; i--) {
		json_object *v = json_object_array_get_idx(removed, i - 1);

		if (json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), secret) == 0)
			json_object_array_del_idx(removed, i - 1, 1);
	}
}

/* The update's changed fields and removed fields, or {} and []. */
static void
update_description(const bson_t *change, json_object **changed,
    json_object **removed, bool *stock_changed)
{
	bson_t upd;
	bson_iter_t it;

	*changed = NULL;
	*removed = NULL;
	if (sub_document(change, "updateDescription.updatedFields", &upd)) {
		*changed = oc_bson_doc_to_json(&upd);
		if (bson_iter_init_find(&it, &upd, "stock"))
			*stock_changed = true;
	}
	if (bson_iter_init(&it, change) &&
	    bson_iter_find_descendant(&it, "updateDescription.removedFields",
	    &it) && BSON_ITER_HOLDS_ARRAY(&it))
		*removed = oc_bson_value_to_json(&it);
}

/* One change document to its event and the facts the watcher acts on. */
bool
oc_change_parse(const bson_t *change, struct oc_change *c, char *err,
    size_t errlen)
{
	json_object *changed = NULL, *removed = NULL, *doc = NULL;
	bson_iter_t it;
	bson_t full;
	const char *coll = NULL;
	uint32_t t = 0, i = 0;
	bool stock_changed = false;
	bool ok = false;

	memset(c, 0, sizeof(*c));
	if (!bson_iter_init_find(&it, change, "operationType") ||
	    !BSON_ITER_HOLDS_UTF8(&it)) {
		snprintf(err, errlen, "change without operationType");
		goto done;
	}
	snprintf(c->op, sizeof(c->op), "%s", bson_iter_utf8(&it, NULL));
	if (bson_iter_init(&it, change) &&
	    bson_iter_find_descendant(&it, "ns.coll", &it) &&
	    BSON_ITER_HOLDS_UTF8(&it))
		coll = bson_iter_utf8(&it, NULL);
	if (bson_iter_init_find(&it, change, "clusterTime") &&
	    BSON_ITER_HOLDS_TIMESTAMP(&it))
		bson_iter_timestamp(&it, &t, &i);
	c->cluster_ms = (int64_t)t * 1000;
	c->type = oc_event_type(coll, c->op);
	if (c->type == NULL) {
		ok = true;
		goto done;
	}
	if (!bson_iter_init(&it, change) ||
	    !bson_iter_find_descendant(&it, "documentKey._id", &it)) {
		snprintf(err, errlen, "%s change without documentKey._id",
		    c->op);
		goto done;
	}
	c->key = key_text(&it);
	if (sub_document(change, "fullDocument", &full))
		doc = oc_bson_to_json(&full);
	if (strcmp(c->op, "update") == 0)
		update_description(change, &changed, &removed,
		    &stock_changed);
	else
		stock_changed = true;
	if (strcmp(coll, "users") == 0)
		strip_secrets(doc, changed, removed);
	c->doc = doc;
	c->event = oc_event_new(c->type, coll, c->op, c->key, doc, changed,
	    removed, c->cluster_ms);
	if (strcmp(coll, "products") == 0)
		note_stock(change, c, stock_changed);
	ok = true;
done:
	return ok;
}

/* Release a parsed change, event included. */
void
oc_change_clear(struct oc_change *c)
{
	free(c->key);
	if (c->event != NULL)
		json_object_put(c->event);
	memset(c, 0, sizeof(*c));
}

/* The alert that follows a product event whose stock crossed down. */
json_object *
oc_event_low_stock(const struct oc_change *c)
{
	json_object *changed = json_object_new_object();

	json_object_object_add(changed, "stock",
	    json_object_new_int64(c->stock));
	/* The alert shares the product document by reference count. */
	return oc_event_new(OC_EVENT_LOW_STOCK, "products", c->op, c->key,
	    json_object_get(c->doc), changed, NULL, c->cluster_ms);
}
