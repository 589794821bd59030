/*
 * The filter language's parser: text to a typed tree (oc-filter-tree.h),
 * the fields of each target, and the normalised text of a tree.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oc-filter-tree.h"
#include "oc-json.h"
#include "oc-xmalloc.h"

#define SEE_O	OC_FILTER_SEE_ORDERS
#define SEE_P	OC_FILTER_SEE_PRODUCTS
#define SEE_U	OC_FILTER_SEE_USERS

static const struct ofl_field order_fields[] = {
	{ "id", "_id", NULL, OFL_OID, SEE_O },
	{ "customerId", "customerId", NULL, OFL_OID, SEE_O },
	{ "status", "status", NULL, OFL_STRING, SEE_O },
	{ "totalCents", "totalCents", NULL, OFL_NUMBER, SEE_O },
	{ "createdAt", "createdAt", NULL, OFL_DATE, SEE_O },
	{ "updatedAt", "updatedAt", NULL, OFL_DATE, SEE_O },
	{ "items.productId", "items.productId", "items", OFL_OID, SEE_O },
	{ "items.sku", "items.sku", "items", OFL_STRING, SEE_O },
	{ "items.name", "items.name", "items", OFL_STRING, SEE_O },
	{ "items.qty", "items.qty", "items", OFL_NUMBER, SEE_O },
	{ NULL, NULL, NULL, OFL_STRING, 0 }
};

static const struct ofl_field product_fields[] = {
	{ "id", "_id", NULL, OFL_OID, SEE_P },
	{ "sku", "sku", NULL, OFL_STRING, SEE_P },
	{ "name", "name", NULL, OFL_STRING, SEE_P },
	{ "category", "category", NULL, OFL_STRING, SEE_P },
	{ "priceCents", "priceCents", NULL, OFL_NUMBER, SEE_P },
	{ "stock", "stock", NULL, OFL_NUMBER, SEE_P },
	{ "updatedAt", "updatedAt", NULL, OFL_DATE, SEE_P },
	{ NULL, NULL, NULL, OFL_STRING, 0 }
};

static const struct ofl_field user_fields[] = {
	{ "id", "_id", NULL, OFL_OID, SEE_U },
	{ "name", "name", NULL, OFL_STRING, SEE_U },
	{ "email", "email", NULL, OFL_STRING, SEE_U },
	{ "role", "role", NULL, OFL_STRING, SEE_U },
	{ "createdAt", "createdAt", NULL, OFL_DATE, SEE_U },
	{ NULL, NULL, NULL, OFL_STRING, 0 }
};

static const struct ofl_field event_fields[] = {
	{ "type", "type", NULL, OFL_STRING, 0 },
	{ "collection", "collection", NULL, OFL_STRING, 0 },
	{ "op", "op", NULL, OFL_STRING, 0 },
	{ "key", "key", NULL, OFL_STRING, 0 },
	{ NULL, NULL, NULL, OFL_STRING, 0 }
};

/* The collections whose fields doc.* and changed.* name, in order. */
static const struct {
	const char		*name;
	const struct ofl_field	*fields;
} collections[] = {
	{ "orders", order_fields },
	{ "products", product_fields },
	{ "users", user_fields },
};

#define NCOLLECTIONS (sizeof(collections) / sizeof(collections[0]))

enum tok_kind {
	T_END,
	T_NAME,
	T_KEYWORD,
	T_STRING,
	T_NUMBER,
	T_OP,
	T_LPAREN,
	T_RPAREN,
	T_COMMA
};

enum keyword {
	K_AND,
	K_OR,
	K_NOT,
	K_IN,
	K_BETWEEN,
	K_LIKE,
	K_ILIKE,
	K_IS,
	K_NULL,
	K_TRUE,
	K_FALSE
};

static const char *const keywords[] = {
	"AND", "OR", "NOT", "IN", "BETWEEN", "LIKE", "ILIKE", "IS", "NULL",
	"TRUE", "FALSE"
};

#define NKEYWORDS (sizeof(keywords) / sizeof(keywords[0]))

struct token {
	enum tok_kind	 kind;
	size_t		 pos;
	size_t		 len;
	enum keyword	 kw;		/* T_KEYWORD */
	enum ofl_op	 op;		/* T_OP */
};

struct parser {
	const char		*text;
	size_t			 len;
	size_t			 at;		/* next byte to lex */
	struct token		 tok;		/* the current token */
	enum oc_filter_target	 target;
	unsigned		 see;
	size_t			 npreds;
	int			 depth;
	bool			 failed;
	struct oc_filter_error	*err;
};

/* A growable string for the normalised text. */
struct sbuf {
	char	*buf;
	size_t	 len;
	size_t	 cap;
};

