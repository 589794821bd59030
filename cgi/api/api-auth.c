/*
 * Who is asking, and the session routes: POST/GET/DELETE /api/session.
 * A caller is known by the ordercast_session cookie, an
 * "Authorization: Bearer" token, or (when ORDERCAST_TRUST_REMOTE_USER=1)
 * the web server's REMOTE_USER. Sessions live in Redis (lib/oc-auth), so
 * any API process on any host can check them.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "oc-auth.h"
#include "oc-json.h"
#include "oc-log.h"
#include "oc-xmalloc.h"

#define EMAIL_MAX	254

/* The session lifetimes of the configuration. */
static struct oc_session_policy
session_policy(const struct api_req *req)
{
	struct oc_session_policy p;

	p.idle_s = req->server->cfg.session_idle_s;
	p.max_s = req->server->cfg.session_max_s;
	return p;
}

/* The role a stored role name stands for. */
static enum api_role
role_of(const char *name)
{
	if (strcmp(name, "admin") == 0)
		return API_ROLE_ADMIN;
	if (strcmp(name, "customer") == 0)
		return API_ROLE_CUSTOMER;
	return API_ROLE_ANON;
}

/* The token a request carries, if any. */
static bool
request_token(struct api_req *req, char *out, size_t outlen)
{
	return oc_token_from_headers(api_param(req, "HTTP_AUTHORIZATION"),
	    api_param(req, "HTTP_COOKIE"), out, outlen);
}

/*
 * Find a user by email in MongoDB. *found says whether there is one; the
 * document goes to *doc (caller destroys). False after a 503.
 */
static bool
find_user(struct api_req *req, const char *field, const char *value,
    bool *found, bson_t **doc)
{
	mongoc_collection_t	*coll;
	mongoc_cursor_t		*cur = NULL;
	const bson_t		*d;
	bson_t			*filter;
	bson_error_t		 err;
	bool			 ok = false;

	*found = false;
	*doc = NULL;
	coll = api_collection(req, "users");
	if (coll == NULL)
		return false;
	filter = bson_new();
	if (strcmp(field, "_id") == 0) {
		bson_oid_t oid;

		if (!oc_oid_parse(value, &oid)) {
			ok = true;
			goto done;
		}
		BSON_APPEND_OID(filter, "_id", &oid);
	} else {
		BSON_APPEND_UTF8(filter, field, value);
	}
	cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
	if (mongoc_cursor_next(cur, &d)) {
		*doc = bson_copy(d);
		*found = true;
	}
	if (mongoc_cursor_error(cur, &err)) {
		api_mongo_error(req, &err, "users");
		goto done;
	}
	ok = true;
done:
	mongoc_cursor_destroy(cur);
	bson_destroy(filter);
	mongoc_collection_destroy(coll);
	return ok;
}

/* A string field of a user document, or "". */
static const char *
user_string(const bson_t *doc, const char *name)
{
	bson_iter_t	 it;

	if (bson_iter_init_find(&it, doc, name) && BSON_ITER_HOLDS_UTF8(&it))
		return bson_iter_utf8(&it, NULL);
	return "";
}

/* {id,name,email,role} of a user document: never the password hash. */
static json_object *
user_public(const bson_t *doc)
{
	json_object	*u = json_object_new_object();
	bson_iter_t	 it;
	char		 hex[25] = "";

	if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it))
		bson_oid_to_string(bson_iter_oid(&it), hex);
	json_object_object_add(u, "id", json_object_new_string(hex));
	json_object_object_add(u, "name",
	    json_object_new_string(user_string(doc, "name")));
	json_object_object_add(u, "email",
	    json_object_new_string(user_string(doc, "email")));
	json_object_object_add(u, "role",
	    json_object_new_string(user_string(doc, "role")));
	return u;
}

/* Fill the caller from a user document (REMOTE_USER). */
static void
caller_from_user(struct api_caller *c, const bson_t *doc)
{
	bson_iter_t	 it;

	if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it)) {
		bson_oid_to_string(bson_iter_oid(&it), c->user_id);
		c->role = role_of(user_string(doc, "role"));
	}
}

