/*
 * Unit tests of lib/oc-model and lib/oc-event: statuses and moves, event
 * types, topics and the event JSON built from change stream documents.
 * Prints TAP.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "oc-event.h"
#include "oc-json.h"
#include "oc-model.h"
#include "tap.h"


/* Compare a string that may be NULL with want (NULL for none). */
static void
ok_str(const char *got, const char *want, const char *what)
{
	int same = (got == NULL && want == NULL) ||
	    (got != NULL && want != NULL && strcmp(got, want) == 0);

	if (!same)
		printf("# got  %s\n# want %s\n", got ? got : "(null)",
		    want ? want : "(null)");
	ok(same, what);
}

/* Types and topics the relay and the watcher share. */
static void
test_types(void)
{
	ok_str(oc_event_type("orders", "insert"), "order.created",
	    "orders insert");
	ok_str(oc_event_type("orders", "replace"), "order.updated",
	    "orders replace");
	ok_str(oc_event_type("products", "update"), "product.updated",
	    "products update");
	ok_str(oc_event_type("users", "delete"), "user.deleted",
	    "users delete");
	ok_str(oc_event_type("orders", "drop"), NULL, "drop makes no event");
	ok_str(oc_event_type("other", "insert"), NULL, "other collection");
	ok_str(oc_event_type(NULL, "insert"), NULL, "no collection");
	ok_str(oc_event_topic("order.updated"), "orders", "order topic");
	ok_str(oc_event_topic("product.created"), "products",
	    "product topic");
	ok_str(oc_event_topic("user.deleted"), "users", "user topic");
	ok_str(oc_event_topic("alert.low_stock"), "alerts", "alert topic");
	ok_str(oc_event_topic("system.resync"), NULL, "system: everyone");
	ok_str(oc_event_topic("orderx.created"), NULL, "no prefix match");
}

/* The order life cycle: pending -> processing -> shipped -> delivered. */
static void
test_statuses(void)
{
	size_t i, from, to, n = 0;

	ok(OC_NSTATUSES == 5 && strcmp(oc_statuses[0], "pending") == 0 &&
	    strcmp(oc_statuses[4], "cancelled") == 0, "five statuses");
	ok(oc_status_valid("shipped") && !oc_status_valid("Shipped") &&
	    !oc_status_valid("") && !oc_status_valid(NULL),
	    "status names are exact");
	ok(oc_status_move_allowed("pending", "processing") &&
	    oc_status_move_allowed("processing", "shipped") &&
	    oc_status_move_allowed("shipped", "delivered"),
	    "forward moves allowed");
	ok(oc_status_move_allowed("pending", "cancelled") &&
	    oc_status_move_allowed("processing", "cancelled"),
	    "pending and processing can be cancelled");
	ok(!oc_status_move_allowed("shipped", "cancelled") &&
	    !oc_status_move_allowed("delivered", "pending") &&
	    !oc_status_move_allowed("pending", "shipped") &&
	    !oc_status_move_allowed("cancelled", "pending") &&
	    !oc_status_move_allowed("pending", "pending"),
	    "nothing else");
	for (from = 0; from < OC_NSTATUSES; from++)
		for (to = 0; to < OC_NSTATUSES; to++)
			if (oc_status_move_allowed(oc_statuses[from],
			    oc_statuses[to]))
				n++;
	ok(n == OC_NMOVES, "the move table is every allowed move");
	for (i = 0; i < OC_NMOVES; i++)
		if (!oc_status_valid(oc_moves[i].from) ||
		    !oc_status_valid(oc_moves[i].to))
			break;
	ok(i == OC_NMOVES, "moves are between statuses");
	ok_str(oc_status_next("pending"), "processing", "next of pending");
	ok_str(oc_status_next("shipped"), "delivered", "next of shipped");
	ok_str(oc_status_next("delivered"), NULL, "delivered is final");
	ok_str(oc_status_next("cancelled"), NULL, "cancelled is final");
}

