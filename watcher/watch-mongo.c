/* The MongoDB side of the watcher: one change stream on the database. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oc-event.h"
#include "oc-json.h"
#include "oc-log.h"
#include "oc-xmalloc.h"
#include "watch.h"

/* Server error codes that mean the token is older than the history. */
#define ERR_HISTORY_LOST	286
#define ERR_CHANGE_STREAM_FATAL	280
#define ERR_CAPPED_POSITION_LOST 136

/*
 * Count the documents of each batch the cursor receives, so the loop
 * knows when the next read would wait on the server and publishes first.
 */
static void
command_succeeded(const mongoc_apm_command_succeeded_t *event)
{
	struct watch *w = mongoc_apm_command_succeeded_get_context(event);
	const char *name = mongoc_apm_command_succeeded_get_command_name(
	    event);
	const bson_t *reply;
	bson_iter_t it, child;
	long n = 0;

	if (strcmp(name, "aggregate") != 0 && strcmp(name, "getMore") != 0)
		return;
	reply = mongoc_apm_command_succeeded_get_reply(event);
	if (!bson_iter_init(&it, reply))
		return;
	if (!bson_iter_find_descendant(&it, "cursor.firstBatch", &child)) {
		if (!bson_iter_init(&it, reply) ||
		    !bson_iter_find_descendant(&it, "cursor.nextBatch",
		    &child))
			return;
	}
	if (!BSON_ITER_HOLDS_ARRAY(&child) || !bson_iter_recurse(&child, &it))
		return;
	while (bson_iter_next(&it))
		n++;
	w->batch_left = n;
}

/* Set a URI timeout unless the operator chose one. */
static void
default_timeout(mongoc_uri_t *uri, const char *option, int32_t ms)
{
	if (!mongoc_uri_has_option(uri, option))
		mongoc_uri_set_option_as_int32(uri, option, ms);
}

/*
 * Parse the URI once, with short waits so an outage never keeps the
 * loop from its heartbeat for long.
 */
bool
watch_mongo_setup(struct watch *w, char *err, size_t errlen)
{
	bson_error_t berr;

	w->uri = mongoc_uri_new_with_error(w->cfg->mongodb_uri, &berr);
	if (w->uri == NULL) {
		snprintf(err, errlen, "ORDERCAST_MONGODB_URI: %s",
		    berr.message);
		return false;
	}
	default_timeout(w->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 2000);
	default_timeout(w->uri, MONGOC_URI_CONNECTTIMEOUTMS, 2000);
	default_timeout(w->uri, MONGOC_URI_SOCKETTIMEOUTMS,
	    (int32_t)(WATCH_AWAIT_MS + w->cfg->timeout_ms));
	if (!mongoc_uri_has_option(w->uri, MONGOC_URI_APPNAME))
		mongoc_uri_set_appname(w->uri, "ordercast-watch");
	return true;
}

/* Drop the stream; the loop opens it again from the token. */
void
watch_stream_close(struct watch *w)
{
	mongoc_change_stream_destroy(w->stream);
	w->stream = NULL;
	w->batch_left = 0;
}

/* Children before their client: stream, then client, then URI. */
void
watch_mongo_cleanup(struct watch *w)
{
	watch_stream_close(w);
	mongoc_client_destroy(w->client);
	w->client = NULL;
	mongoc_uri_destroy(w->uri);
	w->uri = NULL;
}

/* A MongoDB fault: log it once per outage; the loop reopens later. */
static void
fail_mongo(struct watch *w, const bson_error_t *err)
{
	w->total.errors++;
	if (!w->mongo_down)
		log_warnx("mongodb: %s (code %u); retrying with backoff",
		    err->message, err->code);
	else
		log_debug("mongodb: %s (code %u)", err->message, err->code);
	w->mongo_down = true;
	watch_stream_close(w);
	/* A new client next time: the old one may hold a dead topology. */
	mongoc_client_destroy(w->client);
	w->client = NULL;
}

