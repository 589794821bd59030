/*
 * Layer: route handlers of demo activity for the dashboard. Each route
 * picks something at random and goes through the same functions as the
 * real routes, so simulated orders take stock and simulated moves obey
 * the status rules.
 * Calls api-order-create.c, api-order-status.c, api-stock.c, api-db.c,
 * api-req.c, api-reply.c and lib/.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "oc-json.h"
#include "oc-log.h"
#include "oc-model.h"
#include "oc-xmalloc.h"

/* Orders the status simulator chooses from (the newest open ones). */
#define SIM_CANDIDATES	50

/* A number in [0, n) from the thread's xorshift generator. */
static uint64_t
sim_random(struct api_thread *thr, uint64_t n)
{
	uint64_t x = thr->rng;

	if (x == 0)
		x = 0x9e3779b97f4a7c15ULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	thr->rng = x;
	return n == 0 ? 0 : x % n;
}

/* {"action": name, ...} with obj added under key (ownership taken). */
static json_object *
action(const char *name, const char *key, json_object *obj)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "action", json_object_new_string(name));
	json_object_object_add(o, key, obj);
	return o;
}

/* The "id" of a listed document as an ObjectId. */
static bool
doc_oid(json_object *doc, bson_oid_t *out)
{
	json_object *id;

	return json_object_object_get_ex(doc, "id", &id) &&
	    api_oid_from_text(json_object_get_string(id), out);
}

/* POST /api/simulate/new-order: a random customer buys 1-3 products. */
void
api_route_sim_order(struct api_req *req)
{
	json_object *customers = NULL, *products = NULL, *order = NULL, *p;
	bson_t *cf = BCON_NEW("role", BCON_UTF8("customer"));
	bson_t *pf = BCON_NEW("stock", "{", "$gt", BCON_INT32(0), "}");
	struct api_item items[3];
	bson_oid_t customer;
	size_t nc, np, n, i, j;
	int64_t stock;
	bool repeat, dup;

	if (!api_find_json(req, "users", cf, NULL, &customers) ||
	    !api_find_json(req, "products", pf, NULL, &products))
		goto done;
	nc = json_object_array_length(customers);
	np = json_object_array_length(products);
	if (nc == 0 || np == 0) {
		api_error(req, 409, "nothing_to_do", "no customer or no "
		    "product in stock");
		goto done;
	}
	if (!doc_oid(json_object_array_get_idx(customers,
	    sim_random(req->thr, nc)), &customer))
		goto done;
	n = 1 + sim_random(req->thr, np < 3 ? np : 3);
	for (i = 0; i < n; ) {
		p = json_object_array_get_idx(products,
		    sim_random(req->thr, np));
		if (!doc_oid(p, &items[i].product))
			goto done;
		dup = false;
		for (j = 0; j < i; j++)
			if (bson_oid_equal(&items[j].product,
			    &items[i].product))
				dup = true;
		if (dup)
			continue;
		stock = json_object_get_int64(json_object_object_get(p,
		    "stock"));
		items[i].qty = 1 + (int64_t)sim_random(req->thr,
		    stock < 3 ? (uint64_t)stock : 3);
		i++;
	}
	if (!api_order_create(req, &customer, items, n, NULL, &order,
	    &repeat))
		goto done;
	api_reply_json(req, 201, action("new-order", "order", order));
done:
	if (req->out == NULL)
		api_error(req, 500, "internal", "simulation failed");
	json_object_put(customers);
	json_object_put(products);
	bson_destroy(cf);
	bson_destroy(pf);
}

/* POST /api/simulate/update-stock: sell some units or restock. */
void
api_route_sim_stock(struct api_req *req)
{
	json_object *products = NULL, *p, *doc = NULL, *o;
	bson_t *all = bson_new();
	bson_oid_t id;
	int64_t stock, value;
	bool restock;
	size_t np;

	if (!api_find_json(req, "products", all, NULL, &products))
		goto done;
	np = json_object_array_length(products);
	if (np == 0) {
		api_error(req, 409, "nothing_to_do", "no products");
		goto done;
	}
	p = json_object_array_get_idx(products, sim_random(req->thr, np));
	if (!doc_oid(p, &id))
		goto done;
	stock = json_object_get_int64(json_object_object_get(p, "stock"));
	restock = stock < 5 || sim_random(req->thr, 5) == 0;
	if (restock)
		value = 50 + (int64_t)sim_random(req->thr, 151);
	else
		value = -(1 + (int64_t)sim_random(req->thr,
		    stock < 5 ? (uint64_t)stock : 5));
	if (!api_stock_change(req, &id, restock, value, &doc))
		goto done;
	o = action("update-stock", "product", doc);
	json_object_object_add(o, restock ? "stock" : "delta",
	    json_object_new_int64(value));
	api_reply_json(req, 200, o);
done:
	if (req->out == NULL)
		api_error(req, 500, "internal", "simulation failed");
	json_object_put(products);
	bson_destroy(all);
}

/* {"status": {"$in": [...]}}: the statuses with a forward step. */
static bson_t *
open_statuses_filter(void)
{
	bson_t *f = bson_new();
	bson_t in, list;
	char idx[16];
	size_t i, n = 0;

	bson_append_document_begin(f, "status", -1, &in);
	bson_append_array_begin(&in, "$in", -1, &list);
	for (i = 0; i < OC_NSTATUSES; i++) {
		if (oc_status_next(oc_statuses[i]) == NULL)
			continue;
		snprintf(idx, sizeof(idx), "%zu", n++);
		BSON_APPEND_UTF8(&list, idx, oc_statuses[i]);
	}
	bson_append_array_end(&in, &list);
	bson_append_document_end(f, &in);
	return f;
}

/* POST /api/simulate/status-update: one open order moves one step. */
void
api_route_sim_status(struct api_req *req)
{
	json_object *orders = NULL, *o, *doc = NULL, *st;
	bson_t *f = open_statuses_filter();
	bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(-1), "}",
	    "limit", BCON_INT64(SIM_CANDIDATES));
	char from[32];
	const char *to;
	bson_oid_t id;
	size_t n;

	if (!api_find_json(req, "orders", f, opts, &orders))
		goto done;
	n = json_object_array_length(orders);
	if (n == 0) {
		api_error(req, 409, "nothing_to_do", "no open order to move");
		goto done;
	}
	o = json_object_array_get_idx(orders, sim_random(req->thr, n));
	if (!doc_oid(o, &id) || !json_object_object_get_ex(o, "status", &st))
		goto done;
	snprintf(from, sizeof(from), "%s", json_object_get_string(st));
	to = oc_status_next(from);
	if (to == NULL)
		goto done;
	if (oc_status_move_allowed(from, OC_STATUS_CANCELLED) &&
	    sim_random(req->thr, 10) == 0)
		to = OC_STATUS_CANCELLED;
	if (!api_order_move(req, &id, from, to, &doc))
		goto done;
	o = action("status-update", "order", doc);
	json_object_object_add(o, "from", json_object_new_string(from));
	json_object_object_add(o, "to", json_object_new_string(to));
	api_reply_json(req, 200, o);
done:
	if (req->out == NULL)
		api_error(req, 500, "internal", "simulation failed");
	json_object_put(orders);
	bson_destroy(f);
	bson_destroy(opts);
}
