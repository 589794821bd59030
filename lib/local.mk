# lib/: code the three programs share, as one static convenience library.
noinst_LIBRARIES += lib/libordercast.a
lib_libordercast_a_SOURCES = \
	lib/oc-auth.c lib/oc-auth.h \
	lib/oc-backoff.c lib/oc-backoff.h \
	lib/oc-config.c lib/oc-config.h \
	lib/oc-daemon.c lib/oc-daemon.h \
	lib/oc-errbody.c lib/oc-errbody.h \
	lib/oc-event.c lib/oc-event.h \
	lib/oc-filter.c lib/oc-filter.h lib/oc-filter-tree.h \
	lib/oc-filter-bson.c lib/oc-filter-eval.c \
	lib/oc-json.c lib/oc-json.h \
	lib/oc-keys.c lib/oc-keys.h \
	lib/oc-log.c lib/oc-log.h \
	lib/oc-metrics.c lib/oc-metrics.h \
	lib/oc-model.c lib/oc-model.h \
	lib/oc-query.c lib/oc-query.h \
	lib/oc-redis.c lib/oc-redis.h \
	lib/oc-redis-async.c lib/oc-redis-async.h \
	lib/oc-util.c lib/oc-util.h \
	lib/oc-xmalloc.c lib/oc-xmalloc.h
lib_libordercast_a_CFLAGS = $(AM_CFLAGS) $(MONGOC_CFLAGS) $(HIREDIS_CFLAGS) \
	$(JSONC_CFLAGS) $(SODIUM_CFLAGS)

# What a program links to use lib/.
OC_LIBS = lib/libordercast.a $(MONGOC_LIBS) $(HIREDIS_LIBS) $(JSONC_LIBS) \
	$(SODIUM_LIBS) $(PTHREAD_LIBS) $(LIBM)
OC_CFLAGS = $(AM_CFLAGS) $(MONGOC_CFLAGS) $(HIREDIS_CFLAGS) $(JSONC_CFLAGS) \
	$(SODIUM_CFLAGS)
