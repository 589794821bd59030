/*
 * standin-client: a small libmongoc client that the stand-in's bats suite
 * drives.  It runs one operation against a MongoDB URI and prints results
 * as relaxed extended JSON, one document per line, so that the same tests
 * run against the mongod stand-in and a real replica set.
 *
 * Usage: standin-client URI SUBCOMMAND ARGS...   (see usage() below)
 * Exit status: 0 done, 1 the operation failed (error printed as JSON on
 * stdout), 2 bad usage, 3 a watch gave up before seeing COUNT events.
 */

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mongoc/mongoc.h>

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_GAVE_UP 3
#define MAX_THREADS 256
#define JSON_WRAP_MAX (1024 * 1024)

/* Options of the watch subcommand, set from --flags before its args. */
struct watch_opts {
	const char *ready_file;
	const char *token_file;
	long max_nexts;
	long timeout_s;
};

/* One racing thread's share of the race subcommand. */
struct race_slot {
	mongoc_client_pool_t *pool;
	const char *db;
	const char *coll;
	const bson_t *filter;
	const bson_t *update;
	int64_t modified;
	bool failed;
};

/* Print canonical extended JSON (keeps int32 and Int64 apart). */
static bool canonical_json;

/* How the txn subcommand ends its transaction. */
enum txn_mode {
	TXN_WITH,		/* mongoc_client_session_with_transaction */
	TXN_COMMIT,		/* start, operations, commit */
	TXN_ABORT		/* start, operations, abort */
};

/* What the txn subcommand runs, and what its callback needs. */
struct txn_run {
	mongoc_client_t *client;
	const char *db;
	const bson_t *ops;
	const char *pause_file;
	const char *mark_file;
	enum txn_mode mode;
	int attempts;
};

/* The watcher thread of the bench subcommand. */
struct bench_watch {
	mongoc_client_pool_t *pool;
	const char *db;
	const char *coll;
	long want;
	long seen;
	bool ready;
	bool failed;
	double last_event_at;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

/* Say how to call the program; every subcommand is listed here. */
static void
usage(void)
{
	fputs("usage: standin-client [--canonical] URI SUBCOMMAND ARGS...\n"
	    "  command DB JSON\n"
	    "  insert DB COLL DOC...\n"
	    "  find DB COLL FILTER [OPTS]\n"
	    "  update-one|update-many|replace-one DB COLL FILTER UPDATE"
	    " [OPTS]\n"
	    "  delete-one|delete-many DB COLL FILTER\n"
	    "  find-and-modify DB COLL QUERY OPTS\n"
	    "  aggregate DB COLL PIPELINE [OPTS]\n"
	    "  count DB COLL FILTER | estimated-count DB COLL\n"
	    "  create-index DB COLL KEYS [OPTS]\n"
	    "  list-indexes DB COLL | list-collections DB | list-databases\n"
	    "  drop DB COLL | drop-database DB\n"
	    "  race DB COLL THREADS FILTER UPDATE\n"
	    "  watch [--ready F] [--token F] [--nexts N] [--timeout-s N]\n"
	    "        DB COLL|- COUNT [PIPELINE [OPTS]]\n"
	    "  bench DB COLL N\n"
	    "  txn [--mode with|commit|abort] [--pause F] [--mark F] DB OPS\n"
	    "      OPS: [{\"op\": \"insert|update|delete|find\","
	    " \"coll\": C, \"doc\"|\"filter\"|\"update\": ...}]\n"
	    "      an op {\"op\": \"pause\"} writes F.ready and waits for F\n",
	    stderr);
}

/* Print one document as relaxed extended JSON on its own line. */
static void
print_doc(const bson_t *doc)
{
	char *json;

	if (canonical_json)
		json = bson_as_canonical_extended_json(doc, NULL);
	else
		json = bson_as_relaxed_extended_json(doc, NULL);
	printf("%s\n", json);
	bson_free(json);
}

/*
 * Report a failed operation: the server's reply if any (with the server's
 * error code added when libmongoc's reply leaves it out), else the error.
 */
static void
print_error(const bson_error_t *error, const bson_t *reply)
{
	bson_t doc = BSON_INITIALIZER;

	if (reply != NULL && !bson_empty(reply)) {
		bson_concat(&doc, reply);
		if (error->domain == MONGOC_ERROR_SERVER &&
		    !bson_has_field(reply, "code")) {
			BSON_APPEND_INT32(&doc, "code", (int32_t)error->code);
			BSON_APPEND_UTF8(&doc, "errmsg", error->message);
		}
		print_doc(&doc);
		bson_destroy(&doc);
		return;
	}
	BSON_APPEND_INT32(&doc, "domain", (int32_t)error->domain);
	BSON_APPEND_INT32(&doc, "code", (int32_t)error->code);
	BSON_APPEND_UTF8(&doc, "errmsg", error->message);
	print_doc(&doc);
	bson_destroy(&doc);
}

/* Parse a JSON argument; NULL (after a message) when it is not JSON. */
static bson_t *
parse_json(const char *text)
{
	bson_error_t error;
	bson_t *doc;

	doc = bson_new_from_json((const uint8_t *)text, -1, &error);
	if (doc == NULL)
		fprintf(stderr, "standin-client: bad JSON %s: %s\n", text,
		    error.message);
	return doc;
}

/* Turn a JSON array argument into the {"pipeline": [...]} libmongoc takes. */
static bson_t *
parse_pipeline(const char *text)
{
	char *wrapped = NULL;
	bson_t *doc = NULL;
	size_t len;

	len = strlen(text);
	if (len > JSON_WRAP_MAX) {
		fputs("standin-client: pipeline too large\n", stderr);
		goto done;
	}
	wrapped = bson_malloc(len + 16);
	snprintf(wrapped, len + 16, "{\"pipeline\":%s}", text);
	doc = parse_json(wrapped);
done:
	bson_free(wrapped);
	return doc;
}

/* Parse a non-negative decimal count with every strtol check. */
static bool
parse_count(const char *text, long *out)
{
	char *end = NULL;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < 0) {
		fprintf(stderr, "standin-client: bad number: %s\n", text);
		return false;
	}
	*out = value;
	return true;
}

