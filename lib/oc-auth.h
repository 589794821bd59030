/*
 * Accounts and sessions, shared by ordercast-api (which signs people in
 * and out) and ordercast-sse (which checks the session of every stream).
 *
 * Passwords are kept only as Argon2id strings (libsodium crypto_pwhash_str).
 * A session token is 256 random bits written as 43 base64url characters;
 * Redis keeps only its BLAKE2b-256 hash, as the key
 * PREFIX:session:<hash> holding the session record (JSON) with an idle
 * expiry, capped by the record's absolute expiry. The set
 * PREFIX:user-sessions:<userId> lists the hashes of one user's sessions so
 * that a password or role change can end them all. Ended sessions are
 * published, by hash, on PREFIX:sessions; relays close their streams.
 * See docs/architecture.md, "Sessions and access".
 */
#ifndef OC_AUTH_H
#define OC_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define OC_PASSWORD_MIN		10	/* characters (bytes) */
#define OC_PASSWORD_MAX		1024
#define OC_PWHASH_MAX		128	/* crypto_pwhash_STRBYTES */
#define OC_TOKEN_LEN		43	/* base64url of 32 bytes, unpadded */
#define OC_TOKEN_HASH_LEN	64	/* hex of 32 bytes */
#define OC_OID_HEX		24
#define OC_ROLE_MAX		16
#define OC_COOKIE_NAME		"ordercast_session"
/* The sample accounts' password when ORDERCAST_DEMO_PASSWORD is unset. */
#define OC_DEMO_PASSWORD_DEFAULT	"ordercast-demo"

/* sodium_init() once per process; false when libsodium cannot start. */
bool oc_auth_init(void);

/*
 * Hash a password for storage (Argon2id, interactive limits) into out
 * (at least OC_PWHASH_MAX bytes). Returns false with a message in err
 * for a password shorter than OC_PASSWORD_MIN or longer than
 * OC_PASSWORD_MAX, or when memory for the hash cannot be had.
 */
bool oc_password_hash(const char *pw, char *out, size_t outlen, char *err,
    size_t errlen);

/*
 * True when pw matches the stored hash. A NULL hash (no such account)
 * still runs a full verification against a fixed hash, so that a wrong
 * email costs the same time as a wrong password.
 */
bool oc_password_verify(const char *hash, const char *pw);

/* A new random token, NUL-terminated, into out[OC_TOKEN_LEN + 1]. */
void oc_token_new(char *out);

/* True when t looks like a token (length and alphabet); no lookup. */
bool oc_token_syntax_ok(const char *t);

/* The hex hash under which a token is stored, into out[OC_TOKEN_HASH_LEN + 1]. */
void oc_token_hash(const char *token, char *out);

/*
 * The token a request carries: "Authorization: Bearer <token>" first,
 * then the ordercast_session cookie. Either header may be NULL. Copies at
 * most outlen - 1 bytes into out (a longer value is cut, and then fails
 * oc_token_syntax_ok). False when the request carries none.
 */
bool oc_token_from_headers(const char *authorization, const char *cookie,
    char *out, size_t outlen);

/* Hex BLAKE2b-256 of any text (login limit keys), out[OC_TOKEN_HASH_LEN + 1]. */
void oc_text_hash(const char *text, char *out);

/* What a session record says about its holder. */
struct oc_session {
	char	 hash[OC_TOKEN_HASH_LEN + 1];
	char	 user_id[OC_OID_HEX + 1];
	char	 role[OC_ROLE_MAX];
	int64_t	 created_ms;
	int64_t	 expires_ms;	/* absolute end, wall clock of Redis */
};

/* Session lifetimes, from the configuration. */
struct oc_session_policy {
	long	idle_s;		/* ORDERCAST_SESSION_IDLE */
	long	max_s;		/* ORDERCAST_SESSION_MAX */
};

/*
 * The session record as stored: {"userId","role","created","expires"}.
 * Caller frees.
 */
char *oc_session_record(const struct oc_session *s);

/* Parse a stored record into s (hash left as it is); false when malformed. */
bool oc_session_parse_record(const char *json, size_t len,
    struct oc_session *s);

/*
 * Create a session for a user: a new token in token_out
 * (OC_TOKEN_LEN + 1), the record stored under its hash with both expiries
 * taken from Redis' clock, and the hash added to the user's set.
 * Returns false with a message in err on a Redis failure.
 */
bool oc_session_create(redisContext *rc, const char *prefix,
    const struct oc_session_policy *pol, const char *user_id,
    const char *role, char *token_out, struct oc_session *out, char *err,
    size_t errlen);

/*
 * Look a token up and extend its idle expiry (never past the absolute
 * one). *found is false for an unknown, expired or malformed token.
 * Returns false only on a Redis failure (message in err).
 */
bool oc_session_lookup(redisContext *rc, const char *prefix,
    const struct oc_session_policy *pol, const char *token, bool *found,
    struct oc_session *out, char *err, size_t errlen);

/* End one session (logout) and announce it. False on a Redis failure. */
bool oc_session_end(redisContext *rc, const char *prefix, const char *hash,
    char *err, size_t errlen);

/*
 * End every session of a user (password or role change) and announce
 * each. Sets *ended to how many there were. False on a Redis failure.
 */
bool oc_session_end_user(redisContext *rc, const char *prefix,
    const char *user_id, long long *ended, char *err, size_t errlen);

/*
 * Count a failed login against a key (an account or a client address)
 * within a window. Returns false on a Redis failure; *count is the
 * number of failures in the current window and *retry_s the seconds
 * until it ends.
 */
bool oc_login_failure(redisContext *rc, const char *prefix, const char *kind,
    const char *what, long window_s, long long *count, long long *retry_s,
    char *err, size_t errlen);

/*
 * Read the failures counted against a key without adding one (checked
 * before a login is tried). Same results as oc_login_failure().
 */
bool oc_login_failures(redisContext *rc, const char *prefix,
    const char *kind, const char *what, long long *count, long long *retry_s,
    char *err, size_t errlen);

/*
 * Behind a web server that authenticates (ORDERCAST_TRUST_REMOTE_USER=1)
 * the API records who REMOTE_USER is, as a session record under
 * PREFIX:remote-user:<hash of the email> for OC_REMOTE_USER_TTL seconds,
 * so that relays, which have no database, can scope that user's streams.
 */
#define OC_REMOTE_USER_TTL	300
char *oc_remote_user_key(const char *prefix, const char *email);
/* The same key by the hash of the email (oc_text_hash). Caller frees. */
char *oc_remote_user_key_hash(const char *prefix, const char *hash);

/*
 * End what the API recorded of a web-server-authenticated user (a
 * password or role change): the record goes, and the hash of the email
 * is announced on PREFIX:sessions so relays close that user's streams.
 * False on a Redis failure.
 */
bool oc_remote_user_end(redisContext *rc, const char *prefix,
    const char *email, char *err, size_t errlen);

/* The Redis key of a session by hash, and the channel of ended ones. Caller frees. */
char *oc_session_key(const char *prefix, const char *hash);
char *oc_sessions_channel(const char *prefix);

#endif
