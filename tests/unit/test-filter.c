/*
 * Unit tests of lib/oc-filter: the grammar and its normalised text, the
 * typing of fields, every error with its position and message, the
 * MongoDB filter and the evaluator. Prints TAP.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oc-filter.h"
#include "oc-json.h"
#include "oc-util.h"
#include "tap.h"


#define ALL	OC_FILTER_SEE_ALL
#define CUST	(OC_FILTER_SEE_ORDERS | OC_FILTER_SEE_PRODUCTS)
#define OID_A	"65f0c0ffee0000000000000a"
#define OID_B	"65f0c0ffee0000000000000b"

/* Parse text (NUL-terminated) or say why not. */
static struct oc_filter *
parse(const char *text, enum oc_filter_target t, unsigned see,
    struct oc_filter_error *err)
{
	return oc_filter_parse(text, strlen(text), t, see, err);
}

/* text parses, and its normalised text is want (and stays so). */
static void
norm(enum oc_filter_target t, const char *text, const char *want)
{
	struct oc_filter_error err;
	struct oc_filter *f = parse(text, t, ALL, &err), *again;
	const char *got = f != NULL ? oc_filter_text(f) : err.message;
	int same = f != NULL && strcmp(got, want) == 0;

	if (same) {
		again = parse(got, t, ALL, &err);
		same = again != NULL && strcmp(oc_filter_text(again), got) == 0;
		oc_filter_free(again);
	}
	if (!same)
		printf("# got  %s\n# want %s\n", got, want);
	ok(same, text);
	oc_filter_free(f);
}

/* text is refused at position pos with message want. */
static void
refused_see(enum oc_filter_target t, unsigned see, const char *text,
    size_t pos, const char *want)
{
	struct oc_filter_error err;
	struct oc_filter *f = parse(text, t, see, &err);
	int same = f == NULL && err.position == pos &&
	    strcmp(err.message, want) == 0;

	if (!same)
		printf("# got  %zu %s\n# want %zu %s\n",
		    f == NULL ? err.position : 0,
		    f == NULL ? err.message : oc_filter_text(f), pos, want);
	ok(same, text);
	oc_filter_free(f);
}

/* Refused for an order filter seen by an admin. */
static void
refused(const char *text, size_t pos, const char *want)
{
	refused_see(OC_FILTER_ORDERS, ALL, text, pos, want);
}

/* The MongoDB filter of text as relaxed extended JSON is want. */
static void
compiles(enum oc_filter_target t, const char *text, const char *want)
{
	struct oc_filter_error err;
	struct oc_filter *f = parse(text, t, ALL, &err);
	bson_t out = BSON_INITIALIZER;
	char *got = NULL;
	int same;

	if (f != NULL) {
		oc_filter_to_bson(f, &out);
		got = bson_as_relaxed_extended_json(&out, NULL);
	}
	same = got != NULL && strcmp(got, want) == 0;
	if (!same)
		printf("# got  %s\n# want %s\n", got ? got : err.message,
		    want);
	ok(same, text);
	bson_free(got);
	bson_destroy(&out);
	oc_filter_free(f);
}

/* Evaluate text on the JSON document json; the answer must be want. */
static void
admits(enum oc_filter_target t, const char *json, const char *text,
    bool want)
{
	struct oc_filter_error err;
	struct oc_filter *f = parse(text, t, ALL, &err);
	json_object *doc = json_tokener_parse(json);
	char what[512];
	bool got = false;

	if (f == NULL)
		printf("# %s at %zu\n", err.message, err.position);
	else
		got = oc_filter_match(f, doc);
	snprintf(what, sizeof(what), "%s %s %s", text,
	    want ? "admits" : "refuses", json);
	ok(f != NULL && got == want, what);
	json_object_put(doc);
	oc_filter_free(f);
}

