/*
 * Fuzz target: the API's request parsing (cgi/api/api-req.c, with
 * api-reply.c for its error answers), linked as it is. The request
 * comes from a parameter array like the one plain-CGI mode hands
 * FCGX_GetParam and a body stream that gives the body in chunks.
 *
 * Input: a flags byte (bit 0: the body is optional, bit 1: no
 * Content-Length, bit 2: no Content-Type), a byte for the chunk size
 * (1 to 256), then the query string, NUL, Content-Type, NUL,
 * Content-Length, NUL, and the body.
 *
 * Properties: every refusal is an answer with its status and an error
 * body of valid UTF-8 JSON ({"error":{"code","message","field"}}, the
 * field named when there is one) and header lines that carry no request
 * bytes (printable, CRLF-ended, so nothing splits the response); a
 * query that passes the check gives every parameter it names; counts
 * and ids are what they claim; a body
 * read has exactly Content-Length bytes, the ones sent, and a body
 * over the limit is not read at all; object members read as strings,
 * ids and integers only when they are ones, within the bounds.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fuzz.h"
#include "oc-errbody.h"
#include "oc-json.h"
#include "oc-query.h"
#include "oc-xmalloc.h"

/* The body as the fake FastCGI stream hands it out. */
struct body_src {
	unsigned char	*start;
	unsigned char	*next;
	size_t		 left;
	size_t		 chunk;
	size_t		 given;
};

/* fillBuffProc of the stream: the next chunk, or closed at the end. */
static void
body_fill(FCGX_Stream *st)
{
	struct body_src *src = st->data;
	size_t n = src->left < src->chunk ? src->left : src->chunk;

	if (n == 0) {
		st->isClosed = 1;
		return;
	}
	st->rdNext = src->next;
	st->stop = src->next + n;
	st->stopUnget = src->next;
	src->next += n;
	src->left -= n;
	src->given += n;
}

/* One request of a thread of a server that is never started. */
struct fake {
	struct api_server	 server;
	struct api_thread	 thr;
	FCGX_Request		 fcgi;
	FCGX_Stream		 in;
	struct body_src		 src;
	char			*envp[3];
	struct api_req		 req;
};

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

/*
 * No response header carries request bytes: the extra header lines a
 * refusal sets are printable ASCII "Name: value" lines ended by CRLF,
 * so nothing a client sends can split the response or add a header.
 */
static void
check_headers(const struct api_req *req)
{
	const char *p = req->headers, *eol;

	for (; p != NULL && *p != '\0'; p = eol + 2) {
		eol = strstr(p, "\r\n");
		FUZZ_CHECK(eol != NULL);
		FUZZ_CHECK(memchr(p, ':', (size_t)(eol - p)) != NULL);
		for (const char *c = p; c < eol; c++)
			FUZZ_CHECK(*c >= 0x20 && *c < 0x7f);
	}
}

/*
 * The request was refused: status and an error body with code, a
 * short valid message and, when field is not NULL, that field (any
 * field when it is ""). The answer is dropped so the request may go on.
 */
static void
check_refusal(struct api_req *req, int status, const char *code,
    const char *field)
{
	json_object *body = NULL, *err;
	const char *got;
	char why[256];

	FUZZ_CHECK(req->status == status);
	FUZZ_CHECK(req->out != NULL);
	FUZZ_CHECK(req->err_code != NULL && strcmp(req->err_code, code) == 0);
	FUZZ_CHECK(strlen(req->out) == req->out_len);
	if (!fuzz_utf8_valid(req->out, req->out_len))
		fprintf(stderr, "error body is not UTF-8: %s\n", req->out);
	FUZZ_CHECK(fuzz_utf8_valid(req->out, req->out_len));
	body = oc_json_parse(req->out, req->out_len, OC_JSON_MAX_DEPTH, why,
	    sizeof(why));
	FUZZ_CHECK(body != NULL);
	FUZZ_CHECK(json_object_object_get_ex(body, "error", &err));
	got = member(err, "code");
	FUZZ_CHECK(got != NULL && strcmp(got, code) == 0);
	got = member(err, "message");
	FUZZ_CHECK(got != NULL && *got != '\0');
	FUZZ_CHECK(strlen(got) <= OC_ERROR_MESSAGE_MAX);
	got = member(err, "field");
	if (field != NULL)
		FUZZ_CHECK(got != NULL &&
		    (*field == '\0' || strcmp(got, field) == 0));
	json_object_put(body);
	check_headers(req);
	free(req->out);
	req->out = NULL;
	req->out_len = 0;
	req->status = 0;
	req->err_code = NULL;
}

