# watcher/: ordercast-watch, the change stream to Redis daemon.
bin_PROGRAMS += ordercast-watch
ordercast_watch_SOURCES = \
	watcher/watch-main.c watcher/watch.h \
	watcher/watch-mongo.c \
	watcher/watch-redis.c
ordercast_watch_CFLAGS = $(OC_CFLAGS)
ordercast_watch_LDADD = $(OC_LIBS)

TESTS += tests/watch.bats tests/watch-recovery.bats
EXTRA_DIST += tests/watch.bats tests/watch-recovery.bats \
	tests/watch-common.bash
TESTS += tests/watch-resync.bats
EXTRA_DIST += tests/watch-resync.bats
dist_noinst_SCRIPTS += tests/bench/watch

check_PROGRAMS += tests/unit/test-event
tests_unit_test_event_SOURCES = tests/unit/test-event.c
tests_unit_test_event_CFLAGS = $(OC_CFLAGS)
tests_unit_test_event_LDADD = $(OC_LIBS)
TESTS += tests/unit/test-event
