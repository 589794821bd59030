# shellcheck shell=bash
#
# Two test hosts in network namespaces of their own, joined by a veth
# pair, for suites that run servers on several hosts. Needs root (ip
# netns). The addresses, of the private test range 10.213.0.0/24, exist
# only inside the namespaces made here, and netns_teardown removes them.
#
#   netns_usable              true when namespaces can be made here
#   netns_setup               make hosts a and b: NETNS_A, NETNS_B,
#                             NETNS_IP_A (10.213.0.1), NETNS_IP_B (.2)
#   netns_exec HOST CMD...    run CMD on host a or b
#   netns_cut / netns_heal    take the link between them down / up
#   netns_teardown            remove both namespaces (and the link)
#   ha_suite_setup TAG        hosts, HA_DIR and a MongoDB stand-in in it,
#                             for a suite's setup_file (skips without root)
#   ha_suite_teardown         undo ha_suite_setup
#   ha_mongodb_uri            the URI of that stand-in
#
# Unix sockets are files, not network: a server on either host may also
# listen on one in the test's folder, which the test itself uses.

NETNS_IP_A=10.213.0.1
NETNS_IP_B=10.213.0.2

# True when this process may make network namespaces.
netns_usable() {
	local probe="oc-probe-$$"
	[ "$(id -u)" -eq 0 ] || return 1
	command -v ip >/dev/null || return 1
	ip netns add "$probe" 2>/dev/null || return 1
	ip netns del "$probe"
}

# Make the two hosts. Names carry the pid, so runs side by side differ.
netns_setup() {
	NETNS_A="oc-$$-a"
	NETNS_B="oc-$$-b"
	NETNS_LINK_A="oc$$a"
	NETNS_LINK_B="oc$$b"
	export NETNS_A NETNS_B NETNS_IP_A NETNS_IP_B NETNS_LINK_A NETNS_LINK_B
	ip netns add "$NETNS_A" || return 1
	ip netns add "$NETNS_B" || { netns_teardown; return 1; }
	ip link add "$NETNS_LINK_A" netns "$NETNS_A" type veth \
		peer name "$NETNS_LINK_B" netns "$NETNS_B" ||
		{ netns_teardown; return 1; }
	ip -n "$NETNS_A" addr add "$NETNS_IP_A/24" dev "$NETNS_LINK_A" &&
	ip -n "$NETNS_B" addr add "$NETNS_IP_B/24" dev "$NETNS_LINK_B" &&
	ip -n "$NETNS_A" link set lo up &&
	ip -n "$NETNS_B" link set lo up &&
	ip -n "$NETNS_A" link set "$NETNS_LINK_A" up &&
	ip -n "$NETNS_B" link set "$NETNS_LINK_B" up ||
		{ netns_teardown; return 1; }
}

# The namespace of host a or b.
netns_name() {
	case $1 in
	a) echo "$NETNS_A" ;;
	b) echo "$NETNS_B" ;;
	*) echo "netns: no host $1" >&2; return 1 ;;
	esac
}

# Run a command on host a or b.
# Usage: netns_exec a|b COMMAND...
netns_exec() {
	local ns
	ns=$(netns_name "$1") || return 1
	shift
	ip netns exec "$ns" "$@"
}

# The link between the hosts goes down: each still reaches itself.
netns_cut() {
	ip -n "$NETNS_A" link set "$NETNS_LINK_A" down
}

netns_heal() {
	ip -n "$NETNS_A" link set "$NETNS_LINK_A" up
}

# Remove what netns_setup made; deleting a namespace deletes its veth end
# and with it the pair. Safe to call twice.
netns_teardown() {
	[ -n "${NETNS_A:-}" ] && ip netns del "$NETNS_A" 2>/dev/null
	[ -n "${NETNS_B:-}" ] && ip netns del "$NETNS_B" 2>/dev/null
	return 0
}

# -- Redis with Sentinel on the two hosts ------------------------------
#
# A primary r1 on host a (6379), its replica r2 on host b (6380), and
# three sentinels: s1 on a (26379), s2 and s3 on b (26380, 26381), with
# quorum 2 for the master "ocm". Each Redis server also listens on a unix
# socket HA_DIR/NAME.sock for the test. Everything lives in HA_DIR (a
# short path: unix socket paths are limited), PIDs in HA_DIR/NAME.pid.
#
#   ha_redis_up            start the five servers, wait for the quorum
#   ha_redis_down          stop them by PID
#   ha_sentinel HOST PORT ARGS...   redis-cli to one sentinel
#   ha_primary             "ip:port" of the primary, per a sentinel
#   ha_sock ip:port        the unix socket of that server
#   ha_kill NAME [SIG]     signal one server (default KILL), wait for it

