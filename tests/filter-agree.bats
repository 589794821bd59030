#!/usr/bin/env bats
# The same filter selects the same orders in a list and on a stream: for
# many generated filters (seeded), the MongoDB filter run by the server
# through libmongoc and the stream evaluator admit the same generated
# orders (tests/filter-agree-client.c).
#
# With ORDERCAST_MONGODB_URI set, the filters run on that real replica
# set (in a database of their own, dropped at the end).

bats_load_library bats-support
bats_load_library bats-assert

setup_file() {
	local top
	top=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export OC_SRCDIR=${OC_SRCDIR:-$top}
	export OC_BUILDDIR=${OC_BUILDDIR:-$top}
	export AGREE=$OC_BUILDDIR/tests/filter-agree-client
	export CLIENT=$OC_BUILDDIR/tests/mongod-standin/standin-client
	export STANDIN=$OC_SRCDIR/tests/mongod-standin/mongod-standin
	export TDB=filter_agree_$$_$RANDOM
	if [ ! -x "$AGREE" ]; then
		echo "build $AGREE first (make check builds it)" >&2
		return 1
	fi
	load "$OC_SRCDIR/tests/mongod-standin/standin-helpers.bash"
	if [ -n "${ORDERCAST_MONGODB_URI:-}" ]; then
		export URI=$ORDERCAST_MONGODB_URI
		export REAL_SERVER=1
	else
		export MAIN_DIR=$BATS_FILE_TMPDIR/main
		start_standin "$MAIN_DIR"
		URI=$(standin_uri "$MAIN_DIR")
		export URI
		export REAL_SERVER=
	fi
}

teardown_file() {
	load "$OC_SRCDIR/tests/mongod-standin/standin-helpers.bash"
	if [ -n "$REAL_SERVER" ]; then
		local n
		for n in 1 2 3; do
			oc drop-database "${TDB}_$n" >/dev/null || true
		done
	elif [ -n "${MAIN_DIR:-}" ]; then
		stop_standin "$MAIN_DIR"
	fi
}

# agree N SEED: N filters over 120 orders in a database of this test.
agree() {
	run "$AGREE" "$URI" "${TDB}_$BATS_TEST_NUMBER" "$2" "$1" 120
	echo "$output" | head -40
	assert_success
	assert_line --regexp '^[0-9]+ filters over 120 orders: [1-9][0-9]* admitted in all, 0 disagreements$'
}

@test "400 generated filters agree (seed 1)" {
	agree 400 1
}

@test "400 generated filters agree (seed 20240301)" {
	agree 400 20240301
}

@test "400 generated filters agree (seed from the clock, printed on failure)" {
	local seed
	seed=$(date +%s)
	echo "seed $seed"
	agree 400 "$seed"
}