/* Keywords in any case, operators, values, precedence, NOT forms. */
static void
test_grammar(void)
{
	enum oc_filter_target o = OC_FILTER_ORDERS;

	norm(o, "status = 'pending'", "status = 'pending'");
	norm(o, "  status='pending'  ", "status = 'pending'");
	norm(o, "totalCents<>5", "totalCents != 5");
	norm(o, "totalCents != 5 and totalCents<=7 Or totalCents >= -3",
	    "totalCents != 5 AND totalCents <= 7 OR totalCents >= -3");
	norm(o, "totalCents < 1.50 AND totalCents > -0.25",
	    "totalCents < 1.5 AND totalCents > -0.25");
	norm(o, "totalCents = 5.0", "totalCents = 5");
	norm(o, "totalCents = 0.0000001", "totalCents = 0.0000001");
	norm(o, "totalCents = 100000000000000000000",
	    "totalCents = 100000000000000000000");
	norm(o, "status IN ('pending','shipped')",
	    "status IN ('pending', 'shipped')");
	norm(o, "status not in ('a')", "status NOT IN ('a')");
	norm(o, "NOT status IN ('a')", "status NOT IN ('a')");
	norm(o, "totalCents between 1 and 5",
	    "totalCents BETWEEN 1 AND 5");
	norm(o, "totalCents NOT BETWEEN 1 AND 5 AND status = 'x'",
	    "totalCents NOT BETWEEN 1 AND 5 AND status = 'x'");
	norm(o, "items.sku like 'KB-%'", "items.sku LIKE 'KB-%'");
	norm(o, "items.name NOT ILIKE '%usb\\_c%'",
	    "items.name NOT ILIKE '%usb\\_c%'");
	norm(o, "status is null", "status IS NULL");
	norm(o, "status IS NOT NULL", "status IS NOT NULL");
	norm(o, "NOT status IS NULL", "status IS NOT NULL");
	norm(o, "NOT NOT status = 'a'", "status = 'a'");
	norm(o, "NOT (status = 'a' OR status = 'b')",
	    "NOT (status = 'a' OR status = 'b')");
	norm(o, "status = 'a' AND (status = 'b' OR status = 'c')",
	    "status = 'a' AND (status = 'b' OR status = 'c')");
	norm(o, "(status = 'a' AND status = 'b') OR status = 'c'",
	    "status = 'a' AND status = 'b' OR status = 'c'");
	norm(o, "status = 'a' AND (status = 'b' AND (status = 'c'))",
	    "status = 'a' AND status = 'b' AND status = 'c'");
	norm(o, "((status = 'a'))", "status = 'a'");
	norm(o, "status = 'it''s'", "status = 'it''s'");
	norm(o, "status = ''", "status = ''");
	norm(o, "status = 'caf\xc3\xa9'", "status = 'caf\xc3\xa9'");
	norm(o, "id = '65F0C0FFEE0000000000000A'", "id = '" OID_A "'");
	norm(o, "createdAt >= '2024-03-01'",
	    "createdAt >= '2024-03-01T00:00:00.000Z'");
	norm(o, "createdAt < '2024-03-01T10:20:30.5+02:00'",
	    "createdAt < '2024-03-01T08:20:30.500Z'");
	norm(o, "createdAt < '2024-02-29 23:59Z'",
	    "createdAt < '2024-02-29T23:59:00.000Z'");
	norm(o, "updatedAt BETWEEN '2024-01-01T00:00:00-0130' AND "
	    "'2024-12-31T23:59:59.999999Z'",
	    "updatedAt BETWEEN '2024-01-01T01:30:00.000Z' AND "
	    "'2024-12-31T23:59:59.999Z'");
	norm(OC_FILTER_PRODUCTS, "category = 'audio' AND stock < 10",
	    "category = 'audio' AND stock < 10");
	norm(OC_FILTER_USERS, "role = 'admin' OR email LIKE '%@example.com'",
	    "role = 'admin' OR email LIKE '%@example.com'");
	norm(OC_FILTER_EVENTS, "type = 'order.updated' AND "
	    "changed.status = 'shipped' AND doc.totalCents > 50000",
	    "type = 'order.updated' AND changed.status = 'shipped' AND "
	    "doc.totalCents > 50000");
	norm(OC_FILTER_EVENTS, "collection IN ('products') AND op = 'update' "
	    "AND key = 'x' AND doc.items.sku = 'KB-101'",
	    "collection IN ('products') AND op = 'update' AND key = 'x' "
	    "AND doc.items.sku = 'KB-101'");
}

