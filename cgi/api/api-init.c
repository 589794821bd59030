/*
 * ordercast-api --init: the indexes the API relies on, and sample data
 * for an empty database. Safe to run any number of times.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "oc-log.h"

#define SAMPLE_ORDERS	20

struct sample_user {
	const char	*name;
	const char	*email;
	const char	*role;
};

struct sample_product {
	const char	*sku;
	const char	*name;
	const char	*category;
	int64_t		 price;
	int64_t		 stock;
};

static const struct sample_user users[] = {
	{ "Alice Martin", "alice.martin@example.com", "customer" },
	{ "Bruno Costa", "bruno.costa@example.com", "customer" },
	{ "Chen Wei", "chen.wei@example.com", "customer" },
	{ "Dana Okafor", "dana.okafor@example.com", "customer" },
	{ "Elena Petrova", "elena.petrova@example.com", "customer" },
	{ "Farid Haddad", "farid.haddad@example.com", "customer" },
	{ "Grace Hopper", "admin@ordercast.example", "admin" },
};

static const struct sample_product products[] = {
	{ "KB-101", "Mechanical Keyboard", "peripherals", 8999, 40 },
	{ "MS-202", "Wireless Mouse", "peripherals", 2999, 120 },
	{ "MN-303", "27-inch 4K Monitor", "displays", 32999, 15 },
	{ "HD-404", "Noise-Cancelling Headphones", "audio", 19999, 25 },
	{ "SP-505", "Bluetooth Speaker", "audio", 5999, 60 },
	{ "CB-606", "USB-C Cable 2 m", "accessories", 1299, 300 },
	{ "DK-707", "USB-C Docking Station", "accessories", 14999, 8 },
	{ "WC-808", "1080p Webcam", "peripherals", 6999, 35 },
	{ "SS-909", "1 TB NVMe SSD", "storage", 9999, 50 },
	{ "LS-110", "Aluminium Laptop Stand", "accessories", 3999, 70 },
	{ "MP-111", "Desk Mat XL", "accessories", 1999, 90 },
	{ "CH-112", "Ergonomic Office Chair", "furniture", 24999, 6 },
};

#define NUSERS		(sizeof(users) / sizeof(users[0]))
#define NPRODUCTS	(sizeof(products) / sizeof(products[0]))
#define NCUSTOMERS	6

/* Final status of each sample order, and how far its history goes. */
static const char *const sample_path[] = { "pending", "processing",
    "shipped", "delivered" };

/* Create one index on coll with the given keys and options. */
static bool
create_index(mongoc_client_t *client, const char *db, const char *coll,
    const char *name, bson_t *keys, bool unique, bool sparse,
    bson_error_t *err)
{
	bson_t cmd = BSON_INITIALIZER, arr, idx;
	bool ok;

	BSON_APPEND_UTF8(&cmd, "createIndexes", coll);
	bson_append_array_begin(&cmd, "indexes", -1, &arr);
	bson_append_document_begin(&arr, "0", -1, &idx);
	BSON_APPEND_DOCUMENT(&idx, "key", keys);
	BSON_APPEND_UTF8(&idx, "name", name);
	if (unique)
		BSON_APPEND_BOOL(&idx, "unique", true);
	if (sparse)
		BSON_APPEND_BOOL(&idx, "sparse", true);
	bson_append_document_end(&arr, &idx);
	bson_append_array_end(&cmd, &arr);
	ok = mongoc_client_write_command_with_opts(client, db, &cmd, NULL,
	    NULL, err);
	bson_destroy(&cmd);
	bson_destroy(keys);
	return ok;
}

/*
 * Drop an index an older version made (idempotency keys were unique
 * across customers; now the claim per customer guards them). An index
 * that is not there is fine.
 */
static bool
drop_old_index(mongoc_client_t *client, const char *db, const char *coll,
    const char *name, bson_error_t *err)
{
	bson_t *cmd = BCON_NEW("dropIndexes", BCON_UTF8(coll), "index",
	    BCON_UTF8(name));
	bool ok;

	ok = mongoc_client_write_command_with_opts(client, db, cmd, NULL,
	    NULL, err);
	bson_destroy(cmd);
	/* 27 IndexNotFound, 26 NamespaceNotFound */
	if (!ok && (err->code == 27 || err->code == 26))
		ok = true;
	return ok;
}

/*
 * Every index of the data model; those of orders serve the common
 * filters and sorts of lists (docs/filters.md, "Indexes").
 */