/* Seconds on a monotonic clock, for the benchmark's figures. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Print every document of a cursor; false if the cursor failed. */
static bool
drain_cursor(mongoc_cursor_t *cursor)
{
	const bson_t *doc;
	const bson_t *reply = NULL;
	bson_error_t error;

	while (mongoc_cursor_next(cursor, &doc))
		print_doc(doc);
	if (mongoc_cursor_error_document(cursor, &error, &reply)) {
		print_error(&error, reply);
		return false;
	}
	return true;
}

/* Print a cursor's documents, then destroy it; returns an exit status. */
static int
drain_cursor_owned(mongoc_cursor_t *cursor)
{
	int rc;

	rc = drain_cursor(cursor) ? 0 : EXIT_FAILED;
	mongoc_cursor_destroy(cursor);
	return rc;
}

/* Run any command on a database and print the reply. */
static int
do_command(mongoc_client_t *client, char **argv)
{
	bson_t *cmd = NULL;
	bson_t reply = BSON_INITIALIZER;
	bson_error_t error;
	int rc = EXIT_FAILED;

	cmd = parse_json(argv[1]);
	if (cmd == NULL)
		goto done;
	bson_destroy(&reply);
	if (!mongoc_client_command_with_opts(client, argv[0], cmd, NULL, NULL,
	    &reply, &error)) {
		print_error(&error, &reply);
		goto done;
	}
	print_doc(&reply);
	rc = 0;
done:
	bson_destroy(&reply);
	bson_destroy(cmd);
	return rc;
}

/* Insert documents one by one, printing each reply. */
static int
do_insert(mongoc_collection_t *coll, int argc, char **argv)
{
	bson_t *doc = NULL;
	bson_t reply;
	bson_error_t error;
	bool ok;
	int i;

	for (i = 0; i < argc; i++) {
		doc = parse_json(argv[i]);
		if (doc == NULL)
			return EXIT_FAILED;
		ok = mongoc_collection_insert_one(coll, doc, NULL, &reply,
		    &error);
		if (ok)
			print_doc(&reply);
		else
			print_error(&error, &reply);
		bson_destroy(&reply);
		bson_destroy(doc);
		if (!ok)
			return EXIT_FAILED;
	}
	return 0;
}

/* Find documents matching FILTER with find options OPTS. */
static int
do_find(mongoc_collection_t *coll, int argc, char **argv)
{
	bson_t *filter = NULL;
	bson_t *opts = NULL;
	mongoc_cursor_t *cursor = NULL;
	int rc = EXIT_FAILED;

	filter = parse_json(argv[0]);
	if (filter == NULL)
		goto done;
	if (argc > 1) {
		opts = parse_json(argv[1]);
		if (opts == NULL)
			goto done;
	}
	cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	if (drain_cursor(cursor))
		rc = 0;
done:
	mongoc_cursor_destroy(cursor);
	bson_destroy(opts);
	bson_destroy(filter);
	return rc;
}

/* Run update-one, update-many or replace-one and print the reply. */
static int
do_update(mongoc_collection_t *coll, const char *which, int argc,
    char **argv)
{
	bson_t *filter = NULL;
	bson_t *update = NULL;
	bson_t *opts = NULL;
	bson_t reply = BSON_INITIALIZER;
	bson_error_t error;
	bool ok = false;
	int rc = EXIT_FAILED;

	filter = parse_json(argv[0]);
	update = parse_json(argv[1]);
	if (filter == NULL || update == NULL)
		goto done;
	if (argc > 2 && (opts = parse_json(argv[2])) == NULL)
		goto done;
	bson_destroy(&reply);
	if (strcmp(which, "update-one") == 0)
		ok = mongoc_collection_update_one(coll, filter, update, opts,
		    &reply, &error);
	else if (strcmp(which, "update-many") == 0)
		ok = mongoc_collection_update_many(coll, filter, update, opts,
		    &reply, &error);
	else
		ok = mongoc_collection_replace_one(coll, filter, update, opts,
		    &reply, &error);
	if (ok) {
		print_doc(&reply);
		rc = 0;
	} else
		print_error(&error, &reply);
done:
	bson_destroy(&reply);
	bson_destroy(opts);
	bson_destroy(update);
	bson_destroy(filter);
	return rc;
}

/* Run delete-one or delete-many and print the reply. */
static int
do_delete(mongoc_collection_t *coll, const char *which, char **argv)
{
	bson_t *filter = NULL;
	bson_t reply = BSON_INITIALIZER;
	bson_error_t error;
	bool ok;
	int rc = EXIT_FAILED;

	filter = parse_json(argv[0]);
	if (filter == NULL)
		goto done;
	bson_destroy(&reply);
	if (strcmp(which, "delete-one") == 0)
		ok = mongoc_collection_delete_one(coll, filter, NULL, &reply,
		    &error);
	else
		ok = mongoc_collection_delete_many(coll, filter, NULL, &reply,
		    &error);
	if (ok) {
		print_doc(&reply);
		rc = 0;
	} else
		print_error(&error, &reply);
done:
	bson_destroy(&reply);
	bson_destroy(filter);
	return rc;
}