/* Syntax errors: position and what was expected. */
static void
test_syntax_errors(void)
{
	struct oc_filter_error e;
	struct oc_filter *f;

	/* A value parsed before the error is freed (LeakSanitizer sees). */
	f = parse("sku IN ('a'%", OC_FILTER_PRODUCTS, ALL, &e);
	ok(f == NULL, "a bad IN list after a string is refused");
	oc_filter_free(f);
	f = parse("customerId = '65f0c0ffee0000000000abcd' AND x",
	    OC_FILTER_ORDERS, ALL, &e);
	ok(f == NULL, "an error after an id value is refused");
	oc_filter_free(f);
	refused("", 0, "expected a field, '(' or NOT, found end of filter");
	refused("   ", 3, "expected a field, '(' or NOT, found end of filter");
	refused("status", 6, "expected an operator (=, !=, <>, <, <=, >, >=, "
	    "IN, BETWEEN, LIKE, ILIKE, IS) or NOT, found end of filter");
	refused("status == 'a'", 8, "expected a value (string, number, TRUE "
	    "or FALSE), found '='");
	refused("status = 'a' status = 'b'", 13,
	    "expected AND, OR or end of filter, found 'status'");
	refused("status = 'a' AND", 16,
	    "expected a field, '(' or NOT, found end of filter");
	refused("(status = 'a'", 13,
	    "expected AND, OR or ')', found end of filter");
	refused("status = 'a')", 12,
	    "expected AND, OR or end of filter, found ')'");
	refused("status = 'abc", 9, "unterminated string");
	refused("status = 'a' # x", 13, "unexpected character '#'");
	refused("status ! 'a'", 7, "unexpected character '!'");
	refused("status = \x01", 9, "unexpected character 0x01");
	refused("status = \xc3\xa9", 9, "unexpected character '\xc3\xa9'");
	refused("status = 'a\xff'", 11, "invalid UTF-8");
	refused("totalCents = 5x", 13, "malformed number");
	refused("totalCents = 5.", 13, "malformed number");
	refused("totalCents = 1" "00000000000000000000000000000000000000000"
	    "00000000000000000000000000000000000000000", 13,
	    "number too long (at most 63 characters)");
	refused("items. = 1", 6, "expected a name after '.'");
	refused("status IN 'a'", 10, "expected '(' after IN, found string 'a'");
	refused("status IN ('a' 'b')", 15, "expected ',' or ')', found "
	    "string 'b'");
	refused("status IN ()", 11, "expected a value (string, number, TRUE "
	    "or FALSE), found ')'");
	refused("totalCents BETWEEN 1 OR 2", 21,
	    "expected AND in BETWEEN, found 'OR'");
	refused("status NOT = 'a'", 11, "expected IN, BETWEEN, LIKE or ILIKE "
	    "after NOT, found '='");
	refused("status IS 'a'", 10, "expected NULL or NOT NULL, found "
	    "string 'a'");
	refused("status IS NOT 5", 14, "expected NULL, found number 5");
	refused("status LIKE 5", 12, "expected a string pattern, found "
	    "number 5");
	refused("status LIKE 'ab\\'", 12,
	    "pattern ends with an escaping '\\'");
	refused("status = 'a' AND AND", 17,
	    "expected a field, '(' or NOT, found 'AND'");
	refused("status = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' x", 44,
	    "expected AND, OR or end of filter, found 'x'");
	refused("status = 'a' AND status IN 'aaaaaaaaaaaaaaaaaaaaaaaaaaaa'",
	    27, "expected '(' after IN, found string "
	    "'aaaaaaaaaaaaaaaaaaaaaaa...");
}

