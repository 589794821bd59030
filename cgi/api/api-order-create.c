/*
 * Layer: a new order, a domain module. The customer and the products
 * must exist; the Idempotency-Key claim, the stock of every line (each
 * a conditional update that cannot go below zero) and the order are one
 * MongoDB transaction with write concern majority, so a crash at any
 * point leaves all or nothing; a retry of the key returns the first
 * order.
 * Calls api-stock.c, api-idem.c, api-db.c, api-cache.c, api-reply.c and
 * lib/.
 */
#include "config.h"

#include <string.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "api.h"
#include "oc-json.h"
#include "oc-log.h"
#include "oc-xmalloc.h"

/* What an order line needs from its product. */
struct line {
	bson_oid_t	 id;
	int64_t		 qty;
	char		*sku;
	char		*name;
	int64_t		 price;
	bool		 found;
};

/* Fill sku, name and price of each line from the products collection. */
static bool
load_products(struct api_req *req, struct line *lines, size_t n)
{
	mongoc_collection_t *c = NULL;
	mongoc_cursor_t *cur = NULL;
	bson_t filter = BSON_INITIALIZER, in, arr;
	const bson_t *doc;
	bson_error_t err;
	bson_iter_t it;
	const bson_oid_t *oid;
	char key[16], field[48];
	const char *k;
	size_t i;
	bool ok = false;

	bson_append_document_begin(&filter, "_id", -1, &in);
	bson_append_array_begin(&in, "$in", -1, &arr);
	for (i = 0; i < n; i++) {
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		bson_append_oid(&arr, k, -1, &lines[i].id);
	}
	bson_append_array_end(&in, &arr);
	bson_append_document_end(&filter, &in);
	c = api_collection(req, "products");
	if (c == NULL)
		goto done;
	cur = mongoc_collection_find_with_opts(c, &filter, NULL, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		if (!bson_iter_init_find(&it, doc, "_id") ||
		    !BSON_ITER_HOLDS_OID(&it))
			continue;
		oid = bson_iter_oid(&it);
		for (i = 0; i < n; i++) {
			if (lines[i].found ||
			    bson_oid_compare(oid, &lines[i].id) != 0)
				continue;
			lines[i].found = true;
			if (bson_iter_init_find(&it, doc, "sku") &&
			    BSON_ITER_HOLDS_UTF8(&it))
				lines[i].sku = xstrdup(bson_iter_utf8(&it,
				    NULL));
			if (bson_iter_init_find(&it, doc, "name") &&
			    BSON_ITER_HOLDS_UTF8(&it))
				lines[i].name = xstrdup(bson_iter_utf8(&it,
				    NULL));
			if (bson_iter_init_find(&it, doc, "priceCents"))
				lines[i].price = bson_iter_as_int64(&it);
		}
	}
	if (mongoc_cursor_error(cur, &err)) {
		api_mongo_error(req, &err, "products");
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (!lines[i].found) {
			snprintf(field, sizeof(field), "items[%zu].productId",
			    i);
			api_field_error(req, field, "no such product");
			goto done;
		}
	}
	ok = true;
done:
	bson_destroy(&filter);
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(c);
	return ok;
}

/*
 * The order document a successful creation inserts; by is the id of the
 * user who placed it (the customer, or an admin for them).
 */
