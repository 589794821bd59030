/*
 * Account commands of ordercast-api: --add-user, --set-password and
 * --set-role. They run once from the command line, not as a server: the
 * password comes from standard input (not echoed on a terminal), is kept
 * only as an Argon2id hash, and a password or role change ends every
 * session of the account at once.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "api.h"
#include "oc-auth.h"
#include "oc-log.h"
#include "oc-redis.h"
#include "oc-xmalloc.h"

/*
 * Read one line of standard input as the password, without echo when it
 * is a terminal. Returns a string the caller frees (and wipes), or NULL.
 */
static char *
read_password(const char *prompt)
{
	struct termios	 old, quiet;
	bool		 tty = isatty(STDIN_FILENO) == 1;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 n;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		} else {
			tty = false;
		}
	}
	n = getline(&line, &cap, stdin);
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

/* Wipe and free a password. */
static void
free_password(char *pw)
{
	if (pw != NULL) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
}

/* A lower-case copy of an email, or NULL (with a message) if it is none. */
static char *
normal_email(const char *s, char *err, size_t errlen)
{
	size_t	 i, len = strlen(s);
	char	*out;

	if (len < 3 || len > 254 || strchr(s, '@') == NULL) {
		snprintf(err, errlen, "'%s' is not an email address", s);
		return NULL;
	}
	out = xstrdup(s);
	for (i = 0; i < len; i++) {
		if ((unsigned char)out[i] < 0x21) {
			snprintf(err, errlen, "an email has no spaces or "
			    "control characters");
			free(out);
			return NULL;
		}
		out[i] = (char)tolower((unsigned char)out[i]);
	}
	return out;
}

/*
 * End every session of a user through Redis, and what the API recorded
 * of them as a web server's REMOTE_USER; false with a message.
 */
static bool
end_sessions(const struct oc_config *cfg, const bson_oid_t *id,
    const char *email, char *err, size_t errlen)
{
	redisContext	*rc;
	char		 hex[25];
	long long	 n = 0;
	bool		 ok;

	rc = oc_redis_connect(cfg, cfg->timeout_ms, err, errlen);
	if (rc == NULL)
		return false;
	bson_oid_to_string(id, hex);
	ok = oc_session_end_user(rc, cfg->prefix, hex, &n, err, errlen) &&
	    oc_remote_user_end(rc, cfg->prefix, email, err, errlen);
	redisFree(rc);
	if (ok)
		log_info("ended %lld session(s) of user %s", n, hex);
	return ok;
}

/*
 * Change one field of the user with this email; *id gets the user's id.
 * False with a message when there is no such user or MongoDB fails.
 */
static bool
update_user(const struct oc_config *cfg, const char *email,
    const char *field, const char *value, bson_oid_t *id, char *err,
    size_t errlen)
{
	mongoc_client_t		*client = NULL;
	mongoc_collection_t	*coll = NULL;
	bson_t			*query, *update, reply = BSON_INITIALIZER;
	bson_iter_t		 it, val;
	bson_error_t		 berr;
	bool			 ok = false;

	client = mongoc_client_new(cfg->mongodb_uri);
	if (client == NULL) {
		snprintf(err, errlen, "cannot use ORDERCAST_MONGODB_URI");
		goto done;
	}
	coll = mongoc_client_get_collection(client, cfg->db, "users");
	query = BCON_NEW("email", BCON_UTF8(email));
	update = BCON_NEW("$set", "{", field, BCON_UTF8(value), "}");
	{
		mongoc_find_and_modify_opts_t *o =
		    mongoc_find_and_modify_opts_new();

		mongoc_find_and_modify_opts_set_update(o, update);
		ok = mongoc_collection_find_and_modify_with_opts(coll, query,
		    o, &reply, &berr);
		mongoc_find_and_modify_opts_destroy(o);
	}
	bson_destroy(query);
	bson_destroy(update);
	if (!ok) {
		snprintf(err, errlen, "MongoDB: %s", berr.message);
		goto done;
	}
	ok = false;
	if (!bson_iter_init_find(&it, &reply, "value") ||
	    !BSON_ITER_HOLDS_DOCUMENT(&it) ||
	    !bson_iter_recurse(&it, &val) || !bson_iter_find(&val, "_id") ||
	    !BSON_ITER_HOLDS_OID(&val)) {
		snprintf(err, errlen, "no user has the email %s", email);
		goto done;
	}
	bson_oid_copy(bson_iter_oid(&val), id);
	ok = true;
done:
	bson_destroy(&reply);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	return ok;
}

