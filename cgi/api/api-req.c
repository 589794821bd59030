/*
 * Layer: the request. Its parameters, query string, bounded body and the
 * checks of fields and ids that answer 400 themselves.
 * Calls api-reply.c and lib/.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api.h"
#include "oc-json.h"
#include "oc-query.h"
#include "oc-xmalloc.h"

/* An empty request of thread thr; fcgi is NULL when running as CGI. */
void
api_req_init(struct api_req *req, struct api_thread *thr,
    FCGX_Request *fcgi, char **envp)
{
	memset(req, 0, sizeof(*req));
	req->server = thr->server;
	req->thr = thr;
	req->fcgi = fcgi;
	req->envp = envp;
}

/* Free what the request and its response hold; it is empty again. */
void
api_req_clear(struct api_req *req)
{
	free(req->path);
	free(req->query);
	free(req->id);
	free(req->body);
	free(req->out);
	free(req->headers);
	memset(req, 0, sizeof(*req));
}

/* A FastCGI or CGI parameter; valid until the request ends. */
const char *
api_param(struct api_req *req, const char *name)
{
	return FCGX_GetParam(name, req->envp);
}

/*
 * Look up a query parameter, decoded by lib/oc-query. Returns true with
 * a copy in *out (caller frees) when present, false (and NULL) when
 * absent. api_query_check() has refused malformed values before the
 * handler runs, so a value that does not decode is never seen here.
 */
bool
api_query(struct api_req *req, const char *name, char **out)
{
	char err[160];

	if (!oc_query_get(req->query, name, out, err, sizeof(err))) {
		*out = NULL;
		return false;
	}
	return *out != NULL;
}

/*
 * Refuse a query string with a value that does not decode (a '%'
 * without two hex digits, %00): 400 naming the parameter. Only the
 * first pair of a name counts, as in oc_query_get(); a pair whose name
 * does not decode is no parameter and is passed over.
 */
bool
api_query_check(struct api_req *req)
{
	const char *p = req->query, *amp, *eq;
	char name[128], err[256], why[128], *value = NULL;
	size_t n, nlen;

	while (*p != '\0') {
		amp = strchr(p, '&');
		n = amp != NULL ? (size_t)(amp - p) : strlen(p);
		eq = memchr(p, '=', n);
		nlen = eq != NULL ? (size_t)(eq - p) : n;
		if (n > 0 && oc_query_decode(p, nlen, name, sizeof(name), why,
		    sizeof(why))) {
			if (!oc_query_get(req->query, name, &value, err,
			    sizeof(err)))
				return api_error_field(req, 400,
				    "invalid_field", name, "%s", err);
			free(value);
			value = NULL;
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	return true;
}

/*
 * A count from the query: digits only (no sign, space or exponent),
 * from min to max. Returns false after answering 400; *out is left
 * alone when the parameter is absent.
 */
bool
api_query_count(struct api_req *req, const char *name, long min,
    long max, long *out)
{
	char *s = NULL;
	size_t i;
	bool ok = false;

	if (!api_query(req, name, &s))
		return true;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9')
			break;
	if (i == 0 || s[i] != '\0' || i > 18 ||
	    !oc_parse_long(s, min, max, out)) {
		api_error_field(req, 400, "invalid_field", name, "%s: expected "
		    "digits for %ld to %ld", name, min, max);
		goto done;
	}
	ok = true;
done:
	free(s);
	return ok;
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
 * Size and type of a body, then read it; an empty body passes when
 * optional. Returns false after answering 413 (nothing read) or 415.
 */
bool
api_req_read_body(struct api_req *req, bool optional)
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
	if (!is_json_type(api_param(req, "CONTENT_TYPE")))
		return api_error(req, 415, "unsupported_media_type",
		    "the body must be application/json (an empty one too)");
	if (len == 0 && optional)
		return true;
	req->body = xmalloc((size_t)len + 1);
	req->body_len = read_body(req, req->body, (size_t)len);
	req->body[req->body_len] = '\0';
	if (req->body_len != (size_t)len)
		return api_error(req, 400, "bad_request",
		    "the body is shorter than its Content-Length");
	return true;
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

/* An integer field within bounds, or false after answering 400. */
bool
api_int_field(struct api_req *req, json_object *v, const char *name,
    int64_t min, int64_t max, int64_t *out)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return api_field_error(req, name, "expected an integer");
	errno = 0;
	n = json_object_get_int64(v);
	if (errno != 0 || n < min || n > max) {
		char why[96];

		snprintf(why, sizeof(why), "expected an integer from %lld "
		    "to %lld", (long long)min, (long long)max);
		return api_field_error(req, name, why);
	}
	*out = n;
	return true;
}

/* Parse an id from the path or query; false after answering 400. */
bool
api_oid_param(struct api_req *req, const char *field, const char *s,
    bson_oid_t *out)
{
	if (!api_oid_from_text(s, out))
		return api_field_error(req, field, "expected a 24-hex id");
	return true;
}

/* An ObjectId from its text as lib/oc-query checks it; false if none. */
bool
api_oid_from_text(const char *s, bson_oid_t *out)
{
	if (s == NULL || !oc_oid_valid(s, strlen(s)))
		return false;
	bson_oid_init_from_string(out, s);
	return true;
}
