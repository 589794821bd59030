/*
 * Unit tests of lib/: configuration, Redis key names, the BSON/JSON
 * converter, the strict parser, query strings and error bodies.
 * Prints TAP.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oc-config.h"
#include "oc-errbody.h"
#include "oc-json.h"
#include "oc-keys.h"
#include "oc-log.h"
#include "oc-metrics.h"
#include "oc-query.h"
#include "oc-redis.h"
#include "oc-xmalloc.h"
#include "tap.h"


/* Compare the compact JSON of obj with want. */
static void
ok_json(json_object *obj, const char *want, const char *what)
{
	const char *got = obj != NULL ? oc_json_text(obj, NULL) : "(null)";

	if (strcmp(got, want) != 0)
		printf("# got  %s\n# want %s\n", got, want);
	ok(strcmp(got, want) == 0, what);
}

/* Load the configuration with one variable set; returns success. */
static int
config_with(const char *name, const char *value, char *err, size_t errlen)
{
	struct oc_config cfg;
	int res;

	setenv(name, value, 1);
	res = oc_config_load(&cfg, err, errlen);
	unsetenv(name);
	oc_config_clear(&cfg);
	return res;
}

/* Whole decimal numbers: digits after an optional '-', in range. */
static void
test_parse_long(void)
{
	static const char *bad[] = {
		"", " 5", "+5", "5 ", "-", "--5", "0x10", "5a", "\t5",
		"99999999999999999999",
	};
	char what[64];
	long v = 0;
	size_t i;

	ok(oc_parse_long("42", 0, 100, &v) && v == 42, "42 is 42");
	ok(oc_parse_long("-7", -10, 10, &v) && v == -7, "-7 is -7");
	ok(oc_parse_long("007", 0, 10, &v) && v == 7, "leading zeros");
	ok(!oc_parse_long("101", 0, 100, &v), "above max refused");
	ok(!oc_parse_long("-1", 0, 100, &v), "below min refused");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 123;
		snprintf(what, sizeof(what), "'%s' refused, nothing stored",
		    bad[i]);
		ok(!oc_parse_long(bad[i], LONG_MIN, LONG_MAX, &v) && v == 123,
		    what);
	}
}

static void
test_config(void)
{
	struct oc_config cfg;
	char err[256];
	char *m;

	ok(oc_config_load(&cfg, err, sizeof(err)), "defaults load");
	ok(strcmp(cfg.db, "ordercast") == 0 && cfg.low_stock == 10 &&
	    strcmp(cfg.redis_host, "127.0.0.1") == 0 &&
	    cfg.redis_port == 6379 && cfg.log_level == OC_LOG_INFO,
	    "defaults match the documented table");
	oc_config_clear(&cfg);

	ok(!config_with("ORDERCAST_LOW_STOCK", "12abc", err, sizeof(err)) &&
	    strstr(err, "ORDERCAST_LOW_STOCK") != NULL,
	    "bad number names the variable");
	ok(!config_with("ORDERCAST_LOW_STOCK", "-1", err, sizeof(err)),
	    "negative low stock refused");
	ok(!config_with("ORDERCAST_REDIS", "localhost", err, sizeof(err)) &&
	    strstr(err, "ORDERCAST_REDIS") != NULL, "redis without port");
	ok(!config_with("ORDERCAST_REDIS", "h:70000", err, sizeof(err)),
	    "redis port out of range");
	ok(config_with("ORDERCAST_REDIS", "/run/redis.sock", err,
	    sizeof(err)), "redis socket path accepted");
	ok(!config_with("ORDERCAST_MONGODB_URI", "http://x", err,
	    sizeof(err)) && strstr(err, "ORDERCAST_MONGODB_URI") != NULL,
	    "bad MongoDB URI names the variable");
	ok(!config_with("ORDERCAST_LOG_LEVEL", "loud", err, sizeof(err)),
	    "unknown log level refused");
	ok(!config_with("ORDERCAST_DB", "a.b", err, sizeof(err)),
	    "invalid database name refused");
	ok(!config_with("ORDERCAST_PREFIX", "a b", err, sizeof(err)),
	    "prefix with a space refused");

	m = oc_config_mask_uri("mongodb://u:secret@h:1/?replicaSet=rs0");
	ok(strcmp(m, "mongodb://u:***@h:1/?replicaSet=rs0") == 0,
	    "password masked");
	free(m);
	m = oc_config_mask_uri("mongodb://h:1/?replicaSet=rs0");
	ok(strcmp(m, "mongodb://h:1/?replicaSet=rs0") == 0,
	    "URI without password unchanged");
	free(m);
}

