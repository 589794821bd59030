/*
 * Orders: listing with cursor paging, creation that takes stock item by
 * item with conditional updates (MongoDB transactions are not assumed),
 * idempotent retries, and status moves.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "oc-json.h"
#include "oc-log.h"
#include "oc-xmalloc.h"

#define MAX_ITEMS	50
#define MAX_QTY		1000
#define MAX_KEY_LEN	128
/* A claim older than this without an order belongs to a dead request. */
#define STALE_CLAIM_MS	30000

static const char *const statuses[] = { "pending", "processing", "shipped",
    "delivered", "cancelled" };

/* The moves of DESIGN.md: from, to. */
static const char *const moves[][2] = {
	{ "pending", "processing" },
	{ "processing", "shipped" },
	{ "shipped", "delivered" },
	{ "pending", "cancelled" },
	{ "processing", "cancelled" },
};

/* What an order line needs from its product. */
struct line {
	bson_oid_t	 id;
	int64_t		 qty;
	char		*sku;
	char		*name;
	int64_t		 price;
	bool		 found;
	bool		 taken;
};

/* Is s one of the order statuses of DESIGN.md? */
bool
api_status_valid(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (strcmp(s, statuses[i]) == 0)
			return true;
	return false;
}

/* The forward step from s, for the simulator; NULL when final. */
const char *
api_status_next(const char *s)
{
	size_t i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, moves[i][0]) == 0)
			return moves[i][1];
	return NULL;
}

/* Is from -> to one of the allowed moves? */
static bool
move_allowed(const char *from, const char *to)
{
	size_t i;

	for (i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		if (strcmp(from, moves[i][0]) == 0 &&
		    strcmp(to, moves[i][1]) == 0)
			return true;
	return false;
}

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
 * Add qty back to a product's stock (a refused or cancelled order).
 * Best effort: a failure is logged, there is nobody else to tell.
 */
static void
give_back(mongoc_collection_t *products, const bson_oid_t *id, int64_t qty)
{
	bson_t *sel = BCON_NEW("_id", BCON_OID(id));
	bson_t *upd = BCON_NEW("$inc", "{", "stock", BCON_INT64(qty), "}",
	    "$set", "{", "updatedAt", BCON_DATE_TIME(oc_wall_ms()), "}");
	bson_error_t err;
	char hex[25];

	if (!mongoc_collection_update_one(products, sel, upd, NULL, NULL,
	    &err)) {
		bson_oid_to_string(id, hex);
		log_warnx("could not return %lld to the stock of %s: %s",
		    (long long)qty, hex, err.message);
	}
	bson_destroy(sel);
	bson_destroy(upd);
}

/*
 * Take qty from a product's stock unless that would go below zero.
 * Returns 1 taken, 0 short, -1 database error (err filled).
 */
static int
take_stock(mongoc_collection_t *products, const bson_oid_t *id,
    int64_t qty, bson_error_t *err)
{
	bson_t *sel = BCON_NEW("_id", BCON_OID(id), "stock", "{", "$gte",
	    BCON_INT64(qty), "}");
	bson_t *upd = BCON_NEW("$inc", "{", "stock", BCON_INT64(-qty), "}",
	    "$set", "{", "updatedAt", BCON_DATE_TIME(oc_wall_ms()), "}");
	bson_t reply;
	int rc = -1;

	if (mongoc_collection_update_one(products, sel, upd, NULL, &reply,
	    err))
		rc = reply_count(&reply, "modifiedCount") > 0 ? 1 : 0;
	bson_destroy(&reply);
	bson_destroy(sel);
	bson_destroy(upd);
	return rc;
}

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

/* The order document a successful creation inserts. */
static bson_t *
order_doc(const bson_oid_t *id, const bson_oid_t *customer,
    const struct line *lines, size_t n, const char *idem_key)
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
	bson_append_document_end(&hist, &h);
	bson_append_array_end(doc, &hist);
	if (idem_key != NULL)
		BSON_APPEND_UTF8(doc, "idempotencyKey", idem_key);
	BSON_APPEND_DATE_TIME(doc, "createdAt", now);
	BSON_APPEND_DATE_TIME(doc, "updatedAt", now);
	return doc;
}

/* Sleep for ms milliseconds (polling for another request's result). */
static void
nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Claim an idempotency key by inserting it into the idempotency
 * collection (its _id is unique). Returns 1 when this request owns the
 * key, 0 when an order with the key exists (in *existing), -1 after
 * answering an error.
 */
