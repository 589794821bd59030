#!/usr/bin/env bats
# ordercast-api behind lighttpd on a private stack: every route, its
# errors, the cache, status moves, idempotency, --init and plain CGI.

load lib/stack
load api-common

setup_file() {
	stack_start
}

teardown_file() {
	stack_stop
}

@test "health reports MongoDB, Redis and the watcher" {
	api GET /api/health
	assert_body '.mongodb.ok == true and (.mongodb.latencyMs | type) == "number"'
	assert_body '.redis.ok == true and (.redis.latencyMs | type) == "number"'
	if [ -x "$OC_BUILDDIR/ordercast-watch" ]; then
		assert_status 200
		assert_body '.status == "ok" and .watcher.ok == true'
		assert_body '(.watcher.lagMs | type) == "number"'
	else
		assert_status 503
		assert_body '.status == "degraded" and .watcher.ok == false'
	fi
}

@test "health is 503 and degraded without a watcher heartbeat" {
	stack_stop_prog ordercast-watch || true
	stack_redis del "$ORDERCAST_PREFIX:watch:alive" >/dev/null
	api GET /api/health
	assert_status 503
	assert_body '.status == "degraded" and .watcher.ok == false'
	assert_body '.mongodb.ok and .redis.ok'
	if [ -x "$OC_BUILDDIR/ordercast-watch" ]; then
		stack_start_prog ordercast-watch
	fi
}

@test "unknown routes are 404 with the error format" {
	for path in /api/nope /api/products/a/b/c /api/orders/x/y /api/ \
	    /api/health/more; do
		api GET "$path"
		assert_error 404 not_found
	done
}

@test "a wrong method is 405 with Allow" {
	api DELETE /api/products
	assert_error 405 method_not_allowed
	[ "$(api_header Allow)" = "GET, HEAD" ]
	api PATCH /api/orders
	assert_error 405 method_not_allowed
	[ "$(api_header Allow)" = "GET, HEAD, POST" ]
	api POST /api/orders/0123456789abcdef01234567/status '{"status":"shipped"}'
	assert_error 405 method_not_allowed
	[ "$(api_header Allow)" = PUT ]
	api GET /api/simulate/new-order
	assert_status 405
	[ "$(api_header Allow)" = POST ]
}

@test "users: all, by role, bad role" {
	api GET /api/users
	assert_status 200
	assert_body '.data | length == 7'
	assert_body '.data | all(has("id") and has("name") and has("email") and has("role"))'
	api GET '/api/users?role=admin'
	assert_status 200
	assert_body '.data | length == 1 and .[0].role == "admin"'
	api GET '/api/users?role=customer'
	assert_body '.data | length == 6'
	api GET '/api/users?role=owner'
	assert_error 400 invalid_field
	assert_body '.error.field == "role"'
}

@test "products: catalog and one product, with JSON content type" {
	api GET /api/products
	assert_status 200
	[[ "$(api_header Content-Type)" == "application/json; charset=utf-8" ]]
	assert_body '.data | length == 12'
	assert_body '.data | all(.id | test("^[0-9a-f]{24}$"))'
	assert_body '.data | all(has("sku") and has("name") and has("category") and (.priceCents | type) == "number" and .stock >= 0)'
	id=$(echo "$body" | jq -r '.data[0].id')
	api GET "/api/products/$id"
	assert_status 200
	assert_body ".id == \"$id\""
	api GET /api/products/0123456789abcdef01234567
	assert_error 404 not_found
	api GET /api/products/not-an-id
	assert_error 400 invalid_field
	api GET /api/products/0123456789abcdef0123456z
	assert_error 400 invalid_field
}