/* Map the JSON options of find-and-modify onto libmongoc's opts object. */
static bool
fam_opts_from_json(mongoc_find_and_modify_opts_t *fam, const bson_t *json)
{
	bson_iter_t iter;
	bson_t sub;
	const uint8_t *data;
	uint32_t len;
	int flags = MONGOC_FIND_AND_MODIFY_NONE;
	bool ok = true;

	if (!bson_iter_init(&iter, json))
		return false;
	while (ok && bson_iter_next(&iter)) {
		const char *key = bson_iter_key(&iter);

		if (BSON_ITER_HOLDS_BOOL(&iter)) {
			if (!bson_iter_bool(&iter))
				continue;
			if (strcmp(key, "remove") == 0)
				flags |= MONGOC_FIND_AND_MODIFY_REMOVE;
			else if (strcmp(key, "upsert") == 0)
				flags |= MONGOC_FIND_AND_MODIFY_UPSERT;
			else if (strcmp(key, "new") == 0)
				flags |= MONGOC_FIND_AND_MODIFY_RETURN_NEW;
			continue;
		}
		if (!BSON_ITER_HOLDS_DOCUMENT(&iter) &&
		    !BSON_ITER_HOLDS_ARRAY(&iter))
			continue;
		if (BSON_ITER_HOLDS_DOCUMENT(&iter))
			bson_iter_document(&iter, &len, &data);
		else
			bson_iter_array(&iter, &len, &data);
		if (!bson_init_static(&sub, data, len))
			return false;
		if (strcmp(key, "update") == 0)
			ok = mongoc_find_and_modify_opts_set_update(fam, &sub);
		else if (strcmp(key, "sort") == 0)
			ok = mongoc_find_and_modify_opts_set_sort(fam, &sub);
		else if (strcmp(key, "fields") == 0)
			ok = mongoc_find_and_modify_opts_set_fields(fam, &sub);
		else {
			bson_t extra = BSON_INITIALIZER;

			BSON_APPEND_VALUE(&extra, key, bson_iter_value(&iter));
			ok = mongoc_find_and_modify_opts_append(fam, &extra);
			bson_destroy(&extra);
		}
	}
	return ok && mongoc_find_and_modify_opts_set_flags(fam, flags);
}

/* findAndModify through libmongoc's helper; prints the whole reply. */
static int
do_find_and_modify(mongoc_collection_t *coll, char **argv)
{
	bson_t *query = NULL;
	bson_t *json = NULL;
	mongoc_find_and_modify_opts_t *fam = NULL;
	bson_t reply = BSON_INITIALIZER;
	bson_error_t error;
	int rc = EXIT_FAILED;

	query = parse_json(argv[0]);
	json = parse_json(argv[1]);
	if (query == NULL || json == NULL)
		goto done;
	fam = mongoc_find_and_modify_opts_new();
	if (!fam_opts_from_json(fam, json)) {
		fputs("standin-client: bad find-and-modify options\n", stderr);
		goto done;
	}
	bson_destroy(&reply);
	if (!mongoc_collection_find_and_modify_with_opts(coll, query, fam,
	    &reply, &error)) {
		print_error(&error, &reply);
		goto done;
	}
	print_doc(&reply);
	rc = 0;
done:
	bson_destroy(&reply);
	mongoc_find_and_modify_opts_destroy(fam);
	bson_destroy(json);
	bson_destroy(query);
	return rc;
}

/* Run an aggregation pipeline and print its documents. */
static int
do_aggregate(mongoc_collection_t *coll, int argc, char **argv)
{
	bson_t *pipeline = NULL;
	bson_t *opts = NULL;
	mongoc_cursor_t *cursor = NULL;
	int rc = EXIT_FAILED;

	pipeline = parse_pipeline(argv[0]);
	if (pipeline == NULL)
		goto done;
	if (argc > 1 && (opts = parse_json(argv[1])) == NULL)
		goto done;
	cursor = mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, pipeline,
	    opts, NULL);
	if (drain_cursor(cursor))
		rc = 0;
done:
	mongoc_cursor_destroy(cursor);
	bson_destroy(opts);
	bson_destroy(pipeline);
	return rc;
}

/* Print a count as {"count": N}, or the error. */
static int
print_count(int64_t n, const bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER;

	if (n < 0) {
		print_error(error, NULL);
		bson_destroy(&doc);
		return EXIT_FAILED;
	}
	BSON_APPEND_INT64(&doc, "count", n);
	print_doc(&doc);
	bson_destroy(&doc);
	return 0;
}

/* count_documents (an aggregation) or estimated_document_count (count). */
static int
do_count(mongoc_collection_t *coll, bool estimated, char **argv)
{
	bson_t *filter = NULL;
	bson_error_t error;
	int64_t n;
	int rc;

	if (estimated) {
		n = mongoc_collection_estimated_document_count(coll, NULL, NULL,
		    NULL, &error);
		return print_count(n, &error);
	}
	filter = parse_json(argv[0]);
	if (filter == NULL)
		return EXIT_FAILED;
	n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL,
	    &error);
	rc = print_count(n, &error);
	bson_destroy(filter);
	return rc;
}

/* Build one createIndexes entry: key, libmongoc's default name, options. */
static bson_t *
index_model(const bson_t *keys, const bson_t *opts)
{
	bson_t *model;
	char *name;

	model = bson_new();
	name = mongoc_collection_keys_to_index_string(keys);
	BSON_APPEND_DOCUMENT(model, "key", keys);
	BSON_APPEND_UTF8(model, "name", name);
	if (opts != NULL)
		bson_concat(model, opts);
	bson_free(name);
	return model;
}

