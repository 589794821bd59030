#!/usr/bin/env bats
# ordercast-sse behind lighttpd on a private stack. Events are written to
# Redis the way the watcher writes them (XADD to PREFIX:log and PUBLISH of
# the same JSON, id filled in) under a prefix of this suite's own, so a
# running watcher cannot mix its events in.

bats_require_minimum_version 1.5.0

PFX=ssetest
CUST=65f0c0ffee65f0c0ffee0001
OTHER=65f0c0ffee65f0c0ffee0002

# Append an event to the log and publish it in one step; prints its id.
# ARGV[1] is the event with __ID__ where the id goes; ARGV[2] "nopub"
# only appends (what pub/sub loses while the relay is away).
# The watcher's way of choosing ids (docs/architecture.md, "Events"):
# ms is the change's cluster time in whole seconds times 1000, and seq
# its increment shifted left by 16 (the low bits number the events of one
# transaction and the alerts). Redis' clock stands in for MongoDB's.
LUA='
local t = redis.call("TIME")
local ms = tonumber(t[1]) * 1000
local inc = 1
local l = redis.call("XREVRANGE", KEYS[1], "+", "-", "COUNT", 1)
if #l > 0 then
	local lms, lseq = string.match(l[1][1], "(%d+)-(%d+)")
	lms = tonumber(lms)
	if lms >= ms then
		ms = lms
		inc = math.floor(tonumber(lseq) / 65536) + 1
	end
end
local id = string.format("%d-%d", ms, inc * 65536)
local ev = string.gsub(ARGV[1], "__ID__", id)
redis.call("XADD", KEYS[1], id, "event", ev)
if ARGV[2] ~= "nopub" then redis.call("PUBLISH", KEYS[2], ev) end
return id'

setup_file() {
	load lib/stack
	stack_start
	# Our own relay: a small ring and queue cap so replays go through
	# the log and slow clients are found quickly.
	stack_stop_prog ordercast-sse
	sse_start
	# Order, user and alert events are for an admin: sign one in.
	SSE_ADMIN=$(sse_session admin 65f0c0ffee65f0c0ffee00aa)
	export SSE_ADMIN
}

# Every wait of this suite also fails at once when the relay dies.
export OC_WAIT_PROG=ordercast-sse

load sse-common

sse_subscribed() {
	[ "$(stack_redis pubsub numsub "$PFX:events" | tail -n 1)" -ge 1 ]
}

# sse_session ROLE USERID: store a session under this suite's prefix the
# way the API does, valid for an hour; prints its token.
sse_session() {
	/usr/bin/python3 - "$1" "$2" <<'PY' | {
import base64, hashlib, json, os, sys, time
token = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
now = int(time.time() * 1000)
rec = {"userId": sys.argv[2], "role": sys.argv[1], "created": now,
       "expires": now + 3600000}
print(token, hashlib.blake2b(token.encode(), digest_size=32).hexdigest(),
      json.dumps(rec, separators=(",", ":")))
PY
		local token hash rec
		read -r token hash rec
		stack_redis set "$PFX:session:$hash" "$rec" EX 3600 >/dev/null
		echo "$token"
	}
}

sse_start() {
	rm -f "$OC_STATE/run/sse.sock"
	# Every client of this suite comes from 127.0.0.1 with one session.
	ORDERCAST_STREAMS_PER_ADDR=100000 ORDERCAST_STREAMS_PER_SESSION=100000 \
	ORDERCAST_PREFIX=$PFX stack_spawn ordercast-sse \
		"$OC_BUILDDIR/ordercast-sse" \
		--listen "unix:$OC_STATE/run/sse.sock" --ring 64 \
		--queue-max 65536 --pidfile "$OC_STATE/run/sse-own.pid"
	stack_wait ordercast-sse 20 test -S "$OC_STATE/run/sse.sock"
	stack_wait ordercast-sse 20 sse_subscribed
}