static void
test_bson_to_json(void)
{
	bson_decimal128_t dec;
	bson_oid_t oid;
	json_object *obj;
	bson_t *doc;

	bson_oid_init_from_string(&oid, "65f0c0ffee0000000000abcd");
	bson_decimal128_from_string("12345678901234567890.12", &dec);
	doc = BCON_NEW("_id", BCON_OID(&oid),
	    "at", BCON_DATE_TIME(1764064800123),
	    "i32", BCON_INT32(-7), "i64", BCON_INT64(9007199254740993),
	    "dec", BCON_DECIMAL128(&dec), "d", BCON_DOUBLE(1.5),
	    "sub", "{", "_id", BCON_INT32(1), "arr", "[", BCON_UTF8("a"),
	    BCON_NULL, "]", "}");
	obj = oc_bson_to_json(doc);
	ok_json(obj, "{\"id\":\"65f0c0ffee0000000000abcd\","
	    "\"at\":\"2025-11-25T10:00:00.123Z\",\"i32\":-7,"
	    "\"i64\":9007199254740993,\"dec\":\"12345678901234567890.12\","
	    "\"d\":1.5,\"sub\":{\"_id\":1,\"arr\":[\"a\",null]}}",
	    "document converts exactly; only the top-level _id is renamed");
	json_object_put(obj);
	bson_destroy(doc);

	doc = BCON_NEW("before", BCON_DATE_TIME(-1), "s", BCON_UTF8("</x>"));
	obj = oc_bson_to_json(doc);
	ok_json(obj, "{\"before\":\"1969-12-31T23:59:59.999Z\","
	    "\"s\":\"</x>\"}", "dates before 1970; slashes unescaped");
	json_object_put(obj);
	bson_destroy(doc);
}

/* Another program may store invalid UTF-8: the JSON must stay valid. */
static void
test_bson_bad_utf8(void)
{
	char err[256];
	json_object *obj, *back;
	const char *text;
	size_t len;
	bson_t *doc;

	doc = bson_new();
	/* A stray continuation byte, a cut euro sign, an overlong '/',
	 * a surrogate, and a key with a Latin-1 byte. */
	bson_append_utf8(doc, "a", -1, "x\x80y", 3);
	bson_append_utf8(doc, "b", -1, "\xe2\x82", 2);
	bson_append_utf8(doc, "c", -1, "\xc0\xaf|\xed\xa0\x80", 6);
	bson_append_utf8(doc, "caf\xe9", -1, "ok \xe2\x82\xac", 6);
	bson_append_regex(doc, "r", -1, "\xff+", "i");
	obj = oc_bson_to_json(doc);
	ok_json(obj, "{\"a\":\"x\xef\xbf\xbdy\",\"b\":\"\xef\xbf\xbd\","
	    "\"c\":\"\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\",\"caf\xef\xbf\xbd\":\"ok \xe2\x82\xac\","
	    "\"r\":\"/\xef\xbf\xbd+/i\"}",
	    "invalid UTF-8 in keys and values becomes U+FFFD");
	text = oc_json_text(obj, &len);
	back = oc_json_parse(text, len, OC_JSON_MAX_DEPTH, err, sizeof(err));
	ok(back != NULL, "the repaired JSON passes the strict parser");
	json_object_put(back);
	json_object_put(obj);
	bson_destroy(doc);
}