static bool
create_indexes(mongoc_client_t *client, const char *db, bson_error_t *err)
{
	return create_index(client, db, "users", "email_1",
	    BCON_NEW("email", BCON_INT32(1)), true, false, err) &&
	    create_index(client, db, "products", "sku_1",
	    BCON_NEW("sku", BCON_INT32(1)), true, false, err) &&
	    create_index(client, db, "orders", "customerId_1__id_-1",
	    BCON_NEW("customerId", BCON_INT32(1), "_id", BCON_INT32(-1)),
	    false, false, err) &&
	    create_index(client, db, "orders", "status_1__id_-1",
	    BCON_NEW("status", BCON_INT32(1), "_id", BCON_INT32(-1)),
	    false, false, err) &&
	    create_index(client, db, "orders", "createdAt_1__id_1",
	    BCON_NEW("createdAt", BCON_INT32(1), "_id", BCON_INT32(1)),
	    false, false, err) &&
	    drop_old_index(client, db, "orders", "idempotencyKey_1", err) &&
	    create_index(client, db, "orders",
	    "customerId_1_idempotencyKey_1", BCON_NEW("customerId",
	    BCON_INT32(1), "idempotencyKey", BCON_INT32(1)), false, false,
	    err);
}

/* Does the collection hold at least one document? */
static bool
has_documents(mongoc_collection_t *c, bool *any, bson_error_t *err)
{
	bson_t filter = BSON_INITIALIZER;
	bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bool ok;

	cur = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
	*any = mongoc_cursor_next(cur, &doc);
	ok = !mongoc_cursor_error(cur, err);
	mongoc_cursor_destroy(cur);
	bson_destroy(opts);
	return ok;
}

/* Insert n documents, then destroy them. */
static bool
insert_all(mongoc_collection_t *c, bson_t **docs, size_t n,
    bson_error_t *err)
{
	bool ok;
	size_t i;

	ok = mongoc_collection_insert_many(c, (const bson_t **)docs, n, NULL,
	    NULL, err);
	for (i = 0; i < n; i++)
		bson_destroy(docs[i]);
	return ok;
}

/* One sample order: lines, total and a history leading to its status. */
static bson_t *
sample_order(size_t i, const bson_oid_t *uids, const bson_oid_t *pids,
    int64_t now)
{
	bson_t *doc = bson_new();
	bson_t arr, item, hist, h;
	bson_oid_t oid;
	int64_t created = now - (int64_t)(SAMPLE_ORDERS - i) * 150000;
	int64_t total = 0, at = created, qty;
	size_t nitems = 1 + i % 3, j, p, steps;
	bool cancelled = i % 9 == 4;
	char key[16];
	const char *k, *status;

	bson_oid_init(&oid, NULL);
	steps = cancelled ? 1 + i % 2 : 1 + (SAMPLE_ORDERS - i) % 4;
	if (steps > 4)
		steps = 4;
	status = cancelled ? "cancelled" : sample_path[steps - 1];
	BSON_APPEND_OID(doc, "_id", &oid);
	BSON_APPEND_OID(doc, "customerId", &uids[i % NCUSTOMERS]);
	bson_append_array_begin(doc, "items", -1, &arr);
	for (j = 0; j < nitems; j++) {
		p = (i * 5 + j * 7) % NPRODUCTS;
		qty = 1 + (int64_t)((i + j) % 3);
		bson_uint32_to_string((uint32_t)j, &k, key, sizeof(key));
		bson_append_document_begin(&arr, k, -1, &item);
		BSON_APPEND_OID(&item, "productId", &pids[p]);
		BSON_APPEND_UTF8(&item, "sku", products[p].sku);
		BSON_APPEND_UTF8(&item, "name", products[p].name);
		BSON_APPEND_INT64(&item, "qty", qty);
		BSON_APPEND_INT64(&item, "unitPriceCents", products[p].price);
		bson_append_document_end(&arr, &item);
		total += qty * products[p].price;
	}
	bson_append_array_end(doc, &arr);
	BSON_APPEND_INT64(doc, "totalCents", total);
	BSON_APPEND_UTF8(doc, "status", status);
	bson_append_array_begin(doc, "history", -1, &hist);
	for (j = 0; j < steps; j++) {
		bson_uint32_to_string((uint32_t)j, &k, key, sizeof(key));
		bson_append_document_begin(&hist, k, -1, &h);
		BSON_APPEND_UTF8(&h, "status", sample_path[j]);
		BSON_APPEND_DATE_TIME(&h, "at", at);
		bson_append_document_end(&hist, &h);
		at += 20000;
	}
	if (cancelled) {
		bson_uint32_to_string((uint32_t)j, &k, key, sizeof(key));
		bson_append_document_begin(&hist, k, -1, &h);
		BSON_APPEND_UTF8(&h, "status", "cancelled");
		BSON_APPEND_DATE_TIME(&h, "at", at);
		bson_append_document_end(&hist, &h);
		at += 20000;
	}
	bson_append_array_end(doc, &hist);
	BSON_APPEND_DATE_TIME(doc, "createdAt", created);
	BSON_APPEND_DATE_TIME(doc, "updatedAt", at - 20000);
	return doc;
}

/*
 * Users, products and orders for an empty database; every sample account
 * signs in with the password whose hash is pwhash.
 */
