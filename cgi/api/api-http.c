/*
 * HTTP side of a request: parameters, the bounded body, the error format,
 * writing the response and routing REQUEST_URI to a handler.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api.h"
#include "oc-json.h"
#include "oc-log.h"
#include "oc-xmalloc.h"

#define JSON_TYPE	"application/json; charset=utf-8"

/* A FastCGI or CGI parameter; valid until the request ends. */
const char *
api_param(struct api_req *req, const char *name)
{
	return FCGX_GetParam(name, req->envp);
}

/* One hex digit's value, or -1. */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX and '+' of a query value of len bytes. Caller frees. */
static char *
url_decode(const char *s, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 +
			    hexval(s[i + 2]));
			i += 2;
		} else if (s[i] == '+') {
			out[o++] = ' ';
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

/*
 * Look up a query parameter. Returns true with a decoded copy in *out
 * (caller frees) when present, false (and NULL) when absent.
 */
bool
api_query(struct api_req *req, const char *name, char **out)
{
	const char *p = req->query, *amp, *eq;
	size_t nlen = strlen(name);

	*out = NULL;
	while (*p != '\0') {
		amp = strchr(p, '&');
		if (amp == NULL)
			amp = p + strlen(p);
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq != NULL && (size_t)(eq - p) == nlen &&
		    strncmp(p, name, nlen) == 0) {
			*out = url_decode(eq + 1, (size_t)(amp - eq - 1));
			return true;
		}
		p = *amp == '&' ? amp + 1 : amp;
	}
	return false;
}

/* The reason phrase of the statuses we send. */
const char *
api_status_text(int status)
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

/* The error body of DESIGN.md; returns false for the callers' returns. */
bool
api_error(struct api_req *req, int status, const char *code,
    const char *fmt, ...)
{
	json_object *body, *err;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err = json_object_new_object();
	json_object_object_add(err, "code", json_object_new_string(code));
	json_object_object_add(err, "message", json_object_new_string(msg));
	body = json_object_new_object();
	json_object_object_add(body, "error", err);
	req->err_code = code;
	api_reply_json(req, status, body);
	return false;
}

/* 400 naming the field that is wrong. */
bool
api_field_error(struct api_req *req, const char *field, const char *why)
{
	json_object *body, *err;
	char msg[512];

	snprintf(msg, sizeof(msg), "%s: %s", field, why);
	err = json_object_new_object();
	json_object_object_add(err, "code",
	    json_object_new_string("invalid_field"));
	json_object_object_add(err, "message", json_object_new_string(msg));
	json_object_object_add(err, "field", json_object_new_string(field));
	body = json_object_new_object();
	json_object_object_add(body, "error", err);
	req->err_code = "invalid_field";
	api_reply_json(req, 400, body);
	return false;
}

/* A JSON string's text, or NULL when v is no string or holds a NUL. */
const char *
api_json_str(json_object *v)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return NULL;
	return s;
}

/*
 * The request body as a JSON object, or NULL after answering 400.
 * The body was read and checked for size and type before routing.
 */
json_object *
api_body_object(struct api_req *req)
{
	json_object *obj;
	char err[256];

	obj = oc_json_parse(req->body != NULL ? req->body : "",
	    req->body_len, OC_JSON_MAX_DEPTH, err, sizeof(err));
	if (obj == NULL) {
		api_error(req, 400, "bad_json", "%s", err);
		return NULL;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		api_error(req, 400, "bad_json", "the body must be a JSON "
		    "object");
		return NULL;
	}
	return obj;
}

