/* BSON <-> JSON conversion and strict JSON parsing. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "oc-json.h"
#include "oc-xmalloc.h"

static json_object *doc_to_json(const bson_t *doc, bool rename_id);

/* Length of a well-formed UTF-8 sequence at p (strict: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t
utf8_seq_len(const unsigned char *p, size_t left)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/*
 * Length of the invalid sequence at p (left > 0): a lead byte and the
 * continuation bytes that could still have completed it, or one byte.
 * Each such run becomes one U+FFFD, as the Unicode standard advises.
 */
static size_t
utf8_bad_len(const unsigned char *p, size_t left)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 1;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	for (i = 1; i < n && i < left; i++) {
		if (p[i] < lo || p[i] > hi)
			break;
		lo = 0x80;
		hi = 0xbf;
	}
	return i;
}

/*
 * s as valid UTF-8: NULL when it already is (the common case), else a
 * new string (caller frees) with every invalid sequence replaced by
 * U+FFFD, its length in *outlen. Other programs may write any bytes to
 * MongoDB; JSON must stay valid so the event still flows.
 */
static char *
utf8_repair(const char *s, size_t len, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, n;
	char *out;

	while (i < len) {
		n = utf8_seq_len(p + i, len - i);
		if (n == 0)
			break;
		i += n;
	}
	if (i == len)
		return NULL;
	/* Each bad byte grows to at most three; NUL-terminated for keys. */
	out = xreallocarray(NULL, len + 1, 3);
	memcpy(out, s, i);
	o = i;
	while (i < len) {
		n = utf8_seq_len(p + i, len - i);
		if (n > 0) {
			memcpy(out + o, s + i, n);
			o += n;
		} else {
			n = utf8_bad_len(p + i, len - i);
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
		}
		i += n;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* Bytes of s to show in a message: at most max, whole characters. */
static int
shown_len(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return (int)len;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return (int)max;
}

/* A JSON string of len bytes at s, invalid UTF-8 replaced. */
static json_object *
utf8_string(const char *s, size_t len)
{
	json_object *obj;
	size_t n;
	char *fixed;

	fixed = utf8_repair(s, len, &n);
	if (fixed == NULL)
		return json_object_new_string_len(s, (int)len);
	obj = json_object_new_string_len(fixed, (int)n);
	free(fixed);
	return obj;
}

void
oc_format_iso8601(int64_t ms, char *buf, size_t buflen)
{
	int64_t secs = ms / 1000;
	int64_t rem = ms % 1000;
	time_t t;
	struct tm tm;

	if (rem < 0) {
		rem += 1000;
		secs -= 1;
	}
	t = (time_t)secs;
	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, buflen, "%lld", (long long)ms);
		return;
	}
	snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)rem);
}

/* Binary payloads have no JSON form; base64 keeps them lossless. */
static json_object *
base64_string(const uint8_t *data, uint32_t len)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t outlen = ((size_t)len + 2) / 3 * 4;
	char *out = xmalloc(outlen + 1);
	json_object *obj;
	uint32_t i;
	size_t o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16 |
		    (uint32_t)data[i + 1] << 8 | data[i + 2];

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)data[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)data[i + 1] << 8;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	obj = json_object_new_string_len(out, (int)o);
	free(out);
	return obj;
}

/* Scalars whose JSON form is a string. */
static json_object *
stringish_to_json(const bson_iter_t *it)
{
	char buf[BSON_DECIMAL128_STRING > 64 ? BSON_DECIMAL128_STRING : 64];
	bson_decimal128_t dec;
	const char *str, *opts;
	uint32_t len;
	json_object *obj;
	char *s;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_OID:
		bson_oid_to_string(bson_iter_oid(it), buf);
		return json_object_new_string(buf);
	case BSON_TYPE_DATE_TIME:
		oc_format_iso8601(bson_iter_date_time(it), buf, sizeof(buf));
		return json_object_new_string(buf);
	case BSON_TYPE_DECIMAL128:
		bson_iter_decimal128(it, &dec);
		bson_decimal128_to_string(&dec, buf);
		return json_object_new_string(buf);
	case BSON_TYPE_REGEX:
		str = bson_iter_regex(it, &opts);
		s = xasprintf("/%s/%s", str, opts);
		obj = utf8_string(s, strlen(s));
		free(s);
		return obj;
	case BSON_TYPE_CODE:
		str = bson_iter_code(it, &len);
		return utf8_string(str, len);
	case BSON_TYPE_SYMBOL:
		str = bson_iter_symbol(it, &len);
		return utf8_string(str, len);
	default:
		return NULL;
	}
}

