/*
 * The filter language's evaluator: does a filter admit a JSON document
 * or event? The same meaning as the MongoDB filter of oc-filter-bson.c:
 * a field inside an array matches when any element matches; a missing
 * field fails every comparison and passes IS NULL; NOT inverts.
 */
#include "config.h"

#include <string.h>

#include "oc-filter-tree.h"

/* Code points above this mark bytes that are not valid UTF-8. */
#define BAD_BYTE	0x110000u

size_t
ofl_utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	uint32_t v, min;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
		min = 0x10000;
	} else
		goto bad;
	if (len < n)
		goto bad;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			goto bad;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		goto bad;
	*cp = v;
	return n;
bad:
	*cp = BAD_BYTE + c;
	return 1;
}

/*
 * Simple case folding of the letters ILIKE ignores case of: ASCII,
 * Latin-1, Greek and Cyrillic (the ranges MongoDB's 'i' regex option
 * folds the same way).
 */
uint32_t
ofl_fold(uint32_t cp)
{
	if (cp >= 'A' && cp <= 'Z')
		return cp + 32;
	if (cp < 0xc0)
		return cp;
	if (cp <= 0xde && cp != 0xd7)
		return cp + 32;
	if (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2)
		return cp + 32;
	if (cp == 0x3c2)
		return 0x3c3;
	if (cp >= 0x410 && cp <= 0x42f)
		return cp + 32;
	if (cp >= 0x400 && cp <= 0x40f)
		return cp + 80;
	return cp;
}