HA_MASTER=ocm
HA_SENTINELS="$NETNS_IP_A:26379,$NETNS_IP_B:26380,$NETNS_IP_B:26381"

# Start a program on a host, with its PID file and log in HA_DIR.
# Usage: ha_spawn NAME HOST COMMAND...
ha_spawn() {
	local name=$1 ns
	ns=$(netns_name "$2") || return 1
	shift 2
	# ip execs the command: its PID is the program's.
	ip netns exec "$ns" "$@" >>"$HA_DIR/$name.log" 2>&1 </dev/null 3>&- &
	echo $! >"$HA_DIR/$name.pid"
}

# Poll COMMAND until it passes or SECONDS pass.
# Usage: ha_wait SECONDS COMMAND...
ha_wait() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "ha_wait: timed out: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# One Redis server. Usage: ha_redis_server NAME HOST IP PORT [ARGS...]
ha_redis_server() {
	local name=$1 host=$2 ip=$3 port=$4
	shift 4
	mkdir -p "$HA_DIR/$name"
	ha_spawn "$name" "$host" redis-server --bind "$ip" --port "$port" \
		--unixsocket "$HA_DIR/$name.sock" --unixsocketperm 700 \
		--dir "$HA_DIR/$name" --save "" --appendonly no \
		--protected-mode no --daemonize no --loglevel warning \
		--repl-timeout 5 ${HA_REDIS_ARGS:-} "$@"
}

# One sentinel. Usage: ha_sentinel_server NAME HOST IP PORT
ha_sentinel_server() {
	local name=$1 host=$2 ip=$3 port=$4
	mkdir -p "$HA_DIR/$name"
	cat >"$HA_DIR/$name/sentinel.conf" <<CONF
bind $ip
port $port
protected-mode no
daemonize no
dir $HA_DIR/$name
loglevel warning
sentinel resolve-hostnames no
sentinel monitor $HA_MASTER $NETNS_IP_A 6379 2
sentinel down-after-milliseconds $HA_MASTER 1000
sentinel failover-timeout $HA_MASTER 4000
sentinel parallel-syncs $HA_MASTER 1
CONF
	ha_spawn "$name" "$host" redis-server "$HA_DIR/$name/sentinel.conf" \
		--sentinel
}

# redis-cli to a sentinel. Usage: ha_sentinel a|b PORT ARGS...
ha_sentinel() {
	local host=$1 port=$2 ip
	shift 2
	if [ "$host" = a ]; then ip=$NETNS_IP_A; else ip=$NETNS_IP_B; fi
	netns_exec "$host" redis-cli -h "$ip" -p "$port" "$@"
}

# True when every sentinel sees the other two and the replica.
ha_quorum() {
	local s
	for s in "a 26379" "b 26380" "b 26381"; do
		# shellcheck disable=SC2086
		ha_sentinel $s sentinel ckquorum "$HA_MASTER" 2>/dev/null |
			grep -q '^OK 3 usable' || return 1
		# shellcheck disable=SC2086
		[ "$(ha_sentinel $s sentinel replicas "$HA_MASTER" |
			grep -c "^$NETNS_IP_B:6380$")" = 1 ] || return 1
	done
}

ha_redis_ready() {
	[ "$(redis-cli -s "$HA_DIR/$1.sock" ping 2>/dev/null)" = PONG ]
}

# True when r2 has caught up with r1.
ha_replica_synced() {
	redis-cli -s "$HA_DIR/r2.sock" info replication |
		grep -q 'master_link_status:up'
}

ha_redis_up() {
	ha_redis_server r1 a "$NETNS_IP_A" 6379
	ha_redis_server r2 b "$NETNS_IP_B" 6380 \
		--replicaof "$NETNS_IP_A" 6379
	ha_wait 20 ha_redis_ready r1 || return 1
	ha_wait 20 ha_redis_ready r2 || return 1
	ha_wait 20 ha_replica_synced || return 1
	ha_sentinel_server s1 a "$NETNS_IP_A" 26379
	ha_sentinel_server s2 b "$NETNS_IP_B" 26380
	ha_sentinel_server s3 b "$NETNS_IP_B" 26381
	ha_wait 30 ha_quorum
}

# Signal one server by its PID file and wait for it to end.
# Usage: ha_kill NAME [SIGNAL]
ha_kill() {
	local f="$HA_DIR/$1.pid" pid i
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	kill -"${2:-KILL}" "$pid" 2>/dev/null || { rm -f "$f"; return 0; }
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	rm -f "$f"
}

