/*
 * Fuzz target: the FastCGI record and name-value pair decoders of the
 * relay (cgi/sse/fcgi-proto.c) on arbitrary bytes, read as a sequence
 * of records. Properties: a record found lies inside the input; its
 * content encoded again as a stream decodes to the same type, id and
 * bytes; every pair of its content encodes and decodes to itself.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fcgi-proto.h"
#include "oc-xmalloc.h"

/* Encode the record's content again and read it back. */
static void
check_stream(const struct fcgi_record *rec)
{
	struct fcgi_record back;
	size_t size, len, off = 0, got = 0, used;
	uint8_t *buf;

	size = fcgi_stream_size(rec->content_len);
	buf = xmalloc(size);
	len = fcgi_stream_encode(buf, rec->type, rec->request_id,
	    rec->content, rec->content_len);
	FUZZ_CHECK(len == size);
	while (off < len) {
		FUZZ_CHECK(fcgi_record_parse(buf + off, len - off, &back,
		    &used) == 1);
		FUZZ_CHECK(back.type == rec->type &&
		    back.request_id == rec->request_id);
		FUZZ_CHECK(got + back.content_len <= rec->content_len);
		FUZZ_CHECK(memcmp(back.content, rec->content + got,
		    back.content_len) == 0);
		got += back.content_len;
		off += used;
	}
	FUZZ_CHECK(off == len && got == rec->content_len);
	free(buf);
}

/* Decode the content as pairs; each must survive encode and decode. */
static void
check_pairs(const struct fcgi_record *rec)
{
	const uint8_t *name, *value, *n2, *v2;
	size_t off = 0, off2, nl, vl, nl2, vl2, size;
	uint8_t *buf;

	while (fcgi_pair_next(rec->content, rec->content_len, &off, &name,
	    &nl, &value, &vl) == 1) {
		FUZZ_CHECK(off <= rec->content_len);
		size = fcgi_pair_size(nl, vl);
		buf = xmalloc(size);
		FUZZ_CHECK(fcgi_pair_encode(buf, (const char *)name, nl,
		    (const char *)value, vl) == size);
		off2 = 0;
		FUZZ_CHECK(fcgi_pair_next(buf, size, &off2, &n2, &nl2, &v2,
		    &vl2) == 1);
		FUZZ_CHECK(off2 == size && nl2 == nl && vl2 == vl);
		FUZZ_CHECK(memcmp(n2, name, nl) == 0 &&
		    memcmp(v2, value, vl) == 0);
		FUZZ_CHECK(fcgi_pair_next(buf, size, &off2, &n2, &nl2, &v2,
		    &vl2) == 0);
		free(buf);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fcgi_record rec;
	size_t off = 0, used;
	uint8_t *copy;

	while (off < size &&
	    fcgi_record_parse(data + off, size - off, &rec, &used) == 1) {
		FUZZ_CHECK(used >= FCGI_HEADER_LEN && used <= size - off);
		FUZZ_CHECK(rec.content >= data + off &&
		    rec.content + rec.content_len <= data + off + used);
		check_stream(&rec);
		check_pairs(&rec);
		off += used;
	}
	/* A buffer of whole records takes a new request id everywhere. */
	if (off == size && size > 0) {
		copy = xmalloc(size);
		memcpy(copy, data, size);
		FUZZ_CHECK(fcgi_records_set_id(copy, size, 7));
		off = 0;
		while (off < size) {
			FUZZ_CHECK(fcgi_record_parse(copy + off, size - off,
			    &rec, &used) == 1);
			FUZZ_CHECK(rec.request_id == 7);
			off += used;
		}
		free(copy);
	}
	return 0;
}
