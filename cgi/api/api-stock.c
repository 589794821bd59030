/*
 * Layer: stock, a domain module. Units are taken from a product with a
 * conditional update that cannot go below zero and given back when an
 * order is cancelled, inside the order's transaction; and set or
 * changed by an amount, with write concern majority.
 * Calls api-db.c, api-cache.c, api-reply.c and lib/.
 */
#include "config.h"

#include <string.h>

#include "api.h"
#include "oc-json.h"
#include "oc-log.h"

/* An integer counter from a write reply, 0 when absent. */
static int64_t
reply_count(const bson_t *reply, const char *field)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, reply, field))
		return bson_iter_as_int64(&it);
	return 0;
}

/*
 * Add qty back to a product's stock (a cancelled order), with opts (a
 * transaction's session). The server's reply goes to reply when given
 * (initialised always). False with err when the write failed.
 */
bool
api_stock_give_back(mongoc_collection_t *products, const bson_oid_t *id,
    int64_t qty, const bson_t *opts, bson_t *reply, bson_error_t *err)
{
	bson_t *sel = BCON_NEW("_id", BCON_OID(id));
	bson_t *upd = BCON_NEW("$inc", "{", "stock", BCON_INT64(qty), "}",
	    "$currentDate", "{", "updatedAt", BCON_BOOL(true), "}");
	bool ok;

	ok = mongoc_collection_update_one(products, sel, upd, opts, reply,
	    err);
	bson_destroy(sel);
	bson_destroy(upd);
	return ok;
}

/*
 * Take qty from a product's stock unless that would go below zero, with
 * opts (a transaction's session); reply as for api_stock_give_back.
 * Returns 1 taken, 0 short, -1 database error (err filled).
 */
int
api_stock_take(mongoc_collection_t *products, const bson_oid_t *id,
    int64_t qty, const bson_t *opts, bson_t *reply, bson_error_t *err)
{
	bson_t *sel = BCON_NEW("_id", BCON_OID(id), "stock", "{", "$gte",
	    BCON_INT64(qty), "}");
	bson_t *upd = BCON_NEW("$inc", "{", "stock", BCON_INT64(-qty), "}",
	    "$currentDate", "{", "updatedAt", BCON_BOOL(true), "}");
	bson_t local;
	int rc = -1;

	if (reply == NULL)
		reply = &local;
	if (mongoc_collection_update_one(products, sel, upd, opts, reply,
	    err))
		rc = reply_count(reply, "modifiedCount") > 0 ? 1 : 0;
	if (reply == &local)
		bson_destroy(&local);
	bson_destroy(sel);
	bson_destroy(upd);
	return rc;
}

/*
 * Put the items of a cancelled order back into stock, with opts (a
 * transaction's session). The products are listed in ids (room for
 * API_ORDER_MAX_ITEMS), *n of them, for the cache. On failure the
 * reply of the failed write is in reply (which the caller destroys) and
 * false returns with err.
 */
bool
api_stock_return_order(mongoc_collection_t *products, const bson_t *order,
    const bson_t *opts, bson_oid_t *ids, size_t *n, bson_t *reply,
    bson_error_t *err)
{
	bson_iter_t it, items, item;
	bson_oid_t pid;
	int64_t qty;
	bool have_id;

	*n = 0;
	bson_init(reply);
	if (!bson_iter_init_find(&it, order, "items") ||
	    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &items))
		return true;
	while (bson_iter_next(&items) && *n < API_ORDER_MAX_ITEMS) {
		if (!BSON_ITER_HOLDS_DOCUMENT(&items) ||
		    !bson_iter_recurse(&items, &item))
			continue;
		have_id = false;
		qty = 0;
		while (bson_iter_next(&item)) {
			if (strcmp(bson_iter_key(&item), "productId") == 0 &&
			    BSON_ITER_HOLDS_OID(&item)) {
				bson_oid_copy(bson_iter_oid(&item), &pid);
				have_id = true;
			} else if (strcmp(bson_iter_key(&item), "qty") == 0) {
				qty = bson_iter_as_int64(&item);
			}
		}
		if (!have_id || qty <= 0)
			continue;
		bson_destroy(reply);
		if (!api_stock_give_back(products, &pid, qty, opts, reply,
		    err))
			return false;
		ids[(*n)++] = pid;
	}
	return true;
}