# pub TYPE [CUSTOMER] [nopub] [PADDING]: prints the new id.
pub() {
	local type=$1 cust=${2:-$CUST} mode=${3:-pub} pad=${4:-}
	local ev="{\"id\":\"__ID__\",\"type\":\"$type\",\"collection\":null,\"op\":\"insert\",\"key\":\"k\",\"doc\":{\"customerId\":\"$cust\",\"pad\":\"$pad\"},\"changed\":{},\"removed\":[],\"clusterTime\":1,\"publishedAt\":1}"
	stack_redis eval "$LUA" 2 "$PFX:log" "$PFX:events" "$ev" "$mode"
}

# bulk COUNT TYPE PADLEN: append and publish COUNT events in one pipe.
bulk() {
	local n=$1 type=$2 pad sha i
	pad=$(printf "%0${3}d" 0)
	sha=$(stack_redis script load "$LUA")
	for ((i = 0; i < n; i++)); do
		echo "EVALSHA $sha 2 $PFX:log $PFX:events '{\"id\":\"__ID__\",\"type\":\"$type\",\"doc\":{\"customerId\":\"$CUST\",\"pad\":\"$pad\"}}' pub"
	done | stack_redis >/dev/null
}

# metric_ge FIELD N: the counter in PREFIX:metrics:sse, or the gauge in
# the relay's own PREFIX:metrics:sse:<host>:<pid>, is at least N.
metric_ge() {
	local v k g
	v=$(stack_redis hget "$PFX:metrics:sse" "$1")
	for k in $(stack_redis --scan --pattern "$PFX:metrics:sse:*"); do
		g=$(stack_redis hget "$k" "$1")
		[ -z "$g" ] || v=$g
	done
	[ "${v:-0}" -ge "$2" ]
}

# Read the stream into a file in the background: sse_get OUT QUERY [ARGS].
sse_get() {
	local out=$1 query=$2
	shift 2
	curl -sN --max-time 60 -H "Authorization: Bearer $SSE_ADMIN" "$@" \
		"$STACK_URL/api/events$query" \
		>"$out" 2>/dev/null 3>&- &
	CURLS+=($!)
	wait_for 10 grep -q '^: ordercast' "$out"
}

ids() {
	sed -n 's/^id: //p' "$1"
}

has_ids() {
	[ "$(ids "$1" | wc -l)" -ge "$2" ]
}

@test "stream opens with event-stream headers, retry and a comment" {
	run curl -sN --max-time 2 -D - "$STACK_URL/api/events"
	assert_output --partial 'Content-Type: text/event-stream'
	assert_output --partial 'Cache-Control: no-cache'
	assert_output --partial 'X-Accel-Buffering: no'
	assert_output --partial 'retry: 2000'
	assert_line --regexp '^: .+'
}

@test "events arrive in order with id, event and data lines" {
	local out=$BATS_TEST_TMPDIR/s want=() i
	sse_get "$out" ''
	for i in $(seq 1 30); do
		want+=("$(pub order.created)")
	done
	wait_for 10 has_ids "$out" 30
	run ids "$out"
	assert_output "$(printf '%s\n' "${want[@]}")"
	run grep -c '^event: order.created$' "$out"
	assert_output 30
	run grep -m1 '^data: ' "$out"
	assert_output --partial "\"id\":\"${want[0]}\""
}

@test "each event arrives within a second of publishing" {
	local out=$BATS_TEST_TMPDIR/s id t0 i
	sse_get "$out" ''
	for i in 1 2 3; do
		t0=$(date +%s%N)
		id=$(pub product.updated)
		wait_for 5 grep -q "^id: $id\$" "$out"
		[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 1000 ]
	done
}

