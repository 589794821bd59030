#!/usr/bin/env bats
# /api/metrics with several processes of one program on one Redis: two
# relays' clients add up and a killed relay's share goes within
# seconds, their counters add up, two watchers' lag is the worst one's,
# never a sum, and Prometheus types gauges as gauges. Relay a serves the
# stack's socket first; once its streams are open the socket is moved
# aside, so lighttpd's next streams reach relay b on a new one.

bats_require_minimum_version 1.5.0

load lib/stack
load api-common

setup_file() {
	stack_start
	stack_stop_prog ordercast-sse
}

teardown_file() {
	stack_stop
}

setup() {
	CURLS=()
	relay_start ordercast-sse
}

teardown() {
	local p
	for p in "${CURLS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	stack_stop_prog sse-b
	stack_stop_prog watch-b
	stack_stop_prog ordercast-sse
	rm -f "$OC_STATE/run/sse.sock" "$OC_STATE/run/sse-a.sock"
}

# relay_start NAME: a relay on the socket lighttpd reaches.
relay_start() {
	rm -f "$OC_STATE/run/sse.sock"
	stack_spawn "$1" "$OC_BUILDDIR/ordercast-sse" \
		--listen "unix:$OC_STATE/run/sse.sock"
	stack_wait "$1" 20 test -S "$OC_STATE/run/sse.sock"
}

# streams N TAG: open N admin streams in the background.
streams() {
	local i
	for ((i = 0; i < $1; i++)); do
		curl -sN --max-time 120 -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
			"$STACK_URL/api/events" >"$BATS_TEST_TMPDIR/$2-$i" 3>&- &
		CURLS+=($!)
	done
}

# The whole /api/metrics JSON.
metrics() {
	curl -s --max-time 10 -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$STACK_URL/api/metrics"
}

# metric_is COMPONENT FIELD VALUE: /api/metrics shows exactly VALUE.
metric_is() {
	[ "$(metrics | jq -r ".components.$1.$2")" = "$3" ]
}

# The figure of one COMPONENT FIELD, for messages and sums.
metric() {
	metrics | jq -r ".components.$1.$2"
}

# Fail saying what /api/metrics showed.
show_metrics() {
	echo "metrics: $(metrics | jq -c '.components | del(.api)')" >&2
	return 1
}

# The per-process gauge hashes of PROGRAM in Redis.
gauge_keys() {
	stack_redis --scan --pattern "$ORDERCAST_PREFIX:metrics:$1:*"
}

# Move relay a's socket aside and start relay b on the stack's.
second_relay() {
	mv "$OC_STATE/run/sse.sock" "$OC_STATE/run/sse-a.sock"
	relay_start sse-b
}

# The number of events all stream files of this test hold.
ids_received() {
	cat "$BATS_TEST_TMPDIR"/[ab]-* | grep -c '^id: ' || true
}

# True when every stream file holds at least one event.
all_got_one() {
	local f
	for f in "$BATS_TEST_TMPDIR"/[ab]-*; do
		grep -q '^id: ' "$f" || return 1
	done
}

@test "clients of two relays add up; a SIGKILLed relay's share goes" {
	streams 3 a
	wait_for 15 metric_is sse clients_connected 3 || show_metrics
	second_relay
	streams 2 b
	wait_for 15 metric_is sse clients_connected 5 || show_metrics
	metric_is sse instances 2 || show_metrics
	[ "$(gauge_keys sse | wc -l)" = 2 ]
	# No process's own hash is a component of its own.
	metrics | jq -e '.components | keys | all(test(":") | not)'
	kill -KILL "$(stack_pid ordercast-sse)"
	wait_for 15 metric_is sse clients_connected 2 || show_metrics
	metric_is sse instances 1 || show_metrics
}

@test "a relay that stops cleanly takes its gauge with it at once" {
	streams 1 a
	wait_for 15 metric_is sse clients_connected 1 || show_metrics
	second_relay
	streams 2 b
	wait_for 15 metric_is sse instances 2 || show_metrics
	stack_stop_prog sse-b
	# Gone when the process is: no waiting for the TTL.
	metric_is sse instances 1 || show_metrics
	metric_is sse clients_connected 1 || show_metrics
}

