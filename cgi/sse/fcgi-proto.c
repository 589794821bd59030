/*
 * FastCGI records encoded and decoded by hand, so the SSE relay can keep
 * thousands of connections in one non-blocking event loop.
 */
#include "config.h"

#include <string.h>

#include "fcgi-proto.h"

/* Fill the 8-byte header every record starts with. */
static void
header_encode(uint8_t *out, uint8_t type, uint16_t request_id,
    size_t content_len, size_t padding_len)
{
	out[0] = FCGI_VERSION_1;
	out[1] = type;
	out[2] = (uint8_t)(request_id >> 8);
	out[3] = (uint8_t)(request_id & 0xff);
	out[4] = (uint8_t)(content_len >> 8);
	out[5] = (uint8_t)(content_len & 0xff);
	out[6] = (uint8_t)padding_len;
	out[7] = 0;
}

int
fcgi_record_parse(const uint8_t *buf, size_t len, struct fcgi_record *rec,
    size_t *used)
{
	size_t clen, plen;

	if (len < FCGI_HEADER_LEN)
		return 0;
	if (buf[0] != FCGI_VERSION_1)
		return -1;
	clen = ((size_t)buf[4] << 8) | buf[5];
	plen = buf[6];
	if (len < FCGI_HEADER_LEN + clen + plen)
		return 0;
	rec->type = buf[1];
	rec->request_id = (uint16_t)((buf[2] << 8) | buf[3]);
	rec->content = buf + FCGI_HEADER_LEN;
	rec->content_len = clen;
	*used = FCGI_HEADER_LEN + clen + plen;
	return 1;
}

/* Read a pair length: one byte under 128, else four with the top bit. */
static bool
pair_len(const uint8_t *p, size_t len, size_t *off, size_t *out)
{
	if (*off >= len)
		return false;
	if ((p[*off] & 0x80) == 0) {
		*out = p[*off];
		*off += 1;
		return true;
	}
	if (len - *off < 4)
		return false;
	*out = ((size_t)(p[*off] & 0x7f) << 24) |
	    ((size_t)p[*off + 1] << 16) | ((size_t)p[*off + 2] << 8) |
	    p[*off + 3];
	*off += 4;
	return true;
}

int
fcgi_pair_next(const uint8_t *p, size_t len, size_t *off,
    const uint8_t **name, size_t *name_len, const uint8_t **value,
    size_t *value_len)
{
	size_t nl, vl;

	if (*off >= len)
		return 0;
	if (!pair_len(p, len, off, &nl) || !pair_len(p, len, off, &vl))
		return -1;
	if (nl > len - *off || vl > len - *off - nl)
		return -1;
	*name = p + *off;
	*name_len = nl;
	*value = p + *off + nl;
	*value_len = vl;
	*off += nl + vl;
	return 1;
}

size_t
fcgi_pair_size(size_t name_len, size_t value_len)
{
	return (name_len < 128 ? 1 : 4) + (value_len < 128 ? 1 : 4) +
	    name_len + value_len;
}

/* Write one pair length in its short or long form. */
static size_t
pair_len_encode(uint8_t *out, size_t n)
{
	if (n < 128) {
		out[0] = (uint8_t)n;
		return 1;
	}
	out[0] = (uint8_t)(((n >> 24) & 0x7f) | 0x80);
	out[1] = (uint8_t)(n >> 16);
	out[2] = (uint8_t)(n >> 8);
	out[3] = (uint8_t)n;
	return 4;
}

size_t
fcgi_pair_encode(uint8_t *out, const char *name, size_t name_len,
    const char *value, size_t value_len)
{
	size_t n = 0;

	n += pair_len_encode(out + n, name_len);
	n += pair_len_encode(out + n, value_len);
	memcpy(out + n, name, name_len);
	n += name_len;
	memcpy(out + n, value, value_len);
	n += value_len;
	return n;
}

size_t
fcgi_stream_size(size_t len)
{
	size_t full, rest, n;

	if (len == 0)
		return FCGI_HEADER_LEN;
	full = len / FCGI_CHUNK_MAX;
	rest = len % FCGI_CHUNK_MAX;
	n = full * (FCGI_HEADER_LEN + FCGI_CHUNK_MAX);
	if (rest > 0)
		n += FCGI_HEADER_LEN + ((rest + 7) & ~(size_t)7);
	return n;
}

size_t
fcgi_stream_encode(uint8_t *out, uint8_t type, uint16_t request_id,
    const void *data, size_t len)
{
	const uint8_t *src = data;
	size_t n = 0, chunk, pad;

	if (len == 0) {
		header_encode(out, type, request_id, 0, 0);
		return FCGI_HEADER_LEN;
	}
	while (len > 0) {
		chunk = len < FCGI_CHUNK_MAX ? len : FCGI_CHUNK_MAX;
		pad = ((chunk + 7) & ~(size_t)7) - chunk;
		header_encode(out + n, type, request_id, chunk, pad);
		n += FCGI_HEADER_LEN;
		memcpy(out + n, src, chunk);
		n += chunk;
		memset(out + n, 0, pad);
		n += pad;
		src += chunk;
		len -= chunk;
	}
	return n;
}

size_t
fcgi_end_request_encode(uint8_t out[16], uint16_t request_id,
    uint32_t app_status, uint8_t protocol_status)
{
	header_encode(out, FCGI_END_REQUEST, request_id, 8, 0);
	out[8] = (uint8_t)(app_status >> 24);
	out[9] = (uint8_t)(app_status >> 16);
	out[10] = (uint8_t)(app_status >> 8);
	out[11] = (uint8_t)app_status;
	out[12] = protocol_status;
	memset(out + 13, 0, 3);
	return 16;
}

size_t
fcgi_unknown_type_encode(uint8_t out[16], uint8_t type)
{
	header_encode(out, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID, 8, 0);
	out[8] = type;
	memset(out + 9, 0, 7);
	return 16;
}

bool
fcgi_records_set_id(uint8_t *buf, size_t len, uint16_t request_id)
{
	struct fcgi_record rec;
	size_t off = 0, used;

	while (off < len) {
		if (fcgi_record_parse(buf + off, len - off, &rec, &used) != 1)
			return false;
		buf[off + 2] = (uint8_t)(request_id >> 8);
		buf[off + 3] = (uint8_t)(request_id & 0xff);
		off += used;
	}
	return true;
}
