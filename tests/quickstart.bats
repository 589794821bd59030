#!/usr/bin/env bats
# The README's quick start: deploy/up --detach, a second deploy/up, and
# deploy/down leaving nothing of ours running.

bats_load_library bats-support
bats_load_library bats-assert

load lib/stack

setup_file() {
	export ORDERCAST_STATE=$BATS_FILE_TMPDIR/state
	export ORDERCAST_BUILDDIR=$OC_BUILDDIR
	PORT=$(stack_free_port)
	export PORT
}

teardown_file() {
	# Whatever a failed test left running.
	"$OC_SRCDIR/deploy/down" >/dev/null 2>&1 || true
	OC_STATE=$ORDERCAST_STATE stack_check_logs
}

@test "deploy/up --detach brings the stack up and /api/health answers 200" {
	run "$OC_SRCDIR/deploy/up" --detach
	echo "$output"
	assert_success
	assert_output --partial "http://127.0.0.1:$PORT/"
	assert_output --partial "$ORDERCAST_STATE"
	run curl -s -w '\n%{http_code}' "http://127.0.0.1:$PORT/api/health"
	assert_line --index 1 200
	echo "${lines[0]}" | jq -e '.status == "ok"'
	[ -S "$ORDERCAST_STATE/run/redis.sock" ]
}

@test "a second deploy/up says the stack is running" {
	run "$OC_SRCDIR/deploy/up" --detach
	assert_failure
	assert_output --partial "already running"
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/health"
	assert_output 200
}

@test "deploy/down stops every process it started" {
	local pids=() f
	for f in "$ORDERCAST_STATE"/run/*.pid; do
		pids+=("$(cat "$f")")
	done
	[ ${#pids[@]} -ge 4 ]
	run "$OC_SRCDIR/deploy/down"
	assert_success
	for pid in "${pids[@]}"; do
		run kill -0 "$pid"
		assert_failure
	done
	run ls "$ORDERCAST_STATE/run"
	refute_output --partial .pid
}

@test "deploy/up refuses unknown options" {
	run "$OC_SRCDIR/deploy/up" --bogus
	assert_failure 2
}
