#!/usr/bin/env bats
# ordercast-api under concurrency: the last units, racing idempotent
# retries and racing status moves.

load lib/stack
load api-common

setup_file() {
	stack_start
}

teardown_file() {
	stack_stop
}

# Send the same request N times at once; one status code per line in
# $BATS_TEST_TMPDIR/codes, bodies in $BATS_TEST_TMPDIR/body.N.
# Usage: burst N METHOD PATH BODY [CURL-ARGS...]
burst() {
	local n=$1 method=$2 path=$3 data=$4 i pids=()
	shift 4
	for ((i = 0; i < n; i++)); do
		curl -s --max-time 60 -X "$method" \
			-H "Authorization: Bearer $OC_ADMIN_TOKEN" \
			-H 'Content-Type: application/json' --data-binary "$data" \
			-o "$BATS_TEST_TMPDIR/body.$i" -w '%{http_code}\n' \
			"$@" "$STACK_URL$path" >"$BATS_TEST_TMPDIR/code.$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
	cat "$BATS_TEST_TMPDIR"/code.* >"$BATS_TEST_TMPDIR/codes"
}

# How many requests of the last burst answered with this status.
count_code() {
	grep -c "^$1\$" "$BATS_TEST_TMPDIR/codes" || true
}

@test "50 concurrent orders for 10 units: exactly 10 succeed, stock ends at 0" {
	customer=$(customer_id 0)
	id=$(product_id DK-707)
	set_stock "$id" 10
	before=$(db_count orders)
	burst 50 POST /api/orders "$(order_body "$customer" "$id" 1)"
	sort "$BATS_TEST_TMPDIR/codes" | uniq -c
	[ "$(count_code 201)" = 10 ]
	[ "$(count_code 409)" = 40 ]
	[ "$(db_stock "$id")" = 0 ]
	[ "$(db_count orders)" = $((before + 10)) ]
	api GET "/api/products/$id"
	assert_body '.stock == 0'
}

@test "concurrent two-line orders: a short line gives the other one back" {
	customer=$(customer_id 1)
	a=$(product_id KB-101)
	b=$(product_id CH-112)
	set_stock "$a" 10
	set_stock "$b" 5
	body="{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$a\",\"qty\":1},{\"productId\":\"$b\",\"qty\":1}]}"
	burst 30 POST /api/orders "$body"
	sort "$BATS_TEST_TMPDIR/codes" | uniq -c
	[ "$(count_code 201)" = 5 ]
	[ "$(count_code 409)" = 25 ]
	[ "$(db_stock "$a")" = 5 ]
	[ "$(db_stock "$b")" = 0 ]
}

@test "racing retries with one Idempotency-Key make one order and take stock once" {
	customer=$(customer_id 2)
	id=$(product_id SP-505)
	set_stock "$id" 10
	key="race-$RANDOM$RANDOM"
	burst 20 POST /api/orders "$(order_body "$customer" "$id" 3)" \
		-H "Idempotency-Key: $key"
	sort "$BATS_TEST_TMPDIR/codes" | uniq -c
	[ "$(count_code 201)" = 1 ]
	[ "$(count_code 200)" = 19 ]
	ids=$(cat "$BATS_TEST_TMPDIR"/body.* | jq -r .id | sort -u)
	[ "$(echo "$ids" | wc -l)" = 1 ]
	[ "$(db_stock "$id")" = 7 ]
	[ "$(db_count orders "{'idempotencyKey': '$key'}")" = 1 ]
}

@test "racing cancels: one wins, the stock comes back once" {
	customer=$(customer_id 3)
	id=$(product_id WC-808)
	set_stock "$id" 10
	api POST /api/orders "$(order_body "$customer" "$id" 4)"
	assert_status 201
	oid=$(echo "$body" | jq -r .id)
	[ "$(db_stock "$id")" = 6 ]
	burst 10 PUT "/api/orders/$oid/status" '{"status":"cancelled"}'
	sort "$BATS_TEST_TMPDIR/codes" | uniq -c
	[ "$(count_code 200)" = 1 ]
	[ "$(count_code 409)" = 9 ]
	[ "$(db_stock "$id")" = 10 ]
	api GET "/api/orders/$oid"
	assert_body '[.history[].status] == ["pending","cancelled"]'
}

@test "racing stock deltas never take stock below zero" {
	id=$(product_id MN-303)
	set_stock "$id" 7
	burst 20 PUT "/api/products/$id/stock" '{"delta":-1}'
	[ "$(count_code 200)" = 7 ]
	[ "$(count_code 409)" = 13 ]
	[ "$(db_stock "$id")" = 0 ]
}