@test "stock: set, delta, never below zero" {
	id=$(product_id LS-110)
	api PUT "/api/products/$id/stock" '{"stock":20}'
	assert_status 200
	assert_body '.stock == 20 and .sku == "LS-110"'
	api PUT "/api/products/$id/stock" '{"delta":-5}'
	assert_status 200
	assert_body '.stock == 15'
	api PUT "/api/products/$id/stock" '{"delta":7}'
	assert_body '.stock == 22'
	api PUT "/api/products/$id/stock" '{"delta":-23}'
	assert_error 409 insufficient_stock
	[ "$(db_stock "$id")" = 22 ]
	api PUT "/api/products/$id/stock" '{"stock":-1}'
	assert_error 400 invalid_field
	assert_body '.error.field == "stock"'
	api PUT "/api/products/$id/stock" '{"stock":"5"}'
	assert_error 400 invalid_field
	api PUT "/api/products/$id/stock" '{"stock":1,"delta":1}'
	assert_error 400 invalid_field
	api PUT "/api/products/$id/stock" '{}'
	assert_error 400 invalid_field
	api PUT "/api/products/$id/stock" '{"stock":1,"price":3}'
	assert_error 400 invalid_field
	assert_body '.error.field == "price"'
	api PUT /api/products/0123456789abcdef01234567/stock '{"delta":1}'
	assert_error 404 not_found
	[ "$(db_stock "$id")" = 22 ]
}

@test "orders: create takes stock and prices from the database" {
	customer=$(customer_id 0)
	id=$(product_id MS-202)
	set_stock "$id" 30
	api POST /api/orders "{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$id\",\"qty\":3}]}"
	assert_status 201
	assert_body '.status == "pending" and .totalCents == 8997'
	assert_body '.items[0].unitPriceCents == 2999 and .items[0].sku == "MS-202" and .items[0].qty == 3'
	assert_body '.history | length == 1 and .[0].status == "pending"'
	assert_body "(.id | test(\"^[0-9a-f]{24}\$\")) and .customerId == \"$customer\""
	oid=$(echo "$body" | jq -r .id)
	[ "$(api_header Location)" = "/api/orders/$oid" ]
	[ "$(db_stock "$id")" = 27 ]
	api GET "/api/orders/$oid"
	assert_status 200
	assert_body ".id == \"$oid\" and .totalCents == 8997"
}

@test "orders: a price in the body is refused, never used" {
	customer=$(customer_id 0)
	id=$(product_id MS-202)
	api POST /api/orders "{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$id\",\"qty\":1,\"unitPriceCents\":1}]}"
	assert_error 400 invalid_field
	assert_body '.error.field == "items[0].unitPriceCents"'
}

@test "orders: refused orders change nothing" {
	customer=$(customer_id 1)
	a=$(product_id KB-101)
	b=$(product_id CH-112)
	set_stock "$a" 10
	set_stock "$b" 2
	before=$(db_count orders)
	api POST /api/orders "{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$a\",\"qty\":4},{\"productId\":\"$b\",\"qty\":3}]}"
	assert_error 409 insufficient_stock
	assert_body ".error.message | contains(\"$b\")"
	[ "$(db_stock "$a")" = 10 ]
	[ "$(db_stock "$b")" = 2 ]
	api POST /api/orders "$(order_body 0123456789abcdef01234567 "$a")"
	assert_error 400 invalid_field
	assert_body '.error.field == "customerId"'
	api POST /api/orders "$(order_body "$customer" 0123456789abcdef01234567)"
	assert_error 400 invalid_field
	assert_body '.error.field == "items[0].productId"'
	api POST /api/orders "$(order_body "$customer" "$a" 0)"
	assert_error 400 invalid_field
	assert_body '.error.field == "items[0].qty"'
	api POST /api/orders "$(order_body "$customer" "$a" 1001)"
	assert_error 400 invalid_field
	api POST /api/orders "$(order_body "$customer" "$a" 1.5)"
	assert_error 400 invalid_field
	api POST /api/orders "{\"customerId\":\"$customer\",\"items\":[]}"
	assert_error 400 invalid_field
	assert_body '.error.field == "items"'
	items=$(for i in $(seq 51); do printf '{"productId":"%s","qty":1},' "$a"; done)
	api POST /api/orders "{\"customerId\":\"$customer\",\"items\":[${items%,}]}"
	assert_error 400 invalid_field
	assert_body '.error.field == "items"'
	api POST /api/orders "{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$a\",\"qty\":1},{\"productId\":\"$a\",\"qty\":1}]}"
	assert_error 400 invalid_field
	assert_body '.error.field == "items[1].productId"'
	api POST /api/orders "{\"items\":[{\"productId\":\"$a\",\"qty\":1}]}"
	assert_error 400 invalid_field
	assert_body '.error.field == "customerId"'
	[ "$(db_count orders)" = "$before" ]
	[ "$(db_stock "$a")" = 10 ]
}