json_object *
oc_bson_value_to_json(const bson_iter_t *it)
{
	const uint8_t *data;
	uint32_t len, t, i;
	bson_subtype_t sub;
	bson_t child;
	const char *str;
	json_object *obj;
	double d;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_UTF8:
		str = bson_iter_utf8(it, &len);
		return utf8_string(str, len);
	case BSON_TYPE_INT32:
		return json_object_new_int64(bson_iter_int32(it));
	case BSON_TYPE_INT64:
		return json_object_new_int64(bson_iter_int64(it));
	case BSON_TYPE_DOUBLE:
		d = bson_iter_double(it);
		return isfinite(d) ? json_object_new_double(d) : NULL;
	case BSON_TYPE_BOOL:
		return json_object_new_boolean(bson_iter_bool(it));
	case BSON_TYPE_DOCUMENT:
	case BSON_TYPE_ARRAY:
		if (bson_iter_type(it) == BSON_TYPE_DOCUMENT)
			bson_iter_document(it, &len, &data);
		else
			bson_iter_array(it, &len, &data);
		if (!bson_init_static(&child, data, len))
			return NULL;
		if (bson_iter_type(it) == BSON_TYPE_DOCUMENT)
			return doc_to_json(&child, false);
		obj = json_object_new_array();
		{
			bson_iter_t ci;

			if (bson_iter_init(&ci, &child)) {
				while (bson_iter_next(&ci))
					json_object_array_add(obj,
					    oc_bson_value_to_json(&ci));
			}
		}
		return obj;
	case BSON_TYPE_TIMESTAMP:
		bson_iter_timestamp(it, &t, &i);
		obj = json_object_new_object();
		json_object_object_add(obj, "t", json_object_new_int64(t));
		json_object_object_add(obj, "i", json_object_new_int64(i));
		return obj;
	case BSON_TYPE_BINARY:
		bson_iter_binary(it, &sub, &len, &data);
		return base64_string(data, len);
	case BSON_TYPE_NULL:
	case BSON_TYPE_UNDEFINED:
	case BSON_TYPE_MINKEY:
	case BSON_TYPE_MAXKEY:
		return NULL;
	default:
		return stringish_to_json(it);
	}
}

/* Walk one document; only the top level renames "_id" to "id". */
static json_object *
doc_to_json(const bson_t *doc, bool rename_id)
{
	json_object *obj = json_object_new_object();
	bson_iter_t it;
	const char *key;
	char *fixed;
	size_t n;

	if (!bson_iter_init(&it, doc))
		return obj;
	while (bson_iter_next(&it)) {
		key = bson_iter_key(&it);
		if (rename_id && strcmp(key, "_id") == 0)
			key = "id";
		fixed = utf8_repair(key, strlen(key), &n);
		json_object_object_add(obj, fixed != NULL ? fixed : key,
		    oc_bson_value_to_json(&it));
		free(fixed);
	}
	return obj;
}

json_object *
oc_bson_to_json(const bson_t *doc)
{
	return doc_to_json(doc, true);
}

json_object *
oc_bson_doc_to_json(const bson_t *doc)
{
	return doc_to_json(doc, false);
}

