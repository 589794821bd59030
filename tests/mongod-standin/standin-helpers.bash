# Helpers for tests/standin.bats: start and stop private mongod stand-ins,
# poll for conditions against a deadline, and run the libmongoc test client.

# wait_for: the one poller, from the local stack's helpers.
# shellcheck source=../lib/stack.sh
. "$OC_SRCDIR/tests/lib/stack.sh"

# standin_alive DIR: the stand-in started in DIR still runs.
standin_alive() {
	kill -0 "$(cat "$1/child")" 2>/dev/null
}

# standin_ready DIR: the port file exists, or fail fast if the child died.
standin_ready() {
	if ! standin_alive "$1"; then
		echo "mongod-standin in $1 died; its log:" >&2
		cat "$1/log" >&2
		return "$OC_WAIT_NEVER"
	fi
	[ -s "$1/port" ]
}

# start_standin DIR [ARGS...]: start a stand-in on a free port in DIR and
# wait until it listens.  Prints nothing; the URI is standin_uri DIR.
start_standin() {
	local dir=$1
	shift
	mkdir -p "$dir"
	rm -f "$dir/port"
	"$STANDIN" --port 0 --port-file "$dir/port" --pidfile "$dir/pid" \
		--log "$dir/log" "$@" </dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$dir/child"
	wait_for 30 standin_ready "$dir"
}

# standin_uri DIR: the replica-set URI of the stand-in started in DIR.
standin_uri() {
	echo "mongodb://127.0.0.1:$(cat "$1/port")/?replicaSet=rs0"
}

# standin_gone DIR: the stand-in process of DIR has exited.
standin_gone() {
	! standin_alive "$1"
}

# stop_standin DIR: SIGTERM the stand-in and wait until it has exited.
stop_standin() {
	local pid
	pid=$(cat "$1/child" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	wait_for 30 standin_gone "$1"
}

# oc: run the test client against the suite's server.
# libmongoc logs warnings (server selection retries under load) on
# stderr, which `run` would mix into the JSON on stdout: keep them apart
# and show them only when the client fails.
oc() {
	local err=${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}/client-stderr.$BASHPID rc=0
	"$CLIENT" "$URI" "$@" 2>"$err" || rc=$?
	[ "$rc" -eq 0 ] || cat "$err" >&2
	rm -f "$err"
	return "$rc"
}

# start_watch OUT ARGS...: run "oc watch --ready OUT.ready ARGS" in the
# background with stdout in OUT; sets WATCH_PID; returns once the change
# stream is open.
start_watch() {
	local out=$1
	shift
	rm -f "$out.ready"
	"$CLIENT" "$URI" watch --ready "$out.ready" "$@" >"$out" 2>&1 3>&- &
	WATCH_PID=$!
	wait_for 30 watch_open "$out"
}

# watch_open OUT: the background watch wrote its ready file (or died).
watch_open() {
	if ! kill -0 "$WATCH_PID" 2>/dev/null; then
		[ -e "$1.ready" ] && return 0
		echo "watch exited early:" >&2
		cat "$1" >&2
		return "$OC_WAIT_NEVER"
	fi
	[ -e "$1.ready" ]
}

# jf FILTER: jq on standard input, compact output.
jf() {
	jq -c "$@"
}