static void node_free(struct ofl_node *n);

/* Record the first error only: later ones follow from it. */
static void __attribute__((format(printf, 3, 4)))
fail_at(struct parser *p, size_t pos, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	p->err->position = pos;
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
	va_end(ap);
}

/* Is c a byte that may start a name? */
static bool
name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Is c a byte that may continue a name? */
static bool
name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

/* Is c a decimal digit? */
static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The keyword that text[0..len) spells in any case, or -1. */
static int
keyword_of(const char *s, size_t len)
{
	size_t k;

	for (k = 0; k < NKEYWORDS; k++) {
		if (strlen(keywords[k]) == len &&
		    strncasecmp(keywords[k], s, len) == 0)
			return (int)k;
	}
	return -1;
}

/* Lex a quoted string starting at p->at (a quote). */
static bool
lex_string(struct parser *p)
{
	size_t i = p->at + 1;

	for (;;) {
		if (i >= p->len) {
			fail_at(p, p->at, "unterminated string");
			return false;
		}
		if (p->text[i] == '\'') {
			if (i + 1 < p->len && p->text[i + 1] == '\'') {
				i += 2;
				continue;
			}
			break;
		}
		i++;
	}
	p->tok.kind = T_STRING;
	p->tok.len = i + 1 - p->at;
	return true;
}

/* Lex a number: -?digits(.digits)?, not followed by a name byte. */
static bool
lex_number(struct parser *p)
{
	size_t i = p->at;

	if (p->text[i] == '-')
		i++;
	while (i < p->len && is_digit(p->text[i]))
		i++;
	if (i + 1 < p->len && p->text[i] == '.' && is_digit(p->text[i + 1])) {
		i++;
		while (i < p->len && is_digit(p->text[i]))
			i++;
	}
	if (i < p->len && (name_char(p->text[i]) || p->text[i] == '.')) {
		fail_at(p, p->at, "malformed number");
		return false;
	}
	p->tok.kind = T_NUMBER;
	p->tok.len = i - p->at;
	return true;
}

/* Lex a field name (dotted) or a keyword. */
static bool
lex_name(struct parser *p)
{
	size_t i = p->at;
	int kw;

	for (;;) {
		while (i < p->len && name_char(p->text[i]))
			i++;
		if (i >= p->len || p->text[i] != '.')
			break;
		if (i + 1 >= p->len || !name_start(p->text[i + 1])) {
			fail_at(p, i + 1, "expected a name after '.'");
			return false;
		}
		i++;
	}
	p->tok.len = i - p->at;
	kw = keyword_of(p->text + p->at, p->tok.len);
	if (kw >= 0) {
		p->tok.kind = T_KEYWORD;
		p->tok.kw = (enum keyword)kw;
	} else
		p->tok.kind = T_NAME;
	return true;
}

/* Lex one of = != <> < <= > >=. */
static bool
lex_operator(struct parser *p)
{
	const char *s = p->text + p->at;
	size_t rest = p->len - p->at;
	char c1 = rest > 1 ? s[1] : '\0';

	p->tok.kind = T_OP;
	p->tok.len = 1;
	switch (s[0]) {
	case '=':
		p->tok.op = OFL_EQ;
		return true;
	case '!':
		if (c1 == '=') {
			p->tok.op = OFL_NE;
			p->tok.len = 2;
			return true;
		}
		break;
	case '<':
		if (c1 == '=' || c1 == '>') {
			p->tok.op = c1 == '=' ? OFL_LE : OFL_NE;
			p->tok.len = 2;
		} else
			p->tok.op = OFL_LT;
		return true;
	case '>':
		if (c1 == '=') {
			p->tok.op = OFL_GE;
			p->tok.len = 2;
		} else
			p->tok.op = OFL_GT;
		return true;
	}
	return false;
}

/* Report a byte that starts no token. */
static void
fail_character(struct parser *p)
{
	unsigned char c = (unsigned char)p->text[p->at];
	uint32_t cp;
	size_t n;

	if (c >= 0x21 && c < 0x7f)
		fail_at(p, p->at, "unexpected character '%c'", c);
	else if (c < 0x80)
		fail_at(p, p->at, "unexpected character 0x%02x", c);
	else {
		n = ofl_utf8_next((const unsigned char *)p->text + p->at,
		    p->len - p->at, &cp);
		fail_at(p, p->at, "unexpected character '%.*s'", (int)n,
		    p->text + p->at);
	}
}