/* Fields and values: unknown, hidden, and values of the wrong type. */
static void
test_typing(void)
{
	refused("color = 'red'", 0, "unknown field 'color'; orders have id, "
	    "customerId, status, totalCents, createdAt, updatedAt, "
	    "items.productId, items.sku, items.name, items.qty");
	refused("Status = 'a'", 0, "unknown field 'Status'; orders have id, "
	    "customerId, status, totalCents, createdAt, updatedAt, "
	    "items.productId, items.sku, items.name, items.qty");
	refused("_id = 'a'", 0, "unknown field '_id'; orders have id, "
	    "customerId, status, totalCents, createdAt, updatedAt, "
	    "items.productId, items.sku, items.name, items.qty");
	refused_see(OC_FILTER_PRODUCTS, CUST, "stock > 'a'", 8,
	    "field 'stock' takes a number, found string 'a'");
	refused("totalCents = TRUE", 13,
	    "field 'totalCents' takes a number, found 'TRUE'");
	refused("status = 5", 9, "field 'status' takes a string, found "
	    "number 5");
	refused("status IN ('a', 5)", 16, "field 'status' takes a string, "
	    "found number 5");
	refused("status = FALSE", 9, "field 'status' takes a string, found "
	    "'FALSE'");
	refused("id = '65f0c0ffee'", 5, "field 'id' takes an ObjectId (a "
	    "string of 24 hex digits), found string '65f0c0ffee'");
	refused("customerId = 5", 13, "field 'customerId' takes an ObjectId "
	    "(a string of 24 hex digits), found number 5");
	refused("items.productId = '65f0c0ffee000000000000zz'", 18,
	    "field 'items.productId' takes an ObjectId (a string of 24 hex "
	    "digits), found string '65f0c0ffee000000000000z...");
	refused("createdAt > 'yesterday'", 12, "field 'createdAt' takes an "
	    "ISO-8601 date string, found string 'yesterday'");
	refused("createdAt > '2023-02-29'", 12, "field 'createdAt' takes an "
	    "ISO-8601 date string, found string '2023-02-29'");
	refused("createdAt > '2024-01-01T25:00'", 12, "field 'createdAt' "
	    "takes an ISO-8601 date string, found string "
	    "'2024-01-01T25:00'");
	refused("createdAt > 1700000000", 12, "field 'createdAt' takes an "
	    "ISO-8601 date string, found number 1700000000");
	refused("totalCents LIKE '1%'", 11, "LIKE needs a string field; "
	    "'totalCents' takes a number");
	refused("id ILIKE '65%'", 3, "ILIKE needs a string field; 'id' "
	    "takes an ObjectId (a string of 24 hex digits)");
	refused_see(OC_FILTER_USERS, CUST, "email = 'a'", 0,
	    "field 'email' is not visible to this role");
	refused_see(OC_FILTER_EVENTS, CUST, "doc.status = 'a' AND "
	    "doc.email = 'a'", 21,
	    "field 'doc.email' is not visible to this role");
	refused_see(OC_FILTER_EVENTS, CUST, "doc.role = 'a'", 0,
	    "field 'doc.role' is not visible to this role");
	refused_see(OC_FILTER_EVENTS, ALL, "doc.colour = 'a'", 0,
	    "unknown field 'doc.colour'; doc.<field> and changed.<field> "
	    "take a field of orders, products or users");
	refused_see(OC_FILTER_EVENTS, ALL, "status = 'a'", 0,
	    "unknown field 'status'; events have type, collection, op, key, "
	    "doc.<field>, changed.<field>");
	refused_see(OC_FILTER_EVENTS, ALL, "doc = 'a'", 0,
	    "unknown field 'doc'; events have type, collection, op, key, "
	    "doc.<field>, changed.<field>");
	refused_see(OC_FILTER_EVENTS, ALL, "doc.totalCents = 'a'", 17,
	    "field 'doc.totalCents' takes a number, found string 'a'");
	refused_see(OC_FILTER_EVENTS, ALL, "changed.createdAt = 'a'", 20,
	    "field 'changed.createdAt' takes an ISO-8601 date string, found "
	    "string 'a'");
	norm(OC_FILTER_EVENTS, "doc.name ILIKE 'mech%'",
	    "doc.name ILIKE 'mech%'");
}

