/*
 * Layer: routing, above every handler. The route table (method and path
 * pattern to handler) and the dispatcher that reads the body, calls the
 * handler, and answers 404, or 405 with Allow from the table.
 * Calls the route handlers, api-req.c, api-reply.c and lib/.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "api-config.h"
#include "oc-xmalloc.h"

/* Longest :id kept from a path; longer ones are cut (and then invalid). */
#define ID_MAX		127
/* Longest Allow value the table can give. */
#define ALLOW_MAX	64

/*
 * One method on one path. The pattern follows /api/ and may hold one
 * ":id" segment, which the handler finds in req->id. Rows of a path are
 * adjacent, listed in the order of their Allow header. access is the
 * least role that may use the route (docs/architecture.md, "Sessions
 * and access"); handlers narrow further what a customer sees (their own
 * orders).
 */
struct route {
	const char	*method;
	const char	*pattern;
	const char	*name;		/* metrics */
	void		(*handler)(struct api_req *);
	bool		 optional_body;	/* POST/PUT without a body is fine */
	enum api_role	 access;
};

#define ANYONE		API_ROLE_ANON
#define CUSTOMER	API_ROLE_CUSTOMER
#define ADMIN		API_ROLE_ADMIN

static const struct route routes[] = {
	{ "GET", "config", "config", api_route_config, false, ANYONE },
	{ "GET", "health", "health", api_route_health, false, ANYONE },
	{ "GET", "metrics", "metrics", api_route_metrics, false, ADMIN },
	{ "POST", "session", "session", api_route_session_create, false,
	    ANYONE },
	{ "GET", "session", "session", api_route_session_get, false,
	    CUSTOMER },
	{ "DELETE", "session", "session", api_route_session_delete, true,
	    CUSTOMER },
	{ "GET", "users", "users", api_route_users, false, ADMIN },
	{ "GET", "users/count", "users_count", api_route_users_count, false,
	    ADMIN },
	{ "GET", "products", "products", api_route_products, false, ANYONE },
	{ "GET", "products/count", "products_count",
	    api_route_products_count, false, ANYONE },
	{ "GET", "products/:id", "product", api_route_product, false,
	    ANYONE },
	{ "PUT", "products/:id/stock", "product_stock",
	    api_route_product_stock, false, ADMIN },
	{ "GET", "orders", "orders", api_route_orders_list, false, CUSTOMER },
	{ "POST", "orders", "orders", api_route_orders_create, false,
	    CUSTOMER },
	{ "GET", "orders/count", "orders_count", api_route_orders_count,
	    false, CUSTOMER },
	{ "GET", "orders/:id", "order", api_route_order, false, CUSTOMER },
	{ "PUT", "orders/:id/status", "order_status",
	    api_route_order_status, false, CUSTOMER },
	{ "GET", "stats", "stats", api_route_stats, false, ADMIN },
	{ "POST", "simulate/new-order", "simulate_new_order",
	    api_route_sim_order, true, ADMIN },
	{ "POST", "simulate/update-stock", "simulate_update_stock",
	    api_route_sim_stock, true, ADMIN },
	{ "POST", "simulate/status-update", "simulate_status_update",
	    api_route_sim_status, true, ADMIN },
};

#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

/*
 * The GET answers a client may keep and revalidate with their ETag
 * (docs/architecture.md, "HTTP interface"); every other answer is
 * no-store.
 */
static const struct {
	const char	*name;
	enum api_cache	 cache;
} cacheable[] = {
	{ "config", API_CACHE_REVALIDATE },
	{ "products", API_CACHE_REVALIDATE },
	{ "product", API_CACHE_REVALIDATE },
	{ "order", API_CACHE_PRIVATE },
	{ "users", API_CACHE_PRIVATE },
};

/* The cache policy of a GET route's 200 answers. */
static enum api_cache
route_cache(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cacheable) / sizeof(cacheable[0]); i++)
		if (strcmp(cacheable[i].name, name) == 0)
			return cacheable[i].cache;
	return API_CACHE_NO_STORE;
}

/*
 * Match rest (the path after /api/) against a pattern. With an :id the
 * segment in its place must be non-empty and is copied to *id (caller
 * frees); without one the path must be equal.
 */
static bool
pattern_match(const char *pattern, const char *rest, char **id)
{
	const char *hole = strstr(pattern, ":id"), *seg, *slash;
	size_t plen, n;

	*id = NULL;
	if (hole == NULL)
		return strcmp(rest, pattern) == 0;
	plen = (size_t)(hole - pattern);
	if (strncmp(rest, pattern, plen) != 0)
		return false;
	seg = rest + plen;
	slash = strchr(seg, '/');
	n = slash != NULL ? (size_t)(slash - seg) : strlen(seg);
	if (n == 0 || strcmp(seg + n, hole + 3) != 0)
		return false;
	*id = xstrndup(seg, n < ID_MAX ? n : ID_MAX);
	return true;
}

