/*
 * Layer: route handlers of /api/products: the catalog through the
 * read-through cache, and stock changes.
 * Calls api-list.c, api-stock.c, api-db.c, api-cache.c, api-req.c,
 * api-reply.c and lib/.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "oc-json.h"

/* The catalog as lists show it: by SKU. */
static const struct api_list_spec products_list = {
	"products", OC_FILTER_PRODUCTS, "sku,id", false, NULL
};

/*
 * GET /api/products: the whole catalog, from the cache when it can; a
 * page of it with ?where=, ?sort=, ?limit= or ?next= (docs/filters.md).
 */
void
api_route_products(struct api_req *req)
{
	json_object *arr = NULL, *body;
	bson_t *filter = bson_new();
	bson_t *opts = BCON_NEW("sort", "{", "sku", BCON_INT32(1), "}");
	char *cached = NULL, *gen = NULL;
	const char *text;
	size_t len;

	if (api_list_asked(req, true)) {
		api_list_run(req, &products_list, filter);
		goto done;
	}
	if (!api_cache_get(req, req->server->keys.cache_products, &cached, &gen)) {
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
	api_cache_put(req, req->server->keys.cache_products, gen, text, len);
	api_reply_json(req, 200, body);
done:
	free(cached);
	free(gen);
	bson_destroy(filter);
	bson_destroy(opts);
}

/* GET /api/products/count?where= */
void
api_route_products_count(struct api_req *req)
{
	bson_t scope = BSON_INITIALIZER;

	api_list_count(req, &products_list, &scope);
	bson_destroy(&scope);
}

/* GET /api/products/:id */
void
api_route_product(struct api_req *req)
{
	json_object *doc = NULL;
	bson_oid_t id;
	char *key = NULL, *cached = NULL, *gen = NULL;
	const char *text;
	size_t len;

	if (!api_oid_param(req, "id", req->id, &id))
		goto done;
	key = api_product_key(req->server, &id);
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
		api_error(req, 404, "not_found", "no product %s", req->id);
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

/* PUT /api/products/:id/stock with {"stock":N} or {"delta":N}. */
void
api_route_product_stock(struct api_req *req)
{
	json_object *body = NULL, *doc = NULL, *v;
	bson_oid_t id;
	int64_t value = 0;
	bool is_set = false, have = false;

	if (!api_oid_param(req, "id", req->id, &id))
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
		if (!api_int_field(req, v, "stock", 0, API_STOCK_MAX, &value))
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
		if (!api_int_field(req, v, "delta", -API_STOCK_MAX, API_STOCK_MAX,
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
