/*
 * ordercast-api: the REST API behind /api/. Shared types of its files:
 * the server (configuration, MongoDB pool, circuit breakers), one worker
 * thread's state and one request with its response.
 *
 * The files form layers, each calling only the layers below it (and
 * lib/); tests/lib/callgraph checks that no two files call each other:
 *
 *   api-main.c                          options, threads, start
 *   api-routes.c                        route table and dispatcher
 *   api-users.c api-products.c api-orders.c api-stats.c api-simulate.c
 *   api-config.c                        route handlers
 *   api-auth.c                          who is asking; session routes
 *   api-account.c                       --add-user, --set-password, --set-role
 *   api-list.c                          ?where=, ?sort=, cursors, counts
 *   api-order-create.c                  a new order
 *   api-order-status.c                  the status machine
 *   api-stock.c api-idem.c              stock, idempotency claims
 *   api-db.c api-cache.c api-metrics.c  queries, product cache, counters
 *   api-deps.c                          MongoDB client, Redis, breakers
 *   api-req.c                           request parsing
 *   api-reply.c                         response writing
 *   api-init.c                          --init, beside the rest
 */
#ifndef API_H
#define API_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fcgiapp.h>
#include <hiredis/hiredis.h>
#include <json-c/json.h>
#include <mongoc/mongoc.h>

#include "api-config.h"
#include "oc-auth.h"
#include "oc-config.h"
#include "oc-filter.h"
#include "oc-keys.h"
#include "oc-util.h"

/* Request bodies larger than this are refused with 413 unread. */
#define API_MAX_BODY	(64 * 1024)
/* Seconds a client is told to wait when a dependency is down. */
#define API_RETRY_AFTER	2
/* Lifetime of a cached product body in Redis, a safety net only. */
#define API_CACHE_TTL	60
/* Largest stock a product may hold. */
#define API_STOCK_MAX	1000000000LL
/* Deadline of the MongoDB ping of GET /api/health, in ms. */
#define API_HEALTH_TIMEOUT_MS	500

/*
 * Trips after a few consecutive failures of a dependency: requests then
 * fail at once for a while, after which a single probe may pass.
 */
struct api_breaker {
	pthread_mutex_t	 mu;
	int		 failures;
	int64_t		 open_until;	/* ms, monotonic */
	bool		 probing;
};

/* What every thread shares; made once by api-main.c, then read only. */
struct api_server {
	struct oc_config	 cfg;
	mongoc_client_pool_t	*pool;
	struct api_breaker	 mongo_breaker;
	struct api_breaker	 redis_breaker;
	mongoc_client_pool_t	*health_pool;	/* short deadlines, pings */
	struct oc_keys		 keys;		/* every Redis name */
};

/* What one worker thread keeps between requests. */
struct api_thread {
	struct api_server	*server;
	redisContext		*redis;		/* NULL until connected */
	uint64_t		 rng;
};

/* How a 200 answer may be cached; every other answer is no-store. */
enum api_cache {
	API_CACHE_NO_STORE = 0,	/* lists and whatever must be fresh */
	API_CACHE_REVALIDATE,	/* no-cache: kept, revalidated by ETag */
	API_CACHE_PRIVATE	/* private, no-cache: one user's answer */
};

/* Roles in order of what they may do. */
enum api_role {
	API_ROLE_ANON,
	API_ROLE_CUSTOMER,
	API_ROLE_ADMIN
};

/* Who is asking, resolved once per request before routing. */
struct api_caller {
	enum api_role		 role;
	bool			 bad_token;	/* sent, but no session */
	bool			 store_down;	/* sessions unreachable */
	bool			 has_session;	/* else REMOTE_USER */
	char			 user_id[OC_OID_HEX + 1];
	struct oc_session	 session;
};

struct api_req {
	struct api_server	*server;	/* thr->server */
	struct api_thread	*thr;
	struct api_caller	 caller;
	FCGX_Request		*fcgi;		/* NULL when running as CGI */
	char			**envp;
	int64_t			 started;	/* us, monotonic */

	const char		*method;
	char			*path;		/* REQUEST_URI without query */
	char			*query;		/* after '?', or "" */
	char			*id;		/* the route's :id, or NULL */
	char			*body;
	size_t			 body_len;
	const char		*route;		/* name in the metrics */
	bool			 head;		/* HEAD: GET without the body */
	enum api_cache		 cache;		/* of a 200 answer */

	mongoc_client_t		*client;	/* from the pool, lazily */
	bool			 mongo_down;	/* saw the database fail */
	bool			 redis_down;	/* saw Redis fail */
	bool			 redis_checked;	/* kept connection checked */
	bool			 redis_fresh;	/* connected in this request */
	bool			 redis_retried;	/* used its one retry */

