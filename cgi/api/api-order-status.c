/*
 * Layer: the order status machine, a domain module. A move allowed by
 * lib/oc-model (docs/architecture.md, "Data model"), made conditional on
 * the status read, so two concurrent moves cannot both win, with write
 * concern majority; a cancellation and its stock back are one
 * transaction.
 * Calls api-stock.c, api-db.c, api-cache.c, api-reply.c and lib/.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "oc-json.h"
#include "oc-log.h"
#include "oc-model.h"

/* Current status of an order; false when it has none. */
static bool
doc_status(const bson_t *doc, char *buf, size_t len)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, doc, "status") ||
	    !BSON_ITER_HOLDS_UTF8(&it))
		return false;
	snprintf(buf, len, "%s", bson_iter_utf8(&it, NULL));
	return true;
}

/* What the status move works on, in a transaction or not. */
struct move {
	const bson_t	*sel;		/* the order in the status read */
	const bson_t	*upd;
	bool		 cancel;	/* stock goes back too */
	bool		 changed;	/* the order left that status */
	bson_t		 order;		/* as moved, when not changed */
	bool		 have_order;
	bson_oid_t	 ids[API_ORDER_MAX_ITEMS];
	size_t		 nids;
};

/*
 * The move itself: the conditional update of the order, and for a
 * cancellation the stock of its items back, with opts (a transaction's
 * session, or write concern majority). False with err, and the failed
 * write's reply in *reply when reply is given.
 */
static bool
move_write(struct api_req *req, struct move *m, const bson_t *opts,
    bson_t **reply, bson_error_t *err)
{
	mongoc_collection_t *orders, *products = NULL;
	mongoc_find_and_modify_opts_t *fam;
	bson_t r = BSON_INITIALIZER;
	bson_iter_t it;
	const uint8_t *data;
	uint32_t len;
	bson_t value;
	bool ok = false;

	if (m->have_order)
		bson_destroy(&m->order);
	m->have_order = false;
	m->changed = false;
	orders = mongoc_client_get_collection(req->client,
	    req->server->cfg.db, "orders");
	fam = mongoc_find_and_modify_opts_new();
	mongoc_find_and_modify_opts_set_update(fam, m->upd);
	mongoc_find_and_modify_opts_set_flags(fam,
	    MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	mongoc_find_and_modify_opts_append(fam, opts);
	if (!mongoc_collection_find_and_modify_with_opts(orders, m->sel, fam,
	    &r, err)) {
		api_txn_failed(reply, &r);
		goto done;
	}
	if (!bson_iter_init_find(&it, &r, "value") ||
	    !BSON_ITER_HOLDS_DOCUMENT(&it)) {
		m->changed = true;
		ok = true;
		goto done;
	}
	bson_iter_document(&it, &len, &data);
	if (!bson_init_static(&value, data, len)) {
		bson_set_error(err, 0, 0, "bad reply");
		goto done;
	}
	bson_copy_to(&value, &m->order);
	m->have_order = true;
	if (m->cancel) {
		bson_destroy(&r);
		products = mongoc_client_get_collection(req->client,
		    req->server->cfg.db, "products");
		if (!api_stock_return_order(products, &m->order, opts, m->ids,
		    &m->nids, &r, err)) {
			api_txn_failed(reply, &r);
			goto done;
		}
	}
	ok = true;
done:
	bson_destroy(&r);
	mongoc_find_and_modify_opts_destroy(fam);
	mongoc_collection_destroy(orders);
	mongoc_collection_destroy(products);
	return ok;
}

/* A cancellation: the move and the stock back, one transaction. */
static bool
cancel_body(struct api_txn *t, bson_t **reply, bson_error_t *err)
{
	bson_t *opts = api_txn_opts(t, NULL, err);
	bool ok;

	if (opts == NULL)
		return false;
	ok = move_write(t->req, t->arg, opts, reply, err);
	bson_destroy(opts);
	return ok;
}

/*
 * Move an order to status `to`, conditionally on the status it had
 * when read, so two concurrent moves cannot both win, with write
 * concern majority. With `from` set, the order must be in that status.
 * Cancelling returns the stock in the same transaction. Returns the
 * updated order, or false after answering.
 */
bool
api_order_move(struct api_req *req, const bson_oid_t *id, const char *from,
    const char *to, json_object **out)
{
	mongoc_collection_t *orders = NULL;
	mongoc_cursor_t *cur = NULL;
	bson_t *sel = NULL, *upd = NULL, *filter = NULL, *wc = NULL;
	const bson_t *doc;
	bson_error_t err;
	struct move m;
	char cur_status[32];
	int64_t now;
	bool ok = false, found, done_write;

	*out = NULL;
	memset(&m, 0, sizeof(m));
	m.cancel = strcmp(to, OC_STATUS_CANCELLED) == 0;
	if (m.cancel && !api_cache_invalidate(req, NULL, 0)) {
		api_unavailable(req, "Redis");
		goto done;
	}
	orders = api_collection(req, "orders");
	if (orders == NULL)
		goto done;
	filter = BCON_NEW("_id", BCON_OID(id));
	cur = mongoc_collection_find_with_opts(orders, filter, NULL, NULL);
	found = mongoc_cursor_next(cur, &doc) &&
	    doc_status(doc, cur_status, sizeof(cur_status));
	if (mongoc_cursor_error(cur, &err)) {
		api_mongo_error(req, &err, "order");
		goto done;
	}
	if (!found) {
		api_error(req, 404, "not_found", "no such order");
		goto done;
	}
	if ((from != NULL && strcmp(from, cur_status) != 0) ||
	    !oc_status_move_allowed(cur_status, to)) {
		api_error(req, 409, "invalid_transition", "cannot move an "
		    "order from %s to %s", cur_status, to);
		goto done;
	}
	now = oc_wall_ms();
	sel = BCON_NEW("_id", BCON_OID(id), "status", BCON_UTF8(cur_status));
	upd = BCON_NEW("$set", "{", "status", BCON_UTF8(to), "updatedAt",
	    BCON_DATE_TIME(now), "}", "$push", "{", "history", "{",
	    "status", BCON_UTF8(to), "at", BCON_DATE_TIME(now),
	    "by", BCON_UTF8(req->caller.user_id), "}", "}");
	m.sel = sel;
	m.upd = upd;
	if (m.cancel) {
		done_write = api_txn_run(req, cancel_body, &m, &err);
	} else {
		wc = api_majority_opts(req);
		done_write = move_write(req, &m, wc, NULL, &err);
	}
	if (!done_write) {
		if (req->status == 0)
			api_mongo_error(req, &err, "status move");
		goto done;
	}
	if (m.changed || !m.have_order) {
		api_error(req, 409, "invalid_transition", "the order changed "
		    "while moving it from %s to %s", cur_status, to);
		goto done;
	}
	if (m.cancel && !api_cache_invalidate(req, m.ids, m.nids))
		log_warnx("cancel: cache not cleared after the write");
	*out = oc_bson_to_json(&m.order);
	ok = true;
done:
	if (m.have_order)
		bson_destroy(&m.order);
	bson_destroy(sel);
	bson_destroy(upd);
	bson_destroy(filter);
	bson_destroy(wc);
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(orders);
	return ok;
}