/* createIndexes with one index; unique etc. come in OPTS. */
static int
do_create_index(mongoc_collection_t *coll, int argc, char **argv)
{
	bson_t *keys = NULL;
	bson_t *opts = NULL;
	bson_t *model = NULL;
	bson_t cmd = BSON_INITIALIZER;
	bson_t indexes;
	bson_t reply = BSON_INITIALIZER;
	bson_error_t error;
	int rc = EXIT_FAILED;

	keys = parse_json(argv[0]);
	if (keys == NULL)
		goto done;
	if (argc > 1 && (opts = parse_json(argv[1])) == NULL)
		goto done;
	model = index_model(keys, opts);
	BSON_APPEND_UTF8(&cmd, "createIndexes",
	    mongoc_collection_get_name(coll));
	BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
	BSON_APPEND_DOCUMENT(&indexes, "0", model);
	bson_append_array_end(&cmd, &indexes);
	bson_destroy(&reply);
	if (!mongoc_collection_write_command_with_opts(coll, &cmd, NULL,
	    &reply, &error)) {
		print_error(&error, &reply);
		goto done;
	}
	print_doc(&reply);
	rc = 0;
done:
	bson_destroy(&reply);
	bson_destroy(&cmd);
	bson_destroy(model);
	bson_destroy(opts);
	bson_destroy(keys);
	return rc;
}

/* Print the result of a drop as {"dropped": true} or the error. */
static int
print_dropped(bool ok, const bson_error_t *error)
{
	bson_t doc = BSON_INITIALIZER;

	if (!ok) {
		print_error(error, NULL);
		bson_destroy(&doc);
		return EXIT_FAILED;
	}
	BSON_APPEND_BOOL(&doc, "dropped", true);
	print_doc(&doc);
	bson_destroy(&doc);
	return 0;
}

/* One racer: take a client, run one conditional update, note the result. */
static void *
race_thread(void *arg)
{
	struct race_slot *slot = arg;
	mongoc_client_t *client;
	mongoc_collection_t *coll;
	bson_t reply;
	bson_error_t error;
	bson_iter_t iter;

	client = mongoc_client_pool_pop(slot->pool);
	coll = mongoc_client_get_collection(client, slot->db, slot->coll);
	if (!mongoc_collection_update_one(coll, slot->filter, slot->update,
	    NULL, &reply, &error))
		slot->failed = true;
	else if (bson_iter_init_find(&iter, &reply, "modifiedCount") &&
	    BSON_ITER_HOLDS_NUMBER(&iter))
		slot->modified = bson_iter_as_int64(&iter);
	bson_destroy(&reply);
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(slot->pool, client);
	return NULL;
}

/* Start the racers together and print how many updates took effect. */
static int
run_race(mongoc_client_pool_t *pool, struct race_slot *slots, long n)
{
	pthread_t threads[MAX_THREADS];
	bson_t doc = BSON_INITIALIZER;
	int64_t modified = 0;
	int32_t failed = 0;
	long i;
	long started = 0;

	for (i = 0; i < n; i++) {
		slots[i].pool = pool;
		if (pthread_create(&threads[i], NULL, race_thread,
		    &slots[i]) != 0)
			break;
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	for (i = 0; i < started; i++) {
		modified += slots[i].modified;
		failed += slots[i].failed ? 1 : 0;
	}
	BSON_APPEND_INT64(&doc, "modified", modified);
	BSON_APPEND_INT32(&doc, "failed", failed + (int32_t)(n - started));
	print_doc(&doc);
	bson_destroy(&doc);
	return started == n && failed == 0 ? 0 : EXIT_FAILED;
}

/* N threads from one client pool race the same conditional update. */
static int
do_race(mongoc_uri_t *uri, char **argv)
{
	struct race_slot slots[MAX_THREADS];
	mongoc_client_pool_t *pool = NULL;
	bson_t *filter = NULL;
	bson_t *update = NULL;
	long n = 0;
	long i;
	int rc = EXIT_FAILED;

	if (!parse_count(argv[2], &n) || n < 1 || n > MAX_THREADS)
		return EXIT_USAGE;
	filter = parse_json(argv[3]);
	update = parse_json(argv[4]);
	if (filter == NULL || update == NULL)
		goto done;
	pool = mongoc_client_pool_new(uri);
	mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
	memset(slots, 0, sizeof(slots));
	for (i = 0; i < n; i++) {
		slots[i].db = argv[0];
		slots[i].coll = argv[1];
		slots[i].filter = filter;
		slots[i].update = update;
	}
	rc = run_race(pool, slots, n);
done:
	mongoc_client_pool_destroy(pool);
	bson_destroy(update);
	bson_destroy(filter);
	return rc;
}

/* Write text to a file through a temporary name and a rename. */
static bool
write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	FILE *fp;
	bool ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return false;
	fp = fopen(tmp, "w");
	if (fp == NULL)
		return false;
	ok = fputs(text, fp) >= 0;
	ok = fclose(fp) == 0 && ok;
	return ok && rename(tmp, path) == 0;
}

/* Save the stream's resume token where the test can read it back. */
static void
save_token(mongoc_change_stream_t *stream, const char *path)
{
	const bson_t *token;
	char *json;

	if (path == NULL)
		return;
	token = mongoc_change_stream_get_resume_token(stream);
	if (token == NULL)
		return;
	json = bson_as_relaxed_extended_json(token, NULL);
	if (!write_file(path, json))
		fprintf(stderr, "standin-client: cannot write %s\n", path);
	bson_free(json);
}

/* Open a collection or database change stream ("-" for the database). */
static mongoc_change_stream_t *
open_stream(mongoc_client_t *client, const char *db, const char *coll,
    const bson_t *pipeline, const bson_t *opts)
{
	mongoc_change_stream_t *stream;
	mongoc_database_t *database;
	mongoc_collection_t *collection;

	if (strcmp(coll, "-") == 0) {
		database = mongoc_client_get_database(client, db);
		stream = mongoc_database_watch(database, pipeline, opts);
		mongoc_database_destroy(database);
		return stream;
	}
	collection = mongoc_client_get_collection(client, db, coll);
	stream = mongoc_collection_watch(collection, pipeline, opts);
	mongoc_collection_destroy(collection);
	return stream;
}