/* Arrays become BSON arrays with "0", "1", ... keys. */
static bool
append_array(bson_t *out, const char *key, json_object *val, char *err,
    size_t errlen)
{
	bson_t child;
	char idx[16];
	const char *ikey;
	size_t i, n = json_object_array_length(val);
	bool ok = true;

	bson_append_array_begin(out, key, -1, &child);
	for (i = 0; i < n && ok; i++) {
		bson_uint32_to_string((uint32_t)i, &ikey, idx, sizeof(idx));
		ok = oc_json_append_bson(&child, ikey,
		    json_object_array_get_idx(val, i), err, errlen);
	}
	bson_append_array_end(out, &child);
	return ok;
}

bool
oc_json_append_bson(bson_t *out, const char *key, json_object *val,
    char *err, size_t errlen)
{
	bson_t child;
	int64_t n;
	bool ok;

	switch (json_object_get_type(val)) {
	case json_type_null:
		return bson_append_null(out, key, -1);
	case json_type_boolean:
		return bson_append_bool(out, key, -1,
		    json_object_get_boolean(val));
	case json_type_double:
		if (!isfinite(json_object_get_double(val)))
			break;
		return bson_append_double(out, key, -1,
		    json_object_get_double(val));
	case json_type_int:
		/* json-c holds integers up to 2^64-1; BSON up to 2^63-1. */
		if (json_object_get_uint64(val) > INT64_MAX)
			break;
		n = json_object_get_int64(val);
		if (n >= INT32_MIN && n <= INT32_MAX)
			return bson_append_int32(out, key, -1, (int32_t)n);
		return bson_append_int64(out, key, -1, n);
	case json_type_string:
		return bson_append_utf8(out, key, -1,
		    json_object_get_string(val),
		    json_object_get_string_len(val));
	case json_type_array:
		return append_array(out, key, val, err, errlen);
	case json_type_object:
		bson_append_document_begin(out, key, -1, &child);
		ok = true;
		json_object_object_foreach(val, k, v) {
			if (!ok)
				break;
			ok = oc_json_append_bson(&child, k, v, err, errlen);
		}
		bson_append_document_end(out, &child);
		return ok;
	}
	snprintf(err, errlen, "%.*s: value has no BSON form",
	    shown_len(key, strlen(key), 64), key);
	return false;
}

bool
oc_json_to_bson(json_object *obj, bson_t *out, char *err, size_t errlen)
{
	bson_init(out);
	if (!json_object_is_type(obj, json_type_object)) {
		snprintf(err, errlen, "expected a JSON object");
		return false;
	}
	json_object_object_foreach(obj, k, v) {
		if (!oc_json_append_bson(out, k, v, err, errlen))
			return false;
	}
	return true;
}

/*
 * json-c 0.16, even in strict mode, takes some text that is not JSON:
 * 'single-quoted' strings, NaN and Infinity, raw control characters in
 * strings, and overlong or surrogate UTF-8. Find the first such byte.
 * Returns its offset and a reason, or -1.
 */
static long
not_json_text(const char *buf, size_t len, const char **why)
{
	const unsigned char *p = (const unsigned char *)buf;
	bool in_string = false;
	size_t i = 0, n;

	while (i < len) {
		n = utf8_seq_len(p + i, len - i);
		if (n == 0) {
			*why = "invalid UTF-8";
			return (long)i;
		}
		if (in_string) {
			if (p[i] < 0x20) {
				*why = "control character in a string";
				return (long)i;
			}
			if (p[i] == '\\' && i + 1 < len)
				n = 2;
			else if (p[i] == '"')
				in_string = false;
		} else if (p[i] == '"') {
			in_string = true;
		} else if (p[i] == '\'') {
			*why = "single quotes are not JSON";
			return (long)i;
		} else if (p[i] == 'N' || p[i] == 'I' || p[i] == 'i') {
			*why = "NaN and Infinity are not JSON";
			return (long)i;
		}
		i += n;
	}
	return -1;
}

/* Offset just past the JSON string that opens at buf[i] ('"'); the
 * text is known to be valid JSON. Sets *nul when it escapes U+0000. */
static size_t
string_end(const char *buf, size_t len, size_t i, bool *nul)
{
	*nul = false;
	for (i++; i < len && buf[i] != '"'; i++) {
		if (buf[i] != '\\')
			continue;
		if (i + 5 < len && buf[i + 1] == 'u' &&
		    memcmp(buf + i + 2, "0000", 4) == 0)
			*nul = true;
		i++;
	}
	return i + 1;
}

