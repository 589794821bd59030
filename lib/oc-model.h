/*
 * The data model every program shares (docs/architecture.md, "Data
 * model" and "Events"): order statuses and the moves between them, event
 * types and the topics that clients subscribe to. The tables here are
 * the only definition; GET /api/config serves them to the dashboard.
 */
#ifndef OC_MODEL_H
#define OC_MODEL_H

#include <stdbool.h>
#include <stddef.h>

/* Order statuses. */
#define OC_STATUS_PENDING	"pending"
#define OC_STATUS_PROCESSING	"processing"
#define OC_STATUS_SHIPPED	"shipped"
#define OC_STATUS_DELIVERED	"delivered"
#define OC_STATUS_CANCELLED	"cancelled"

/* Every status, in the order of an order's life (cancelled last). */
#define OC_NSTATUSES	5
extern const char *const oc_statuses[OC_NSTATUSES];

/* An allowed status move. A move to cancelled puts the items back. */
struct oc_move {
	const char	*from;
	const char	*to;
};

/* Every allowed move: the forward steps first, then the cancellations. */
#define OC_NMOVES	5
extern const struct oc_move oc_moves[OC_NMOVES];

/* Is s one of the order statuses? */
bool oc_status_valid(const char *s);

/* Is from -> to an allowed move? */
bool oc_status_move_allowed(const char *from, const char *to);

/* The forward step from s (never cancelled); NULL when s has none. */
const char *oc_status_next(const char *s);

/*
 * Topics: what a client subscribes to (GET /api/events?topics=), one bit
 * each for filters. System events go to every client whatever it asked
 * for, so "system" is a topic no client names.
 */
#define OC_TOPIC_ORDERS		0x01u
#define OC_TOPIC_PRODUCTS	0x02u
#define OC_TOPIC_USERS		0x04u
#define OC_TOPIC_ALERTS		0x08u
#define OC_TOPIC_SYSTEM		0x10u
/* The topics a client may name; the default when it names none. */
#define OC_TOPIC_SUBSCRIBABLE	0x0fu

struct oc_topic {
	const char	*name;
	unsigned	 bit;
};

/* Every topic, the subscribable ones first and system last. */
#define OC_NTOPICS	5
extern const struct oc_topic oc_topics[OC_NTOPICS];

/* The bit of a subscribable topic named by len bytes of s; 0 if none. */
unsigned oc_topic_parse(const char *s, size_t len);

/* The name of one topic bit; NULL when bit is not exactly one topic. */
const char *oc_topic_name(unsigned bit);

/* Event types. */
#define OC_EVENT_LOW_STOCK	"alert.low_stock"
#define OC_EVENT_RESYNC		"system.resync"

/* What happened to a document, in the event type's last word. */
enum oc_verb {
	OC_VERB_NONE = 0,	/* not a document event (alert, system) */
	OC_VERB_CREATED,
	OC_VERB_UPDATED,
	OC_VERB_DELETED
};

struct oc_event_kind {
	const char	*type;		/* e.g. "order.created" */
	const char	*collection;	/* watched collection, or NULL */
	enum oc_verb	 verb;
	unsigned	 topic;		/* one OC_TOPIC_* bit */
};

/* Every event type there is. */
#define OC_NEVENT_KINDS	11
extern const struct oc_event_kind oc_event_kinds[OC_NEVENT_KINDS];

/* The kind of an event type; NULL when type is not one. Static. */
const struct oc_event_kind *oc_event_kind(const char *type);

/* The type of a verb on a watched collection; NULL if none. Static. */
const char *oc_event_kind_type(const char *collection, enum oc_verb verb);

/* The topic bit of an event type; 0 when type is not one. */
unsigned oc_event_kind_topic(const char *type);

#endif