/*
 * Set the stock (is_set) or change it by value, never below zero nor
 * past API_STOCK_MAX. Returns the product in *out, or false after
 * answering 404/409/503.
 * The cache is cleared before the write (which proves Redis is up) and
 * again after it, before the caller answers.
 */
bool
api_stock_change(struct api_req *req, const bson_oid_t *id, bool is_set,
    int64_t value, json_object **out)
{
	mongoc_collection_t *c = NULL;
	mongoc_find_and_modify_opts_t *fam = NULL;
	bson_t *query = NULL, *update = NULL, *wc = NULL;
	bson_t reply = BSON_INITIALIZER;
	bson_error_t err;
	bson_iter_t it;
	json_object *doc = NULL;
	bson_t value_doc;
	const uint8_t *data;
	uint32_t len;
	bool ok = false;

	*out = NULL;
	if (!api_cache_invalidate(req, id, 1)) {
		api_unavailable(req, "Redis");
		goto done;
	}
	c = api_collection(req, "products");
	if (c == NULL)
		goto done;
	if (is_set) {
		query = BCON_NEW("_id", BCON_OID(id));
		update = BCON_NEW("$set", "{", "stock", BCON_INT64(value),
		    "updatedAt", BCON_DATE_TIME(oc_wall_ms()), "}");
	} else {
		/*
		 * Conditional in MongoDB, so that concurrent changes can
		 * take the stock neither below zero nor past the maximum.
		 */
		if (value < 0)
			query = BCON_NEW("_id", BCON_OID(id), "stock", "{",
			    "$gte", BCON_INT64(-value), "}");
		else
			query = BCON_NEW("_id", BCON_OID(id), "stock", "{",
			    "$lte", BCON_INT64(API_STOCK_MAX - value), "}");
		update = BCON_NEW("$inc", "{", "stock", BCON_INT64(value), "}",
		    "$set", "{", "updatedAt", BCON_DATE_TIME(oc_wall_ms()),
		    "}");
	}
	fam = mongoc_find_and_modify_opts_new();
	wc = api_majority_opts(req);
	mongoc_find_and_modify_opts_append(fam, wc);
	mongoc_find_and_modify_opts_set_update(fam, update);
	mongoc_find_and_modify_opts_set_flags(fam,
	    MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	if (!mongoc_collection_find_and_modify_with_opts(c, query, fam,
	    &reply, &err)) {
		api_mongo_error(req, &err, "stock update");
		goto done;
	}
	if (bson_iter_init_find(&it, &reply, "value") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_iter_document(&it, &len, &data);
		if (bson_init_static(&value_doc, data, len))
			doc = oc_bson_to_json(&value_doc);
	}
	if (doc == NULL) {
		json_object *exists = NULL;

		if (!api_find_by_id(req, "products", id, &exists))
			goto done;
		if (exists == NULL) {
			api_error(req, 404, "not_found", "no such product");
			goto done;
		}
		json_object_put(exists);
		if (value < 0)
			api_error(req, 409, "insufficient_stock", "stock "
			    "cannot go below zero");
		else
			api_error(req, 409, "stock_limit", "stock cannot go "
			    "past %lld", API_STOCK_MAX);
		goto done;
	}
	if (!api_cache_invalidate(req, id, 1))
		log_warnx("stock update: cache not cleared after the write");
	*out = doc;
	doc = NULL;
	ok = true;
done:
	json_object_put(doc);
	bson_destroy(&reply);
	bson_destroy(query);
	bson_destroy(update);
	bson_destroy(wc);
	mongoc_find_and_modify_opts_destroy(fam);
	mongoc_collection_destroy(c);
	return ok;
}