/*
 * 405 for the path of routes[first]: Allow lists the methods of its
 * rows, in table order, with HEAD after GET since every GET route
 * answers it (RFC 9110, 9.3.2).
 */
static void
not_allowed(struct api_req *req, size_t first)
{
	char allow[ALLOW_MAX] = "";
	size_t i, len = 0;

	for (i = first; i < NROUTES && len < sizeof(allow) &&
	    strcmp(routes[i].pattern, routes[first].pattern) == 0; i++)
		len += (size_t)snprintf(allow + len, sizeof(allow) - len,
		    "%s%s%s", i > first ? ", " : "", routes[i].method,
		    strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
	api_add_header(req, "Allow", allow);
	api_error(req, 405, "method_not_allowed", "%s is not allowed here; "
	    "use %s", req->method, allow);
}

/* Methods that change state: JSON and same-site only. */
static bool
changes_state(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	    strcmp(method, "DELETE") == 0;
}

/*
 * The host[:port] part of an Origin ("scheme://host[:port]"), or NULL
 * for "null" and anything else that names no site.
 */
static const char *
origin_host(const char *origin, size_t *len)
{
	const char *p = strstr(origin, "://");

	if (p == NULL)
		return NULL;
	p += 3;
	*len = strcspn(p, "/");
	return *len > 0 ? p : NULL;
}

/*
 * Refuse a state change that another site's page sent: an Origin header
 * that names a host other than the one the request was sent to. Requests
 * without Origin (curl, same-origin GETs) pass. False after a 403.
 */
static bool
same_site(struct api_req *req)
{
	const char *origin = api_param(req, "HTTP_ORIGIN");
	const char *host = api_param(req, "HTTP_HOST");
	const char *oh;
	size_t len;

	if (origin == NULL)
		return true;
	oh = origin_host(origin, &len);
	if (oh != NULL && host != NULL && strlen(host) == len &&
	    strncasecmp(oh, host, len) == 0)
		return true;
	return api_error(req, 403, "cross_origin",
	    "requests from another site may not change anything");
}

/*
 * Find the path's rows in the table and run the one of the request's
 * method: a state change must come from this site with a JSON body
 * (an empty one included), and the caller must have the route's role.
 * 404 or 405 when there is no such route. HEAD runs the GET row: the
 * reply layer leaves the body out.
 */
static void
route(struct api_req *req, const char *rest)
{
	const struct route *r;
	const char *method = req->head ? "GET" : req->method;
	size_t i, first;
	char *id = NULL;

	for (first = 0; first < NROUTES; first++)
		if (pattern_match(routes[first].pattern, rest, &id))
			break;
	if (first == NROUTES) {
		api_error(req, 404, "not_found", "no such route");
		return;
	}
	req->id = id;
	req->route = routes[first].name;
	if (!api_query_check(req))
		return;
	for (i = first; i < NROUTES &&
	    strcmp(routes[i].pattern, routes[first].pattern) == 0; i++) {
		r = &routes[i];
		if (strcmp(method, r->method) != 0)
			continue;
		if (strcmp(r->method, "GET") == 0)
			req->cache = route_cache(r->name);
		if (changes_state(r->method) && (!same_site(req) ||
		    !api_req_read_body(req, r->optional_body)))
			return;
		if (!api_auth_resolve(req) ||
		    !api_auth_require(req, r->access))
			return;
		r->handler(req);
		return;
	}
	not_allowed(req, first);
}

/* Answer one request; the response is written before returning. */
void
api_handle(struct api_req *req)
{
	const char *uri, *q;

	req->started = oc_mono_us();
	req->route = "other";
	req->method = api_param(req, "REQUEST_METHOD");
	if (req->method == NULL)
		req->method = "GET";
	req->head = strcmp(req->method, "HEAD") == 0;
	uri = api_param(req, "REQUEST_URI");
	if (uri == NULL)
		uri = "/";
	q = strchr(uri, '?');
	req->path = q != NULL ? xstrndup(uri, (size_t)(q - uri)) :
	    xstrdup(uri);
	req->query = xstrdup(q != NULL ? q + 1 : "");
	if (strncmp(req->path, "/api/", 5) == 0)
		route(req, req->path + 5);
	else
		api_error(req, 404, "not_found", "no such route");
	if (req->out == NULL)
		api_error(req, 500, "internal", "no response");
	api_reply_write(req);
}