/* Move to the next token; false (error recorded) on a lexical error. */
static bool
next(struct parser *p)
{
	char c;

	if (p->failed)
		return false;
	p->at += p->tok.len;
	while (p->at < p->len && (p->text[p->at] == ' ' ||
	    p->text[p->at] == '\t' || p->text[p->at] == '\n' ||
	    p->text[p->at] == '\r'))
		p->at++;
	p->tok.pos = p->at;
	p->tok.len = 0;
	if (p->at >= p->len) {
		p->tok.kind = T_END;
		return true;
	}
	c = p->text[p->at];
	if (c == '\'')
		return lex_string(p);
	if (is_digit(c) || (c == '-' && p->at + 1 < p->len &&
	    is_digit(p->text[p->at + 1])))
		return lex_number(p);
	if (name_start(c))
		return lex_name(p);
	p->tok.len = 1;
	switch (c) {
	case '(':
		p->tok.kind = T_LPAREN;
		return true;
	case ')':
		p->tok.kind = T_RPAREN;
		return true;
	case ',':
		p->tok.kind = T_COMMA;
		return true;
	}
	if (lex_operator(p))
		return true;
	p->tok.len = 0;
	fail_character(p);
	return false;
}

/*
 * Describe the current token for "found ..." in a message: at most 24
 * bytes of its text, cut at a character boundary.
 */
static void
describe(const struct parser *p, char *buf, size_t buflen)
{
	const char *s = p->text + p->tok.pos;
	size_t n = p->tok.len, cut = 0, step;
	uint32_t cp;

	if (p->tok.kind == T_END) {
		snprintf(buf, buflen, "end of filter");
		return;
	}
	while (cut < n) {
		step = ofl_utf8_next((const unsigned char *)s + cut, n - cut,
		    &cp);
		if (cut + step > 24)
			break;
		cut += step;
	}
	if (p->tok.kind == T_STRING)
		snprintf(buf, buflen, "string %.*s%s", (int)cut, s,
		    cut < n ? "..." : "");
	else if (p->tok.kind == T_NUMBER)
		snprintf(buf, buflen, "number %.*s%s", (int)cut, s,
		    cut < n ? "..." : "");
	else
		snprintf(buf, buflen, "'%.*s%s'", (int)cut, s,
		    cut < n ? "..." : "");
}

/* Fail at the current token: "expected WHAT, found TOKEN". */
static void
expected(struct parser *p, const char *what)
{
	char found[64];

	describe(p, found, sizeof(found));
	fail_at(p, p->tok.pos, "expected %s, found %s", what, found);
}

/* Is the current token the keyword kw? */
static bool
is_kw(const struct parser *p, enum keyword kw)
{
	return p->tok.kind == T_KEYWORD && p->tok.kw == kw;
}

/* The text of the current string token without quotes, '' undone. */
static char *
string_value(const struct parser *p, size_t *lenp)
{
	const char *s = p->text + p->tok.pos + 1;
	size_t n = p->tok.len - 2, i, o = 0;
	char *out = xmalloc(n + 1);

	for (i = 0; i < n; i++) {
		out[o++] = s[i];
		if (s[i] == '\'')
			i++;
	}
	out[o] = '\0';
	*lenp = o;
	return out;
}

/* Find name in a field table, or NULL. */
static const struct ofl_field *
table_find(const struct ofl_field *t, const char *name, size_t len)
{
	for (; t->name != NULL; t++) {
		if (strlen(t->name) == len && memcmp(t->name, name, len) == 0)
			return t;
	}
	return NULL;
}

/* Are all the flags the field needs held? */
static bool
visible(const struct parser *p, const struct ofl_field *f)
{
	return (f->need & ~p->see) == 0;
}

/* The field table of a collection target. */
static const struct ofl_field *
target_table(enum oc_filter_target t)
{
	switch (t) {
	case OC_FILTER_ORDERS:
		return order_fields;
	case OC_FILTER_PRODUCTS:
		return product_fields;
	case OC_FILTER_USERS:
		return user_fields;
	case OC_FILTER_EVENTS:
		break;
	}
	return event_fields;
}

/* Fail on an unknown field, listing the visible ones of the table. */
static void
fail_unknown(struct parser *p, const struct ofl_field *t, const char *what)
{
	char list[160];
	size_t n = 0;
	int w;

	list[0] = '\0';
	for (; t->name != NULL; t++) {
		if (!visible(p, t))
			continue;
		w = snprintf(list + n, sizeof(list) - n, "%s%s",
		    n > 0 ? ", " : "", t->name);
		if (w < 0 || (size_t)w >= sizeof(list) - n)
			break;
		n += (size_t)w;
	}
	fail_at(p, p->tok.pos, "unknown field '%.*s'; %s have %s%s",
	    (int)p->tok.len, p->text + p->tok.pos, what, list,
	    p->target == OC_FILTER_EVENTS ?
	    ", doc.<field>, changed.<field>" : "");
}

