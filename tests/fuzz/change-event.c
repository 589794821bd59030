/*
 * Fuzz target: the event of a change stream document (oc_change_parse)
 * on arbitrary BSON bytes. Properties: an error message is valid UTF-8;
 * an event, and the low-stock alert a product change makes, print as
 * valid UTF-8 JSON that the strict parser accepts.
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "oc-event.h"
#include "oc-json.h"

#define CHANGE_FUZZ_DEPTH	2000

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oc_change c;
	json_object *alert;
	char err[512];
	bson_t doc;

	if (!bson_init_static(&doc, data, size))
		return 0;
	err[0] = '\0';
	if (!oc_change_parse(&doc, &c, err, sizeof(err))) {
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(fuzz_utf8_valid(err, strlen(err)));
		FUZZ_CHECK(c.event == NULL);
	} else if (c.type == NULL) {
		FUZZ_CHECK(c.event == NULL);
	} else {
		FUZZ_CHECK(c.event != NULL && c.key != NULL);
		FUZZ_CHECK(oc_event_topic(c.type) != NULL);
		fuzz_check_json(c.event, CHANGE_FUZZ_DEPTH);
		if (c.has_stock) {
			alert = oc_event_low_stock(&c);
			fuzz_check_json(alert, CHANGE_FUZZ_DEPTH);
			json_object_put(alert);
		}
	}
	oc_change_clear(&c);
	return 0;
}
