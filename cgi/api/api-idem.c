/*
 * Layer: idempotency claims, a domain module. A POST /api/orders with an
 * Idempotency-Key claims the key (the unique _id of a document in the
 * idempotency collection) in the transaction that makes the order, so
 * a claim and its order exist together or not at all; a retry finds the
 * order made under it. A claim without an order (left by an older
 * version) is waited for, or taken over once the database's clock says
 * it is stale.
 * Calls api-db.c, api-reply.c and lib/.
 */
#include "config.h"

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
 * The _id of a customer's claim of a key, "<customerId>:<key>": the same
 * key from another customer is another key. Caller frees.
 */
char *
api_idem_claim_id(const bson_oid_t *customer, const char *key)
{
	char hex[25];

	bson_oid_to_string(customer, hex);
	return xasprintf("%s:%s", hex, key);
}

/*
 * The order a customer made under key. Returns 1 when there is none, 0
 * with the order in *existing, -1 after answering an error.
 */
int
api_idem_find(struct api_req *req, const bson_oid_t *customer,
    const char *key, json_object **existing)
{
	json_object *arr = NULL;
	bson_t *byk, *opts;
	int rc = -1;

	byk = BCON_NEW("customerId", BCON_OID(customer), "idempotencyKey",
	    BCON_UTF8(key));
	opts = BCON_NEW("limit", BCON_INT64(1));
	if (!api_find_json(req, "orders", byk, opts, &arr))
		goto done;
	rc = 1;
	if (json_object_array_length(arr) > 0) {
		*existing = json_object_get(json_object_array_get_idx(arr, 0));
		rc = 0;
	}
done:
	json_object_put(arr);
	bson_destroy(byk);
	bson_destroy(opts);
	return rc;
}

/*
 * Claim a key inside the order's transaction t: insert the claim (a
 * second one is E11000, or a write conflict while the first is not
 * committed) naming the order, dated by the database's clock. False
 * with err and the failed write's reply in *reply.
 */
bool
api_idem_claim(struct api_txn *t, const char *claim_id,
    const bson_oid_t *order, bson_t **reply, bson_error_t *err)
{
	struct api_req *req = t->req;
	mongoc_collection_t *claims;
	bson_t *doc, *sel, *upd, *opts;
	bson_t r;
	bool ok = false;

	claims = mongoc_client_get_collection(req->client,
	    req->server->cfg.db, "idempotency");
	doc = BCON_NEW("_id", BCON_UTF8(claim_id), "orderId",
	    BCON_OID(order));
	sel = BCON_NEW("_id", BCON_UTF8(claim_id));
	upd = BCON_NEW("$currentDate", "{", "at", BCON_BOOL(true), "}");
	opts = api_txn_opts(t, NULL, err);
	if (opts == NULL)
		goto done;
	if (!mongoc_collection_insert_one(claims, doc, opts, &r, err)) {
		api_txn_failed(reply, &r);
		bson_destroy(&r);
		goto done;
	}
	bson_destroy(&r);
	if (!mongoc_collection_update_one(claims, sel, upd, opts, &r, err)) {
		api_txn_failed(reply, &r);
		bson_destroy(&r);
		goto done;
	}
	bson_destroy(&r);
	ok = true;
done:
	bson_destroy(doc);
	bson_destroy(sel);
	bson_destroy(upd);
	bson_destroy(opts);
	mongoc_collection_destroy(claims);
	return ok;
}

/* A date field of a document in ms, or -1. */
static int64_t
doc_date(const bson_t *doc, const char *field)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, field) &&
	    BSON_ITER_HOLDS_DATE_TIME(&it))
		return bson_iter_date_time(&it);
	return -1;
}

/*
 * A claim exists but no order under it: a claim left by a version that
 * claimed outside the order's transaction, whose request may have died.
 * Its age is judged by the database's clock alone (the claim is stamped
 * "seen" with $currentDate and compared with its "at"), so a host whose
 * clock is ahead does not take over a live claim. Returns 1 when the
 * claim is gone (taken over, or never there): try again; 0 when it is
 * young (wait a little and look again); -1 after answering an error.
 */
int
api_idem_wait(struct api_req *req, const char *claim_id, int64_t deadline)
{
	mongoc_collection_t *claims = NULL;
	mongoc_find_and_modify_opts_t *fam = NULL;
	bson_t *sel = NULL, *upd = NULL, *stale = NULL;
	bson_t reply = BSON_INITIALIZER, value;
	bson_error_t err;
	bson_iter_t it;
	const uint8_t *data;
	uint32_t len;
	int64_t at, seen;
	int rc = -1;

	claims = api_collection(req, "idempotency");
	if (claims == NULL)
		goto done;
	sel = BCON_NEW("_id", BCON_UTF8(claim_id));
	upd = BCON_NEW("$currentDate", "{", "seen", BCON_BOOL(true), "}");
	fam = mongoc_find_and_modify_opts_new();
	mongoc_find_and_modify_opts_set_update(fam, upd);
	mongoc_find_and_modify_opts_set_flags(fam,
	    MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	if (!mongoc_collection_find_and_modify_with_opts(claims, sel, fam,
	    &reply, &err)) {
		api_mongo_error(req, &err, "idempotency claim");
		goto done;
	}
	if (!bson_iter_init_find(&it, &reply, "value") ||
	    !BSON_ITER_HOLDS_DOCUMENT(&it)) {
		rc = 1;
		goto done;
	}
	bson_iter_document(&it, &len, &data);
	if (!bson_init_static(&value, data, len)) {
		api_error(req, 500, "internal", "bad reply");
		goto done;
	}
	at = doc_date(&value, "at");
	seen = doc_date(&value, "seen");
	if (at < 0 || seen - at > STALE_CLAIM_MS) {
		/* The owner died: take over, unless it was renewed since. */
		stale = at < 0 ? BCON_NEW("_id", BCON_UTF8(claim_id), "at",
		    "{", "$exists", BCON_BOOL(false), "}") :
		    BCON_NEW("_id", BCON_UTF8(claim_id), "at",
		    BCON_DATE_TIME(at));
		if (!mongoc_collection_delete_one(claims, stale, NULL, NULL,
		    &err)) {
			api_mongo_error(req, &err, "idempotency claim");
			goto done;
		}
		rc = 1;
		goto done;
	}
	if (oc_mono_ms() > deadline) {
		api_error(req, 409, "in_progress", "a request with "
		    "this Idempotency-Key is still in progress");
		goto done;
	}
	nap(10);
	rc = 0;
done:
	bson_destroy(&reply);
	bson_destroy(sel);
	bson_destroy(upd);
	bson_destroy(stale);
	mongoc_find_and_modify_opts_destroy(fam);
	mongoc_collection_destroy(claims);
	return rc;
}
