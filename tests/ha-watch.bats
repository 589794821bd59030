#!/usr/bin/env bats
# ordercast-watch on two hosts with Redis under Sentinel: two watchers
# never put a change in twice, the standby takes over from a dead
# leader, the watchers follow a failover (commanded, or the primary
# SIGKILLed), a failover that loses the log's tail gives no duplicate
# id, and a flushed Redis gives system.resync. Hosts a and b are network
# namespaces (tests/lib/netns.bash); MongoDB is the stand-in on a unix
# socket both reach.

setup_file() {
	bats_require_minimum_version 1.5.0
	load lib/netns
	ha_suite_setup ha || return 1
}

teardown_file() {
	load lib/netns
	ha_suite_teardown
}

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	load lib/netns
	[ -n "${NETNS_A:-}" ] || skip "no network namespaces"
	export ORDERCAST_MONGODB_URI="$(ha_mongodb_uri)"
	export ORDERCAST_DB=ha ORDERCAST_PREFIX="ha$BATS_TEST_NUMBER"
	export ORDERCAST_REDIS_SENTINELS=$HA_SENTINELS
	export ORDERCAST_REDIS_MASTER=$HA_MASTER ORDERCAST_TIMEOUT_MS=1000
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
	ha_redis_up
	# w1 on host a leads, w2 on host b stands by.
	watcher_start w1 a
	ha_wait 30 alive_leader "$(cat "$HA_DIR/w1.pid")"
	watcher_start w2 b
	ha_wait 30 alive_standbys 1
}

teardown() {
	local n
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		tail -n 25 "$HA_DIR"/w1.log "$HA_DIR"/w2.log >&2
	fi
	for n in w1 w2; do
		ha_kill "$n" TERM
	done
	ha_redis_down
	netns_heal 2>/dev/null || true
	if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
	    "$HA_DIR"/w*.log; then
		cat "$HA_DIR"/w*.log >&2
		return 1
	fi
	mkdir -p "$HA_DIR/old"
	for n in "$HA_DIR"/*.log; do
		[ -e "$n" ] && mv "$n" "$HA_DIR/old/$BATS_TEST_NUMBER-${n##*/}"
	done
	rm -rf "$HA_DIR"/r1 "$HA_DIR"/r2 "$HA_DIR"/s1 "$HA_DIR"/s2 "$HA_DIR"/s3
}

# Usage: watcher_start NAME HOST
watcher_start() {
	ha_spawn "$1" "$2" "$OC_BUILDDIR/ordercast-watch"
}

# Run Python with `db` (pymongo) and helpers:
#   rcmd(sock, *args)       one Redis command over a unix socket
#   primary()               the primary's unix socket, per the sentinels
#   events(sock)            the log's events, parsed, in order
#   alive()                 the heartbeat on the primary, or {}
#   wait_for(fn, secs)      poll until fn() is true; fails after secs
#   check(sock, run, n)     the log holds order.created for seq 0..n-1
#                           of run exactly once, in order
ha_py() {
	/usr/bin/python3 - <<PY
import json, os, subprocess, sys, time
from pymongo import MongoClient
client = MongoClient(os.environ['ORDERCAST_MONGODB_URI'],
                     serverSelectionTimeoutMS=20000)
db = client[os.environ['ORDERCAST_DB']]
PREFIX = os.environ['ORDERCAST_PREFIX']
HA_DIR = os.environ['HA_DIR']
SOCKS = {os.environ['NETNS_IP_A'] + ':6379': HA_DIR + '/r1.sock',
         os.environ['NETNS_IP_B'] + ':6380': HA_DIR + '/r2.sock'}

sys.path.insert(0, os.environ['OC_SRCDIR'] + '/tests/lib')
from resp import command as rcmd

def primary():
    out = subprocess.run(['ip', 'netns', 'exec', os.environ['NETNS_B'],
        'redis-cli', '-h', os.environ['NETNS_IP_B'], '-p', '26380',
        'sentinel', 'get-master-addr-by-name', 'ocm'],
        capture_output=True, text=True, timeout=10).stdout.split()
    return SOCKS[':'.join(out)]

def events(sock):
    out = []
    for eid, fields in rcmd(sock, 'XRANGE', PREFIX + ':log', '-', '+'):
        ev = json.loads(fields[1])
        assert ev['id'] == eid, (ev['id'], eid)
        out.append(ev)
    return out

def alive():
    try:
        return json.loads(rcmd(primary(), 'GET', PREFIX + ':watch:alive')
                          or '{}')
    except (OSError, RuntimeError, KeyError):
        return {}

def wait_for(fn, secs):
    deadline = time.time() + secs
    while True:
        try:
            if fn():
                return
        except (OSError, RuntimeError, KeyError):
            pass
        if time.time() > deadline:
            raise SystemExit('timed out after %ss' % secs)
        time.sleep(0.05)

def created(evs, run):
    return [e for e in evs if e['type'] == 'order.created'
            and (e['doc'] or {}).get('run') == run]

def check(sock, run, n):
    evs = events(sock)
    seqs = [e['doc']['seq'] for e in created(evs, run)]
    missing = sorted(set(range(n)) - set(seqs))
    dups = len(seqs) - len(set(seqs))
    assert seqs == list(range(n)), (
        'run %s: %d events, missing %d (first %s), duplicates %d' % (
        run, len(seqs), len(missing), missing[:5], dups))
    ids = [tuple(map(int, e['id'].split('-'))) for e in evs]
    assert ids == sorted(set(ids)), 'ids not unique and increasing'
    return evs

$1
PY
}

