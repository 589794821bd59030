/*
 * tests/filter-agree.bats: for many generated filters, the MongoDB filter
 * (run by the server through libmongoc) and the stream evaluator must
 * admit the same generated orders.
 *
 *   filter-agree-client URI DB SEED FILTERS DOCS
 *
 * Inserts DOCS generated orders into DB.orders, then for each of FILTERS
 * generated filters compares the ids the server returns with the ids the
 * evaluator admits: over each document as the API shows it, over the
 * same document as the doc of an event (fields as doc.<field>), and for
 * the filter's normalised text. Prints one line per disagreement and a
 * summary; exits 1 when any disagree.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "oc-event.h"
#include "oc-filter.h"
#include "oc-json.h"
#include "oc-xmalloc.h"

#define MAX_DOCS	500
#define TEXT_MAX	4096

static uint64_t rng;

/* splitmix64: a small, seedable generator. */
static uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A number in [0, n). */
static size_t
pick(size_t n)
{
	return (size_t)(rnd() % n);
}

/* True with probability pct in 100. */
static bool
chance(unsigned pct)
{
	return pick(100) < pct;
}

static const char *const statuses[] = { "pending", "processing",
    "shipped", "delivered", "cancelled", "Pending" };
static const char *const skus[] = { "KB-101", "MS-202", "ab%c", "a_b",
    "x.y*z", "caf\xc3\xa9", "CAF\xc3\x89", "line\nbreak", "it's",
    "(a)[b]{c}", "^$", "\\back" };
static const char *const names[] = { "Mechanical Keyboard",
    "Wireless Mouse", "27-inch 4K Monitor", "USB-C Cable 2 m", "" };

#define N(a) (sizeof(a) / sizeof((a)[0]))

static bson_oid_t ids[MAX_DOCS], customers[4], products[6];
static int64_t dates[MAX_DOCS];
static size_t ndocs;
static const int64_t base_ms = 1709251200000;	/* 2024-03-01 */

/* A deterministic ObjectId. */
static void
gen_oid(bson_oid_t *oid)
{
	uint64_t a = rnd(), b = rnd();

	memcpy(oid->bytes, &a, 8);
	memcpy(oid->bytes + 8, &b, 4);
}

/* Append a date that collides with other documents' dates now and then. */
static int64_t
gen_date(void)
{
	if (ndocs > 0 && chance(30))
		return dates[pick(ndocs)];
	return base_ms + (int64_t)pick(30ull * 86400000);
}

/* Append a string (BSON_APPEND_UTF8 evaluates its value twice). */
static void
append_str(bson_t *b, const char *key, const char *val)
{
	bson_append_utf8(b, key, -1, val, -1);
}

