/* The model's tables, so statuses, moves, types and topics agree. */
#include "config.h"

#include <string.h>

#include "oc-model.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

const char *const oc_statuses[OC_NSTATUSES] = {
	OC_STATUS_PENDING, OC_STATUS_PROCESSING, OC_STATUS_SHIPPED,
	OC_STATUS_DELIVERED, OC_STATUS_CANCELLED,
};

/* The forward steps come first: oc_status_next() relies on it. */
const struct oc_move oc_moves[OC_NMOVES] = {
	{ OC_STATUS_PENDING, OC_STATUS_PROCESSING },
	{ OC_STATUS_PROCESSING, OC_STATUS_SHIPPED },
	{ OC_STATUS_SHIPPED, OC_STATUS_DELIVERED },
	{ OC_STATUS_PENDING, OC_STATUS_CANCELLED },
	{ OC_STATUS_PROCESSING, OC_STATUS_CANCELLED },
};

const struct oc_topic oc_topics[OC_NTOPICS] = {
	{ "orders", OC_TOPIC_ORDERS },
	{ "products", OC_TOPIC_PRODUCTS },
	{ "users", OC_TOPIC_USERS },
	{ "alerts", OC_TOPIC_ALERTS },
	{ "system", OC_TOPIC_SYSTEM },
};

const struct oc_event_kind oc_event_kinds[OC_NEVENT_KINDS] = {
	{ "order.created", "orders", OC_VERB_CREATED, OC_TOPIC_ORDERS },
	{ "order.updated", "orders", OC_VERB_UPDATED, OC_TOPIC_ORDERS },
	{ "order.deleted", "orders", OC_VERB_DELETED, OC_TOPIC_ORDERS },
	{ "product.created", "products", OC_VERB_CREATED, OC_TOPIC_PRODUCTS },
	{ "product.updated", "products", OC_VERB_UPDATED, OC_TOPIC_PRODUCTS },
	{ "product.deleted", "products", OC_VERB_DELETED, OC_TOPIC_PRODUCTS },
	{ "user.created", "users", OC_VERB_CREATED, OC_TOPIC_USERS },
	{ "user.updated", "users", OC_VERB_UPDATED, OC_TOPIC_USERS },
	{ "user.deleted", "users", OC_VERB_DELETED, OC_TOPIC_USERS },
	{ OC_EVENT_LOW_STOCK, NULL, OC_VERB_NONE, OC_TOPIC_ALERTS },
	{ OC_EVENT_RESYNC, NULL, OC_VERB_NONE, OC_TOPIC_SYSTEM },
};

/* Statuses arrive from request bodies and the database alike. */
bool
oc_status_valid(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < NELEM(oc_statuses); i++) {
		if (strcmp(s, oc_statuses[i]) == 0)
			return true;
	}
	return false;
}

/* The one check of a move, for the API and for whoever shows buttons. */
bool
oc_status_move_allowed(const char *from, const char *to)
{
	size_t i;

	if (from == NULL || to == NULL)
		return false;
	for (i = 0; i < NELEM(oc_moves); i++) {
		if (strcmp(from, oc_moves[i].from) == 0 &&
		    strcmp(to, oc_moves[i].to) == 0)
			return true;
	}
	return false;
}

/* The simulator advances orders along the forward steps only. */
const char *
oc_status_next(const char *s)
{
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < NELEM(oc_moves); i++) {
		if (strcmp(oc_moves[i].to, OC_STATUS_CANCELLED) != 0 &&
		    strcmp(s, oc_moves[i].from) == 0)
			return oc_moves[i].to;
	}
	return NULL;
}

/* Clients name topics in a comma list, hence the explicit length. */
unsigned
oc_topic_parse(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < NELEM(oc_topics); i++) {
		if ((oc_topics[i].bit & OC_TOPIC_SUBSCRIBABLE) != 0 &&
		    strlen(oc_topics[i].name) == len &&
		    strncmp(oc_topics[i].name, s, len) == 0)
			return oc_topics[i].bit;
	}
	return 0;
}

/* Names for logs and for GET /api/config. */
const char *
oc_topic_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < NELEM(oc_topics); i++) {
		if (oc_topics[i].bit == bit)
			return oc_topics[i].name;
	}
	return NULL;
}

/* Exact names only: an unknown type is no event at all. */
const struct oc_event_kind *
oc_event_kind(const char *type)
{
	size_t i;

	if (type == NULL)
		return NULL;
	for (i = 0; i < NELEM(oc_event_kinds); i++) {
		if (strcmp(type, oc_event_kinds[i].type) == 0)
			return &oc_event_kinds[i];
	}
	return NULL;
}

/* The watcher names the events of a change through this. */
const char *
oc_event_kind_type(const char *collection, enum oc_verb verb)
{
	size_t i;

	if (collection == NULL || verb == OC_VERB_NONE)
		return NULL;
	for (i = 0; i < NELEM(oc_event_kinds); i++) {
		if (oc_event_kinds[i].collection != NULL &&
		    oc_event_kinds[i].verb == verb &&
		    strcmp(collection, oc_event_kinds[i].collection) == 0)
			return oc_event_kinds[i].type;
	}
	return NULL;
}

/* The relay filters events by this bit. */
unsigned
oc_event_kind_topic(const char *type)
{
	const struct oc_event_kind *k = oc_event_kind(type);

	return k != NULL ? k->topic : 0;
}