ha_redis_down() {
	local n
	for n in s1 s2 s3 r1 r2; do
		ha_kill "$n" TERM
	done
}

# The primary's address as the sentinels on host b see it.
ha_primary() {
	ha_sentinel b 26380 sentinel get-master-addr-by-name "$HA_MASTER" |
		paste -sd:
}

# The unix socket of the server at ip:port.
ha_sock() {
	case $1 in
	"$NETNS_IP_A:6379") echo "$HA_DIR/r1.sock" ;;
	"$NETNS_IP_B:6380") echo "$HA_DIR/r2.sock" ;;
	*) echo "ha_sock: no server at $1" >&2; return 1 ;;
	esac
}

# -- ordercast-api on a test host --------------------------------------
#
# lighttpd on 127.0.0.1 (tests/lib/stack.sh, state in HA_DIR/st) in
# front of an ordercast-api that runs on a test host and finds Redis
# through the sentinels. The caller exports ORDERCAST_* (MongoDB, the
# sentinels) and OC_SRCDIR / OC_BUILDDIR, and has sourced stack.sh.
#
#   ha_api_up HOST         the database's sample data, the API on HOST,
#                          lighttpd in front; HA_URL
#   ha_api_down            stop both
#   ha_api_client ARGS...  the writing client (below)

ha_api_up() {
	local host=$1
	OC_STATE=$HA_DIR/st
	export OC_STATE
	mkdir -p "$OC_STATE/run" "$OC_STATE/log"
	"$OC_BUILDDIR/ordercast-api" --init --sample-data \
		>>"$HA_DIR/init.log" 2>&1 || return 1
	rm -f "$OC_STATE/run/api.sock"
	ha_spawn api "$host" "$OC_BUILDDIR/ordercast-api" \
		--listen "unix:$OC_STATE/run/api.sock" --threads 8
	ha_wait 20 test -S "$OC_STATE/run/api.sock" || return 1
	OC_PORT=$(stack_free_port)
	export OC_PORT
	stack_start_lighttpd || return 1
	HA_URL=http://127.0.0.1:$OC_PORT
	export HA_URL
}

ha_api_down() {
	[ -n "${OC_STATE:-}" ] && stack_stop_prog lighttpd
	ha_kill api TERM
}

