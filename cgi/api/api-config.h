/*
 * GET /api/config: what clients need to know of the contract
 * (docs/architecture.md, "HTTP interface"): order statuses and moves,
 * event types and topics, the low-stock threshold and the API's limits.
 */
#ifndef API_CONFIG_H
#define API_CONFIG_H

#include <json-c/json.h>

#include "oc-config.h"

struct api_req;

/* Orders one list page holds unless ?limit= says less; and at most. */
#define API_ORDERS_PAGE		50
#define API_ORDERS_PAGE_MAX	200
/* Lines of one order, and units of one line. */
#define API_ORDER_MAX_ITEMS	50
#define API_ORDER_MAX_QTY	1000

/*
 * The body of GET /api/config, from oc-model and cfg:
 *   {"statuses":[...],"moves":[{"from","to"}...],"topics":[...],
 *    "events":[{"type","topic"}...],"lowStock":N,
 *    "limits":{"maxBodyBytes","ordersPage","ordersPageMax",
 *              "orderMaxItems","orderMaxQty"}}
 * "topics" are those a client may name in /api/events?topics=; an event
 * of topic "system" goes to every client. Caller releases.
 */
json_object *api_config_body(const struct oc_config *cfg);

/* GET /api/config: answers 200 with api_config_body(). */
void api_route_config(struct api_req *req);

#endif
