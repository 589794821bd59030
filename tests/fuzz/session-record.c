/*
 * Fuzz target: session records as Redis holds them
 * (oc_session_parse_record). The input is the stored value. Properties
 * of an accepted record: its userId is 24 hex digits, its role fits,
 * the hash is left alone; oc_session_record prints it as JSON that
 * parses again to the same session.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "oc-auth.h"

/* What oc_session_parse_record must not touch. */
#define HASH_MARK	"untouched"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oc_session s, back;
	char *text = NULL;
	size_t i;

	memset(&s, 0, sizeof(s));
	memcpy(s.hash, HASH_MARK, sizeof(HASH_MARK));
	if (!oc_session_parse_record((const char *)data, size, &s))
		return 0;
	FUZZ_CHECK(strcmp(s.hash, HASH_MARK) == 0);
	FUZZ_CHECK(strlen(s.user_id) == OC_OID_HEX);
	for (i = 0; i < OC_OID_HEX; i++)
		FUZZ_CHECK(strchr("0123456789abcdefABCDEF", s.user_id[i]) !=
		    NULL);
	FUZZ_CHECK(strlen(s.role) < OC_ROLE_MAX);

	text = oc_session_record(&s);
	memset(&back, 0, sizeof(back));
	if (!oc_session_parse_record(text, strlen(text), &back))
		fprintf(stderr, "record refused when read again:\n%s\n", text);
	FUZZ_CHECK(oc_session_parse_record(text, strlen(text), &back));
	FUZZ_CHECK(strcmp(back.user_id, s.user_id) == 0);
	FUZZ_CHECK(strcmp(back.role, s.role) == 0);
	FUZZ_CHECK(back.created_ms == s.created_ms);
	FUZZ_CHECK(back.expires_ms == s.expires_ms);
	free(text);
	return 0;
}
