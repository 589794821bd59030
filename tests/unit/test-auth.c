/*
 * Unit tests of lib/oc-auth: password hashing, tokens and session
 * records. The Redis side is tested through the API (tests/api-auth.bats).
 * Prints TAP.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oc-auth.h"
#include "oc-xmalloc.h"
#include "tap.h"


/* Hash and verify, and the length rules. */
static void
test_passwords(void)
{
	char	 h[OC_PWHASH_MAX], err[128];
	char	*longpw;

	ok(!oc_password_hash("short-pw1", h, sizeof(h), err, sizeof(err)),
	    "a 9-character password is refused");
	ok(strstr(err, "at least 10") != NULL, "the refusal says the minimum");
	ok(oc_password_hash("correct horse", h, sizeof(h), err, sizeof(err)),
	    "a 13-character password is hashed");
	ok(strncmp(h, "$argon2id$", 10) == 0, "the hash is Argon2id");
	ok(strstr(h, "correct horse") == NULL, "the hash holds no password");
	ok(oc_password_verify(h, "correct horse"), "the password verifies");
	ok(!oc_password_verify(h, "correct horsf"), "another does not");
	ok(!oc_password_verify(NULL, "correct horse"),
	    "no account never verifies");
	longpw = xmalloc(OC_PASSWORD_MAX + 2);
	memset(longpw, 'a', OC_PASSWORD_MAX + 1);
	longpw[OC_PASSWORD_MAX + 1] = '\0';
	ok(!oc_password_hash(longpw, h, sizeof(h), err, sizeof(err)),
	    "an over-long password is refused");
	free(longpw);
}

/* Tokens are random, well-formed and hashed for storage. */
static void
test_tokens(void)
{
	char	 a[OC_TOKEN_LEN + 1], b[OC_TOKEN_LEN + 1];
	char	 ha[OC_TOKEN_HASH_LEN + 1], hb[OC_TOKEN_HASH_LEN + 1];

	oc_token_new(a);
	oc_token_new(b);
	ok(strlen(a) == OC_TOKEN_LEN, "a token has 43 characters");
	ok(strcmp(a, b) != 0, "two tokens differ");
	ok(oc_token_syntax_ok(a), "a new token is well-formed");
	ok(!oc_token_syntax_ok("abc"), "a short token is not");
	a[5] = '+';
	ok(!oc_token_syntax_ok(a), "a token with '+' is not");
	a[5] = 'x';
	oc_token_hash(a, ha);
	oc_token_hash(b, hb);
	ok(strlen(ha) == OC_TOKEN_HASH_LEN, "a token hash is 64 hex digits");
	ok(strcmp(ha, hb) != 0, "hashes of two tokens differ");
	oc_token_hash(a, hb);
	ok(strcmp(ha, hb) == 0, "a token always hashes the same");
	ok(strstr(ha, a) == NULL, "the hash is not the token");
}

/* Where a request's token is found. */
static void
test_headers(void)
{
	char	 t[OC_TOKEN_LEN + 2];

	ok(oc_token_from_headers("Bearer abc", NULL, t, sizeof(t)) &&
	    strcmp(t, "abc") == 0, "a bearer token is taken");
	ok(oc_token_from_headers("bearer  abc", "ordercast_session=zz", t,
	    sizeof(t)) && strcmp(t, "abc") == 0,
	    "the scheme is case-insensitive and beats the cookie");
	ok(oc_token_from_headers(NULL, "a=1; ordercast_session=xyz; b=2", t,
	    sizeof(t)) && strcmp(t, "xyz") == 0, "the cookie is found");
	ok(!oc_token_from_headers("Basic Zm9v", "xordercast_session=1", t,
	    sizeof(t)), "other schemes and cookies are not tokens");
	ok(!oc_token_from_headers(NULL, NULL, t, sizeof(t)), "no headers");
}

/* Records round-trip, and malformed ones are refused. */
static void
test_records(void)
{
	struct oc_session	 s = { 0 }, t = { 0 };
	const char		*nul;
	char			*rec;

	memcpy(s.user_id, "65f0c0ffee0000000000abcd", OC_OID_HEX + 1);
	memcpy(s.role, "customer", 9);
	s.created_ms = 1764064800123;
	s.expires_ms = 1764669600123;
	rec = oc_session_record(&s);
	ok(oc_session_parse_record(rec, strlen(rec), &t), "a record parses");
	ok(strcmp(t.user_id, s.user_id) == 0 && strcmp(t.role, s.role) == 0 &&
	    t.created_ms == s.created_ms && t.expires_ms == s.expires_ms,
	    "a record round-trips");
	free(rec);
	ok(!oc_session_parse_record("{\"userId\":\"x\",\"role\":\"admin\","
	    "\"created\":1,\"expires\":2}", 53, &t), "a bad user id is refused");
	ok(!oc_session_parse_record("{\"role\":\"admin\"}", 16, &t),
	    "a record without a user is refused");
	ok(!oc_session_parse_record("not json", 8, &t),
	    "garbage is refused");
	nul = "{\"userId\":\"65f0c0ffee0000000000abcd\\u0000x\","
	    "\"role\":\"admin\",\"created\":1,\"expires\":2}";
	ok(!oc_session_parse_record(nul, strlen(nul), &t),
	    "a user id with a NUL inside is refused, not cut");
	memcpy(s.role, "a\"b", 4);
	rec = oc_session_record(&s);
	ok(oc_session_parse_record(rec, strlen(rec), &t) &&
	    strcmp(t.role, "a\"b") == 0, "a record is escaped JSON");
	free(rec);
}

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!oc_auth_init()) {
		printf("Bail out! libsodium does not start\n");
		return 1;
	}
	test_passwords();
	test_tokens();
	test_headers();
	test_records();
	return tap_done();
}