/* A copy of an email in lower case, or NULL when it is no email. */
static char *
email_normal(const char *s)
{
	size_t	 i, len = strlen(s);
	char	*out;

	if (len == 0 || len > EMAIL_MAX || strchr(s, '@') == NULL)
		return NULL;
	out = xstrdup(s);
	for (i = 0; i < len; i++) {
		if ((unsigned char)out[i] < 0x21) {
			free(out);
			return NULL;
		}
		out[i] = (char)tolower((unsigned char)out[i]);
	}
	return out;
}

/*
 * Record who REMOTE_USER is for the relays (best effort: a stream of a
 * user the record does not name yet is anonymous).
 */
static void
note_remote_user(struct api_req *req, const char *email)
{
	struct api_caller *c = &req->caller;
	struct oc_session s;
	redisContext *rc = api_redis_ctx(req);
	redisReply *r;
	char *key, *rec;

	if (rc == NULL)
		return;
	memset(&s, 0, sizeof(s));
	memcpy(s.user_id, c->user_id, sizeof(s.user_id));
	snprintf(s.role, sizeof(s.role), "%s",
	    c->role == API_ROLE_ADMIN ? "admin" : "customer");
	s.created_ms = oc_wall_ms();
	s.expires_ms = s.created_ms + OC_REMOTE_USER_TTL * 1000LL;
	key = oc_remote_user_key(req->server->cfg.prefix, email);
	rec = oc_session_record(&s);
	r = redisCommand(rc, "SET %s %s EX %d", key, rec,
	    OC_REMOTE_USER_TTL);
	if (r == NULL)
		api_redis_failed(req);
	else
		freeReplyObject(r);
	free(key);
	free(rec);
}

/* Who is asking; see api.h. */
bool
api_auth_resolve(struct api_req *req)
{
	struct api_caller		*c = &req->caller;
	struct oc_session_policy	 pol = session_policy(req);
	redisContext			*rc;
	char				 token[OC_TOKEN_LEN + 2];
	char				 err[256];
	const char			*remote;
	bson_t				*doc = NULL;
	bool				 found;

	memset(c, 0, sizeof(*c));
	c->role = API_ROLE_ANON;
	remote = api_param(req, "REMOTE_USER");
	if (req->server->cfg.trust_remote_user && remote != NULL &&
	    remote[0] != '\0') {
		char *email = email_normal(remote);

		found = false;
		if (email != NULL &&
		    !find_user(req, "email", email, &found, &doc)) {
			free(email);
			return false;
		}
		if (found) {
			caller_from_user(c, doc);
			if (c->role != API_ROLE_ANON)
				note_remote_user(req, email);
		} else {
			c->bad_token = true;
		}
		free(email);
		bson_destroy(doc);
		return true;
	}
	if (!request_token(req, token, sizeof(token)))
		return true;
	/*
	 * Without Redis nobody can be recognised: the caller is anonymous
	 * for public routes, and others answer 503 (api_auth_require).
	 */
	rc = api_redis_ctx(req);
	if (rc == NULL) {
		c->store_down = true;
		return true;
	}
	if (!oc_session_lookup(rc, req->server->cfg.prefix, &pol, token, &found,
	    &c->session, err, sizeof(err))) {
		log_warnx("session lookup: %s", err);
		api_redis_failed(req);
		c->store_down = true;
		return true;
	}
	if (!found) {
		c->bad_token = true;
		return true;
	}
	c->has_session = true;
	memcpy(c->user_id, c->session.user_id, sizeof(c->user_id));
	c->role = role_of(c->session.role);
	return true;
}