/* Read up to len bytes of the body from FastCGI or stdin. */
static size_t
read_body(struct api_req *req, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	int r;

	while (got < len) {
		if (req->fcgi != NULL) {
			r = FCGX_GetStr(buf + got, (int)(len - got),
			    req->fcgi->in);
			if (r <= 0)
				break;
			got += (size_t)r;
		} else {
			n = read(STDIN_FILENO, buf + got, len - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
	}
	return got;
}

/* Is the Content-Type application/json, with parameters allowed? */
static bool
is_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/*
 * Size and type of a body, then read it. Returns false after answering
 * 413 (nothing read) or 415.
 */
static bool
take_body(struct api_req *req, bool optional)
{
	const char *cl = api_param(req, "CONTENT_LENGTH");
	long len = 0;

	if (cl != NULL && *cl != '\0' &&
	    !oc_parse_long(cl, 0, INT32_MAX, &len))
		return api_error(req, 400, "bad_request",
		    "invalid Content-Length");
	if (len > API_MAX_BODY)
		return api_error(req, 413, "payload_too_large",
		    "the body is larger than %d bytes", API_MAX_BODY);
	if (len == 0 && optional)
		return true;
	if (!is_json_type(api_param(req, "CONTENT_TYPE")))
		return api_error(req, 415, "unsupported_media_type",
		    "the body must be application/json");
	req->body = xmalloc((size_t)len + 1);
	req->body_len = read_body(req, req->body, (size_t)len);
	req->body[req->body_len] = '\0';
	if (req->body_len != (size_t)len)
		return api_error(req, 400, "bad_request",
		    "the body is shorter than its Content-Length");
	return true;
}

/* Write the status line, headers and body. */
static void
write_response(struct api_req *req)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n", req->status,
	    api_status_text(req->status), req->out_type, req->out_len);
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

/* A route: path pattern with one optional :id, methods and handlers. */
enum route_kind { R_PLAIN, R_ID };

struct route {
	const char	*prefix;	/* after /api/ */
	const char	*suffix;	/* after :id, for R_ID */
	enum route_kind	 kind;
	const char	*name;		/* metrics */
	const char	*allow;
	void		(*get)(struct api_req *);
	void		(*post)(struct api_req *);
	void		(*get_id)(struct api_req *, const char *);
	void		(*put_id)(struct api_req *, const char *);
	bool		 optional_body;
};

static const struct route routes[] = {
	{ "health", NULL, R_PLAIN, "health", "GET", api_route_health,
	    NULL, NULL, NULL, false },
	{ "metrics", NULL, R_PLAIN, "metrics", "GET", api_route_metrics,
	    NULL, NULL, NULL, false },
	{ "users", NULL, R_PLAIN, "users", "GET", api_route_users,
	    NULL, NULL, NULL, false },
	{ "products", NULL, R_PLAIN, "products", "GET", api_route_products,
	    NULL, NULL, NULL, false },
	{ "products/", "", R_ID, "product", "GET", NULL, NULL,
	    api_route_product, NULL, false },
	{ "products/", "/stock", R_ID, "product_stock", "PUT", NULL, NULL,
	    NULL, api_route_product_stock, false },
	{ "orders", NULL, R_PLAIN, "orders", "GET, POST",
	    api_route_orders_list, api_route_orders_create, NULL, NULL,
	    false },
	{ "orders/", "", R_ID, "order", "GET", NULL, NULL, api_route_order,
	    NULL, false },
	{ "orders/", "/status", R_ID, "order_status", "PUT", NULL, NULL,
	    NULL, api_route_order_status, false },
	{ "stats", NULL, R_PLAIN, "stats", "GET", api_route_stats, NULL,
	    NULL, NULL, false },
	{ "simulate/new-order", NULL, R_PLAIN, "simulate_new_order", "POST",
	    NULL, api_route_sim_order, NULL, NULL, true },
	{ "simulate/update-stock", NULL, R_PLAIN, "simulate_update_stock",
	    "POST", NULL, api_route_sim_stock, NULL, NULL, true },
	{ "simulate/status-update", NULL, R_PLAIN, "simulate_status_update",
	    "POST", NULL, api_route_sim_status, NULL, NULL, true },
};

/*
 * Match rest (the path after /api/) against a route. For R_ID routes the
 * id segment is copied to idbuf.
 */
static bool
route_match(const struct route *r, const char *rest, char *idbuf,
    size_t idlen)
{
	size_t plen = strlen(r->prefix), n;
	const char *id, *slash;

	if (r->kind == R_PLAIN)
		return strcmp(rest, r->prefix) == 0;
	if (strncmp(rest, r->prefix, plen) != 0)
		return false;
	id = rest + plen;
	slash = strchr(id, '/');
	n = slash != NULL ? (size_t)(slash - id) : strlen(id);
	if (n == 0 || strcmp(id + n, r->suffix) != 0)
		return false;
	if (n >= idlen)
		n = idlen - 1;
	memcpy(idbuf, id, n);
	idbuf[n] = '\0';
	return true;
}

/* Call the handler of a matched route for the request's method. */
static void
dispatch(struct api_req *req, const struct route *r, const char *id)
{
	const char *m = req->method;
	bool get = strcmp(m, "GET") == 0;
	bool post = strcmp(m, "POST") == 0;
	bool put = strcmp(m, "PUT") == 0;

	req->route = r->name;
	if ((get && (r->get != NULL || r->get_id != NULL)) ||
	    (post && r->post != NULL) || (put && r->put_id != NULL)) {
		if ((post || put) && !take_body(req, r->optional_body))
			return;
		if (get && r->get != NULL)
			r->get(req);
		else if (get)
			r->get_id(req, id);
		else if (post)
			r->post(req);
		else
			r->put_id(req, id);
		return;
	}
	api_add_header(req, "Allow", r->allow);
	api_error(req, 405, "method_not_allowed", "%s is not allowed here; "
	    "use %s", m, r->allow);
}

/* Answer one request; the response is written before returning. */
void
api_handle(struct api_req *req)
{
	const char *uri, *q, *rest;
	char id[128];
	size_t i;

	req->started = oc_mono_us();
	req->route = "other";
	req->method = api_param(req, "REQUEST_METHOD");
	if (req->method == NULL)
		req->method = "GET";
	uri = api_param(req, "REQUEST_URI");
	if (uri == NULL)
		uri = "/";
	q = strchr(uri, '?');
	req->path = q != NULL ? xstrndup(uri, (size_t)(q - uri)) :
	    xstrdup(uri);
	req->query = xstrdup(q != NULL ? q + 1 : "");
	if (strncmp(req->path, "/api/", 5) != 0) {
		api_error(req, 404, "not_found", "no such route");
		goto done;
	}
	rest = req->path + 5;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (route_match(&routes[i], rest, id, sizeof(id))) {
			dispatch(req, &routes[i], id);
			goto done;
		}
	}
	api_error(req, 404, "not_found", "no such route");
done:
	if (req->out == NULL)
		api_error(req, 500, "internal", "no response");
	write_response(req);
}
