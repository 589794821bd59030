/*
 * Layer: route handler of /api/users.
 * Calls api-db.c, api-req.c, api-reply.c and lib/.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"

/* GET /api/users?role= */
void
api_route_users(struct api_req *req)
{
	json_object *arr = NULL;
	bson_t *filter = bson_new();
	/* The password hash never leaves the database. */
	bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}",
	    "projection", "{", "passwordHash", BCON_INT32(0), "}");
	char *role = NULL;

	if (api_query(req, "role", &role)) {
		if (strcmp(role, "customer") != 0 &&
		    strcmp(role, "admin") != 0) {
			api_field_error(req, "role",
			    "expected customer or admin");
			goto done;
		}
		BSON_APPEND_UTF8(filter, "role", role);
	}
	if (!api_find_json(req, "users", filter, opts, &arr))
		goto done;
	api_reply_json(req, 200, api_list_body(arr, false, NULL));
done:
	free(role);
	bson_destroy(filter);
	bson_destroy(opts);
}