@test "the event counters of both relays add up" {
	local before pid total
	streams 2 a
	wait_for 15 metric_is sse clients_connected 2 || show_metrics
	second_relay
	streams 1 b
	wait_for 15 metric_is sse clients_connected 3 || show_metrics
	before=$(metric sse events_sent)
	[ "$before" = null ] && before=0
	pid=$(curl -s "$STACK_URL/api/products" | jq -r '.data[0].id')
	api PUT "/api/products/$pid/stock" '{"delta":1}'
	assert_status 200
	wait_for 15 all_got_one
	total=$(ids_received)
	[ "$total" -ge 3 ]
	wait_for 10 metric_is sse events_sent $((before + total)) ||
		{ echo "streams got $total after $before" >&2; show_metrics; }
}

# True when the watch component's lag is the largest of the watchers'
# own hashes and every standby's (all but LEADER's) is 0.
lag_is_largest() {
	local k v max=0
	for k in $(gauge_keys watch); do
		v=$(stack_redis hget "$k" lag_ms)
		if [ "$k" != "$ORDERCAST_PREFIX:metrics:watch:$1" ] &&
		    [ "$v" != 0 ]; then
			echo "standby $k reports lag $v" >&2
			return "$OC_WAIT_NEVER"
		fi
		if [ "$v" -gt "$max" ]; then
			max=$v
		fi
	done
	[ "$(metric watch lag_ms)" = "$max" ]
}

@test "two watchers: the lag is the worst one's, never a sum" {
	local leader k pid
	stack_spawn watch-b "$OC_BUILDDIR/ordercast-watch"
	wait_for 20 metric_is watch instances 2 || show_metrics
	leader=$(stack_redis get "$ORDERCAST_PREFIX:watch:alive" |
		jq -r .leader)
	[[ "$leader" == *":$(stack_pid ordercast-watch)" ]]
	# A change, so the leader has a lag to report.
	pid=$(curl -s "$STACK_URL/api/products" | jq -r '.data[0].id')
	api PUT "/api/products/$pid/stock" '{"delta":1}'
	assert_status 200
	wait_for 10 lag_is_largest "$leader" || show_metrics
	# Two more watchers that have just lost the lease and still report
	# the lag of when they led: the figure is the worst, not the sum.
	for k in old-leader-1:1 old-leader-2:2; do
		stack_redis hset "$ORDERCAST_PREFIX:metrics:watch:$k" \
			lag_ms 50000 >/dev/null
		stack_redis pexpire "$ORDERCAST_PREFIX:metrics:watch:$k" \
			20000 >/dev/null
	done
	metric_is watch instances 4 || show_metrics
	metric_is watch lag_ms 50000 || show_metrics
	stack_redis del "$ORDERCAST_PREFIX:metrics:watch:old-leader-1:1" \
		"$ORDERCAST_PREFIX:metrics:watch:old-leader-2:2" >/dev/null
	# A watcher that stops cleanly takes its gauge with it.
	stack_stop_prog watch-b
	metric_is watch instances 1 || show_metrics
}

@test "Prometheus text types gauges as gauge and counters as counter" {
	local prom=$BATS_TEST_TMPDIR/prom
	streams 1 a
	wait_for 15 metric_is sse clients_connected 1 || show_metrics
	curl -s --max-time 10 -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		-o "$prom" "$STACK_URL/api/metrics?format=prometheus"
	grep -qx '# TYPE ordercast_sse_clients_connected gauge' "$prom"
	grep -qx 'ordercast_sse_clients_connected 1' "$prom"
	grep -qx '# TYPE ordercast_sse_instances gauge' "$prom"
	grep -qx '# TYPE ordercast_watch_lag_ms gauge' "$prom"
	grep -qx '# TYPE ordercast_watch_events counter' "$prom"
	grep -qx '# TYPE ordercast_api_requests_total counter' "$prom"
}