@test "orders: newest first, filters and cursor paging" {
	api GET '/api/orders?limit=5'
	assert_status 200
	assert_body '.data | length == 5'
	assert_body '[.data[].id] == ([.data[].id] | sort | reverse)'
	next=$(echo "$body" | jq -r .next)
	last=$(echo "$body" | jq -r '.data[4].id')
	[ "$next" = "$last" ]
	first_page=$(echo "$body" | jq -c '[.data[].id]')
	api GET "/api/orders?limit=5&before=$next"
	assert_status 200
	assert_body ".data | length == 5 and all(.id < \"$next\")"
	assert_body "[.data[].id] - $first_page | length == 5"
	total=$(db_count orders)
	api GET '/api/orders?limit=200'
	assert_body "(.data | length) == $total and .next == null"
	customer=$(customer_id 2)
	api GET "/api/orders?customerId=$customer"
	assert_status 200
	assert_body ".data | length > 0 and all(.customerId == \"$customer\")"
	api GET '/api/orders?status=delivered'
	assert_body '.data | length > 0 and all(.status == "delivered")'
	api GET "/api/orders?status=pending&customerId=$customer&limit=1"
	assert_status 200
	api GET '/api/orders'
	assert_body '.data | length <= 50'
	for q in limit=0 limit=201 limit=abc limit=5x status=lost \
	    customerId=123 before=zz; do
		api GET "/api/orders?$q"
		assert_error 400 invalid_field
	done
	api GET /api/orders/0123456789abcdef01234567
	assert_error 404 not_found
	api GET /api/orders/xyz
	assert_error 400 invalid_field
}

@test "status moves: the allowed path, history, 409 and 400" {
	customer=$(customer_id 3)
	id=$(product_id SP-505)
	api POST /api/orders "$(order_body "$customer" "$id" 1)"
	assert_status 201
	oid=$(echo "$body" | jq -r .id)
	for s in processing shipped delivered; do
		api PUT "/api/orders/$oid/status" "{\"status\":\"$s\"}"
		assert_status 200
		assert_body ".status == \"$s\" and .history[-1].status == \"$s\""
	done
	assert_body '[.history[].status] == ["pending","processing","shipped","delivered"]'
	api PUT "/api/orders/$oid/status" '{"status":"cancelled"}'
	assert_error 409 invalid_transition
	api PUT "/api/orders/$oid/status" '{"status":"pending"}'
	assert_error 409 invalid_transition
	api PUT "/api/orders/$oid/status" '{"status":"lost"}'
	assert_error 400 invalid_field
	assert_body '.error.field == "status"'
	api PUT "/api/orders/$oid/status" '{"status":3}'
	assert_error 400 invalid_field
	api PUT /api/orders/0123456789abcdef01234567/status '{"status":"shipped"}'
	assert_error 404 not_found
	api GET "/api/orders/$oid"
	assert_body '.status == "delivered" and (.history | length) == 4'
}