@test "topics and customerId filter events; system events pass" {
	local a=$BATS_TEST_TMPDIR/a b=$BATS_TEST_TMPDIR/b c=$BATS_TEST_TMPDIR/c
	sse_get "$a" '?topics=orders,alerts'
	sse_get "$b" "?customerId=$CUST"
	sse_get "$c" '?topics=users'
	pub order.created >/dev/null
	pub order.updated "$OTHER" >/dev/null
	pub product.updated >/dev/null
	pub user.created >/dev/null
	pub alert.low_stock >/dev/null
	pub system.resync >/dev/null
	local last
	last=$(pub order.deleted)
	wait_for 10 grep -q "^id: $last" "$a"
	wait_for 10 grep -q "^id: $last" "$b"
	wait_for 10 grep -q '^event: system.resync' "$c"
	run sed -n 's/^event: //p' "$a"
	assert_output $'order.created\norder.updated\nalert.low_stock\nsystem.resync\norder.deleted'
	run sed -n 's/^event: //p' "$b"
	assert_output $'order.created\nproduct.updated\nalert.low_stock\nsystem.resync\norder.deleted'
	run sed -n 's/^event: //p' "$c"
	assert_output $'user.created\nsystem.resync'
}

@test "a bad filter is a 400 JSON error before the stream starts" {
	run curl -s -w '\n%{http_code}' "$STACK_URL/api/events?topics=orders,bogus"
	assert_line --index 1 400
	assert_line --index 0 --partial '"error":{"code":"invalid_field"'
	run curl -s -w '\n%{http_code}' "$STACK_URL/api/events?customerId=12345"
	assert_line --index 1 400
	run curl -s -w '\n%{http_code}' -H 'Last-Event-ID: nope' \
		"$STACK_URL/api/events"
	assert_line --index 1 400
}

@test "HEAD answers the stream's headers and ends; other methods are 405" {
	# curl fails (28) if the answer does not end within the time.
	run curl -s -I --max-time 5 "$STACK_URL/api/events?topics=products"
	assert_success
	assert_line --index 0 --regexp '^HTTP/[0-9.]+ 200'
	assert_output --partial 'Content-Type: text/event-stream'
	assert_output --partial 'Cache-Control: no-cache'
	# The same access checks as GET.
	run curl -s -I --max-time 5 "$STACK_URL/api/events?topics=orders"
	assert_success
	assert_line --index 0 --regexp '^HTTP/[0-9.]+ 401'
	run curl -s -I --max-time 5 "$STACK_URL/api/events?topics=nothing"
	assert_line --index 0 --regexp '^HTTP/[0-9.]+ 400'
	run curl -s -I --max-time 5 -H 'Last-Event-ID: nope' \
		"$STACK_URL/api/events?topics=products"
	assert_line --index 0 --regexp '^HTTP/[0-9.]+ 400'
	# A Last-Event-ID is checked against the log, as for GET: with the
	# log out of reach, 503.
	stack_stop_prog redis
	run curl -s -I --max-time 20 -H 'Last-Event-ID: 1-0' \
		"$STACK_URL/api/events?topics=products"
	stack_start_redis
	wait_for 20 sse_subscribed
	assert_line --index 0 --regexp '^HTTP/[0-9.]+ 503'
	run curl -s -I --max-time 5 -H 'Last-Event-ID: 1-0' \
		"$STACK_URL/api/events?topics=products"
	assert_line --index 0 --regexp '^HTTP/[0-9.]+ 200'
	run curl -s -D - -X POST -d x "$STACK_URL/api/events"
	assert_output --partial '405'
	assert_output --partial 'Allow: GET, HEAD'
	assert_output --partial '"code":"method_not_allowed"'
}

@test "Last-Event-ID replays from the log, then the live feed" {
	local out=$BATS_TEST_TMPDIR/s want=() from i
	from=$(pub order.created)
	for i in $(seq 1 10); do
		want+=("$(pub order.updated)")
	done
	sse_get "$out" '' -H "Last-Event-ID: $from"
	want+=("$(pub order.updated)")
	wait_for 10 has_ids "$out" 11
	run ids "$out"
	assert_output "$(printf '%s\n' "${want[@]}")"
}

@test "lastEventId in the query works like the header" {
	local out=$BATS_TEST_TMPDIR/s from want
	from=$(pub order.created)
	want=$(pub order.updated)
	sse_get "$out" "?lastEventId=$from"
	wait_for 10 has_ids "$out" 1
	run ids "$out"
	assert_output "$want"
}