/* Read exactly n digits at s[*i] into *out. */
static bool
digits(const char *s, size_t len, size_t *i, size_t n, int *out)
{
	size_t k;
	int v = 0;

	if (*i + n > len)
		return false;
	for (k = 0; k < n; k++) {
		char c = s[*i + k];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*i += n;
	*out = v;
	return true;
}

/* Days from 1970-01-01 to a proleptic Gregorian date. */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	if (m <= 2)
		y--;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Days in month m of year y. */
static int
month_days(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* The time part "HH:MM[:SS[.fff]]" and zone; adds its ms to *ms. */
static bool
parse_time(const char *s, size_t len, size_t i, int64_t *ms)
{
	int hh, mi, ss = 0, frac = 0, n, oh, om;
	int64_t off = 0;

	if (!digits(s, len, &i, 2, &hh) || i >= len || s[i++] != ':' ||
	    !digits(s, len, &i, 2, &mi) || hh > 23 || mi > 59)
		return false;
	if (i < len && s[i] == ':') {
		i++;
		if (!digits(s, len, &i, 2, &ss) || ss > 59)
			return false;
		if (i < len && s[i] == '.') {
			i++;
			for (n = 0; i < len && s[i] >= '0' && s[i] <= '9';
			    n++, i++) {
				if (n < 3)
					frac = frac * 10 + (s[i] - '0');
			}
			if (n == 0 || n > 9)
				return false;
			for (; n < 3; n++)
				frac *= 10;
		}
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z'))
		i++;
	else if (i < len && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i++] == '-' ? -1 : 1;

		if (!digits(s, len, &i, 2, &oh))
			return false;
		if (i < len && s[i] == ':')
			i++;
		if (!digits(s, len, &i, 2, &om) || oh > 23 || om > 59)
			return false;
		off = sign * ((int64_t)oh * 60 + om) * 60000;
	}
	if (i != len)
		return false;
	*ms += ((int64_t)hh * 3600 + mi * 60 + ss) * 1000 + frac - off;
	return true;
}

bool
ofl_parse_date(const char *s, size_t len, int64_t *ms)
{
	size_t i = 0;
	int y, m, d;

	if (!digits(s, len, &i, 4, &y) || i >= len || s[i++] != '-' ||
	    !digits(s, len, &i, 2, &m) || i >= len || s[i++] != '-' ||
	    !digits(s, len, &i, 2, &d))
		return false;
	if (m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return false;
	*ms = days_from_civil(y, m, d) * 86400000;
	if (i == len)
		return true;
	if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
		return false;
	return parse_time(s, len, i + 1, ms);
}

/* Match one run of atoms without ANY at s[pos..]; its end in *endp. */
static bool
segment_at(const struct ofl_atom *a, size_t m, const unsigned char *s,
    size_t len, size_t pos, bool fold, size_t *endp)
{
	uint32_t cp;
	size_t k;

	for (k = 0; k < m; k++) {
		if (pos >= len)
			return false;
		pos += ofl_utf8_next(s + pos, len - pos, &cp);
		if (a[k].kind != OFL_ATOM_CHAR)
			continue;
		if ((fold ? ofl_fold(cp) : cp) != a[k].cp)
			return false;
	}
	*endp = pos;
	return true;
}

/* Place a segment at its leftmost match at or after *pos. */
static bool
segment_find(const struct ofl_atom *a, size_t m, const unsigned char *s,
    size_t len, size_t *pos, bool fold)
{
	size_t p = *pos, end;
	uint32_t cp;

	for (;;) {
		if (segment_at(a, m, s, len, p, fold, &end)) {
			*pos = end;
			return true;
		}
		if (p >= len)
			return false;
		p += ofl_utf8_next(s + p, len - p, &cp);
	}
}

/*
 * LIKE: the pattern is runs of characters and '_' separated by '%'. The
 * first run must match at the start, the last at the end, and each run
 * between is placed at its leftmost match after the previous one; a
 * leftmost placement never hurts the runs after it, so no placement is
 * ever revisited. Time O(value length x pattern length), no
 * backtracking.
 */
static bool
like_match(const struct ofl_node *n, const unsigned char *s, size_t len)
{
	const struct ofl_atom *a = n->atoms;
	size_t na = n->natoms, first = 0, last = na, i, k, pos = 0, end;
	size_t total = 0, skip;
	bool fold = n->op == OFL_ILIKE;
	uint32_t cp;

	while (first < na && a[first].kind != OFL_ATOM_ANY)
		first++;
	if (first == na)
		return segment_at(a, na, s, len, 0, fold, &end) && end == len;
	if (!segment_at(a, first, s, len, 0, fold, &pos))
		return false;
	while (a[last - 1].kind != OFL_ATOM_ANY)
		last--;
	for (i = first + 1; i < last; i = k + 1) {
		k = i;
		while (a[k].kind != OFL_ATOM_ANY)
			k++;
		if (k > i && !segment_find(a + i, k - i, s, len, &pos, fold))
			return false;
	}
	/* The last run takes the last na - last characters. */
	for (i = pos; i < len; total++)
		i += ofl_utf8_next(s + i, len - i, &cp);
	if (total < na - last)
		return false;
	for (skip = total - (na - last); skip > 0; skip--)
		pos += ofl_utf8_next(s + pos, len - pos, &cp);
	return segment_at(a + last, na - last, s, len, pos, fold, &end) &&
	    end == len;
}

/* Compare two byte strings as MongoDB orders strings. */
static int
bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c < 0 ? -1 : 1;
	return alen < blen ? -1 : alen > blen;
}

/* Compare a 24-hex string in any case with a lower-case one. */
static bool
oid_cmp(const char *s, size_t len, const char *lit, int *c)
{
	size_t i;

	if (len != 24)
		return false;
	*c = 0;
	for (i = 0; i < 24; i++) {
		char ch = s[i];

		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch + 32);
		else if (!((ch >= '0' && ch <= '9') ||
		    (ch >= 'a' && ch <= 'f')))
			return false;
		if (*c == 0 && ch != lit[i])
			*c = ch < lit[i] ? -1 : 1;
	}
	return true;
}

/* Compare a JSON number with a literal. */
static int
number_cmp(json_object *v, const struct ofl_value *lit)
{
	double a, b;
	int64_t x;

	if (json_object_is_type(v, json_type_int) && lit->is_int) {
		x = json_object_get_int64(v);
		return x < lit->i ? -1 : x > lit->i;
	}
	a = json_object_get_double(v);
	b = lit->is_int ? (double)lit->i : lit->d;
	return a < b ? -1 : a > b;
}

/*
 * Compare the value v with a literal of the field's type into *c.
 * False when v is not of that type: such a value satisfies nothing,
 * as MongoDB compares only values of one type.
 */
static bool
value_cmp(const struct ofl_node *n, json_object *v,
    const struct ofl_value *lit, int *c)
{
	const char *s;
	size_t len;
	int64_t ms;

	switch (n->type) {
	case OFL_NUMBER:
		if (!json_object_is_type(v, json_type_int) &&
		    !json_object_is_type(v, json_type_double))
			return false;
		*c = number_cmp(v, lit);
		return true;
	case OFL_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			return false;
		*c = json_object_get_boolean(v) - (int)lit->i;
		return true;
	case OFL_STRING:
	case OFL_OID:
	case OFL_DATE:
		break;
	}
	if (!json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (n->type == OFL_OID)
		return oid_cmp(s, len, lit->s, c);
	if (n->type == OFL_DATE) {
		if (!ofl_parse_date(s, len, &ms))
			return false;
		*c = ms < lit->i ? -1 : ms > lit->i;
		return true;
	}
	*c = bytes_cmp(s, len, lit->s, lit->len);
	return true;
}

/* Does one value reached by the path satisfy the predicate? NULL: none. */
static bool
leaf_match(const struct ofl_node *n, json_object *v)
{
	size_t i;
	int c, c2;

	if (n->op == OFL_NULL)
		return v == NULL;
	if (v == NULL)
		return false;
	switch (n->op) {
	case OFL_IN:
		for (i = 0; i < n->nvals; i++) {
			if (value_cmp(n, v, &n->vals[i], &c) && c == 0)
				return true;
		}
		return false;
	case OFL_BETWEEN:
		return value_cmp(n, v, &n->vals[0], &c) && c >= 0 &&
		    value_cmp(n, v, &n->vals[1], &c2) && c2 <= 0;
	case OFL_LIKE:
	case OFL_ILIKE:
		if (!json_object_is_type(v, json_type_string))
			return false;
		return like_match(n, (const unsigned char *)
		    json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
	default:
		break;
	}
	if (!value_cmp(n, v, &n->vals[0], &c))
		return false;
	switch (n->op) {
	case OFL_EQ:
		return c == 0;
	case OFL_NE:
		return c != 0;
	case OFL_LT:
		return c < 0;
	case OFL_LE:
		return c <= 0;
	case OFL_GT:
		return c > 0;
	case OFL_GE:
		return c >= 0;
	default:
		return false;
	}
}

/*
 * Follow the predicate's path from cur (at part depth). Arrays on the
 * way, or at the end, match when any element does; JSON null and a
 * missing field are both NULL.
 */
static bool
path_match(const struct ofl_node *n, json_object *cur, size_t depth)
{
	json_object *next;
	size_t i, len;

	if (cur != NULL && json_object_is_type(cur, json_type_array)) {
		len = json_object_array_length(cur);
		for (i = 0; i < len; i++) {
			if (path_match(n, json_object_array_get_idx(cur, i),
			    depth))
				return true;
		}
		return false;
	}
	if (depth == n->nparts)
		return leaf_match(n, cur);
	if (cur == NULL || !json_object_is_type(cur, json_type_object) ||
	    !json_object_object_get_ex(cur, n->parts[depth], &next))
		return leaf_match(n, NULL);
	return path_match(n, next, depth + 1);
}

/* Evaluate a node of the tree on obj. */
static bool
node_match(const struct ofl_node *n, json_object *obj)
{
	size_t i;

	switch (n->kind) {
	case OFL_AND:
		for (i = 0; i < n->nkids; i++)
			if (!node_match(n->kids[i], obj))
				return false;
		return true;
	case OFL_OR:
		for (i = 0; i < n->nkids; i++)
			if (node_match(n->kids[i], obj))
				return true;
		return false;
	case OFL_NOT:
		return !node_match(n->kids[0], obj);
	case OFL_PRED:
		break;
	}
	return path_match(n, obj, 0);
}

bool
oc_filter_match(const struct oc_filter *f, json_object *obj)
{
	return node_match(f->root, obj);
}