	int			 status;
	char			*out;
	size_t			 out_len;
	const char		*out_type;
	char			*headers;	/* extra lines, CRLF ended */
	const char		*err_code;
	int			 cache_hits;
	int			 cache_misses;
};

/* An order line as the API takes it. */
struct api_item {
	bson_oid_t	 product;
	int64_t		 qty;
};

/*
 * Ownership: json_object results (out-parameters) and char * results
 * belong to the caller; api_reply_json() takes the object it is given;
 * strings from api_param() live until the request is finished. A
 * function returning false has already written the error response.
 */

/* api-reply.c: the response. */
void		 api_reply_json(struct api_req *, int, json_object *);
void		 api_reply_raw(struct api_req *, int, const char *, size_t,
		    const char *);
bool		 api_error(struct api_req *, int, const char *, const char *,
		    ...) __attribute__((format(printf, 4, 5)));
bool		 api_error_field(struct api_req *, int, const char *,
		    const char *, const char *, ...)
		    __attribute__((format(printf, 5, 6)));
bool		 api_filter_error(struct api_req *, size_t, const char *);
bool		 api_field_error(struct api_req *, const char *,
		    const char *);
void		 api_unavailable(struct api_req *, const char *);
void		 api_add_header(struct api_req *, const char *, const char *);
json_object	*api_list_body(json_object *, bool, const char *);
void		 api_reply_write(struct api_req *);

/* api-req.c: the request. */
void		 api_req_init(struct api_req *, struct api_thread *,
		    FCGX_Request *, char **);
void		 api_req_clear(struct api_req *);
const char	*api_param(struct api_req *, const char *);
bool		 api_query(struct api_req *, const char *, char **);
bool		 api_query_check(struct api_req *);
bool		 api_query_count(struct api_req *, const char *, long, long,
		    long *);
bool		 api_req_read_body(struct api_req *, bool);
json_object	*api_body_object(struct api_req *);
const char	*api_json_str(json_object *);
bool		 api_int_field(struct api_req *, json_object *, const char *,
		    int64_t, int64_t, int64_t *);
bool		 api_oid_param(struct api_req *, const char *, const char *,
		    bson_oid_t *);
bool		 api_oid_from_text(const char *, bson_oid_t *);

/* api-deps.c: MongoDB, Redis and their breakers. */
void		 api_breaker_init(struct api_breaker *);
bool		 api_breaker_allow(struct api_breaker *);
void		 api_breaker_report(struct api_breaker *, bool);
mongoc_client_t	*api_mongo(struct api_req *);
bool		 api_mongo_ping(struct api_req *, char *, size_t);
redisReply	*api_redis_command(struct api_req *, const char *, ...);
redisContext	*api_redis_ctx(struct api_req *);
void		 api_redis_failed(struct api_req *);
bool		 api_redis_retry(struct api_req *);
bool		 api_redis_moved(struct api_req *, const redisReply *);
void		 api_request_done(struct api_req *);
bool		 api_sentinels_start(struct api_server *);
void		 api_sentinels_stop(void);

/* api-db.c: collections and generic queries. */
mongoc_collection_t *api_collection(struct api_req *, const char *);
bool		 api_mongo_error(struct api_req *, const bson_error_t *,
		    const char *);
bool		 api_is_dup_key(const bson_error_t *);
bool		 api_find_json(struct api_req *, const char *, const bson_t *,
		    const bson_t *, json_object **);
bool		 api_find_by_id(struct api_req *, const char *,
		    const bson_oid_t *, json_object **);

/*
 * A transaction: api_txn_run() starts a session and runs body through
 * mongoc_client_session_with_transaction (write concern majority), which
 * runs it again after a TransientTransactionError and commits again
 * after an UnknownTransactionCommitResult, until the request's deadline.
 * The body writes with api_txn_opts(), hands a failed write's reply to
 * api_txn_failed() so the driver sees its labels, and returns false with
 * err to abort. api_txn_run returns false with err after an abort or a
 * failed commit (it answers only when no session can start: err then
 * has domain 0).
 */
struct api_txn {
	struct api_req		*req;
	mongoc_client_session_t	*session;
	void			*arg;
	int64_t			 deadline;	/* ms, monotonic */
	int			 attempts;
	bson_error_t		 last;		/* the last attempt's error */
};
typedef bool	(*api_txn_body)(struct api_txn *, bson_t **, bson_error_t *);
bool		 api_txn_run(struct api_req *, api_txn_body, void *,
		    bson_error_t *);
bson_t		*api_txn_opts(struct api_txn *, const bson_t *,
		    bson_error_t *);
bool		 api_txn_failed(bson_t **, const bson_t *);
bson_t		*api_majority_opts(struct api_req *);

