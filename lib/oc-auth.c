/* Passwords, session tokens and session records; see oc-auth.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <sodium.h>

#include "oc-auth.h"
#include "oc-json.h"
#include "oc-log.h"
#include "oc-query.h"
#include "oc-xmalloc.h"

/*
 * A hash of a password nobody has, verified when the account does not
 * exist so that both failures take the same time. Made on first use.
 */
static char	 burn_hash[OC_PWHASH_MAX];

static bool reply_failed(redisContext *, redisReply *, char *, size_t);
static bool	 burn_ready;

/* Sessions are created, looked up and ended by these scripts, so each
 * step is atomic and every time comes from Redis' clock, the same for
 * every host. */
static const char create_lua[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local exp = now + tonumber(ARGV[4]) * 1000\n"
	"local rec = string.format("
	"'{\"userId\":\"%s\",\"role\":\"%s\",\"created\":%d,\"expires\":%d}',"
	" ARGV[1], ARGV[2], now, exp)\n"
	"local ttl = math.min(tonumber(ARGV[3]), tonumber(ARGV[4])) * 1000\n"
	"redis.call('SET', KEYS[1], rec, 'PX', ttl)\n"
	"redis.call('SADD', KEYS[2], ARGV[5])\n"
	"redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]) * 1000)\n"
	"return rec\n";

static const char lookup_lua[] =
	"local v = redis.call('GET', KEYS[1])\n"
	"if not v then return false end\n"
	"local ok, r = pcall(cjson.decode, v)\n"
	"if not ok or type(r) ~= 'table' or type(r.expires) ~= 'number' then\n"
	"  return false\n"
	"end\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local left = r.expires - now\n"
	"if left <= 0 then redis.call('DEL', KEYS[1]) return false end\n"
	"redis.call('PEXPIRE', KEYS[1],"
	" math.min(left, tonumber(ARGV[1]) * 1000))\n"
	"return v\n";

/* KEYS[1] session; ARGV: user-set prefix, channel, hash. */
static const char end_lua[] =
	"local v = redis.call('GET', KEYS[1])\n"
	"redis.call('DEL', KEYS[1])\n"
	"if v then\n"
	"  local ok, r = pcall(cjson.decode, v)\n"
	"  if ok and type(r) == 'table' and type(r.userId) == 'string' then\n"
	"    redis.call('SREM', ARGV[1] .. r.userId, ARGV[3])\n"
	"  end\n"
	"end\n"
	"redis.call('PUBLISH', ARGV[2], ARGV[3])\n"
	"return v and 1 or 0\n";

/* KEYS[1] user set; ARGV: session key prefix, channel. */
static const char end_user_lua[] =
	"local hs = redis.call('SMEMBERS', KEYS[1])\n"
	"for _, h in ipairs(hs) do\n"
	"  redis.call('DEL', ARGV[1] .. h)\n"
	"  redis.call('PUBLISH', ARGV[2], h)\n"
	"end\n"
	"redis.call('DEL', KEYS[1])\n"
	"return #hs\n";

/* KEYS[1] counter; ARGV[1] window in seconds, ARGV[2] 1 to count. */
static const char login_lua[] =
	"local n\n"
	"if ARGV[2] == '1' then\n"
	"  n = redis.call('INCR', KEYS[1])\n"
	"else\n"
	"  n = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
	"end\n"
	"local ttl = redis.call('TTL', KEYS[1])\n"
	"if n > 0 and ttl < 0 then\n"
	"  redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
	"  ttl = tonumber(ARGV[1])\n"
	"end\n"
	"if ttl < 0 then ttl = 0 end\n"
	"return {n, ttl}\n";

/* Start libsodium; safe to call more than once. */
bool
oc_auth_init(void)
{
	return sodium_init() >= 0;
}

/* Store a password as an Argon2id string. */
bool
oc_password_hash(const char *pw, char *out, size_t outlen, char *err,
    size_t errlen)
{
	size_t	 len = strlen(pw);

	if (len < OC_PASSWORD_MIN) {
		snprintf(err, errlen, "a password needs at least %d characters",
		    OC_PASSWORD_MIN);
		return false;
	}
	if (len > OC_PASSWORD_MAX) {
		snprintf(err, errlen, "a password has at most %d characters",
		    OC_PASSWORD_MAX);
		return false;
	}
	if (outlen < crypto_pwhash_STRBYTES) {
		snprintf(err, errlen, "hash buffer too small");
		return false;
	}
	if (crypto_pwhash_str(out, pw, len,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		snprintf(err, errlen, "out of memory hashing the password");
		return false;
	}
	return true;
}

/* Check a password; a missing hash costs the same as a wrong password. */
bool
oc_password_verify(const char *hash, const char *pw)
{
	size_t	 len = strlen(pw);
	char	 rnd[OC_TOKEN_LEN + 1];

	/* Refused alike with or without an account: no timing tells. */
	if (len > OC_PASSWORD_MAX)
		return false;
	if (hash == NULL) {
		if (!burn_ready) {
			oc_token_new(rnd);
			if (crypto_pwhash_str(burn_hash, rnd, strlen(rnd),
			    crypto_pwhash_OPSLIMIT_INTERACTIVE,
			    crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0)
				burn_ready = true;
		}
		if (burn_ready &&
		    crypto_pwhash_str_verify(burn_hash, pw, len) == 0)
			log_warnx("a password matched the burn hash");
		return false;
	}
	return crypto_pwhash_str_verify(hash, pw, len) == 0;
}

/* 256 random bits as unpadded base64url. */
void
oc_token_new(char *out)
{
	unsigned char	 raw[32];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out, OC_TOKEN_LEN + 1, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

/* Length and alphabet of a token, before any lookup. */
bool
oc_token_syntax_ok(const char *t)
{
	size_t	 i;

	for (i = 0; t[i] != '\0'; i++) {
		unsigned char c = (unsigned char)t[i];

		if (i >= OC_TOKEN_LEN)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return i == OC_TOKEN_LEN;
}

/* Copy at most outlen - 1 bytes of p[0..n) into out. */
static void
copy_cut(char *out, size_t outlen, const char *p, size_t n)
{
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* The bearer token, else the session cookie's value. */
bool
oc_token_from_headers(const char *auth, const char *cookie, char *out,
    size_t outlen)
{
	const char	*p, *end;
	size_t		 name_len = strlen(OC_COOKIE_NAME);

	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
		p = auth + 7;
		while (*p == ' ')
			p++;
		copy_cut(out, outlen, p, strlen(p));
		return true;
	}
	for (p = cookie; p != NULL && *p != '\0'; p = end) {
		while (*p == ' ' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > name_len && p[name_len] == '=' &&
		    strncmp(p, OC_COOKIE_NAME, name_len) == 0) {
			p += name_len + 1;
			copy_cut(out, outlen, p, (size_t)(end - p));
			return true;
		}
	}
	return false;
}

/* Hex BLAKE2b-256 of a text. */
void
oc_text_hash(const char *text, char *out)
{
	unsigned char	 h[32];

	crypto_generichash(h, sizeof(h), (const unsigned char *)text,
	    strlen(text), NULL, 0);
	sodium_bin2hex(out, OC_TOKEN_HASH_LEN + 1, h, sizeof(h));
}

/* The stored name of a token. */
void
oc_token_hash(const char *token, char *out)
{
	oc_text_hash(token, out);
}

/* Key of one session. */
char *
oc_session_key(const char *prefix, const char *hash)
{
	return xasprintf("%s:session:%s", prefix, hash);
}

/* Key of the record of a web-server-authenticated user, by hash. */
char *
oc_remote_user_key_hash(const char *prefix, const char *hash)
{
	return xasprintf("%s:remote-user:%s", prefix, hash);
}

/* Key of the record of a web-server-authenticated user. */
char *
oc_remote_user_key(const char *prefix, const char *email)
{
	char h[OC_TOKEN_HASH_LEN + 1];

	oc_text_hash(email, h);
	return oc_remote_user_key_hash(prefix, h);
}

/* The record of a REMOTE_USER goes, and relays hear of it. */
bool
oc_remote_user_end(redisContext *rc, const char *prefix, const char *email,
    char *err, size_t errlen)
{
	redisReply *r;
	char h[OC_TOKEN_HASH_LEN + 1], *key, *chan;
	bool ok;

	oc_text_hash(email, h);
	key = oc_remote_user_key_hash(prefix, h);
	chan = oc_sessions_channel(prefix);
	r = redisCommand(rc, "EVAL %s 1 %s %s %s",
	    "redis.call('DEL', KEYS[1]) "
	    "redis.call('PUBLISH', ARGV[1], ARGV[2]) return 1",
	    key, chan, h);
	ok = !reply_failed(rc, r, err, errlen);
	if (r != NULL)
		freeReplyObject(r);
	free(key);
	free(chan);
	return ok;
}

/* Channel on which ended sessions are announced. */
char *
oc_sessions_channel(const char *prefix)
{
	return xasprintf("%s:sessions", prefix);
}

/* The stored JSON of a session, escaped like any JSON. */
char *
oc_session_record(const struct oc_session *s)
{
	json_object *rec = json_object_new_object();
	char *out;

	json_object_object_add(rec, "userId",
	    json_object_new_string(s->user_id));
	json_object_object_add(rec, "role", json_object_new_string(s->role));
	json_object_object_add(rec, "created",
	    json_object_new_int64(s->created_ms));
	json_object_object_add(rec, "expires",
	    json_object_new_int64(s->expires_ms));
	out = xstrdup(oc_json_text(rec, NULL));
	json_object_put(rec);
	return out;
}

/* Copy a string member of a record into dst; false if absent or too long. */
static bool
record_string(json_object *rec, const char *name, char *dst, size_t dstlen)
{
	json_object	*v;
	const char	*s;

	if (!json_object_object_get_ex(rec, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	/* No NUL inside, no cut: the whole value or nothing. */
	if ((size_t)json_object_get_string_len(v) != strlen(s) ||
	    strlen(s) >= dstlen)
		return false;
	memcpy(dst, s, strlen(s) + 1);
	return true;
}

/* An integer member of a record; false if absent or not an integer. */
static bool
record_int(json_object *rec, const char *name, int64_t *out)
{
	json_object	*v;

	if (!json_object_object_get_ex(rec, name, &v) ||
	    !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/* Read what a record says; every member must be there. */
bool
oc_session_parse_record(const char *json, size_t len, struct oc_session *s)
{
	json_object	*rec;
	char		 err[128];
	bool		 ok = false;
	bson_oid_t	 oid;

	rec = oc_json_parse(json, len, 4, err, sizeof(err));
	if (rec == NULL || !json_object_is_type(rec, json_type_object))
		goto done;
	if (!record_string(rec, "userId", s->user_id, sizeof(s->user_id)) ||
	    !oc_oid_parse(s->user_id, &oid))
		goto done;
	if (!record_string(rec, "role", s->role, sizeof(s->role)))
		goto done;
	if (!record_int(rec, "created", &s->created_ms) ||
	    !record_int(rec, "expires", &s->expires_ms))
		goto done;
	ok = true;
done:
	json_object_put(rec);
	return ok;
}

/* Say what went wrong with a reply, or that there was none. */
static bool
reply_failed(redisContext *rc, redisReply *r, char *err, size_t errlen)
{
	if (r == NULL) {
		snprintf(err, errlen, "Redis: %s",
		    rc->errstr[0] != '\0' ? rc->errstr : "no reply");
		return true;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "Redis: %s", r->str);
		return true;
	}
	return false;
}

/* Make a session and give its token. */
bool
oc_session_create(redisContext *rc, const char *prefix,
    const struct oc_session_policy *pol, const char *user_id,
    const char *role, char *token_out, struct oc_session *out, char *err,
    size_t errlen)
{
	redisReply	*r = NULL;
	char		*key = NULL, *set = NULL;
	char		 idle[24], max[24];
	bool		 ok = false;

	/* The script writes both into JSON as they are: only known forms. */
	if (!oc_oid_valid(user_id, strlen(user_id)) ||
	    (strcmp(role, "admin") != 0 &&
	    strcmp(role, "customer") != 0)) {
		snprintf(err, errlen, "session for a bad user id or role");
		return false;
	}
	oc_token_new(token_out);
	oc_token_hash(token_out, out->hash);
	key = oc_session_key(prefix, out->hash);
	set = xasprintf("%s:user-sessions:%s", prefix, user_id);
	snprintf(idle, sizeof(idle), "%ld", pol->idle_s);
	snprintf(max, sizeof(max), "%ld", pol->max_s);
	r = redisCommand(rc, "EVAL %s 2 %s %s %s %s %s %s %s", create_lua,
	    key, set, user_id, role, idle, max, out->hash);
	if (reply_failed(rc, r, err, errlen))
		goto done;
	if (r->type != REDIS_REPLY_STRING ||
	    !oc_session_parse_record(r->str, r->len, out)) {
		snprintf(err, errlen, "Redis: unexpected session record");
		goto done;
	}
	ok = true;
done:
	if (r != NULL)
		freeReplyObject(r);
	free(key);
	free(set);
	return ok;
}

/* Find a session by token and keep it alive. */
bool
oc_session_lookup(redisContext *rc, const char *prefix,
    const struct oc_session_policy *pol, const char *token, bool *found,
    struct oc_session *out, char *err, size_t errlen)
{
	redisReply	*r = NULL;
	char		*key = NULL;
	char		 idle[24];
	bool		 ok = false;

	*found = false;
	if (!oc_token_syntax_ok(token))
		return true;
	oc_token_hash(token, out->hash);
	key = oc_session_key(prefix, out->hash);
	snprintf(idle, sizeof(idle), "%ld", pol->idle_s);
	r = redisCommand(rc, "EVAL %s 1 %s %s", lookup_lua, key, idle);
	if (reply_failed(rc, r, err, errlen))
		goto done;
	if (r->type == REDIS_REPLY_STRING)
		*found = oc_session_parse_record(r->str, r->len, out);
	ok = true;
done:
	if (r != NULL)
		freeReplyObject(r);
	free(key);
	return ok;
}

/* Logout: the session goes, and the relays hear of it. */
bool
oc_session_end(redisContext *rc, const char *prefix, const char *hash,
    char *err, size_t errlen)
{
	redisReply	*r = NULL;
	char		*key, *setp, *chan;
	bool		 ok;

	key = oc_session_key(prefix, hash);
	setp = xasprintf("%s:user-sessions:", prefix);
	chan = oc_sessions_channel(prefix);
	r = redisCommand(rc, "EVAL %s 1 %s %s %s %s", end_lua, key, setp,
	    chan, hash);
	ok = !reply_failed(rc, r, err, errlen);
	if (r != NULL)
		freeReplyObject(r);
	free(key);
	free(setp);
	free(chan);
	return ok;
}

/* End every session of one user. */
bool
oc_session_end_user(redisContext *rc, const char *prefix,
    const char *user_id, long long *ended, char *err, size_t errlen)
{
	redisReply	*r = NULL;
	char		*set, *keyp, *chan;
	bool		 ok = false;

	*ended = 0;
	set = xasprintf("%s:user-sessions:%s", prefix, user_id);
	keyp = xasprintf("%s:session:", prefix);
	chan = oc_sessions_channel(prefix);
	r = redisCommand(rc, "EVAL %s 1 %s %s %s", end_user_lua, set, keyp,
	    chan);
	if (reply_failed(rc, r, err, errlen))
		goto done;
	if (r->type == REDIS_REPLY_INTEGER)
		*ended = r->integer;
	ok = true;
done:
	if (r != NULL)
		freeReplyObject(r);
	free(set);
	free(keyp);
	free(chan);
	return ok;
}

/* Run the login counter script, counting one failure or only reading. */
static bool
login_counter(redisContext *rc, const char *prefix, const char *kind,
    const char *what, long window_s, bool count_one, long long *count,
    long long *retry_s, char *err, size_t errlen)
{
	redisReply	*r = NULL;
	char		 h[OC_TOKEN_HASH_LEN + 1];
	char		 win[24];
	char		*key;
	bool		 ok = false;

	*count = 0;
	*retry_s = 0;
	oc_text_hash(what, h);
	key = xasprintf("%s:login:%s:%s", prefix, kind, h);
	snprintf(win, sizeof(win), "%ld", window_s);
	r = redisCommand(rc, "EVAL %s 1 %s %s %s", login_lua, key, win,
	    count_one ? "1" : "0");
	if (reply_failed(rc, r, err, errlen))
		goto done;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER ||
	    r->element[1]->type != REDIS_REPLY_INTEGER) {
		snprintf(err, errlen, "Redis: unexpected login counter reply");
		goto done;
	}
	*count = r->element[0]->integer;
	*retry_s = r->element[1]->integer;
	ok = true;
done:
	if (r != NULL)
		freeReplyObject(r);
	free(key);
	return ok;
}

/* Count one failed login. */
bool
oc_login_failure(redisContext *rc, const char *prefix, const char *kind,
    const char *what, long window_s, long long *count, long long *retry_s,
    char *err, size_t errlen)
{
	return login_counter(rc, prefix, kind, what, window_s, true, count,
	    retry_s, err, errlen);
}

/* Read the failed logins of a key. */
bool
oc_login_failures(redisContext *rc, const char *prefix, const char *kind,
    const char *what, long long *count, long long *retry_s, char *err,
    size_t errlen)
{
	return login_counter(rc, prefix, kind, what, 1, false, count,
	    retry_s, err, errlen);
}
