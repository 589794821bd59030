#!/usr/bin/env bats
# ordercast-watch: exactly once across SIGKILL, Redis restarts and
# MongoDB restarts.
#
# The MongoDB stand-in keeps its data in memory. The stack starts it with
# --dbpath, so a SIGTERM makes it save its documents and its change
# history to a snapshot, and the restarted stand-in (same port) loads it:
# resume tokens issued before the restart stay valid, as with a real
# replica set. Writes are made only while it is up, so every change the
# writer saw acknowledged is in that history.

setup_file() {
	load watch-common
	watch_stack_start 3>&-
}

teardown_file() {
	load watch-common
	watch_stack_stop
}

setup() {
	load watch-common
}

# Insert orders with seq FROM..TO-1 into collection "orders".
write_orders() {
	watch_py "
for i in range($1, $2):
    db.orders.insert_one({'seq': i, 'run': '$3'})
"
}

# The log holds, after START entries, exactly one order.created per seq
# FROM..TO-1 of run RUN, in order, and nothing else.
check_orders() {
	watch_py "
start, lo, hi, run = $1, $2, $3, '$4'
try:
    wait_log(start + hi - lo, 120)
except SystemExit:
    print('# the log stays short; what it holds:', file=sys.stderr)
evs = log_events()[start:]
seqs = [e['doc']['seq'] for e in evs
        if e['type'] == 'order.created' and e['doc'].get('run') == run]
assert len(evs) == hi - lo, 'log has %d new events, want %d' % (
    len(evs), hi - lo)
missing = sorted(set(range(lo, hi)) - set(seqs))
dups = len(seqs) - len(set(seqs))
assert seqs == list(range(lo, hi)), (
    'missing %d (first %s), duplicates %d, out of order: %s' % (
    len(missing), missing[:5], dups, seqs != sorted(seqs)))
ids = [tuple(map(int, e['id'].split('-'))) for e in evs]
assert ids == sorted(set(ids))
"
}

xlen() {
	stack_redis xlen "$ORDERCAST_PREFIX:log"
}

@test "watch: SIGKILL at random moments in 5000 changes: exactly once" {
	local start writer pid kills=0
	start=$(xlen)
	write_orders 0 5000 kill &
	writer=$!
	# Kill while the writer runs, and at least four times in all.
	while kill -0 "$writer" 2>/dev/null || [ "$kills" -lt 4 ]; do
		sleep "0.$((RANDOM % 8 + 2))"
		pid=$(watch_pid) || fail "the watcher is not running"
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null || true
		kills=$((kills + 1))
		watch_start 3>&-
	done
	wait "$writer"
	echo "# $kills kills" >&3
	check_orders "$start" 0 5000 kill
}

@test "watch: Redis restarted mid-stream; the watcher recovers alone" {
	local start before
	start=$(xlen)
	before=$(grep -c "redis .*retrying" \
		"$OC_STATE/log/ordercast-watch.log" || true)
	write_orders 0 1500 redis
	stack_restart_redis 3>&-
	write_orders 1500 3000 redis
	check_orders "$start" 0 3000 redis
	watch_pid >/dev/null
	# One warning for the outage, however many retries it took.
	run grep -c "redis .*retrying" "$OC_STATE/log/ordercast-watch.log"
	[ "$output" -eq $((before + 1)) ]
	grep -q "redis .*connected again" "$OC_STATE/log/ordercast-watch.log"
}

@test "watch: MongoDB restarted mid-stream; the watcher recovers alone" {
	local start before
	start=$(xlen)
	before=$(grep -c "mongodb: .*retrying" \
		"$OC_STATE/log/ordercast-watch.log" || true)
	write_orders 0 1500 mongo
	stack_restart_mongo 3>&-
	write_orders 1500 3000 mongo
	check_orders "$start" 0 3000 mongo
	watch_pid >/dev/null
	run grep -c "mongodb: .*retrying" "$OC_STATE/log/ordercast-watch.log"
	[ "$output" -le $((before + 1)) ]
}

@test "watch: SIGTERM in a burst exits 0; the restart resumes" {
	local start pid status=0
	# A watcher of this shell, so that its exit status can be read.
	stack_stop_prog ordercast-watch || true
	watch_start 3>&-
	start=$(xlen)
	write_orders 0 2000 term
	pid=$(watch_pid)
	kill -TERM "$pid"
	wait "$pid" || status=$?
	[ "$status" -eq 0 ]
	watch_start 3>&-
	check_orders "$start" 0 2000 term
}

# At least N "still down" retries logged by the watcher PID in LOG.
retried() {
	[ "$(grep -c "ordercast-watch\[$2\]: redis .*still down" "$3")" -ge "$1" ]
}

@test "watch: Redis down: it stays up, warns once, backs off, catches up" {
	local log=$OC_STATE/log/ordercast-watch.log pid start n
	stack_stop_prog ordercast-watch || true
	ORDERCAST_LOG_LEVEL=debug watch_start 3>&-
	pid=$(watch_pid)
	start=$(xlen)
	stack_stop_prog redis || true
	write_orders 0 100 down
	stack_wait ordercast-watch 60 retried 4 "$pid" "$log"
	kill -0 "$pid"
	# Backoff: a handful of attempts by now, where a spin makes thousands.
	n=$(grep -c "ordercast-watch\[$pid\]: redis .*still down" "$log")
	[ "$n" -lt 40 ]
	run grep -c "warn ordercast-watch\[$pid\]: redis .*retrying" "$log"
	[ "$output" -eq 1 ]
	stack_start_redis 3>&-
	check_orders "$start" 0 100 down
}

# Milliseconds of the monotonic clock.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

@test "watch: Redis that connects but refuses every write: backoff still grows" {
	local log=$OC_STATE/log/ordercast-watch.log pid start t0 took
	stack_stop_prog ordercast-watch || true
	ORDERCAST_LOG_LEVEL=debug watch_start 3>&-
	pid=$(watch_pid)
	start=$(xlen)
	t0=$(now_ms)
	# Every write is refused (OOM); connecting, SCRIPT LOAD and GET work.
	stack_redis config set maxmemory 1 >/dev/null
	write_orders 0 1 oom
	stack_wait ordercast-watch 60 retried 5 "$pid" "$log"
	took=$(($(now_ms) - t0))
	stack_redis config set maxmemory 0 >/dev/null
	# A delay that restarts at 100 ms on every connect gives 5 retries
	# in about half a second; doubling from 100 ms takes 1.55 s at least.
	echo "# 5 retries took ${took} ms" >&3
	[ "$took" -ge 1500 ]
	kill -0 "$pid"
	check_orders "$start" 0 1 oom
}