static bool
insert_samples(mongoc_client_t *client, const char *db, const char *pwhash,
    bson_error_t *err)
{
	mongoc_collection_t *cu = NULL, *cp = NULL, *co = NULL;
	bson_oid_t uids[NUSERS], pids[NPRODUCTS];
	bson_t *docs[SAMPLE_ORDERS];
	int64_t now = oc_wall_ms();
	size_t i;
	bool ok = false;

	cu = mongoc_client_get_collection(client, db, "users");
	cp = mongoc_client_get_collection(client, db, "products");
	co = mongoc_client_get_collection(client, db, "orders");
	for (i = 0; i < NUSERS; i++) {
		bson_oid_init(&uids[i], NULL);
		docs[i] = BCON_NEW("_id", BCON_OID(&uids[i]),
		    "name", BCON_UTF8(users[i].name),
		    "email", BCON_UTF8(users[i].email),
		    "role", BCON_UTF8(users[i].role),
		    "passwordHash", BCON_UTF8(pwhash),
		    "createdAt", BCON_DATE_TIME(now - 86400000));
	}
	if (!insert_all(cu, docs, NUSERS, err))
		goto done;
	for (i = 0; i < NPRODUCTS; i++) {
		bson_oid_init(&pids[i], NULL);
		docs[i] = BCON_NEW("_id", BCON_OID(&pids[i]),
		    "sku", BCON_UTF8(products[i].sku),
		    "name", BCON_UTF8(products[i].name),
		    "category", BCON_UTF8(products[i].category),
		    "priceCents", BCON_INT64(products[i].price),
		    "stock", BCON_INT64(products[i].stock),
		    "updatedAt", BCON_DATE_TIME(now - 3600000));
	}
	if (!insert_all(cp, docs, NPRODUCTS, err))
		goto done;
	for (i = 0; i < SAMPLE_ORDERS; i++)
		docs[i] = sample_order(i, uids, pids, now);
	if (!insert_all(co, docs, SAMPLE_ORDERS, err))
		goto done;
	ok = true;
done:
	mongoc_collection_destroy(cu);
	mongoc_collection_destroy(cp);
	mongoc_collection_destroy(co);
	return ok;
}

/*
 * Create the indexes and, when sample_password is given and there are no
 * users yet, the sample data (its accounts sign in with that password).
 * On return msg says what was done (true) or what failed (false).
 */
bool
api_init_database(const struct oc_config *cfg, const char *sample_password,
    char *msg, size_t msglen)
{
	char pwhash[OC_PWHASH_MAX];
	mongoc_uri_t *uri = NULL;
	mongoc_client_t *client = NULL;
	mongoc_collection_t *cu = NULL;
	bson_error_t err;
	int32_t t = (int32_t)cfg->timeout_ms;
	bool ok = false, any;

	uri = mongoc_uri_new_with_error(cfg->mongodb_uri, &err);
	if (uri == NULL) {
		snprintf(msg, msglen, "ORDERCAST_MONGODB_URI: %s",
		    err.message);
		goto done;
	}
	mongoc_uri_set_option_as_int32(uri,
	    MONGOC_URI_SERVERSELECTIONTIMEOUTMS, t);
	mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, t);
	mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, t);
	mongoc_uri_set_appname(uri, "ordercast-api");
	client = mongoc_client_new_from_uri_with_error(uri, &err);
	if (client == NULL) {
		snprintf(msg, msglen, "mongodb: %s", err.message);
		goto done;
	}
	mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
	if (!create_indexes(client, cfg->db, &err)) {
		snprintf(msg, msglen, "creating indexes: %s", err.message);
		goto done;
	}
	if (sample_password == NULL) {
		snprintf(msg, msglen, "indexes ready in %s", cfg->db);
		ok = true;
		goto done;
	}
	if (!oc_password_hash(sample_password, pwhash, sizeof(pwhash), msg,
	    msglen))
		goto done;
	cu = mongoc_client_get_collection(client, cfg->db, "users");
	if (!has_documents(cu, &any, &err)) {
		snprintf(msg, msglen, "reading users: %s", err.message);
		goto done;
	}
	if (any) {
		snprintf(msg, msglen, "indexes ready in %s; users exist, no "
		    "sample data added", cfg->db);
		ok = true;
		goto done;
	}
	if (!insert_samples(client, cfg->db, pwhash, &err)) {
		snprintf(msg, msglen, "inserting sample data: %s",
		    err.message);
		goto done;
	}
	snprintf(msg, msglen, "indexes ready in %s; sample data added "
	    "(%zu users, %zu products, %d orders)", cfg->db, NUSERS,
	    NPRODUCTS, SAMPLE_ORDERS);
	ok = true;
done:
	mongoc_collection_destroy(cu);
	mongoc_client_destroy(client);
	mongoc_uri_destroy(uri);
	return ok;
}
