/*
 * Layer: the database as the handlers see it. Collections of our
 * database, how a failed operation is answered, and the generic queries
 * that return documents as the API shows them.
 * Calls api-deps.c, api-reply.c and lib/.
 */
#include "config.h"

#include <stdio.h>

#include "api.h"
#include "oc-json.h"
#include "oc-log.h"

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
 * reach (and tell the breaker), 500 otherwise. Returns false.
 */
bool
api_mongo_error(struct api_req *req, const bson_error_t *err,
    const char *what)
{
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