# The heartbeat names this pid as the leader.
alive_leader() {
	ha_py "
a = alive()
assert a.get('pid') == $1 and a.get('role') == 'leader', a
"
}

# The heartbeat lists N standbys.
alive_standbys() {
	ha_py "
a = alive()
assert len(a.get('standbys', [])) == $1, a
"
}

# The sentinels name ip:port as the primary.
primary_is() {
	[ "$(ha_primary)" = "$1" ]
}

# Insert orders seq 0..N-1 of run RUN, one every PACE ms.
# Usage: write_orders RUN N PACE
write_orders() {
	ha_py "
for i in range($2):
    db.orders.insert_one({'seq': i, 'run': '$1'})
    time.sleep($3 / 1000.0)
"
}

# At least N order.created of RUN in the primary's log.
logged() {
	ha_py "
assert len(created(events(primary()), '$1')) >= $2
"
}

@test "ha: two watchers in 1000 writes, the leader SIGKILLed: each change once" {
	local writer leader t0 took
	write_orders two 1000 3 &
	writer=$!
	ha_wait 60 logged two 300
	leader=$(cat "$HA_DIR/w1.pid")
	t0=$SECONDS
	kill -KILL "$leader"
	ha_wait 15 alive_leader "$(cat "$HA_DIR/w2.pid")"
	took=$((SECONDS - t0))
	echo "# standby took over in about ${took}s" >&3
	[ "$took" -le 8 ]
	wait "$writer"
	ha_py "
wait_for(lambda: len(created(events(primary()), 'two')) >= 1000, 60)
check(primary(), 'two', 1000)
a = alive()
assert a['takeovers'] >= 1, a
"
}

# Seconds until a write made now is in the new primary's log.
# Usage: follow_time RUN DEADLINE
follow_time() {
	ha_py "
t0 = time.time()
db.orders.insert_one({'seq': 0, 'run': '$1'})
wait_for(lambda: created(events(primary()), '$1'), $2)
print('%.1f' % (time.time() - t0))
"
}

@test "ha: SENTINEL FAILOVER during writes: followed within 10 s, each change once" {
	local writer took
	write_orders fo 1000 4 &
	writer=$!
	ha_wait 60 logged fo 200
	ha_sentinel a 26379 sentinel failover "$HA_MASTER"
	ha_wait 20 primary_is "$NETNS_IP_B:6380"
	took=$(follow_time fo-mark 10)
	echo "# a write after the failover was published in ${took}s" >&3
	wait "$writer"
	ha_py "
wait_for(lambda: len(created(events(primary()), 'fo')) >= 1000, 60)
check(primary(), 'fo', 1000)
"
}

@test "ha: primary SIGKILLed during writes: followed within 10 s, each change once" {
	local writer took t0
	write_orders kill 1000 4 &
	writer=$!
	ha_wait 60 logged kill 200
	t0=$SECONDS
	ha_kill r1 KILL
	took=$(follow_time kill-mark 10)
	echo "# a write after the kill was published in ${took}s" \
		"(failover in $((SECONDS - t0))s)" >&3
	[ "$(ha_primary)" = "$NETNS_IP_B:6380" ]
	wait "$writer"
	ha_py "
wait_for(lambda: len(created(events(primary()), 'kill')) >= 1000, 60)
check(primary(), 'kill', 1000)
"
}

@test "ha: replication cut, then the primary dies: the lost tail comes back under the same ids" {
	# Host b loses host a: its sentinels promote r2, while w1 on host a
	# goes on publishing to r1, which nothing replicates any more.
	netns_cut
	write_orders tail 100 2
	ha_py "
wait_for(lambda: len(created(events('$HA_DIR/r1.sock'), 'tail')) == 100, 20)
json.dump(events('$HA_DIR/r1.sock'), open('$HA_DIR/r1-events.json', 'w'))
"
	ha_kill r1 KILL
	netns_heal
	ha_wait 30 primary_is "$NETNS_IP_B:6380"
	write_orders tail2 50 2
	ha_py "
sock = primary()
wait_for(lambda: len(created(events(sock), 'tail2')) == 50, 30)
evs = check(sock, 'tail', 100)
check(sock, 'tail2', 50)
# r1 published the tail first; r2 holds the same changes under the
# same ids, each once.
old = {e['key']: e['id'] for e in json.load(open('$HA_DIR/r1-events.json'))
       if e['type'] == 'order.created'}
new = {e['key']: e['id'] for e in created(evs, 'tail')}
lost = [k for k in new if k in old]
assert lost, 'nothing of the tail was in r1'
assert all(old[k] == new[k] for k in lost), 'an id changed'
ids = [e['id'] for e in evs]
assert len(ids) == len(set(ids))
print('# %d changes of the tail published twice, under the same ids'
      % len(lost), file=sys.stderr)
" 2>&3
}

@test "ha: Redis flushed under running watchers: system.resync, then live again" {
	ha_py "
sock = primary()
db.orders.insert_one({'seq': 0, 'run': 'pre'})
wait_for(lambda: created(events(sock), 'pre'), 20)
rcmd(sock, 'FLUSHALL')
def resynced():
    evs = events(sock)
    return evs and evs[0]['type'] == 'system.resync'
wait_for(resynced, 20)
db.orders.insert_one({'seq': 0, 'run': 'post'})
wait_for(lambda: created(events(sock), 'post'), 20)
evs = events(sock)
assert [e['type'] for e in evs] == ['system.resync', 'order.created'], \
    [e['type'] for e in evs]
a = alive()
wait_for(lambda: alive().get('lastEventId') == evs[-1]['id'], 10)
"
}
