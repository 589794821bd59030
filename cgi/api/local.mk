# cgi/api/: ordercast-api, the REST API (every /api/* route but /api/events).
bin_PROGRAMS += ordercast-api
ordercast_api_SOURCES = \
	cgi/api/api.h cgi/api/api-main.c cgi/api/api-http.c \
	cgi/api/api-deps.c cgi/api/api-cache.c cgi/api/api-products.c \
	cgi/api/api-orders.c cgi/api/api-stats.c cgi/api/api-simulate.c \
	cgi/api/api-init.c cgi/api/api-metrics.c cgi/api/api-auth.c \
	cgi/api/api-account.c
ordercast_api_CFLAGS = $(OC_CFLAGS) $(FCGI_CFLAGS)
ordercast_api_LDADD = $(OC_LIBS) $(FCGI_LIBS)
