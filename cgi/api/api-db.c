/*
 * Layer: the database as the handlers see it. Collections of our
 * database, how a failed operation is answered, and the generic queries
 * that return documents as the API shows them.
 * Calls api-deps.c, api-reply.c and lib/.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "oc-json.h"
#include "oc-log.h"

/* MongoDB's WriteConflict, the error of a transaction that conflicted. */
#define API_WRITE_CONFLICT	112

/* A collection of our database; caller destroys it. NULL after 503. */
mongoc_collection_t *
api_collection(struct api_req *req, const char *name)
{
	mongoc_client_t *c = api_mongo(req);

	if (c == NULL)
		return NULL;
	return mongoc_client_get_collection(c, req->server->cfg.db, name);
}

/* Errors that say the server cannot be reached or cannot serve now. */
static bool
is_unavailable(const bson_error_t *err)
{
	static const uint32_t codes[] = { 6, 7, 89, 91, 189, 9001, 10107,
	    11600, 11602, 13435, 13436 };
	size_t i;

	if (err->domain == MONGOC_ERROR_SERVER_SELECTION ||
	    err->domain == MONGOC_ERROR_STREAM)
		return true;
	if (err->domain == MONGOC_ERROR_SERVER ||
	    err->domain == MONGOC_ERROR_WRITE_CONCERN) {
		for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
			if (err->code == codes[i])
				return true;
	}
	return false;
}

/* A unique index refused the write (E11000). */
bool
api_is_dup_key(const bson_error_t *err)
{
	return err->code == 11000 || err->code == 11001;
}

/*
 * Answer a failed MongoDB operation: 503 when the server is out of
 * reach (and tell the breaker), or when a transaction still conflicted
 * at the deadline (documents locked by another transaction, such as
 * one of a killed process, which the server ends in time: the server
 * is up, so the breaker is not told); 500 otherwise. Returns false.
 */
bool
api_mongo_error(struct api_req *req, const bson_error_t *err,
    const char *what)
{
	if (err->domain == MONGOC_ERROR_SERVER &&
	    err->code == API_WRITE_CONFLICT) {
		log_warnx("%s: %s", what, err->message);
		api_unavailable(req, "MongoDB");
		return false;
	}
	if (is_unavailable(err)) {
		log_warnx("%s: %s", what, err->message);
		req->mongo_down = true;
		api_unavailable(req, "MongoDB");
		return false;
	}
	log_warnx("%s: %s (domain %u code %u)", what, err->message,
	    err->domain, err->code);
	return api_error(req, 500, "internal", "database error");
}

/*
 * Run a find on coll and collect the documents as the API shows them.
 * Returns false after answering 503/500.
 */
bool
api_find_json(struct api_req *req, const char *coll, const bson_t *filter,
    const bson_t *opts, json_object **out)
{
	mongoc_collection_t *c = NULL;
	mongoc_cursor_t *cur = NULL;
	const bson_t *doc;
	bson_error_t err;
	json_object *arr = json_object_new_array();
	bool ok = false;

	*out = NULL;
	c = api_collection(req, coll);
	if (c == NULL)
		goto done;
	cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
	while (mongoc_cursor_next(cur, &doc))
		json_object_array_add(arr, oc_bson_to_json(doc));
	if (mongoc_cursor_error(cur, &err)) {
		api_mongo_error(req, &err, coll);
		goto done;
	}
	*out = arr;
	arr = NULL;
	ok = true;
done:
	json_object_put(arr);
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(c);
	return ok;
}

/*
 * One document by _id as JSON in *out, or *out NULL when there is none.
 * Returns false after answering 503/500.
 */
bool
api_find_by_id(struct api_req *req, const char *coll, const bson_oid_t *id,
    json_object **out)
{
	json_object *arr = NULL;
	bson_t *filter = BCON_NEW("_id", BCON_OID(id));
	bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
	bool ok;

	*out = NULL;
	ok = api_find_json(req, coll, filter, opts, &arr);
	if (ok && json_object_array_length(arr) > 0)
		*out = json_object_get(json_object_array_get_idx(arr, 0));
	json_object_put(arr);
	bson_destroy(filter);
	bson_destroy(opts);
	return ok;
}

