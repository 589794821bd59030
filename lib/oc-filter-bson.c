/*
 * The filter language's compiler: a parsed filter as a MongoDB query
 * document of typed values only. No $where, $expr or $function; the
 * only regex is an escaped, anchored LIKE pattern.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "oc-filter-tree.h"
#include "oc-xmalloc.h"

static void append_node(bson_t *doc, const struct ofl_node *n);

/* Append one typed literal under key. */
static void
append_value(bson_t *b, const char *key, enum ofl_type t,
    const struct ofl_value *v)
{
	bson_oid_t oid;

	switch (t) {
	case OFL_NUMBER:
		if (v->is_int)
			BSON_APPEND_INT64(b, key, v->i);
		else
			BSON_APPEND_DOUBLE(b, key, v->d);
		break;
	case OFL_BOOL:
		BSON_APPEND_BOOL(b, key, v->i != 0);
		break;
	case OFL_DATE:
		BSON_APPEND_DATE_TIME(b, key, v->i);
		break;
	case OFL_OID:
		bson_oid_init_from_string(&oid, v->s);
		BSON_APPEND_OID(b, key, &oid);
		break;
	case OFL_STRING:
		bson_append_utf8(b, key, -1, v->s, (int)v->len);
		break;
	}
}

/* Append {path: {op: value}}. */
static void
append_cmp(bson_t *doc, const char *path, const char *op,
    const struct ofl_node *n, const struct ofl_value *v)
{
	bson_t sub;

	bson_append_document_begin(doc, path, -1, &sub);
	append_value(&sub, op, n->type, v);
	bson_append_document_end(doc, &sub);
}

