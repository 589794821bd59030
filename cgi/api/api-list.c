/*
 * Layer: filtered, sorted and paged lists, and counts (docs/filters.md,
 * "Lists: sorting, paging and counts"). A handler gives its collection
 * and the caller's scope; this file adds ?where= compiled by lib/oc-filter, ?sort= with the id as the
 * last tie break, and keyset paging by an opaque cursor (?next=) that
 * holds the sort values of the last row and a hash of the query.
 * Calls api-db.c, api-req.c, api-reply.c and lib/.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api.h"
#include "oc-filter.h"
#include "oc-json.h"
#include "oc-xmalloc.h"

/* Keys a sort may name before the id that ends it. */
#define SORT_MAX	4
/* Longest cursor text we decode, and the BSON it may hold. */
#define CURSOR_TEXT_MAX	4096
#define CURSOR_BIN_MAX	3072
/* Bytes of the hash of the query a cursor belongs to. */
#define CURSOR_HASH	16

/* What a sort key's values are; a cursor's values must be of it. */
enum sort_type {
	SORT_STRING,
	SORT_NUMBER,
	SORT_DATE,
	SORT_OID
};

/* A field a list may be sorted by: its API name and stored name. */
struct sort_field {
	const char	*name;
	const char	*path;
	enum sort_type	 type;
};

static const struct sort_field order_fields[] = {
	{ "id", "_id", SORT_OID },
	{ "customerId", "customerId", SORT_OID },
	{ "status", "status", SORT_STRING },
	{ "totalCents", "totalCents", SORT_NUMBER },
	{ "createdAt", "createdAt", SORT_DATE },
	{ "updatedAt", "updatedAt", SORT_DATE },
	{ NULL, NULL, SORT_STRING }
};

static const struct sort_field product_fields[] = {
	{ "id", "_id", SORT_OID },
	{ "sku", "sku", SORT_STRING },
	{ "name", "name", SORT_STRING },
	{ "category", "category", SORT_STRING },
	{ "priceCents", "priceCents", SORT_NUMBER },
	{ "stock", "stock", SORT_NUMBER },
	{ "updatedAt", "updatedAt", SORT_DATE },
	{ NULL, NULL, SORT_STRING }
};

static const struct sort_field user_fields[] = {
	{ "id", "_id", SORT_OID },
	{ "name", "name", SORT_STRING },
	{ "email", "email", SORT_STRING },
	{ "role", "role", SORT_STRING },
	{ "createdAt", "createdAt", SORT_DATE },
	{ NULL, NULL, SORT_STRING }
};

/* One key of a sort: ascending (1) or descending (-1). */
struct sort_key {
	const struct sort_field	*field;
	int			 dir;
};

/* A parsed ?sort=, the id last, and its normalised text. */
struct sort_spec {
	struct sort_key	 keys[SORT_MAX + 1];
	size_t		 nkeys;
	char		 text[256];
};

/* The sortable fields of a list. */
static const struct sort_field *
sort_fields(enum oc_filter_target target)
{
	switch (target) {
	case OC_FILTER_PRODUCTS:
		return product_fields;
	case OC_FILTER_USERS:
		return user_fields;
	case OC_FILTER_ORDERS:
	case OC_FILTER_EVENTS:
	default:
		return order_fields;
	}
}

/* The filter visibility flags of the caller's role. */
static unsigned
role_sees(const struct api_req *req)
{
	switch (req->caller.role) {
	case API_ROLE_ADMIN:
		return OC_FILTER_SEE_ALL;
	case API_ROLE_CUSTOMER:
		return OC_FILTER_SEE_ORDERS | OC_FILTER_SEE_PRODUCTS;
	case API_ROLE_ANON:
	default:
		return OC_FILTER_SEE_PRODUCTS;
	}
}

/* 400 for ?sort= naming what may be sorted by. Returns false. */
static bool
sort_error(struct api_req *req, const struct sort_field *fields,
    const char *why, size_t len, const char *item)
{
	char names[160] = "";
	size_t i, n = 0;

	for (i = 0; fields[i].name != NULL && n < sizeof(names); i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
		    i > 0 ? ", " : "", fields[i].name);
	return api_error_field(req, 400, "invalid_field", "sort",
	    "sort: %s '%.*s'; sort by %s, each once, with '-' for "
	    "descending, at most %d keys before id", why, (int)len, item,
	    names, SORT_MAX);
}

