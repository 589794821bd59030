/*
 * Fuzz target: the filter language of ?where= (lib/oc-filter). The
 * first byte picks the target (its low two bits) and the visibility
 * flags of the role (the next three); the rest is the filter text.
 * Properties of an accepted filter: its normalised text parses again
 * to the same text, the same MongoDB filter (numbers compared by value)
 * and the same verdict on a few fixed documents and events; the MongoDB filter is valid BSON
 * without server-side code ($where, $function, $expr, $accumulator).
 * A refused filter names a position within the text and a message
 * that is valid UTF-8.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "oc-filter.h"

#define OID_A	"65f0c0ffee0000000000000a"
#define OID_B	"65f0c0ffee0000000000000b"

/* Documents as the API shows them and events as the relay sends them. */
static const char *const fixed_docs[] = {
	"{\"id\":\"" OID_A "\",\"customerId\":\"" OID_B "\","
	"\"status\":\"pending\",\"totalCents\":64997,"
	"\"createdAt\":\"2024-03-01T10:00:00.000Z\","
	"\"updatedAt\":\"2024-03-02T08:30:00.250Z\","
	"\"items\":[{\"productId\":\"" OID_B "\",\"sku\":\"KB-101\","
	"\"name\":\"Mechanical Keyboard\",\"qty\":1},"
	"{\"sku\":\"MN-303\",\"name\":\"27-inch 4K \xc3\x89\xc3\xa9" "cran\","
	"\"qty\":3}]}",
	"{\"id\":\"" OID_B "\",\"sku\":\"100%_a\\\\b\",\"name\":\"\xce\xa3"
	"\xcf\x83 caf\xc3\xa9\",\"category\":\"peripherals\","
	"\"priceCents\":19.99,\"stock\":0,"
	"\"updatedAt\":\"1970-01-01T00:00:00.000Z\"}",
	"{\"id\":\"" OID_A "\",\"name\":\"Ada\",\"email\":\"ada@example.com\","
	"\"role\":\"admin\",\"createdAt\":\"2023-12-31T23:59:59.999Z\"}",
	"{\"status\":null,\"totalCents\":\"5\",\"items\":[],\"stock\":-3,"
	"\"createdAt\":\"soon\",\"id\":\"zz\"}",
	"{\"type\":\"order.updated\",\"collection\":\"orders\","
	"\"op\":\"update\",\"key\":\"" OID_A "\","
	"\"doc\":{\"id\":\"" OID_A "\",\"status\":\"shipped\","
	"\"totalCents\":70000,\"items\":[{\"sku\":\"KB-101\",\"qty\":2}]},"
	"\"changed\":{\"status\":\"shipped\"}}",
	"{\"type\":\"product.updated\",\"collection\":\"products\","
	"\"op\":\"replace\",\"key\":\"" OID_B "\","
	"\"doc\":{\"sku\":\"KB-101\",\"name\":\"Keyboard\",\"stock\":4,"
	"\"priceCents\":4999},\"changed\":{\"stock\":4}}",
	"{\"type\":\"order.deleted\",\"collection\":\"orders\","
	"\"op\":\"delete\",\"key\":\"" OID_A "\",\"doc\":null}",
	"{\"type\":\"alert.low_stock\",\"collection\":\"products\","
	"\"key\":\"" OID_B "\",\"doc\":{\"stock\":1,\"name\":\"\"}}",
	"{\"type\":\"system.resync\"}",
	"{}",
};
#define NDOCS	(sizeof(fixed_docs) / sizeof(fixed_docs[0]))

/* Parsed once; the target only reads them. */
static json_object *docs[NDOCS];

/* Does b, at any depth, hold a key or value that runs on the server? */
static bool
bson_runs_code(const bson_t *b)
{
	bson_iter_t it;
	const uint8_t *data;
	const char *key;
	uint32_t len;
	bson_t child;

	if (!bson_iter_init(&it, b))
		return true;
	while (bson_iter_next(&it)) {
		key = bson_iter_key(&it);
		if (strcmp(key, "$where") == 0 ||
		    strcmp(key, "$function") == 0 ||
		    strcmp(key, "$expr") == 0 ||
		    strcmp(key, "$accumulator") == 0)
			return true;
		if (BSON_ITER_HOLDS_CODE(&it) ||
		    BSON_ITER_HOLDS_CODEWSCOPE(&it))
			return true;
		if (BSON_ITER_HOLDS_DOCUMENT(&it))
			bson_iter_document(&it, &len, &data);
		else if (BSON_ITER_HOLDS_ARRAY(&it))
			bson_iter_array(&it, &len, &data);
		else
			continue;
		if (!bson_init_static(&child, data, len) ||
		    bson_runs_code(&child))
			return true;
	}
	return false;
}

/* A number of any BSON type as a double, and whether it is one. */
static bool
bson_number(const bson_iter_t *it, double *d, int64_t *i, bool *is_int)
{
	*is_int = !BSON_ITER_HOLDS_DOUBLE(it);
	if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it)) {
		*i = bson_iter_as_int64(it);
		*d = (double)*i;
		return true;
	}
	if (BSON_ITER_HOLDS_DOUBLE(it)) {
		*d = bson_iter_double(it);
		return true;
	}
	return false;
}