/* Whether the string ending before buf[i] is an object key. */
static bool
is_key(const char *buf, size_t len, size_t i)
{
	while (i < len && strchr(" \t\r\n", buf[i]) != NULL && buf[i] != '\0')
		i++;
	return i < len && buf[i] == ':';
}

/* What the key scan learns of each object, in text order. */
struct key_counts {
	size_t	*members;	/* keys written in the object */
	size_t	*start;		/* offset of its '{' */
	size_t	 n, cap;
};

/*
 * Count the keys of every object of valid JSON text, in the order the
 * objects open. json-c drops all but the last of duplicate keys and
 * cuts a key at an escaped NUL, so both need the text itself.
 * Returns false with a message in err for a key holding U+0000.
 */
static bool
count_keys(const char *buf, size_t len, struct key_counts *kc, char *err,
    size_t errlen)
{
	size_t *open = NULL;
	size_t depth = 0, open_cap = 0, i = 0, end;
	bool nul, ok = false;

	while (i < len) {
		switch (buf[i]) {
		case '"':
			end = string_end(buf, len, i, &nul);
			if (depth > 0 && is_key(buf, len, end)) {
				if (nul) {
					snprintf(err, errlen, "key holding "
					    "\\u0000 at byte %zu", i);
					goto done;
				}
				kc->members[open[depth - 1]]++;
			}
			i = end;
			continue;
		case '{':
			if (kc->n == kc->cap) {
				kc->cap = kc->cap * 2 + 8;
				kc->members = xreallocarray(kc->members,
				    kc->cap, sizeof(size_t));
				kc->start = xreallocarray(kc->start,
				    kc->cap, sizeof(size_t));
			}
			if (depth == open_cap) {
				open_cap = open_cap * 2 + 8;
				open = xreallocarray(open, open_cap,
				    sizeof(size_t));
			}
			kc->members[kc->n] = 0;
			kc->start[kc->n] = i;
			open[depth++] = kc->n++;
			break;
		case '}':
			depth--;
			break;
		}
		i++;
	}
	ok = true;
done:
	free(open);
	return ok;
}

/*
 * The object opening at buf[start] holds a key twice: name the first
 * repeated key, found by keeping the keys seen in a json-c object.
 */
static void
report_duplicate(const char *buf, size_t len, size_t start, char *err,
    size_t errlen)
{
	json_object *seen = json_object_new_object();
	struct json_tokener *tok = json_tokener_new();
	json_object *key;
	const char *k;
	size_t i = start, end, depth = 0;
	bool nul;

	snprintf(err, errlen, "duplicate key in the object at byte %zu",
	    start);
	while (i < len) {
		if (buf[i] == '{' || buf[i] == '[') {
			depth++;
		} else if (buf[i] == '}' || buf[i] == ']') {
			if (--depth == 0)
				break;
		} else if (buf[i] == '"') {
			end = string_end(buf, len, i, &nul);
			if (depth != 1 || !is_key(buf, len, end)) {
				i = end;
				continue;
			}
			json_tokener_reset(tok);
			key = json_tokener_parse_ex(tok, buf + i,
			    (int)(end - i));
			k = json_object_get_string(key);
			if (k != NULL && json_object_object_get_ex(seen, k,
			    NULL)) {
				snprintf(err, errlen, "duplicate key \"%.*s\" "
				    "at byte %zu", shown_len(k, strlen(k), 64),
				    k, i);
				json_object_put(key);
				break;
			}
			if (k != NULL)
				json_object_object_add(seen, k, NULL);
			json_object_put(key);
			i = end;
			continue;
		}
		i++;
	}
	json_tokener_free(tok);
	json_object_put(seen);
}

/*
 * Compare the keys json-c kept in each object (pre-order, the order the
 * objects open in the text) with the keys written. *next indexes kc.
 * Returns the index of the first object that lost keys, or -1.
 */
