/*
 * Fuzz target: query strings (lib/oc-query). The input, up to its
 * first NUL (a query string reaches us as a C string), is decoded
 * whole and looked up pair by pair. Properties: a decoded value holds
 * no NUL and is what an independent decoder makes of it; it encodes
 * again (each byte in a way the input picks) and decodes to the same
 * bytes, also through oc_query_get; oc_query_get finds the first pair
 * of a name; oc_oid_valid takes exactly 24 hex digits.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "oc-query.h"
#include "oc-xmalloc.h"

/* The value of a hex digit, or -1; kept apart from lib/oc-query.c. */
static int
hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Decode s[0..len) into out (len + 1 bytes) as oc-query.h describes;
 * the decoded length, or -1 when the text is malformed.
 */
static long
ref_decode(const char *s, size_t len, char *out)
{
	size_t i = 0;
	long n = 0;
	int v;

	while (i < len) {
		if (s[i] == '%') {
			if (len - i < 3 || hex(s[i + 1]) < 0 ||
			    hex(s[i + 2]) < 0)
				return -1;
			v = hex(s[i + 1]) * 16 + hex(s[i + 2]);
			if (v == 0)
				return -1;
			out[n++] = (char)v;
			i += 3;
		} else {
			out[n++] = s[i] == '+' ? ' ' : s[i];
			i++;
		}
	}
	out[n] = '\0';
	return n;
}

/* Percent-encode n bytes; how each byte is written comes from seed. */
static char *
encode(const char *s, size_t n, const uint8_t *seed, size_t seedlen)
{
	static const char lower[] = "0123456789abcdef";
	static const char upper[] = "0123456789ABCDEF";
	char *out = xmalloc(3 * n + 1);
	size_t i, o = 0;
	unsigned char c;
	uint8_t how;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		how = seedlen > 0 ? seed[i % seedlen] : 0;
		if (c == ' ' && (how & 1)) {
			out[o++] = '+';
		} else if (((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') &&
		    !(how & 2)) {
			out[o++] = (char)c;
		} else {
			const char *digits = (how & 4) ? upper : lower;

			out[o++] = '%';
			out[o++] = digits[c >> 4];
			out[o++] = digits[c & 0xf];
		}
	}
	out[o] = '\0';
	return out;
}

/* The whole text as one value: decode, encode, decode again. */
static void
check_value(const char *s, size_t len, const uint8_t *seed, size_t seedlen)
{
	char *out, *ref, *enc = NULL, *back = NULL, *query = NULL;
	char *got = NULL, err[160];
	long n;
	bool ok;

	out = xmalloc(len + 1);
	ref = xmalloc(len + 1);
	n = ref_decode(s, len, ref);
	ok = oc_query_decode(s, len, out, len + 1, err, sizeof(err));
	FUZZ_CHECK(ok == (n >= 0));
	if (!ok) {
		FUZZ_CHECK(fuzz_utf8_valid(err, strlen(err)));
		goto done;
	}
	FUZZ_CHECK(strlen(out) == (size_t)n);
	FUZZ_CHECK(memcmp(out, ref, (size_t)n) == 0);
	/* One byte short of room is refused, never cut. */
	if (n > 0)
		FUZZ_CHECK(!oc_query_decode(s, len, ref, (size_t)n, err,
		    sizeof(err)));

	enc = encode(out, (size_t)n, seed, seedlen);
	back = xmalloc(strlen(enc) + 1);
	FUZZ_CHECK(oc_query_decode(enc, strlen(enc), back, strlen(enc) + 1,
	    err, sizeof(err)));
	FUZZ_CHECK(strcmp(back, out) == 0);

	query = xasprintf("a=1&v=%s&v=2", enc);
	FUZZ_CHECK(oc_query_get(query, "v", &got, err, sizeof(err)));
	FUZZ_CHECK(got != NULL && strcmp(got, out) == 0);
done:
	free(out);
	free(ref);
	free(enc);
	free(back);
	free(query);
	free(got);
}

/*
 * Each pair whose name decodes (of the first 64): oc_query_get of that
 * name answers with the value of its first pair, or refuses it when
 * that value does not decode.
 */
static void
check_pairs(const char *query)
{
	const char *p = query, *amp, *eq, *q, *qamp, *qeq;
	char *name, *qname, *want, *got = NULL, err[256];
	size_t n, nlen, qn, qnlen;
	long wlen, vlen;
	int pairs = 0;
	bool ok, same;

	/* Each lookup reads the whole text: a bound keeps it linear. */
	while (*p != '\0' && pairs++ < 64) {
		amp = strchr(p, '&');
		n = amp != NULL ? (size_t)(amp - p) : strlen(p);
		eq = memchr(p, '=', n);
		nlen = eq != NULL ? (size_t)(eq - p) : n;
		name = xmalloc(nlen + 1);
		if (n == 0 || ref_decode(p, nlen, name) < 0)
			goto next;
		/* The first pair with this name. */
		for (q = query;; q = qamp + 1) {
			qamp = strchr(q, '&');
			qn = qamp != NULL ? (size_t)(qamp - q) : strlen(q);
			qeq = memchr(q, '=', qn);
			qnlen = qeq != NULL ? (size_t)(qeq - q) : qn;
			qname = xmalloc(qnlen + 1);
			same = qn > 0 && ref_decode(q, qnlen, qname) >= 0 &&
			    strcmp(qname, name) == 0;
			free(qname);
			if (same)
				break;
			FUZZ_CHECK(qamp != NULL);
		}
		vlen = qeq != NULL ? (long)(qn - qnlen - 1) : 0;
		want = xmalloc((size_t)vlen + 1);
		wlen = ref_decode(qeq != NULL ? qeq + 1 : "", (size_t)vlen,
		    want);
		ok = oc_query_get(query, name, &got, err, sizeof(err));
		FUZZ_CHECK(ok == (wlen >= 0));
		if (ok) {
			FUZZ_CHECK(got != NULL);
			FUZZ_CHECK(strlen(got) == (size_t)wlen);
			FUZZ_CHECK(strcmp(got, want) == 0);
		} else {
			FUZZ_CHECK(got == NULL);
			FUZZ_CHECK(strncmp(err, name, strlen(name)) == 0 ||
			    strlen(err) == sizeof(err) - 1);
		}
		free(got);
		got = NULL;
		free(want);
next:
		free(name);
		if (amp == NULL)
			break;
		p = amp + 1;
	}
}

/* Exactly 24 hex digits, checked by the independent hex(). */
static void
check_oid(const char *s, size_t len)
{
	bool want = len == OC_OID_LEN;
	size_t i;

	for (i = 0; want && i < len; i++)
		want = hex((unsigned char)s[i]) >= 0;
	FUZZ_CHECK(oc_oid_valid(s, len) == want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *query;
	size_t len;

	len = strnlen((const char *)data, size);
	query = xmalloc(len + 1);
	memcpy(query, data, len);
	query[len] = '\0';
	check_value(query, len, data + len, size - len);
	check_pairs(query);
	check_oid(query, len);
	if (len >= OC_OID_LEN)
		check_oid(query + len - OC_OID_LEN, OC_OID_LEN);
	free(query);
	return 0;
}
