/* One decoder for query strings, so the API and the relay agree on it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oc-query.h"
#include "oc-xmalloc.h"

/* One hex digit's value, or -1. */
static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Why a component did not decode. */
enum decode_result {
	DECODE_OK,
	DECODE_BAD_ESCAPE,
	DECODE_NUL,
	DECODE_TOO_LONG
};

/* The decoding rules of oc-query.h, without the messages. */
static enum decode_result
decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (n + 1 >= outlen)
			return DECODE_TOO_LONG;
		if (s[i] == '+') {
			out[n++] = ' ';
			continue;
		}
		if (s[i] != '%') {
			out[n++] = s[i];
			continue;
		}
		if (len - i < 3)
			return DECODE_BAD_ESCAPE;
		hi = hexval((unsigned char)s[i + 1]);
		lo = hexval((unsigned char)s[i + 2]);
		if (hi < 0 || lo < 0)
			return DECODE_BAD_ESCAPE;
		if (hi == 0 && lo == 0)
			return DECODE_NUL;
		out[n++] = (char)(hi * 16 + lo);
		i += 2;
	}
	if (outlen == 0)
		return DECODE_TOO_LONG;
	out[n] = '\0';
	return DECODE_OK;
}

/* Every refusal says which rule the text broke. */
bool
oc_query_decode(const char *s, size_t len, char *out, size_t outlen,
    char *err, size_t errlen)
{
	switch (decode(s, len, out, outlen)) {
	case DECODE_OK:
		return true;
	case DECODE_BAD_ESCAPE:
		snprintf(err, errlen, "'%%' must be followed by two hex "
		    "digits");
		break;
	case DECODE_NUL:
		snprintf(err, errlen, "%%00 is not allowed");
		break;
	case DECODE_TOO_LONG:
		snprintf(err, errlen, "longer than %zu bytes",
		    outlen > 0 ? outlen - 1 : 0);
		break;
	}
	return false;
}

/* Pairs are scanned in place; only the value asked for is copied. */
bool
oc_query_get(const char *query, const char *want, char **value,
    char *err, size_t errlen)
{
	const char *p = query != NULL ? query : "", *amp, *eq;
	size_t wlen = strlen(want), n, nlen, vlen;
	char *name = NULL, *out = NULL;
	char why[128];
	bool ok = false;

	*value = NULL;
	name = xmalloc(wlen + 2);
	while (*p != '\0') {
		amp = strchr(p, '&');
		n = amp != NULL ? (size_t)(amp - p) : strlen(p);
		eq = memchr(p, '=', n);
		nlen = eq != NULL ? (size_t)(eq - p) : n;
		if (n > 0 && decode(p, nlen, name, wlen + 2) == DECODE_OK &&
		    strcmp(name, want) == 0) {
			vlen = eq != NULL ? n - nlen - 1 : 0;
			out = xmalloc(vlen + 1);
			if (!oc_query_decode(eq != NULL ? eq + 1 : "", vlen,
			    out, vlen + 1, why, sizeof(why))) {
				snprintf(err, errlen, "%s: %s", want, why);
				goto done;
			}
			*value = out;
			out = NULL;
			break;
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	ok = true;
done:
	free(out);
	free(name);
	return ok;
}

/* Ids come from paths and query strings: check before parsing them. */
bool
oc_oid_valid(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || len != OC_OID_LEN)
		return false;
	for (i = 0; i < len; i++) {
		if (hexval((unsigned char)s[i]) < 0)
			return false;
	}
	return true;
}
