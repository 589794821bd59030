# shellcheck shell=bash
#
# What the relay's suites (tests/sse*.bats) share: each test starts its
# stream readers in the background and lists their pids in CURLS, and
# teardown stops them, whatever the test's outcome.

teardown_file() {
	load lib/stack
	stack_stop
}

setup() {
	load lib/stack
	bats_load_library bats-support
	bats_load_library bats-assert
	CURLS=()
}

teardown() {
	local p
	for p in "${CURLS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
}
