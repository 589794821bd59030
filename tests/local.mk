# tests/: every suite of `make check` is registered here, in the order it
# runs: unit programs (TAP), then the bats suites (TAP), one prefix per
# program: standin-, watch-, api-, sse-, deploy-, www-.

# Unit tests of lib/.
check_PROGRAMS += tests/unit/test-lib tests/unit/test-event \
	tests/unit/test-daemon tests/unit/test-filter tests/unit/test-auth
tests_unit_test_lib_SOURCES = tests/unit/test-lib.c tests/unit/tap.h
tests_unit_test_lib_CFLAGS = $(OC_CFLAGS)
tests_unit_test_lib_LDADD = $(OC_LIBS)
tests_unit_test_event_SOURCES = tests/unit/test-event.c
tests_unit_test_event_CFLAGS = $(OC_CFLAGS)
tests_unit_test_event_LDADD = $(OC_LIBS)
tests_unit_test_auth_SOURCES = tests/unit/test-auth.c
tests_unit_test_auth_CFLAGS = $(OC_CFLAGS)
tests_unit_test_auth_LDADD = $(OC_LIBS)
tests_unit_test_daemon_SOURCES = tests/unit/test-daemon.c
tests_unit_test_daemon_CFLAGS = $(OC_CFLAGS)
tests_unit_test_daemon_LDADD = $(OC_LIBS)
tests_unit_test_filter_SOURCES = tests/unit/test-filter.c
tests_unit_test_filter_CFLAGS = $(OC_CFLAGS)
tests_unit_test_filter_LDADD = $(OC_LIBS)

# The filter language: the MongoDB filter and the stream evaluator agree.
check_PROGRAMS += tests/filter-agree-client
tests_filter_agree_client_SOURCES = tests/filter-agree-client.c
tests_filter_agree_client_CFLAGS = $(OC_CFLAGS)
tests_filter_agree_client_LDADD = $(OC_LIBS)

OC_UNIT_TESTS = tests/unit/test-lib tests/unit/test-event \
	tests/unit/test-daemon tests/unit/test-filter tests/unit/test-auth \
	cgi/sse/fcgi-proto-test

OC_SUITES = \
	tests/standin.bats tests/filter-agree.bats \
	tests/watch.bats tests/watch-recovery.bats tests/watch-resync.bats \
	tests/ha-watch.bats tests/ha-relay.bats tests/ha-api.bats \
	tests/metrics.bats \
	tests/api.bats tests/api-race.bats tests/api-failure.bats \
	tests/api-malformed.bats tests/api-config.bats tests/api-auth.bats \
	tests/api-ha.bats \
	tests/api-http.bats tests/api-filter.bats \
	tests/sse.bats tests/sse-access.bats tests/sse-filter.bats \
	tests/sse-remote-user.bats \
	tests/deploy.bats tests/http.bats tests/quickstart.bats \
	tests/www.bats \
	tests/layout.bats

TESTS += $(OC_UNIT_TESTS) $(OC_SUITES)

# Helpers the suites load, and the browser driver.
EXTRA_DIST += $(OC_SUITES) tests/run tests/lib/callgraph \
	tests/lib/stack.bash tests/lib/stack.sh tests/lib/smoke.bash \
	tests/lib/netns.bash tests/lib/resp.py \
	tests/api-common.bash tests/watch-common.bash tests/sse-common.bash \
	tests/browser/dashboard.mjs tests/lib/openapi-check.mjs

# Benchmarks: commands of their own, not part of make check. Each is a
# script in tests/bench with its C helpers beside it.
dist_noinst_SCRIPTS += tests/bench/api tests/bench/sse tests/bench/watch \
	tests/bench/failover \
	tests/bench/filter tests/bench/soak
EXTRA_DIST += tests/bench/api-bare.c tests/bench/sse-load.c \
	tests/bench/filter-bench.c tests/bench/soak-read.c \
	tests/bench/soak-write.py

include tests/mongod-standin/local.mk
include tests/fuzz/local.mk
