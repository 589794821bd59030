# shellcheck shell=bash
#
# Helpers of the ordercast-watch suites: Redis, the MongoDB stand-in and
# the watcher from the shared stack helper, and a Python runner that has
# both a pymongo database and a small Redis client.

bats_load_library bats-support
bats_load_library bats-assert

# shellcheck source=lib/stack.bash
. "$OC_SRCDIR/tests/lib/stack.bash"

# stack.bash takes an exported ORDERCAST_MONGODB_URI for a real server;
# in a test, after setup_file started the stand-in, that URI is ours.
if [ -n "${WATCH_REAL_URI+set}" ]; then
	OC_REAL_MONGODB_URI=$WATCH_REAL_URI
fi

# Redis, the stand-in and the watcher; nothing else of the stack.
watch_stack_start() {
	STACK_DIR=$BATS_FILE_TMPDIR/stack
	OC_STATE=$STACK_DIR
	WATCH_REAL_URI=$OC_REAL_MONGODB_URI
	export STACK_DIR OC_STATE WATCH_REAL_URI
	mkdir -p "$OC_STATE/run" "$OC_STATE/log"
	stack_export_env
	stack_start_redis || return 1
	stack_start_mongo || return 1
	watch_start
}

watch_stack_stop() {
	stack_stop
}

# Start the watcher and wait for its first heartbeat of this process.
watch_start() {
	local pid
	stack_redis del "$ORDERCAST_PREFIX:watch:alive" >/dev/null
	stack_spawn ordercast-watch "$OC_BUILDDIR/ordercast-watch" \
		--pidfile "$OC_STATE/run/watch-own.pid"
	pid=$OC_WAIT_PID
	stack_wait ordercast-watch 30 watch_alive_pid "$pid"
}

# True when the heartbeat names this pid.
watch_alive_pid() {
	stack_redis get "$ORDERCAST_PREFIX:watch:alive" |
		grep -q "\"pid\":$1,"
}

watch_pid() {
	stack_pid ordercast-watch
}

# Run Python with `db` (pymongo) and helpers:
#   rcmd(*args)          one Redis command, the decoded reply
#   log_events()         every event of PREFIX:log, parsed, in order
#   wait_log(n, secs)    poll until the log holds n events; returns them
#   wait_for(fn, secs)   poll until fn() is true
watch_py() {
	/usr/bin/python3 - "$ORDERCAST_MONGODB_URI" "$ORDERCAST_DB" \
	    "$ORDERCAST_REDIS" "$ORDERCAST_PREFIX" <<PY
import os, sys, json, time, random
from bson import ObjectId
from pymongo import MongoClient
client = MongoClient(sys.argv[1], serverSelectionTimeoutMS=20000)
db = client[sys.argv[2]]
PREFIX = sys.argv[4]

sys.path.insert(0, os.environ['OC_SRCDIR'] + '/tests/lib')
from resp import command

def rcmd(*args):
    return command(sys.argv[3], *args)

def log_events():
    out = []
    for eid, fields in rcmd('XRANGE', PREFIX + ':log', '-', '+'):
        ev = json.loads(fields[1])
        assert ev['id'] == eid, (ev['id'], eid)
        out.append(ev)
    return out

def wait_for(fn, secs):
    deadline = time.time() + secs
    while not fn():
        if time.time() > deadline:
            raise SystemExit('timed out after %ss' % secs)
        time.sleep(0.05)

def wait_log(n, secs=60):
    wait_for(lambda: rcmd('XLEN', PREFIX + ':log') >= n, secs)
    return log_events()

$1
PY
}