/* One generated order. */
static bson_t *
gen_order(size_t i)
{
	bson_t *d = bson_new(), arr, item;
	size_t n = 1 + pick(3), j;
	char key[16];
	const char *k;

	gen_oid(&ids[i]);
	dates[i] = gen_date();
	BSON_APPEND_OID(d, "_id", &ids[i]);
	if (!chance(5))
		BSON_APPEND_OID(d, "customerId", &customers[pick(4)]);
	if (chance(5))
		BSON_APPEND_NULL(d, "status");
	else if (!chance(8))
		append_str(d, "status", statuses[pick(N(statuses))]);
	if (chance(20))
		BSON_APPEND_DOUBLE(d, "totalCents",
		    (double)pick(2000) * 50 + 0.5);
	else if (!chance(5))
		BSON_APPEND_INT64(d, "totalCents", (int64_t)pick(100000));
	if (!chance(5))
		BSON_APPEND_DATE_TIME(d, "createdAt", dates[i]);
	if (chance(70))
		BSON_APPEND_DATE_TIME(d, "updatedAt", gen_date());
	bson_append_array_begin(d, "items", -1, &arr);
	for (j = 0; j < n; j++) {
		bson_uint32_to_string((uint32_t)j, &k, key, sizeof(key));
		bson_append_document_begin(&arr, k, -1, &item);
		if (!chance(10))
			BSON_APPEND_OID(&item, "productId",
			    &products[pick(N(products))]);
		if (!chance(5))
			append_str(&item, "sku", skus[pick(N(skus))]);
		append_str(&item, "name", names[pick(N(names))]);
		if (chance(50))
			BSON_APPEND_INT32(&item, "qty", (int32_t)(1 + pick(5)));
		else
			BSON_APPEND_INT64(&item, "qty", (int64_t)(1 + pick(5)));
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(d, &arr);
	return d;
}

/* The filter text being generated. */
static char text[TEXT_MAX];
static size_t text_len;

/* Append to the filter text. */
static void __attribute__((format(printf, 1, 2)))
emit(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text + text_len, sizeof(text) - text_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		text_len += (size_t)n;
	if (text_len >= sizeof(text))
		text_len = sizeof(text) - 1;
}

/* A keyword in a random case. */
static void
kw(const char *word)
{
	char buf[16];
	size_t i;

	for (i = 0; word[i] != '\0' && i + 1 < sizeof(buf); i++) {
		buf[i] = word[i];
		if (chance(30) && buf[i] >= 'A' && buf[i] <= 'Z')
			buf[i] = (char)(buf[i] + 32);
	}
	buf[i] = '\0';
	emit("%s", buf);
}

/* Append s as a quoted string, '' for quotes. */
static void
quoted(const char *s)
{
	emit("'");
	for (; *s != '\0'; s++)
		emit(*s == '\'' ? "''" : "%c", *s);
	emit("'");
}

enum gtype { G_STR, G_NUM, G_OID, G_DATE };

static const struct {
	const char	*name;
	enum gtype	 type;
} fields[] = {
	{ "id", G_OID }, { "customerId", G_OID }, { "status", G_STR },
	{ "totalCents", G_NUM }, { "createdAt", G_DATE },
	{ "updatedAt", G_DATE }, { "items.productId", G_OID },
	{ "items.sku", G_STR }, { "items.name", G_STR },
	{ "items.qty", G_NUM },
};

/* A string from the pools the documents use. */
static const char *
pool_string(const char *field)
{
	if (strcmp(field, "status") == 0)
		return statuses[pick(N(statuses))];
	if (strcmp(field, "items.sku") == 0)
		return skus[pick(N(skus))];
	return names[pick(N(names))];
}

/* Append a value of type t for field. */
static void
value(enum gtype t, const char *field)
{
	char buf[64];
	const bson_oid_t *oid;
	size_t i;

	switch (t) {
	case G_STR:
		quoted(chance(90) ? pool_string(field) : "zzz");
		break;
	case G_NUM:
		if (strcmp(field, "items.qty") == 0)
			emit("%d", (int)pick(7) - 1);
		else if (chance(20))
			emit("%d.5", (int)pick(2000) * 50);
		else if (chance(10))
			emit("-%d", (int)pick(100));
		else
			emit("%d", (int)pick(100000));
		break;
	case G_OID:
		if (strcmp(field, "id") == 0)
			oid = &ids[pick(ndocs)];
		else if (strcmp(field, "customerId") == 0)
			oid = &customers[pick(4)];
		else
			oid = &products[pick(N(products))];
		bson_oid_to_string(oid, buf);
		for (i = 0; buf[i] != '\0'; i++)
			if (chance(20) && buf[i] >= 'a' && buf[i] <= 'f')
				buf[i] = (char)(buf[i] - 32);
		quoted(buf);
		break;
	case G_DATE:
		oc_format_iso8601(gen_date() + (chance(50) ? 0 :
		    (int64_t)pick(3) - 1), buf, sizeof(buf));
		if (chance(20))
			buf[10] = '\0';
		quoted(buf);
		break;
	}
}

/* A LIKE pattern made from a pool string: wildcards in, specials escaped. */
static void
pattern(const char *field, bool ilike)
{
	const char *s = pool_string(field);
	char out[256];
	size_t o = 0;

	if (chance(30))
		out[o++] = '%';
	for (; *s != '\0' && o + 4 < sizeof(out); s++) {
		/* Wildcards replace ASCII only, never half a character. */
		if ((unsigned char)*s < 0x80 && chance(10)) {
			out[o++] = '%';
			continue;
		}
		if ((unsigned char)*s < 0x80 && chance(10)) {
			out[o++] = '_';
			continue;
		}
		if (*s == '%' || *s == '_' || *s == '\\')
			out[o++] = '\\';
		out[o++] = ilike && chance(50) && *s >= 'a' && *s <= 'z' ?
		    (char)(*s - 32) : *s;
	}
	if (chance(30))
		out[o++] = '%';
	out[o] = '\0';
	quoted(out);
}

/* Append one predicate on a random field; prefix is "" or "doc.". */
static void
pred(const char *prefix)
{
	static const char *const cmps[] = { "=", "!=", "<>", "<", "<=", ">",
	    ">=" };
	size_t f = pick(N(fields)), n, i;
	enum gtype t = fields[f].type;
	const char *name = fields[f].name;
	size_t form = pick(t == G_STR ? 7 : 5);

	emit("%s%s ", prefix, name);
	switch (form) {
	case 0:
	case 1:
		emit("%s ", cmps[pick(N(cmps))]);
		value(t, name);
		break;
	case 2:
		if (chance(40)) {
			kw("NOT");
			emit(" ");
		}
		kw("IN");
		emit(" (");
		n = 1 + pick(4);
		for (i = 0; i < n; i++) {
			if (i > 0)
				emit(", ");
			value(t, name);
		}
		emit(")");
		break;
	case 3:
		if (chance(40)) {
			kw("NOT");
			emit(" ");
		}
		kw("BETWEEN");
		emit(" ");
		value(t, name);
		emit(" ");
		kw("AND");
		emit(" ");
		value(t, name);
		break;
	case 4:
		kw("IS");
		emit(" ");
		if (chance(50)) {
			kw("NOT");
			emit(" ");
		}
		kw("NULL");
		break;
	default:
		if (chance(30)) {
			kw("NOT");
			emit(" ");
		}
		kw(form == 5 ? "LIKE" : "ILIKE");
		emit(" ");
		pattern(name, form == 6);
		break;
	}
}

/* Append an expression of at most depth levels. */
static void
expr(int depth, const char *prefix)
{
	size_t n, i;
	bool or;

	if (depth == 0 || chance(35)) {
		pred(prefix);
		return;
	}
	if (chance(20)) {
		kw("NOT");
		emit(" (");
		expr(depth - 1, prefix);
		emit(")");
		return;
	}
	or = chance(50);
	n = 2 + pick(2);
	emit("(");
	for (i = 0; i < n; i++) {
		if (i > 0) {
			emit(" ");
			kw(or ? "OR" : "AND");
			emit(" ");
		}
		expr(depth - 1, prefix);
	}
	emit(")");
}

/* Parse or report why not. */
static struct oc_filter *
must_parse(const char *s, enum oc_filter_target t)
{
	struct oc_filter_error err;
	struct oc_filter *f = oc_filter_parse(s, strlen(s), t,
	    OC_FILTER_SEE_ALL, &err);

	if (f == NULL)
		printf("REFUSED %s\n  at %zu: %s\n", s, err.position,
		    err.message);
	return f;
}

/* The ids the server admits, as flags per document index. */
static bool
server_admits(mongoc_collection_t *coll, const struct oc_filter *f,
    bool *in)
{
	bson_t query = BSON_INITIALIZER;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t err;
	bson_iter_t it;
	size_t i;
	bool ok;

	oc_filter_to_bson(f, &query);
	memset(in, 0, ndocs * sizeof(*in));
	cur = mongoc_collection_find_with_opts(coll, &query, NULL, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		if (!bson_iter_init_find(&it, doc, "_id") ||
		    !BSON_ITER_HOLDS_OID(&it))
			continue;
		for (i = 0; i < ndocs; i++)
			if (bson_oid_equal(bson_iter_oid(&it), &ids[i]))
				in[i] = true;
	}
	ok = !mongoc_cursor_error(cur, &err);
	if (!ok)
		printf("QUERY FAILED %s\n", err.message);
	mongoc_cursor_destroy(cur);
	bson_destroy(&query);
	return ok;
}

int
main(int argc, char **argv)
{
	mongoc_client_t *client = NULL;
	mongoc_collection_t *coll = NULL;
	json_object *docs[MAX_DOCS], *events[MAX_DOCS];
	bson_t *bdocs[MAX_DOCS];
	struct oc_filter *f = NULL, *fe = NULL, *fn = NULL;
	bool in[MAX_DOCS];
	bson_error_t err;
	char plain[TEXT_MAX], key[25];
	size_t nfilters, i, k, bad = 0, admitted = 0;
	int status = 1;

	if (argc != 6) {
		fprintf(stderr, "usage: %s URI DB SEED FILTERS DOCS\n",
		    argv[0]);
		return 2;
	}
	rng = strtoull(argv[3], NULL, 10);
	nfilters = strtoul(argv[4], NULL, 10);
	ndocs = strtoul(argv[5], NULL, 10);
	if (ndocs < 1 || ndocs > MAX_DOCS) {
		fprintf(stderr, "DOCS must be 1..%d\n", MAX_DOCS);
		return 2;
	}
	mongoc_init();
	client = mongoc_client_new(argv[1]);
	if (client == NULL) {
		fprintf(stderr, "bad URI %s\n", argv[1]);
		goto done;
	}
	coll = mongoc_client_get_collection(client, argv[2], "orders");
	for (i = 0; i < 4; i++)
		gen_oid(&customers[i]);
	for (i = 0; i < N(products); i++)
		gen_oid(&products[i]);
	k = ndocs;
	for (ndocs = 0; ndocs < k; ndocs++)
		bdocs[ndocs] = gen_order(ndocs);
	if (!mongoc_collection_insert_many(coll, (const bson_t **)bdocs,
	    ndocs, NULL, NULL, &err)) {
		fprintf(stderr, "insert: %s\n", err.message);
		goto done;
	}
	for (i = 0; i < ndocs; i++) {
		docs[i] = oc_bson_to_json(bdocs[i]);
		bson_oid_to_string(&ids[i], key);
		events[i] = oc_event_new("order.created", "orders", "insert",
		    key, json_object_get(docs[i]), NULL, NULL, 0);
		bson_destroy(bdocs[i]);
	}
	for (k = 0; k < nfilters; k++) {
		uint64_t saved = rng;

		text_len = 0;
		expr(3, "");
		memcpy(plain, text, text_len + 1);
		rng = saved;
		text_len = 0;
		expr(3, "doc.");
		f = must_parse(plain, OC_FILTER_ORDERS);
		fe = must_parse(text, OC_FILTER_EVENTS);
		fn = f != NULL ? must_parse(oc_filter_text(f),
		    OC_FILTER_ORDERS) : NULL;
		if (f == NULL || fe == NULL || fn == NULL ||
		    !server_admits(coll, f, in)) {
			bad++;
			goto next;
		}
		for (i = 0; i < ndocs; i++) {
			bool list = oc_filter_match(f, docs[i]);
			bool stream = oc_filter_match(fe, events[i]);
			bool normal = oc_filter_match(fn, docs[i]);

			admitted += in[i];
			if (list == in[i] && stream == in[i] &&
			    normal == in[i])
				continue;
			printf("DISAGREE %s\n  server %d list %d stream %d "
			    "normalised %d on %s\n", plain, in[i], list,
			    stream, normal, oc_json_text(docs[i], NULL));
			bad++;
			break;
		}
next:
		oc_filter_free(f);
		oc_filter_free(fe);
		oc_filter_free(fn);
		f = fe = fn = NULL;
	}
	printf("%zu filters over %zu orders: %zu admitted in all, "
	    "%zu disagreements\n", nfilters, ndocs, admitted, bad);
	status = bad == 0 ? 0 : 1;
	for (i = 0; i < ndocs; i++) {
		json_object_put(docs[i]);
		json_object_put(events[i]);
	}
done:
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return status;
}