@test "cancelling returns the items to stock; pending cannot skip ahead" {
	customer=$(customer_id 4)
	a=$(product_id WC-808)
	b=$(product_id SS-909)
	set_stock "$a" 10
	set_stock "$b" 10
	api POST /api/orders "{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$a\",\"qty\":4},{\"productId\":\"$b\",\"qty\":2}]}"
	assert_status 201
	oid=$(echo "$body" | jq -r .id)
	[ "$(db_stock "$a")" = 6 ]
	api PUT "/api/orders/$oid/status" '{"status":"shipped"}'
	assert_error 409 invalid_transition
	api PUT "/api/orders/$oid/status" '{"status":"processing"}'
	assert_status 200
	api PUT "/api/orders/$oid/status" '{"status":"cancelled"}'
	assert_status 200
	assert_body '.status == "cancelled"'
	[ "$(db_stock "$a")" = 10 ]
	[ "$(db_stock "$b")" = 10 ]
	api GET "/api/products/$a"
	assert_body '.stock == 10'
	api PUT "/api/orders/$oid/status" '{"status":"cancelled"}'
	assert_error 409 invalid_transition
	[ "$(db_stock "$a")" = 10 ]
}

@test "Idempotency-Key: a repeat returns the first order and takes no stock" {
	customer=$(customer_id 5)
	id=$(product_id HD-404)
	set_stock "$id" 10
	key="test-key-$RANDOM$RANDOM"
	api POST /api/orders "$(order_body "$customer" "$id" 2)" -H "Idempotency-Key: $key"
	assert_status 201
	first=$body
	api POST /api/orders "$(order_body "$customer" "$id" 2)" -H "Idempotency-Key: $key"
	assert_status 200
	[ "$body" = "$first" ]
	[ "$(db_stock "$id")" = 8 ]
	[ "$(db_count orders "{'idempotencyKey': '$key'}")" = 1 ]
	api POST /api/orders "$(order_body "$customer" "$id" 2)" -H "Idempotency-Key: bad key"
	assert_error 400 invalid_field
	assert_body '.error.field == "Idempotency-Key"'
}

@test "Idempotency-Key: a refused order can be retried with the same key" {
	customer=$(customer_id 5)
	id=$(product_id HD-404)
	set_stock "$id" 1
	key="retry-key-$RANDOM$RANDOM"
	api POST /api/orders "$(order_body "$customer" "$id" 2)" -H "Idempotency-Key: $key"
	assert_error 409 insufficient_stock
	set_stock "$id" 5
	api POST /api/orders "$(order_body "$customer" "$id" 2)" -H "Idempotency-Key: $key"
	assert_status 201
	[ "$(db_stock "$id")" = 3 ]
}

@test "cache: reads are served from Redis and writes are read back at once" {
	id=$(product_id MP-111)
	set_stock "$id" 40
	stack_redis del "$ORDERCAST_PREFIX:metrics:api" >/dev/null
	api GET /api/products
	api GET /api/products
	api GET "/api/products/$id"
	api GET "/api/products/$id"
	assert_body '.stock == 40'
	[ "$(stack_redis exists "$ORDERCAST_PREFIX:cache:products")" = 1 ]
	[ "$(stack_redis exists "$ORDERCAST_PREFIX:cache:product:$id")" = 1 ]
	ttl=$(stack_redis ttl "$ORDERCAST_PREFIX:cache:products")
	[ "$ttl" -gt 0 ] && [ "$ttl" -le 60 ]
	wait_metric cache_hits 2
	wait_metric cache_misses 1
	for n in 39 38 37; do
		api PUT "/api/products/$id/stock" '{"delta":-1}'
		assert_status 200
		api GET "/api/products/$id"
		assert_body ".stock == $n"
		api GET /api/products
		assert_body ".data[] | select(.id == \"$id\") | .stock == $n"
	done
	customer=$(customer_id 0)
	api POST /api/orders "$(order_body "$customer" "$id" 5)"
	assert_status 201
	api GET "/api/products/$id"
	assert_body '.stock == 32'
	api GET /api/products
	assert_body ".data[] | select(.id == \"$id\") | .stock == 32"
}

