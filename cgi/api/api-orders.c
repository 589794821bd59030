/*
 * Layer: route handlers of /api/orders: listing with cursor paging and
 * filters, counts, one order, creation (its body checked here) and
 * status moves.
 * Calls api-list.c, api-order-create.c, api-order-status.c, api-idem.c,
 * api-db.c, api-req.c, api-reply.c and lib/.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "oc-json.h"
#include "oc-model.h"
#include "oc-xmalloc.h"

/* A customer's requests see only their own orders. */
static bool
is_customer(const struct api_req *req)
{
	return req->caller.role == API_ROLE_CUSTOMER;
}

/*
 * True when a customer may see this order (JSON as the API shows it):
 * admins see all, customers their own. Another's order is answered as if
 * it did not exist.
 */
static bool
order_visible(const struct api_req *req, json_object *order)
{
	json_object *c;

	if (!is_customer(req))
		return true;
	return json_object_object_get_ex(order, "customerId", &c) &&
	    json_object_is_type(c, json_type_string) &&
	    strcmp(json_object_get_string(c), req->caller.user_id) == 0;
}

/*
 * The role of a user by id: "admin", "customer", or "" when there is no
 * such user. False after a 503.
 */
static bool
user_role(struct api_req *req, const bson_oid_t *id, char *role,
    size_t rolelen)
{
	json_object *u = NULL, *r;

	role[0] = '\0';
	if (!api_find_by_id(req, "users", id, &u))
		return false;
	if (u != NULL && json_object_object_get_ex(u, "role", &r) &&
	    json_object_is_type(r, json_type_string))
		snprintf(role, rolelen, "%s", json_object_get_string(r));
	json_object_put(u);
	return true;
}

/* Orders as lists show them: newest first, the old ?before= allowed. */
static const struct api_list_spec orders_list = {
	"orders", OC_FILTER_ORDERS, "-id", true, NULL
};

/*
 * Append to scope what the caller may see of orders (a customer: their
 * own) narrowed by the old ?customerId= and ?status=. *none when a
 * customer asks for another's orders: nothing matches. Returns false
 * after answering 400.
 */
static bool
orders_scope(struct api_req *req, bson_t *scope, bool *none)
{
	char *customer = NULL, *status = NULL;
	bson_oid_t oid;
	bool ok = false;

	*none = false;
	if (api_query(req, "customerId", &customer)) {
		if (!api_oid_param(req, "customerId", customer, &oid))
			goto done;
		if (is_customer(req) &&
		    strcasecmp(customer, req->caller.user_id) != 0) {
			*none = true;
			ok = true;
			goto done;
		}
	}
	if (is_customer(req))
		(void)oc_oid_parse(req->caller.user_id, &oid);
	if (customer != NULL || is_customer(req))
		BSON_APPEND_OID(scope, "customerId", &oid);
	if (api_query(req, "status", &status)) {
		if (!oc_status_valid(status)) {
			api_field_error(req, "status", "not a known status");
			goto done;
		}
		BSON_APPEND_UTF8(scope, "status", status);
	}
	ok = true;
done:
	free(customer);
	free(status);
	return ok;
}

/*
 * The list as it was before filters: newest first, with the last id as
 * "next" for ?before=.
 */
static void
orders_newest(struct api_req *req, bson_t *filter)
{
	json_object *arr = NULL, *last;
	bson_t *opts = NULL, idrange;
	char *before = NULL, *next = NULL;
	bson_oid_t oid;
	long limit = API_ORDERS_PAGE;
	size_t n;

	if (!api_query_count(req, "limit", 1, API_ORDERS_PAGE_MAX, &limit))
		goto done;
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
	free(before);
	free(next);
	bson_destroy(opts);
}

/*
 * GET /api/orders?customerId=&status=&limit=&before= and
 * ?where=&sort=&limit=&next= (docs/filters.md)
 */
void
api_route_orders_list(struct api_req *req)
{
	bson_t scope = BSON_INITIALIZER;
	bool none;

	if (!orders_scope(req, &scope, &none))
		goto done;
	if (none) {
		/* Asking for another's narrows to nothing. */
		api_reply_json(req, 200, api_list_body(
		    json_object_new_array(), true, NULL));
		goto done;
	}
	if (api_list_asked(req, false))
		api_list_run(req, &orders_list, &scope);
	else
		orders_newest(req, &scope);
done:
	bson_destroy(&scope);
}