/*
 * Parse text ("-totalCents,createdAt") into spec against fields; the id
 * is added as the last key, in the direction of the key before it.
 * Returns false after answering 400.
 */
static bool
sort_parse(struct api_req *req, const struct sort_field *fields,
    const char *text, struct sort_spec *spec)
{
	const char *p = text, *end, *name;
	size_t len, i, j, n = 0;
	int dir;

	memset(spec, 0, sizeof(*spec));
	for (;;) {
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		name = p;
		dir = 1;
		if (len > 0 && *name == '-') {
			dir = -1;
			name++;
			len--;
		}
		for (i = 0; fields[i].name != NULL; i++)
			if (strlen(fields[i].name) == len &&
			    strncmp(fields[i].name, name, len) == 0)
				break;
		if (fields[i].name == NULL)
			return sort_error(req, fields, "unknown key", len,
			    name);
		for (j = 0; j < spec->nkeys; j++)
			if (spec->keys[j].field == &fields[i])
				return sort_error(req, fields, "repeated key",
				    len, name);
		if (spec->nkeys > 0 && strcmp(spec->keys[spec->nkeys -
		    1].field->name, "id") == 0)
			return sort_error(req, fields, "key after id", len,
			    name);
		if (spec->nkeys == SORT_MAX && strcmp(fields[i].name,
		    "id") != 0)
			return sort_error(req, fields, "one key too many",
			    len, name);
		spec->keys[spec->nkeys].field = &fields[i];
		spec->keys[spec->nkeys].dir = dir;
		spec->nkeys++;
		if (end == NULL)
			break;
		p = end + 1;
	}
	if (strcmp(spec->keys[spec->nkeys - 1].field->name, "id") != 0) {
		spec->keys[spec->nkeys].field = &fields[0];
		spec->keys[spec->nkeys].dir = spec->keys[spec->nkeys - 1].dir;
		spec->nkeys++;
	}
	for (i = 0; i < spec->nkeys; i++)
		n += (size_t)snprintf(spec->text + n, sizeof(spec->text) - n,
		    "%s%s%s", i > 0 ? "," : "",
		    spec->keys[i].dir < 0 ? "-" : "",
		    spec->keys[i].field->name);
	return true;
}

/* The sort as find options: {"sort": {path: dir, ...}}. */
static void
sort_append(const struct sort_spec *spec, bson_t *opts)
{
	bson_t sort;
	size_t i;

	bson_append_document_begin(opts, "sort", -1, &sort);
	for (i = 0; i < spec->nkeys; i++)
		BSON_APPEND_INT32(&sort, spec->keys[i].field->path,
		    spec->keys[i].dir);
	bson_append_document_end(opts, &sort);
}

/*
 * Parse ?where= for the list, as the caller's role may see it. *out is
 * NULL when there is no filter (absent or empty). Returns false after
 * answering 400 bad_filter with the position of the error.
 */
static bool
where_parse(struct api_req *req, enum oc_filter_target target,
    struct oc_filter **out)
{
	struct oc_filter_error err;
	char *text = NULL;
	bool ok = true;

	*out = NULL;
	if (!api_query(req, "where", &text) || text[0] == '\0')
		goto done;
	*out = oc_filter_parse(text, strlen(text), target, role_sees(req),
	    &err);
	if (*out == NULL)
		ok = api_filter_error(req, err.position, err.message);
done:
	free(text);
	return ok;
}

/*
 * The hash a cursor carries: of the list, the normalised filter, the
 * sort and the scope, so that a cursor is refused by any other query.
 */
