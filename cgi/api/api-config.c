/*
 * GET /api/config, so the dashboard and scripts take the contract from
 * the server instead of copying it.
 */
#include "config.h"

#include "api.h"
#include "api-config.h"
#include "oc-model.h"

/* Every status, in the order of an order's life. */
static json_object *
statuses_array(void)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < OC_NSTATUSES; i++)
		json_object_array_add(arr,
		    json_object_new_string(oc_statuses[i]));
	return arr;
}

/* Every allowed move as {"from","to"}. */
static json_object *
moves_array(void)
{
	json_object *arr = json_object_new_array(), *m;
	size_t i;

	for (i = 0; i < OC_NMOVES; i++) {
		m = json_object_new_object();
		json_object_object_add(m, "from",
		    json_object_new_string(oc_moves[i].from));
		json_object_object_add(m, "to",
		    json_object_new_string(oc_moves[i].to));
		json_object_array_add(arr, m);
	}
	return arr;
}

/* The topics a client may subscribe to. */
static json_object *
topics_array(void)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < OC_NTOPICS; i++) {
		if ((oc_topics[i].bit & OC_TOPIC_SUBSCRIBABLE) != 0)
			json_object_array_add(arr,
			    json_object_new_string(oc_topics[i].name));
	}
	return arr;
}

/* Every event type with its topic, for EventSource listeners. */
static json_object *
events_array(void)
{
	json_object *arr = json_object_new_array(), *e;
	size_t i;

	for (i = 0; i < OC_NEVENT_KINDS; i++) {
		e = json_object_new_object();
		json_object_object_add(e, "type",
		    json_object_new_string(oc_event_kinds[i].type));
		json_object_object_add(e, "topic", json_object_new_string(
		    oc_topic_name(oc_event_kinds[i].topic)));
		json_object_array_add(arr, e);
	}
	return arr;
}

/* The limits a client meets before the server refuses a request. */
static json_object *
limits_object(void)
{
	json_object *l = json_object_new_object();

	json_object_object_add(l, "maxBodyBytes",
	    json_object_new_int(API_MAX_BODY));
	json_object_object_add(l, "ordersPage",
	    json_object_new_int(API_ORDERS_PAGE));
	json_object_object_add(l, "ordersPageMax",
	    json_object_new_int(API_ORDERS_PAGE_MAX));
	json_object_object_add(l, "orderMaxItems",
	    json_object_new_int(API_ORDER_MAX_ITEMS));
	json_object_object_add(l, "orderMaxQty",
	    json_object_new_int(API_ORDER_MAX_QTY));
	return l;
}

/* Built per request: it is small, and cfg is read-only after start. */
json_object *
api_config_body(const struct oc_config *cfg)
{
	json_object *body = json_object_new_object();

	json_object_object_add(body, "statuses", statuses_array());
	json_object_object_add(body, "moves", moves_array());
	json_object_object_add(body, "topics", topics_array());
	json_object_object_add(body, "events", events_array());
	json_object_object_add(body, "lowStock",
	    json_object_new_int64(cfg->low_stock));
	json_object_object_add(body, "limits", limits_object());
	return body;
}

/* Anyone may read the configuration: it holds no secret. */
void
api_route_config(struct api_req *req)
{
	api_reply_json(req, 200, api_config_body(&req->server->cfg));
}
