/*
 * Fuzz target: the token a request carries (oc_token_from_headers).
 * The first byte says which headers are absent (bit 0 Authorization,
 * bit 1 Cookie), the second the size of the output buffer (1 to 256);
 * the rest is the Authorization value, a NUL, then the Cookie value.
 * Properties: nothing is written past the buffer (it is allocated to
 * its exact size); a token found is the end of a Bearer value or the
 * value of an ordercast_session cookie pair, cut to the buffer; a
 * request without either yields none.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "oc-auth.h"
#include "oc-xmalloc.h"

#define BEARER	"Bearer "

/* Does the Authorization value use the Bearer scheme? */
static bool
is_bearer(const char *auth)
{
	return auth != NULL && strncasecmp(auth, BEARER, strlen(BEARER)) == 0;
}

/* Is tok (cut to outlen - 1 bytes) the token of a Bearer value? */
static bool
from_bearer(const char *auth, const char *tok, size_t outlen)
{
	const char *p;

	if (!is_bearer(auth))
		return false;
	p = auth + strlen(BEARER);
	while (*p == ' ')
		p++;
	if (strlen(p) < outlen)
		return strcmp(p, tok) == 0;
	return strlen(tok) == outlen - 1 &&
	    strncmp(p, tok, outlen - 1) == 0;
}

/*
 * Does the cookie header hold a pair named ordercast_session? When
 * tok is not NULL, the first such pair must have tok as its value
 * (cut to outlen - 1 bytes).
 */
static bool
cookie_pair(const char *cookie, const char *tok, size_t outlen)
{
	const char *p = cookie, *end, *v;
	size_t nlen = strlen(OC_COOKIE_NAME), vlen;

	while (p != NULL && *p != '\0') {
		p += strspn(p, " ;");
		end = p + strcspn(p, ";");
		if ((size_t)(end - p) > nlen && p[nlen] == '=' &&
		    memcmp(p, OC_COOKIE_NAME, nlen) == 0) {
			if (tok == NULL)
				return true;
			v = p + nlen + 1;
			vlen = (size_t)(end - v);
			if (vlen >= outlen)
				vlen = outlen - 1;
			return strlen(tok) == vlen &&
			    memcmp(v, tok, vlen) == 0;
		}
		p = end;
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *auth = NULL, *cookie = NULL, *out = NULL;
	const char *rest, *nul;
	size_t outlen, alen, clen;
	bool found;

	if (size < 2)
		return 0;
	outlen = (size_t)data[1] + 1;
	rest = (const char *)data + 2;
	size -= 2;
	nul = memchr(rest, '\0', size);
	alen = nul != NULL ? (size_t)(nul - rest) : size;
	clen = nul != NULL ? size - alen - 1 : 0;
	if (!(data[0] & 1)) {
		auth = xmalloc(alen + 1);
		memcpy(auth, rest, alen);
		auth[alen] = '\0';
	}
	if (!(data[0] & 2)) {
		cookie = xmalloc(clen + 1);
		memcpy(cookie, rest + alen + (nul != NULL), clen);
		cookie[clen] = '\0';
	}
	out = xmalloc(outlen);
	memset(out, 'x', outlen);

	found = oc_token_from_headers(auth, cookie, out, outlen);
	if (found) {
		FUZZ_CHECK(memchr(out, '\0', outlen) != NULL);
		/* Bearer first, then the cookie. */
		if (is_bearer(auth))
			FUZZ_CHECK(from_bearer(auth, out, outlen));
		else
			FUZZ_CHECK(cookie_pair(cookie, out, outlen));
	} else {
		FUZZ_CHECK(!is_bearer(auth));
		FUZZ_CHECK(!cookie_pair(cookie, NULL, outlen));
	}
	free(auth);
	free(cookie);
	free(out);
	return 0;
}