static void
test_json_to_bson(void)
{
	char err[256];
	const char *text = "{\"n\":5000000000,\"s\":\"x\",\"a\":[1,{}]}";
	json_object *obj;
	bson_iter_t it;
	bson_t doc;

	obj = oc_json_parse(text, strlen(text), OC_JSON_MAX_DEPTH, err,
	    sizeof(err));
	if (obj == NULL) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	ok(oc_json_to_bson(obj, &doc, err, sizeof(err)),
	    "object converts to BSON");
	ok(bson_iter_init_find(&it, &doc, "n") &&
	    BSON_ITER_HOLDS_INT64(&it) &&
	    bson_iter_int64(&it) == 5000000000LL, "large integer is Int64");
	ok(bson_iter_init_find(&it, &doc, "a") && BSON_ITER_HOLDS_ARRAY(&it),
	    "array stays an array");
	bson_destroy(&doc);
	json_object_put(obj);

	/* json-c reads these, but no BSON number holds them exactly. */
	bson_init(&doc);
	text = "{\"a\":{\"n\":18446744073709551615}}";
	obj = oc_json_parse(text, strlen(text), OC_JSON_MAX_DEPTH, err,
	    sizeof(err));
	ok(obj != NULL && !oc_json_to_bson(obj, &doc, err, sizeof(err)) &&
	    strstr(err, "n: value has no BSON form") != NULL,
	    "integer above Int64 refused, not clamped");
	bson_destroy(&doc);
	json_object_put(obj);
	bson_init(&doc);
	text = "{\"x\":[1e400]}";
	obj = oc_json_parse(text, strlen(text), OC_JSON_MAX_DEPTH, err,
	    sizeof(err));
	ok(obj != NULL && !oc_json_to_bson(obj, &doc, err, sizeof(err)),
	    "number beyond double range refused, not made infinite");
	bson_destroy(&doc);
	json_object_put(obj);
}

/* Parse a C string of known length and say whether it was accepted. */
static int
parses(const char *s, size_t len)
{
	char err[256];
	json_object *obj = oc_json_parse(s, len, 4, err, sizeof(err));
	int res = obj != NULL;

	json_object_put(obj);
	return res;
}

static void
test_parser(void)
{
	char err[256];
	json_object *obj;

	ok(parses("{\"a\":1}", 7), "object accepted");
	ok(parses(" 5 ", 3) && parses("5", 1), "bare number accepted");
	ok(!parses("{\"a\":1", 6), "truncated refused");
	obj = oc_json_parse("{\"a\":", 5, 4, err, sizeof(err));
	ok(obj == NULL && strstr(err, "truncated") != NULL,
	    "truncated input says so");
	ok(!parses("{\"a\":1}x", 8), "trailing garbage refused");
	ok(!parses("{\"a\":1}\0", 8), "trailing NUL refused");
	ok(!parses("[[[[[1]]]]]", 11), "nesting over the limit refused");
	ok(!parses("{\"a\":\"\xff\"}", 9), "invalid UTF-8 refused");
	ok(!parses("{'a':1}", 7), "single quotes refused");
	ok(!parses("{\"a\":1,}", 8), "trailing comma refused");
	ok(!parses("[NaN]", 5) && !parses("[Infinity]", 10) &&
	    !parses("[-Infinity]", 11), "NaN and Infinity refused");
	ok(!parses("[\"a\tb\"]", 7), "raw control character refused");
	ok(parses("[\"a\\tb\\\"\"]", 10), "escapes accepted");
	ok(!parses("[\"\xc0\xaf\"]", 6), "overlong UTF-8 refused");
	ok(!parses("[\"\xed\xa0\x80\"]", 7), "UTF-8 surrogate refused");
	ok(parses("[\"\xe2\x82\xac\xf0\x9f\x98\x80\"]", 11),
	    "multi-byte UTF-8 accepted");
	ok(parses("[\"it's\"]", 8), "single quote inside a string accepted");
}

/* Parse text (a C string) and return the error, or "" when accepted. */
static const char *
parse_error(const char *text, char *err, size_t errlen)
{
	json_object *obj;

	err[0] = '\0';
	obj = oc_json_parse(text, strlen(text), OC_JSON_MAX_DEPTH, err,
	    errlen);
	if (obj != NULL) {
		json_object_put(obj);
		err[0] = '\0';
	}
	return err;
}