# The API's writing client during a failover. Signs in the sample admin
# and a customer, waits until a replica holds their sessions, then for
# SECS seconds writes continuously: orders with an Idempotency-Key (as the
# customer) and stock deltas of +1 (as the admin, on a product no order
# takes), each retried after 100 ms while it answers 503, as a client
# would; a session made every 250 ms on the side. At a third of the time
# it fails the primary over (failover: SENTINEL FAILOVER; kill: SIGKILL
# of the primary HA_DIR/NAME.pid; none). Records every answer and when
# the sentinels announced +switch-master; the verdict and the figures go
# to OUT (JSON) and, in short, to standard output.
# Usage: ha_api_client failover|kill|none SECS OUT [PRIMARY-NAME]
ha_api_client() {
	/usr/bin/python3 - "$@" <<'PY'
import http.client, json, os, socket, subprocess, sys, threading, time
from pymongo import MongoClient

mode, secs, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
victim = sys.argv[4] if len(sys.argv) > 4 else 'r1'
d = os.environ['HA_DIR']
port = int(os.environ['HA_URL'].rsplit(':', 1)[1])
db = MongoClient(os.environ['ORDERCAST_MONGODB_URI'],
                 serverSelectionTimeoutMS=20000)[os.environ['ORDERCAST_DB']]
socks = {os.environ['NETNS_IP_A'] + ':6379': d + '/r1.sock',
         os.environ['NETNS_IP_B'] + ':6380': d + '/r2.sock'}
pw = os.environ.get('ORDERCAST_DEMO_PASSWORD', 'ordercast-demo')

sys.path.insert(0, os.environ['OC_SRCDIR'] + '/tests/lib')
from resp import RedisError, command as rcmd

def sentinel(host, sport, *args):
    ns = os.environ['NETNS_A' if host == 'a' else 'NETNS_B']
    ip = os.environ['NETNS_IP_A' if host == 'a' else 'NETNS_IP_B']
    return subprocess.run(['ip', 'netns', 'exec', ns, 'redis-cli', '-h', ip,
                           '-p', str(sport)] + list(args),
                          capture_output=True, text=True, timeout=10).stdout

def primary():
    return socks[':'.join(sentinel('b', 26380, 'sentinel',
        'get-master-addr-by-name', 'ocm').split())]

def request(method, path, token=None, body=None, headers=None):
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    h = dict(headers or {})
    if token:
        h['Authorization'] = 'Bearer ' + token
    if body is not None:
        h['Content-Type'] = 'application/json'
        body = json.dumps(body)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        return r.status, data
    finally:
        c.close()

def login(email):
    st, data = request('POST', '/api/session',
                       body={'email': email, 'password': pw})
    return st, json.loads(data)['token'] if st == 201 else None

st, admin = login('admin@ordercast.example')
assert st == 201, st
st, alice = login('alice.martin@example.com')
assert st == 201, st
st, data = request('GET', '/api/session', alice)
assert st == 200, st
alice_id = json.loads(data)['user']['id']
st, data = request('GET', '/api/products', admin)
products = json.loads(data)['data']
by_stock = sorted(products, key=lambda p: -p['stock'])
order_product, stock_product = by_stock[0]['id'], by_stock[1]['id']
stock_start = by_stock[1]['stock']
st, _ = request('PUT', '/api/products/%s/stock' % order_product, admin,
                {'stock': 1000000})
assert st == 200, st
# The sessions are on a replica before anything fails.
assert rcmd(primary(), 'WAIT', 1, 5000) >= 1

run = '%x' % int(time.time() * 1000)
t0 = time.time()
stop = t0 + secs
answers = []      # (kind, key, sent, answered, status)
lock = threading.Lock()
events = {}

def note(*a):
    with lock:
        answers.append(a)

def write(kind, key, fn):
    """Send until an answer other than 503; False after 20 s of 503."""
    give_up = time.time() + 20
    while True:
        sent = time.time()
        try:
            st, _ = fn()
        except (OSError, http.client.HTTPException):
            st = 0
        note(kind, key, sent, time.time(), st)
        if st != 503 or time.time() > give_up:
            return st
        time.sleep(0.1)

acked_orders, acked_deltas = [], [0]

def orders():
    i = 0
    while time.time() < stop:
        key = '%s-%d' % (run, i)
        i += 1
        st = write('order', key, lambda: request('POST', '/api/orders', alice,
            {'customerId': alice_id,
             'items': [{'productId': order_product, 'qty': 1}]},
            {'Idempotency-Key': key}))
        if st in (200, 201):
            acked_orders.append(key)
        time.sleep(0.01)

def deltas():
    i = 0
    while time.time() < stop:
        i += 1
        st = write('stock', str(i), lambda: request('PUT',
            '/api/products/%s/stock' % stock_product, admin, {'delta': 1}))
        if st == 200:
            acked_deltas[0] += 1
        time.sleep(0.01)

sessions = []     # (token, made)

def sign_ins():
    while time.time() < stop:
        try:
            st, tok = login('bruno.costa@example.com')
        except (OSError, http.client.HTTPException):
            st, tok = 0, None
        note('login', '', time.time(), time.time(), st)
        if tok:
            sessions.append((tok, time.time()))
        time.sleep(0.25)

# +switch-master as the sentinels announce it.
sub = subprocess.Popen(['ip', 'netns', 'exec', os.environ['NETNS_B'],
    'redis-cli', '-h', os.environ['NETNS_IP_B'], '-p', '26380',
    'subscribe', '+switch-master'], stdout=subprocess.PIPE, text=True,
    bufsize=1)

def switches():
    for line in sub.stdout:
        if line.startswith('ocm '):
            events.setdefault('switch', time.time())
threading.Thread(target=switches, daemon=True).start()

# After a commanded failover the old primary stays a primary until the
# sentinels demote it: the last time an API write (the cache generation
# every write bumps) still reached it there.
gen_key = os.environ['ORDERCAST_PREFIX'] + ':cache:gen'

def old_primary():
    last = None
    while time.time() < stop + 15:
        try:
            role = rcmd(d + '/r1.sock', 'ROLE')[0]
            gen = rcmd(d + '/r1.sock', 'GET', gen_key)
        except (OSError, IndexError, RedisError):
            return
        if role != 'master':
            return
        if 'switch' in events and last is not None and gen != last:
            events['old_write'] = time.time()
        last = gen
        time.sleep(0.02)

threads = [threading.Thread(target=f) for f in (orders, deltas, sign_ins)]
watch_old = threading.Thread(target=old_primary, daemon=True)
watch_old.start()
for t in threads:
    t.start()
time.sleep(secs / 3)
events['fail'] = time.time()
if mode == 'kill':
    os.kill(int(open('%s/%s.pid' % (d, victim)).read()), 9)
elif mode == 'failover':
    sentinel('a', 26379, 'sentinel', 'failover', 'ocm')
for t in threads:
    t.join()
sub.terminate()
sub.wait()
if mode == 'failover':
    watch_old.join()

# What MongoDB holds of the acknowledged writes.
dup_or_lost = [k for k in acked_orders
               if db.orders.count_documents({'idempotencyKey': k}) != 1]
stock_now = db.products.find_one({'_id': __import__('bson').ObjectId(
    stock_product)})['stock']
# Every session made: still known (200) or lost with its write (401).
session_codes = {}
for tok, made in sessions:
    st, _ = request('GET', '/api/session', tok)
    session_codes[str(st)] = session_codes.get(str(st), 0) + 1
for tok in (admin, alice):
    st, _ = request('GET', '/api/session', tok)
    session_codes['before-%d' % st] = session_codes.get('before-%d' % st,
                                                        0) + 1

writes = sorted((a for a in answers if a[0] != 'login'), key=lambda a: a[3])
fail_t = events['fail']
switch_t = events.get('switch')
codes = {}
for a in answers:
    codes[str(a[4])] = codes.get(str(a[4]), 0) + 1
# The longest span of failed writes: from the first failed answer to the
# first succeeding answer after it.
longest, first_bad, span_from = 0.0, None, None
for a in writes:
    ok = 200 <= a[4] < 300
    if not ok and first_bad is None:
        first_bad = a[3]
    elif ok and first_bad is not None:
        if a[3] - first_bad > longest:
            longest, span_from = a[3] - first_bad, first_bad
        first_bad = None
bad_after = [a[3] for a in writes if a[4] == 503 and a[3] >= fail_t]
ok_after_switch = [a[3] for a in writes if 200 <= a[4] < 300 and
                   switch_t is not None and a[2] >= switch_t]
res = {
    'mode': mode,
    'writes': len(writes),
    'codes': codes,
    'acked_orders': len(acked_orders),
    'orders_not_once': dup_or_lost,
    'stock_expected': stock_start + acked_deltas[0],
    'stock_now': stock_now,
    'sessions': session_codes,
    'failover_s': None if switch_t is None else switch_t - fail_t,
    'first_503_s': (min(bad_after) - fail_t) if bad_after else None,
    'last_503_after_switch_s': (max(bad_after) - switch_t)
        if bad_after and switch_t else None,
    'unavailable_s': longest,
    'unavailable_from_s': None if span_from is None else span_from - fail_t,
    'followed_s': (min(ok_after_switch) - switch_t)
        if ok_after_switch else None,
    'old_primary_written_s': (events['old_write'] - switch_t)
        if 'old_write' in events else None,
}
json.dump(res, open(out, 'w'), indent=1)
print(json.dumps({k: v for k, v in res.items() if k != 'order_ids'}))
PY
}

