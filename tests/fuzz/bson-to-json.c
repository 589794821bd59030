/*
 * Fuzz target: the BSON->JSON converter on arbitrary BSON bytes, as
 * MongoDB may hold documents another program wrote. Property: the
 * output is valid UTF-8 JSON that the strict parser accepts, equal to
 * what was printed.
 */
#include "config.h"

#include "fuzz.h"
#include "oc-json.h"

/* BSON nests far deeper than request bodies may. */
#define BSON_FUZZ_DEPTH	2000

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *obj;
	bson_t doc;

	if (!bson_init_static(&doc, data, size))
		return 0;
	obj = oc_bson_to_json(&doc);
	FUZZ_CHECK(obj != NULL);
	fuzz_check_json(obj, BSON_FUZZ_DEPTH);
	json_object_put(obj);
	obj = oc_bson_doc_to_json(&doc);
	fuzz_check_json(obj, BSON_FUZZ_DEPTH);
	json_object_put(obj);
	return 0;
}