/* Read events until COUNT came, next() ran N times, or time ran out. */
static int
read_stream(mongoc_change_stream_t *stream, long count,
    const struct watch_opts *wo)
{
	const bson_t *event;
	const bson_t *reply = NULL;
	bson_error_t error;
	double deadline = now_s() + (double)wo->timeout_s;
	long seen = 0;
	long nexts = 0;

	while (seen < count) {
		if (wo->max_nexts > 0 && nexts >= wo->max_nexts)
			return EXIT_GAVE_UP;
		if (now_s() > deadline)
			return EXIT_GAVE_UP;
		nexts++;
		if (mongoc_change_stream_next(stream, &event)) {
			print_doc(event);
			fflush(stdout);
			save_token(stream, wo->token_file);
			seen++;
			continue;
		}
		if (mongoc_change_stream_error_document(stream, &error,
		    &reply)) {
			print_error(&error, reply);
			return EXIT_FAILED;
		}
		save_token(stream, wo->token_file);
	}
	return 0;
}

/* Parse the --flags of watch; returns how many arguments they took. */
static int
parse_watch_flags(int argc, char **argv, struct watch_opts *wo)
{
	int i = 0;

	wo->max_nexts = 0;
	wo->timeout_s = 30;
	while (i + 1 < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--ready") == 0)
			wo->ready_file = argv[i + 1];
		else if (strcmp(argv[i], "--token") == 0)
			wo->token_file = argv[i + 1];
		else if (strcmp(argv[i], "--nexts") == 0) {
			if (!parse_count(argv[i + 1], &wo->max_nexts))
				return -1;
		} else if (strcmp(argv[i], "--timeout-s") == 0) {
			if (!parse_count(argv[i + 1], &wo->timeout_s))
				return -1;
		} else
			return -1;
		i += 2;
	}
	return i;
}

/* Watch a collection or database and print COUNT change events. */
static int
do_watch(mongoc_client_t *client, int argc, char **argv)
{
	struct watch_opts wo = { NULL, NULL, 0, 30 };
	mongoc_change_stream_t *stream = NULL;
	bson_t *pipeline = NULL;
	bson_t *opts = NULL;
	bson_error_t error;
	const bson_t *reply = NULL;
	long count = 0;
	int used;
	int rc = EXIT_USAGE;

	used = parse_watch_flags(argc, argv, &wo);
	if (used < 0 || argc - used < 3)
		goto done;
	argv += used;
	argc -= used;
	if (!parse_count(argv[2], &count))
		goto done;
	rc = EXIT_FAILED;
	pipeline = parse_pipeline(argc > 3 ? argv[3] : "[]");
	if (pipeline == NULL)
		goto done;
	if (argc > 4 && (opts = parse_json(argv[4])) == NULL)
		goto done;
	stream = open_stream(client, argv[0], argv[1], pipeline, opts);
	if (mongoc_change_stream_error_document(stream, &error, &reply)) {
		print_error(&error, reply);
		goto done;
	}
	save_token(stream, wo.token_file);
	if (wo.ready_file != NULL && !write_file(wo.ready_file, "ready\n"))
		goto done;
	rc = read_stream(stream, count, &wo);
done:
	mongoc_change_stream_destroy(stream);
	bson_destroy(opts);
	bson_destroy(pipeline);
	return rc;
}

/* Note one more event seen by the bench watcher and wake the writer. */
static void
bench_note(struct bench_watch *bw, bool ready, bool event, bool failed)
{
	pthread_mutex_lock(&bw->lock);
	if (ready)
		bw->ready = true;
	if (event) {
		bw->seen++;
		bw->last_event_at = now_s();
	}
	if (failed)
		bw->failed = true;
	pthread_cond_broadcast(&bw->cond);
	pthread_mutex_unlock(&bw->lock);
}

/* Bench watcher: count change events until it has seen all expected. */
static void *
bench_watch_thread(void *arg)
{
	struct bench_watch *bw = arg;
	mongoc_client_t *client;
	mongoc_change_stream_t *stream;
	const bson_t *event;
	bson_t empty = BSON_INITIALIZER;
	double deadline;

	client = mongoc_client_pool_pop(bw->pool);
	stream = open_stream(client, bw->db, bw->coll, &empty, NULL);
	bench_note(bw, true, false, false);
	deadline = now_s() + 600.0;
	while (bw->seen < bw->want && now_s() < deadline) {
		if (mongoc_change_stream_next(stream, &event))
			bench_note(bw, false, true, false);
		else if (mongoc_change_stream_error_document(stream, NULL,
		    NULL)) {
			bench_note(bw, false, false, true);
			break;
		}
	}
	mongoc_change_stream_destroy(stream);
	mongoc_client_pool_push(bw->pool, client);
	bson_destroy(&empty);
	return NULL;
}

/* Insert then update N documents in a loop; returns false on any error. */
static bool
bench_writes(mongoc_collection_t *coll, long n, double *t_ins, double *t_upd)
{
	bson_t *doc;
	bson_t *sel;
	bson_t *upd;
	bson_error_t error;
	double t0;
	long i;
	bool ok = true;

	t0 = now_s();
	for (i = 0; ok && i < n; i++) {
		doc = BCON_NEW("_id", BCON_INT64(i), "stock", BCON_INT32(100));
		ok = mongoc_collection_insert_one(coll, doc, NULL, NULL,
		    &error);
		bson_destroy(doc);
	}
	*t_ins = now_s() - t0;
	t0 = now_s();
	for (i = 0; ok && i < n; i++) {
		sel = BCON_NEW("_id", BCON_INT64(i), "stock", "{", "$gte",
		    BCON_INT32(1), "}");
		upd = BCON_NEW("$inc", "{", "stock", BCON_INT32(-1), "}");
		ok = mongoc_collection_update_one(coll, sel, upd, NULL, NULL,
		    &error);
		bson_destroy(sel);
		bson_destroy(upd);
	}
	*t_upd = now_s() - t0;
	if (!ok)
		print_error(&error, NULL);
	return ok;
}