@test "cache: a cached body is exactly what the database gives" {
	stack_redis del "$ORDERCAST_PREFIX:cache:products" >/dev/null
	api GET /api/products
	fresh=$body
	api GET /api/products
	[ "$body" = "$fresh" ]
	[ "$(stack_redis get "$ORDERCAST_PREFIX:cache:products")" = "$fresh" ]
}

@test "metrics: JSON with components and cache ratio, and Prometheus text" {
	api GET /api/products
	wait_metric requests_products 1
	api GET /api/metrics
	assert_status 200
	assert_body '.components.api.requests_total > 0'
	assert_body '.components.api.requests_products > 0'
	assert_body '.components.api.status_2xx > 0'
	assert_body '.components.api.latency_products_le_inf > 0'
	assert_body '.cache.hits >= 0 and .cache.misses >= 0 and .cache.hitRatio >= 0 and .cache.hitRatio <= 1'
	api GET /api/nope
	wait_metric errors_not_found 1
	api GET /api/metrics
	assert_body '.components.api.errors_not_found > 0 and .components.api.status_4xx > 0'
	api GET '/api/metrics?format=prometheus'
	assert_status 200
	[[ "$(api_header Content-Type)" == text/plain* ]]
	echo "$body" | grep -q '^# TYPE ordercast_api_requests_total counter$'
	echo "$body" | grep -qE '^ordercast_api_requests_total [0-9]+$'
	# Every line a type (gauges and counters) or a sample.
	if echo "$body" |
	    grep -vE '^(# TYPE [a-z0-9_]+ (counter|gauge)|[a-z0-9_]+ [0-9]+)$'; then
		return 1
	fi
	api GET '/api/metrics?format=xml'
	assert_error 400 invalid_field
}

@test "stats: by status, revenue, 60 minutes, top products" {
	api GET /api/stats
	assert_status 200
	total=$(db_count orders)
	assert_body "[.byStatus[]] | add == $total"
	assert_body '.byStatus | has("pending") and has("processing") and has("shipped") and has("delivered") and has("cancelled")'
	revenue=$(stack_mongo "print(sum(o['totalCents'] for o in db.orders.find({'status': {'\$ne': 'cancelled'}})))")
	assert_body ".revenueCents == $revenue"
	assert_body '.ordersPerMinute | length == 60'
	assert_body '.ordersPerMinute | all(has("minute") and has("count") and has("revenueCents"))'
	assert_body '[.ordersPerMinute[].minute] == ([.ordersPerMinute[].minute] | sort)'
	assert_body '[.ordersPerMinute[].count] | add > 0'
	assert_body '.topProducts | length > 0 and length <= 5'
	assert_body '[.topProducts[].qty] == ([.topProducts[].qty] | sort | reverse)'
	assert_body '.topProducts | all(has("productId") and has("name") and has("revenueCents"))'
}

@test "simulate: new order, stock update and status step" {
	before=$(db_count orders)
	api POST /api/simulate/new-order
	assert_status 201
	assert_body '.action == "new-order" and .order.status == "pending"'
	assert_body '.order.items | length >= 1 and length <= 3'
	[ "$(db_count orders)" = $((before + 1)) ]
	api POST /api/simulate/update-stock
	assert_status 200
	assert_body '.action == "update-stock" and (.product.stock >= 0)'
	assert_body 'has("delta") or has("stock")'
	pid=$(echo "$body" | jq -r .product.id)
	[ "$(db_stock "$pid")" = "$(echo "$body" | jq .product.stock)" ]
	api POST /api/simulate/status-update
	assert_status 200
	assert_body '.action == "status-update" and .order.status == .to'
	assert_body '(.from as $f | ["pending","processing","shipped"] | index($f)) != null'
	api POST /api/simulate/status-update '{}'
	assert_status 200
}

