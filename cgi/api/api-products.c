/* Users and products: the catalog with its cache, and stock changes. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "oc-json.h"
#include "oc-log.h"
#include "oc-xmalloc.h"

/* Largest stock a product may hold, and the largest single change. */
#define MAX_STOCK	1000000000LL

/*
 * Run a find on coll and collect the documents as the API shows them.
 * Returns false after answering 503/500.
 */
bool
api_find_json(struct api_req *req, const char *coll, const bson_t *filter,
    const bson_t *opts, json_object **out)
{
	mongoc_collection_t *c = NULL;
	mongoc_cursor_t *cur = NULL;
	const bson_t *doc;
	bson_error_t err;
	json_object *arr = json_object_new_array();
	bool ok = false;

	*out = NULL;
	c = api_collection(req, coll);
	if (c == NULL)
		goto done;
	cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
	while (mongoc_cursor_next(cur, &doc))
		json_object_array_add(arr, oc_bson_to_json(doc));
	if (mongoc_cursor_error(cur, &err)) {
		api_mongo_error(req, &err, coll);
		goto done;
	}
	*out = arr;
	arr = NULL;
	ok = true;
done:
	json_object_put(arr);
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(c);
	return ok;
}

/*
 * One document by _id as JSON in *out, or *out NULL when there is none.
 * Returns false after answering 503/500.
 */
bool
api_find_by_id(struct api_req *req, const char *coll, const bson_oid_t *id,
    json_object **out)
{
	json_object *arr = NULL;
	bson_t *filter = BCON_NEW("_id", BCON_OID(id));
	bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
	bool ok;

	*out = NULL;
	ok = api_find_json(req, coll, filter, opts, &arr);
	if (ok && json_object_array_length(arr) > 0)
		*out = json_object_get(json_object_array_get_idx(arr, 0));
	json_object_put(arr);
	bson_destroy(filter);
	bson_destroy(opts);
	return ok;
}

/* Wrap a list as {"data": [...]}; add "next" when paged. */
json_object *
api_list_body(json_object *arr, bool paged, const char *next)
{
	json_object *body = json_object_new_object();

	json_object_object_add(body, "data", arr);
	if (paged)
		json_object_object_add(body, "next", next != NULL ?
		    json_object_new_string(next) : NULL);
	return body;
}

/* GET /api/users?role= */
void
api_route_users(struct api_req *req)
{
	json_object *arr = NULL;
	bson_t *filter = bson_new();
	bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}");
	char *role = NULL;

	if (api_query(req, "role", &role)) {
		if (strcmp(role, "customer") != 0 &&
		    strcmp(role, "admin") != 0) {
			api_field_error(req, "role",
			    "expected customer or admin");
			goto done;
		}
		BSON_APPEND_UTF8(filter, "role", role);
	}
	if (!api_find_json(req, "users", filter, opts, &arr))
		goto done;
	api_reply_json(req, 200, api_list_body(arr, false, NULL));
done:
	free(role);
	bson_destroy(filter);
	bson_destroy(opts);
}

/* GET /api/products: the whole catalog, from the cache when it can. */
void
api_route_products(struct api_req *req)
{
	json_object *arr = NULL, *body;
	bson_t *filter = bson_new();
	bson_t *opts = BCON_NEW("sort", "{", "sku", BCON_INT32(1), "}");
	char *cached = NULL, *gen = NULL;
	const char *text;
	size_t len;

	if (!api_cache_get(req, api_server.key_products, &cached, &gen)) {
		api_unavailable(req, "Redis");
		goto done;
	}
	if (cached != NULL) {
		api_reply_raw(req, 200, cached, strlen(cached), NULL);
		goto done;
	}
	if (!api_find_json(req, "products", filter, opts, &arr))
		goto done;
	body = api_list_body(arr, false, NULL);
	text = oc_json_text(body, &len);
	api_cache_put(req, api_server.key_products, gen, text, len);
	api_reply_json(req, 200, body);
done:
	free(cached);
	free(gen);
	bson_destroy(filter);
	bson_destroy(opts);
}