/* Print the figures of a benchmark run. */
static void
bench_report(long n, double t_ins, double t_upd, double t_events,
    long seen)
{
	bson_t doc = BSON_INITIALIZER;

	BSON_APPEND_INT64(&doc, "n", n);
	BSON_APPEND_DOUBLE(&doc, "insertsPerSec", (double)n / t_ins);
	BSON_APPEND_DOUBLE(&doc, "updatesPerSec", (double)n / t_upd);
	BSON_APPEND_INT64(&doc, "eventsSeen", seen);
	BSON_APPEND_DOUBLE(&doc, "eventsPerSec", (double)seen / t_events);
	print_doc(&doc);
	bson_destroy(&doc);
}

/* Wait until the bench watcher has its stream open (or failed). */
static void
bench_wait(struct bench_watch *bw, bool for_all)
{
	pthread_mutex_lock(&bw->lock);
	while (!bw->failed && (for_all ? bw->seen < bw->want : !bw->ready))
		pthread_cond_wait(&bw->cond, &bw->lock);
	pthread_mutex_unlock(&bw->lock);
}

/* N inserts and N updates while a change stream reads all 2N events. */
static int
do_bench(mongoc_uri_t *uri, char **argv)
{
	struct bench_watch bw;
	mongoc_client_pool_t *pool;
	mongoc_client_t *client;
	mongoc_collection_t *coll;
	pthread_t watcher;
	double t_ins = 0, t_upd = 0, t0;
	long n = 0;
	bool ok;

	if (!parse_count(argv[2], &n) || n < 1)
		return EXIT_USAGE;
	memset(&bw, 0, sizeof(bw));
	pthread_mutex_init(&bw.lock, NULL);
	pthread_cond_init(&bw.cond, NULL);
	pool = mongoc_client_pool_new(uri);
	bw.pool = pool;
	bw.db = argv[0];
	bw.coll = argv[1];
	bw.want = 2 * n;
	pthread_create(&watcher, NULL, bench_watch_thread, &bw);
	bench_wait(&bw, false);
	client = mongoc_client_pool_pop(pool);
	coll = mongoc_client_get_collection(client, argv[0], argv[1]);
	t0 = now_s();
	ok = bench_writes(coll, n, &t_ins, &t_upd);
	if (ok)
		bench_wait(&bw, true);
	pthread_join(watcher, NULL);
	bench_report(n, t_ins, t_upd, bw.last_event_at - t0, bw.seen);
	mongoc_collection_destroy(coll);
	mongoc_client_pool_push(pool, client);
	mongoc_client_pool_destroy(pool);
	pthread_cond_destroy(&bw.cond);
	pthread_mutex_destroy(&bw.lock);
	return ok && !bw.failed && bw.seen == bw.want ? 0 : EXIT_FAILED;
}

/* A sub-document of op by key, or false if it has none. */
static bool
op_doc(const bson_t *op, const char *key, bson_t *out)
{
	bson_iter_t iter;
	const uint8_t *data;
	uint32_t len;

	if (!bson_iter_init_find(&iter, op, key) ||
	    !BSON_ITER_HOLDS_DOCUMENT(&iter))
		return false;
	bson_iter_document(&iter, &len, &data);
	return bson_init_static(out, data, len);
}

/* Wait until a file exists, polling, for at most a minute. */
static bool
wait_for_file(const char *path)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	double deadline = now_s() + 60.0;
	FILE *fp;

	while (now_s() < deadline) {
		fp = fopen(path, "r");
		if (fp != NULL) {
			fclose(fp);
			return true;
		}
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "standin-client: %s never appeared\n", path);
	return false;
}

/* Write PREFIX.SUFFIX as a marker file the tests poll for. */
static bool
touch_marker(const char *prefix, const char *suffix)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s.%s", prefix, suffix) >=
	    (int)sizeof(path))
		return false;
	return write_file(path, "1\n");
}

/* True when op is {"op": "pause"}. */
static bool
is_pause(const bson_t *op)
{
	bson_iter_t iter;

	return bson_iter_init_find(&iter, op, "op") &&
	    BSON_ITER_HOLDS_UTF8(&iter) &&
	    strcmp(bson_iter_utf8(&iter, NULL), "pause") == 0;
}

/* Run one operation of a transaction; find prints what it reads. */
static bool
txn_op(mongoc_client_session_t *session, const struct txn_run *run,
    const bson_t *op, bson_t *reply, bson_error_t *error)
{
	mongoc_collection_t *coll = NULL;
	mongoc_cursor_t *cursor = NULL;
	const bson_t *doc;
	const bson_t *cursor_reply = NULL;
	bson_t opts = BSON_INITIALIZER;
	bson_t filter;
	bson_t body;
	bson_iter_t iter;
	const char *name;
	const char *kind;
	bool ok = false;

	bson_init(reply);
	if (!bson_iter_init_find(&iter, op, "op") ||
	    !BSON_ITER_HOLDS_UTF8(&iter))
		goto bad;
	kind = bson_iter_utf8(&iter, NULL);
	if (!bson_iter_init_find(&iter, op, "coll") ||
	    !BSON_ITER_HOLDS_UTF8(&iter))
		goto bad;
	name = bson_iter_utf8(&iter, NULL);
	if (!mongoc_client_session_append(session, &opts, error))
		goto done;
	coll = mongoc_client_get_collection(run->client, run->db, name);
	if (strcmp(kind, "insert") == 0 && op_doc(op, "doc", &body)) {
		bson_destroy(reply);
		ok = mongoc_collection_insert_one(coll, &body, &opts, reply,
		    error);
	} else if (strcmp(kind, "update") == 0 &&
	    op_doc(op, "filter", &filter) && op_doc(op, "update", &body)) {
		bson_destroy(reply);
		ok = mongoc_collection_update_one(coll, &filter, &body, &opts,
		    reply, error);
	} else if (strcmp(kind, "delete") == 0 &&
	    op_doc(op, "filter", &filter)) {
		bson_destroy(reply);
		ok = mongoc_collection_delete_one(coll, &filter, &opts, reply,
		    error);
	} else if (strcmp(kind, "find") == 0 && op_doc(op, "filter", &filter)) {
		cursor = mongoc_collection_find_with_opts(coll, &filter, &opts,
		    NULL);
		while (mongoc_cursor_next(cursor, &doc))
			print_doc(doc);
		ok = !mongoc_cursor_error_document(cursor, error,
		    &cursor_reply);
		if (!ok && cursor_reply != NULL) {
			bson_destroy(reply);
			bson_copy_to(cursor_reply, reply);
		}
	} else
		goto bad;
	goto done;
bad:
	bson_set_error(error, MONGOC_ERROR_COMMAND,
	    MONGOC_ERROR_COMMAND_INVALID_ARG, "bad transaction operation");
done:
	mongoc_cursor_destroy(cursor);
	mongoc_collection_destroy(coll);
	bson_destroy(&opts);
	return ok;
}

