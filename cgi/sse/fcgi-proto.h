/*
 * The FastCGI record layer, for a program that holds its connections in
 * its own event loop instead of libfcgi's blocking FCGX_Accept_r. Pure
 * functions over byte buffers: no I/O, no allocation unless stated.
 * Constants (record types, flags, statuses) come from libfcgi's
 * <fastcgi.h>.
 */
#ifndef FCGI_PROTO_H
#define FCGI_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fastcgi.h>

/* Largest content a record may carry, kept a multiple of 8. */
#define FCGI_CHUNK_MAX	65528

/* One record as it sits in the input buffer (content is borrowed). */
struct fcgi_record {
	uint8_t		 type;
	uint16_t	 request_id;
	const uint8_t	*content;
	size_t		 content_len;
};

/*
 * Read one whole record at the start of buf. Returns 1 and sets *used to
 * its full length (header, content, padding) when one is there, 0 when
 * more bytes are needed, -1 when the bytes are not FastCGI version 1.
 */
int fcgi_record_parse(const uint8_t *buf, size_t len,
    struct fcgi_record *rec, size_t *used);

/*
 * Read the next name-value pair of PARAMS or GET_VALUES content from
 * *off. Returns 1 with borrowed pointers into p, 0 at the end, -1 when
 * the content is malformed.
 */
int fcgi_pair_next(const uint8_t *p, size_t len, size_t *off,
    const uint8_t **name, size_t *name_len,
    const uint8_t **value, size_t *value_len);

/* Bytes fcgi_pair_encode() writes for these lengths. */
size_t fcgi_pair_size(size_t name_len, size_t value_len);

/* Write a name-value pair to out (fcgi_pair_size() bytes). */
size_t fcgi_pair_encode(uint8_t *out, const char *name, size_t name_len,
    const char *value, size_t value_len);

/* Bytes fcgi_stream_encode() writes for len bytes of data. */
size_t fcgi_stream_size(size_t len);

/*
 * Write data as records of type (STDOUT, STDERR, GET_VALUES_RESULT) for
 * request_id, split at FCGI_CHUNK_MAX; len 0 writes the empty record that
 * ends a stream. Returns the bytes written (fcgi_stream_size(len)).
 */
size_t fcgi_stream_encode(uint8_t *out, uint8_t type, uint16_t request_id,
    const void *data, size_t len);

/* Write an END_REQUEST record (16 bytes). */
size_t fcgi_end_request_encode(uint8_t out[16], uint16_t request_id,
    uint32_t app_status, uint8_t protocol_status);

/* Write an UNKNOWN_TYPE record answering a record of type (16 bytes). */
size_t fcgi_unknown_type_encode(uint8_t out[16], uint8_t type);

/*
 * Rewrite the request id of every record in a buffer that holds whole
 * records only. Returns false when the buffer is not a record sequence.
 */
bool fcgi_records_set_id(uint8_t *buf, size_t len, uint16_t request_id);

#endif
