/*
 * Layer: route handlers of /api/users and its count.
 * Calls api-list.c, api-db.c, api-req.c, api-reply.c and lib/.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"

/*
 * Append the old ?role= to scope. Returns false after answering 400.
 */
static bool
users_scope(struct api_req *req, bson_t *scope)
{
	char *role = NULL;
	bool ok = false;

	if (api_query(req, "role", &role)) {
		if (strcmp(role, "customer") != 0 &&
		    strcmp(role, "admin") != 0) {
			api_field_error(req, "role",
			    "expected customer or admin");
			goto done;
		}
		BSON_APPEND_UTF8(scope, "role", role);
	}
	ok = true;
done:
	free(role);
	return ok;
}

/*
 * GET /api/users?role=: every user; a page of them with ?where=,
 * ?sort=, ?limit= or ?next= (docs/filters.md).
 */
void
api_route_users(struct api_req *req)
{
	json_object *arr = NULL;
	bson_t *filter = bson_new();
	/* The password hash never leaves the database. */
	bson_t *hide = BCON_NEW("passwordHash", BCON_INT32(0));
	bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}",
	    "projection", "{", "passwordHash", BCON_INT32(0), "}");
	const struct api_list_spec users_list = {
		"users", OC_FILTER_USERS, "id", false, hide
	};

	if (!users_scope(req, filter))
		goto done;
	if (api_list_asked(req, true)) {
		api_list_run(req, &users_list, filter);
		goto done;
	}
	if (!api_find_json(req, "users", filter, opts, &arr))
		goto done;
	api_reply_json(req, 200, api_list_body(arr, false, NULL));
done:
	bson_destroy(filter);
	bson_destroy(hide);
	bson_destroy(opts);
}

/* GET /api/users/count?where=&role= */
void
api_route_users_count(struct api_req *req)
{
	bson_t scope = BSON_INITIALIZER;
	const struct api_list_spec users_list = {
		"users", OC_FILTER_USERS, "id", false, NULL
	};

	if (users_scope(req, &scope))
		api_list_count(req, &users_list, &scope);
	bson_destroy(&scope);
}