/* Append n copies of s to buf (of size cap). */
static void
repeat(char *buf, size_t cap, const char *s, int n)
{
	while (n-- > 0)
		strncat(buf, s, cap - strlen(buf) - 1);
}

/* The four limits, each just within and just past. */
static void
test_limits(void)
{
	static char buf[8192];
	struct oc_filter_error err;
	struct oc_filter *f;
	size_t pos;
	int i;

	/* 2 KiB of text. */
	memset(buf, ' ', 2048);
	memcpy(buf, "status = 'a'", 12);
	f = oc_filter_parse(buf, 2048, OC_FILTER_ORDERS, ALL, &err);
	ok(f != NULL, "2048 bytes are accepted");
	oc_filter_free(f);
	f = oc_filter_parse(buf, 2049, OC_FILTER_ORDERS, ALL, &err);
	ok(f == NULL && err.position == 2048 &&
	    strcmp(err.message, "filter longer than 2048 bytes") == 0,
	    "2049 bytes are refused at 2048");
	oc_filter_free(f);

	/* 64 predicates. */
	buf[0] = '\0';
	for (i = 0; i < 64; i++)
		repeat(buf, sizeof(buf), i ? " OR stock = 1" : "stock = 1", 1);
	f = parse(buf, OC_FILTER_PRODUCTS, ALL, &err);
	ok(f != NULL, "64 predicates are accepted");
	oc_filter_free(f);
	pos = strlen(buf) + 4;
	repeat(buf, sizeof(buf), " OR stock = 1", 1);
	refused_see(OC_FILTER_PRODUCTS, ALL, buf, pos,
	    "more than 64 predicates");

	/* 16 levels of nesting, counting NOT and parentheses. */
	buf[0] = '\0';
	repeat(buf, sizeof(buf), "(", 8);
	repeat(buf, sizeof(buf), "NOT ", 8);
	repeat(buf, sizeof(buf), "stock = 1", 1);
	repeat(buf, sizeof(buf), ")", 8);
	f = parse(buf, OC_FILTER_PRODUCTS, ALL, &err);
	ok(f != NULL && strcmp(oc_filter_text(f), "stock = 1") == 0,
	    "16 levels are accepted");
	oc_filter_free(f);
	buf[0] = '\0';
	repeat(buf, sizeof(buf), "(", 16);
	repeat(buf, sizeof(buf), "NOT stock = 1", 1);
	repeat(buf, sizeof(buf), ")", 16);
	refused_see(OC_FILTER_PRODUCTS, ALL, buf, 16,
	    "nesting deeper than 16 levels");

	/* 100 values in one IN. */
	snprintf(buf, sizeof(buf), "stock IN (0");
	for (i = 1; i < 100; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ", %d",
		    i);
	pos = strlen(buf) + 2;
	strncat(buf, ")", sizeof(buf) - strlen(buf) - 1);
	f = parse(buf, OC_FILTER_PRODUCTS, ALL, &err);
	ok(f != NULL, "100 IN values are accepted");
	oc_filter_free(f);
	buf[strlen(buf) - 1] = '\0';
	repeat(buf, sizeof(buf), ", 100)", 1);
	refused_see(OC_FILTER_PRODUCTS, ALL, buf, pos,
	    "more than 100 values in IN");
}

