# cgi/: the FastCGI programs.

# ordercast-api: the REST API (every /api/* route but /api/events).
bin_PROGRAMS += ordercast-api
ordercast_api_SOURCES = \
	cgi/api.h cgi/api-main.c cgi/api-http.c cgi/api-deps.c \
	cgi/api-cache.c cgi/api-products.c cgi/api-orders.c \
	cgi/api-stats.c cgi/api-simulate.c cgi/api-init.c \
	cgi/api-metrics.c
ordercast_api_CFLAGS = $(OC_CFLAGS) $(FCGI_CFLAGS)
ordercast_api_LDADD = $(OC_LIBS) $(FCGI_LIBS)
TESTS += tests/api.bats tests/api-race.bats tests/api-failure.bats \
	tests/api-malformed.bats
EXTRA_DIST += tests/api.bats tests/api-race.bats tests/api-failure.bats \
	tests/api-malformed.bats tests/api-common.bash docs/api.md \
	tests/bench/api-bare.c
dist_noinst_SCRIPTS += tests/bench/api

# ordercast-sse: the event stream relay (GET /api/events), one epoll loop.
bin_PROGRAMS += ordercast-sse
ordercast_sse_SOURCES = \
	cgi/sse.h cgi/sse-main.c cgi/sse-conn.c cgi/sse-feed.c \
	cgi/sse-event.c cgi/fcgi-proto.c cgi/fcgi-proto.h
ordercast_sse_CFLAGS = $(OC_CFLAGS) $(FCGI_CFLAGS)
ordercast_sse_LDADD = $(OC_LIBS) $(FCGI_LIBS)
TESTS += tests/sse.bats
EXTRA_DIST += tests/sse.bats
check_PROGRAMS += cgi/fcgi-proto-test
cgi_fcgi_proto_test_SOURCES = cgi/fcgi-proto-test.c cgi/fcgi-proto.c \
	cgi/fcgi-proto.h cgi/sse-event.c cgi/sse.h
cgi_fcgi_proto_test_CFLAGS = $(OC_CFLAGS) $(FCGI_CFLAGS)
cgi_fcgi_proto_test_LDADD = $(OC_LIBS)
TESTS += cgi/fcgi-proto-test
