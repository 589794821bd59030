# tests/mongod-standin: the MongoDB stand-in (test and demo equipment) and
# its libmongoc fidelity client, driven by tests/standin.bats.
check_PROGRAMS += tests/mongod-standin/standin-client
tests_mongod_standin_standin_client_SOURCES = \
	tests/mongod-standin/standin-client.c
tests_mongod_standin_standin_client_CFLAGS = $(AM_CFLAGS) $(MONGOC_CFLAGS)
tests_mongod_standin_standin_client_LDADD = $(MONGOC_LIBS) $(PTHREAD_LIBS)
EXTRA_DIST += tests/mongod-standin/mongod-standin \
	tests/mongod-standin/README.md \
	tests/mongod-standin/standin_changes.py \
	tests/mongod-standin/standin_commands.py \
	tests/mongod-standin/standin_errors.py \
	tests/mongod-standin/standin_sessions.py \
	tests/mongod-standin/standin_store.py \
	tests/mongod-standin/standin_update.py \
	tests/mongod-standin/standin_wire.py \
	tests/mongod-standin/standin-helpers.bash