@test "simulated orders take stock like real ones" {
	stack_mongo "db.products.update_many({}, {'\$set': {'stock': 0}})
db.products.update_one({'sku': 'DK-707'}, {'\$set': {'stock': 2}})"
	stack_redis del "$ORDERCAST_PREFIX:cache:products" >/dev/null
	api POST /api/simulate/new-order
	assert_status 201
	assert_body '.order.items | length == 1 and .[0].sku == "DK-707"'
	qty=$(echo "$body" | jq '.order.items[0].qty')
	[ "$(db_stock "$(product_id DK-707)")" = $((2 - qty)) ]
	stack_mongo "db.products.update_many({}, {'\$set': {'stock': 100}})"
	stack_redis del "$ORDERCAST_PREFIX:cache:products" >/dev/null
}

@test "bodies: 413 over 64 KiB, 415 when not JSON" {
	customer=$(customer_id 0)
	big=$(head -c 70000 /dev/zero | tr '\0' ' ')
	api POST /api/orders "{\"customerId\":\"$customer\",\"x\":\"$big\"}"
	assert_error 413 payload_too_large
	API_CT=text/plain api POST /api/orders '{"customerId":"x"}'
	assert_error 415 unsupported_media_type
	API_CT=application/x-www-form-urlencoded \
		api PUT "/api/products/$(product_id MS-202)/stock" '{"stock":1}'
	assert_error 415 unsupported_media_type
	API_CT='application/json; charset=utf-8' \
		api PUT "/api/products/$(product_id MS-202)/stock" '{"stock":12}'
	assert_status 200
	API_CT=application/jsonx \
		api PUT "/api/products/$(product_id MS-202)/stock" '{"stock":12}'
	assert_error 415 unsupported_media_type
}

@test "--init is idempotent and --check validates the configuration" {
	users=$(db_count users)
	orders=$(db_count orders)
	run "$OC_BUILDDIR/ordercast-api" --init --sample-data
	assert_success
	assert_output --partial "no sample data added"
	[ "$(db_count users)" = "$users" ]
	[ "$(db_count orders)" = "$orders" ]
	run "$OC_BUILDDIR/ordercast-api" --check
	assert_success
	ORDERCAST_TIMEOUT_MS=nope run "$OC_BUILDDIR/ordercast-api" --check
	assert_failure
	assert_output --partial ORDERCAST_TIMEOUT_MS
	run "$OC_BUILDDIR/ordercast-api" --bogus
	assert_failure
	run "$OC_BUILDDIR/ordercast-api" --help
	assert_success
	assert_output --partial --listen
}

