#!/usr/bin/env bats
# Who may read which event stream: /api/events as anonymous, as customer
# A, as customer B and as the admin, behind lighttpd on a private stack
# whose API signs people in and whose watcher turns real orders into
# events.

bats_require_minimum_version 1.5.0

setup_file() {
	load lib/stack
	stack_start
	A_TOKEN=$(stack_login alice.martin@example.com)
	B_TOKEN=$(stack_login bruno.costa@example.com)
	A_ID=$(stack_user_id alice.martin@example.com)
	B_ID=$(stack_user_id bruno.costa@example.com)
	PRODUCT=$(curl -s "$STACK_URL/api/products" | jq -r '.data[0].id')
	export A_TOKEN B_TOKEN A_ID B_ID PRODUCT
}

load sse-common

# status TOKEN QUERY: the HTTP status of opening the stream (a bearer
# token, or - for none); the body goes to $BATS_TEST_TMPDIR/body.
status() {
	local auth=()
	[ "$1" = - ] || auth=(-H "Authorization: Bearer $1")
	curl -s --max-time 2 -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' \
		"${auth[@]}" "$STACK_URL/api/events$2" || true
}

# Read a stream into a file in the background: stream OUT TOKEN QUERY.
stream() {
	local out=$1 auth=()
	[ "$2" = - ] || auth=(-H "Authorization: Bearer $2")
	curl -sN --max-time 60 "${auth[@]}" "$STACK_URL/api/events$3" \
		>"$out" 2>/dev/null 3>&- &
	CURLS+=($!)
	wait_for 10 grep -q '^: ordercast' "$out"
}

# order TOKEN CUSTOMER: place an order as that customer; prints its id.
order() {
	curl -s --max-time 10 -X POST -H "Authorization: Bearer $1" \
		-H 'Content-Type: application/json' \
		-d "{\"customerId\":\"$2\",\"items\":[{\"productId\":\"$PRODUCT\",\"qty\":1}]}" \
		"$STACK_URL/api/orders" | jq -er .id
}

# The order ids of the order events in a stream file.
order_ids() {
	sed -n 's/^data: //p' "$1" | jq -r 'select(.collection == "orders") | .key'
}

# The customers of the order events in a stream file.
order_customers() {
	sed -n 's/^data: //p' "$1" |
		jq -r 'select(.collection == "orders") | .doc.customerId' | sort -u
}

token_hash() {
	/usr/bin/python3 -c 'import hashlib, sys
print(hashlib.blake2b(sys.argv[1].encode(), digest_size=32).hexdigest())' "$1"
}

@test "anonymous: products only; any other topic is 401 with an error body" {
	[ "$(status - '')" = 200 ]
	[ "$(status - '?topics=products')" = 200 ]
	local t
	for t in orders users alerts products,orders orders,users,alerts; do
		[ "$(status - "?topics=$t")" = 401 ] || { echo "topics=$t"; false; }
		run jq -r .error.code "$BATS_TEST_TMPDIR/body"
		assert_output unauthorized
	done
}

@test "a customer: products and orders; users and alerts are 403" {
	local t
	for t in products orders products,orders; do
		[ "$(status "$A_TOKEN" "?topics=$t")" = 200 ] || { echo "$t"; false; }
	done
	[ "$(status "$A_TOKEN" "?customerId=$A_ID")" = 200 ]
	for t in users alerts orders,users products,alerts; do
		[ "$(status "$A_TOKEN" "?topics=$t")" = 403 ] || { echo "$t"; false; }
		run jq -r .error.code "$BATS_TEST_TMPDIR/body"
		assert_output forbidden
	done
	[ "$(status "$A_TOKEN" "?customerId=$B_ID")" = 403 ]
	[ "$(status "$B_TOKEN" "?topics=orders&customerId=$A_ID")" = 403 ]
}

@test "the admin reads every topic" {
	local t
	for t in '' '?topics=orders' '?topics=users' '?topics=alerts' \
		'?topics=orders,products,users,alerts' "?customerId=$A_ID"; do
		[ "$(status "$OC_ADMIN_TOKEN" "$t")" = 200 ] || { echo "$t"; false; }
	done
}

