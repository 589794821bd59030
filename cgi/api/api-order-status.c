/*
 * Layer: the order status machine, a domain module. A move allowed by
 * lib/oc-model (docs/architecture.md, "Data model"), made conditional on
 * the status read, so two concurrent moves cannot both win; cancelling
 * gives the stock back.
 * Calls api-stock.c, api-db.c, api-cache.c, api-reply.c and lib/.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "oc-json.h"
#include "oc-model.h"

/* Current status of an order; false when it has none. */
static bool
doc_status(const bson_t *doc, char *buf, size_t len)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, doc, "status") ||
	    !BSON_ITER_HOLDS_UTF8(&it))
		return false;
	snprintf(buf, len, "%s", bson_iter_utf8(&it, NULL));
	return true;
}

/*
 * Move an order to status `to`, conditionally on the status it had
 * when read, so two concurrent moves cannot both win. With `from` set,
 * the order must be in that status. Cancelling returns the stock.
 * Returns the updated order, or false after answering.
 */
bool
api_order_move(struct api_req *req, const bson_oid_t *id, const char *from,
    const char *to, json_object **out)
{
	mongoc_collection_t *orders = NULL, *products = NULL;
	mongoc_find_and_modify_opts_t *fam = NULL;
	mongoc_cursor_t *cur = NULL;
	bson_t *sel = NULL, *upd = NULL, *filter = NULL;
	bson_t reply = BSON_INITIALIZER, value;
	const bson_t *doc;
	bson_error_t err;
	bson_iter_t it;
	const uint8_t *data;
	uint32_t len;
	char cur_status[32];
	int64_t now;
	bool ok = false, found;

	*out = NULL;
	if (strcmp(to, OC_STATUS_CANCELLED) == 0 &&
	    !api_cache_invalidate(req, NULL, 0)) {
		api_unavailable(req, "Redis");
		goto done;
	}
	orders = api_collection(req, "orders");
	if (orders == NULL)
		goto done;
	filter = BCON_NEW("_id", BCON_OID(id));
	cur = mongoc_collection_find_with_opts(orders, filter, NULL, NULL);
	found = mongoc_cursor_next(cur, &doc) &&
	    doc_status(doc, cur_status, sizeof(cur_status));
	if (mongoc_cursor_error(cur, &err)) {
		api_mongo_error(req, &err, "order");
		goto done;
	}
	if (!found) {
		api_error(req, 404, "not_found", "no such order");
		goto done;
	}
	if ((from != NULL && strcmp(from, cur_status) != 0) ||
	    !oc_status_move_allowed(cur_status, to)) {
		api_error(req, 409, "invalid_transition", "cannot move an "
		    "order from %s to %s", cur_status, to);
		goto done;
	}
	now = oc_wall_ms();
	sel = BCON_NEW("_id", BCON_OID(id), "status", BCON_UTF8(cur_status));
	upd = BCON_NEW("$set", "{", "status", BCON_UTF8(to), "updatedAt",
	    BCON_DATE_TIME(now), "}", "$push", "{", "history", "{",
	    "status", BCON_UTF8(to), "at", BCON_DATE_TIME(now),
	    "by", BCON_UTF8(req->caller.user_id), "}", "}");
	fam = mongoc_find_and_modify_opts_new();
	mongoc_find_and_modify_opts_set_update(fam, upd);
	mongoc_find_and_modify_opts_set_flags(fam,
	    MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	if (!mongoc_collection_find_and_modify_with_opts(orders, sel, fam,
	    &reply, &err)) {
		api_mongo_error(req, &err, "status move");
		goto done;
	}
	if (!bson_iter_init_find(&it, &reply, "value") ||
	    !BSON_ITER_HOLDS_DOCUMENT(&it)) {
		api_error(req, 409, "invalid_transition", "the order changed "
		    "while moving it from %s to %s", cur_status, to);
		goto done;
	}
	bson_iter_document(&it, &len, &data);
	if (!bson_init_static(&value, data, len)) {
		api_error(req, 500, "internal", "bad reply");
		goto done;
	}
	if (strcmp(to, OC_STATUS_CANCELLED) == 0) {
		products = api_collection(req, "products");
		if (products != NULL)
			api_stock_return_order(req, products, &value);
	}
	*out = oc_bson_to_json(&value);
	ok = true;
done:
	bson_destroy(&reply);
	bson_destroy(sel);
	bson_destroy(upd);
	bson_destroy(filter);
	mongoc_find_and_modify_opts_destroy(fam);
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(orders);
	mongoc_collection_destroy(products);
	return ok;
}
