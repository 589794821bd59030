#!/usr/bin/env bats
# Behind a web server that authenticates (lighttpd mod_auth here) with
# ORDERCAST_TRUST_REMOTE_USER=1: the API takes REMOTE_USER as the user,
# and the relay scopes that user's streams the same way, from the record
# the API keeps in Redis.

bats_require_minimum_version 1.5.0

setup_file() {
	load lib/stack
	stack_start
	A_ID=$(stack_user_id alice.martin@example.com)
	export A_ID
	# The same programs, now trusting the web server's REMOTE_USER.
	stack_stop_prog lighttpd
	stack_stop_prog ordercast-api
	stack_stop_prog ordercast-sse
	export ORDERCAST_TRUST_REMOTE_USER=1
	stack_start_api
	stack_start_sse
	printf '%s\n' 'alice.martin@example.com:alice-web-pw' \
		'bruno.costa@example.com:bruno-web-pw' >"$STACK_DIR/users"
	stack_write_lighttpd_conf
	cat >>"$OC_STATE/lighttpd.conf" <<CONF
server.modules += ("mod_auth", "mod_authn_file")
auth.backend = "plain"
auth.backend.plain.userfile = "$STACK_DIR/users"
auth.require = ("/api/" => ("method" => "basic", "realm" => "ordercast",
	"require" => "valid-user"))
CONF
	stack_spawn lighttpd lighttpd -D -f "$OC_STATE/lighttpd.conf"
	stack_wait lighttpd 20 stack_http_ready
}

teardown_file() {
	load lib/stack
	stack_stop
}

setup() {
	load lib/stack
	bats_load_library bats-support
	bats_load_library bats-assert
}

# The HTTP status of a request as a web-server user; the body goes to
# $BATS_TEST_TMPDIR/body. Usage: as_web USER:PASSWORD PATH [CURL-ARGS]
as_web() {
	local who=$1 path=$2
	shift 2
	curl -s --max-time 3 -u "$who" -o "$BATS_TEST_TMPDIR/body" \
		-w '%{http_code}' "$@" "$STACK_URL$path" || true
}

@test "the web server's user is the API's caller, by email" {
	run as_web alice.martin@example.com:alice-web-pw /api/session
	assert_output 200
	jq -e ".user.id == \"$A_ID\" and .user.role == \"customer\"" \
		"$BATS_TEST_TMPDIR/body"
	run as_web alice.martin@example.com:wrong /api/session
	assert_output 401
	run as_web alice.martin@example.com:alice-web-pw /api/users
	assert_output 403
}

@test "the relay scopes a REMOTE_USER stream as that user" {
	# The API has seen Alice: the relay knows her role from Redis.
	run as_web alice.martin@example.com:alice-web-pw /api/session
	assert_output 200
	run as_web alice.martin@example.com:alice-web-pw \
		'/api/events?topics=orders,products'
	# curl ends the open stream at --max-time: 200 and the preamble.
	assert_output 200
	grep -q '^retry:' "$BATS_TEST_TMPDIR/body"
	run as_web alice.martin@example.com:alice-web-pw \
		'/api/events?topics=users'
	assert_output 403
	# Bruno is a customer the API has not seen yet: anonymous to the
	# relay until then, so his order events are refused, not leaked.
	run as_web bruno.costa@example.com:bruno-web-pw \
		'/api/events?topics=orders'
	assert_output 401
}

# The process is gone.
gone() {
	! kill -0 "$1" 2>/dev/null
}

@test "a role change ends a REMOTE_USER's open stream at once" {
	run as_web alice.martin@example.com:alice-web-pw /api/session
	assert_output 200
	out=$BATS_TEST_TMPDIR/stream
	curl -sN --max-time 30 -u alice.martin@example.com:alice-web-pw \
		"$STACK_URL/api/events?topics=orders,products" >"$out" 3>&- &
	pid=$!
	wait_for 10 grep -q '^retry:' "$out"
	"$OC_BUILDDIR/ordercast-api" --set-role alice.martin@example.com \
		--role customer
	wait_for 3 gone "$pid"
	h=$(printf '%s' alice.martin@example.com | b2sum -l 256 | cut -d' ' -f1)
	[ "$(stack_redis exists "$ORDERCAST_PREFIX:remote-user:$h")" = 0 ]
}