/* The options of the stream: where to start, what to return. */
static bool
stream_opts(struct watch *w, bson_t *opts, bool from_now,
    bson_error_t *err)
{
	bson_error_t berr;
	bson_t *tok = NULL;
	const char *text = w->start_after != NULL ? w->start_after : w->token;
	bool ok = false;

	BSON_APPEND_UTF8(opts, "fullDocument", "updateLookup");
	BSON_APPEND_INT64(opts, "maxAwaitTimeMS", WATCH_AWAIT_MS);
	/* Batches of one pipeline's size keep replies small and reused. */
	BSON_APPEND_INT32(opts, "batchSize", WATCH_BATCH);
	if (from_now || text == NULL) {
		ok = true;
		goto done;
	}
	tok = bson_new_from_json((const uint8_t *)text, -1, &berr);
	if (tok == NULL) {
		bson_set_error(err, 0, 0, "stored token is not JSON: %.200s",
		    berr.message);
		goto done;
	}
	BSON_APPEND_DOCUMENT(opts, w->start_after != NULL ? "startAfter" :
	    "resumeAfter", tok);
	ok = true;
done:
	bson_destroy(tok);
	return ok;
}

/* The stream's current resume token as text, or NULL. Caller frees. */
static char *
stream_token(mongoc_change_stream_t *stream)
{
	const bson_t *tok = mongoc_change_stream_get_resume_token(stream);
	char *json, *s;

	if (tok == NULL || bson_empty(tok))
		return NULL;
	json = bson_as_canonical_extended_json(tok, NULL);
	s = xstrdup(json);
	bson_free(json);
	return s;
}

/* History is gone: tell every client to reload, continue from now. */
static void
history_lost(struct watch *w, mongoc_change_stream_t *stream)
{
	json_object *ev;
	char *tok;

	log_errorx("mongodb: the stored resume token is older than the "
	    "change history; changes were missed, publishing %s",
	    OC_EVENT_RESYNC);
	w->total.resyncs++;
	tok = stream_token(stream);
	ev = oc_event_new(OC_EVENT_RESYNC, NULL, NULL, NULL, NULL, NULL,
	    NULL, oc_wall_ms());
	watch_queue(w, ev, tok, NULL, false, "", NULL, 0);
	json_object_put(ev);
	free(tok);
}

/* Open the stream with the given options; NULL and err on failure. */
static mongoc_change_stream_t *
open_with(struct watch *w, bool from_now, bson_error_t *err)
{
	static const char *const colls[] = { "orders", "products", "users" };
	mongoc_change_stream_t *stream = NULL;
	mongoc_database_t *db = NULL;
	bson_t *pipeline = NULL;
	bson_t opts = BSON_INITIALIZER;

	if (!stream_opts(w, &opts, from_now, err))
		goto done;
	pipeline = BCON_NEW("pipeline", "[", "{", "$match", "{", "ns.coll",
	    "{", "$in", "[", BCON_UTF8(colls[0]), BCON_UTF8(colls[1]),
	    BCON_UTF8(colls[2]), "]", "}", "}", "}", "]");
	db = mongoc_client_get_database(w->client, w->cfg->db);
	stream = mongoc_database_watch(db, pipeline, &opts);
	if (mongoc_change_stream_error_document(stream, err, NULL)) {
		mongoc_change_stream_destroy(stream);
		stream = NULL;
	}
done:
	mongoc_database_destroy(db);
	bson_destroy(pipeline);
	bson_destroy(&opts);
	return stream;
}

/*
 * With no token yet, keep the position the stream opened at, so that a
 * crash before the first event resumes here and not from a later "now".
 */
static bool
watch_store_start(struct watch *w)
{
	char *tok = stream_token(w->stream);
	bool ok = true;

	if (tok != NULL) {
		ok = watch_redis_set_token(w, tok);
		if (ok) {
			w->token = tok;
			tok = NULL;
		}
	}
	free(tok);
	return ok;
}

/* True for the errors that mean the token fell out of the history. */
static bool
is_history_lost(const bson_error_t *err)
{
	return err->domain == MONGOC_ERROR_SERVER &&
	    (err->code == ERR_HISTORY_LOST ||
	    err->code == ERR_CHANGE_STREAM_FATAL ||
	    err->code == ERR_CAPPED_POSITION_LOST);
}