/* Digits only, and no more than a long takes. */
static bool
all_digits(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return i > 0;
}

/* The query parameters a handler asks for, once the check passed. */
static void
check_query(struct api_req *req)
{
	static const char *const names[] = { "limit", "offset", "where",
	    "sort", "id", "format" };
	char *value = NULL, *raw = NULL, err[160];
	bson_oid_t oid;
	char hex[25];
	size_t i, k;
	long n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		/* The check passed: every parameter decodes. */
		FUZZ_CHECK(oc_query_get(req->query, names[i], &raw, err,
		    sizeof(err)));
		FUZZ_CHECK(api_query(req, names[i], &value) == (raw != NULL));
		if (raw != NULL)
			FUZZ_CHECK(strcmp(value, raw) == 0);

		n = -1;
		if (api_query_count(req, names[i], 1, 500, &n)) {
			FUZZ_CHECK(req->status == 0);
			if (raw == NULL) {
				FUZZ_CHECK(n == -1);
			} else {
				FUZZ_CHECK(all_digits(raw));
				FUZZ_CHECK(n >= 1 && n <= 500);
				FUZZ_CHECK(strtol(raw, NULL, 10) == n);
			}
		} else {
			FUZZ_CHECK(raw != NULL);
			check_refusal(req, 400, "invalid_field", names[i]);
		}

		if (raw != NULL && api_oid_from_text(raw, &oid)) {
			FUZZ_CHECK(oc_oid_valid(raw, strlen(raw)));
			bson_oid_to_string(&oid, hex);
			for (k = 0; k < OC_OID_LEN; k++)
				FUZZ_CHECK(hex[k] == (raw[k] | 0x20) ||
				    hex[k] == raw[k]);
			FUZZ_CHECK(api_oid_param(req, names[i], raw, &oid));
		} else if (raw != NULL) {
			FUZZ_CHECK(!oc_oid_valid(raw, strlen(raw)));
			FUZZ_CHECK(!api_oid_param(req, names[i], raw, &oid));
			check_refusal(req, 400, "invalid_field", names[i]);
		}
		free(value);
		free(raw);
		value = raw = NULL;
	}
}

/* Each member of a body object, read the ways handlers read them. */
static void
check_members(struct api_req *req, json_object *obj)
{
	json_object_iter it;
	const char *s;
	bson_oid_t oid;
	int64_t n;
	bool ok;

	json_object_object_foreachC(obj, it) {
		s = api_json_str(it.val);
		if (s != NULL) {
			FUZZ_CHECK(json_object_is_type(it.val,
			    json_type_string));
			FUZZ_CHECK(strlen(s) == (size_t)
			    json_object_get_string_len(it.val));
			FUZZ_CHECK(api_oid_from_text(s, &oid) ==
			    oc_oid_valid(s, strlen(s)));
		}
		n = 12345;
		ok = api_int_field(req, it.val, it.key, -1000000, 1000000, &n);
		if (ok) {
			FUZZ_CHECK(json_object_is_type(it.val, json_type_int));
			FUZZ_CHECK(n >= -1000000 && n <= 1000000);
			FUZZ_CHECK(n == json_object_get_int64(it.val));
		} else {
			FUZZ_CHECK(n == 12345);
			check_refusal(req, 400, "invalid_field", it.key);
		}
	}
}

/* Content-Length as a web server sends it: digits, at most nine. */
static bool
plain_length(const char *cl, long *len)
{
	if (cl == NULL) {
		*len = 0;
		return true;
	}
	if (strlen(cl) > 9 || !all_digits(cl))
		return false;
	*len = strtol(cl, NULL, 10);
	return true;
}

