# tests/: bats suites, unit tests (TAP programs) and the stack helper.
check_PROGRAMS += tests/unit/test-lib
tests_unit_test_lib_SOURCES = tests/unit/test-lib.c
tests_unit_test_lib_CFLAGS = $(OC_CFLAGS)
tests_unit_test_lib_LDADD = $(OC_LIBS)

TESTS += tests/unit/test-lib
EXTRA_DIST += tests/run tests/lib/stack.bash
TESTS += tests/deploy.bats tests/quickstart.bats
EXTRA_DIST += tests/lib/smoke.bash tests/deploy.bats tests/quickstart.bats
include tests/mongod-standin/local.mk