/* The MongoDB filters: typed values, _id, $nor, anchored regexes. */
static void
test_bson(void)
{
	enum oc_filter_target o = OC_FILTER_ORDERS;

	compiles(o, "status = 'pending'", "{ \"status\" : { \"$eq\" : "
	    "\"pending\" } }");
	compiles(o, "id = '" OID_A "'", "{ \"_id\" : { \"$eq\" : { \"$oid\" "
	    ": \"" OID_A "\" } } }");
	compiles(o, "totalCents > 50000 AND totalCents <= 1.5",
	    "{ \"$and\" : [ { \"totalCents\" : { \"$gt\" : 50000 } }, "
	    "{ \"totalCents\" : { \"$lte\" : 1.5 } } ] }");
	compiles(o, "createdAt >= '2024-03-01'", "{ \"createdAt\" : "
	    "{ \"$gte\" : { \"$date\" : \"2024-03-01T00:00:00Z\" } } }");
	compiles(o, "status != 'x'", "{ \"$or\" : [ { \"status\" : { \"$gt\" "
	    ": \"x\" } }, { \"status\" : { \"$lt\" : \"x\" } } ] }");
	compiles(o, "NOT totalCents > 5 OR status IS NULL",
	    "{ \"$or\" : [ { \"$nor\" : [ { \"totalCents\" : { \"$gt\" : 5 "
	    "} } ] }, { \"status\" : { \"$eq\" : null } } ] }");
	compiles(o, "status NOT IN ('a', 'b')", "{ \"$nor\" : [ { \"status\" "
	    ": { \"$in\" : [ \"a\", \"b\" ] } } ] }");
	compiles(o, "items.qty BETWEEN 2 AND 3", "{ \"items\" : "
	    "{ \"$elemMatch\" : { \"qty\" : { \"$gte\" : 2, \"$lte\" : 3 } "
	    "} } }");
	compiles(o, "totalCents BETWEEN 2 AND 3", "{ \"totalCents\" : "
	    "{ \"$gte\" : 2, \"$lte\" : 3 } }");
	compiles(o, "items.sku LIKE 'KB-%'", "{ \"items.sku\" : "
	    "{ \"$regularExpression\" : { \"pattern\" : \"^KB\\\\-\", "
	    "\"options\" : \"\" } } }");
	compiles(o, "items.name ILIKE '%a_b\\%.c%'", "{ \"items.name\" : "
	    "{ \"$regularExpression\" : { \"pattern\" : "
	    "\"a.b\\\\%\\\\.c\", \"options\" : \"is\" } } }");
	compiles(o, "status LIKE 'a%b(c)$'", "{ \"status\" : "
	    "{ \"$regularExpression\" : { \"pattern\" : "
	    "\"^a.*b\\\\(c\\\\)\\\\$(?!.)\", \"options\" : \"s\" } } }");
	compiles(o, "status LIKE ''", "{ \"status\" : "
	    "{ \"$regularExpression\" : { \"pattern\" : \"^(?!.)\", "
	    "\"options\" : \"s\" } } }");
	compiles(OC_FILTER_EVENTS, "doc.items.qty BETWEEN 1 AND 2 AND "
	    "type = 'order.created'", "{ \"$and\" : [ { \"doc.items\" : "
	    "{ \"$elemMatch\" : { \"qty\" : { \"$gte\" : 1, \"$lte\" : 2 } "
	    "} } }, { \"type\" : { \"$eq\" : \"order.created\" } } ] }");
}