/* GET /api/products/:id */
void
api_route_product(struct api_req *req, const char *idstr)
{
	json_object *doc = NULL;
	bson_oid_t id;
	char *key = NULL, *cached = NULL, *gen = NULL;
	const char *text;
	size_t len;

	if (!api_oid_param(req, "id", idstr, &id))
		goto done;
	key = api_product_key(&id);
	if (!api_cache_get(req, key, &cached, &gen)) {
		api_unavailable(req, "Redis");
		goto done;
	}
	if (cached != NULL) {
		api_reply_raw(req, 200, cached, strlen(cached), NULL);
		goto done;
	}
	if (!api_find_by_id(req, "products", &id, &doc))
		goto done;
	if (doc == NULL) {
		api_error(req, 404, "not_found", "no product %s", idstr);
		goto done;
	}
	text = oc_json_text(doc, &len);
	api_cache_put(req, key, gen, text, len);
	api_reply_json(req, 200, doc);
done:
	free(key);
	free(cached);
	free(gen);
}

/*
 * Set the stock (is_set) or change it by value, never below zero.
 * Returns the product in *out, or false after answering 404/409/503.
 * The cache is cleared before the write (which proves Redis is up) and
 * again after it, before the caller answers.
 */
bool
api_stock_change(struct api_req *req, const bson_oid_t *id, bool is_set,
    int64_t value, json_object **out)
{
	mongoc_collection_t *c = NULL;
	mongoc_find_and_modify_opts_t *fam = NULL;
	bson_t *query = NULL, *update = NULL;
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
		if (value < 0)
			query = BCON_NEW("_id", BCON_OID(id), "stock", "{",
			    "$gte", BCON_INT64(-value), "}");
		else
			query = BCON_NEW("_id", BCON_OID(id));
		update = BCON_NEW("$inc", "{", "stock", BCON_INT64(value), "}",
		    "$set", "{", "updatedAt", BCON_DATE_TIME(oc_wall_ms()),
		    "}");
	}
	fam = mongoc_find_and_modify_opts_new();
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
		api_error(req, 409, "insufficient_stock", "stock cannot go "
		    "below zero");
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
	mongoc_find_and_modify_opts_destroy(fam);
	mongoc_collection_destroy(c);
	return ok;
}

/* An integer field within bounds, or false after answering 400. */
bool
api_int_field(struct api_req *req, json_object *v, const char *name,
    int64_t min, int64_t max, int64_t *out)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return api_field_error(req, name, "expected an integer");
	errno = 0;
	n = json_object_get_int64(v);
	if (errno != 0 || n < min || n > max) {
		char why[96];

		snprintf(why, sizeof(why), "expected an integer from %lld "
		    "to %lld", (long long)min, (long long)max);
		return api_field_error(req, name, why);
	}
	*out = n;
	return true;
}

/* PUT /api/products/:id/stock with {"stock":N} or {"delta":N}. */
void
api_route_product_stock(struct api_req *req, const char *idstr)
{
	json_object *body = NULL, *doc = NULL, *v;
	bson_oid_t id;
	int64_t value = 0;
	bool is_set = false, have = false;

	if (!api_oid_param(req, "id", idstr, &id))
		goto done;
	body = api_body_object(req);
	if (body == NULL)
		goto done;
	json_object_object_foreach(body, k, val) {
		if (strcmp(k, "stock") != 0 && strcmp(k, "delta") != 0) {
			api_field_error(req, k, "unknown field");
			goto done;
		}
		(void)val;
	}
	if (json_object_object_get_ex(body, "stock", &v)) {
		if (!api_int_field(req, v, "stock", 0, MAX_STOCK, &value))
			goto done;
		is_set = true;
		have = true;
	}
	if (json_object_object_get_ex(body, "delta", &v)) {
		if (have) {
			api_field_error(req, "delta", "give stock or delta, "
			    "not both");
			goto done;
		}
		if (!api_int_field(req, v, "delta", -MAX_STOCK, MAX_STOCK,
		    &value))
			goto done;
		have = true;
	}
	if (!have) {
		api_field_error(req, "stock", "stock or delta is required");
		goto done;
	}
	if (!api_stock_change(req, &id, is_set, value, &doc))
		goto done;
	api_reply_json(req, 200, doc);
done:
	json_object_put(body);
}