/*
 * Do a and b say the same to MongoDB? The same keys and values in the
 * same order, where numbers compare by value whatever their type
 * (MongoDB's own rule): -3.0 and -3 are one filter.
 */
static bool
bson_same(const bson_t *a, const bson_t *b)
{
	bson_iter_t x, y;
	const uint8_t *xd, *yd;
	uint32_t xl, yl;
	bson_t xc, yc;
	double xf, yf;
	int64_t xi, yi;
	bool xint, yint;

	if (!bson_iter_init(&x, a) || !bson_iter_init(&y, b))
		return false;
	for (;;) {
		bool xn = bson_iter_next(&x), yn = bson_iter_next(&y);

		if (!xn || !yn)
			return xn == yn;
		if (strcmp(bson_iter_key(&x), bson_iter_key(&y)) != 0)
			return false;
		if (bson_number(&x, &xf, &xi, &xint) &&
		    bson_number(&y, &yf, &yi, &yint)) {
			if (xint && yint ? xi != yi : xf != yf)
				return false;
			continue;
		}
		if (bson_iter_type(&x) != bson_iter_type(&y))
			return false;
		if (BSON_ITER_HOLDS_DOCUMENT(&x) || BSON_ITER_HOLDS_ARRAY(&x)) {
			if (BSON_ITER_HOLDS_DOCUMENT(&x)) {
				bson_iter_document(&x, &xl, &xd);
				bson_iter_document(&y, &yl, &yd);
			} else {
				bson_iter_array(&x, &xl, &xd);
				bson_iter_array(&y, &yl, &yd);
			}
			if (!bson_init_static(&xc, xd, xl) ||
			    !bson_init_static(&yc, yd, yl) ||
			    !bson_same(&xc, &yc))
				return false;
			continue;
		}
		/* Any other value: the same element bytes. */
		if (x.next_off - x.off != y.next_off - y.off ||
		    memcmp(x.raw + x.off, y.raw + y.off,
		    x.next_off - x.off) != 0)
			return false;
	}
}

/* Load the fixed documents the first time. */
static void
load_docs(void)
{
	size_t i;

	if (docs[0] != NULL)
		return;
	for (i = 0; i < NDOCS; i++) {
		docs[i] = json_tokener_parse(fixed_docs[i]);
		FUZZ_CHECK(docs[i] != NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oc_filter *f = NULL, *again = NULL;
	struct oc_filter_error err;
	enum oc_filter_target target;
	bson_t query = BSON_INITIALIZER, query2 = BSON_INITIALIZER;
	const char *text, *norm;
	size_t len, off, i;
	unsigned see;

	if (size < 1)
		return 0;
	load_docs();
	target = (enum oc_filter_target)(data[0] & 0x3);
	see = (data[0] >> 2) & OC_FILTER_SEE_ALL;
	text = (const char *)data + 1;
	len = size - 1;

	memset(&err, 0, sizeof(err));
	f = oc_filter_parse(text, len, target, see, &err);
	if (f == NULL) {
		FUZZ_CHECK(err.position <= len);
		FUZZ_CHECK(memchr(err.message, '\0', sizeof(err.message)) !=
		    NULL);
		FUZZ_CHECK(err.message[0] != '\0');
		FUZZ_CHECK(fuzz_utf8_valid(err.message, strlen(err.message)));
		goto done;
	}
	FUZZ_CHECK(oc_filter_target(f) == target);

	norm = oc_filter_text(f);
	FUZZ_CHECK(norm != NULL);
	FUZZ_CHECK(fuzz_utf8_valid(norm, strlen(norm)));
	again = oc_filter_parse(norm, strlen(norm), target, see, &err);
	if (again == NULL)
		fprintf(stderr, "normalised text refused at %zu: %s\n%s\n",
		    err.position, err.message, norm);
	FUZZ_CHECK(again != NULL);
	if (strcmp(norm, oc_filter_text(again)) != 0)
		fprintf(stderr, "normalised:\n%s\nparsed again:\n%s\n", norm,
		    oc_filter_text(again));
	FUZZ_CHECK(strcmp(norm, oc_filter_text(again)) == 0);

	oc_filter_to_bson(f, &query);
	FUZZ_CHECK(bson_validate(&query, BSON_VALIDATE_UTF8 |
	    BSON_VALIDATE_UTF8_ALLOW_NULL | BSON_VALIDATE_EMPTY_KEYS, &off));
	FUZZ_CHECK(!bson_runs_code(&query));
	oc_filter_to_bson(again, &query2);
	FUZZ_CHECK(bson_same(&query, &query2));

	for (i = 0; i < NDOCS; i++)
		FUZZ_CHECK(oc_filter_match(f, docs[i]) ==
		    oc_filter_match(again, docs[i]));
done:
	bson_destroy(&query);
	bson_destroy(&query2);
	oc_filter_free(f);
	oc_filter_free(again);
	return 0;
}