/* Evaluation over documents as the API shows them. */
static void
test_eval(void)
{
	enum oc_filter_target o = OC_FILTER_ORDERS;
	const char *order = "{\"id\":\"" OID_A "\",\"customerId\":\"" OID_B
	    "\",\"status\":\"pending\",\"totalCents\":64997,"
	    "\"createdAt\":\"2024-03-01T10:00:00.000Z\","
	    "\"items\":[{\"productId\":\"" OID_B "\",\"sku\":\"KB-101\","
	    "\"name\":\"Mechanical Keyboard\",\"qty\":1},"
	    "{\"sku\":\"MN-303\",\"name\":\"27-inch 4K Monitor\",\"qty\":3}]}";

	admits(o, order, "status = 'pending'", true);
	admits(o, order, "status = 'Pending'", false);
	admits(o, order, "status != 'pending'", false);
	admits(o, order, "status != 'shipped'", true);
	admits(o, order, "status IN ('shipped', 'pending')", true);
	admits(o, order, "status NOT IN ('shipped', 'pending')", false);
	admits(o, order, "totalCents > 50000 AND totalCents < 64997.5", true);
	admits(o, order, "totalCents >= 64998", false);
	admits(o, order, "totalCents BETWEEN 64997 AND 64997", true);
	admits(o, order, "id = '65F0C0FFEE0000000000000A'", true);
	admits(o, order, "customerId < '" OID_A "'", false);
	admits(o, order, "createdAt >= '2024-03-01T11:00:00+01:00'", true);
	admits(o, order, "createdAt > '2024-03-01T10:00Z'", false);
	admits(o, order, "createdAt BETWEEN '2024-03-01' AND '2024-03-02'",
	    true);
	/* Arrays: any element. */
	admits(o, order, "items.sku = 'MN-303'", true);
	admits(o, order, "items.sku != 'MN-303'", true);
	admits(o, order, "items.qty > 2", true);
	admits(o, order, "items.qty BETWEEN 2 AND 2", false);
	admits(o, order, "items.productId = '" OID_B "'", true);
	admits(o, order, "items.productId IS NULL", true);
	admits(o, order, "items.productId IS NOT NULL", false);
	admits(o, order, "items.name ILIKE '%keyboard'", true);
	admits(o, order, "items.name LIKE '%keyboard'", false);
	/* Missing fields: comparisons false, IS NULL true, NOT inverts. */
	admits(o, order, "updatedAt > '2000-01-01'", false);
	admits(o, order, "updatedAt < '2000-01-01'", false);
	admits(o, order, "updatedAt != '2000-01-01'", false);
	admits(o, order, "NOT updatedAt > '2000-01-01'", true);
	admits(o, order, "updatedAt IS NULL", true);
	admits(o, order, "updatedAt NOT IN ('2000-01-01')", true);
	admits(o, "{\"status\":null}", "status IS NULL", true);
	admits(o, "{\"status\":null}", "status = ''", false);
	/* A value of another type satisfies nothing. */
	admits(o, "{\"status\":5}", "status != 'a'", false);
	admits(o, "{\"totalCents\":\"5\"}", "totalCents = 5", false);
	admits(o, "{\"id\":\"zz\"}", "id != '" OID_A "'", false);
	admits(o, "{\"createdAt\":\"soon\"}", "createdAt < '2999-01-01'",
	    false);
	/* Logic. */
	admits(o, order, "status = 'x' OR totalCents = 64997", true);
	admits(o, order, "(status = 'x' OR totalCents = 64997) AND NOT "
	    "items.sku = 'KB-101'", false);
	/* Streams: the whole event. */
	admits(OC_FILTER_EVENTS, "{\"type\":\"order.updated\","
	    "\"collection\":\"orders\",\"op\":\"update\",\"key\":\"k\","
	    "\"doc\":{\"status\":\"shipped\",\"totalCents\":70000},"
	    "\"changed\":{\"status\":\"shipped\"}}",
	    "type = 'order.updated' AND changed.status = 'shipped' AND "
	    "doc.totalCents > 50000", true);
	admits(OC_FILTER_EVENTS, "{\"type\":\"order.updated\","
	    "\"doc\":{\"status\":\"shipped\"},\"changed\":{\"qty\":1}}",
	    "changed.status = 'shipped'", false);
	admits(OC_FILTER_EVENTS, "{\"type\":\"order.deleted\",\"doc\":null}",
	    "doc.status IS NULL AND NOT doc.status = 'x'", true);
}

