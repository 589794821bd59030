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
 * adjacent, listed in the order of their Allow header.
 */
struct route {
	const char	*method;
	const char	*pattern;
	const char	*name;		/* metrics */
	void		(*handler)(struct api_req *);
	bool		 optional_body;	/* POST/PUT without a body is fine */
};

static const struct route routes[] = {
	{ "GET", "config", "config", api_route_config, false },
	{ "GET", "health", "health", api_route_health, false },
	{ "GET", "metrics", "metrics", api_route_metrics, false },
	{ "GET", "users", "users", api_route_users, false },
	{ "GET", "products", "products", api_route_products, false },
	{ "GET", "products/:id", "product", api_route_product, false },
	{ "PUT", "products/:id/stock", "product_stock",
	    api_route_product_stock, false },
	{ "GET", "orders", "orders", api_route_orders_list, false },
	{ "POST", "orders", "orders", api_route_orders_create, false },
	{ "GET", "orders/:id", "order", api_route_order, false },
	{ "PUT", "orders/:id/status", "order_status",
	    api_route_order_status, false },
	{ "GET", "stats", "stats", api_route_stats, false },
	{ "POST", "simulate/new-order", "simulate_new_order",
	    api_route_sim_order, true },
	{ "POST", "simulate/update-stock", "simulate_update_stock",
	    api_route_sim_stock, true },
	{ "POST", "simulate/status-update", "simulate_status_update",
	    api_route_sim_status, true },
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
 * rows, in table order (HEAD goes with GET without being listed).
 */
static void
not_allowed(struct api_req *req, size_t first)
{
	char allow[ALLOW_MAX] = "";
	size_t i, len = 0;

	for (i = first; i < NROUTES && len < sizeof(allow) &&
	    strcmp(routes[i].pattern, routes[first].pattern) == 0; i++)
		len += (size_t)snprintf(allow + len, sizeof(allow) - len,
		    "%s%s", i > first ? ", " : "", routes[i].method);
	api_add_header(req, "Allow", allow);
	api_error(req, 405, "method_not_allowed", "%s is not allowed here; "
	    "use %s", req->method, allow);
}

/*
 * Find the path's rows in the table and run the one of the request's
 * method, after reading its body; 404 or 405 when there is none. HEAD
 * runs the GET row: the reply layer leaves the body out.
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
		if ((strcmp(r->method, "POST") == 0 ||
		    strcmp(r->method, "PUT") == 0) &&
		    !api_req_read_body(req, r->optional_body))
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