/* Append one code point as UTF-8, escaped when regex syntax. */
static size_t
regex_char(char *out, uint32_t cp)
{
	size_t n = 0;

	if (cp < 0x80) {
		if (!((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
		    (cp >= 'A' && cp <= 'Z')))
			out[n++] = '\\';
		out[n++] = (char)cp;
	} else if (cp < 0x800) {
		out[n++] = (char)(0xc0 | cp >> 6);
		out[n++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[n++] = (char)(0xe0 | cp >> 12);
		out[n++] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[n++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[n++] = (char)(0xf0 | cp >> 18);
		out[n++] = (char)(0x80 | (cp >> 12 & 0x3f));
		out[n++] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[n++] = (char)(0x80 | (cp & 0x3f));
	}
	return n;
}

/*
 * The regex of a LIKE pattern: every character escaped, '_' as '.',
 * '%' as '.*' with the s option (so both cross newlines), anchored at
 * the start with ^ (MongoDB then uses an index for a plain prefix) and
 * at the very end with (?!.) ($ would also match before a last
 * newline). A leading or trailing % drops its anchor. The i option is
 * added for ILIKE.
 */
static void
append_like(bson_t *doc, const struct ofl_node *n)
{
	const struct ofl_atom *a = n->atoms;
	size_t na = n->natoms, i, o = 0;
	char *re = xmalloc(na * 5 + 16);
	char opts[3];
	size_t no = 0;
	bool dot = false;

	if (na == 0 || a[0].kind != OFL_ATOM_ANY)
		re[o++] = '^';
	for (i = 0; i < na; i++) {
		switch (a[i].kind) {
		case OFL_ATOM_ANY:
			if (i == 0 || i == na - 1)
				break;
			memcpy(re + o, ".*", 2);
			o += 2;
			dot = true;
			break;
		case OFL_ATOM_ONE:
			re[o++] = '.';
			dot = true;
			break;
		default:
			o += regex_char(re + o, a[i].cp);
			break;
		}
	}
	if (na == 0 || a[na - 1].kind != OFL_ATOM_ANY) {
		memcpy(re + o, "(?!.)", 5);
		o += 5;
		dot = true;
	}
	re[o] = '\0';
	if (n->op == OFL_ILIKE)
		opts[no++] = 'i';
	if (dot)
		opts[no++] = 's';
	opts[no] = '\0';
	BSON_APPEND_REGEX(doc, n->mongo, re, opts);
	free(re);
}

/*
 * BETWEEN on a field inside an array: both bounds must hold for one
 * element, so {array: {$elemMatch: {rest: {$gte, $lte}}}}.
 */
static void
append_between(bson_t *doc, const struct ofl_node *n)
{
	const char *path = n->mongo;
	char *array = NULL;
	bson_t outer, em, inner, *at = doc;
	size_t alen;

	if (n->field->array != NULL) {
		alen = strlen(n->mongo) - strlen(n->field->name) +
		    strlen(n->field->array);
		array = xstrndup(n->mongo, alen);
		path = n->mongo + alen + 1;
		bson_append_document_begin(doc, array, -1, &outer);
		bson_append_document_begin(&outer, "$elemMatch", -1, &em);
		at = &em;
	}
	bson_append_document_begin(at, path, -1, &inner);
	append_value(&inner, "$gte", n->type, &n->vals[0]);
	append_value(&inner, "$lte", n->type, &n->vals[1]);
	bson_append_document_end(at, &inner);
	if (array != NULL) {
		bson_append_document_end(&outer, &em);
		bson_append_document_end(doc, &outer);
	}
	free(array);
}

/*
 * != is "a value of the field's type other than v", which is
 * {$or: [{$gt: v}, {$lt: v}]}: false when the field is missing (unlike
 * $ne) and true when any element of an array differs.
 */
static void
append_ne(bson_t *doc, const struct ofl_node *n)
{
	bson_t arr, alt;

	bson_append_array_begin(doc, "$or", -1, &arr);
	bson_append_document_begin(&arr, "0", -1, &alt);
	append_cmp(&alt, n->mongo, "$gt", n, &n->vals[0]);
	bson_append_document_end(&arr, &alt);
	bson_append_document_begin(&arr, "1", -1, &alt);
	append_cmp(&alt, n->mongo, "$lt", n, &n->vals[0]);
	bson_append_document_end(&arr, &alt);
	bson_append_array_end(doc, &arr);
}

/* Append a predicate's condition to doc. */
static void
append_pred(bson_t *doc, const struct ofl_node *n)
{
	static const char *const ops[] = { "$eq", NULL, "$lt", "$lte", "$gt",
	    "$gte" };
	bson_t sub, arr;
	char key[16];
	const char *k;
	size_t i;

	switch (n->op) {
	case OFL_NE:
		append_ne(doc, n);
		return;
	case OFL_IN:
		bson_append_document_begin(doc, n->mongo, -1, &sub);
		bson_append_array_begin(&sub, "$in", -1, &arr);
		for (i = 0; i < n->nvals; i++) {
			bson_uint32_to_string((uint32_t)i, &k, key,
			    sizeof(key));
			append_value(&arr, k, n->type, &n->vals[i]);
		}
		bson_append_array_end(&sub, &arr);
		bson_append_document_end(doc, &sub);
		return;
	case OFL_BETWEEN:
		append_between(doc, n);
		return;
	case OFL_LIKE:
	case OFL_ILIKE:
		append_like(doc, n);
		return;
	case OFL_NULL:
		bson_append_document_begin(doc, n->mongo, -1, &sub);
		BSON_APPEND_NULL(&sub, "$eq");
		bson_append_document_end(doc, &sub);
		return;
	default:
		append_cmp(doc, n->mongo, ops[n->op], n, &n->vals[0]);
		return;
	}
}

/* Append {op: [kid, ...]} for AND ($and), OR ($or) or NOT ($nor). */
static void
append_list(bson_t *doc, const char *op, const struct ofl_node *n)
{
	bson_t arr, sub;
	char key[16];
	const char *k;
	size_t i;

	bson_append_array_begin(doc, op, -1, &arr);
	for (i = 0; i < n->nkids; i++) {
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		bson_append_document_begin(&arr, k, -1, &sub);
		append_node(&sub, n->kids[i]);
		bson_append_document_end(&arr, &sub);
	}
	bson_append_array_end(doc, &arr);
}

/*
 * Append the condition of a node. NOT is $nor: two-valued, so NOT of a
 * comparison admits documents without the field.
 */
static void
append_node(bson_t *doc, const struct ofl_node *n)
{
	switch (n->kind) {
	case OFL_AND:
		append_list(doc, "$and", n);
		break;
	case OFL_OR:
		append_list(doc, "$or", n);
		break;
	case OFL_NOT:
		append_list(doc, "$nor", n);
		break;
	case OFL_PRED:
		append_pred(doc, n);
		break;
	}
}

void
oc_filter_to_bson(const struct oc_filter *f, bson_t *out)
{
	append_node(out, f->root);
}