@test "a long replay with events arriving meanwhile has no gap and no duplicate" {
	local from i n=1500 live=60
	from=$(pub order.created)
	# History far larger than the ring (64) and the queue cap.
	bulk "$n" order.updated 200
	local outs=() o
	for i in 1 2 3 4 5; do
		o=$BATS_TEST_TMPDIR/s$i
		outs+=("$o")
		sse_get "$o" '' -H "Last-Event-ID: $from"
	done
	for i in $(seq 1 "$live"); do
		pub order.updated >/dev/null
	done
	local want
	want=$(stack_redis xrange "$PFX:log" "($from" + COUNT 100000 |
		grep -E '^[0-9]+-[0-9]+$')
	[ "$(echo "$want" | wc -l)" -eq $((n + live)) ]
	for o in "${outs[@]}"; do
		wait_for 30 has_ids "$o" $((n + live)) ||
			{ ids "$o" | wc -l; tail -n 5 "$OC_STATE/log/ordercast-sse.log"; false; }
		run ids "$o"
		assert_output "$want"
	done
}

@test "an id older than the log's first entry gets system.resync first" {
	local out=$BATS_TEST_TMPDIR/s old first next
	old=$(pub order.created)
	pub order.updated >/dev/null
	pub order.updated >/dev/null
	stack_redis xtrim "$PFX:log" MAXLEN 1 >/dev/null
	sse_get "$out" '' -H "Last-Event-ID: $old"
	next=$(pub order.updated)
	wait_for 10 grep -q "^id: $next" "$out"
	run sed -n 's/^event: //p' "$out"
	assert_output $'system.resync\norder.updated'
	wait_for 5 metric_ge resyncs 1
}

@test "a Last-Event-ID past the newest event gets system.resync, not silence" {
	local out=$BATS_TEST_TMPDIR/s last next
	last=$(pub order.created)
	sse_get "$out" '' -H "Last-Event-ID: $(( ${last%-*} + 3600000 ))-0"
	wait_for 10 grep -q '^event: system.resync' "$out"
	next=$(pub order.updated)
	wait_for 10 grep -q "^id: $next" "$out"
	run sed -n 's/^event: //p' "$out"
	assert_output $'system.resync\norder.updated'
}

@test "a long query keeps its late parameters; past the limit it is 414" {
	local out=$BATS_TEST_TMPDIR/s pad last
	# Past the old 2 KiB cut: topics must still count.
	pad=$(printf 'a%.0s' $(seq 1 3000))
	sse_get "$out" "?pad=$pad&topics=users"
	pub order.created >/dev/null
	last=$(pub user.created)
	wait_for 10 grep -q "^id: $last" "$out"
	run sed -n 's/^event: //p' "$out"
	assert_output 'user.created'
	pad=$(printf 'a%.0s' $(seq 1 7500))
	run curl -s -w '\n%{http_code}' --max-time 5 \
		"$STACK_URL/api/events?pad=$pad&topics=users"
	assert_line --index 1 414
	assert_line --index 0 --partial '"code":"uri_too_long"'
}

