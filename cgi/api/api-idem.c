/*
 * Layer: idempotency claims, a domain module. A POST /api/orders with an
 * Idempotency-Key first claims the key (the unique _id of a document in
 * the idempotency collection); a retry finds the order made under it, or
 * waits for the claim's owner, or takes over a claim left by a request
 * that died.
 * Calls api-db.c, api-reply.c and lib/.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "oc-xmalloc.h"

#define MAX_KEY_LEN	128
/* A claim older than this without an order belongs to a dead request. */
#define STALE_CLAIM_MS	30000

/* Is the header a usable Idempotency-Key? */
bool
api_idem_key_valid(const char *k)
{
	size_t n = strlen(k), i;

	if (n == 0 || n > MAX_KEY_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (k[i] <= ' ' || k[i] > '~')
			return false;
	return true;
}

/* Sleep for ms milliseconds (polling for another request's result). */
static void
nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Claim a customer's idempotency key by inserting it into the
 * idempotency collection (its _id, "<customerId>:<key>", is unique: the
 * same key from another customer is another key). Returns 1 when this
 * request owns the key, 0 when an order of this customer with the key
 * exists (in *existing), -1 after answering an error.
 */
int
api_idem_claim(struct api_req *req, const bson_oid_t *customer,
    const char *key, json_object **existing)
{
	mongoc_collection_t *claims = NULL;
	json_object *arr = NULL;
	bson_t *claim = NULL, *byk = NULL, *opts = NULL, *stale = NULL;
	bson_error_t err;
	int64_t deadline = oc_mono_ms() + req->server->cfg.timeout_ms;
	char hex[25], *id = NULL;
	int rc = -1;

	bson_oid_to_string(customer, hex);
	id = xasprintf("%s:%s", hex, key);
	claims = api_collection(req, "idempotency");
	if (claims == NULL)
		goto done;
	byk = BCON_NEW("customerId", BCON_OID(customer), "idempotencyKey",
	    BCON_UTF8(key));
	opts = BCON_NEW("limit", BCON_INT64(1));
	for (;;) {
		bson_destroy(claim);
		claim = BCON_NEW("_id", BCON_UTF8(id), "state",
		    BCON_UTF8("pending"), "at", BCON_DATE_TIME(oc_wall_ms()));
		if (mongoc_collection_insert_one(claims, claim, NULL, NULL,
		    &err)) {
			rc = 1;
			goto done;
		}
		if (!api_is_dup_key(&err)) {
			api_mongo_error(req, &err, "idempotency claim");
			goto done;
		}
		json_object_put(arr);
		arr = NULL;
		if (!api_find_json(req, "orders", byk, opts, &arr))
			goto done;
		if (json_object_array_length(arr) > 0) {
			*existing = json_object_get(
			    json_object_array_get_idx(arr, 0));
			rc = 0;
			goto done;
		}
		/* The owner may have died: take over an old claim. */
		bson_destroy(stale);
		stale = BCON_NEW("_id", BCON_UTF8(id), "at", "{", "$lt",
		    BCON_DATE_TIME(oc_wall_ms() - STALE_CLAIM_MS), "}");
		mongoc_collection_delete_one(claims, stale, NULL, NULL, NULL);
		if (oc_mono_ms() > deadline) {
			api_error(req, 409, "in_progress", "a request with "
			    "this Idempotency-Key is still in progress");
			goto done;
		}
		nap(10);
	}
done:
	free(id);
	json_object_put(arr);
	bson_destroy(claim);
	bson_destroy(byk);
	bson_destroy(opts);
	bson_destroy(stale);
	mongoc_collection_destroy(claims);
	return rc;
}

/* Let a later retry run again after this request failed. */
void
api_idem_release(struct api_req *req, const bson_oid_t *customer,
    const char *key)
{
	mongoc_collection_t *claims;
	bson_t *sel;
	char hex[25], *id;

	if (req->client == NULL)
		return;
	bson_oid_to_string(customer, hex);
	id = xasprintf("%s:%s", hex, key);
	claims = mongoc_client_get_collection(req->client,
	    req->server->cfg.db, "idempotency");
	sel = BCON_NEW("_id", BCON_UTF8(id));
	mongoc_collection_delete_one(claims, sel, NULL, NULL, NULL);
	free(id);
	bson_destroy(sel);
	mongoc_collection_destroy(claims);
}