/* api-cache.c: the product read-through cache. */
char		*api_product_key(const struct api_server *,
		    const bson_oid_t *);
bool		 api_cache_get(struct api_req *, const char *, char **,
		    char **);
void		 api_cache_put(struct api_req *, const char *, const char *,
		    const char *, size_t);
bool		 api_cache_invalidate(struct api_req *, const bson_oid_t *,
		    size_t);

/* api-metrics.c: the API's counters. */
void		 api_metrics_record(struct api_req *);
void		 api_metrics_flush(struct api_thread *);
bool		 api_metrics_start(struct api_server *);
void		 api_metrics_stop(void);

/*
 * api-stock.c: stock taken, given back and changed. The opts of take,
 * give back and return order name a transaction's session.
 */
int		 api_stock_take(mongoc_collection_t *, const bson_oid_t *,
		    int64_t, const bson_t *, bson_t *, bson_error_t *);
bool		 api_stock_give_back(mongoc_collection_t *,
		    const bson_oid_t *, int64_t, const bson_t *, bson_t *,
		    bson_error_t *);
bool		 api_stock_return_order(mongoc_collection_t *,
		    const bson_t *, const bson_t *, bson_oid_t *, size_t *,
		    bson_t *, bson_error_t *);
bool		 api_stock_change(struct api_req *, const bson_oid_t *, bool,
		    int64_t, json_object **);

/* api-idem.c: idempotency claims. */
bool		 api_idem_key_valid(const char *);
char		*api_idem_claim_id(const bson_oid_t *, const char *);
int		 api_idem_find(struct api_req *, const bson_oid_t *,
		    const char *, json_object **);
bool		 api_idem_claim(struct api_txn *, const char *,
		    const bson_oid_t *, bson_t **, bson_error_t *);
int		 api_idem_wait(struct api_req *, const char *, int64_t);

/*
 * api-list.c: a list filtered by ?where=, sorted by ?sort=, paged by
 * ?next= cursors, and its count (docs/filters.md).
 */
struct api_list_spec {
	const char		*collection;
	enum oc_filter_target	 target;
	const char		*default_sort;	/* normalised: "-id" */
	bool			 before;	/* takes the old ?before= */
	const bson_t		*projection;	/* or NULL */
};
bool		 api_list_asked(struct api_req *, bool);
void		 api_list_run(struct api_req *, const struct api_list_spec *,
		    const bson_t *);
void		 api_list_count(struct api_req *,
		    const struct api_list_spec *, const bson_t *);

/* api-order-status.c: the status machine. */
bool		 api_order_move(struct api_req *, const bson_oid_t *,
		    const char *, const char *, json_object **);

/* api-order-create.c: a new order. */
bool		 api_order_create(struct api_req *, const bson_oid_t *,
		    const struct api_item *, size_t, const char *,
		    json_object **, bool *);

/* Route handlers: the request is routed, its body read; they answer. */
/* api-users.c */
void		 api_route_users(struct api_req *);
void		 api_route_users_count(struct api_req *);
/* api-products.c */
void		 api_route_products(struct api_req *);
void		 api_route_products_count(struct api_req *);
void		 api_route_product(struct api_req *);
void		 api_route_product_stock(struct api_req *);
/* api-orders.c */
void		 api_route_orders_list(struct api_req *);
void		 api_route_orders_count(struct api_req *);
void		 api_route_order(struct api_req *);
void		 api_route_orders_create(struct api_req *);
void		 api_route_order_status(struct api_req *);
/* api-stats.c */
void		 api_route_health(struct api_req *);
void		 api_route_metrics(struct api_req *);
void		 api_route_stats(struct api_req *);
/* api-simulate.c */
void		 api_route_sim_order(struct api_req *);
void		 api_route_sim_stock(struct api_req *);
void		 api_route_sim_status(struct api_req *);

/* api-routes.c: answer one request, the response written. */
void		 api_handle(struct api_req *);

/*
 * api-auth.c: who is asking (called by the dispatcher before routing),
 * the check of a route's role, and the session routes.
 */
bool		 api_auth_resolve(struct api_req *);
bool		 api_auth_require(struct api_req *, enum api_role);
void		 api_route_session_create(struct api_req *);
void		 api_route_session_get(struct api_req *);
void		 api_route_session_delete(struct api_req *);

/* api-account.c: the account commands (false with a message in err). */
bool		 api_account_add(const struct oc_config *, const char *,
		    const char *, const char *, char *, size_t);
bool		 api_account_set_password(const struct oc_config *,
		    const char *, char *, size_t);
bool		 api_account_set_role(const struct oc_config *, const char *,
		    const char *, char *, size_t);

/* api-init.c: indexes and sample data (--init). */
bool		 api_init_database(const struct oc_config *, const char *,
		    char *, size_t);

#endif