/* 401 or 403 unless the caller has at least role min. */
bool
api_auth_require(struct api_req *req, enum api_role min)
{
	if (req->caller.role >= min)
		return true;
	if (req->caller.store_down) {
		api_unavailable(req, "Redis");
		return false;
	}
	if (req->caller.role == API_ROLE_ANON) {
		api_add_header(req, "WWW-Authenticate",
		    "Bearer realm=\"ordercast\"");
		return api_error(req, 401, "unauthorized",
		    req->caller.bad_token ?
		    "the session has ended or is not valid; sign in again" :
		    "sign in first (POST /api/session)");
	}
	return api_error(req, 403, "forbidden",
	    "your account may not do this");
}

/* The client's address, for the login limit. */
static const char *
client_addr(struct api_req *req)
{
	const char *a = api_param(req, "REMOTE_ADDR");

	return a != NULL && a[0] != '\0' ? a : "unknown";
}

/*
 * 429 when the account or the address has used up its failed logins.
 * False after answering (429 or 503).
 */
static bool
login_allowed(struct api_req *req, redisContext *rc, const char *email)
{
	const char	*prefix = req->server->cfg.prefix;
	long long	 n_acct, n_addr, r_acct, r_addr, retry;
	char		 err[256], secs[24];

	if (!oc_login_failures(rc, prefix, "account", email, &n_acct,
	    &r_acct, err, sizeof(err)) ||
	    !oc_login_failures(rc, prefix, "addr", client_addr(req), &n_addr,
	    &r_addr, err, sizeof(err))) {
		log_warnx("login limit: %s", err);
		api_redis_failed(req);
		api_unavailable(req, "Redis");
		return false;
	}
	if (n_acct < req->server->cfg.login_limit &&
	    n_addr < req->server->cfg.login_limit)
		return true;
	retry = 0;
	if (n_acct >= req->server->cfg.login_limit)
		retry = r_acct;
	if (n_addr >= req->server->cfg.login_limit && r_addr > retry)
		retry = r_addr;
	snprintf(secs, sizeof(secs), "%lld", retry > 0 ? retry : 1);
	api_add_header(req, "Retry-After", secs);
	return api_error(req, 429, "too_many_logins",
	    "too many failed sign-ins; try again in %s seconds", secs);
}

/* Count a failed login against the account and the address. */
static void
login_failed(struct api_req *req, redisContext *rc, const char *email)
{
	const char	*prefix = req->server->cfg.prefix;
	long		 win = req->server->cfg.login_window_s;
	long long	 n, retry;
	char		 err[256];

	if (!oc_login_failure(rc, prefix, "account", email, win, &n, &retry,
	    err, sizeof(err)) ||
	    !oc_login_failure(rc, prefix, "addr", client_addr(req), win, &n,
	    &retry, err, sizeof(err))) {
		log_warnx("login limit: %s", err);
		api_redis_failed(req);
	}
}

/* Set-Cookie for a new session, Secure when the request came over HTTPS. */
static void
set_session_cookie(struct api_req *req, const char *token, long max_age)
{
	const char	*https = api_param(req, "HTTPS");
	bool		 secure = https != NULL && strcasecmp(https, "on") == 0;
	char		*v;

	v = xasprintf("%s=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%ld%s",
	    OC_COOKIE_NAME, token, max_age, secure ? "; Secure" : "");
	api_add_header(req, "Set-Cookie", v);
	free(v);
}

/* {"user":{...},"expiresAt":"..."} for a session and its user. */
static json_object *
session_body(const struct oc_session *s, const bson_t *user)
{
	json_object	*body = json_object_new_object();
	char		 iso[32];

	oc_format_iso8601(s->expires_ms, iso, sizeof(iso));
	json_object_object_add(body, "user", user_public(user));
	json_object_object_add(body, "expiresAt", json_object_new_string(iso));
	return body;
}

/* A required string member of a body, or NULL after a 400. */
static const char *
body_string(struct api_req *req, json_object *body, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(body, name, &v) ||
	    !json_object_is_type(v, json_type_string)) {
		api_field_error(req, name, "expected a string");
		return NULL;
	}
	return json_object_get_string(v);
}