/* Split a dotted path into its parts. */
static void
split_path(struct ofl_node *n, const char *path)
{
	const char *s = path, *dot;
	size_t count = 1, i;

	for (dot = path; *dot != '\0'; dot++)
		if (*dot == '.')
			count++;
	n->parts = xcalloc(count, sizeof(*n->parts));
	n->nparts = count;
	for (i = 0; i < count; i++) {
		dot = strchr(s, '.');
		if (dot == NULL)
			dot = s + strlen(s);
		n->parts[i] = xstrndup(s, (size_t)(dot - s));
		s = *dot == '.' ? dot + 1 : dot;
	}
}

/*
 * doc.<field> or changed.<field> of an event: a field of any collection
 * the role sees (a field has the same type in every collection).
 */
static const struct ofl_field *
event_doc_field(struct parser *p, const char *name, size_t len)
{
	const struct ofl_field *f, *found = NULL;
	bool hidden = false;
	size_t c;

	for (c = 0; c < NCOLLECTIONS && found == NULL; c++) {
		f = table_find(collections[c].fields, name, len);
		if (f == NULL)
			continue;
		if (visible(p, f))
			found = f;
		else
			hidden = true;
	}
	if (found == NULL && hidden)
		fail_at(p, p->tok.pos, "field '%.*s' is not visible to "
		    "this role", (int)p->tok.len, p->text + p->tok.pos);
	else if (found == NULL)
		fail_at(p, p->tok.pos, "unknown field '%.*s'; doc.<field> "
		    "and changed.<field> take a field of orders, products "
		    "or users", (int)p->tok.len, p->text + p->tok.pos);
	return found;
}

/* Resolve the current name token into the predicate's field and paths. */
static bool
resolve_field(struct parser *p, struct ofl_node *n)
{
	const char *name = p->text + p->tok.pos;
	size_t len = p->tok.len, plen = 0;
	const struct ofl_field *f;

	if (p->target == OC_FILTER_EVENTS) {
		if (len > 4 && memcmp(name, "doc.", 4) == 0)
			plen = 4;
		else if (len > 8 && memcmp(name, "changed.", 8) == 0)
			plen = 8;
	}
	if (plen > 0)
		f = event_doc_field(p, name + plen, len - plen);
	else {
		f = table_find(target_table(p->target), name, len);
		if (f == NULL)
			fail_unknown(p, target_table(p->target),
			    p->target == OC_FILTER_EVENTS ? "events" :
			    p->target == OC_FILTER_ORDERS ? "orders" :
			    p->target == OC_FILTER_PRODUCTS ? "products" :
			    "users");
		else if (!visible(p, f)) {
			fail_at(p, p->tok.pos, "field '%.*s' is not visible "
			    "to this role", (int)len, name);
			f = NULL;
		}
	}
	if (f == NULL)
		return false;
	n->field = f;
	n->type = f->type;
	n->name = xstrndup(name, len);
	if (p->target == OC_FILTER_EVENTS) {
		n->mongo = xstrdup(n->name);
		split_path(n, n->name);
	} else {
		n->mongo = xstrdup(f->mongo);
		split_path(n, f->name);
	}
	return true;
}

/* The name of a type in "field 'x' takes ...". */
static const char *
type_phrase(enum ofl_type t)
{
	switch (t) {
	case OFL_STRING:
		return "a string";
	case OFL_NUMBER:
		return "a number";
	case OFL_OID:
		return "an ObjectId (a string of 24 hex digits)";
	case OFL_DATE:
		return "an ISO-8601 date string";
	case OFL_BOOL:
		return "TRUE or FALSE";
	}
	return "a value";
}

/* Fail: the value at the current token does not fit the field's type. */
static void
fail_type(struct parser *p, const struct ofl_node *n)
{
	char found[64];

	describe(p, found, sizeof(found));
	fail_at(p, p->tok.pos, "field '%s' takes %s, found %s", n->name,
	    type_phrase(n->type), found);
}