static bson_t *
order_doc(const bson_oid_t *id, const bson_oid_t *customer,
    const struct line *lines, size_t n, const char *idem_key,
    const char *by)
{
	bson_t *doc = bson_new();
	bson_t arr, item, hist, h;
	int64_t now = oc_wall_ms(), total = 0;
	char key[16];
	const char *k;
	size_t i;

	BSON_APPEND_OID(doc, "_id", id);
	BSON_APPEND_OID(doc, "customerId", customer);
	bson_append_array_begin(doc, "items", -1, &arr);
	for (i = 0; i < n; i++) {
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		bson_append_document_begin(&arr, k, -1, &item);
		BSON_APPEND_OID(&item, "productId", &lines[i].id);
		BSON_APPEND_UTF8(&item, "sku", lines[i].sku != NULL ?
		    lines[i].sku : "");
		BSON_APPEND_UTF8(&item, "name", lines[i].name != NULL ?
		    lines[i].name : "");
		BSON_APPEND_INT64(&item, "qty", lines[i].qty);
		BSON_APPEND_INT64(&item, "unitPriceCents", lines[i].price);
		bson_append_document_end(&arr, &item);
		total += lines[i].qty * lines[i].price;
	}
	bson_append_array_end(doc, &arr);
	BSON_APPEND_INT64(doc, "totalCents", total);
	BSON_APPEND_UTF8(doc, "status", "pending");
	bson_append_array_begin(doc, "history", -1, &hist);
	bson_append_document_begin(&hist, "0", -1, &h);
	BSON_APPEND_UTF8(&h, "status", "pending");
	BSON_APPEND_DATE_TIME(&h, "at", now);
	BSON_APPEND_UTF8(&h, "by", by);
	bson_append_document_end(&hist, &h);
	bson_append_array_end(doc, &hist);
	if (idem_key != NULL)
		BSON_APPEND_UTF8(doc, "idempotencyKey", idem_key);
	BSON_APPEND_DATE_TIME(doc, "createdAt", now);
	BSON_APPEND_DATE_TIME(doc, "updatedAt", now);
	return doc;
}

/* Does the customer exist? False after answering 400 or an error. */
static bool
customer_exists(struct api_req *req, const bson_oid_t *customer)
{
	json_object *doc = NULL;

	if (!api_find_by_id(req, "users", customer, &doc))
		return false;
	if (doc == NULL)
		return api_field_error(req, "customerId", "no such customer");
	json_object_put(doc);
	return true;
}

/*
 * True when an order (JSON as shown) has exactly these lines, in this
 * order: a repeat of the same request, not another order under the same
 * Idempotency-Key.
 */
static bool
same_items(json_object *order, const struct api_item *items, size_t n)
{
	json_object *arr, *it, *pid, *qty;
	char hex[25];
	size_t i;

	if (!json_object_object_get_ex(order, "items", &arr) ||
	    !json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) != n)
		return false;
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(arr, i);
		bson_oid_to_string(&items[i].product, hex);
		if (!json_object_object_get_ex(it, "productId", &pid) ||
		    !json_object_object_get_ex(it, "qty", &qty) ||
		    strcmp(json_object_get_string(pid), hex) != 0 ||
		    json_object_get_int64(qty) != items[i].qty)
			return false;
	}
	return true;
}

/* What the transaction of a new order works on. */
struct create_txn {
	struct line		*lines;
	size_t			 n;
	const bson_t		*order;		/* the document to insert */
	const bson_oid_t	*order_id;
	const char		*claim_id;	/* or NULL */
	ssize_t			 short_line;	/* -1, or the line short */
};

/*
 * The transaction of a new order: the idempotency claim, the stock of
 * every line, the order. A short line aborts it (short_line set, err of
 * domain 0); a failed write aborts it with the write's reply, whose
 * labels tell the driver whether to run it again.
 */
static bool
create_body(struct api_txn *t, bson_t **reply, bson_error_t *err)
{
	struct create_txn *ct = t->arg;
	struct api_req *req = t->req;
	mongoc_collection_t *products, *orders;
	bson_t *opts;
	bson_t r;
	size_t i;
	bool ok = false;
	int rc;

	ct->short_line = -1;
	products = mongoc_client_get_collection(req->client,
	    req->server->cfg.db, "products");
	orders = mongoc_client_get_collection(req->client,
	    req->server->cfg.db, "orders");
	opts = api_txn_opts(t, NULL, err);
	if (opts == NULL)
		goto done;
	if (ct->claim_id != NULL && !api_idem_claim(t, ct->claim_id,
	    ct->order_id, reply, err))
		goto done;
	for (i = 0; i < ct->n; i++) {
		rc = api_stock_take(products, &ct->lines[i].id,
		    ct->lines[i].qty, opts, &r, err);
		if (rc < 0)
			api_txn_failed(reply, &r);
		bson_destroy(&r);
		if (rc < 0)
			goto done;
		if (rc == 0) {
			ct->short_line = (ssize_t)i;
			bson_set_error(err, 0, 0, "not enough stock");
			goto done;
		}
	}
	if (!mongoc_collection_insert_one(orders, ct->order, opts, &r, err)) {
		api_txn_failed(reply, &r);
		bson_destroy(&r);
		goto done;
	}
	bson_destroy(&r);
	ok = true;
done:
	bson_destroy(opts);
	mongoc_collection_destroy(products);
	mongoc_collection_destroy(orders);
	return ok;
}

