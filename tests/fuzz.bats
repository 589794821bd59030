#!/usr/bin/env bats
# The seed corpus of every fuzz target (tests/fuzz/corpus/NAME), replayed
# by tests/fuzz/replay-NAME: under the sanitizer build a crash, a leak
# or a broken property fails the suite, with the input named.

bats_load_library bats-support
bats_load_library bats-assert

# Replay one target's corpus. Usage: replay NAME
replay() {
	run "$OC_BUILDDIR/tests/fuzz/replay-$1" "$OC_SRCDIR/tests/fuzz/corpus/$1"
	assert_success
	assert_line --regexp "^ok 1 - .*: [0-9]+ inputs$"
}

@test "strict JSON parser and its BSON conversion: corpus replays" {
	replay json-parse
}

@test "BSON to JSON converter: corpus replays" {
	replay bson-to-json
}

@test "change event conversion: corpus replays" {
	replay change-event
}

@test "FastCGI records and name-value pairs: corpus replays" {
	replay fcgi-record
}

@test "Last-Event-ID parse: corpus replays" {
	replay sse-id
}

@test "filter language: corpus replays" {
	replay filter
}

@test "query string decoding: corpus replays" {
	replay query
}

@test "token from Authorization and Cookie: corpus replays" {
	replay token-headers
}

@test "session records: corpus replays" {
	replay session-record
}

@test "error bodies: corpus replays" {
	replay errbody
}

@test "API request parsing: corpus replays" {
	replay api-req
}

@test "a corpus folder that is missing fails the replay" {
	run "$OC_BUILDDIR/tests/fuzz/replay-sse-id" "$BATS_TEST_TMPDIR/none"
	assert_failure
	assert_line --partial "not ok 1"
}