/* Is the Content-Type one the API takes, by the letter of docs/api.md? */
static bool
plain_json_type(const char *ct)
{
	return ct != NULL && (strcmp(ct, "application/json") == 0 ||
	    strcmp(ct, "application/json; charset=utf-8") == 0);
}

/* The body: what is read is what was sent, refusals say why. */
static void
check_body(struct fake *fk, const char *ct, const char *cl, bool optional)
{
	struct api_req *req = &fk->req;
	json_object *obj;
	size_t before = fk->src.given;
	long len;
	bool ok;

	ok = api_req_read_body(req, optional);
	if (!ok) {
		FUZZ_CHECK(req->status == 400 || req->status == 413 ||
		    req->status == 415);
		if (req->status == 413)
			FUZZ_CHECK(fk->src.given == before);
		check_refusal(req, req->status, req->err_code, NULL);
		/* A sane length and type, with all its bytes, passes. */
		if (plain_length(cl, &len) && plain_json_type(ct) &&
		    len <= API_MAX_BODY)
			FUZZ_CHECK(fk->src.left + fk->src.given < (size_t)len);
		return;
	}
	FUZZ_CHECK(req->status == 0);
	if (req->body == NULL) {
		FUZZ_CHECK(optional);
		return;
	}
	FUZZ_CHECK(req->body_len <= API_MAX_BODY);
	FUZZ_CHECK(req->body[req->body_len] == '\0');
	FUZZ_CHECK(fk->src.given - (size_t)(fk->in.stop - fk->in.rdNext) ==
	    req->body_len);
	FUZZ_CHECK(memcmp(req->body, fk->src.start, req->body_len) == 0);

	obj = api_body_object(req);
	if (obj == NULL) {
		check_refusal(req, 400, "bad_json", NULL);
		return;
	}
	FUZZ_CHECK(json_object_is_type(obj, json_type_object));
	check_members(req, obj);
	json_object_put(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake fk;
	const char *parts[3], *p, *end, *ct, *cl;
	unsigned char *body = NULL;
	size_t i, body_len;
	uint8_t flags;

	if (size < 2)
		return 0;
	flags = data[0];
	memset(&fk, 0, sizeof(fk));
	fk.src.chunk = (size_t)data[1] + 1;
	p = (const char *)data + 2;
	end = (const char *)data + size;
	for (i = 0; i < 3; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));

		if (nul == NULL)
			return 0;
		parts[i] = p;
		p = nul + 1;
	}
	body_len = (size_t)(end - p);
	body = xmalloc(body_len > 0 ? body_len : 1);
	memcpy(body, p, body_len);
	ct = (flags & 4) ? NULL : parts[1];
	cl = (flags & 2) ? NULL : parts[2];

	i = 0;
	if (ct != NULL)
		fk.envp[i++] = xasprintf("CONTENT_TYPE=%s", ct);
	if (cl != NULL)
		fk.envp[i++] = xasprintf("CONTENT_LENGTH=%s", cl);
	fk.envp[i] = NULL;
	fk.src.start = fk.src.next = body;
	fk.src.left = body_len;
	fk.in.isReader = 1;
	fk.in.fillBuffProc = body_fill;
	fk.in.data = &fk.src;
	fk.in.rdNext = fk.in.stop = fk.in.stopUnget = body;
	fk.fcgi.in = &fk.in;
	fk.thr.server = &fk.server;

	api_req_init(&fk.req, &fk.thr, &fk.fcgi, fk.envp);
	fk.req.method = "POST";
	fk.req.query = xstrdup(parts[0]);
	if (api_query_check(&fk.req))
		check_query(&fk.req);
	else
		check_refusal(&fk.req, 400, "invalid_field", "");
	check_body(&fk, ct, cl, flags & 1);

	api_req_clear(&fk.req);
	for (i = 0; fk.envp[i] != NULL; i++)
		free(fk.envp[i]);
	free(body);
	return 0;
}