/* Convert the current number token into v. */
static bool
number_value(struct parser *p, struct ofl_value *v)
{
	char buf[64];
	char *end;
	const char *s = p->text + p->tok.pos;
	size_t n = p->tok.len;

	if (n >= sizeof(buf)) {
		fail_at(p, p->tok.pos, "number too long (at most %zu "
		    "characters)", sizeof(buf) - 1);
		return false;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (memchr(buf, '.', n) == NULL) {
		errno = 0;
		v->i = strtoll(buf, &end, 10);
		if (errno == 0 && *end == '\0') {
			v->is_int = true;
			v->d = (double)v->i;
			return true;
		}
	}
	errno = 0;
	v->d = strtod(buf, &end);
	if (errno == ERANGE || *end != '\0') {
		fail_at(p, p->tok.pos, "number out of range");
		return false;
	}
	v->is_int = false;
	return true;
}

/* Is s[0..len) exactly 24 hex digits? */
static bool
is_oid_text(const char *s, size_t len)
{
	size_t i;

	if (len != 24)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!(is_digit(c) || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* Parse the current token as a value of the predicate's type into v. */
static bool
parse_value(struct parser *p, const struct ofl_node *n, struct ofl_value *v)
{
	size_t i;

	if (p->tok.kind != T_STRING && p->tok.kind != T_NUMBER &&
	    !is_kw(p, K_TRUE) && !is_kw(p, K_FALSE)) {
		expected(p, "a value (string, number, TRUE or FALSE)");
		return false;
	}
	switch (n->type) {
	case OFL_NUMBER:
		if (p->tok.kind != T_NUMBER)
			goto bad;
		if (!number_value(p, v))
			return false;
		break;
	case OFL_BOOL:
		if (p->tok.kind != T_KEYWORD)
			goto bad;
		v->is_int = true;
		v->i = p->tok.kw == K_TRUE;
		break;
	case OFL_STRING:
	case OFL_OID:
	case OFL_DATE:
		if (p->tok.kind != T_STRING)
			goto bad;
		v->s = string_value(p, &v->len);
		if (n->type == OFL_OID) {
			if (!is_oid_text(v->s, v->len))
				goto bad;
			for (i = 0; i < v->len; i++)
				if (v->s[i] >= 'A' && v->s[i] <= 'F')
					v->s[i] = (char)(v->s[i] + 32);
		} else if (n->type == OFL_DATE) {
			if (!ofl_parse_date(v->s, v->len, &v->i))
				goto bad;
		}
		break;
	}
	if (next(p))
		return true;
	goto fail;
bad:
	fail_type(p, n);
fail:
	/* The caller does not count a value that failed: free it here. */
	free(v->s);
	v->s = NULL;
	v->len = 0;
	return false;
}

/* Compile the LIKE pattern of the current string token into n->atoms. */
static bool
parse_pattern(struct parser *p, struct ofl_node *n)
{
	const unsigned char *s;
	size_t len, i = 0, step;
	uint32_t cp;
	struct ofl_atom *a;

	if (p->tok.kind != T_STRING) {
		expected(p, "a string pattern");
		return false;
	}
	n->pattern = string_value(p, &n->patlen);
	n->atoms = xcalloc(n->patlen + 1, sizeof(*n->atoms));
	s = (const unsigned char *)n->pattern;
	len = n->patlen;
	while (i < len) {
		step = ofl_utf8_next(s + i, len - i, &cp);
		a = &n->atoms[n->natoms];
		i += step;
		if (cp == '%') {
			if (n->natoms > 0 && a[-1].kind == OFL_ATOM_ANY)
				continue;
			a->kind = OFL_ATOM_ANY;
			n->natoms++;
			continue;
		}
		if (cp == '_') {
			a->kind = OFL_ATOM_ONE;
			n->natoms++;
			continue;
		}
		if (cp == '\\') {
			if (i >= len) {
				fail_at(p, p->tok.pos, "pattern ends with "
				    "an escaping '\\'");
				return false;
			}
			i += ofl_utf8_next(s + i, len - i, &cp);
		}
		a->kind = OFL_ATOM_CHAR;
		a->cp = n->op == OFL_ILIKE ? ofl_fold(cp) : cp;
		n->natoms++;
	}
	return next(p);
}

/* Parse "( value {, value} )" after IN. */
static bool
parse_in_list(struct parser *p, struct ofl_node *n)
{
	size_t cap = 4;

	if (p->tok.kind != T_LPAREN) {
		expected(p, "'(' after IN");
		return false;
	}
	if (!next(p))
		return false;
	n->vals = xcalloc(cap, sizeof(*n->vals));
	for (;;) {
		if (n->nvals == OC_FILTER_MAX_IN) {
			fail_at(p, p->tok.pos, "more than %d values in IN",
			    OC_FILTER_MAX_IN);
			return false;
		}
		if (n->nvals == cap) {
			n->vals = xreallocarray(n->vals, cap * 2,
			    sizeof(*n->vals));
			memset(n->vals + cap, 0, cap * sizeof(*n->vals));
			cap *= 2;
		}
		if (!parse_value(p, n, &n->vals[n->nvals]))
			return false;
		n->nvals++;
		if (p->tok.kind == T_RPAREN)
			return next(p);
		if (p->tok.kind != T_COMMA) {
			expected(p, "',' or ')'");
			return false;
		}
		if (!next(p))
			return false;
	}
}

/* Wrap n in a NOT node. */
static struct ofl_node *
negate(struct ofl_node *n)
{
	struct ofl_node *not;

	if (n->kind == OFL_NOT) {
		not = n->kids[0];
		n->nkids = 0;
		node_free(n);
		return not;
	}
	not = xcalloc(1, sizeof(*not));
	not->kind = OFL_NOT;
	not->kids = xcalloc(1, sizeof(*not->kids));
	not->kids[0] = n;
	not->nkids = 1;
	return not;
}

/* Parse what follows the field of a predicate into n. */
static bool
parse_pred_rest(struct parser *p, struct ofl_node *n, bool *negated)
{
	*negated = false;
	if (p->tok.kind == T_OP) {
		n->op = p->tok.op;
		n->vals = xcalloc(1, sizeof(*n->vals));
		n->nvals = 1;
		return next(p) && parse_value(p, n, &n->vals[0]);
	}
	if (is_kw(p, K_IS)) {
		n->op = OFL_NULL;
		if (!next(p))
			return false;
		if (is_kw(p, K_NOT)) {
			*negated = true;
			if (!next(p))
				return false;
		}
		if (!is_kw(p, K_NULL)) {
			expected(p, *negated ? "NULL" : "NULL or NOT NULL");
			return false;
		}
		return next(p);
	}
	if (is_kw(p, K_NOT)) {
		*negated = true;
		if (!next(p))
			return false;
	}
	if (is_kw(p, K_IN)) {
		n->op = OFL_IN;
		return next(p) && parse_in_list(p, n);
	}
	if (is_kw(p, K_BETWEEN)) {
		n->op = OFL_BETWEEN;
		n->vals = xcalloc(2, sizeof(*n->vals));
		n->nvals = 2;
		if (!next(p) || !parse_value(p, n, &n->vals[0]))
			return false;
		if (!is_kw(p, K_AND)) {
			expected(p, "AND in BETWEEN");
			return false;
		}
		return next(p) && parse_value(p, n, &n->vals[1]);
	}
	if (is_kw(p, K_LIKE) || is_kw(p, K_ILIKE)) {
		n->op = is_kw(p, K_LIKE) ? OFL_LIKE : OFL_ILIKE;
		if (n->type != OFL_STRING) {
			fail_at(p, p->tok.pos, "%s needs a string field; "
			    "'%s' takes %s", n->op == OFL_LIKE ? "LIKE" :
			    "ILIKE", n->name, type_phrase(n->type));
			return false;
		}
		return next(p) && parse_pattern(p, n);
	}
	expected(p, *negated ? "IN, BETWEEN, LIKE or ILIKE after NOT" :
	    "an operator (=, !=, <>, <, <=, >, >=, IN, BETWEEN, LIKE, "
	    "ILIKE, IS) or NOT");
	return false;
}

/* pred := field cmp value | field [NOT] IN ... | ... | field IS [NOT] NULL */
static struct ofl_node *
parse_pred(struct parser *p)
{
	struct ofl_node *n;
	bool negated;

	if (++p->npreds > OC_FILTER_MAX_PREDS) {
		fail_at(p, p->tok.pos, "more than %d predicates",
		    OC_FILTER_MAX_PREDS);
		return NULL;
	}
	n = xcalloc(1, sizeof(*n));
	n->kind = OFL_PRED;
	if (!resolve_field(p, n) || !next(p) ||
	    !parse_pred_rest(p, n, &negated)) {
		node_free(n);
		return NULL;
	}
	return negated ? negate(n) : n;
}

static struct ofl_node *parse_expr(struct parser *p);

/* Enter one level of nesting at the current token. */
static bool
enter(struct parser *p)
{
	if (++p->depth > OC_FILTER_MAX_DEPTH) {
		fail_at(p, p->tok.pos, "nesting deeper than %d levels",
		    OC_FILTER_MAX_DEPTH);
		return false;
	}
	return next(p);
}

/* factor := NOT factor | '(' expr ')' | pred */
static struct ofl_node *
parse_factor(struct parser *p)
{
	struct ofl_node *n;

	if (is_kw(p, K_NOT)) {
		if (!enter(p))
			return NULL;
		n = parse_factor(p);
		p->depth--;
		return n == NULL ? NULL : negate(n);
	}
	if (p->tok.kind == T_LPAREN) {
		if (!enter(p))
			return NULL;
		n = parse_expr(p);
		p->depth--;
		if (n == NULL)
			return NULL;
		if (p->tok.kind != T_RPAREN) {
			expected(p, "AND, OR or ')'");
			node_free(n);
			return NULL;
		}
		if (!next(p)) {
			node_free(n);
			return NULL;
		}
		return n;
	}
	if (p->tok.kind == T_NAME)
		return parse_pred(p);
	expected(p, "a field, '(' or NOT");
	return NULL;
}

/* Add kid to an AND/OR node of the same kind, merging a nested one. */
static void
add_kid(struct ofl_node *n, struct ofl_node *kid, size_t *cap)
{
	size_t i;

	if (kid->kind == n->kind) {
		for (i = 0; i < kid->nkids; i++)
			add_kid(n, kid->kids[i], cap);
		kid->nkids = 0;
		node_free(kid);
		return;
	}
	if (n->nkids == *cap) {
		*cap = *cap == 0 ? 4 : *cap * 2;
		n->kids = xreallocarray(n->kids, *cap, sizeof(*n->kids));
	}
	n->kids[n->nkids++] = kid;
}

/* Parse operands joined by kw (AND or OR) with sub for each operand. */
static struct ofl_node *
parse_chain(struct parser *p, enum keyword kw, enum ofl_kind kind,
    struct ofl_node *(*sub)(struct parser *))
{
	struct ofl_node *first, *kid, *n;
	size_t cap = 0;

	first = sub(p);
	if (first == NULL || !is_kw(p, kw))
		return first;
	n = xcalloc(1, sizeof(*n));
	n->kind = kind;
	add_kid(n, first, &cap);
	while (is_kw(p, kw)) {
		kid = next(p) ? sub(p) : NULL;
		if (kid == NULL) {
			node_free(n);
			return NULL;
		}
		add_kid(n, kid, &cap);
	}
	return n;
}

/* term := factor { AND factor } */
static struct ofl_node *
parse_term(struct parser *p)
{
	return parse_chain(p, K_AND, OFL_AND, parse_factor);
}

/* expr := term { OR term } */
static struct ofl_node *
parse_expr(struct parser *p)
{
	return parse_chain(p, K_OR, OFL_OR, parse_term);
}

/* Free a node and everything below it. */
static void
node_free(struct ofl_node *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n->mongo);
	for (i = 0; i < n->nparts; i++)
		free(n->parts[i]);
	free(n->parts);
	for (i = 0; i < n->nvals; i++)
		free(n->vals[i].s);
	free(n->vals);
	free(n->pattern);
	free(n->atoms);
	free(n);
}

/* Append len bytes to b. */
static void
sb_add(struct sbuf *b, const char *s, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		while (b->len + len + 1 > b->cap)
			b->cap = b->cap == 0 ? 128 : b->cap * 2;
		b->buf = xreallocarray(b->buf, b->cap, 1);
	}
	memcpy(b->buf + b->len, s, len);
	b->len += len;
	b->buf[b->len] = '\0';
}

/* Append a C string to b. */
static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* Append a quoted string, doubling its quotes. */
static void
sb_quoted(struct sbuf *b, const char *s, size_t len)
{
	size_t i;

	sb_add(b, "'", 1);
	for (i = 0; i < len; i++) {
		if (s[i] == '\'')
			sb_add(b, "'", 1);
		sb_add(b, s + i, 1);
	}
	sb_add(b, "'", 1);
}

/*
 * The shortest plain decimal text (no exponent) that reads back as d.
 * The language has no exponents, so the %g forms with one are skipped.
 */
static void
format_double(double d, char *buf, size_t buflen)
{
	int prec;

	if (d == 0) {
		snprintf(buf, buflen, "0");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, buflen, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (strchr(buf, 'e') == NULL)
		return;
	for (prec = 0; prec < 350; prec++) {
		snprintf(buf, buflen, "%.*f", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/* Append one typed value in its normalised form. */
static void
sb_value(struct sbuf *b, enum ofl_type t, const struct ofl_value *v)
{
	char num[512];

	switch (t) {
	case OFL_NUMBER:
		if (v->is_int)
			snprintf(num, sizeof(num), "%lld", (long long)v->i);
		else
			format_double(v->d, num, sizeof(num));
		sb_str(b, num);
		break;
	case OFL_BOOL:
		sb_str(b, v->i ? "TRUE" : "FALSE");
		break;
	case OFL_DATE:
		oc_format_iso8601(v->i, num, sizeof(num));
		sb_quoted(b, num, strlen(num));
		break;
	case OFL_STRING:
	case OFL_OID:
		sb_quoted(b, v->s, v->len);
		break;
	}
}

/* Append a predicate; negated: its NOT form (x NOT IN, x IS NOT NULL). */
static void
sb_pred(struct sbuf *b, const struct ofl_node *n, bool negated)
{
	static const char *const cmp[] = { "=", "!=", "<", "<=", ">", ">=" };
	size_t i;

	sb_str(b, n->name);
	sb_str(b, " ");
	switch (n->op) {
	case OFL_EQ:
	case OFL_NE:
	case OFL_LT:
	case OFL_LE:
	case OFL_GT:
	case OFL_GE:
		sb_str(b, cmp[n->op]);
		sb_str(b, " ");
		sb_value(b, n->type, &n->vals[0]);
		return;
	case OFL_NULL:
		sb_str(b, negated ? "IS NOT NULL" : "IS NULL");
		return;
	default:
		break;
	}
	if (negated)
		sb_str(b, "NOT ");
	if (n->op == OFL_IN) {
		sb_str(b, "IN (");
		for (i = 0; i < n->nvals; i++) {
			if (i > 0)
				sb_str(b, ", ");
			sb_value(b, n->type, &n->vals[i]);
		}
		sb_str(b, ")");
	} else if (n->op == OFL_BETWEEN) {
		sb_str(b, "BETWEEN ");
		sb_value(b, n->type, &n->vals[0]);
		sb_str(b, " AND ");
		sb_value(b, n->type, &n->vals[1]);
	} else {
		sb_str(b, n->op == OFL_LIKE ? "LIKE " : "ILIKE ");
		sb_quoted(b, n->pattern, n->patlen);
	}
}

/* Append a node, in parentheses when it binds looser than its parent. */
static void
sb_node(struct sbuf *b, const struct ofl_node *n, enum ofl_kind parent)
{
	const struct ofl_node *kid;
	bool parens;
	size_t i;

	switch (n->kind) {
	case OFL_PRED:
		sb_pred(b, n, false);
		return;
	case OFL_NOT:
		kid = n->kids[0];
		if (kid->kind == OFL_PRED && kid->op >= OFL_IN) {
			sb_pred(b, kid, true);
			return;
		}
		sb_str(b, "NOT ");
		sb_node(b, kid, OFL_NOT);
		return;
	case OFL_AND:
	case OFL_OR:
		break;
	}
	parens = parent == OFL_NOT || (parent == OFL_AND && n->kind == OFL_OR);
	if (parens)
		sb_str(b, "(");
	for (i = 0; i < n->nkids; i++) {
		if (i > 0)
			sb_str(b, n->kind == OFL_AND ? " AND " : " OR ");
		sb_node(b, n->kids[i], n->kind);
	}
	if (parens)
		sb_str(b, ")");
}

/* Find the first byte that is not valid UTF-8 (or is NUL); len if none. */
static size_t
invalid_utf8_at(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, step;
	uint32_t cp;

	while (i < len) {
		if (s[i] == 0)
			return i;
		step = ofl_utf8_next(s + i, len - i, &cp);
		if (cp > 0x10ffff)
			return i;
		i += step;
	}
	return len;
}

struct oc_filter *
oc_filter_parse(const char *text, size_t len, enum oc_filter_target target,
    unsigned see, struct oc_filter_error *err)
{
	struct parser p;
	struct oc_filter *f = NULL;
	struct ofl_node *root = NULL;
	struct sbuf b = { NULL, 0, 0 };
	size_t bad;

	memset(&p, 0, sizeof(p));
	p.text = text;
	p.len = len;
	p.target = target;
	p.see = see;
	p.err = err;
	err->position = 0;
	err->message[0] = '\0';
	if (len > OC_FILTER_MAX_TEXT) {
		fail_at(&p, OC_FILTER_MAX_TEXT, "filter longer than %d bytes",
		    OC_FILTER_MAX_TEXT);
		goto done;
	}
	bad = invalid_utf8_at(text, len);
	if (bad < len) {
		fail_at(&p, bad, text[bad] == '\0' ? "NUL byte in filter" :
		    "invalid UTF-8");
		goto done;
	}
	if (!next(&p))
		goto done;
	root = parse_expr(&p);
	if (root == NULL)
		goto done;
	if (p.tok.kind != T_END) {
		expected(&p, "AND, OR or end of filter");
		goto done;
	}
	sb_node(&b, root, OFL_OR);
	f = xcalloc(1, sizeof(*f));
	f->target = target;
	f->root = root;
	f->text = b.buf;
	root = NULL;
done:
	node_free(root);
	return f;
}

void
oc_filter_free(struct oc_filter *f)
{
	if (f == NULL)
		return;
	node_free(f->root);
	free(f->text);
	free(f);
}

enum oc_filter_target
oc_filter_target(const struct oc_filter *f)
{
	return f->target;
}

const char *
oc_filter_text(const struct oc_filter *f)
{
	return f->text;
}