/* Topics clients name, and the topic of every event type. */
static void
test_topics(void)
{
	size_t i;

	ok(oc_topic_parse("orders", 6) == OC_TOPIC_ORDERS &&
	    oc_topic_parse("alerts,x", 6) == OC_TOPIC_ALERTS,
	    "topic names parse");
	ok(oc_topic_parse("system", 6) == 0 && oc_topic_parse("order", 5) == 0
	    && oc_topic_parse("", 0) == 0, "system is no client's topic");
	ok_str(oc_topic_name(OC_TOPIC_PRODUCTS), "products", "topic name");
	ok_str(oc_topic_name(OC_TOPIC_ORDERS | OC_TOPIC_USERS), NULL,
	    "a topic name is one bit's");
	for (i = 0; i < OC_NEVENT_KINDS; i++)
		if (oc_event_kind(oc_event_kinds[i].type) != &oc_event_kinds[i]
		    || oc_topic_name(oc_event_kinds[i].topic) == NULL)
			break;
	ok(i == OC_NEVENT_KINDS, "every type has one topic");
	ok(oc_event_kind_topic("system.resync") == OC_TOPIC_SYSTEM &&
	    oc_event_kind_topic("alert.low_stock") == OC_TOPIC_ALERTS &&
	    oc_event_kind_topic("order.shipped") == 0,
	    "topic bits of types; unknown types have none");
	ok_str(oc_event_topic("order.frobbed"), NULL, "unknown type");
}

/* An update with set and unset fields, stock among them. */
static void
test_update(void)
{
	struct oc_change c;
	bson_oid_t oid;
	bson_t *change;
	char err[128];

	bson_oid_init_from_string(&oid, "65f0c0ffee0000000000abcd");
	change = BCON_NEW("_id", "{", "_data", "82AB", "}",
	    "operationType", "update",
	    "clusterTime", BCON_TIMESTAMP(1700000000, 3),
	    "ns", "{", "db", "ordercast", "coll", "products", "}",
	    "documentKey", "{", "_id", BCON_OID(&oid), "}",
	    "updateDescription", "{", "updatedFields", "{",
	    "stock", BCON_INT32(4), "name", "n", "}",
	    "removedFields", "[", "old", "]", "}",
	    "fullDocument", "{", "_id", BCON_OID(&oid), "stock",
	    BCON_INT32(2), "}");
	ok(oc_change_parse(change, &c, err, sizeof(err)), "update parses");
	ok_str(c.type, "product.updated", "update type");
	ok_str(c.key, "65f0c0ffee0000000000abcd", "key is the hex id");
	ok(c.cluster_ms == 1700000000000LL, "clusterTime in ms");
	ok(c.has_stock && c.stock == 4, "stock from updatedFields");
	ok_str(oc_json_text(c.event, NULL),
	    "{\"type\":\"product.updated\",\"collection\":\"products\","
	    "\"op\":\"update\",\"key\":\"65f0c0ffee0000000000abcd\","
	    "\"doc\":{\"id\":\"65f0c0ffee0000000000abcd\",\"stock\":2},"
	    "\"changed\":{\"stock\":4,\"name\":\"n\"},"
	    "\"removed\":[\"old\"],\"clusterTime\":1700000000000}",
	    "update event JSON");
	oc_change_clear(&c);
	bson_destroy(change);
}

/* A delete, an update that leaves stock alone, and non-events. */
static void
test_others(void)
{
	struct oc_change c;
	bson_t *change;
	char err[128];

	change = BCON_NEW("operationType", "delete",
	    "ns", "{", "db", "d", "coll", "users", "}",
	    "documentKey", "{", "_id", BCON_INT32(7), "}");
	ok(oc_change_parse(change, &c, err, sizeof(err)), "delete parses");
	ok_str(oc_json_text(c.event, NULL),
	    "{\"type\":\"user.deleted\",\"collection\":\"users\","
	    "\"op\":\"delete\",\"key\":\"7\",\"doc\":null,\"changed\":{},"
	    "\"removed\":[],\"clusterTime\":0}", "delete event JSON");
	oc_change_clear(&c);
	bson_destroy(change);

	change = BCON_NEW("operationType", "update",
	    "ns", "{", "db", "d", "coll", "products", "}",
	    "documentKey", "{", "_id", "p1", "}",
	    "updateDescription", "{", "updatedFields", "{", "name", "x",
	    "}", "removedFields", "[", "]", "}",
	    "fullDocument", "{", "_id", "p1", "stock", BCON_INT32(1), "}");
	ok(oc_change_parse(change, &c, err, sizeof(err)) && !c.has_stock,
	    "an update without stock does not report stock");
	oc_change_clear(&c);
	bson_destroy(change);

	change = BCON_NEW("operationType", "drop",
	    "ns", "{", "db", "d", "coll", "orders", "}");
	ok(oc_change_parse(change, &c, err, sizeof(err)) &&
	    c.type == NULL && c.event == NULL, "drop: no event");
	oc_change_clear(&c);
	bson_destroy(change);

	change = BCON_NEW("ns", "{", "db", "d", "}");
	ok(!oc_change_parse(change, &c, err, sizeof(err)),
	    "no operationType: error");
	oc_change_clear(&c);
	bson_destroy(change);
}

int
main(void)
{
	test_statuses();
	test_topics();
	test_types();
	test_update();
	test_others();
	return tap_done();
}