static void
query_hash(const struct api_list_spec *list, const struct oc_filter *f,
    const struct sort_spec *sort, const bson_t *scope,
    unsigned char out[CURSOR_HASH])
{
	crypto_generichash_state st;
	const char *where = f != NULL ? oc_filter_text(f) : "";

	crypto_generichash_init(&st, NULL, 0, CURSOR_HASH);
	crypto_generichash_update(&st, (const unsigned char *)list->collection,
	    strlen(list->collection) + 1);
	crypto_generichash_update(&st, (const unsigned char *)where,
	    strlen(where) + 1);
	crypto_generichash_update(&st, (const unsigned char *)sort->text,
	    strlen(sort->text) + 1);
	crypto_generichash_update(&st, bson_get_data(scope), scope->len);
	crypto_generichash_final(&st, out, CURSOR_HASH);
}

/* Does a cursor value fit its key: null, or of the key's type? */
static bool
value_fits(const bson_value_t *v, enum sort_type type)
{
	switch (v->value_type) {
	case BSON_TYPE_NULL:
		return type != SORT_OID;
	case BSON_TYPE_UTF8:
		return type == SORT_STRING;
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
	case BSON_TYPE_DOUBLE:
		return type == SORT_NUMBER;
	case BSON_TYPE_DATE_TIME:
		return type == SORT_DATE;
	case BSON_TYPE_OID:
		return type == SORT_OID;
	default:
		return false;
	}
}

/*
 * The cursor after doc: {"h": hash, "v": [value of each key]} as
 * unpadded base64url. A missing value is null. Caller frees.
 */
