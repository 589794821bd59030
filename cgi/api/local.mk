# cgi/api/: ordercast-api, the REST API (every /api/* route but /api/events).
# Its files are layers, lowest last; api.h says what each may call.
bin_PROGRAMS += ordercast-api
ordercast_api_SOURCES = \
	cgi/api/api.h cgi/api/api-main.c cgi/api/api-routes.c \
	cgi/api/api-users.c cgi/api/api-products.c cgi/api/api-orders.c \
	cgi/api/api-stats.c cgi/api/api-simulate.c \
	cgi/api/api-list.c \
	cgi/api/api-order-create.c cgi/api/api-order-status.c \
	cgi/api/api-stock.c cgi/api/api-idem.c \
	cgi/api/api-db.c cgi/api/api-cache.c cgi/api/api-metrics.c \
	cgi/api/api-deps.c cgi/api/api-req.c cgi/api/api-reply.c \
	cgi/api/api-auth.c cgi/api/api-account.c \
	cgi/api/api-init.c cgi/api/api-config.h cgi/api/api-config.c
ordercast_api_CFLAGS = $(OC_CFLAGS) $(FCGI_CFLAGS)
ordercast_api_LDADD = $(OC_LIBS) $(FCGI_LIBS)