/* Read, check and hash a password from standard input into hash. */
static bool
password_from_stdin(char *hash, size_t hashlen, char *err, size_t errlen)
{
	char	*pw = read_password("Password: ");
	bool	 ok;

	if (pw == NULL) {
		snprintf(err, errlen, "no password on standard input");
		return false;
	}
	ok = oc_password_hash(pw, hash, hashlen, err, errlen);
	free_password(pw);
	return ok;
}

/* ordercast-api --add-user EMAIL --name NAME --role ROLE. */
bool
api_account_add(const struct oc_config *cfg, const char *email_in,
    const char *name, const char *role, char *err, size_t errlen)
{
	mongoc_client_t		*client = NULL;
	mongoc_collection_t	*coll = NULL;
	bson_t			*doc = NULL;
	bson_error_t		 berr;
	bson_oid_t		 id;
	char			 hash[OC_PWHASH_MAX];
	char			*email;
	bool			 ok = false;

	email = normal_email(email_in, err, errlen);
	if (email == NULL)
		return false;
	if (name == NULL || name[0] == '\0' || strlen(name) > 200) {
		snprintf(err, errlen, "--name: 1 to 200 characters");
		goto done;
	}
	if (role == NULL || (strcmp(role, "admin") != 0 &&
	    strcmp(role, "customer") != 0)) {
		snprintf(err, errlen, "--role: admin or customer");
		goto done;
	}
	if (!password_from_stdin(hash, sizeof(hash), err, errlen))
		goto done;
	client = mongoc_client_new(cfg->mongodb_uri);
	if (client == NULL) {
		snprintf(err, errlen, "cannot use ORDERCAST_MONGODB_URI");
		goto done;
	}
	coll = mongoc_client_get_collection(client, cfg->db, "users");
	bson_oid_init(&id, NULL);
	doc = BCON_NEW("_id", BCON_OID(&id), "name", BCON_UTF8(name),
	    "email", BCON_UTF8(email), "role", BCON_UTF8(role),
	    "passwordHash", BCON_UTF8(hash),
	    "createdAt", BCON_DATE_TIME(oc_wall_ms()));
	if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &berr)) {
		if (berr.code == 11000)
			snprintf(err, errlen, "a user with the email %s "
			    "exists already", email);
		else
			snprintf(err, errlen, "MongoDB: %s", berr.message);
		goto done;
	}
	log_info("added %s %s", role, email);
	ok = true;
done:
	explicit_bzero(hash, sizeof(hash));
	bson_destroy(doc);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	free(email);
	return ok;
}

/* ordercast-api --set-password EMAIL. */
bool
api_account_set_password(const struct oc_config *cfg, const char *email_in,
    char *err, size_t errlen)
{
	char		 hash[OC_PWHASH_MAX];
	char		*email;
	bson_oid_t	 id;
	bool		 ok = false;

	email = normal_email(email_in, err, errlen);
	if (email == NULL)
		return false;
	if (!password_from_stdin(hash, sizeof(hash), err, errlen))
		goto done;
	if (!update_user(cfg, email, "passwordHash", hash, &id, err, errlen))
		goto done;
	ok = end_sessions(cfg, &id, email, err, errlen);
done:
	explicit_bzero(hash, sizeof(hash));
	free(email);
	return ok;
}

/* ordercast-api --set-role EMAIL --role ROLE. */
bool
api_account_set_role(const struct oc_config *cfg, const char *email_in,
    const char *role, char *err, size_t errlen)
{
	char		*email;
	bson_oid_t	 id;
	bool		 ok = false;

	if (role == NULL || (strcmp(role, "admin") != 0 &&
	    strcmp(role, "customer") != 0)) {
		snprintf(err, errlen, "--role: admin or customer");
		return false;
	}
	email = normal_email(email_in, err, errlen);
	if (email == NULL)
		return false;
	if (update_user(cfg, email, "role", role, &id, err, errlen))
		ok = end_sessions(cfg, &id, email, err, errlen);
	free(email);
	return ok;
}