@test "--init on an empty database creates indexes, and sample data only when asked" {
	ORDERCAST_DB=octest_init_$$ run "$OC_BUILDDIR/ordercast-api" --init
	assert_success
	refute_output --partial "sample data"
	[ "$(ORDERCAST_DB=octest_init_$$ stack_mongo 'print(db.users.count_documents({}))')" = 0 ]
	run "$OC_BUILDDIR/ordercast-api" --sample-data
	assert_failure
	ORDERCAST_DB=octest_init_$$ run "$OC_BUILDDIR/ordercast-api" --init --sample-data
	assert_success
	assert_output --partial "sample data added"
	out=$(ORDERCAST_DB=octest_init_$$ stack_mongo "
print(db.users.count_documents({}), db.users.count_documents({'role': 'admin'}),
      db.products.count_documents({}), db.orders.count_documents({}),
      len(db.orders.distinct('status')))
names = set()
for c in ('users', 'products', 'orders'):
    for i in db[c].list_indexes():
        names.add(i['name'])
print(sorted(names))")
	echo "$out"
	[ "$(echo "$out" | head -1)" = "7 1 12 20 5" ]
	[[ "$out" == *email_1* && "$out" == *sku_1* && "$out" == *customerId_1_idempotencyKey_1* ]]
	# Every sample account has an Argon2id hash of the demo password.
	[ "$(ORDERCAST_DB=octest_init_$$ stack_mongo "print(sum(1 for u in db.users.find() if u.get('passwordHash', '').startswith('\$argon2id\$')))")" = 7 ]
	[[ "$out" == *customerId_1__id_-1* && "$out" == *status_1__id_-1* ]]
	ORDERCAST_DB=octest_init_$$ run "$OC_BUILDDIR/ordercast-api" --init
	assert_success
	[ "$(ORDERCAST_DB=octest_init_$$ stack_mongo 'print(db.orders.count_documents({}))')" = 20 ]
	ORDERCAST_MONGODB_URI='mongodb://127.0.0.1:1/?replicaSet=rs0&serverSelectionTimeoutMS=300' \
		ORDERCAST_TIMEOUT_MS=300 run "$OC_BUILDDIR/ordercast-api" --init
	assert_failure
}

@test "plain CGI: one request from the environment" {
	run env REQUEST_METHOD=GET REQUEST_URI=/api/products \
		"$OC_BUILDDIR/ordercast-api" </dev/null
	assert_success
	assert_line --index 0 --regexp '^Status: 200 OK'
	echo "$output" | tail -1 | jq -e '.data | length == 12'
	id=$(product_id CB-606)
	run bash -c 'printf %s "{\"delta\":-1}" | env REQUEST_METHOD=PUT \
		HTTP_AUTHORIZATION="Bearer $OC_ADMIN_TOKEN" \
		REQUEST_URI=/api/products/'"$id"'/stock CONTENT_TYPE=application/json \
		CONTENT_LENGTH=12 "$1"' _ "$OC_BUILDDIR/ordercast-api"
	assert_success
	assert_line --index 0 --regexp '^Status: 200 OK'
	run env REQUEST_METHOD=DELETE REQUEST_URI=/api/users \
		"$OC_BUILDDIR/ordercast-api" </dev/null
	assert_line --index 0 --regexp '^Status: 405'
	assert_output --partial 'Allow: GET'
	refute_output --partial Sanitizer
	refute_output --partial 'runtime error'
}

# The ```sh blocks of docs/api.md as one script run in order in one
# shell: curl reports each status on stderr, and a block with an
# "# expect:" line must end with that status.
docs_script() {
	awk '
	/^```sh$/ { inblock = 1; n++; code = ""; want = ""; next }
	inblock && /^```$/ {
		inblock = 0
		printf "{\n%s} >>\"$EX_OUT\" 2>\"$EX_STATUS\"\n", code
		if (want != "")
			printf "check_example %d %s\n", n, want
		next
	}
	inblock && /^# expect: / { want = $3; next }
	inblock { code = code $0 "\n" }
	' "$OC_SRCDIR/docs/api.md"
}

@test "every curl example of docs/api.md answers as documented" {
	run_sh=$BATS_TEST_TMPDIR/run.sh
	cat >"$run_sh" <<SH
set -u
BASE=$STACK_URL
EX_OUT=$BATS_TEST_TMPDIR/ex.out
EX_STATUS=$BATS_TEST_TMPDIR/ex.status
curl() { command curl -w '%{stderr}HTTP_STATUS=%{http_code}\n' "\$@"; }
check_example() {
	local got
	got=\$(sed -n 's/^HTTP_STATUS=//p' "\$EX_STATUS" | tail -1)
	if [ "\$got" != "\$2" ]; then
		echo "example \$1: expected \$2, got '\$got'" >&2
		cat "\$EX_STATUS" >&2
		exit 1
	fi
	echo "example \$1: \$got"
}
SH
	docs_script >>"$run_sh"
	[ "$(grep -c '^check_example' "$run_sh")" -ge 20 ]
	run bash "$run_sh"
	echo "$output"
	assert_success
	! grep -q 'parse error' "$BATS_TEST_TMPDIR/ex.status"
}
