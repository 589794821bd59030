#!/usr/bin/env bats
# ordercast-watch: a resume token older than MongoDB's change history
# makes one system.resync event, an error in the log, and the watcher
# carries on from now. The stand-in keeps only 50 changes of history.

setup_file() {
	load watch-common
	export OC_MONGO_ARGS="--history 50"
	watch_stack_start 3>&-
}

teardown_file() {
	load watch-common
	watch_stack_stop
}

setup() {
	load watch-common
}

@test "watch: token older than the history publishes system.resync once" {
	local start
	watch_py '
n = rcmd("XLEN", PREFIX + ":log")
db.orders.insert_one({"phase": "before"})
wait_log(n + 1)
'
	stack_stop_prog ordercast-watch || true
	start=$(stack_redis xlen "$ORDERCAST_PREFIX:log")
	watch_py '
for i in range(200):
    db.orders.insert_one({"phase": "missed", "i": i})
'
	watch_start 3>&-
	watch_py "
evs = wait_log($start + 1, 30)[$start:]
assert [e['type'] for e in evs] == ['system.resync'], evs
ev = evs[0]
assert ev['collection'] is None and ev['key'] is None
assert ev['doc'] is None, ev
db.orders.insert_one({'phase': 'after'})
evs = wait_log($start + 2, 30)[$start:]
assert [e['type'] for e in evs] == ['system.resync', 'order.created']
assert evs[1]['doc']['phase'] == 'after'
"
	grep -q "error ordercast-watch.*older than the change history" \
		"$OC_STATE/log/ordercast-watch.log"
	# A restart now resumes normally: no second resync.
	stack_stop_prog ordercast-watch || true
	watch_start 3>&-
	watch_py "
db.users.insert_one({'phase': 'restart'})
evs = wait_log($start + 3, 30)[$start:]
assert [e['type'] for e in evs] == ['system.resync', 'order.created',
    'user.created'], [e['type'] for e in evs]
m = rcmd('HGET', PREFIX + ':metrics:watch', 'resyncs')
"
	watch_py "
def resyncs():
    return rcmd('HGET', PREFIX + ':metrics:watch', 'resyncs') == '1'
wait_for(resyncs, 10)
"
}