/*
 * Run every operation of the txn subcommand inside the session's
 * transaction, then pause if asked.  Also the with_transaction callback.
 * Returns false with *reply set (owned by the caller) on a failed op.
 */
static bool
txn_ops(mongoc_client_session_t *session, void *ctx, bson_t **reply,
    bson_error_t *error)
{
	struct txn_run *run = ctx;
	bson_iter_t iter;
	bson_t op;
	bson_t op_reply;
	const uint8_t *data;
	uint32_t len;
	char attempt[32];

	run->attempts++;
	if (run->mark_file != NULL) {
		snprintf(attempt, sizeof(attempt), "%d", run->attempts);
		touch_marker(run->mark_file, attempt);
	}
	if (!bson_iter_init(&iter, run->ops))
		return false;
	while (bson_iter_next(&iter)) {
		if (!BSON_ITER_HOLDS_DOCUMENT(&iter))
			continue;
		bson_iter_document(&iter, &len, &data);
		if (!bson_init_static(&op, data, len))
			return false;
		if (is_pause(&op)) {
			fflush(stdout);
			if (run->pause_file == NULL || run->attempts > 1)
				continue;
			if (!touch_marker(run->pause_file, "ready") ||
			    !wait_for_file(run->pause_file))
				return false;
			continue;
		}
		if (!txn_op(session, run, &op, &op_reply, error)) {
			if (reply != NULL)
				*reply = bson_copy(&op_reply);
			bson_destroy(&op_reply);
			return false;
		}
		bson_destroy(&op_reply);
	}
	fflush(stdout);
	return true;
}

/* Print how the transaction ended, with the callback's attempt count. */
static void
print_txn_result(const char *what, int attempts)
{
	bson_t doc = BSON_INITIALIZER;

	BSON_APPEND_BOOL(&doc, what, true);
	BSON_APPEND_INT32(&doc, "attempts", attempts);
	print_doc(&doc);
	bson_destroy(&doc);
}

/* Run the transaction in the chosen mode; prints the outcome. */
static int
run_txn(mongoc_client_session_t *session, struct txn_run *run)
{
	bson_t *op_reply = NULL;
	bson_t reply = BSON_INITIALIZER;
	bson_error_t error;
	int rc = EXIT_FAILED;
	bool ok;

	if (run->mode == TXN_WITH) {
		bson_destroy(&reply);
		ok = mongoc_client_session_with_transaction(session, txn_ops,
		    NULL, run, &reply, &error);
		if (!ok) {
			print_error(&error, &reply);
			goto done;
		}
		print_txn_result("committed", run->attempts);
		rc = 0;
		goto done;
	}
	if (!mongoc_client_session_start_transaction(session, NULL, &error)) {
		print_error(&error, NULL);
		goto done;
	}
	if (!txn_ops(session, run, &op_reply, &error)) {
		print_error(&error, op_reply);
		goto done;
	}
	if (run->mode == TXN_ABORT) {
		if (!mongoc_client_session_abort_transaction(session, &error)) {
			print_error(&error, NULL);
			goto done;
		}
		print_txn_result("aborted", run->attempts);
		rc = 0;
		goto done;
	}
	bson_destroy(&reply);
	if (!mongoc_client_session_commit_transaction(session, &reply,
	    &error)) {
		print_error(&error, &reply);
		goto done;
	}
	print_txn_result("committed", run->attempts);
	rc = 0;
done:
	bson_destroy(op_reply);
	bson_destroy(&reply);
	return rc;
}

/* Parse the --flags of txn; returns how many arguments they took. */
static int
parse_txn_flags(int argc, char **argv, struct txn_run *run)
{
	int i = 0;

	while (i + 1 < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--pause") == 0)
			run->pause_file = argv[i + 1];
		else if (strcmp(argv[i], "--mark") == 0)
			run->mark_file = argv[i + 1];
		else if (strcmp(argv[i], "--mode") != 0)
			return -1;
		else if (strcmp(argv[i + 1], "with") == 0)
			run->mode = TXN_WITH;
		else if (strcmp(argv[i + 1], "commit") == 0)
			run->mode = TXN_COMMIT;
		else if (strcmp(argv[i + 1], "abort") == 0)
			run->mode = TXN_ABORT;
		else
			return -1;
		i += 2;
	}
	return i;
}