static int
claim_key(struct api_req *req, const char *key, json_object **existing)
{
	mongoc_collection_t *claims = NULL;
	json_object *arr = NULL;
	bson_t *claim = NULL, *byk = NULL, *opts = NULL, *stale = NULL;
	bson_error_t err;
	int64_t deadline = oc_mono_ms() + api_server.cfg.timeout_ms;
	int rc = -1;

	claims = api_collection(req, "idempotency");
	if (claims == NULL)
		goto done;
	byk = BCON_NEW("idempotencyKey", BCON_UTF8(key));
	opts = BCON_NEW("limit", BCON_INT64(1));
	for (;;) {
		bson_destroy(claim);
		claim = BCON_NEW("_id", BCON_UTF8(key), "state",
		    BCON_UTF8("pending"), "at", BCON_DATE_TIME(oc_wall_ms()));
		if (mongoc_collection_insert_one(claims, claim, NULL, NULL,
		    &err)) {
			rc = 1;
			goto done;
		}
		if (!api_is_dup_key(&err)) {
			api_mongo_error(req, &err, "idempotency claim");
			goto done;
		}
		json_object_put(arr);
		arr = NULL;
		if (!api_find_json(req, "orders", byk, opts, &arr))
			goto done;
		if (json_object_array_length(arr) > 0) {
			*existing = json_object_get(
			    json_object_array_get_idx(arr, 0));
			rc = 0;
			goto done;
		}
		/* The owner may have died: take over an old claim. */
		bson_destroy(stale);
		stale = BCON_NEW("_id", BCON_UTF8(key), "at", "{", "$lt",
		    BCON_DATE_TIME(oc_wall_ms() - STALE_CLAIM_MS), "}");
		mongoc_collection_delete_one(claims, stale, NULL, NULL, NULL);
		if (oc_mono_ms() > deadline) {
			api_error(req, 409, "in_progress", "a request with "
			    "this Idempotency-Key is still in progress");
			goto done;
		}
		nap(10);
	}
done:
	json_object_put(arr);
	bson_destroy(claim);
	bson_destroy(byk);
	bson_destroy(opts);
	bson_destroy(stale);
	mongoc_collection_destroy(claims);
	return rc;
}

/* Let a later retry run again after this request failed. */
static void
release_key(struct api_req *req, const char *key)
{
	mongoc_collection_t *claims;
	bson_t *sel;

	if (req->client == NULL)
		return;
	claims = mongoc_client_get_collection(req->client,
	    api_server.cfg.db, "idempotency");
	sel = BCON_NEW("_id", BCON_UTF8(key));
	mongoc_collection_delete_one(claims, sel, NULL, NULL, NULL);
	bson_destroy(sel);
	mongoc_collection_destroy(claims);
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
 * Create an order: the customer and products must exist, stock is taken
 * line by line and given back if any line is short. With idem_key a
 * repeat returns the first order (*repeat true) and takes nothing.
 * Returns the order in *out, or false after answering.
 */
bool
api_order_create(struct api_req *req, const bson_oid_t *customer,
    const struct api_item *items, size_t n, const char *idem_key,
    json_object **out, bool *repeat)
{
	mongoc_collection_t *products = NULL, *orders = NULL;
	struct line *lines = xcalloc(n, sizeof(*lines));
	bson_oid_t *ids = xcalloc(n, sizeof(*ids));
	bson_t *doc = NULL;
	bson_oid_t oid;
	bson_error_t err;
	bool ok = false, claimed = false;
	char hex[25];
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
		rc = claim_key(req, idem_key, out);
		if (rc < 0)
			goto done;
		if (rc == 0) {
			*repeat = true;
			ok = true;
			goto done;
		}
		claimed = true;
	}
	if (!api_cache_invalidate(req, ids, n)) {
		api_unavailable(req, "Redis");
		goto done;
	}
	products = api_collection(req, "products");
	orders = api_collection(req, "orders");
	if (products == NULL || orders == NULL)
		goto done;
	for (i = 0; i < n; i++) {
		rc = take_stock(products, &lines[i].id, lines[i].qty, &err);
		if (rc == 1) {
			lines[i].taken = true;
			continue;
		}
		if (rc < 0) {
			api_mongo_error(req, &err, "take stock");
			goto done;
		}
		bson_oid_to_string(&lines[i].id, hex);
		api_error(req, 409, "insufficient_stock", "not enough stock "
		    "of product %s (%s)", hex, lines[i].name != NULL ?
		    lines[i].name : "");
		goto done;
	}
	bson_oid_init(&oid, NULL);
	doc = order_doc(&oid, customer, lines, n, idem_key);
	if (!mongoc_collection_insert_one(orders, doc, NULL, NULL, &err)) {
		api_mongo_error(req, &err, "insert order");
		goto done;
	}
	if (!api_cache_invalidate(req, ids, n))
		log_warnx("order: cache not cleared after the write");
	*out = oc_bson_to_json(doc);
	ok = true;
done:
	for (i = 0; !ok && i < n; i++)
		if (lines[i].taken)
			give_back(products, &lines[i].id, lines[i].qty);
	if (!ok && claimed)
		release_key(req, idem_key);
	for (i = 0; i < n; i++) {
		free(lines[i].sku);
		free(lines[i].name);
	}
	free(lines);
	free(ids);
	bson_destroy(doc);
	mongoc_collection_destroy(products);
	mongoc_collection_destroy(orders);
	return ok;
}

