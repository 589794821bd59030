#!/usr/bin/env bats
# ordercast-api when Redis or MongoDB goes away and comes back, and its
# graceful stop on SIGTERM.

load lib/stack
load api-common

setup_file() {
	# Short waits so a dead dependency is noticed quickly.
	export ORDERCAST_TIMEOUT_MS=1500
	stack_start
}

teardown_file() {
	stack_stop
}

# Does GET PATH answer CODE now?
answers() {
	api GET "$1"
	[ "$status_code" = "$2" ] || { echo "GET $1: $status_code $body" >&2; false; }
}

# Poll until GET PATH answers CODE, for at most SECS seconds.
wait_for_code() {
	wait_for "$3" answers "$1" "$2"
}

@test "Redis down: 503 with Retry-After, nothing changes, then recovery" {
	customer=$(customer_id 0)
	id=$(product_id KB-101)
	set_stock "$id" 10
	orders=$(db_count orders)
	stack_stop_prog redis || true
	api GET /api/products
	assert_error 503 unavailable
	[ "$(api_header Retry-After)" -ge 1 ]
	assert_body '.error.message | contains("Redis")'
	api GET "/api/products/$id"
	assert_error 503 unavailable
	api POST /api/orders "$(order_body "$customer" "$id" 1)"
	assert_error 503 unavailable
	api PUT "/api/products/$id/stock" '{"delta":-1}'
	assert_error 503 unavailable
	[ "$(db_stock "$id")" = 10 ]
	[ "$(db_count orders)" = "$orders" ]
	api GET /api/health
	assert_status 503
	assert_body '.redis.ok == false and .mongodb.ok == true'
	api GET /api/metrics
	assert_error 503 unavailable
	# Requests fail fast while the breaker is open: many in a row all
	# answer (curl's limit is far below the time they would otherwise
	# take one after another).
	for i in $(seq 20); do
		run curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
			"$STACK_URL/api/products"
		assert_output 503
	done
	stack_start_prog redis
	wait_for_code /api/products 200 20
	api POST /api/orders "$(order_body "$customer" "$id" 1)"
	assert_status 201
	api GET "/api/products/$id"
	assert_body '.stock == 9'
}

@test "MongoDB down: 503 with Retry-After within the timeout, then recovery" {
	customer=$(customer_id 1)
	id=$(product_id MS-202)
	api GET /api/products
	assert_status 200
	stack_stop_prog mongod-standin || true
	run curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
		-H "Authorization: Bearer $OC_ADMIN_TOKEN" "$STACK_URL/api/orders"
	assert_output 503
	for i in $(seq 5); do
		api GET /api/orders
		assert_error 503 unavailable
		[ "$(api_header Retry-After)" -ge 1 ]
		assert_body '.error.message | contains("MongoDB")'
	done
	api POST /api/orders "$(order_body "$customer" "$id" 1)"
	assert_error 503 unavailable
	api GET /api/health
	assert_status 503
	assert_body '.mongodb.ok == false and .redis.ok == true and .status == "degraded"'
	# stack.bash takes the exported stand-in URI for a real server in
	# a test's own shell; say there is none so the stand-in restarts.
	OC_REAL_MONGODB_URI= stack_start_prog mongod-standin
	wait_for_code /api/orders 200 30
	api POST /api/orders "$(order_body "$customer" "$id" 1)"
	assert_status 201
	wait_for_code /api/stats 200 10
}

@test "MongoDB down under orders alone: the breaker opens, orders fail fast" {
	customer=$(customer_id 1)
	id=$(product_id MS-202)
	stack_stop_prog mongod-standin || true
	# Only orders reach MongoDB here: each failed transaction must count
	# against the breaker like any other failure of an unreachable server.
	for i in 1 2 3; do
		api POST /api/orders "$(order_body "$customer" "$id" 1)"
		assert_error 503 unavailable
	done
	# Open, it answers at once (one transaction would take the timeout).
	for i in $(seq 10); do
		api POST /api/orders "$(order_body "$customer" "$id" 1)" \
			--max-time 1
		assert_error 503 unavailable
	done
	OC_REAL_MONGODB_URI= stack_start_prog mongod-standin
	wait_for_code /api/orders 200 30
	api POST /api/orders "$(order_body "$customer" "$id" 1)"
	assert_status 201
}

@test "SIGTERM: the request in flight is answered, then exit 0" {
	stack_stop_prog ordercast-api || true
	sock=$OC_STATE/run/api.sock
	pidfile=$BATS_TEST_TMPDIR/api.pid
	"$OC_BUILDDIR/ordercast-api" --listen "unix:$sock" --threads 2 \
		--pidfile "$pidfile" 2>"$OC_STATE/log/api-sigterm.log" 3>&- &
	pid=$!
	stack_wait ordercast-api 20 test -S "$sock"
	[ "$(cat "$pidfile")" = "$pid" ]
	# A claim held by nobody keeps a request polling for its owner
	# until the timeout: a slow request to stop the daemon under.
	key="held-$RANDOM"
	customer=$(customer_id 0)
	# Claims are per customer: "<customerId>:<key>".
	stack_mongo "db.idempotency.insert_one({'_id': '$customer:$key', 'state': 'pending', 'at': datetime.datetime.utcnow()})"
	curl -s --max-time 20 -o "$BATS_TEST_TMPDIR/slow" -w '%{http_code}' \
		-H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		-H 'Content-Type: application/json' -H "Idempotency-Key: $key" \
		--data-binary "$(order_body "$customer" "$(product_id MS-202)" 1)" \
		"$STACK_URL/api/orders" >"$BATS_TEST_TMPDIR/slow.code" &
	slow=$!
	# Wait until lighttpd holds a connection to the daemon: the
	# listener and each accepted connection list the socket's path.
	deadline=$((SECONDS + 10))
	until [ "$(grep -c "$sock" /proc/net/unix)" -ge 2 ]; do
		[ "$SECONDS" -lt "$deadline" ] || false
		sleep 0.02
	done
	kill -TERM "$pid"
	wait "$slow"
	cat "$BATS_TEST_TMPDIR/slow"
	[ "$(cat "$BATS_TEST_TMPDIR/slow.code")" = 409 ]
	jq -e '.error.code == "in_progress"' "$BATS_TEST_TMPDIR/slow"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 0 ]
	[ ! -e "$pidfile" ]
	[ ! -e "$sock" ]
	grep -q 'finishing requests' "$OC_STATE/log/api-sigterm.log"
	if grep -qE 'Sanitizer|runtime error' "$OC_STATE/log/api-sigterm.log"; then
		cat "$OC_STATE/log/api-sigterm.log" >&2
		return 1
	fi
	stack_start_prog ordercast-api
	wait_for_code /api/users 200 10
}