/* One multi-document transaction of several operations. */
static int
do_txn(mongoc_client_t *client, int argc, char **argv)
{
	struct txn_run run;
	mongoc_client_session_t *session = NULL;
	bson_t *ops = NULL;
	bson_error_t error;
	int used;
	int rc = EXIT_USAGE;

	memset(&run, 0, sizeof(run));
	run.mode = TXN_WITH;
	used = parse_txn_flags(argc, argv, &run);
	if (used < 0 || argc - used < 2)
		goto done;
	rc = EXIT_FAILED;
	ops = parse_json(argv[used + 1]);
	if (ops == NULL)
		goto done;
	run.client = client;
	run.db = argv[used];
	run.ops = ops;
	session = mongoc_client_start_session(client, NULL, &error);
	if (session == NULL) {
		print_error(&error, NULL);
		goto done;
	}
	rc = run_txn(session, &run);
done:
	mongoc_client_session_destroy(session);
	bson_destroy(ops);
	return rc;
}

/* Subcommands on one collection: DB COLL come first in argv. */
static int
run_collection_cmd(mongoc_client_t *client, const char *sub, int argc,
    char **argv)
{
	mongoc_collection_t *coll;
	bson_error_t error;
	int rc = EXIT_USAGE;
	int n = argc - 2;
	char **rest = argv + 2;

	coll = mongoc_client_get_collection(client, argv[0], argv[1]);
	if (strcmp(sub, "insert") == 0 && n >= 1)
		rc = do_insert(coll, n, rest);
	else if (strcmp(sub, "find") == 0 && n >= 1)
		rc = do_find(coll, n, rest);
	else if ((strcmp(sub, "update-one") == 0 ||
	    strcmp(sub, "update-many") == 0 ||
	    strcmp(sub, "replace-one") == 0) && n >= 2)
		rc = do_update(coll, sub, n, rest);
	else if ((strcmp(sub, "delete-one") == 0 ||
	    strcmp(sub, "delete-many") == 0) && n >= 1)
		rc = do_delete(coll, sub, rest);
	else if (strcmp(sub, "find-and-modify") == 0 && n >= 2)
		rc = do_find_and_modify(coll, rest);
	else if (strcmp(sub, "aggregate") == 0 && n >= 1)
		rc = do_aggregate(coll, n, rest);
	else if (strcmp(sub, "count") == 0 && n >= 1)
		rc = do_count(coll, false, rest);
	else if (strcmp(sub, "estimated-count") == 0)
		rc = do_count(coll, true, rest);
	else if (strcmp(sub, "create-index") == 0 && n >= 1)
		rc = do_create_index(coll, n, rest);
	else if (strcmp(sub, "list-indexes") == 0)
		rc = drain_cursor_owned(
		    mongoc_collection_find_indexes_with_opts(coll, NULL));
	else if (strcmp(sub, "drop") == 0)
		rc = print_dropped(mongoc_collection_drop(coll, &error),
		    &error);
	mongoc_collection_destroy(coll);
	return rc;
}

/* Subcommands on a database or the whole client. */
static int
run_database_cmd(mongoc_client_t *client, const char *sub, int argc,
    char **argv)
{
	mongoc_database_t *db;
	bson_error_t error;
	int rc = EXIT_USAGE;

	if (strcmp(sub, "list-databases") == 0)
		return drain_cursor_owned(
		    mongoc_client_find_databases_with_opts(client, NULL));
	if (argc < 1)
		return EXIT_USAGE;
	if (strcmp(sub, "command") == 0)
		return argc >= 2 ? do_command(client, argv) : EXIT_USAGE;
	db = mongoc_client_get_database(client, argv[0]);
	if (strcmp(sub, "list-collections") == 0)
		rc = drain_cursor_owned(
		    mongoc_database_find_collections_with_opts(db, NULL));
	else if (strcmp(sub, "drop-database") == 0)
		rc = print_dropped(mongoc_database_drop(db, &error), &error);
	mongoc_database_destroy(db);
	return rc;
}

/* Pick the subcommand; returns the process exit status. */
static int
dispatch(mongoc_uri_t *uri, mongoc_client_t *client, const char *sub,
    int argc, char **argv)
{
	if (strcmp(sub, "race") == 0)
		return argc >= 5 ? do_race(uri, argv) : EXIT_USAGE;
	if (strcmp(sub, "bench") == 0)
		return argc >= 3 ? do_bench(uri, argv) : EXIT_USAGE;
	if (strcmp(sub, "watch") == 0)
		return do_watch(client, argc, argv);
	if (strcmp(sub, "txn") == 0)
		return do_txn(client, argc, argv);
	if (strcmp(sub, "command") == 0 || strcmp(sub, "list-databases") == 0 ||
	    strcmp(sub, "list-collections") == 0 ||
	    strcmp(sub, "drop-database") == 0)
		return run_database_cmd(client, sub, argc, argv);
	if (argc < 2)
		return EXIT_USAGE;
	return run_collection_cmd(client, sub, argc, argv);
}

/* Parse the URI, run one subcommand, and clean up. */
int
main(int argc, char **argv)
{
	mongoc_uri_t *uri = NULL;
	mongoc_client_t *client = NULL;
	bson_error_t error;
	int rc = EXIT_USAGE;

	if (argc > 1 && strcmp(argv[1], "--canonical") == 0) {
		canonical_json = true;
		argc--;
		argv++;
	}
	if (argc < 3) {
		usage();
		return EXIT_USAGE;
	}
	mongoc_init();
	uri = mongoc_uri_new_with_error(argv[1], &error);
	if (uri == NULL) {
		fprintf(stderr, "standin-client: bad URI: %s\n", error.message);
		goto done;
	}
	client = mongoc_client_new_from_uri(uri);
	if (client == NULL)
		goto done;
	mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
	mongoc_client_set_appname(client, "standin-client");
	rc = dispatch(uri, client, argv[2], argc - 3, argv + 3);
	if (rc == EXIT_USAGE)
		usage();
done:
	mongoc_client_destroy(client);
	mongoc_uri_destroy(uri);
	mongoc_cleanup();
	return rc;
}
