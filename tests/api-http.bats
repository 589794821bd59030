#!/usr/bin/env bats
# ordercast-api as HTTP clients and caches expect it: HEAD on every GET
# route, ETag and If-None-Match, Cache-Control per route; and the limits
# of its input and output (query numbers, stock, health, metrics).

load lib/stack
load api-common

setup_file() {
	stack_start
}

teardown_file() {
	stack_stop
}

teardown() {
	# A test that stalled MongoDB lets it go again, even when failing.
	if [ -s "$BATS_TEST_TMPDIR/stalled" ]; then
		kill -CONT "$(cat "$BATS_TEST_TMPDIR/stalled")" || true
	fi
}

# Every GET route with a path that answers 200.
get_routes() {
	local product order
	product=$(product_id MS-202)
	order=$(curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" "$STACK_URL/api/orders?limit=1" | jq -r '.data[0].id')
	echo /api/config /api/health /api/metrics \
		"/api/metrics?format=prometheus" /api/users \
		"/api/users?role=customer" /api/products "/api/products/$product" \
		/api/orders "/api/orders?limit=2" "/api/orders/$order" \
		/api/stats "/api/products/000000000000000000000000"
}

# The headers of the last answer, sorted, without Date and the status
# line. With "nolength", Content-Length goes too (bodies that change
# from one request to the next: latencies, counters).
headers_but_date() {
	grep -viE "^(date|${1:-date}):" "$BATS_TEST_TMPDIR/headers" |
		grep -v '^HTTP/' | tr -d '\r' | grep -v '^$' | sort
}

# Send a raw HTTP request to the stack and print the whole answer.
raw_request() {
	local hostport=${STACK_URL#http://} fd
	exec {fd}<>"/dev/tcp/${hostport%:*}/${hostport#*:}"
	printf '%s\r\nHost: %s\r\nConnection: close\r\n\r\n' "$1" \
		"$hostport" >&"$fd"
	timeout 10 cat <&"$fd"
	exec {fd}<&-
}

@test "HEAD answers what GET answers, without the body, on every GET route" {
	for path in $(get_routes); do
		case $path in
		/api/health | /api/metrics* | /api/stats) skip_len=content-length ;;
		*) skip_len=date ;;
		esac
		api GET "$path"
		get_status=$status_code
		get_len=${#body}
		get_headers=$(headers_but_date "$skip_len")
		curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" -I --max-time 10 -D "$BATS_TEST_TMPDIR/headers" \
			-o /dev/null "$STACK_URL$path"
		head_status=$(head -1 "$BATS_TEST_TMPDIR/headers" | awk '{print $2}')
		head_headers=$(headers_but_date "$skip_len")
		if [ "$head_status" != "$get_status" ] ||
		    [ "$head_headers" != "$get_headers" ]; then
			echo "$path: GET $get_status and HEAD $head_status differ:" >&2
			diff <(echo "$get_headers") <(echo "$head_headers") >&2
			return 1
		fi
		if [ "$skip_len" = date ]; then
			[ "$(api_header Content-Length)" = "$get_len" ]
		fi
	done
}

@test "HEAD sends no body; a route without GET refuses it with 405" {
	out=$(raw_request "HEAD /api/products HTTP/1.1")
	echo "$out" | head -1 | grep -q ' 200 '
	len=$(echo "$out" | tr -d '\r' | sed -n 's/^Content-Length: //Ip')
	[ "$len" -gt 100 ]
	# Nothing after the blank line that ends the headers.
	[ -z "$(echo "$out" | tr -d '\r' | sed '1,/^$/d')" ]
	api HEAD "/api/products/$(product_id MS-202)/stock" "" -I
	assert_status 405
	[ "$(api_header Allow)" = PUT ]
}

@test "Cache-Control and ETag per route" {
	product=$(product_id MS-202)
	order=$(curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" "$STACK_URL/api/orders?limit=1" | jq -r '.data[0].id')
	check() {
		api GET "$1"
		assert_status 200
		[ "$(api_header Cache-Control)" = "$2" ] ||
			{ echo "$1: Cache-Control $(api_header Cache-Control)" >&2; return 1; }
		if [ "$3" = etag ]; then
			[[ "$(api_header ETag)" =~ ^\"[0-9a-f]{16}\"$ ]]
		else
			[ -z "$(api_header ETag)" ]
		fi
	}
	check /api/products no-cache etag
	check "/api/products/$product" no-cache etag
	check /api/config no-cache etag
	check "/api/orders/$order" "private, no-cache" etag
	check /api/users "private, no-cache" etag
	check /api/orders no-store none
	check /api/stats no-store none
	check /api/health no-store none
	check /api/metrics no-store none
	api GET /api/products/000000000000000000000000
	assert_error 404 not_found
	[ "$(api_header Cache-Control)" = no-store ]
	[ -z "$(api_header ETag)" ]
}

@test "a product's ETag: 304 while unchanged, a new one after a stock change" {
	id=$(product_id KB-101)
	set_stock "$id" 40
	api GET "/api/products/$id"
	assert_status 200
	etag=$(api_header ETag)
	[ -n "$etag" ]
	# curl writes no file for an empty body: empty it first.
	: >"$BATS_TEST_TMPDIR/body"
	api GET "/api/products/$id" "" -H "If-None-Match: $etag"
	assert_status 304
	[ -z "$body" ]
	[ "$(api_header ETag)" = "$etag" ]
	[ "$(api_header Cache-Control)" = no-cache ]
	api PUT "/api/products/$id/stock" '{"delta":-1}'
	assert_status 200
	api GET "/api/products/$id" "" -H "If-None-Match: $etag"
	assert_status 200
	assert_body '.stock == 39'
	etag2=$(api_header ETag)
	[ -n "$etag2" ] && [ "$etag2" != "$etag" ]
	# The catalog changes with it.
	api GET /api/products
	list=$(api_header ETag)
	api PUT "/api/products/$id/stock" '{"stock":41}'
	api GET /api/products "" -H "If-None-Match: $list"
	assert_status 200
	assert_body ".data[] | select(.id == \"$id\") | .stock == 41"
	api GET /api/products "" -H "If-None-Match: $(api_header ETag)"
	assert_status 304
}

@test "If-None-Match: a list, weak comparison, *, and no match" {
	api GET /api/config
	etag=$(api_header ETag)
	api GET /api/config "" -H "If-None-Match: \"0000000000000000\", W/$etag"
	assert_status 304
	api GET /api/config "" -H "If-None-Match: \"1\",$etag"
	assert_status 304
	api GET /api/config "" -H "If-None-Match: *"
	assert_status 304
	api GET /api/config "" -H "If-None-Match: \"0000000000000000\""
	assert_status 200
	assert_body '.statuses | length == 5'
	# HEAD revalidates the same way.
	api HEAD /api/config "" -I -H "If-None-Match: $etag"
	assert_status 304
	# No 304 for what is not cacheable, nor for errors.
	api GET /api/orders "" -H "If-None-Match: *"
	assert_status 200
	api GET /api/products/000000000000000000000000 "" -H "If-None-Match: *"
	assert_status 404
}

@test "numbers in the query are digits only: 400 naming the parameter" {
	for v in +5 %205 5%20 -5 0x5 5e1 1.0 '' 0 201 \
	    99999999999999999999; do
		api GET "/api/orders?limit=$v"
		assert_error 400 invalid_field
		assert_body '.error.field == "limit"'
	done
	api GET "/api/orders?limit=5"
	assert_status 200
	assert_body '.data | length == 5'
	api GET "/api/orders?limit=%35"
	assert_status 200
	assert_body '.data | length == 5'
}

# Run the API binary as plain CGI on one GET. Usage: cgi_get URI
# Sets status_code and body from its output.
cgi_get() {
	local out
	out=$(REQUEST_METHOD=GET REQUEST_URI=$1 \
		"$OC_BUILDDIR/ordercast-api" </dev/null \
		2>>"$OC_STATE/log/api-cgi.log" | tr -d '\r')
	status_code=$(echo "$out" | sed -n '1s/^Status: \([0-9]*\).*/\1/p')
	body=$(echo "$out" | sed '1,/^$/d')
}

@test "a malformed escape or %00 in the query is 400 naming the parameter" {
	# lighttpd refuses %00 itself; the API refuses it too behind a
	# server that passes it on.
	cgi_get '/api/orders?limit=2&status=%00'
	assert_error 400 invalid_field
	assert_body '.error.field == "status"'
	assert_body '.error.message | contains("%00")'
	for q in 'status=%zz' 'status=pend%0' 'before=%' \
	    'limit=5&customerId=%g1'; do
		api GET "/api/orders?$q"
		assert_error 400 invalid_field
		name=${q##*&}
		assert_body ".error.field == \"${name%%=*}\""
	done
	api GET '/api/users?role=%zz'
	assert_error 400 invalid_field
	assert_body '.error.field == "role"'
	api GET '/api/metrics?format=%x'
	assert_error 400 invalid_field
}

@test "stock cannot pass 10^9 through deltas; the refusal changes nothing" {
	id=$(product_id MS-202)
	set_stock "$id" 999999990
	api PUT "/api/products/$id/stock" '{"delta":10}'
	assert_status 200
	assert_body '.stock == 1000000000'
	api PUT "/api/products/$id/stock" '{"delta":1}'
	assert_error 409 stock_limit
	[ "$(db_stock "$id")" = 1000000000 ]
	api PUT "/api/products/$id/stock" '{"delta":1000000000}'
	assert_error 409 stock_limit
	# Concurrent deltas: exactly as many as fit succeed.
	set_stock "$id" 999999995
	for i in $(seq 10); do
		curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" -o /dev/null -w '%{http_code}\n' -X PUT \
			-H 'Content-Type: application/json' \
			--data-binary '{"delta":1}' \
			"$STACK_URL/api/products/$id/stock" &
	done >"$BATS_TEST_TMPDIR/codes"
	wait
	[ "$(grep -c 200 "$BATS_TEST_TMPDIR/codes")" = 5 ]
	[ "$(grep -c 409 "$BATS_TEST_TMPDIR/codes")" = 5 ]
	[ "$(db_stock "$id")" = 1000000000 ]
	set_stock "$id" 50
}

@test "health under a stalled MongoDB: short deadline, then the breaker" {
	api GET /api/health
	assert_status 200
	pid=$(stack_pid mongod-standin)
	echo "$pid" >"$BATS_TEST_TMPDIR/stalled"
	kill -STOP "$pid"
	# ORDERCAST_TIMEOUT_MS is 5000 here: each check ends long before.
	start=$(date +%s%N)
	for i in $(seq 6); do
		run curl -s -o "$BATS_TEST_TMPDIR/h" -w '%{http_code}' \
			--max-time 5 "$STACK_URL/api/health"
		assert_output 503
		jq -e '.mongodb.ok == false and .redis.ok == true' \
			"$BATS_TEST_TMPDIR/h"
	done
	ms=$((($(date +%s%N) - start) / 1000000))
	echo "6 health checks took $ms ms" >&3
	# Each would hold its thread for the 5 s timeout before: 30 s in all.
	# Half of that is far above what the short deadline takes (about
	# 2 s here), so a busy machine does not fail this.
	[ "$ms" -lt 15000 ]
	# Checks in parallel hold no thread for long: the config answers.
	for i in $(seq 8); do
		curl -s -o /dev/null --max-time 5 "$STACK_URL/api/health" &
	done
	run curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
		"$STACK_URL/api/config"
	assert_output 200
	wait
	kill -CONT "$pid"
	rm "$BATS_TEST_TMPDIR/stalled"
	deadline=$((SECONDS + 20))
	until api GET /api/health && [ "$status_code" = 200 ]; do
		[ "$SECONDS" -lt "$deadline" ] || { echo "$body" >&2; false; }
		sleep 0.1
	done
}

@test "Prometheus text grows past 256 KiB and reports what its cap drops" {
	key=$ORDERCAST_PREFIX:metrics:bulk
	fill() {
		/usr/bin/python3 -c '
import sys
n, key = int(sys.argv[1]), sys.argv[2]
args = ["HSET", key]
for i in range(n):
    args += ["field_%s_%06d" % ("x" * 80, i), "1"]
out = ["*%d\r\n" % len(args)]
out += ["$%d\r\n%s\r\n" % (len(a), a) for a in args]
sys.stdout.write("".join(out))' "$1" "$key" | stack_redis --pipe >/dev/null
	}
	fill 3000
	curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" --max-time 20 -o "$BATS_TEST_TMPDIR/prom" \
		"$STACK_URL/api/metrics?format=prometheus"
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/prom")" -gt 262144 ]
	[ "$(grep -c '^ordercast_bulk_field_' "$BATS_TEST_TMPDIR/prom")" = 3000 ]
	grep -qx 'ordercast_metrics_dropped 0' "$BATS_TEST_TMPDIR/prom"
	fill 8000
	curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" --max-time 20 -o "$BATS_TEST_TMPDIR/prom" \
		"$STACK_URL/api/metrics?format=prometheus"
	size=$(stat -c %s "$BATS_TEST_TMPDIR/prom")
	[ "$size" -le 1048576 ]
	kept=$(grep -c '^ordercast_bulk_field_' "$BATS_TEST_TMPDIR/prom")
	dropped=$(sed -n 's/^ordercast_metrics_dropped //p' "$BATS_TEST_TMPDIR/prom")
	echo "kept $kept, dropped $dropped, $size bytes" >&3
	[ "$dropped" -gt 0 ]
	[ "$kept" -lt 8000 ]
	# Every series is either in the text or counted as dropped.
	all=$(curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" "$STACK_URL/api/metrics" | jq '[.components[] | length] | add')
	[ "$((kept + dropped))" -ge 8000 ]
	[ "$((kept + dropped))" -le "$all" ]
	stack_redis del "$key" >/dev/null
}