/*
 * The order made under an Idempotency-Key already: a repeat of the same
 * lines is returned (*repeat true), other lines answer 422. Returns 1
 * when there is no such order, 0 when answered or returned, -1 after
 * an error.
 */
static int
find_repeat(struct api_req *req, const bson_oid_t *customer,
    const struct api_item *items, size_t n, const char *idem_key,
    json_object **out, bool *repeat)
{
	int rc;

	rc = api_idem_find(req, customer, idem_key, out);
	if (rc != 0)
		return rc;
	if (!same_items(*out, items, n)) {
		json_object_put(*out);
		*out = NULL;
		api_error(req, 422, "idempotency_mismatch",
		    "this Idempotency-Key was used for another "
		    "order; use a new key for a new order");
		return -1;
	}
	*repeat = true;
	return 0;
}

/*
 * Create an order: the customer and products must exist; the claim of
 * idem_key, the stock of every line and the order are one transaction,
 * so a crash anywhere leaves all of them or none. A repeat of idem_key
 * returns the first order (*repeat true) and takes nothing. Returns the
 * order in *out, or false after answering.
 */
bool
api_order_create(struct api_req *req, const bson_oid_t *customer,
    const struct api_item *items, size_t n, const char *idem_key,
    json_object **out, bool *repeat)
{
	struct line *lines = xcalloc(n, sizeof(*lines));
	bson_oid_t *ids = xcalloc(n, sizeof(*ids));
	struct create_txn ct;
	bson_t *doc = NULL;
	bson_oid_t oid;
	bson_error_t err;
	int64_t deadline = oc_mono_ms() + req->server->cfg.timeout_ms;
	char hex[25], *claim_id = NULL;
	const struct line *sl;
	bool ok = false;
	size_t i;
	int rc;

	*out = NULL;
	*repeat = false;
	for (i = 0; i < n; i++) {
		lines[i].id = items[i].product;
		lines[i].qty = items[i].qty;
		ids[i] = items[i].product;
	}
	if (!customer_exists(req, customer) ||
	    !load_products(req, lines, n))
		goto done;
	if (idem_key != NULL) {
		rc = find_repeat(req, customer, items, n, idem_key, out,
		    repeat);
		if (rc <= 0) {
			ok = rc == 0;
			goto done;
		}
		claim_id = api_idem_claim_id(customer, idem_key);
	}
	if (!api_cache_invalidate(req, ids, n)) {
		api_unavailable(req, "Redis");
		goto done;
	}
	bson_oid_init(&oid, NULL);
	doc = order_doc(&oid, customer, lines, n, idem_key,
	    req->caller.user_id);
	memset(&ct, 0, sizeof(ct));
	ct.lines = lines;
	ct.n = n;
	ct.order = doc;
	ct.order_id = &oid;
	ct.claim_id = claim_id;
	for (;;) {
		if (api_txn_run(req, create_body, &ct, &err))
			break;
		if (req->status != 0)
			goto done;
		if (ct.short_line >= 0) {
			sl = &lines[ct.short_line];
			bson_oid_to_string(&sl->id, hex);
			api_error(req, 409, "insufficient_stock", "not enough "
			    "stock of product %s (%s)", hex, sl->name != NULL ?
			    sl->name : "");
			goto done;
		}
		if (claim_id == NULL || !api_is_dup_key(&err)) {
			api_mongo_error(req, &err, "new order");
			goto done;
		}
		/* The key was claimed first by another request. */
		rc = find_repeat(req, customer, items, n, idem_key, out,
		    repeat);
		if (rc <= 0) {
			ok = rc == 0;
			goto done;
		}
		if (api_idem_wait(req, claim_id, deadline) < 0)
			goto done;
	}
	if (!api_cache_invalidate(req, ids, n))
		log_warnx("order: cache not cleared after the write");
	*out = oc_bson_to_json(doc);
	ok = true;
done:
	for (i = 0; i < n; i++) {
		free(lines[i].sku);
		free(lines[i].name);
	}
	free(lines);
	free(ids);
	free(claim_id);
	bson_destroy(doc);
	return ok;
}
