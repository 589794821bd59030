#!/usr/bin/env bats
# ordercast-api with Redis under Sentinel: a client signed in before
# writes orders (with Idempotency-Keys) and stock changes without pause,
# retrying a 503 after 100 ms, through a commanded failover and through
# a SIGKILL of the primary. The 503s end soon after the failover does,
# nothing answers 500, every acknowledged write is in MongoDB once, the
# sessions made before still work (a session lost with the primary's
# last writes answers 401), and the API and the watcher follow the new
# primary within 10 s. The API runs on host a beside the primary, the
# watcher on host b (network namespaces, tests/lib/netns.bash); lighttpd
# on 127.0.0.1 reaches the API's unix socket.

setup_file() {
	bats_require_minimum_version 1.5.0
	load lib/netns
	ha_suite_setup ap || return 1
}

teardown_file() {
	load lib/netns
	ha_suite_teardown
}

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	load lib/netns
	load lib/stack
	[ -n "${NETNS_A:-}" ] || skip "no network namespaces"
	export ORDERCAST_MONGODB_URI="$(ha_mongodb_uri)"
	export ORDERCAST_DB="haapi$BATS_TEST_NUMBER"
	export ORDERCAST_PREFIX="haapi$BATS_TEST_NUMBER"
	export ORDERCAST_REDIS_SENTINELS=$HA_SENTINELS
	export ORDERCAST_REDIS_MASTER=$HA_MASTER ORDERCAST_TIMEOUT_MS=1000
	export ORDERCAST_DEMO_PASSWORD=ordercast-demo
	unset ORDERCAST_REDIS
	ha_redis_up
	ha_spawn w1 b "$OC_BUILDDIR/ordercast-watch"
	ha_wait 30 watcher_alive
	ha_api_up a
}

teardown() {
	local n
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		tail -n 25 "$HA_DIR"/api.log "$HA_DIR"/w1.log >&2
	fi
	ha_api_down
	ha_kill w1 TERM
	ha_redis_down
	if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
	    "$HA_DIR"/api.log "$HA_DIR"/w1.log "$OC_STATE"/log/*.log; then
		cat "$HA_DIR"/api.log >&2
		return 1
	fi
	mkdir -p "$HA_DIR/old"
	for n in "$HA_DIR"/*.log; do
		[ -e "$n" ] && mv "$n" "$HA_DIR/old/$BATS_TEST_NUMBER-${n##*/}"
	done
	rm -rf "$HA_DIR"/r1 "$HA_DIR"/r2 "$HA_DIR"/s1 "$HA_DIR"/s2 \
		"$HA_DIR"/s3 "$HA_DIR"/st
}

# The watcher's heartbeat is on the primary.
watcher_alive() {
	[ "$(redis-cli -s "$(ha_sock "$(ha_primary)")" \
		exists "$ORDERCAST_PREFIX:watch:alive")" = 1 ]
}

# Seconds until an order made through the API now is in the new
# primary's log: the watcher follows too.
# Usage: watcher_follow_time DEADLINE
watcher_follow_time() {
	/usr/bin/python3 - "$1" <<'PY'
import json, os, subprocess, sys, time, urllib.request
deadline = float(sys.argv[1])
base, d = os.environ['HA_URL'], os.environ['HA_DIR']
pw = os.environ['ORDERCAST_DEMO_PASSWORD']

def call(method, path, body=None, token=None):
    h = {'Content-Type': 'application/json'}
    if token:
        h['Authorization'] = 'Bearer ' + token
    r = urllib.request.urlopen(urllib.request.Request(base + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers=h, method=method), timeout=30)
    return json.loads(r.read())

who = call('POST', '/api/session', {'email': 'alice.martin@example.com',
                                    'password': pw})
prod = call('GET', '/api/products', token=who['token'])['data'][0]['id']
t0 = time.time()
order = call('POST', '/api/orders', {'customerId': who['user']['id'],
    'items': [{'productId': prod, 'qty': 1}]}, who['token'])
out = subprocess.run(['ip', 'netns', 'exec', os.environ['NETNS_B'],
    'redis-cli', '-h', os.environ['NETNS_IP_B'], '-p', '26380',
    'sentinel', 'get-master-addr-by-name', 'ocm'],
    capture_output=True, text=True).stdout.split()
sock = {os.environ['NETNS_IP_A'] + ':6379': d + '/r1.sock',
        os.environ['NETNS_IP_B'] + ':6380': d + '/r2.sock'}[':'.join(out)]
while True:
    log = subprocess.run(['redis-cli', '-s', sock, 'xrevrange',
        os.environ['ORDERCAST_PREFIX'] + ':log', '+', '-', 'count', '50'],
        capture_output=True, text=True).stdout
    if order['id'] in log:
        break
    if time.time() - t0 > deadline:
        sys.exit('order %s not in the log after %ss' % (order['id'],
                                                        deadline))
    time.sleep(0.05)
print('%.1f' % (time.time() - t0))
PY
}

# Check the client's record (ha_api_client) against what a user is
# promised. The 503s may go on past the failover's end (the sentinels'
# +switch-master), and API writes may still reach the old primary, by at
# most HA_API_MARGIN seconds: the API asks the sentinels every 0.5 s
# (each asked within 0.3 s), a thread moves at its next request, and the
# client waits 0.1 s before it retries a 503; the rest is room for a
# loaded machine and the sanitizers. Without the API asking, the old
# primary takes its writes until the sentinels demote it (about 8 s).
HA_API_MARGIN=1.5
check_record() {
	/usr/bin/python3 - "$1" "$HA_API_MARGIN" <<'PY'
import json, sys
r, margin = json.load(open(sys.argv[1])), float(sys.argv[2])
bad = {c: n for c, n in r['codes'].items()
       if c not in ('200', '201', '503')}
assert not bad, 'answers other than 2xx and 503: %s' % bad
assert r['acked_orders'] > 100, 'too few orders acknowledged'
assert not r['orders_not_once'], 'not once in MongoDB: %s' % \
    r['orders_not_once'][:5]
assert r['stock_now'] == r['stock_expected'], \
    'stock %d, acknowledged deltas give %d' % (r['stock_now'],
                                               r['stock_expected'])
assert r['sessions'].get('before-200') == 2, r['sessions']
odd = {c: n for c, n in r['sessions'].items()
       if c not in ('200', '401', 'before-200')}
assert not odd, 'sessions made during the run answer %s' % odd
assert r['failover_s'] is not None, 'no +switch-master'
late = r['last_503_after_switch_s']
assert late is None or late <= margin, \
    '503 %.2f s after the failover ended' % late
assert r['followed_s'] is not None and r['followed_s'] <= 10, r
old = r['old_primary_written_s']
assert old is None or old <= margin, \
    'API writes reached the old primary %.1f s after the switch' % old
PY
}

@test "ha-api: SENTINEL FAILOVER during writes: 503s end with the failover, nothing lost, sessions kept" {
	local took
	ha_api_client failover 15 "$HA_DIR/fo.json" >&3
	check_record "$HA_DIR/fo.json"
	took=$(watcher_follow_time 10)
	echo "# a write after the failover reached the new log in ${took}s" >&3
}

@test "ha-api: primary SIGKILLed during writes: 503s end with the failover, nothing lost, sessions kept" {
	local took
	ha_api_client kill 15 "$HA_DIR/kill.json" r1 >&3
	check_record "$HA_DIR/kill.json"
	[ "$(ha_primary)" = "$NETNS_IP_B:6380" ]
	took=$(watcher_follow_time 10)
	echo "# a write after the kill reached the new log in ${took}s" >&3
}