/* json-c keeps the last duplicate and cuts keys at \u0000: refuse both. */
static void
test_parser_keys(void)
{
	char err[256];

	ok(strstr(parse_error("{\"qty\":1,\"qty\":9}", err, sizeof(err)),
	    "duplicate key \"qty\"") != NULL, "duplicate key refused");
	ok(strstr(parse_error("{\"a\":{\"b\":1,\"c\":2,\"b\":3}}", err,
	    sizeof(err)), "duplicate key \"b\"") != NULL,
	    "duplicate key in a nested object refused");
	ok(strstr(parse_error("[{\"a\":1},{\"b\":1, \"\\u0062\" :2}]", err,
	    sizeof(err)), "duplicate key \"b\"") != NULL,
	    "duplicate spelled with an escape refused");
	ok(strstr(parse_error("{\"a\\u0000b\":1}", err, sizeof(err)),
	    "\\u0000") != NULL, "key holding \\u0000 refused");
	ok(strstr(parse_error("{\"a\":1,\"a\\u0000x\":2}", err,
	    sizeof(err)), "\\u0000") != NULL,
	    "key cut at \\u0000 does not pass as another key");
	ok(*parse_error("{\"a\":\"x\\u0000y\",\"b\":[\"a\",\"a\"],"
	    "\"c\":{\"a\":1},\"d\":{\"a\":2}}", err, sizeof(err)) == '\0',
	    "same key in sibling objects and NUL in values accepted");
	ok(*parse_error("{\"k\\\"\":1,\"k\":2,\"\\\\\":3}", err,
	    sizeof(err)) == '\0', "keys with escaped quotes accepted");
}