# The URI of the MongoDB stand-in that ha_suite_setup starts in HA_DIR
# (the socket path percent-encoded).
ha_mongodb_uri() {
	echo "mongodb://${HA_DIR//\//%2F}%2Fm.sock/?replicaSet=rs0"
}

# What every ha suite's setup_file starts with: the two hosts and a
# MongoDB stand-in on a unix socket in HA_DIR, which both reach. Skips
# when namespaces cannot be made. Usage: ha_suite_setup TAG
ha_suite_setup() {
	netns_usable || skip "network namespaces cannot be made here"
	# Short (unix socket paths) and lower case (pymongo folds a
	# replica set member's host, a socket path included).
	HA_DIR=/tmp/oc$1-$$-$RANDOM
	mkdir -m 700 "$HA_DIR" || return 1
	export HA_DIR
	netns_setup || return 1
	/usr/bin/python3 "$OC_SRCDIR/tests/mongod-standin/mongod-standin" \
		--unix "$HA_DIR/m.sock" --port-file "$HA_DIR/m.port" \
		>>"$HA_DIR/mongod-standin.log" 2>&1 </dev/null 3>&- &
	echo $! >"$HA_DIR/mongod-standin.pid"
	ha_wait 30 test -s "$HA_DIR/m.port"
}

# Undo ha_suite_setup: the stand-in, the hosts, HA_DIR.
ha_suite_teardown() {
	[ -n "${HA_DIR:-}" ] || return 0
	ha_kill mongod-standin TERM
	netns_teardown
	rm -rf "$HA_DIR"
}