/* LIKE and ILIKE: wildcards, escapes, characters, hostile patterns. */
static void
test_like(void)
{
	enum oc_filter_target p = OC_FILTER_PRODUCTS;
	char pat[600], val[8192], doc[8300];
	int64_t t0;
	int i;

	admits(p, "{\"sku\":\"KB-101\"}", "sku LIKE 'KB-%'", true);
	admits(p, "{\"sku\":\"KB-101\"}", "sku LIKE 'KB-'", false);
	admits(p, "{\"sku\":\"KB-101\"}", "sku LIKE '%101'", true);
	admits(p, "{\"sku\":\"KB-101\"}", "sku LIKE '%10'", false);
	admits(p, "{\"sku\":\"KB-101\"}", "sku LIKE 'K_-1_1'", true);
	admits(p, "{\"sku\":\"KB-101\"}", "sku LIKE '_____'", false);
	admits(p, "{\"sku\":\"KB-101\"}", "sku LIKE '%'", true);
	admits(p, "{\"sku\":\"\"}", "sku LIKE ''", true);
	admits(p, "{\"sku\":\"\"}", "sku LIKE '_%'", false);
	admits(p, "{\"sku\":\"abcabd\"}", "sku LIKE '%ab_%b%'", true);
	admits(p, "{\"sku\":\"aXbXc\"}", "sku LIKE 'a%b%c'", true);
	admits(p, "{\"sku\":\"abc\"}", "sku LIKE 'a%b%bc'", false);
	admits(p, "{\"sku\":\"100%\"}", "sku LIKE '100\\%'", true);
	admits(p, "{\"sku\":\"1000\"}", "sku LIKE '100\\%'", false);
	admits(p, "{\"sku\":\"a_b\"}", "sku LIKE 'a\\_b'", true);
	admits(p, "{\"sku\":\"axb\"}", "sku LIKE 'a\\_b'", false);
	admits(p, "{\"sku\":\"a\\\\b\"}", "sku LIKE 'a\\\\b'", true);
	admits(p, "{\"sku\":\"a\\nb\"}", "sku LIKE 'a_b'", true);
	admits(p, "{\"sku\":\"ab\\n\"}", "sku LIKE 'ab'", false);
	admits(p, "{\"sku\":\"caf\xc3\xa9\"}", "sku LIKE 'caf_'", true);
	admits(p, "{\"sku\":\"CAF\xc3\x89\"}", "sku ILIKE 'caf\xc3\xa9'",
	    true);
	admits(p, "{\"sku\":\"CAF\xc3\x89\"}", "sku LIKE 'caf\xc3\xa9'",
	    false);
	admits(p, "{\"sku\":\"\xce\xa3\xce\xbf\xcf\x86\xce\xaf\xce\xb1\"}",
	    "sku ILIKE '\xcf\x83\xce\x9f%'", true);

	/* A pattern that makes backtracking matchers explode. */
	snprintf(pat, sizeof(pat), "sku LIKE '");
	for (i = 0; i < 40; i++)
		strncat(pat, "%a", sizeof(pat) - strlen(pat) - 1);
	strncat(pat, "%b'", sizeof(pat) - strlen(pat) - 1);
	memset(val, 'a', 8000);
	val[8000] = '\0';
	snprintf(doc, sizeof(doc), "{\"sku\":\"%s\"}", val);
	t0 = oc_mono_us();
	admits(p, doc, pat, false);
	ok(oc_mono_us() - t0 < 200000, "hostile LIKE pattern takes < 0.2 s");
}

int
main(void)
{
	test_grammar();
	test_syntax_errors();
	test_typing();
	test_limits();
	test_bson();
	test_eval();
	test_like();
	return tap_done();
}