/* Put the items of a cancelled order back into stock. */
static void
return_items(struct api_req *req, mongoc_collection_t *products,
    const bson_t *order)
{
	bson_iter_t it, items, item;
	bson_oid_t ids[MAX_ITEMS];
	bson_oid_t pid;
	int64_t qty;
	size_t n = 0;
	bool have_id;

	if (!bson_iter_init_find(&it, order, "items") ||
	    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &items))
		return;
	while (bson_iter_next(&items) && n < MAX_ITEMS) {
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
		give_back(products, &pid, qty);
		ids[n++] = pid;
	}
	if (!api_cache_invalidate(req, ids, n))
		log_warnx("cancel: cache not cleared after the write");
}

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
	if (strcmp(to, "cancelled") == 0 &&
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
	    !move_allowed(cur_status, to)) {
		api_error(req, 409, "invalid_transition", "cannot move an "
		    "order from %s to %s", cur_status, to);
		goto done;
	}
	now = oc_wall_ms();
	sel = BCON_NEW("_id", BCON_OID(id), "status", BCON_UTF8(cur_status));
	upd = BCON_NEW("$set", "{", "status", BCON_UTF8(to), "updatedAt",
	    BCON_DATE_TIME(now), "}", "$push", "{", "history", "{",
	    "status", BCON_UTF8(to), "at", BCON_DATE_TIME(now), "}", "}");
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
	if (strcmp(to, "cancelled") == 0) {
		products = api_collection(req, "products");
		if (products != NULL)
			return_items(req, products, &value);
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

/* GET /api/orders?customerId=&status=&limit=&before= */
void
api_route_orders_list(struct api_req *req)
{
	json_object *arr = NULL, *last;
	bson_t *filter = bson_new(), *opts = NULL, idrange;
	char *customer = NULL, *status = NULL, *limit_s = NULL;
	char *before = NULL, *next = NULL;
	bson_oid_t oid;
	long limit = 50;
	size_t n;

	if (api_query(req, "customerId", &customer)) {
		if (!api_oid_param(req, "customerId", customer, &oid))
			goto done;
		BSON_APPEND_OID(filter, "customerId", &oid);
	}
	if (api_query(req, "status", &status)) {
		if (!api_status_valid(status)) {
			api_field_error(req, "status", "not a known status");
			goto done;
		}
		BSON_APPEND_UTF8(filter, "status", status);
	}
	if (api_query(req, "limit", &limit_s) &&
	    !oc_parse_long(limit_s, 1, 200, &limit)) {
		api_field_error(req, "limit", "expected 1 to 200");
		goto done;
	}
	if (api_query(req, "before", &before)) {
		if (!api_oid_param(req, "before", before, &oid))
			goto done;
		bson_append_document_begin(filter, "_id", -1, &idrange);
		BSON_APPEND_OID(&idrange, "$lt", &oid);
		bson_append_document_end(filter, &idrange);
	}
	opts = BCON_NEW("sort", "{", "_id", BCON_INT32(-1), "}", "limit",
	    BCON_INT64(limit + 1));
	if (!api_find_json(req, "orders", filter, opts, &arr))
		goto done;
	n = json_object_array_length(arr);
	if (n > (size_t)limit) {
		json_object_array_del_idx(arr, (size_t)limit, n - limit);
		last = json_object_array_get_idx(arr, (size_t)limit - 1);
		next = xstrdup(json_object_get_string(
		    json_object_object_get(last, "id")));
	}
	api_reply_json(req, 200, api_list_body(arr, true, next));
done:
	free(customer);
	free(status);
	free(limit_s);
	free(before);
	free(next);
	bson_destroy(filter);
	bson_destroy(opts);
}

/* GET /api/orders/:id */
void
api_route_order(struct api_req *req, const char *idstr)
{
	json_object *doc = NULL;
	bson_oid_t id;

	if (!api_oid_param(req, "id", idstr, &id))
		return;
	if (!api_find_by_id(req, "orders", &id, &doc))
		return;
	if (doc == NULL) {
		api_error(req, 404, "not_found", "no order %s", idstr);
		return;
	}
	api_reply_json(req, 200, doc);
}

/* Is the header a usable Idempotency-Key? */
static bool
valid_key(const char *k)
{
	size_t n = strlen(k), i;

	if (n == 0 || n > MAX_KEY_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (k[i] <= ' ' || k[i] > '~')
			return false;
	return true;
}

/* Parse the items array of a new order; false after answering 400. */
static bool
parse_items(struct api_req *req, json_object *v, struct api_item *items,
    size_t *count)
{
	json_object *item, *pid, *qty;
	char field[48];
	size_t n, i, j;

	if (!json_object_is_type(v, json_type_array))
		return api_field_error(req, "items", "expected an array");
	n = json_object_array_length(v);
	if (n < 1 || n > MAX_ITEMS)
		return api_field_error(req, "items", "expected 1 to 50 items");
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(v, i);
		snprintf(field, sizeof(field), "items[%zu]", i);
		if (!json_object_is_type(item, json_type_object))
			return api_field_error(req, field,
			    "expected an object");
		json_object_object_foreach(item, k, val) {
			if (strcmp(k, "productId") != 0 &&
			    strcmp(k, "qty") != 0) {
				snprintf(field, sizeof(field),
				    "items[%zu].%.16s", i, k);
				return api_field_error(req, field,
				    "unknown field");
			}
			(void)val;
		}
		snprintf(field, sizeof(field), "items[%zu].productId", i);
		if (!json_object_object_get_ex(item, "productId", &pid) ||
		    !oc_oid_parse(api_json_str(pid), &items[i].product))
			return api_field_error(req, field,
			    "expected a 24-hex id");
		for (j = 0; j < i; j++)
			if (bson_oid_equal(&items[j].product,
			    &items[i].product))
				return api_field_error(req, field,
				    "product listed twice");
		snprintf(field, sizeof(field), "items[%zu].qty", i);
		if (!json_object_object_get_ex(item, "qty", &qty))
			return api_field_error(req, field, "required");
		if (!api_int_field(req, qty, field, 1, MAX_QTY,
		    &items[i].qty))
			return false;
	}
	*count = n;
	return true;
}

/* POST /api/orders */
void
api_route_orders_create(struct api_req *req)
{
	json_object *body = NULL, *v, *order = NULL;
	struct api_item items[MAX_ITEMS];
	const char *key = api_param(req, "HTTP_IDEMPOTENCY_KEY");
	char *location = NULL;
	bson_oid_t customer;
	size_t n = 0;
	bool repeat;

	if (key != NULL && !valid_key(key)) {
		api_field_error(req, "Idempotency-Key", "expected 1 to 128 "
		    "printable ASCII characters");
		goto done;
	}
	body = api_body_object(req);
	if (body == NULL)
		goto done;
	json_object_object_foreach(body, k, val) {
		if (strcmp(k, "customerId") != 0 && strcmp(k, "items") != 0) {
			api_field_error(req, k, "unknown field");
			goto done;
		}
		(void)val;
	}
	if (!json_object_object_get_ex(body, "customerId", &v) ||
	    !oc_oid_parse(api_json_str(v), &customer)) {
		api_field_error(req, "customerId", "expected a 24-hex id");
		goto done;
	}
	if (!json_object_object_get_ex(body, "items", &v)) {
		api_field_error(req, "items", "required");
		goto done;
	}
	if (!parse_items(req, v, items, &n))
		goto done;
	if (!api_order_create(req, &customer, items, n, key, &order,
	    &repeat))
		goto done;
	if (!repeat) {
		location = xasprintf("/api/orders/%s", json_object_get_string(
		    json_object_object_get(order, "id")));
		api_add_header(req, "Location", location);
	}
	api_reply_json(req, repeat ? 200 : 201, order);
done:
	free(location);
	json_object_put(body);
}

/* PUT /api/orders/:id/status with {"status": "..."} */
void
api_route_order_status(struct api_req *req, const char *idstr)
{
	json_object *body = NULL, *v, *order = NULL;
	bson_oid_t id;
	const char *to;

	if (!api_oid_param(req, "id", idstr, &id))
		goto done;
	body = api_body_object(req);
	if (body == NULL)
		goto done;
	json_object_object_foreach(body, k, val) {
		if (strcmp(k, "status") != 0) {
			api_field_error(req, k, "unknown field");
			goto done;
		}
		(void)val;
	}
	if (!json_object_object_get_ex(body, "status", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		api_field_error(req, "status", "expected a string");
		goto done;
	}
	to = api_json_str(v);
	if (to == NULL || !api_status_valid(to)) {
		api_field_error(req, "status", "not a known status");
		goto done;
	}
	if (!api_order_move(req, &id, NULL, to, &order))
		goto done;
	api_reply_json(req, 200, order);
done:
	json_object_put(body);
}
