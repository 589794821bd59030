#!/usr/bin/env bats
# ordercast-sse with Redis under Sentinel: during writes, a commanded
# failover and then a SIGKILL of the new primary's predecessor; open
# streams keep receiving, each change once and in order (or a
# system.resync where the log lost it), and the relay follows within
# 10 s. Two watchers, the leader SIGKILLed: each change once at every
# client. A failover that loses the log's tail: clients that had the
# tail do not get it again. Redis, its sentinels, the watcher and the relay run on hosts a
# and b (network namespaces, tests/lib/netns.bash); lighttpd and the API
# of a private stack serve the sign-in and reach the relay's unix socket.

setup_file() {
	bats_require_minimum_version 1.5.0
	load lib/netns
	ha_suite_setup rl || return 1
	export ORDERCAST_PREFIX=harl
	load lib/stack
	stack_start
	stack_stop_prog ordercast-sse
}

teardown_file() {
	load lib/netns
	load lib/stack
	stack_stop || true
	ha_suite_teardown
}

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	load lib/netns
	load lib/stack
	[ -n "${NETNS_A:-}" ] || skip "no network namespaces"
	HA_ENV=(env ORDERCAST_MONGODB_URI="$(ha_mongodb_uri)"
		ORDERCAST_DB=harl ORDERCAST_PREFIX=harl
		ORDERCAST_REDIS_SENTINELS="$HA_SENTINELS"
		ORDERCAST_REDIS_MASTER="$HA_MASTER" ORDERCAST_TIMEOUT_MS=1000)
	ha_redis_up
	ha_spawn w1 a "${HA_ENV[@]}" "$OC_BUILDDIR/ordercast-watch"
	rm -f "$OC_STATE/run/sse.sock"
	ha_spawn sse a "${HA_ENV[@]}" "$OC_BUILDDIR/ordercast-sse" \
		--listen "unix:$OC_STATE/run/sse.sock"
	ha_wait 20 test -S "$OC_STATE/run/sse.sock"
}

teardown() {
	local f
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		tail -n 25 "$HA_DIR"/w*.log "$HA_DIR"/sse.log >&2
	fi
	for f in "$HA_DIR"/st*.pid; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
		rm -f "$f"
	done
	ha_kill sse TERM
	ha_kill w1 TERM
	ha_kill w2 TERM
	ha_redis_down
	netns_heal 2>/dev/null || true
	if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
	    "$HA_DIR"/w*.log "$HA_DIR"/sse.log; then
		cat "$HA_DIR"/sse.log >&2
		return 1
	fi
	mkdir -p "$HA_DIR/old"
	for f in "$HA_DIR"/w*.log "$HA_DIR"/sse.log "$HA_DIR"/st*; do
		[ -f "$f" ] && mv "$f" "$HA_DIR/old/$BATS_TEST_NUMBER-${f##*/}"
	done
	rm -rf "$HA_DIR"/r1 "$HA_DIR"/r2 "$HA_DIR"/s1 "$HA_DIR"/s2 "$HA_DIR"/s3
}

# Run Python with `db` on the stand-in and rcmd(sock, *args).
ha_py() {
	/usr/bin/python3 - <<PY
import json, os, subprocess, sys, time
from pymongo import MongoClient
db = MongoClient("$(ha_mongodb_uri)",
                 serverSelectionTimeoutMS=20000)['harl']
SOCKS = {'$NETNS_IP_A:6379': '$HA_DIR/r1.sock',
         '$NETNS_IP_B:6380': '$HA_DIR/r2.sock'}

sys.path.insert(0, os.environ['OC_SRCDIR'] + '/tests/lib')
from resp import command as rcmd

def primary():
    out = subprocess.run(['ip', 'netns', 'exec', '$NETNS_B',
        'redis-cli', '-h', '$NETNS_IP_B', '-p', '26380',
        'sentinel', 'get-master-addr-by-name', '$HA_MASTER'],
        capture_output=True, text=True, timeout=10).stdout.split()
    return SOCKS[':'.join(out)]
$1
PY
}

# Copy the admin's session record from the stack's Redis to the primary.
copy_session() {
	local key val
	key=$(stack_redis --scan --pattern 'harl:session:*' | head -n 1)
	[ -n "$key" ] || return 1
	HA_VAL=$(stack_redis get "$key") ha_py "
rcmd(primary(), 'SET', '$key', os.environ['HA_VAL'], 'EX', 3600)
"
}

# The sentinels name ip:port as the primary.
primary_is() {
	[ "$(ha_primary)" = "$1" ]
}

# r1 replicates the new primary again.
r1_replica() {
	redis-cli -s "$HA_DIR/r1.sock" role | grep -qx connected
}

# Open a stream as the admin in the background, into FILE.
stream_open() {
	curl -sN --max-time 90 -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$STACK_URL/api/events?topics=orders" >"$1" 2>/dev/null 3>&- &
	echo $! >"$1.pid"
}

# The order.created seqs of RUN received in FILE, checked: each once, in
# order, and every id increasing; prints how many.
stream_check() {
	/usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import json, sys
path, run, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
seqs, ids, resync = [], [], False
for block in open(path).read().split('\n\n'):
    data = ''.join(l[5:].strip() for l in block.split('\n')
                   if l.startswith('data:'))
    if not data:
        continue
    ev = json.loads(data)
    ids.append(tuple(map(int, ev['id'].split('-'))))
    if ev['type'] == 'system.resync':
        resync = True
    if ev['type'] == 'order.created' and \
            (ev.get('doc') or {}).get('run') == run:
        seqs.append(ev['doc']['seq'])
assert ids == sorted(set(ids)), 'ids not unique and increasing'
assert len(seqs) == len(set(seqs)), 'a change came twice'
assert seqs == sorted(seqs), 'changes out of order'
if not resync:
    assert seqs == list(range(len(seqs))), 'a change is missing'
print(len(seqs))
assert len(seqs) >= n or (resync and seqs), (len(seqs), n)
PY
}