/* Everything api_txn_run() needs between the driver's calls of body. */
struct txn_run {
	struct api_txn	*txn;
	api_txn_body	 body;
};

/*
 * One attempt of a transaction body. A later attempt (after a write
 * conflict or a lost commit) first waits a few random milliseconds, so
 * that racing requests do not retry in lockstep; past the request's
 * deadline it gives up: with the last attempt's error when that said
 * MongoDB is out of reach (the caller opens the breaker), otherwise with
 * a WriteConflict (503, the breaker left closed).
 */
static bool
txn_attempt(mongoc_client_session_t *session, void *arg, bson_t **reply,
    bson_error_t *err)
{
	struct txn_run *run = arg;
	struct api_txn *t = run->txn;
	struct timespec ts;
	long ms;

	t->session = session;
	if (t->attempts > 0) {
		if (oc_mono_ms() > t->deadline) {
			if (is_unavailable(&t->last))
				*err = t->last;
			else
				bson_set_error(err, MONGOC_ERROR_SERVER,
				    API_WRITE_CONFLICT, "transaction still "
				    "conflicting at the deadline");
			t->attempts++;
			return false;
		}
		ms = 1 + (long)(oc_mono_us() % (unsigned)(5 * t->attempts));
		ts.tv_sec = 0;
		ts.tv_nsec = (ms > 50 ? 50 : ms) * 1000000L;
		nanosleep(&ts, NULL);
	}
	t->attempts++;
	if (run->body(t, reply, err)) {
		memset(&t->last, 0, sizeof(t->last));
		return true;
	}
	t->last = *err;
	return false;
}

/* Run body as one transaction, write concern majority; see api.h. */
bool
api_txn_run(struct api_req *req, api_txn_body body, void *arg,
    bson_error_t *err)
{
	struct api_txn t;
	struct txn_run run;
	mongoc_client_t *client = api_mongo(req);
	mongoc_client_session_t *session = NULL;
	mongoc_transaction_opt_t *topts = NULL;
	mongoc_write_concern_t *wc = NULL;
	bool ok = false;

	memset(&t, 0, sizeof(t));
	memset(err, 0, sizeof(*err));
	if (client == NULL)
		return false;
	t.req = req;
	t.arg = arg;
	t.deadline = oc_mono_ms() + req->server->cfg.timeout_ms;
	run.txn = &t;
	run.body = body;
	session = mongoc_client_start_session(client, NULL, err);
	if (session == NULL) {
		api_mongo_error(req, err, "start session");
		goto done;
	}
	wc = mongoc_write_concern_new();
	mongoc_write_concern_set_wmajority(wc,
	    (int32_t)req->server->cfg.timeout_ms);
	topts = mongoc_transaction_opts_new();
	mongoc_transaction_opts_set_write_concern(topts, wc);
	ok = mongoc_client_session_with_transaction(session, txn_attempt,
	    topts, &run, NULL, err);
done:
	mongoc_transaction_opts_destroy(topts);
	mongoc_write_concern_destroy(wc);
	mongoc_client_session_destroy(session);
	return ok;
}

/*
 * Options of a write inside the transaction t (its session), plus what
 * base holds. Caller destroys. NULL with err when the session cannot
 * be named.
 */
bson_t *
api_txn_opts(struct api_txn *t, const bson_t *base, bson_error_t *err)
{
	bson_t *opts = base != NULL ? bson_copy(base) : bson_new();

	if (!mongoc_client_session_append(t->session, opts, err)) {
		bson_destroy(opts);
		return NULL;
	}
	return opts;
}

/*
 * Hand the reply of a failed write to the driver, which reads its
 * error labels to decide whether to retry. Returns false.
 */
bool
api_txn_failed(bson_t **reply, const bson_t *r)
{
	if (reply != NULL && r != NULL)
		*reply = bson_copy(r);
	return false;
}

/* The options of a write outside transactions: write concern majority. */
bson_t *
api_majority_opts(struct api_req *req)
{
	return BCON_NEW("writeConcern", "{", "w", BCON_UTF8("majority"),
	    "wtimeout", BCON_INT64(req->server->cfg.timeout_ms), "}");
}