static long
lost_keys(json_object *obj, const struct key_counts *kc, size_t *next)
{
	size_t i, n;
	long bad;

	if (json_object_is_type(obj, json_type_array)) {
		n = json_object_array_length(obj);
		for (i = 0; i < n; i++) {
			bad = lost_keys(json_object_array_get_idx(obj, i), kc,
			    next);
			if (bad >= 0)
				return bad;
		}
		return -1;
	}
	if (!json_object_is_type(obj, json_type_object))
		return -1;
	i = (*next)++;
	if (i >= kc->n ||
	    (size_t)json_object_object_length(obj) != kc->members[i])
		return (long)i;
	json_object_object_foreach(obj, k, v) {
		(void)k;
		bad = lost_keys(v, kc, next);
		if (bad >= 0)
			return bad;
	}
	return -1;
}

/* Refuse what json-c accepts quietly: duplicate keys, keys with NUL. */
static bool
check_keys(const char *buf, size_t len, json_object *obj, char *err,
    size_t errlen)
{
	struct key_counts kc = { NULL, NULL, 0, 0 };
	size_t next = 0;
	long bad;
	bool ok = false;

	if (!count_keys(buf, len, &kc, err, errlen))
		goto done;
	bad = lost_keys(obj, &kc, &next);
	if (bad >= 0 && (size_t)bad < kc.n) {
		report_duplicate(buf, len, kc.start[bad], err, errlen);
		goto done;
	}
	if (bad >= 0) {
		snprintf(err, errlen, "duplicate key");
		goto done;
	}
	ok = true;
done:
	free(kc.members);
	free(kc.start);
	return ok;
}

json_object *
oc_json_parse(const char *buf, size_t len, int max_depth, char *err,
    size_t errlen)
{
	struct json_tokener *tok = NULL;
	json_object *obj = NULL;
	enum json_tokener_error jerr;
	const char *why = NULL;
	size_t off = 0;
	long bad;

	if (len > INT32_MAX) {
		snprintf(err, errlen, "JSON text too large");
		goto done;
	}
	bad = not_json_text(buf, len, &why);
	if (bad >= 0) {
		snprintf(err, errlen, "malformed JSON at byte %ld: %s", bad,
		    why);
		goto done;
	}
	tok = json_tokener_new_ex(max_depth);
	if (tok == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	if (obj == NULL && jerr == json_tokener_continue &&
	    json_tokener_get_parse_end(tok) == len) {
		/* A bare number ends only at a delimiter: send the end. */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		off = len;
	}
	if (obj == NULL || jerr != json_tokener_success) {
		if (jerr == json_tokener_continue ||
		    jerr == json_tokener_success ||
		    jerr == json_tokener_error_parse_eof)
			snprintf(err, errlen, "truncated JSON");
		else
			snprintf(err, errlen, "malformed JSON at byte %zu: %s",
			    json_tokener_get_parse_end(tok),
			    json_tokener_error_desc(jerr));
		json_object_put(obj);
		obj = NULL;
		goto done;
	}
	if (off != len)
		off = json_tokener_get_parse_end(tok);
	for (; off < len; off++) {
		if (strchr(" \t\r\n", buf[off]) == NULL || buf[off] == '\0') {
			snprintf(err, errlen, "unexpected data after the JSON "
			    "value at byte %zu", off);
			json_object_put(obj);
			obj = NULL;
			goto done;
		}
	}
	if (!check_keys(buf, len, obj, err, errlen)) {
		json_object_put(obj);
		obj = NULL;
	}
done:
	if (tok != NULL)
		json_tokener_free(tok);
	return obj;
}

const char *
oc_json_text(json_object *obj, size_t *len)
{
	return json_object_to_json_string_length(obj, OC_JSON_FLAGS, len);
}

bool
oc_oid_parse(const char *s, bson_oid_t *out)
{
	size_t i;

	if (s == NULL || strlen(s) != 24)
		return false;
	for (i = 0; i < 24; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F')))
			return false;
	}
	bson_oid_init_from_string(out, s);
	return true;
}
