# cgi/sse/: ordercast-sse, the event stream relay (GET /api/events), one
# epoll loop with its own FastCGI record layer.
bin_PROGRAMS += ordercast-sse
ordercast_sse_SOURCES = \
	cgi/sse/sse.h cgi/sse/sse-main.c cgi/sse/sse-stream.c \
	cgi/sse/sse-request.c cgi/sse/sse-conn.c cgi/sse/sse-feed.c \
	cgi/sse/sse-event.c \
	cgi/sse/fcgi-proto.c cgi/sse/fcgi-proto.h
ordercast_sse_CFLAGS = $(OC_CFLAGS) $(FCGI_CFLAGS)
ordercast_sse_LDADD = $(OC_LIBS) $(FCGI_LIBS)

# Unit test of the record layer and the event helpers (TAP).
check_PROGRAMS += cgi/sse/fcgi-proto-test
cgi_sse_fcgi_proto_test_SOURCES = cgi/sse/fcgi-proto-test.c \
	cgi/sse/fcgi-proto.c cgi/sse/fcgi-proto.h cgi/sse/sse-event.c \
	cgi/sse/sse.h
cgi_sse_fcgi_proto_test_CFLAGS = $(OC_CFLAGS) $(FCGI_CFLAGS)
cgi_sse_fcgi_proto_test_LDADD = $(OC_LIBS)
