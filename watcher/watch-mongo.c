/*
 * The MongoDB side of the watcher: one change stream on the database,
 * read into the queue. Calls watch-queue.c and lib/ only; faults go back
 * to the caller.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oc-daemon.h"
#include "oc-event.h"
#include "oc-log.h"
#include "oc-xmalloc.h"
#include "watch.h"

/* Server error codes that mean the token is older than the history. */
#define ERR_HISTORY_LOST	286
#define ERR_CHANGE_STREAM_FATAL	280
#define ERR_CAPPED_POSITION_LOST 136

/* The operationTime of a reply, kept as the time the stream opened at. */
static void
note_open_time(struct watch_mongo *m, const bson_t *reply)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, reply, "operationTime") &&
	    BSON_ITER_HOLDS_TIMESTAMP(&it))
		bson_iter_timestamp(&it, &m->open_t, &m->open_i);
}

/*
 * Count the documents of each batch the cursor receives, so the loop
 * knows when the next read would wait on the server and publishes first;
 * and keep the time the stream opened at, for a resync's id.
 */
static void
command_succeeded(const mongoc_apm_command_succeeded_t *event)
{
	struct watch_mongo *m = mongoc_apm_command_succeeded_get_context(
	    event);
	const char *name = mongoc_apm_command_succeeded_get_command_name(
	    event);
	const bson_t *reply;
	bson_iter_t it, child;
	long n = 0;

	if (strcmp(name, "aggregate") != 0 && strcmp(name, "getMore") != 0)
		return;
	reply = mongoc_apm_command_succeeded_get_reply(event);
	if (strcmp(name, "aggregate") == 0)
		note_open_time(m, reply);
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
	m->batch_left = n;
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
watch_mongo_setup(struct watch_mongo *m, const struct oc_config *cfg,
    struct watch_counters *total, char *err, size_t errlen)
{
	bson_error_t berr;

	memset(m, 0, sizeof(*m));
	m->cfg = cfg;
	m->total = total;
	m->uri = mongoc_uri_new_with_error(cfg->mongodb_uri, &berr);
	if (m->uri == NULL) {
		snprintf(err, errlen, "ORDERCAST_MONGODB_URI: %s",
		    berr.message);
		return false;
	}
	default_timeout(m->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 2000);
	default_timeout(m->uri, MONGOC_URI_CONNECTTIMEOUTMS, 2000);
	default_timeout(m->uri, MONGOC_URI_SOCKETTIMEOUTMS,
	    (int32_t)(WATCH_AWAIT_MS + cfg->timeout_ms));
	if (!mongoc_uri_has_option(m->uri, MONGOC_URI_APPNAME))
		mongoc_uri_set_appname(m->uri, "ordercast-watch");
	return true;
}

/* Drop the stream; the loop opens it again from the token. */
void
watch_mongo_close_stream(struct watch_mongo *m)
{
	mongoc_change_stream_destroy(m->stream);
	m->stream = NULL;
	m->batch_left = 0;
}

/* The old client may hold a dead topology: start the next open anew. */
void
watch_mongo_drop_client(struct watch_mongo *m)
{
	watch_mongo_close_stream(m);
	mongoc_client_destroy(m->client);
	m->client = NULL;
}

/* Children before their client: stream, then client, then URI. */
void
watch_mongo_free(struct watch_mongo *m)
{
	watch_mongo_drop_client(m);
	mongoc_uri_destroy(m->uri);
	m->uri = NULL;
	free(m->start_after);
	m->start_after = NULL;
}

/* The options of the stream: where to start, what to return. */
static bool
stream_opts(const struct watch_mongo *m, const char *token, bson_t *opts,
    bool from_now, bson_error_t *err)
{
	bson_error_t berr;
	bson_t *tok = NULL;
	const char *text = m->start_after != NULL ? m->start_after : token;
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
	BSON_APPEND_DOCUMENT(opts, m->start_after != NULL ? "startAfter" :
	    "resumeAfter", tok);
	ok = true;
done:
	bson_destroy(tok);
	return ok;
}

/* The stream's current resume token as text, or NULL. Caller frees. */
char *
watch_mongo_position(const struct watch_mongo *m)
{
	const bson_t *tok;
	char *json, *s;

	if (m->stream == NULL)
		return NULL;
	tok = mongoc_change_stream_get_resume_token(m->stream);
	if (tok == NULL || bson_empty(tok))
		return NULL;
	json = bson_as_canonical_extended_json(tok, NULL);
	s = xstrdup(json);
	bson_free(json);
	return s;
}

/*
 * The id of a resync published at the stream's opening time: the last
 * value of that cluster time, above every change up to it and below
 * every later one; without that time, the last value of the log's last
 * change. Never at or below the log's last id, which an older watcher
 * may have taken from a clock ahead of MongoDB's.
 */
static void
resync_id(const struct watch_mongo *m, char *id, size_t idlen)
{
	unsigned long long ms = 0, seq = 1;
	uint32_t t = m->open_t, i = m->open_i;

	if (t == 0 && m->have_prev) {
		t = m->prev_t;
		i = m->prev_i;
	}
	if (t != 0) {
		ms = (unsigned long long)t * 1000;
		seq = ((unsigned long long)i << 16) | WATCH_SEQ_LAST;
	}
	if (m->have_last && (ms < m->last_ms ||
	    (ms == m->last_ms && seq <= m->last_seq))) {
		ms = m->last_ms;
		seq = m->last_seq + 1;
	}
	snprintf(id, idlen, "%llu-%llu", ms, seq);
}

/* History is gone: tell every client to reload, continue from now. */
static void
queue_resync(struct watch_mongo *m, struct watch_queue *q)
{
	json_object *ev;
	char id[48];
	char *tok;

	tok = watch_mongo_position(m);
	resync_id(m, id, sizeof(id));
	ev = oc_event_new(OC_EVENT_RESYNC, NULL, NULL, NULL, NULL, NULL,
	    NULL, oc_wall_ms());
	watch_queue_push(q, ev, tok, NULL, false, "", NULL, 0, id, NULL);
	json_object_put(ev);
	free(tok);
	m->have_prev = false;
}

/* Open the stream with the given options; NULL and err on failure. */
static mongoc_change_stream_t *
open_with(struct watch_mongo *m, const char *token, bool from_now,
    bson_error_t *err)
{
	static const char *const colls[] = { "orders", "products", "users" };
	mongoc_change_stream_t *stream = NULL;
	mongoc_database_t *db = NULL;
	bson_t *pipeline = NULL;
	bson_t opts = BSON_INITIALIZER;

	if (!stream_opts(m, token, &opts, from_now, err))
		goto done;
	pipeline = BCON_NEW("pipeline", "[", "{", "$match", "{", "ns.coll",
	    "{", "$in", "[", BCON_UTF8(colls[0]), BCON_UTF8(colls[1]),
	    BCON_UTF8(colls[2]), "]", "}", "}", "}", "]");
	db = mongoc_client_get_database(m->client, m->cfg->db);
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

/* True for the errors that mean the token fell out of the history. */
static bool
is_history_lost(const bson_error_t *err)
{
	return err->domain == MONGOC_ERROR_SERVER &&
	    (err->code == ERR_HISTORY_LOST ||
	    err->code == ERR_CHANGE_STREAM_FATAL ||
	    err->code == ERR_CAPPED_POSITION_LOST);
}

/* A client with our error API and the batch counter. */
static bool
client_new(struct watch_mongo *m, bson_error_t *err)
{
	mongoc_apm_callbacks_t *cbs;

	m->client = mongoc_client_new_from_uri(m->uri);
	if (m->client == NULL) {
		bson_set_error(err, 0, 0, "cannot create a client");
		return false;
	}
	mongoc_client_set_error_api(m->client, MONGOC_ERROR_API_VERSION_2);
	cbs = mongoc_apm_callbacks_new();
	mongoc_apm_set_command_succeeded_cb(cbs, command_succeeded);
	mongoc_client_set_apm_callbacks(m->client, cbs, m);
	mongoc_apm_callbacks_destroy(cbs);
	return true;
}

/*
 * Where the log ends: the cluster time and index of the change behind
 * its last id, so a change later in the same transaction continues its
 * count. False when the id is not of that form: an id an older watcher
 * took from Redis' clock, which the ids of the changes after it may
 * not pass.
 */
static bool
adopt_last_id(struct watch_mongo *m, const char *last_id)
{
	unsigned long long ms, seq;
	char *end;

	m->have_prev = false;
	m->have_last = false;
	if (last_id == NULL || last_id[0] == '\0')
		return true;
	errno = 0;
	ms = strtoull(last_id, &end, 10);
	if (errno != 0 || *end != '-')
		return false;
	seq = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	m->last_ms = ms;
	m->last_seq = seq;
	m->have_last = true;
	if (ms % 1000 != 0 || ms / 1000 > UINT32_MAX ||
	    (seq >> 16) > UINT32_MAX)
		return false;
	/* Increments start at 1; "0-1" is a resync made without a time. */
	if (seq >> 16 == 0)
		return ms == 0 && seq == 1;
	m->prev_t = (uint32_t)(ms / 1000);
	m->prev_i = (uint32_t)(seq >> 16);
	m->prev_index = (uint32_t)((seq >> 1) & WATCH_INDEX_MAX);
	m->have_prev = true;
	return true;
}

/* Open the stream after the token, or from now (and resync) without. */
bool
watch_mongo_open(struct watch_mongo *m, const char *token,
    const char *last_id, struct watch_queue *q, bson_error_t *err)
{
	bool resync = false;

	if (m->client == NULL && !client_new(m, err))
		return false;
	m->batch_left = 0;
	m->open_t = 0;
	m->open_i = 0;
	if (!adopt_last_id(m, last_id)) {
		log_warnx("the log ends with %s, an id not taken from a "
		    "change's position; starting from now and publishing %s",
		    last_id, OC_EVENT_RESYNC);
		m->total->resets++;
		m->stream = open_with(m, NULL, true, err);
		resync = true;
	} else if (token == NULL && m->start_after == NULL) {
		/*
		 * Redis holds no position: a first start, or a Redis that
		 * lost its data. Either way what came before is unknown.
		 */
		log_warnx("redis holds no resume token; starting from now "
		    "and publishing %s", OC_EVENT_RESYNC);
		m->total->resets++;
		m->stream = open_with(m, NULL, true, err);
		resync = true;
	} else {
		m->stream = open_with(m, token, false, err);
		if (m->stream == NULL && is_history_lost(err)) {
			log_errorx("mongodb: the stored resume token is older "
			    "than the change history; changes were missed, "
			    "publishing %s", OC_EVENT_RESYNC);
			m->total->resyncs++;
			m->stream = open_with(m, token, true, err);
			resync = true;
		}
	}
	if (m->stream == NULL)
		return false;
	if (resync)
		queue_resync(m, q);
	free(m->start_after);
	m->start_after = NULL;
	return true;
}

/* The low-stock state a product change leads to: "low", "ok" or "". */
static const char *
stock_state(const struct watch_mongo *m, const struct oc_change *c)
{
	if (strcmp(c->type, "product.deleted") == 0)
		return "ok";
	if (!c->has_stock)
		return "";
	return c->stock < m->cfg->low_stock ? "low" : "ok";
}

/*
 * The ids of a change from its clusterTime and its index among the
 * changes of its transaction that this stream publishes (changes of one
 * transaction share one clusterTime and come together). False when the
 * change has no clusterTime or its transaction too many changes.
 */
static bool
change_ids(struct watch_mongo *m, const bson_t *doc, char *id, size_t idlen,
    char *alert_id, size_t alertlen)
{
	unsigned long long seq;
	bson_iter_t it;
	uint32_t t, i, index = 0;

	if (!bson_iter_init_find(&it, doc, "clusterTime") ||
	    !BSON_ITER_HOLDS_TIMESTAMP(&it)) {
		log_errorx("change skipped: no clusterTime");
		return false;
	}
	bson_iter_timestamp(&it, &t, &i);
	if (m->have_prev && t == m->prev_t && i == m->prev_i)
		index = m->prev_index + 1;
	if (index > WATCH_INDEX_MAX) {
		log_errorx("change skipped: more than %d changes in one "
		    "transaction", WATCH_INDEX_MAX + 1);
		return false;
	}
	m->have_prev = true;
	m->prev_t = t;
	m->prev_i = i;
	m->prev_index = index;
	seq = ((unsigned long long)i << 16) | ((unsigned long long)index << 1);
	snprintf(id, idlen, "%llu-%llu", (unsigned long long)t * 1000, seq);
	snprintf(alert_id, alertlen, "%llu-%llu",
	    (unsigned long long)t * 1000, seq | 1);
	return true;
}

/* Turn one change document into a queued event. */
static void
handle_change(struct watch_mongo *m, struct watch_queue *q,
    const bson_t *doc)
{
	struct oc_change c;
	json_object *alert = NULL;
	bson_iter_t it;
	bson_t token;
	const uint8_t *data;
	uint32_t len;
	char err[256], id[48], alert_id[48];
	char *tok = NULL;
	const char *stock = "";
	bool product;

	if (!oc_change_parse(doc, &c, err, sizeof(err))) {
		m->total->errors++;
		log_errorx("change skipped: %s", err);
		goto done;
	}
	if (bson_iter_init_find(&it, doc, "_id") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it)) {
		bson_iter_document(&it, &len, &data);
		if (bson_init_static(&token, data, len))
			tok = bson_as_canonical_extended_json(&token, NULL);
	}
	if (strcmp(c.op, "invalidate") == 0 && tok != NULL) {
		log_info("mongodb: change stream invalidated; starting after "
		    "it");
		free(m->start_after);
		m->start_after = xstrdup(tok);
		goto done;
	}
	if (c.type == NULL)
		goto done;
	if (!change_ids(m, doc, id, sizeof(id), alert_id, sizeof(alert_id))) {
		m->total->errors++;
		goto done;
	}
	product = strncmp(c.type, "product.", 8) == 0;
	if (product) {
		stock = stock_state(m, &c);
		if (strcmp(stock, "low") == 0)
			alert = oc_event_low_stock(&c);
	}
	watch_queue_push(q, c.event, tok, c.key, product, stock, alert,
	    c.cluster_ms, id, alert_id);
done:
	if (alert != NULL)
		json_object_put(alert);
	bson_free(tok);
	oc_change_clear(&c);
}

/*
 * Read until the end of the cursor's batch, a full queue or an
 * invalidate, so that the caller publishes before the next read waits
 * on the server. The caller publishes what is queued whatever this
 * returns, then acts on it.
 */
enum watch_read
watch_mongo_read(struct watch_mongo *m, struct watch_queue *q,
    bson_error_t *err)
{
	const bson_t *doc;

	while (!oc_daemon_stopping()) {
		if (!mongoc_change_stream_next(m->stream, &doc))
			break;
		if (m->batch_left > 0)
			m->batch_left--;
		handle_change(m, q, doc);
		if (m->start_after != NULL)
			return WATCH_READ_REOPEN;
		/* Back to the loop after each batch, for signals and beats. */
		if (watch_queue_full(q) || m->batch_left == 0)
			return WATCH_READ_BATCH;
	}
	if (!mongoc_change_stream_error_document(m->stream, err, NULL))
		return WATCH_READ_IDLE;
	/* Reopen from the token to meet the lost history there. */
	if (is_history_lost(err))
		return WATCH_READ_REOPEN;
	return WATCH_READ_FAULT;
}