@test "ha-relay: failover and a SIGKILLed primary under open streams: each change once, followed within 10 s" {
	local writer t0 took n
	copy_session
	stream_open "$HA_DIR/st1"
	stream_open "$HA_DIR/st2"
	ha_wait 20 grep -q . "$HA_DIR/st1"
	ha_py "
for i in range(600):
    db.orders.insert_one({'seq': i, 'run': 'rl'})
    time.sleep(0.01)
" &
	writer=$!
	ha_wait 30 stream_check "$HA_DIR/st1" rl 100
	ha_sentinel a 26379 sentinel failover "$HA_MASTER"
	ha_wait 20 primary_is "$NETNS_IP_B:6380"
	t0=$SECONDS
	n=$(stream_check "$HA_DIR/st1" rl 0)
	ha_wait 10 stream_check "$HA_DIR/st1" rl $((n + 20))
	took=$((SECONDS - t0))
	echo "# streams moved on ${took}s after the failover" >&3
	ha_wait 30 r1_replica
	ha_kill r2 KILL
	t0=$SECONDS
	n=$(stream_check "$HA_DIR/st1" rl 0)
	ha_wait 30 stream_check "$HA_DIR/st1" rl $((n + 20))
	echo "# streams moved on $((SECONDS - t0))s after the SIGKILL" >&3
	wait "$writer"
	ha_wait 60 stream_check "$HA_DIR/st1" rl 600
	ha_wait 20 stream_check "$HA_DIR/st2" rl 600
	kill "$(cat "$HA_DIR/st1.pid")" "$(cat "$HA_DIR/st2.pid")" || true
}

# The replica r2 holds the resume token.
r2_has_token() {
	[ "$(redis-cli -s "$HA_DIR/r2.sock" exists harl:watch:token)" = 1 ]
}

# The heartbeat on the primary names the watcher of pid PID as leader.
leader_is() {
	ha_py "
a = json.loads(rcmd(primary(), 'GET', 'harl:watch:alive') or '{}')
assert a.get('pid') == $1 and a.get('role') == 'leader', a
"
}

@test "ha-relay: two watchers in 1000 writes, the leader SIGKILLed: each change once at every client" {
	local writer n
	ha_spawn w2 b "${HA_ENV[@]}" "$OC_BUILDDIR/ordercast-watch"
	ha_wait 30 leader_is "$(cat "$HA_DIR/w1.pid")"
	copy_session
	stream_open "$HA_DIR/st1"
	stream_open "$HA_DIR/st2"
	ha_wait 20 grep -q . "$HA_DIR/st1"
	ha_wait 20 grep -q . "$HA_DIR/st2"
	ha_py "
for i in range(1000):
    db.orders.insert_one({'seq': i, 'run': 'two'})
    time.sleep(0.003)
" &
	writer=$!
	ha_wait 60 stream_check "$HA_DIR/st1" two 300
	n=$(stream_check "$HA_DIR/st1" two 0)
	ha_kill w1 KILL
	ha_wait 15 leader_is "$(cat "$HA_DIR/w2.pid")"
	wait "$writer"
	ha_wait 60 stream_check "$HA_DIR/st1" two 1000
	ha_wait 20 stream_check "$HA_DIR/st2" two 1000
	# Exactly: nothing twice, nothing missing, at both clients.
	[ "$(stream_check "$HA_DIR/st1" two 1000)" = 1000 ]
	[ "$(stream_check "$HA_DIR/st2" two 1000)" = 1000 ]
	if grep -q system.resync "$HA_DIR/st1" "$HA_DIR/st2"; then
		echo "a client was sent system.resync" >&2
		return 1
	fi
	echo "# the leader died after $n of 1000 changes" >&3
}

@test "ha-relay: the primary loses the log's tail: clients that had it get it once" {
	# Host b loses host a: its sentinels promote r2, while the watcher
	# and the relay on host a go on with r1, which nothing replicates.
	copy_session
	stream_open "$HA_DIR/st1"
	ha_wait 20 grep -q . "$HA_DIR/st1"
	# Before the cut r2 holds a change and the token after it.
	ha_py "db.orders.insert_one({'seq': 0, 'run': 'pre'})"
	ha_wait 20 stream_check "$HA_DIR/st1" pre 1
	ha_wait 20 r2_has_token
	netns_cut
	ha_py "
for i in range(100):
    db.orders.insert_one({'seq': i, 'run': 'tail'})
    time.sleep(0.002)
"
	# The client had the whole tail from r1.
	ha_wait 20 stream_check "$HA_DIR/st1" tail 100
	ha_wait 30 primary_is "$NETNS_IP_B:6380"
	ha_kill r1 KILL
	netns_heal
	ha_wait 30 primary_is "$NETNS_IP_B:6380"
	ha_py "
for i in range(50):
    db.orders.insert_one({'seq': i, 'run': 'after'})
    time.sleep(0.002)
"
	ha_wait 30 stream_check "$HA_DIR/st1" after 50
	# r2 lost the tail and the watcher published it again, so the
	# relay met every change of it a second time, under the same id.
	[ "$(redis-cli -s "$HA_DIR/r2.sock" xrange harl:log - + |
		grep -c '"run":"tail"')" = 100 ]
	[ "$(stream_check "$HA_DIR/st1" tail 100)" = 100 ]
	[ "$(stream_check "$HA_DIR/st1" after 50)" = 50 ]
}
