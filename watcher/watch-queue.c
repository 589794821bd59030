/*
 * The lowest layer of the watcher: events read from MongoDB and not yet
 * in Redis. Calls nothing of the watcher.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oc-json.h"
#include "oc-log.h"
#include "oc-xmalloc.h"
#include "watch.h"

/* Copy the body of an event: its JSON text without the braces. */
static char *
event_body(json_object *event)
{
	size_t len;
	const char *text = oc_json_text(event, &len);

	return xstrndup(text + 1, len - 2);
}

/* Keep what the script needs of one event until the batch is sent. */
void
watch_queue_push(struct watch_queue *q, json_object *event,
    const char *token, const char *key, bool product, const char *stock,
    json_object *alert, int64_t cluster_ms, const char *id,
    const char *alert_id)
{
	struct watch_event *ev;

	if (watch_queue_full(q))
		fatalx("watch queue overflow");
	ev = &q->ev[q->n++];
	memset(ev, 0, sizeof(*ev));
	ev->body = event_body(event);
	ev->token = token != NULL ? xstrdup(token) : NULL;
	ev->key = key != NULL ? xstrdup(key) : NULL;
	ev->product = product && key != NULL;
	ev->alert = alert != NULL ? event_body(alert) : NULL;
	ev->stock = stock;
	ev->cluster_ms = cluster_ms;
	snprintf(ev->id, sizeof(ev->id), "%s", id);
	snprintf(ev->alert_id, sizeof(ev->alert_id), "%s",
	    alert_id != NULL ? alert_id : "");
}

/* The reader stops here and lets the loop publish. */
bool
watch_queue_full(const struct watch_queue *q)
{
	return q->n == WATCH_BATCH;
}

/* After publishing, or after a Redis fault: then MongoDB resends them. */
void
watch_queue_drop(struct watch_queue *q)
{
	struct watch_event *ev;
	size_t i;

	for (i = 0; i < q->n; i++) {
		ev = &q->ev[i];
		free(ev->body);
		free(ev->token);
		free(ev->key);
		free(ev->alert);
		memset(ev, 0, sizeof(*ev));
	}
	q->n = 0;
}