static char *
cursor_encode(const struct sort_spec *sort, const bson_t *doc,
    const unsigned char hash[CURSOR_HASH])
{
	bson_t cur = BSON_INITIALIZER, arr;
	bson_iter_t it;
	const char *k;
	char key[16], *text;
	size_t i, tlen;

	BSON_APPEND_BINARY(&cur, "h", BSON_SUBTYPE_BINARY, hash, CURSOR_HASH);
	bson_append_array_begin(&cur, "v", -1, &arr);
	for (i = 0; i < sort->nkeys; i++) {
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		if (bson_iter_init_find(&it, doc, sort->keys[i].field->path) &&
		    value_fits(bson_iter_value(&it), sort->keys[i].field->type))
			bson_append_value(&arr, k, -1, bson_iter_value(&it));
		else
			bson_append_null(&arr, k, -1);
	}
	bson_append_array_end(&cur, &arr);
	tlen = sodium_base64_encoded_len(cur.len,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	text = xmalloc(tlen);
	sodium_bin2base64(text, tlen, bson_get_data(&cur), cur.len,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	bson_destroy(&cur);
	return text;
}

/* 400 about ?next=. Returns false. */
static bool
cursor_error(struct api_req *req, const char *why)
{
	return api_error_field(req, 400, "invalid_field", "next", "next: %s",
	    why);
}

/*
 * Decode ?next= into values (initialised, empty): one per sort key, each
 * null or of the key's type, and the hash of this very query. Returns
 * false after answering 400.
 */
static bool
cursor_decode(struct api_req *req, const char *text,
    const struct sort_spec *sort, const unsigned char hash[CURSOR_HASH],
    bson_t *values)
{
	unsigned char *bin = NULL;
	const uint8_t *data = NULL;
	uint32_t dlen;
	bson_subtype_t sub;
	bson_iter_t it, av;
	bson_t cur, arr;
	size_t blen = 0, i;
	bool ok = false, have_h = false;

	if (strlen(text) > CURSOR_TEXT_MAX) {
		cursor_error(req, "not a cursor of this API");
		goto done;
	}
	bin = xmalloc(CURSOR_BIN_MAX);
	if (sodium_base642bin(bin, CURSOR_BIN_MAX, text, strlen(text), NULL,
	    &blen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    !bson_init_static(&cur, bin, blen) ||
	    !bson_validate(&cur, BSON_VALIDATE_NONE, NULL)) {
		cursor_error(req, "not a cursor of this API");
		goto done;
	}
	if (bson_iter_init_find(&it, &cur, "h") &&
	    BSON_ITER_HOLDS_BINARY(&it)) {
		bson_iter_binary(&it, &sub, &dlen, &data);
		have_h = dlen == CURSOR_HASH;
	}
	if (!have_h || !bson_iter_init_find(&it, &cur, "v") ||
	    !BSON_ITER_HOLDS_ARRAY(&it)) {
		cursor_error(req, "not a cursor of this API");
		goto done;
	}
	if (memcmp(data, hash, CURSOR_HASH) != 0) {
		cursor_error(req, "the cursor belongs to another where, sort "
		    "or list; page with the query that gave it");
		goto done;
	}
	bson_iter_array(&it, &dlen, &data);
	if (!bson_init_static(&arr, data, dlen) ||
	    !bson_iter_init(&av, &arr)) {
		cursor_error(req, "not a cursor of this API");
		goto done;
	}
	for (i = 0; bson_iter_next(&av); i++) {
		if (i >= sort->nkeys || !value_fits(bson_iter_value(&av),
		    sort->keys[i].field->type)) {
			cursor_error(req, "not a cursor of this list");
			goto done;
		}
		bson_append_value(values, bson_iter_key(&av), -1,
		    bson_iter_value(&av));
	}
	if (i != sort->nkeys) {
		cursor_error(req, "not a cursor of this list");
		goto done;
	}
	ok = true;
done:
	free(bin);
	return ok;
}

/*
 * Append to doc the condition that key k equals v: {path: null} matches
 * a missing field too, as the sort puts both in one place.
 */
static void
keyset_equal(bson_t *doc, const struct sort_key *k, const bson_value_t *v)
{
	bson_t op;

	if (v->value_type == BSON_TYPE_NULL) {
		bson_append_null(doc, k->field->path, -1);
		return;
	}
	bson_append_document_begin(doc, k->field->path, -1, &op);
	bson_append_value(&op, "$eq", -1, v);
	bson_append_document_end(doc, &op);
}

/*
 * Append to doc the condition that key k comes strictly after v in the
 * sort order (missing and null sort first). False when nothing can.
 */
static bool
keyset_after(bson_t *doc, const struct sort_key *k, const bson_value_t *v)
{
	bson_t op, arr, alt;

	if (v->value_type == BSON_TYPE_NULL) {
		if (k->dir < 0)
			return false;
		bson_append_document_begin(doc, k->field->path, -1, &op);
		bson_append_null(&op, "$ne", -1);
		bson_append_document_end(doc, &op);
		return true;
	}
	if (k->dir > 0) {
		bson_append_document_begin(doc, k->field->path, -1, &op);
		bson_append_value(&op, "$gt", -1, v);
		bson_append_document_end(doc, &op);
		return true;
	}
	bson_append_array_begin(doc, "$or", -1, &arr);
	bson_append_document_begin(&arr, "0", -1, &alt);
	bson_append_document_begin(&alt, k->field->path, -1, &op);
	bson_append_value(&op, "$lt", -1, v);
	bson_append_document_end(&alt, &op);
	bson_append_document_end(&arr, &alt);
	bson_append_document_begin(&arr, "1", -1, &alt);
	bson_append_null(&alt, k->field->path, -1);
	bson_append_document_end(&arr, &alt);
	bson_append_array_end(doc, &arr);
	return true;
}

/*
 * Append to parts (an array being built, next index *n) the keyset
 * condition "after the row whose sort values are values": the $or over
 * each key of (all keys before it equal, and it after).
 */
static void
keyset_append(bson_t *parts, size_t *n, const struct sort_spec *sort,
    const bson_t *values)
{
	bson_value_t v[SORT_MAX + 1];
	bson_iter_t it;
	bson_t any, branch, all, term;
	const char *k, *k2;
	char key[16], key2[16];
	size_t i, j, nb = 0, nv = 0;

	if (bson_iter_init(&it, values))
		while (nv < sort->nkeys && bson_iter_next(&it))
			v[nv++] = *bson_iter_value(&it);
	bson_uint32_to_string((uint32_t)(*n)++, &k, key, sizeof(key));
	bson_append_document_begin(parts, k, -1, &any);
	bson_append_array_begin(&any, "$or", -1, &branch);
	for (i = 0; i < nv; i++) {
		bson_t *after = bson_new();

		if (!keyset_after(after, &sort->keys[i], &v[i])) {
			bson_destroy(after);
			continue;
		}
		bson_uint32_to_string((uint32_t)nb++, &k, key, sizeof(key));
		bson_append_document_begin(&branch, k, -1, &all);
		bson_append_array_begin(&all, "$and", -1, &term);
		for (j = 0; j <= i; j++) {
			bson_uint32_to_string((uint32_t)j, &k2, key2,
			    sizeof(key2));
			if (j < i) {
				bson_t eq;

				bson_append_document_begin(&term, k2, -1, &eq);
				keyset_equal(&eq, &sort->keys[j], &v[j]);
				bson_append_document_end(&term, &eq);
			} else
				BSON_APPEND_DOCUMENT(&term, k2, after);
		}
		bson_append_array_end(&all, &term);
		bson_append_document_end(&branch, &all);
		bson_destroy(after);
	}
	if (nb == 0) {
		/* Nothing comes after: a condition no document meets. */
		bson_t none;

		bson_append_document_begin(&branch, "0", -1, &none);
		BSON_APPEND_BOOL(&none, "_id", false);
		bson_append_document_end(&branch, &none);
	}
	bson_append_array_end(&any, &branch);
	bson_append_document_end(parts, &any);
}

/*
 * The query of a list: {$and: [scope, filter, extra...]} of the parts
 * that are there, or {} when none is.
 */
static void
query_build(bson_t *query, const bson_t *scope, const struct oc_filter *f,
    const bson_t *keyset_values, const struct sort_spec *sort,
    const bson_oid_t *before)
{
	bson_t parts, doc, range;
	const char *k;
	char key[16];
	size_t n = 0;

	bson_append_array_begin(query, "$and", -1, &parts);
	if (!bson_empty(scope)) {
		bson_uint32_to_string((uint32_t)n++, &k, key, sizeof(key));
		BSON_APPEND_DOCUMENT(&parts, k, scope);
	}
	if (f != NULL) {
		bson_uint32_to_string((uint32_t)n++, &k, key, sizeof(key));
		bson_append_document_begin(&parts, k, -1, &doc);
		oc_filter_to_bson(f, &doc);
		bson_append_document_end(&parts, &doc);
	}
	if (keyset_values != NULL)
		keyset_append(&parts, &n, sort, keyset_values);
	if (before != NULL) {
		bson_uint32_to_string((uint32_t)n++, &k, key, sizeof(key));
		bson_append_document_begin(&parts, k, -1, &doc);
		bson_append_document_begin(&doc, "_id", -1, &range);
		BSON_APPEND_OID(&range, "$lt", before);
		bson_append_document_end(&doc, &range);
		bson_append_document_end(&parts, &doc);
	}
	bson_append_array_end(query, &parts);
	if (n == 0)
		bson_reinit(query);
}

/* Did the request ask for a list by filter, sort or cursor? */
bool
api_list_asked(struct api_req *req, bool limit_too)
{
	static const char *const names[] = { "where", "sort", "next",
	    "limit" };
	size_t i, n = limit_too ? 4 : 3;
	char *v = NULL;
	bool asked = false;

	for (i = 0; i < n && !asked; i++) {
		asked = api_query(req, names[i], &v);
		free(v);
		v = NULL;
	}
	return asked;
}

/*
 * Run the find of a list page: up to limit documents as the API shows
 * them in *out, and a copy of the last one in *last when there are more
 * (caller destroys). Returns false after answering 503/500.
 */
static bool
find_page(struct api_req *req, const char *coll, const bson_t *query,
    const bson_t *opts, long limit, json_object **out, bson_t **last)
{
	mongoc_collection_t *c = NULL;
	mongoc_cursor_t *cur = NULL;
	json_object *arr = json_object_new_array();
	bson_t *prev = NULL;
	const bson_t *doc;
	bson_error_t err;
	long n = 0;
	bool ok = false;

	*out = NULL;
	*last = NULL;
	c = api_collection(req, coll);
	if (c == NULL)
		goto done;
	cur = mongoc_collection_find_with_opts(c, query, opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		if (n == limit) {
			*last = prev;
			prev = NULL;
			break;
		}
		json_object_array_add(arr, oc_bson_to_json(doc));
		bson_destroy(prev);
		prev = bson_copy(doc);
		n++;
	}
	if (mongoc_cursor_error(cur, &err)) {
		api_mongo_error(req, &err, coll);
		bson_destroy(*last);
		*last = NULL;
		goto done;
	}
	*out = arr;
	arr = NULL;
	ok = true;
done:
	bson_destroy(prev);
	json_object_put(arr);
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(c);
	return ok;
}

/*
 * GET of a list: the scope (the caller's and the old parameters, built
 * by the handler) and ?where=, ?sort=, ?limit=, ?next= (and ?before=
 * where the list allows it) give one page with "next".
 */
void
api_list_run(struct api_req *req, const struct api_list_spec *list,
    const bson_t *scope)
{
	const struct sort_field *fields = sort_fields(list->target);
	struct oc_filter *f = NULL;
	struct sort_spec sort;
	unsigned char hash[CURSOR_HASH];
	json_object *arr = NULL;
	bson_t query = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	bson_t values = BSON_INITIALIZER, *last = NULL;
	char *sort_text = NULL, *next = NULL, *before = NULL, *out = NULL;
	bson_oid_t before_oid;
	long limit = API_ORDERS_PAGE;

	if (!api_query_count(req, "limit", 1, API_ORDERS_PAGE_MAX, &limit))
		goto done;
	if (!where_parse(req, list->target, &f))
		goto done;
	if (!api_query(req, "sort", &sort_text))
		sort_text = xstrdup(list->default_sort);
	if (!sort_parse(req, fields, sort_text, &sort))
		goto done;
	(void)api_query(req, "next", &next);
	if (list->before && api_query(req, "before", &before)) {
		if (next != NULL ||
		    strcmp(sort.text, list->default_sort) != 0) {
			api_error_field(req, 400, "invalid_field", "before",
			    "before: pages only the default order; use next");
			goto done;
		}
		if (!api_oid_param(req, "before", before, &before_oid))
			goto done;
	}
	query_hash(list, f, &sort, scope, hash);
	if (next != NULL && !cursor_decode(req, next, &sort, hash, &values))
		goto done;
	query_build(&query, scope, f, next != NULL ? &values : NULL, &sort,
	    before != NULL ? &before_oid : NULL);
	sort_append(&sort, &opts);
	BSON_APPEND_INT64(&opts, "limit", limit + 1);
	if (list->projection != NULL)
		BSON_APPEND_DOCUMENT(&opts, "projection", list->projection);
	if (!find_page(req, list->collection, &query, &opts, limit, &arr,
	    &last))
		goto done;
	if (last != NULL)
		out = cursor_encode(&sort, last, hash);
	api_reply_json(req, 200, api_list_body(arr, true, out));
done:
	oc_filter_free(f);
	free(sort_text);
	free(next);
	free(before);
	free(out);
	bson_destroy(last);
	bson_destroy(&query);
	bson_destroy(&opts);
	bson_destroy(&values);
}

/* GET of a list's count: {"count":N} of the scope and ?where=. */
void
api_list_count(struct api_req *req, const struct api_list_spec *list,
    const bson_t *scope)
{
	struct oc_filter *f = NULL;
	mongoc_collection_t *c = NULL;
	json_object *body;
	bson_t query = BSON_INITIALIZER;
	bson_error_t err;
	int64_t n;

	if (!where_parse(req, list->target, &f))
		goto done;
	query_build(&query, scope, f, NULL, NULL, NULL);
	c = api_collection(req, list->collection);
	if (c == NULL)
		goto done;
	n = mongoc_collection_count_documents(c, &query, NULL, NULL, NULL,
	    &err);
	if (n < 0) {
		api_mongo_error(req, &err, list->collection);
		goto done;
	}
	body = json_object_new_object();
	json_object_object_add(body, "count", json_object_new_int64(n));
	api_reply_json(req, 200, body);
done:
	oc_filter_free(f);
	mongoc_collection_destroy(c);
	bson_destroy(&query);
}
