/*
 * Fuzz target: error bodies (lib/oc-errbody). The first byte is the
 * clip limit of oc_utf8_clip; the rest, up to a NUL, is a message (the
 * API formats messages from input it quotes). Properties: the body is
 * valid UTF-8 JSON that oc_json_parse accepts, its stated length is
 * its length, and it holds the code, the field and a message of at
 * most OC_ERROR_MESSAGE_MAX bytes that is the message itself when that
 * was valid UTF-8 and short enough; oc_utf8_clip gives valid UTF-8 of
 * at most its limit, a prefix of the input when the input was valid.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "oc-errbody.h"
#include "oc-json.h"
#include "oc-xmalloc.h"

#define CODE	"invalid_field"
#define FIELD	"name"

/* A string member of obj, or NULL. */
static const char *
member(json_object *obj, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The body of text, parsed; its error holds code, field and message. */
static void
check_body(const char *text, size_t len, const char *msg, bool field)
{
	json_object *body, *err;
	const char *got;
	char why[256];
	size_t mlen = strlen(msg);

	FUZZ_CHECK(strlen(text) == len);
	FUZZ_CHECK(fuzz_utf8_valid(text, len));
	body = oc_json_parse(text, len, OC_JSON_MAX_DEPTH, why, sizeof(why));
	FUZZ_CHECK(body != NULL);
	FUZZ_CHECK(json_object_object_get_ex(body, "error", &err));
	FUZZ_CHECK(json_object_is_type(err, json_type_object));
	got = member(err, "code");
	FUZZ_CHECK(got != NULL && strcmp(got, CODE) == 0);
	got = member(err, "field");
	FUZZ_CHECK(field ? got != NULL && strcmp(got, FIELD) == 0 :
	    got == NULL);
	got = member(err, "message");
	FUZZ_CHECK(got != NULL);
	FUZZ_CHECK(strlen(got) <= OC_ERROR_MESSAGE_MAX);
	if (fuzz_utf8_valid(msg, mlen) && mlen <= OC_ERROR_MESSAGE_MAX)
		FUZZ_CHECK(strcmp(got, msg) == 0);
	json_object_put(body);
}

/* oc_utf8_clip of len bytes to max: valid, bounded, a prefix if it can. */
static void
check_clip(const char *s, size_t len, size_t max)
{
	char *out = oc_utf8_clip(s, len, max);
	size_t olen = strlen(out);

	FUZZ_CHECK(olen <= max && olen <= len);
	FUZZ_CHECK(fuzz_utf8_valid(out, olen));
	if (fuzz_utf8_valid(s, len)) {
		FUZZ_CHECK(memcmp(out, s, olen) == 0);
		if (len <= max)
			FUZZ_CHECK(olen == len);
		else	/* cut at most one character short of max */
			FUZZ_CHECK(max - olen < 4);
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *obj;
	const char *text;
	char *msg, *body;
	size_t len, blen;

	if (size < 1)
		return 0;
	len = strnlen((const char *)data + 1, size - 1);
	msg = xmalloc(len + 1);
	memcpy(msg, data + 1, len);
	msg[len] = '\0';

	body = oc_errbody_text(CODE, FIELD, msg, &blen);
	check_body(body, blen, msg, true);
	free(body);

	obj = oc_errbody_new(CODE, NULL, msg);
	text = oc_json_text(obj, &blen);
	check_body(text, blen, msg, false);
	json_object_put(obj);

	obj = oc_errbody_newf(CODE, FIELD, "%s", msg);
	text = oc_json_text(obj, &blen);
	check_body(text, blen, msg, true);
	json_object_put(obj);

	check_clip(msg, len, data[0]);
	check_clip(msg, len, OC_ERROR_MESSAGE_MAX);
	free(msg);
	return 0;
}