/* Open the stream after the token, or from now without one. */
bool
watch_stream_open(struct watch *w)
{
	mongoc_apm_callbacks_t *cbs;
	bson_error_t err;

	if (w->client == NULL) {
		w->client = mongoc_client_new_from_uri(w->uri);
		if (w->client == NULL) {
			bson_set_error(&err, 0, 0, "cannot create a client");
			fail_mongo(w, &err);
			return false;
		}
		mongoc_client_set_error_api(w->client,
		    MONGOC_ERROR_API_VERSION_2);
		cbs = mongoc_apm_callbacks_new();
		mongoc_apm_set_command_succeeded_cb(cbs, command_succeeded);
		mongoc_client_set_apm_callbacks(w->client, cbs, w);
		mongoc_apm_callbacks_destroy(cbs);
	}
	w->batch_left = 0;
	w->stream = open_with(w, false, &err);
	if (w->stream == NULL && is_history_lost(&err)) {
		w->stream = open_with(w, true, &err);
		if (w->stream != NULL)
			history_lost(w, w->stream);
	}
	if (w->stream == NULL) {
		fail_mongo(w, &err);
		return false;
	}
	free(w->start_after);
	w->start_after = NULL;
	if (w->token == NULL && !watch_store_start(w))
		return false;
	if (w->mongo_down) {
		log_info("mongodb: change stream open again");
		w->total.reconnects++;
	}
	w->mongo_down = false;
	watch_backoff_reset(&w->mongo_backoff);
	log_debug("mongodb: change stream open after %s",
	    w->token != NULL ? w->token : "(now)");
	return true;
}

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
watch_queue(struct watch *w, json_object *event, const char *token,
    const char *key, bool product, const char *stock, json_object *alert,
    int64_t cluster_ms)
{
	struct watch_event *ev = &w->pending[w->npending++];

	memset(ev, 0, sizeof(*ev));
	ev->body = event_body(event);
	ev->token = token != NULL ? xstrdup(token) : NULL;
	ev->key = key != NULL ? xstrdup(key) : NULL;
	if (product && key != NULL)
		ev->cache_key = xasprintf("%s%s", w->k_cache_product, key);
	ev->alert = alert != NULL ? event_body(alert) : NULL;
	ev->stock = stock;
	ev->cluster_ms = cluster_ms;
}

/* The low-stock state a product change leads to: "low", "ok" or "". */
static const char *
stock_state(const struct watch *w, const struct oc_change *c)
{
	if (strcmp(c->type, "product.deleted") == 0)
		return "ok";
	if (!c->has_stock)
		return "";
	return c->stock < w->cfg->low_stock ? "low" : "ok";
}

/* Turn one change document into a queued event. */
static void
handle_change(struct watch *w, const bson_t *doc)
{
	struct oc_change c;
	json_object *alert = NULL;
	bson_iter_t it;
	bson_t id;
	const uint8_t *data;
	uint32_t len;
	char err[256];
	char *tok = NULL;
	const char *stock = "";
	bool product;

	if (!oc_change_parse(doc, &c, err, sizeof(err))) {
		w->total.errors++;
		log_errorx("change skipped: %s", err);
		goto done;
	}
	if (bson_iter_init_find(&it, doc, "_id") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_iter_document(&it, &len, &data);
		if (bson_init_static(&id, data, len))
			tok = bson_as_canonical_extended_json(&id, NULL);
	}
	if (strcmp(c.op, "invalidate") == 0 && tok != NULL) {
		log_info("mongodb: change stream invalidated; starting after "
		    "it");
		free(w->start_after);
		w->start_after = xstrdup(tok);
		goto done;
	}
	if (c.type == NULL)
		goto done;
	product = strncmp(c.type, "product.", 8) == 0;
	if (product) {
		stock = stock_state(w, &c);
		if (strcmp(stock, "low") == 0)
			alert = oc_event_low_stock(&c);
	}
	watch_queue(w, c.event, tok, c.key, product, stock, alert,
	    c.cluster_ms);
done:
	if (alert != NULL)
		json_object_put(alert);
	bson_free(tok);
	oc_change_clear(&c);
}

/* Read until the stream waits, publishing at each batch boundary. */
void
watch_stream_step(struct watch *w)
{
	const bson_t *doc;
	bson_error_t err;

	while (!watch_stop) {
		if (!mongoc_change_stream_next(w->stream, &doc))
			break;
		if (w->batch_left > 0)
			w->batch_left--;
		handle_change(w, doc);
		if (w->start_after != NULL)
			break;
		/* Back to the loop after each batch, for signals and beats. */
		if (w->npending == WATCH_BATCH || w->batch_left == 0) {
			watch_flush(w);
			return;
		}
	}
	if (!watch_flush(w))
		return;
	if (w->start_after != NULL) {
		watch_stream_close(w);
		return;
	}
	if (w->stream != NULL &&
	    mongoc_change_stream_error_document(w->stream, &err, NULL)) {
		if (is_history_lost(&err)) {
			/* Reopen from the token to meet the error there. */
			watch_stream_close(w);
			return;
		}
		fail_mongo(w, &err);
	}
}