@test "200 concurrent clients all receive every event" {
	local port=${STACK_URL##*:} n=200 events=20
	/usr/bin/python3 - "$port" "$n" "$events" "$OC_STATE" \
		>"$BATS_TEST_TMPDIR/got" <<'PY' 3>&- &
import selectors, socket, sys, time, os
port, n, events, state = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
auth = ("Authorization: Bearer %s\r\n" % os.environ["SSE_ADMIN"]).encode()
sel = selectors.DefaultSelector()
bufs = {}
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n" + auth + b"\r\n")
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    bufs[s] = b""
def opened():
    return sum(1 for b in bufs.values() if b": ordercast" in b)
def done():
    return sum(1 for b in bufs.values() if b.count(b"\nid: ") >= events)
deadline = time.time() + 60
signalled = False
while time.time() < deadline and done() < n:
    for key, _ in sel.select(0.2):
        d = key.fileobj.recv(65536)
        if d:
            bufs[key.fileobj] += d
    if not signalled and opened() == n:
        open(state + "/clients-ready", "w").close()
        signalled = True
print(done())
PY
	local py=$! got
	wait_for 60 test -e "$OC_STATE/clients-ready"
	local i
	for i in $(seq 1 "$events"); do
		pub order.created >/dev/null
	done
	wait "$py"
	run cat "$BATS_TEST_TMPDIR/got"
	assert_output "$n"
	rm -f "$OC_STATE/clients-ready"
}

# What the reader of the stalled-client test had, and the relay said.
stalled_report() {
	echo "the reader has $(ids "$1" | wc -l) events; the relay said:" >&2
	tail -n 8 "$OC_STATE/log/ordercast-sse.log" >&2
	return 1
}

@test "a stalled client is closed without harming the others" {
	local port=${STACK_URL##*:} out=$BATS_TEST_TMPDIR/s pad i last
	local before
	before=$(stack_redis hget "$PFX:metrics:sse" slow_client_closes)
	before=${before:-0}
	# The stalled client reads nothing until told to, then reads to the
	# end and says whether the server had closed its stream.
	/usr/bin/python3 - "$port" "$BATS_TEST_TMPDIR/drain" \
		>"$BATS_TEST_TMPDIR/stalled" <<'PY' 3>&- &
import os, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /api/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
deadline = time.time() + 120
while not os.path.exists(sys.argv[2]) and time.time() < deadline:
    time.sleep(0.1)
s.settimeout(1)
end = time.time() + 20
while time.time() < end:
    try:
        if not s.recv(65536):
            print("closed")
            sys.exit(0)
    except socket.timeout:
        pass
print("open")
PY
	local stalled=$!
	CURLS+=($stalled)
	sse_get "$out" ''
	wait_for 10 metric_ge clients_connected 2
	# 6.4 MB in all, two events (32 KB) at a time, under the 64 KiB
	# this relay lets a client have queued: the reader takes each pair
	# before the next, however busy the machine is, while the stalled
	# client falls behind by all of them.
	for ((i = 1; i <= 200; i++)); do
		bulk 2 product.updated 16000
		wait_for 30 has_ids "$out" $((i * 2)) || stalled_report "$out"
	done
	last=$(pub product.updated)
	wait_for 30 grep -q "^id: $last" "$out" || stalled_report "$out"
	run ids "$out"
	[ "${#lines[@]}" -eq 401 ]
	wait_for 10 grep -q 'closing a slow client' \
		"$OC_STATE/log/ordercast-sse.log"
	wait_for 5 metric_ge slow_client_closes $((before + 1))
	# That client's stream, and no other, was the one ended.
	touch "$BATS_TEST_TMPDIR/drain"
	wait "$stalled"
	[ "$(cat "$BATS_TEST_TMPDIR/stalled")" = closed ]
	kill -0 "${CURLS[1]}"
}

@test "clients stay connected across a Redis restart and miss nothing" {
	local out=$BATS_TEST_TMPDIR/s want=() i
	sse_get "$out" ''
	want+=("$(pub order.created)")
	wait_for 10 has_ids "$out" 1
	stack_restart_redis
	wait_for 20 sse_subscribed
	want+=("$(pub order.updated)")
	# Appended while pub/sub loses them: only the gap fill brings them.
	want+=("$(pub order.updated "$CUST" nopub)")
	want+=("$(pub order.updated "$CUST" nopub)")
	stack_redis client kill type pubsub >/dev/null
	wait_for 20 sse_subscribed
	want+=("$(pub order.deleted)")
	wait_for 20 has_ids "$out" 5
	run ids "$out"
	assert_output "$(printf '%s\n' "${want[@]}")"
	# The stream itself never broke.
	run grep -c '^: ordercast' "$out"
	assert_output 1
}

@test "counters reach PREFIX:metrics:sse" {
	local out=$BATS_TEST_TMPDIR/s
	sse_get "$out" ''
	pub order.created >/dev/null
	wait_for 5 metric_ge clients_connected 1
	run stack_redis hgetall "$PFX:metrics:sse"
	assert_output --partial events_sent
	assert_output --partial bytes_sent
	assert_output --partial replays
}

@test "the relay asks the scheduler for a 20 ms slice where Linux has them" {
	local pid
	pid=$(stack_pid ordercast-sse)
	grep -q '^se.slice' "/proc/$pid/sched" 2>/dev/null ||
		skip "this kernel has no per-task slice"
	run awk '/^se.slice/ { print $3 }' "/proc/$pid/sched"
	assert_output 20000000
}

@test "an EventSource in headless chromium receives events" {
	# tests/run installs both; their absence is a failure, not a skip.
	[ -d "$OC_SRCDIR/node_modules/playwright-core" ] ||
		fail "playwright-core is missing: run npm ci"
	[ -x /usr/bin/chromium ] || fail "chromium is missing: apt-get install chromium"
	local js=$BATS_TEST_TMPDIR/es.mjs
	cat >"$js" <<'JS'
import { createRequire } from 'node:module';
const require = createRequire(process.env.OC_SRCDIR + '/package.json');
const { chromium } = require('playwright-core');
const [base, ready, token] = process.argv.slice(2);
const browser = await chromium.launch({
	executablePath: '/usr/bin/chromium', headless: true,
	args: ['--headless', '--no-sandbox', '--disable-gpu',
	    '--disable-background-networking', '--disable-component-update',
	    '--disable-sync'] });
try {
	const context = await browser.newContext();
	await context.addCookies([{ name: 'ordercast_session', value: token,
	    url: base }]);
	const page = await context.newPage();
	await page.goto(base + '/api/events-test-page-absent').catch(() => {});
	const got = page.evaluate(() => new Promise((resolve, reject) => {
		const es = new EventSource('/api/events?topics=orders');
		es.onopen = () => { window.esOpen = true; };
		es.addEventListener('order.created', (m) => {
			es.close();
			resolve({ id: m.lastEventId, data: JSON.parse(m.data) });
		});
		setTimeout(() => reject(new Error('no event')), 20000);
	}));
	await page.waitForFunction(() => window.esOpen === true);
	(await import('node:fs')).writeFileSync(ready, '');
	const ev = await got;
	console.log(ev.id + ' ' + ev.data.type + ' ' + ev.data.id);
} finally {
	await browser.close();
}
JS
	OC_SRCDIR=$OC_SRCDIR node "$js" "$STACK_URL" "$BATS_TEST_TMPDIR/ready" "$SSE_ADMIN" \
		>"$BATS_TEST_TMPDIR/node.out" 2>&1 3>&- &
	local node=$!
	wait_for 60 test -e "$BATS_TEST_TMPDIR/ready" || {
		cat "$BATS_TEST_TMPDIR/node.out"; kill $node; false; }
	local id
	id=$(pub order.created)
	wait "$node" || { cat "$BATS_TEST_TMPDIR/node.out"; false; }
	run cat "$BATS_TEST_TMPDIR/node.out"
	assert_output "$id order.created $id"
}

@test "SIGTERM ends open streams cleanly and the relay exits 0" {
	local out=$BATS_TEST_TMPDIR/s pid rc=0 stops
	local log=$OC_STATE/log/ordercast-sse.log
	stops=$(grep -cE 'stopping: ending [0-9]+ streams' "$log" || true)
	sse_get "$out" ''
	pid=$(stack_pid ordercast-sse)
	kill -TERM "$pid"
	# curl ends because the stream ended, not because of --max-time.
	wait "${CURLS[0]}" || rc=$?
	[ "$rc" -eq 0 ]
	local deadline=$((SECONDS + 10))
	while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "the relay is still running" >&2
		return 1
	fi
	run grep -cE 'stopping: ending [0-9]+ streams' "$log"
	assert_output $((stops + 1))
	sse_start
}

@test "--check validates the configuration; --help prints usage" {
	run "$OC_BUILDDIR/ordercast-sse" --check
	assert_success
	ORDERCAST_SSE_MAX_CLIENTS=0 run "$OC_BUILDDIR/ordercast-sse" -n
	assert_failure
	run "$OC_BUILDDIR/ordercast-sse" --help
	assert_success
	assert_output --partial '--listen'
}

@test "FastCGI directly: keep-conn, GET_VALUES, one request per connection, 503 over the limit, exit 0" {
	local sock=$BATS_TEST_TMPDIR/direct.sock pid rc=0
	ORDERCAST_PREFIX=$PFX ORDERCAST_SSE_MAX_CLIENTS=1 \
		"$OC_BUILDDIR/ordercast-sse" --listen "unix:$sock" \
		2>"$BATS_TEST_TMPDIR/direct.log" 3>&- &
	pid=$!
	wait_for 20 test -S "$sock"
	run /usr/bin/python3 - "$sock" <<'PY'
import socket, struct, sys
def rec(t, rid, content=b""):
    pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBx", 1, t, rid, len(content), pad) + content + b"\0" * pad
def pairs(d):
    out = b""
    for k, v in d.items():
        k, v = k.encode(), v.encode()
        out += bytes([len(k)]) + bytes([len(v)]) + k + v
    return out
def request(s, rid, params, keep):
    s.sendall(rec(1, rid, struct.pack(">HB5x", 1, 1 if keep else 0)) +
              rec(4, rid, pairs(params)) + rec(4, rid) + rec(5, rid))
def read_until(s, want_type, want_id):
    buf, out = b"", []
    while True:
        while len(buf) >= 8:
            v, t, rid, clen, plen = struct.unpack(">BBHHBx", buf[:8])
            if len(buf) < 8 + clen + plen:
                break
            out.append((t, rid, buf[8:8 + clen]))
            buf = buf[8 + clen + plen:]
            if t == want_type and rid == want_id:
                return out
        d = s.recv(65536)
        if not d:
            return out
        buf += d
def stdout(recs, rid):
    return b"".join(c for t, r, c in recs if t == 6 and r == rid)
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(rec(9, 0, pairs({"FCGI_MPXS_CONNS": "", "FCGI_MAX_CONNS": ""})))
r = read_until(s, 10, 0)
print("values", r[-1][2])
# Two requests, one after the other, on one kept connection.
request(s, 1, {"REQUEST_METHOD": "GET", "QUERY_STRING": "topics=nope"}, True)
r = read_until(s, 3, 1)
print("first", stdout(r, 1).split(b"\r\n")[0].decode(), "end", r[-1][2][4])
request(s, 2, {"REQUEST_METHOD": "GET", "QUERY_STRING": ""}, True)
buf = b""
while b"retry: 2000" not in buf:
    buf += s.recv(65536)
print("second streams", b"Status: 200" in buf)
# A second request while one is open: refused, not multiplexed.
request(s, 3, {"REQUEST_METHOD": "GET"}, True)
r = read_until(s, 3, 3)
print("mpx", r[-1][2][4])
# Over the limit of one client: 503 with Retry-After.
t = socket.socket(socket.AF_UNIX); t.connect(sys.argv[1])
request(t, 1, {"REQUEST_METHOD": "GET"}, False)
r = read_until(t, 3, 1)
head = stdout(r, 1).decode()
print("over", head.split("\r\n")[0], "Retry-After" in head)
print("closed", t.recv(10) == b"")
PY
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	assert_line --partial 'values'
	assert_line --partial 'FCGI_MPXS_CONNS0'
	assert_line 'first Status: 400 Bad Request end 0'
	assert_line 'second streams True'
	assert_line "mpx $(printf '%d' 1)"
	assert_line 'over Status: 503 Service Unavailable True'
	assert_line 'closed True'
	[ "$rc" -eq 0 ]
}

@test "a Redis slow to answer a replay does not delay live events to others" {
	local dir=$BATS_TEST_TMPDIR proxy relay rc=0 from
	from=$(pub order.created)
	# A proxy in front of Redis that holds every XRANGE (the replay
	# path) for 4 s; everything else passes at once.
	/usr/bin/python3 - "$OC_STATE/run/redis.sock" "$dir/proxy.sock" \
		"$dir/held" <<'PY' 3>&- &
import os, socket, sys, threading, time
upstream, path, flag = sys.argv[1:4]
def pump(src, dst, hold):
    try:
        while True:
            d = src.recv(65536)
            if not d:
                break
            if hold and b"XRANGE" in d.upper():
                open(flag, "w").close()
                time.sleep(4)
            dst.sendall(d)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
l = socket.socket(socket.AF_UNIX)
l.bind(path)
l.listen(16)
while True:
    c, _ = l.accept()
    u = socket.socket(socket.AF_UNIX)
    u.connect(upstream)
    threading.Thread(target=pump, args=(c, u, True), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, False), daemon=True).start()
PY
	proxy=$!
	CURLS+=("$proxy")
	wait_for 10 test -S "$dir/proxy.sock"
	ORDERCAST_PREFIX=$PFX ORDERCAST_REDIS=$dir/proxy.sock \
		"$OC_BUILDDIR/ordercast-sse" --listen "unix:$dir/relay.sock" \
		2>"$dir/relay.log" 3>&- &
	relay=$!
	CURLS+=("$relay")
	wait_for 20 test -S "$dir/relay.sock"
	wait_for 20 eval '[ "$(stack_redis pubsub numsub "$PFX:events" |
		tail -n 1)" -ge 2 ]'
	run /usr/bin/python3 - "$dir/relay.sock" "$dir/held" "$from" \
		"$OC_STATE/run/redis.sock" "$PFX" "$SSE_ADMIN" <<'PY'
import os, socket, struct, sys, time
sock, flag, from_id, redis_sock, pfx, token = sys.argv[1:7]
def rec(t, rid, content=b""):
    pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBx", 1, t, rid, len(content), pad) + content + b"\0" * pad
def pairs(d):
    out = b""
    for k, v in d.items():
        k, v = k.encode(), v.encode()
        out += bytes([len(k)]) + bytes([len(v)]) + k + v
    return out
def stream(params):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(rec(1, 1, struct.pack(">HB5x", 1, 0)) +
              rec(4, 1, pairs(params)) + rec(4, 1) + rec(5, 1))
    s.setblocking(False)
    return s
def wait_for(s, want, secs, got):
    deadline = time.time() + secs
    while want not in got[0] and time.time() < deadline:
        try:
            d = s.recv(65536)
            if not d:
                break
            got[0] += d
        except BlockingIOError:
            time.sleep(0.01)
    return want in got[0]
auth = "Bearer " + token
live = stream({"REQUEST_METHOD": "GET", "HTTP_AUTHORIZATION": auth})
lgot = [b""]
assert wait_for(live, b"retry: 2000", 10, lgot)
replay = stream({"REQUEST_METHOD": "GET", "HTTP_LAST_EVENT_ID": from_id,
                 "HTTP_AUTHORIZATION": auth})
deadline = time.time() + 10
while not os.path.exists(flag) and time.time() < deadline:
    time.sleep(0.01)
print("replay held", os.path.exists(flag))
# Publish one event the way the watcher does, straight to Redis.
r = socket.socket(socket.AF_UNIX)
r.connect(redis_sock)
ms = int(time.time() * 1000) + 1
eid = "%d-0" % ms
ev = ('{"id":"%s","type":"order.created","doc":{}}' % eid).encode()
def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
r.sendall(cmd(b"XADD", (pfx + ":log").encode(), eid.encode(), b"event", ev)
          + cmd(b"PUBLISH", (pfx + ":events").encode(), ev))
t0 = time.time()
ok = wait_for(live, b"id: " + eid.encode(), 10, lgot)
print("live within 1s", ok and time.time() - t0 < 1.0)
rgot = [b""]
print("replay delivered", wait_for(replay, b"id: " + eid.encode(), 20, rgot))
PY
	kill -TERM "$relay"
	wait "$relay" || rc=$?
	assert_line 'replay held True'
	assert_line 'live within 1s True'
	assert_line 'replay delivered True'
	[ "$rc" -eq 0 ]
}
