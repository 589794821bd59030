#!/usr/bin/env bats
# GET /api/config: the contract as the server holds it (statuses, moves,
# topics, event types, the low-stock threshold, limits), checked against
# what the API and the relay actually accept.

load lib/stack
load api-common

setup_file() {
	# A threshold other than the default, to see it come from the server.
	export ORDERCAST_LOW_STOCK=7
	stack_start
}

teardown_file() {
	stack_stop
}

# The statuses after pending on a shortest way to $1 by the config's moves.
path_to() {
	echo "$config" | jq -r --arg t "$1" '
		.moves as $m
		| [["pending"]]
		| until(length == 0 or any(.[]; .[-1] == $t);
			[.[] as $p | $m[] | select(.from == $p[-1])
			 | select(.to as $x | $p | index($x) | not)
			 | $p + [.to]])
		| map(select(.[-1] == $t)) | .[0] // empty | .[1:][]'
}

@test "config: GET /api/config answers 200 with every field" {
	api GET /api/config
	assert_status 200
	[[ "$(api_header Content-Type)" == application/json* ]]
	assert_body '(.statuses | type) == "array" and (.statuses | length) > 0'
	assert_body '[.statuses[] | type] | all(. == "string")'
	assert_body '[.moves[] | (.from | type) == "string" and (.to | type) == "string"] | all'
	assert_body '(.topics | type) == "array" and (.topics | length) > 0'
	assert_body '[.events[] | (.type | type) == "string" and (.topic | type) == "string"] | all'
	assert_body '(.lowStock | type) == "number"'
	assert_body '[.limits | .maxBodyBytes, .ordersPage, .ordersPageMax,
		.orderMaxItems, .orderMaxQty | type == "number"] | all'
	# Moves are between statuses; events go to a listed topic or system.
	assert_body '.statuses as $s | [.moves[] | (.from, .to) | IN($s[])] | all'
	assert_body '.topics as $t | [.events[].topic | IN($t[], "system")] | all'
	assert_body '[.events[].type] | index("system.resync") != null'
	assert_body '[.events[].type] | index("alert.low_stock") != null'
}

@test "config: lowStock follows ORDERCAST_LOW_STOCK" {
	api GET /api/config
	assert_status 200
	assert_body '.lowStock == 7'
}

@test "config: a new order starts in the first listed status" {
	api GET /api/config
	config=$body
	first=$(echo "$config" | jq -r '.statuses[0]')
	customer=$(customer_id 0)
	product=$(product_id "$(curl -s "$STACK_URL/api/products" |
		jq -r '.data[0].sku')")
	set_stock "$product" 1000
	api POST /api/orders "$(order_body "$customer" "$product" 1)"
	assert_status 201
	assert_body ".status == \"$first\""
}

@test "config: statuses and moves are exactly what PUT /api/orders/:id/status accepts" {
	api GET /api/config
	config=$body
	mapfile -t statuses < <(echo "$config" | jq -r '.statuses[]')
	customer=$(customer_id 1)
	product=$(product_id "$(curl -s "$STACK_URL/api/products" |
		jq -r '.data[0].sku')")
	set_stock "$product" 1000
	for from in "${statuses[@]}"; do
		for to in "${statuses[@]}"; do
			api POST /api/orders "$(order_body "$customer" "$product" 1)"
			assert_status 201
			oid=$(echo "$body" | jq -r .id)
			for s in $(path_to "$from"); do
				api PUT "/api/orders/$oid/status" "{\"status\":\"$s\"}"
				assert_status 200
			done
			api GET "/api/orders/$oid"
			assert_body ".status == \"$from\""
			api PUT "/api/orders/$oid/status" "{\"status\":\"$to\"}"
			if echo "$config" | jq -e --arg f "$from" --arg t "$to" \
			    'any(.moves[]; .from == $f and .to == $t)' >/dev/null
			then
				assert_status 200
				assert_body ".status == \"$to\""
			else
				assert_error 409 invalid_transition
			fi
		done
	done
	# A name that is not listed is no status at all.
	api PUT "/api/orders/$oid/status" '{"status":"lost"}'
	assert_error 400 invalid_field
	api GET "/api/orders?status=lost"
	assert_error 400 invalid_field
	for s in "${statuses[@]}"; do
		api GET "/api/orders?status=$s&limit=1"
		assert_status 200
	done
}

@test "config: the limits are the ones the API enforces" {
	api GET /api/config
	config=$body
	max_body=$(echo "$config" | jq .limits.maxBodyBytes)
	page_max=$(echo "$config" | jq .limits.ordersPageMax)
	api GET "/api/orders?limit=$page_max"
	assert_status 200
	api GET "/api/orders?limit=$((page_max + 1))"
	assert_error 400 invalid_field
	head -c "$((max_body + 1))" /dev/zero | tr '\0' ' ' \
		>"$BATS_TEST_TMPDIR/big"
	api POST /api/orders "@$BATS_TEST_TMPDIR/big"
	assert_error 413 payload_too_large
	printf '{"pad":"%s"}' "$(head -c "$((max_body - 10))" /dev/zero |
		tr '\0' x)" >"$BATS_TEST_TMPDIR/fits"
	api POST /api/orders "@$BATS_TEST_TMPDIR/fits"
	assert_status 400
}

@test "config: the relay takes every listed topic and no other" {
	api GET /api/config
	topics=$(echo "$body" | jq -r '.topics | join(",")')
	run curl -sN --max-time 2 -D - -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$STACK_URL/api/events?topics=$topics"
	assert_output --regexp 'HTTP/[0-9.]+ 200'
	assert_output --partial 'Content-Type: text/event-stream'
	assert_output --partial 'retry: '
	run curl -s -w '\n%{http_code}' "$STACK_URL/api/events?topics=system"
	[ "${lines[-1]}" = 400 ]
}