@test "B's order events never reach A's stream while both order" {
	local a=$BATS_TEST_TMPDIR/a b=$BATS_TEST_TMPDIR/b adm=$BATS_TEST_TMPDIR/adm
	local wide=$BATS_TEST_TMPDIR/wide anon=$BATS_TEST_TMPDIR/anon
	local mine=() theirs=() i
	stream "$a" "$A_TOKEN" ''
	stream "$b" "$B_TOKEN" '?topics=orders'
	stream "$adm" "$OC_ADMIN_TOKEN" '?topics=orders'
	stream "$anon" - ''
	# A filter naming B cannot widen A's scope.
	stream "$wide" "$A_TOKEN" \
		"?topics=orders&where=doc.customerId%3D%27$B_ID%27"
	for i in 1 2 3; do
		mine+=("$(order "$A_TOKEN" "$A_ID")")
		theirs+=("$(order "$B_TOKEN" "$B_ID")")
	done
	wait_for 20 eval '[ "$(order_ids "$adm" | sort -u | wc -l)" -ge 6 ]'
	wait_for 10 eval '[ "$(order_ids "$a" | sort -u | wc -l)" -ge 3 ]'
	wait_for 10 eval '[ "$(order_ids "$b" | sort -u | wc -l)" -ge 3 ]'
	run order_customers "$a"
	assert_output "$A_ID"
	run order_customers "$b"
	assert_output "$B_ID"
	run bash -c "sed -n 's/^data: //p' '$a' | jq -r .key | sort -u"
	for i in "${theirs[@]}"; do
		refute_line "$i"
	done
	for i in "${mine[@]}"; do
		assert_line "$i"
	done
	run order_ids "$anon"
	assert_output ''
	run order_ids "$wide"
	assert_output ''
}

@test "a forged, an expired and a logged-out token are 401" {
	local forged tok hash rec
	forged=$(/usr/bin/python3 -c 'import base64, os
print(base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode())')
	[ "$(status "$forged" '')" = 401 ]
	[ "$(status 'not-a-token' '')" = 401 ]
	run curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
		-H "Cookie: ordercast_session=$forged" "$STACK_URL/api/events"
	assert_output 401
	# Expired: the record's absolute end is in the past.
	tok=$(stack_login alice.martin@example.com)
	[ "$(status "$tok" '')" = 200 ]
	hash=$(token_hash "$tok")
	rec=$(stack_redis get "$ORDERCAST_PREFIX:session:$hash")
	rec=$(echo "$rec" | jq -c '.expires = 1000')
	stack_redis set "$ORDERCAST_PREFIX:session:$hash" "$rec" KEEPTTL >/dev/null
	[ "$(status "$tok" '')" = 401 ]
	# Logged out.
	tok=$(stack_login bruno.costa@example.com)
	run curl -s -o /dev/null -w '%{http_code}' -X DELETE \
		-H 'Content-Type: application/json' \
		-H "Authorization: Bearer $tok" "$STACK_URL/api/session"
	assert_output 204
	[ "$(status "$tok" '')" = 401 ]
}

@test "the session cookie opens a stream as the browser sends it" {
	run curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
		-H "Cookie: theme=dark; ordercast_session=$A_TOKEN" \
		"$STACK_URL/api/events?topics=orders"
	assert_output 200
}

@test "a logout closes the open stream within a second" {
	local tok out=$BATS_TEST_TMPDIR/s t0 ms pid
	tok=$(stack_login alice.martin@example.com)
	stream "$out" "$tok" '?topics=orders'
	pid=${CURLS[-1]}
	t0=$(date +%s%N)
	run curl -s -o /dev/null -w '%{http_code}' -X DELETE \
		-H 'Content-Type: application/json' \
		-H "Authorization: Bearer $tok" "$STACK_URL/api/session"
	assert_output 204
	wait_for 5 eval "! kill -0 $pid"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "closed after $ms ms"
	[ "$ms" -lt 1000 ]
	# The dashboard reconnects, and is refused.
	[ "$(status "$tok" '?topics=orders')" = 401 ]
}

@test "past the stream limits: 429 with Retry-After" {
	local i code
	stack_stop_prog ordercast-sse
	ORDERCAST_STREAMS_PER_SESSION=2 ORDERCAST_STREAMS_PER_ADDR=3 \
		stack_start_prog ordercast-sse
	for i in 1 2; do
		stream "$BATS_TEST_TMPDIR/s$i" "$A_TOKEN" ''
	done
	run curl -s -D - --max-time 2 -H "Authorization: Bearer $A_TOKEN" \
		"$STACK_URL/api/events"
	assert_line --partial '429'
	assert_line --regexp '^Retry-After: [0-9]+'
	assert_output --partial '"code":"too_many_streams"'
	# Another session from the same address: one more, then the
	# address is full.
	stream "$BATS_TEST_TMPDIR/s3" "$B_TOKEN" ''
	code=$(status - '')
	[ "$code" = 429 ]
	# A stream that ends frees its place: the relay sees the client
	# gone at its next write, the heartbeat at the latest (15 s).
	kill "${CURLS[0]}"
	wait_for 25 eval '[ "$(status - "")" = 200 ]'
	stack_stop_prog ordercast-sse
	stack_start_prog ordercast-sse
}
