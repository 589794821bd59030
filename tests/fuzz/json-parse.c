/*
 * Fuzz target: the strict JSON parser of request bodies and the
 * conversion of what it accepts to BSON. Properties: an error message
 * is valid UTF-8; what is accepted prints as valid UTF-8 JSON that
 * parses again to an equal value; an object converts to BSON and back
 * to an equal value, or is refused with a message (numbers no BSON
 * type holds), never changed.
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "oc-json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	json_object *obj, *back;
	bson_t doc;

	err[0] = '\0';
	obj = oc_json_parse((const char *)data, size, OC_JSON_MAX_DEPTH, err,
	    sizeof(err));
	if (obj == NULL) {
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(fuzz_utf8_valid(err, strlen(err)));
		return 0;
	}
	fuzz_check_json(obj, OC_JSON_MAX_DEPTH);
	if (json_object_is_type(obj, json_type_object)) {
		err[0] = '\0';
		if (oc_json_to_bson(obj, &doc, err, sizeof(err))) {
			back = oc_bson_doc_to_json(&doc);
			FUZZ_CHECK(json_object_equal(obj, back));
			fuzz_check_json(back, OC_JSON_MAX_DEPTH);
			json_object_put(back);
		} else {
			/* Numbers past Int64 or double: refused, not cut. */
			FUZZ_CHECK(err[0] != '\0');
			FUZZ_CHECK(fuzz_utf8_valid(err, strlen(err)));
		}
		bson_destroy(&doc);
	}
	json_object_put(obj);
	return 0;
}
