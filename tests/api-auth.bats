#!/usr/bin/env bats
# Accounts, sessions and access control, tried as an attacker would:
# every route as anonymous, as customer A, as customer B and as admin,
# both ways (what each may do works, what each may not is refused), with
# forged, expired and ended tokens, cross-site requests and the login
# limit.

load lib/stack
load api-common

setup_file() {
	stack_start
	A_EMAIL=alice.martin@example.com
	B_EMAIL=bruno.costa@example.com
	A_TOKEN=$(stack_login "$A_EMAIL")
	B_TOKEN=$(stack_login "$B_EMAIL")
	A_ID=$(stack_user_id "$A_EMAIL")
	B_ID=$(stack_user_id "$B_EMAIL")
	export A_EMAIL B_EMAIL A_TOKEN B_TOKEN A_ID B_ID
}

teardown_file() {
	stack_stop
}

# Forget failed logins, so that one test's failures do not limit the next.
forget_login_failures() {
	local k
	for k in $(stack_redis --scan --pattern "$ORDERCAST_PREFIX:login:*"); do
		stack_redis del "$k" >/dev/null
	done
}

# Requests as someone: as anon|a|b|admin METHOD PATH [BODY [CURL-ARGS]]
as() {
	local who=$1
	shift
	case $who in
	anon) API_TOKEN= api "$@" ;;
	a) API_TOKEN=$A_TOKEN api "$@" ;;
	b) API_TOKEN=$B_TOKEN api "$@" ;;
	admin) API_TOKEN=$OC_ADMIN_TOKEN api "$@" ;;
	esac
}

# An order of one unit of a product for a customer, as someone; sets
# order_id on 201.
order_as() {
	local who=$1 customer=$2 product
	product=$(product_id MS-202)
	as "$who" POST /api/orders \
		"{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":1}]}"
	order_id=
	[ "$status_code" != 201 ] || order_id=$(echo "$body" | jq -r .id)
}

