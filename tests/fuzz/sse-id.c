/*
 * Fuzz target: the relay's Last-Event-ID parse (sse_id_parse). The
 * input is the header's value. Properties: an accepted id formats to
 * text that parses to the same id; any id (the first 16 bytes read as
 * two numbers) survives format then parse; text longer than
 * SSE_ID_MAX never comes out of format.
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "sse.h"

/* Format id, parse the text again and compare. */
static void
check_format_parse(const struct sse_id *id)
{
	char text[2 * SSE_ID_MAX];
	struct sse_id back;

	sse_id_format(id, text, sizeof(text));
	FUZZ_CHECK(strlen(text) < SSE_ID_MAX);
	FUZZ_CHECK(sse_id_parse(text, strlen(text), &back));
	FUZZ_CHECK(sse_id_cmp(id, &back) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sse_id id;

	if (sse_id_parse((const char *)data, size, &id))
		check_format_parse(&id);
	if (size >= 2 * sizeof(uint64_t)) {
		memcpy(&id.ms, data, sizeof(id.ms));
		memcpy(&id.seq, data + sizeof(id.ms), sizeof(id.seq));
		check_format_parse(&id);
	}
	return 0;
}
