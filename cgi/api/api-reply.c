/*
 * Layer: the response, lowest of the API. Sets the status, headers and
 * body of a request and writes them out; the error format of docs/api.md.
 * Calls lib/ (and libfcgi) only.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "oc-errbody.h"
#include "oc-json.h"
#include "oc-xmalloc.h"

#define JSON_TYPE	"application/json; charset=utf-8"

/* The reason phrase of the statuses we send. */
static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* Add "Name: value" to the response headers. */
void
api_add_header(struct api_req *req, const char *name, const char *value)
{
	char *prev = req->headers;

	req->headers = xasprintf("%s%s: %s\r\n", prev != NULL ? prev : "",
	    name, value);
	free(prev);
}

/* Set the response body to a copy of text. */
void
api_reply_raw(struct api_req *req, int status, const char *text,
    size_t len, const char *type)
{
	free(req->out);
	req->out = xmalloc(len + 1);
	memcpy(req->out, text, len);
	req->out[len] = '\0';
	req->out_len = len;
	req->out_type = type != NULL ? type : JSON_TYPE;
	req->status = status;
}

/* Answer with obj as JSON; takes ownership of obj. */
void
api_reply_json(struct api_req *req, int status, json_object *obj)
{
	const char *text;
	size_t len;

	text = oc_json_text(obj, &len);
	api_reply_raw(req, status, text, len, JSON_TYPE);
	json_object_put(obj);
}

/*
 * The error body of lib/oc-errbody, naming field when it is not NULL
 * (docs/architecture.md, "HTTP interface"). Returns false for the
 * callers' returns.
 */
static bool __attribute__((format(printf, 5, 0)))
error_body(struct api_req *req, int status, const char *code,
    const char *field, const char *fmt, va_list ap)
{
	req->err_code = code;
	api_reply_json(req, status, oc_errbody_newv(code, field, fmt, ap));
	return false;
}

/* An error about the request as a whole. */
bool
api_error(struct api_req *req, int status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_body(req, status, code, NULL, fmt, ap);
	va_end(ap);
	return false;
}

/* An error about one field of the body or the query. */
bool
api_error_field(struct api_req *req, int status, const char *code,
    const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_body(req, status, code, field, fmt, ap);
	va_end(ap);
	return false;
}

/*
 * 400 bad_filter for ?where=: the error body with "position", the byte
 * offset in the decoded filter where the problem starts (docs/filters.md).
 */
bool
api_filter_error(struct api_req *req, size_t position, const char *message)
{
	json_object *body = oc_errbody_new("bad_filter", NULL, message), *err;

	if (json_object_object_get_ex(body, "error", &err))
		json_object_object_add(err, "position",
		    json_object_new_int64((int64_t)position));
	req->err_code = "bad_filter";
	api_reply_json(req, 400, body);
	return false;
}

/* 400 naming the field that is wrong. */
bool
api_field_error(struct api_req *req, const char *field, const char *why)
{
	return api_error_field(req, 400, "invalid_field", field, "%s: %s",
	    field, why);
}

/* 503 with Retry-After naming the dependency that is down. */
void
api_unavailable(struct api_req *req, const char *what)
{
	char secs[16];

	snprintf(secs, sizeof(secs), "%d", API_RETRY_AFTER);
	api_add_header(req, "Retry-After", secs);
	api_error(req, 503, "unavailable", "%s is unavailable; retry later",
	    what);
}

/* Wrap a list as {"data": [...]}; add "next" when paged. */
json_object *
api_list_body(json_object *arr, bool paged, const char *next)
{
	json_object *body = json_object_new_object();

	json_object_object_add(body, "data", arr);
	if (paged)
		json_object_object_add(body, "next", next != NULL ?
		    json_object_new_string(next) : NULL);
	return body;
}

/*
 * The strong validator of a body: FNV-1a, 64 bits, of the exact bytes
 * sent, as a quoted entity-tag. buf holds at least 19 bytes.
 */
static void
body_etag(const char *body, size_t len, char *buf, size_t buflen)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)body[i];
		h *= 1099511628211ULL;
	}
	snprintf(buf, buflen, "\"%016llx\"", (unsigned long long)h);
}

/*
 * Does an If-None-Match value name etag? It is "*" or a list of
 * entity-tags, compared weakly (W/ ignored). A malformed list matches
 * nothing, so the client gets the full answer.
 */
static bool
none_match(const char *list, const char *etag)
{
	const char *p = list, *end;
	size_t elen = strlen(etag);

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return false;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p != '"')
			return false;
		end = strchr(p + 1, '"');
		if (end == NULL)
			return false;
		if ((size_t)(end - p + 1) == elen && strncmp(p, etag, elen) == 0)
			return true;
		p = end + 1;
	}
}

/* The Cache-Control value of a policy. */
static const char *
cache_control(enum api_cache cache)
{
	switch (cache) {
	case API_CACHE_REVALIDATE:
		return "no-cache";
	case API_CACHE_PRIVATE:
		return "private, no-cache";
	case API_CACHE_NO_STORE:
	default:
		return "no-store";
	}
}

/* Write len bytes to FastCGI or stdout. */
static void
put(struct api_req *req, const char *s, size_t len)
{
	if (len == 0)
		return;
	if (req->fcgi != NULL)
		FCGX_PutStr(s, (int)len, req->fcgi->out);
	else
		fwrite(s, 1, len, stdout);
}

/*
 * Write the status line, headers and body to FastCGI or stdout. A 200
 * that may be cached gets an ETag, and 304 when If-None-Match names it;
 * HEAD gets the headers of GET, Content-Length included, and no body.
 */
void
api_reply_write(struct api_req *req)
{
	enum api_cache cache = API_CACHE_NO_STORE;
	const char *inm;
	char head[512], etag[32] = "";
	int status = req->status, n;
	bool body;

	if (status == 200 && req->cache != API_CACHE_NO_STORE) {
		cache = req->cache;
		body_etag(req->out, req->out_len, etag, sizeof(etag));
		inm = FCGX_GetParam("HTTP_IF_NONE_MATCH", req->envp);
		if (inm != NULL && none_match(inm, etag))
			status = 304;
	}
	if (status == 304)
		n = snprintf(head, sizeof(head), "Status: 304 %s\r\n"
		    "Cache-Control: %s\r\nETag: %s\r\n", status_text(304),
		    cache_control(cache), etag);
	else
		n = snprintf(head, sizeof(head), "Status: %d %s\r\n"
		    "Content-Type: %s\r\nContent-Length: %zu\r\n"
		    "Cache-Control: %s\r\n%s%s%s", status,
		    status_text(status), req->out_type, req->out_len,
		    cache_control(cache), etag[0] != '\0' ? "ETag: " : "",
		    etag, etag[0] != '\0' ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return;
	body = status != 304 && !req->head;
	put(req, head, (size_t)n);
	if (req->headers != NULL)
		put(req, req->headers, strlen(req->headers));
	put(req, "\r\n", 2);
	if (body)
		put(req, req->out, req->out_len);
}
