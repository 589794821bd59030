/*
 * What the fuzz targets share. Each target defines
 * LLVMFuzzerTestOneInput; libFuzzer (configure --enable-fuzzing) or
 * replay.c (make check) calls it. A broken property aborts, so both
 * report it as a crash with the input that caused it.
 */
#ifndef OC_FUZZ_H
#define OC_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with the property and its place when cond is false. */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, #cond);			\
} while (0)

void fuzz_fail(const char *file, int line, const char *what)
    __attribute__((noreturn));

/* Whether len bytes at s are well-formed UTF-8 (RFC 3629). */
bool fuzz_utf8_valid(const char *s, size_t len);

/*
 * The printed text of obj must be valid UTF-8 and parse again with
 * oc_json_parse (nesting up to max_depth) to an equal value.
 */
void fuzz_check_json(json_object *obj, int max_depth);

#endif
