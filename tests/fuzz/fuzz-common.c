/* Property checks the fuzz targets share. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "oc-json.h"

void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: property failed: %s\n", file, line, what);
	abort();
}

/* Checked here independently of lib/oc-json.c's own scanner. */
bool
fuzz_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, k;
	uint32_t cp, min;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			n = 2;
			cp = p[i] & 0x1f;
			min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 3;
			cp = p[i] & 0x0f;
			min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 4;
			cp = p[i] & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (len - i < n)
			return false;
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

void
fuzz_check_json(json_object *obj, int max_depth)
{
	char err[256];
	json_object *back;
	const char *text;
	size_t len;

	text = oc_json_text(obj, &len);
	FUZZ_CHECK(text != NULL);
	FUZZ_CHECK(fuzz_utf8_valid(text, len));
	back = oc_json_parse(text, len, max_depth, err, sizeof(err));
	if (back == NULL)
		fprintf(stderr, "refused: %s\n%.*s\n", err, (int)len, text);
	FUZZ_CHECK(back != NULL);
	FUZZ_CHECK(json_object_equal(obj, back));
	json_object_put(back);
}