@test "sign in: 201 with token, user and expiry; cookie HttpOnly, SameSite=Strict" {
	api_login "$A_EMAIL" "$ORDERCAST_DEMO_PASSWORD"
	assert_status 201
	assert_body '(.token | length) >= 22 and .user.email == "alice.martin@example.com"'
	assert_body '.user.role == "customer" and (.user.id | length) == 24'
	assert_body '(.expiresAt | type) == "string"'
	assert_body '[.. | objects | keys[]] | index("passwordHash") == null'
	cookie=$(api_header Set-Cookie)
	[[ $cookie == ordercast_session=* ]]
	[[ $cookie == *HttpOnly* ]]
	[[ $cookie == *SameSite=Strict* ]]
	[[ $cookie == *Path=/* ]]
	[[ $cookie != *Secure* ]]
}

@test "sign in over HTTPS sets a Secure cookie" {
	# The web server says HTTPS=on to FastCGI; run the API as CGI with it.
	out=$(printf '{"email":"%s","password":"%s"}' "$A_EMAIL" \
		"$ORDERCAST_DEMO_PASSWORD" | stack_cgi POST /api/session HTTPS=on)
	echo "$out" | grep -qi '^Set-Cookie: ordercast_session=.*; Secure'
}

@test "a wrong password and an unknown email get the same answer" {
	api_login "$A_EMAIL" 'not the password'
	assert_error 401 bad_credentials
	first=$body
	api_login nobody@example.com 'not the password'
	assert_error 401 bad_credentials
	[ "$body" = "$first" ]
	forget_login_failures
}

@test "who am I: bearer, cookie, anonymous, forged and malformed tokens" {
	as a GET /api/session
	assert_status 200
	assert_body ".user.id == \"$A_ID\" and .user.role == \"customer\""
	API_TOKEN= api GET /api/session "" -H "Cookie: x=1; ordercast_session=$A_TOKEN"
	assert_status 200
	assert_body ".user.id == \"$A_ID\""
	as anon GET /api/session
	assert_error 401 unauthorized
	API_TOKEN=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA api GET /api/session
	assert_error 401 unauthorized
	API_TOKEN="$A_TOKEN'; DROP" api GET /api/session
	assert_error 401 unauthorized
	API_TOKEN=$(printf '%0500d' 0) api GET /api/orders
	assert_error 401 unauthorized
}

@test "Redis keeps only a hash of the token, with idle and absolute expiry" {
	run stack_redis --scan --pattern "$ORDERCAST_PREFIX:session:*"
	[ -n "$output" ]
	if echo "$output" | grep -qF "$A_TOKEN"; then
		echo "a session key holds the token itself" >&2
		return 1
	fi
	key=$(echo "$output" | head -1)
	ttl=$(stack_redis pttl "$key")
	[ "$ttl" -gt 0 ] && [ "$ttl" -le 86400000 ]
	stack_redis get "$key" | jq -e '.expires > .created' >/dev/null
}

@test "sign out ends the session: the next request is 401, the cookie is cleared" {
	t=$(stack_login "$A_EMAIL")
	API_TOKEN=$t api GET /api/orders
	assert_status 200
	API_TOKEN=$t api DELETE /api/session
	assert_status 204
	[[ $(api_header Set-Cookie) == *Max-Age=0* ]]
	API_TOKEN=$t api GET /api/orders
	assert_error 401 unauthorized
	API_TOKEN=$t api DELETE /api/session
	assert_error 401 unauthorized
}

@test "an expired session is 401" {
	t=$(stack_login "$B_EMAIL")
	h=$(printf '%s' "$t" | b2sum -l 256 | cut -d' ' -f1)
	key="$ORDERCAST_PREFIX:session:$h"
	rec=$(stack_redis get "$key")
	[ -n "$rec" ]
	# The absolute expiry has passed, whatever the idle one says.
	stack_redis set "$key" "$(echo "$rec" | jq -c '.expires = 1')" px 60000 >/dev/null
	API_TOKEN=$t api GET /api/session
	assert_error 401 unauthorized
	[ "$(stack_redis exists "$key")" = 0 ]
}

@test "anonymous: catalog, config, health status, sign-in; nothing else" {
	pid=$(product_id KB-101)
	for path in /api/products "/api/products/$pid" /api/config; do
		as anon GET "$path"
		assert_status 200
	done
	as anon GET /api/health
	assert_body '.status | type == "string"'
	assert_body '[.. | objects | keys[]] | all(. != "error" and . != "pid" and . != "host" and . != "hostname")'
	assert_body '.mongodb.ok == true and (.watcher | has("ok"))'
	for path in /api/users /api/orders /api/stats /api/metrics \
	    "/api/metrics?format=prometheus" /api/session; do
		as anon GET "$path"
		assert_error 401 unauthorized
	done
	order_as admin "$A_ID"
	assert_status 201
	a_order=$order_id
	as anon GET "/api/orders/$a_order"
	assert_error 401 unauthorized
	order_as anon "$A_ID"
	assert_error 401 unauthorized
	as anon PUT "/api/products/$pid/stock" '{"stock":5}'
	assert_error 401 unauthorized
	as anon PUT "/api/orders/$a_order/status" '{"status":"cancelled"}'
	assert_error 401 unauthorized
	for sim in new-order update-stock status-update; do
		as anon POST "/api/simulate/$sim" '{}'
		assert_error 401 unauthorized
	done
}

@test "a customer sees only their own orders; another's order does not exist" {
	order_as admin "$B_ID"
	b_order=$order_id
	order_as a "$A_ID"
	assert_status 201
	a_order=$order_id
	as a GET /api/orders?limit=100
	assert_status 200
	assert_body "[.data[].customerId] | all(. == \"$A_ID\")"
	assert_body "[.data[].id] | index(\"$a_order\") != null"
	as a GET "/api/orders?customerId=$B_ID"
	assert_status 200
	assert_body "[.data[].customerId] | all(. == \"$A_ID\")"
	as a GET "/api/orders/$b_order"
	assert_error 404 not_found
	as b GET "/api/orders/$a_order"
	assert_error 404 not_found
	as a GET "/api/orders/$a_order"
	assert_status 200
	as admin GET "/api/orders/$a_order"
	assert_status 200
}

@test "a customer orders only for themselves: the session decides" {
	product=$(product_id MS-202)
	as a POST /api/orders "{\"items\":[{\"productId\":\"$product\",\"qty\":1}]}"
	assert_status 201
	assert_body ".customerId == \"$A_ID\""
	before=$(db_count orders)
	order_as a "$B_ID"
	assert_error 403 forbidden
	[ "$(db_count orders)" = "$before" ]
	admin_id=$(stack_user_id admin@ordercast.example)
	order_as admin "$admin_id"
	assert_status 403
	[ "$(db_count orders)" = "$before" ]
}

@test "a customer cancels their own pending order, and nothing more" {
	order_as a "$A_ID"
	mine=$order_id
	order_as b "$B_ID"
	theirs=$order_id
	as a PUT "/api/orders/$theirs/status" '{"status":"cancelled"}'
	assert_error 404 not_found
	as a PUT "/api/orders/$mine/status" '{"status":"processing"}'
	assert_error 403 forbidden
	as a PUT "/api/orders/$mine/status" '{"status":"cancelled"}'
	assert_status 200
	assert_body '.status == "cancelled"'
	# The history says who placed the order and who moved it.
	assert_body "[.history[].by] == [\"$A_ID\", \"$A_ID\"]"
	order_as a "$A_ID"
	as admin PUT "/api/orders/$order_id/status" '{"status":"processing"}'
	assert_status 200
	admin_id=$(stack_user_id admin@ordercast.example)
	assert_body ".history[-1].by == \"$admin_id\""
	as a PUT "/api/orders/$order_id/status" '{"status":"cancelled"}'
	assert_error 403 forbidden
	as b GET "/api/orders/$theirs"
	assert_body '.status == "pending"'
}

@test "customers may not reach users, stock, stats, metrics or simulate" {
	pid=$(product_id KB-101)
	stock=$(db_stock "$pid")
	for who in a b; do
		for path in /api/users /api/stats /api/metrics; do
			as "$who" GET "$path"
			assert_error 403 forbidden
		done
		as "$who" PUT "/api/products/$pid/stock" '{"stock":1}'
		assert_error 403 forbidden
		for sim in new-order update-stock status-update; do
			as "$who" POST "/api/simulate/$sim" '{}'
			assert_error 403 forbidden
		done
	done
	[ "$(db_stock "$pid")" = "$stock" ]
	as a GET /api/health
	assert_body '[.. | objects | keys[]] | all(. != "error" and . != "pid" and . != "host" and . != "hostname")'
}

@test "admin reaches everything; no user list or event carries a password hash" {
	pid=$(product_id KB-101)
	for path in /api/users /api/stats /api/metrics /api/orders /api/health \
	    /api/session; do
		as admin GET "$path"
		[ "$status_code" = 200 ] || [ "$path" = /api/health ]
	done
	as admin GET /api/users
	assert_body '[.. | objects | keys[]] | index("passwordHash") == null'
	as admin GET /api/health
	assert_body '.mongodb.ok and .redis.ok'
	as admin PUT "/api/products/$pid/stock" '{"delta":0}'
	assert_status 200
	as admin POST /api/simulate/new-order '{}'
	assert_status 201
	! stack_redis xrange "$ORDERCAST_PREFIX:log" - + | grep -q passwordHash
}

@test "idempotency keys belong to their customer; a changed repeat is 422" {
	product=$(product_id MS-202)
	key="idem-$RANDOM$RANDOM"
	b1="{\"items\":[{\"productId\":\"$product\",\"qty\":1}]}"
	b2="{\"items\":[{\"productId\":\"$product\",\"qty\":2}]}"
	as a POST /api/orders "$b1" -H "Idempotency-Key: $key"
	assert_status 201
	first=$(echo "$body" | jq -r .id)
	as b POST /api/orders "$b1" -H "Idempotency-Key: $key"
	assert_status 201
	assert_body ".id != \"$first\" and .customerId == \"$B_ID\""
	as a POST /api/orders "$b1" -H "Idempotency-Key: $key"
	assert_status 200
	assert_body ".id == \"$first\""
	as a POST /api/orders "$b2" -H "Idempotency-Key: $key"
	assert_error 422 idempotency_mismatch
}

@test "cross-site: state changes need JSON and a same-site Origin" {
	pid=$(product_id KB-101)
	stock=$(db_stock "$pid")
	orders=$(db_count orders)
	for route in "POST /api/simulate/new-order" "POST /api/simulate/update-stock" \
	    "POST /api/simulate/status-update" "POST /api/orders" \
	    "PUT /api/products/$pid/stock" "DELETE /api/session"; do
		set -- $route
		# A form on another site: urlencoded or plain text, maybe empty.
		API_CT=application/x-www-form-urlencoded as admin "$1" "$2" 'a=1'
		assert_error 415 unsupported_media_type
		API_CT=text/plain as admin "$1" "$2" '{}'
		assert_error 415 unsupported_media_type
		API_CT= as admin "$1" "$2"
		assert_error 415 unsupported_media_type
		as admin "$1" "$2" '{}' -H 'Origin: https://evil.example'
		assert_error 403 cross_origin
	done
	[ "$(db_stock "$pid")" = "$stock" ]
	[ "$(db_count orders)" = "$orders" ]
	as admin POST /api/simulate/new-order '{}' -H "Origin: $STACK_URL"
	assert_status 201
}

@test "failed sign-ins are limited: 429 with Retry-After, even with the right password" {
	forget_login_failures
	for _ in $(seq 10); do
		api_login "$B_EMAIL" 'wrong password!'
		assert_error 401 bad_credentials
	done
	api_login "$B_EMAIL" "$ORDERCAST_DEMO_PASSWORD"
	assert_error 429 too_many_logins
	[ "$(api_header Retry-After)" -gt 0 ]
	forget_login_failures
	api_login "$B_EMAIL" "$ORDERCAST_DEMO_PASSWORD"
	assert_status 201
}

@test "account commands: add, short passwords refused, a password change ends sessions" {
	api_bin=$OC_BUILDDIR/ordercast-api
	run bash -c "echo short | '$api_bin' --add-user carol@example.com --name Carol --role customer"
	[ "$status" -ne 0 ]
	[[ $output == *"at least 10"* ]]
	run bash -c "echo 'carol-password-1' | '$api_bin' --add-user Carol@Example.com --name Carol --role customer"
	[ "$status" -eq 0 ]
	run bash -c "echo 'carol-password-1' | '$api_bin' --add-user carol@example.com --name Carol --role customer"
	[ "$status" -ne 0 ]
	[[ $output == *exists* ]]
	api_login carol@example.com carol-password-1
	assert_status 201
	t=$(echo "$body" | jq -r .token)
	run bash -c "echo 'carol-password-2' | '$api_bin' --set-password carol@example.com"
	[ "$status" -eq 0 ]
	API_TOKEN=$t api GET /api/session
	assert_error 401 unauthorized
	api_login carol@example.com carol-password-1
	assert_error 401 bad_credentials
	api_login carol@example.com carol-password-2
	assert_status 201
	t=$(echo "$body" | jq -r .token)
	run "$api_bin" --set-role carol@example.com --role admin
	[ "$status" -eq 0 ]
	API_TOKEN=$t api GET /api/session
	assert_error 401 unauthorized
	stack_mongo "u = db.users.find_one({'email': 'carol@example.com'}); print(u['passwordHash'][:10])" |
		grep -q '^\$argon2id'
	# The watcher published the new account and its changes, without
	# the hash.
	for _ in $(seq 200); do
		stack_redis xrange "$ORDERCAST_PREFIX:log" - + |
			grep -q '"type":"user.updated".*carol@example.com' && break
		sleep 0.05
	done
	stack_redis xrange "$ORDERCAST_PREFIX:log" - + | grep -q 'carol@example.com'
	if stack_redis xrange "$ORDERCAST_PREFIX:log" - + |
	    grep -q -e passwordHash -e argon2; then
		echo "a password hash reached the event log" >&2
		return 1
	fi
	forget_login_failures
}

@test "10 racing sign-ins, each token good at two API processes" {
	for i in $(seq 10); do
		curl -s -X POST -H 'Content-Type: application/json' \
			--data-binary "{\"email\":\"$A_EMAIL\",\"password\":\"$ORDERCAST_DEMO_PASSWORD\"}" \
			"$STACK_URL/api/session" >"$BATS_TEST_TMPDIR/login.$i" &
	done
	wait
	for i in $(seq 10); do
		t=$(jq -r .token "$BATS_TEST_TMPDIR/login.$i")
		[ ${#t} -ge 22 ]
		API_TOKEN=$t api GET /api/session
		assert_status 200
		# A second API process: the same binary as plain CGI.
		out=$(stack_cgi GET /api/session "HTTP_AUTHORIZATION=Bearer $t" </dev/null)
		echo "$out" | grep -q "\"id\":\"$A_ID\""
	done
	[ "$(ls "$BATS_TEST_TMPDIR"/login.* | xargs jq -r .token | sort -u | wc -l)" = 10 ]
}

@test "REMOTE_USER counts only when ORDERCAST_TRUST_REMOTE_USER=1, and is recorded for the relays" {
	out=$(stack_cgi GET /api/session REMOTE_USER=Alice.Martin@example.com </dev/null)
	echo "$out" | grep -q '^Status: 401'
	out=$(stack_cgi GET /api/session ORDERCAST_TRUST_REMOTE_USER=1 \
		REMOTE_USER=Alice.Martin@example.com </dev/null)
	echo "$out" | grep -q '^Status: 200'
	echo "$out" | tail -1 | jq -e ".user.id == \"$A_ID\" and .expiresAt == null"
	h=$(printf '%s' alice.martin@example.com | b2sum -l 256 | cut -d' ' -f1)
	stack_redis get "$ORDERCAST_PREFIX:remote-user:$h" |
		jq -e ".userId == \"$A_ID\" and .role == \"customer\"" >/dev/null
	# Nobody by that email: nobody at all, not a guess.
	out=$(stack_cgi GET /api/orders ORDERCAST_TRUST_REMOTE_USER=1 \
		REMOTE_USER=nobody@example.com </dev/null)
	echo "$out" | grep -q '^Status: 401'
	# A customer by REMOTE_USER is still only a customer.
	out=$(stack_cgi GET /api/users ORDERCAST_TRUST_REMOTE_USER=1 \
		REMOTE_USER=alice.martin@example.com </dev/null)
	echo "$out" | grep -q '^Status: 403'
}