/* Log msg at warn level; returns the line written (caller frees). */
static char *
logged_line(const char *msg)
{
	char path[] = "/tmp/oc-test-log.XXXXXX";
	char *line = NULL;
	size_t cap = 0;
	int fd, saved;
	FILE *f;

	fd = mkstemp(path);
	saved = dup(STDERR_FILENO);
	if (fd == -1 || saved == -1) {
		printf("Bail out! mkstemp or dup failed\n");
		exit(1);
	}
	dup2(fd, STDERR_FILENO);
	log_warnx("%s", msg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	f = fdopen(fd, "r");
	rewind(f);
	if (getline(&line, &cap, f) < 0) {
		free(line);
		line = NULL;
	}
	fclose(f);
	unlink(path);
	return line;
}

/* Long lines grow to a cap, then say what they dropped. */
static void
test_log_lines(void)
{
	size_t big = 3000, huge = 2 * OC_LOG_MSG_MAX, i, kept;
	char *msg, *line, *text, *mark;
	unsigned long dropped = 0;
	bool whole = true;

	log_init("test-lib", OC_LOG_INFO, false);
	msg = malloc(huge + 1);
	memset(msg, 'a', big);
	msg[big] = '\0';
	line = logged_line(msg);
	text = line != NULL ? strstr(line, "test-lib[") : NULL;
	text = text != NULL ? strstr(text, "]: ") : NULL;
	ok(text != NULL && strlen(text + 3) == big + 1 &&
	    text[3 + big] == '\n', "a 3000-byte message is logged whole");
	free(line);

	/* 'x' then two-byte characters: an even cut splits one. */
	msg[0] = 'x';
	for (i = 1; i + 1 < huge; i += 2)
		memcpy(msg + i, "\xc3\xa9", 2);
	msg[i] = '\0';
	line = logged_line(msg);
	text = line != NULL ? strstr(line, "]: ") : NULL;
	mark = text != NULL ? strstr(text, " ... [") : NULL;
	ok(mark != NULL && sscanf(mark, " ... [%lu bytes dropped]",
	    &dropped) == 1 && strcmp(strchr(mark, ']'), "]\n") == 0,
	    "an over-long message ends with the bytes it dropped");
	kept = mark != NULL ? (size_t)(mark - text - 3) : 0;
	for (i = 1; i < kept; i += 2)
		if (memcmp(text + 3 + i, "\xc3\xa9", 2) != 0)
			whole = false;
	ok(mark != NULL && kept <= OC_LOG_MSG_MAX && kept > big &&
	    kept + dropped == strlen(msg) && whole && kept % 2 == 1,
	    "the cut keeps whole characters and counts what it dropped");
	free(line);
	free(msg);
}

static void
test_oid(void)
{
	bson_oid_t oid;

	ok(oc_oid_parse("65f0c0ffee0000000000abcd", &oid), "oid accepted");
	ok(!oc_oid_parse("65f0c0ffee0000000000abc", &oid), "23 digits");
	ok(!oc_oid_parse("65f0c0ffee0000000000abcg", &oid), "non-hex");
	ok(!oc_oid_parse("65f0c0ffee0000000000abcd0", &oid), "25 digits");
}

/* Every name the programs use, spelled as docs/architecture.md has it. */
static void
test_keys(void)
{
	struct oc_keys k;
	char *s;

	oc_keys_init(&k, "oc1");
	ok(strcmp(k.events, "oc1:events") == 0 &&
	    strcmp(k.log, "oc1:log") == 0, "events channel and log stream");
	ok(strcmp(k.watch_token, "oc1:watch:token") == 0 &&
	    strcmp(k.watch_alive, "oc1:watch:alive") == 0 &&
	    strcmp(k.watch_low, "oc1:watch:low") == 0, "watcher keys");
	ok(strcmp(k.cache_gen, "oc1:cache:gen") == 0 &&
	    strcmp(k.cache_products, "oc1:cache:products") == 0,
	    "cache keys");
	s = oc_keys_product(&k, "65f0c0ffee0000000000abcd");
	ok(strcmp(s, "oc1:cache:product:65f0c0ffee0000000000abcd") == 0,
	    "one product's cache key");
	free(s);
	ok(strcmp(k.metrics_api, "oc1:metrics:api") == 0 &&
	    strcmp(k.metrics_sse, "oc1:metrics:sse") == 0 &&
	    strcmp(k.metrics_watch, "oc1:metrics:watch") == 0 &&
	    strcmp(k.metrics_match, "oc1:metrics:*") == 0, "metrics keys");
	s = k.metrics_watch;
	ok(oc_keys_metrics_program(&k, s) != NULL &&
	    strcmp(oc_keys_metrics_program(&k, s), "watch") == 0 &&
	    oc_keys_metrics_program(&k, "oc1:metrics:") == NULL &&
	    oc_keys_metrics_program(&k, "oc2:metrics:api") == NULL,
	    "program name of a metrics key");
	oc_keys_clear(&k);
	ok(k.events == NULL, "cleared");
}

/* A string reply over s, for the parsers of replies. */
static redisReply
str_reply(char *s)
{
	redisReply r;

	memset(&r, 0, sizeof(r));
	r.type = REDIS_REPLY_STRING;
	r.str = s;
	r.len = strlen(s);
	return r;
}

/* Sentinel's address replies and ROLE, as every program reads them. */
static void
test_redis_replies(void)
{
	char h[] = "10.0.0.2", p[] = "6380", bad[] = "6380x", zero[] = "0";
	char master[] = "master", slave[] = "slave";
	redisReply e[2], *el[2] = { &e[0], &e[1] }, arr;
	char host[16];
	int port = 0;

	memset(&arr, 0, sizeof(arr));
	arr.type = REDIS_REPLY_ARRAY;
	arr.elements = 2;
	arr.element = el;
	e[0] = str_reply(h);
	e[1] = str_reply(p);
	ok(oc_redis_sentinel_addr(&arr, host, sizeof(host), &port) &&
	    strcmp(host, "10.0.0.2") == 0 && port == 6380,
	    "a sentinel's address");
	ok(!oc_redis_sentinel_addr(&arr, host, 8, &port),
	    "a host too long for the buffer is refused");
	e[1] = str_reply(bad);
	ok(!oc_redis_sentinel_addr(&arr, host, sizeof(host), &port),
	    "a port with junk is refused");
	e[1] = str_reply(zero);
	ok(!oc_redis_sentinel_addr(&arr, host, sizeof(host), &port),
	    "port 0 is refused");
	arr.elements = 0;
	ok(!oc_redis_sentinel_addr(&arr, host, sizeof(host), &port) &&
	    !oc_redis_sentinel_addr(NULL, host, sizeof(host), &port),
	    "an unknown master (nil or empty) is no address");
	arr.elements = 1;
	e[0] = str_reply(master);
	ok(oc_redis_role_is_primary(&arr), "ROLE master");
	e[0] = str_reply(slave);
	ok(!oc_redis_role_is_primary(&arr) && !oc_redis_role_is_primary(NULL),
	    "ROLE slave, or no reply, is no primary");
}

/* The gauge keys of one process, and how the gauges of several add up. */
static void
test_metrics(void)
{
	const struct oc_gauge *clients, *lag;
	const char *inst = NULL;
	struct oc_keys k;
	char prog[16], name[96];
	long long acc = 0;
	long pid = 0;
	char *s;

	oc_keys_init(&k, "oc1");
	s = oc_keys_metrics_instance(&k, "sse", "web1:42");
	ok(strcmp(s, "oc1:metrics:sse:web1:42") == 0, "a relay's gauge key");
	ok(oc_keys_metrics_split(&k, s, prog, sizeof(prog), &inst) &&
	    strcmp(prog, "sse") == 0 && strcmp(inst, "web1:42") == 0,
	    "split into program and instance");
	ok(oc_keys_metrics_program(&k, s) == NULL,
	    "a gauge key is no program's component");
	ok(!oc_keys_metrics_split(&k, k.metrics_sse, prog, sizeof(prog),
	    &inst), "the shared counters are no gauge key");
	free(s);
	oc_keys_clear(&k);
	clients = oc_metrics_gauge("sse", "clients_connected");
	lag = oc_metrics_gauge("watch", "lag_ms");
	ok(clients != NULL && lag != NULL &&
	    oc_metrics_gauge("sse", "events_sent") == NULL &&
	    oc_metrics_gauge("watch", "clients_connected") == NULL,
	    "gauges are named per program");
	oc_metrics_fold(clients, true, 3, &acc);
	oc_metrics_fold(clients, false, 2, &acc);
	ok(acc == 5, "clients of two relays add up");
	oc_metrics_fold(lag, true, 40, &acc);
	oc_metrics_fold(lag, false, 7, &acc);
	oc_metrics_fold(lag, false, 12, &acc);
	ok(acc == 40, "the lag is the largest, not a sum");
	ok(oc_metrics_is_gauge("sse", "instances") &&
	    !oc_metrics_is_gauge("api", "requests_total"),
	    "instances is a gauge, counters are not");
	oc_metrics_instance_name(name, sizeof(name));
	s = strrchr(name, ':');
	ok(s != NULL && s != name && strchr(name, ':') == s &&
	    oc_parse_long(s + 1, 1, LONG_MAX, &pid) && pid == (long)getpid(),
	    "instance is host:pid");
}

/* Look name up in q; returns the value or "(absent)" / "(error)". */
static const char *
query_value(const char *q, const char *name, char *buf, size_t len)
{
	char err[96];
	char *v;

	if (!oc_query_get(q, name, &v, err, sizeof(err))) {
		snprintf(buf, len, "(error) %s", err);
		return buf;
	}
	snprintf(buf, len, "%s", v != NULL ? v : "(absent)");
	free(v);
	return buf;
}

static void
test_query(void)
{
	char buf[128], out[8], err[128];

	ok(strcmp(query_value("a=1&status=pending", "status", buf,
	    sizeof(buf)), "pending") == 0, "value found");
	ok(strcmp(query_value("a=1", "status", buf, sizeof(buf)),
	    "(absent)") == 0, "absent name");
	ok(strcmp(query_value("", "a", buf, sizeof(buf)), "(absent)") == 0,
	    "empty query");
	ok(strcmp(query_value("q=a+b%20c%2Cd%e2%82%ac", "q", buf,
	    sizeof(buf)), "a b c,d\xe2\x82\xac") == 0, "'+' and %XX decoded");
	ok(strcmp(query_value("%73tatus=x", "status", buf, sizeof(buf)),
	    "x") == 0, "names are decoded too");
	ok(strcmp(query_value("a=1&a=2", "a", buf, sizeof(buf)), "1") == 0,
	    "first of a repeated name");
	ok(strcmp(query_value("&&flag&b=2", "flag", buf, sizeof(buf)),
	    "") == 0, "pair without '=' is empty; empty pairs skipped");
	ok(strcmp(query_value("ab=1&a=2", "a", buf, sizeof(buf)), "2") == 0,
	    "no prefix match of names");
	ok(strncmp(query_value("a=x%00y", "a", buf, sizeof(buf)),
	    "(error) a: %00", 14) == 0, "%00 refused, naming the parameter");
	ok(strncmp(query_value("a=x%4", "a", buf, sizeof(buf)),
	    "(error)", 7) == 0, "truncated escape refused");
	ok(strncmp(query_value("a=%zz", "a", buf, sizeof(buf)),
	    "(error)", 7) == 0, "non-hex escape refused");
	ok(strncmp(query_value("a=100%", "a", buf, sizeof(buf)),
	    "(error)", 7) == 0, "bare '%' refused");
	ok(strcmp(query_value("x=%zz&a=1", "a", buf, sizeof(buf)), "1") == 0,
	    "another parameter's bad value does not matter");
	ok(strcmp(query_value("%zz=1&a=2", "a", buf, sizeof(buf)), "2") == 0,
	    "a malformed name is passed over");
	ok(oc_query_decode("abc", 3, out, sizeof(out), err, sizeof(err)) &&
	    strcmp(out, "abc") == 0, "decode into a buffer");
	ok(!oc_query_decode("abcdefgh", 8, out, sizeof(out), err,
	    sizeof(err)) && strstr(err, "longer") != NULL,
	    "decode past the buffer refused");
	ok(oc_oid_valid("65f0c0ffee0000000000abcd", 24) &&
	    oc_oid_valid("65F0C0FFEE0000000000ABCD", 24),
	    "ObjectId: 24 hex digits, either case");
	ok(!oc_oid_valid("65f0c0ffee0000000000abc", 23) &&
	    !oc_oid_valid("65f0c0ffee0000000000abcg", 24) &&
	    !oc_oid_valid("65f0c0ffee0000000000abcd0", 25) &&
	    !oc_oid_valid(NULL, 0), "ObjectId: anything else refused");
}

/* Is s valid UTF-8 (as the strict parser judges it)? */
static int
valid_utf8(const char *s)
{
	char *text = xasprintf("\"%s\"", s);
	int res = parses(text, strlen(text));

	free(text);
	return res;
}

static void
test_errbody(void)
{
	json_object *body, *msg;
	char long_msg[OC_ERROR_MESSAGE_MAX + 64];
	char *text, *c;
	size_t len, i;

	body = oc_errbody_new("not_found", NULL, "no such \"order\"");
	ok_json(body, "{\"error\":{\"code\":\"not_found\","
	    "\"message\":\"no such \\\"order\\\"\"}}", "error body");
	json_object_put(body);
	body = oc_errbody_newf("invalid_field", "qty", "qty: %d is too many",
	    5000);
	ok_json(body, "{\"error\":{\"code\":\"invalid_field\","
	    "\"message\":\"qty: 5000 is too many\",\"field\":\"qty\"}}",
	    "error body with a field");
	json_object_put(body);
	text = oc_errbody_text("bad_request", NULL, "a\nb", &len);
	ok(strcmp(text, "{\"error\":{\"code\":\"bad_request\","
	    "\"message\":\"a\\nb\"}}") == 0 && len == strlen(text),
	    "error text escapes what JSON must");
	free(text);

	/* "x" and euro signs: the limit falls inside a character. */
	memset(long_msg, 'x', 1);
	for (i = 1; i + 3 < sizeof(long_msg); i += 3)
		memcpy(long_msg + i, "\xe2\x82\xac", 3);
	long_msg[i] = '\0';
	body = oc_errbody_new("bad_request", NULL, long_msg);
	json_object_object_get_ex(json_object_object_get(body, "error"),
	    "message", &msg);
	len = (size_t)json_object_get_string_len(msg);
	ok(len <= OC_ERROR_MESSAGE_MAX && len > OC_ERROR_MESSAGE_MAX - 3 &&
	    valid_utf8(json_object_get_string(msg)),
	    "a long message is cut at a character boundary");
	json_object_put(body);

	c = oc_utf8_clip("a\xff" "b\xe2\x82", 5, 100);
	ok(strcmp(c, "a?b??") == 0, "invalid bytes become '?'");
	free(c);
	c = oc_utf8_clip("\xed\xa0\x80\xc0\xaf", 5, 100);
	ok(strcmp(c, "?????") == 0, "surrogates and overlong forms too");
	free(c);
	c = oc_utf8_clip("\xf0\x9f\x98\x80", 4, 3);
	ok(strcmp(c, "") == 0, "a 4-byte character never split");
	free(c);
}

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	unsetenv("ORDERCAST_MONGODB_URI");
	unsetenv("ORDERCAST_REDIS");
	unsetenv("ORDERCAST_DB");
	unsetenv("ORDERCAST_LOW_STOCK");
	unsetenv("ORDERCAST_LOG_LEVEL");
	test_parse_long();
	test_config();
	test_bson_to_json();
	test_bson_bad_utf8();
	test_json_to_bson();
	test_parser();
	test_parser_keys();
	test_oid();
	test_keys();
	test_metrics();
	test_redis_replies();
	test_query();
	test_errbody();
	test_log_lines();
	return tap_done();
}