/* GET /api/orders/count?where=&customerId=&status= */
void
api_route_orders_count(struct api_req *req)
{
	bson_t scope = BSON_INITIALIZER;
	json_object *body;
	bool none;

	if (!orders_scope(req, &scope, &none))
		goto done;
	if (none) {
		body = json_object_new_object();
		json_object_object_add(body, "count",
		    json_object_new_int64(0));
		api_reply_json(req, 200, body);
		goto done;
	}
	api_list_count(req, &orders_list, &scope);
done:
	bson_destroy(&scope);
}

/* GET /api/orders/:id */
void
api_route_order(struct api_req *req)
{
	json_object *doc = NULL;
	bson_oid_t id;

	if (!api_oid_param(req, "id", req->id, &id))
		return;
	if (!api_find_by_id(req, "orders", &id, &doc))
		return;
	if (doc == NULL || !order_visible(req, doc)) {
		json_object_put(doc);
		api_error(req, 404, "not_found", "no order %s", req->id);
		return;
	}
	api_reply_json(req, 200, doc);
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
	if (n < 1 || n > API_ORDER_MAX_ITEMS) {
		snprintf(field, sizeof(field), "expected 1 to %d items",
		    API_ORDER_MAX_ITEMS);
		return api_field_error(req, "items", field);
	}
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
		    !api_oid_from_text(api_json_str(pid), &items[i].product))
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
		if (!api_int_field(req, qty, field, 1, API_ORDER_MAX_QTY,
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
	struct api_item items[API_ORDER_MAX_ITEMS];
	const char *key = api_param(req, "HTTP_IDEMPOTENCY_KEY");
	char *location = NULL;
	char role[16];
	bson_oid_t customer;
	size_t n = 0;
	bool repeat;

	if (key != NULL && !api_idem_key_valid(key)) {
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
	if (is_customer(req) &&
	    !json_object_object_get_ex(body, "customerId", &v)) {
		/* A customer orders for themselves. */
		(void)oc_oid_parse(req->caller.user_id, &customer);
	} else if (!json_object_object_get_ex(body, "customerId", &v) ||
	    !api_oid_from_text(api_json_str(v), &customer)) {
		api_field_error(req, "customerId", "expected a 24-hex id");
		goto done;
	} else if (is_customer(req) &&
	    strcasecmp(api_json_str(v), req->caller.user_id) != 0) {
		api_error(req, 403, "forbidden",
		    "you may order only for yourself");
		goto done;
	}
	if (!is_customer(req)) {
		if (!user_role(req, &customer, role, sizeof(role)))
			goto done;
		if (strcmp(role, "admin") == 0) {
			api_error(req, 403, "forbidden",
			    "orders belong to customers, not to admins");
			goto done;
		}
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

/*
 * A customer may cancel their own order while it is pending, nothing
 * else; another's order does not exist. False after answering.
 */
static bool
customer_may_move(struct api_req *req, const bson_oid_t *id, const char *to)
{
	json_object *doc = NULL, *st;
	bool ok = false;

	if (!api_find_by_id(req, "orders", id, &doc))
		return false;
	if (doc == NULL || !order_visible(req, doc)) {
		api_error(req, 404, "not_found", "no order %s", req->id);
		goto done;
	}
	if (strcmp(to, "cancelled") != 0 ||
	    !json_object_object_get_ex(doc, "status", &st) ||
	    strcmp(json_object_get_string(st), "pending") != 0) {
		api_error(req, 403, "forbidden", "customers may only cancel "
		    "their own orders, while they are pending");
		goto done;
	}
	ok = true;
done:
	json_object_put(doc);
	return ok;
}

/* PUT /api/orders/:id/status with {"status": "..."} */
void
api_route_order_status(struct api_req *req)
{
	json_object *body = NULL, *v, *order = NULL;
	bson_oid_t id;
	const char *to;

	if (!api_oid_param(req, "id", req->id, &id))
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
	if (to == NULL || !oc_status_valid(to)) {
		api_field_error(req, "status", "not a known status");
		goto done;
	}
	if (is_customer(req) && !customer_may_move(req, &id, to))
		goto done;
	if (!api_order_move(req, &id, is_customer(req) ? "pending" : NULL, to,
	    &order))
		goto done;
	api_reply_json(req, 200, order);
done:
	json_object_put(body);
}
