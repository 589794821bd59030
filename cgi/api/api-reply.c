/*
 * Layer: the response, lowest of the API. Sets the status, headers and
 * body of a request and writes them out; the error format of docs/api.md.
 * Calls lib/ only.
 */
#include "config.h"

#include <stdarg.h>
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
static bool
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

/* Write the status line, headers and body to FastCGI or stdout. */
void
api_reply_write(struct api_req *req)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n", req->status,
	    status_text(req->status), req->out_type, req->out_len);
	if (n < 0 || (size_t)n >= sizeof(head))
		return;
	if (req->fcgi != NULL) {
		FCGX_PutStr(head, n, req->fcgi->out);
		if (req->headers != NULL)
			FCGX_PutS(req->headers, req->fcgi->out);
		FCGX_PutStr("\r\n", 2, req->fcgi->out);
		FCGX_PutStr(req->out, (int)req->out_len, req->fcgi->out);
	} else {
		fwrite(head, 1, (size_t)n, stdout);
		if (req->headers != NULL)
			fputs(req->headers, stdout);
		fputs("\r\n", stdout);
		fwrite(req->out, 1, req->out_len, stdout);
	}
}