/* POST /api/session: sign in with email and password. */
void
api_route_session_create(struct api_req *req)
{
	struct oc_session_policy	 pol = session_policy(req);
	struct oc_session		 s;
	json_object			*body, *out;
	const char			*email_in, *pw, *hash;
	redisContext			*rc;
	bson_t				*user = NULL;
	char				*email = NULL, *loc;
	char				 token[OC_TOKEN_LEN + 1], err[256];
	char				 uid[25];
	bool				 found = false, good;

	body = api_body_object(req);
	if (body == NULL)
		return;
	email_in = body_string(req, body, "email");
	if (email_in == NULL)
		goto done;
	pw = body_string(req, body, "password");
	if (pw == NULL)
		goto done;
	email = email_normal(email_in);
	rc = api_redis_ctx(req);
	if (rc == NULL) {
		api_unavailable(req, "Redis");
		goto done;
	}
	if (!login_allowed(req, rc, email != NULL ? email : email_in))
		goto done;
	if (email != NULL && !find_user(req, "email", email, &found, &user))
		goto done;
	hash = found ? user_string(user, "passwordHash") : "";
	good = oc_password_verify(hash[0] != '\0' ? hash : NULL, pw);
	if (!good) {
		login_failed(req, rc, email != NULL ? email : email_in);
		api_error(req, 401, "bad_credentials",
		    "wrong email or password");
		goto done;
	}
	caller_from_user(&req->caller, user);
	memcpy(uid, req->caller.user_id, sizeof(uid));
	if (!oc_session_create(rc, req->server->cfg.prefix, &pol, uid,
	    user_string(user, "role"), token, &s, err, sizeof(err))) {
		log_warnx("session create: %s", err);
		api_redis_failed(req);
		api_unavailable(req, "Redis");
		goto done;
	}
	log_info("session started for user %s", uid);
	out = session_body(&s, user);
	json_object_object_add(out, "token", json_object_new_string(token));
	set_session_cookie(req, token, pol.max_s);
	api_add_header(req, "Cache-Control", "no-store");
	loc = xasprintf("/api/session");
	api_add_header(req, "Location", loc);
	free(loc);
	api_reply_json(req, 201, out);
done:
	free(email);
	bson_destroy(user);
	json_object_put(body);
}

/* GET /api/session: who am I. */
void
api_route_session_get(struct api_req *req)
{
	bson_t	*user = NULL;
	bool	 found;

	if (!api_auth_require(req, API_ROLE_CUSTOMER))
		return;
	if (!find_user(req, "_id", req->caller.user_id, &found, &user))
		return;
	if (!found) {
		api_error(req, 401, "unauthorized", "the account is gone");
		return;
	}
	api_add_header(req, "Cache-Control", "no-store");
	if (req->caller.has_session) {
		api_reply_json(req, 200, session_body(&req->caller.session,
		    user));
	} else {
		json_object *b = json_object_new_object();

		json_object_object_add(b, "user", user_public(user));
		json_object_object_add(b, "expiresAt", NULL);
		api_reply_json(req, 200, b);
	}
	bson_destroy(user);
}

/* DELETE /api/session: sign out; the cookie is cleared. */
void
api_route_session_delete(struct api_req *req)
{
	redisContext	*rc;
	char		 err[256];

	if (!api_auth_require(req, API_ROLE_CUSTOMER))
		return;
	if (!req->caller.has_session) {
		api_error(req, 409, "no_session",
		    "signed in by the web server, not by a session");
		return;
	}
	rc = api_redis_ctx(req);
	if (rc == NULL || !oc_session_end(rc, req->server->cfg.prefix,
	    req->caller.session.hash, err, sizeof(err))) {
		if (rc != NULL) {
			log_warnx("session end: %s", err);
			api_redis_failed(req);
		}
		api_unavailable(req, "Redis");
		return;
	}
	log_info("session ended for user %s", req->caller.user_id);
	api_add_header(req, "Set-Cookie", OC_COOKIE_NAME
	    "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
	api_reply_raw(req, 204, "", 0, NULL);
}
