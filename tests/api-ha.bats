#!/usr/bin/env bats
# ordercast-api on two hosts: orders stay whole when one API process is
# SIGKILLed again and again under two-item orders, and retries of an
# Idempotency-Key get their first order when one host's clock is 40 s
# ahead. Hosts a and b are network namespaces (tests/lib/netns.bash);
# each runs ordercast-api on a unix socket behind its own lighttpd on the
# host's address, port 8080. MongoDB (the stand-in) and Redis listen on
# unix sockets in the test's folders, which both hosts reach; the
# clients run on host a and spread their requests over both hosts.

setup_file() {
	bats_require_minimum_version 1.5.0
	load lib/netns
	ha_suite_setup ah || return 1
	# The stack (Redis, sign-in, sample data) uses the same stand-in.
	export ORDERCAST_MONGODB_URI="$(ha_mongodb_uri)"
	export ORDERCAST_PREFIX=haapi
	load lib/stack
	stack_start
}

teardown_file() {
	load lib/netns
	load lib/stack
	stack_stop || true
	ha_suite_teardown
}

setup() {
	load lib/netns
	load lib/stack
	load api-common
	[ -n "${NETNS_A:-}" ] || skip "no network namespaces"
}

teardown() {
	local h
	for h in a b; do
		ha_kill "lighttpd-$h" TERM
		ha_kill "api-$h" TERM
	done
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		grep -hv 'mongoc: Error in abortTransaction' \
			"$HA_DIR"/api-?.log | tail -n 40 >&2
	fi
	if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
	    "$HA_DIR"/api-?.log; then
		cat "$HA_DIR"/api-?.log >&2
		return 1
	fi
}

# The address of host a or b.
host_ip() {
	if [ "$1" = a ]; then echo "$NETNS_IP_A"; else echo "$NETNS_IP_B"; fi
}

# Start ordercast-api on a host, on the unix socket HA_DIR/api-HOST.sock;
# with "fast" its clock runs 40 s ahead (libfaketime).
# Usage: api_up a|b [fast]
api_up() {
	local h=$1 pre=()
	if [ "${2:-}" = fast ]; then
		pre=(env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
			FAKETIME=+40s
			ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
	fi
	rm -f "$HA_DIR/api-$h.sock"
	ha_spawn "api-$h" "$h" "${pre[@]}" "$OC_BUILDDIR/ordercast-api" \
		--listen "unix:$HA_DIR/api-$h.sock" --threads 4
	ha_wait 20 api_alive "$h"
}

# The API of a host is running and listening.
api_alive() {
	kill -0 "$(cat "$HA_DIR/api-$1.pid")" && test -S "$HA_DIR/api-$1.sock"
}

# lighttpd on a host's address, in front of that host's API.
lighttpd_up() {
	local h=$1
	cat >"$HA_DIR/lighttpd-$h.conf" <<CONF
server.modules = ("mod_fastcgi")
server.bind = "$(host_ip "$h")"
server.port = 8080
server.document-root = "$HA_DIR"
server.errorlog = "$HA_DIR/lighttpd-$h.err"
fastcgi.server = ("/api/" => ((
	"socket" => "$HA_DIR/api-$h.sock",
	"check-local" => "disable"
)))
CONF
	ha_spawn "lighttpd-$h" "$h" lighttpd -D -f "$HA_DIR/lighttpd-$h.conf"
	ha_wait 20 host_ready "$h"
}

# A host answers its health route through lighttpd.
host_ready() {
	netns_exec "$1" curl -sf --max-time 2 -o /dev/null \
		"http://$(host_ip "$1"):8080/api/health"
}

# Once the drive has done AT jobs, SIGKILL the API of a host while the
# database has transactions open (one of them likely that host's), wait
# for it to end, and start it again.
# Usage: api_crash a|b AT
api_crash() {
	local f="$HA_DIR/api-$1.pid"
	/usr/bin/python3 - "$ORDERCAST_MONGODB_URI" "$(cat "$f")" "$2" \
		"$HA_DIR/progress" <<'PY'
import os, signal, sys, time
from pymongo import MongoClient
admin = MongoClient(sys.argv[1], serverSelectionTimeoutMS=10000).admin
pid, at, progress = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def done():
    try:
        return int(open(progress).read())
    except (OSError, ValueError):
        return 0

deadline = time.monotonic() + 300
while done() < at and time.monotonic() < deadline:
    time.sleep(0.01)
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    st = admin.command('serverStatus')['transactions']
    if st['currentOpen'] >= 2:
        break
os.kill(pid, signal.SIGKILL)
PY
	wait "$(cat "$f")" 2>/dev/null || true
	rm -f "$f"
	api_up "$1"
}

# Run the clients on host a: each job of the JSON file JOBS is a POST
# /api/orders with its Idempotency-Key, sent to its hosts in turn and
# sent again (the same key) after a connection error, 502, 503, 504 or
# the web server's 500 (no API body), as a client would, for up to 150
# s; each try is [time, status, the API's error code]. One JSON line per job goes to OUT
# as it ends, and HA_DIR/progress counts the jobs done.
# Usage: drive JOBS OUT WORKERS
drive() {
	netns_exec a /usr/bin/python3 - "$1" "$2" "$OC_ADMIN_TOKEN" "$3" \
		"$HA_DIR/progress" <<'PY'
import http.client, json, os, sys, threading, time
import urllib.error, urllib.request
from concurrent.futures import ThreadPoolExecutor

jobs = json.load(open(sys.argv[1]))
out = open(sys.argv[2], 'w')
token, workers, progress = sys.argv[3], int(sys.argv[4]), sys.argv[5]
lock = threading.Lock()
done = [0]

def send(url, key, body):
    req = urllib.request.Request(url + '/api/orders', data=body.encode(),
        method='POST', headers={'Authorization': 'Bearer ' + token,
        'Content-Type': 'application/json', 'Idempotency-Key': key})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (OSError, http.client.HTTPException):
        return 0, b''

def run(job):
    t0 = time.time()
    tries = []
    i = 0
    while True:
        code, body = send(job['hosts'][i % len(job['hosts'])],
                          job['key'], job['body'])
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}
        err = (doc.get('error') or {}).get('code')
        tries.append([round(time.time(), 3), code, err])
        # A 500 without the API's JSON is the web server's: the API
        # process died with the request, whose outcome is unknown.
        lost = code in (0, 502, 503, 504) or (code == 500 and err is None)
        if not lost or time.time() - t0 > 150:
            break
        i += 1
        time.sleep(min(0.05 * i, 0.5))
    rec = {'key': job['key'], 'code': code, 'id': doc.get('id'),
           'error': err, 'tries': tries, 'took': round(time.time() - t0, 3)}
    with lock:
        out.write(json.dumps(rec) + '\n')
        out.flush()
        done[0] += 1
        with open(progress + '.tmp', 'w') as f:
            f.write('%d\n' % done[0])
        os.rename(progress + '.tmp', progress)

with ThreadPoolExecutor(workers) as ex:
    list(ex.map(run, jobs))
PY
}

@test "api-ha: an API process SIGKILLed during 400 two-item orders on two hosts: stock plus units in orders equals the start" {
	local p products=() customers=() drv k kills=8
	local lifetime=${OC_HA_TXN_LIFETIME:-5}
	# A killed process leaves its transaction open until the server
	# ends it; a shop lowers the lifetime to what its orders need.
	stack_mongo "print(client.admin.command('setParameter', 1,
    transactionLifetimeLimitSeconds=$lifetime)['was'])"
	for p in KB-101 CH-112 MN-303 WC-808; do
		products+=("$(product_id "$p")")
		set_stock "${products[-1]}" 400
	done
	for k in 0 1 2 3; do
		customers+=("$(customer_id "$k")")
	done
	for h in a b; do
		api_up "$h"
		lighttpd_up "$h"
	done
	run="kill$RANDOM"
	/usr/bin/python3 - "$run" "${products[*]}" "${customers[*]}" \
		"http://$NETNS_IP_A:8080" "http://$NETNS_IP_B:8080" \
		>"$HA_DIR/jobs.json" <<'PY'
import json, random, sys
run, products, customers = sys.argv[1], sys.argv[2].split(), \
    sys.argv[3].split()
a, b = sys.argv[4], sys.argv[5]
jobs = []
for i in range(400):
    two = random.sample(products, 2)
    body = {'customerId': customers[i % len(customers)],
            'items': [{'productId': p, 'qty': random.randint(1, 3)}
                      for p in two]}
    jobs.append({'key': '%s-%d' % (run, i), 'body': json.dumps(body),
                 'hosts': [a, b] if i % 2 == 0 else [b, a]})
print(json.dumps(jobs))
PY
	rm -f "$HA_DIR/progress"
	drive "$HA_DIR/jobs.json" "$HA_DIR/results" 8 &
	drv=$!
	for ((k = 1; k <= kills; k++)); do
		# A moment of the run, different each time: after some orders.
		api_crash b $((k * 50 + RANDOM % 30))
	done
	wait "$drv"
	[ "$(wc -l <"$HA_DIR/results")" = 400 ]
	# Locked products are no outage: the breaker stays closed.
	run ! grep -h 'breaker open' "$HA_DIR"/api-?.log
	echo "# open transactions the lifetime ended:" \
		"$(grep -c 'aborted: lifetime limit' "$HA_DIR/mongod-standin.log")" >&3
	/usr/bin/python3 - "$HA_DIR/results" <<'PY' >&3
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
codes = {}
for r in recs:
    for t in r['tries']:
        codes[t[1]] = codes.get(t[1], 0) + 1
answers = sorted(t[0] for r in recs for t in r['tries']
                 if t[1] in (200, 201, 409))
gap = max(b - a for a, b in zip(answers, answers[1:]))
print('# answers by status (0: connection lost): %s' % codes)
print('# longest order: %.1f s; longest time without an answered order: '
      '%.1f s' % (max(r['took'] for r in recs), gap))
PY
	stack_mongo "
import json
from collections import Counter
run = '$run'
start = 400
recs = [json.loads(l) for l in open('$HA_DIR/results')]
bad = [r for r in recs if r['code'] not in (200, 201, 409)]
assert not bad, ('answers other than 200, 201, 409', bad[:3])
api500 = [r for r in recs if any(t[1] == 500 and t[2] for t in r['tries'])]
assert not api500, ('the API answered 500', api500[:3])
short = [r for r in recs if r['code'] == 409]
assert all(r['error'] == 'insufficient_stock' for r in short), short[:3]
jobs = {j['key']: json.loads(j['body'])
        for j in json.load(open('$HA_DIR/jobs.json'))}
orders = list(db.orders.find({'idempotencyKey': {'\$regex': '^' + run}}))
by_key = Counter(o['idempotencyKey'] for o in orders)
assert max(by_key.values()) == 1, 'two orders under one key'
held = {o['idempotencyKey']: o for o in orders}
for r in recs:
    if r['code'] in (200, 201):
        o = held.get(r['key'])
        assert o is not None, ('acknowledged order missing', r)
        assert str(o['_id']) == r['id'], ('another order', r)
for key, o in held.items():
    want = [(i['productId'], i['qty']) for i in jobs[key]['items']]
    got = [(str(i['productId']), i['qty']) for i in o['items']]
    assert got == want, ('order not as asked', key, got, want)
claims = db.idempotency.count_documents({'_id': {'\$regex': ':' + run}})
assert claims == len(orders), ('claims without orders', claims, len(orders))
for p in '${products[*]}'.split():
    units = sum(i['qty'] for o in orders if o['status'] != 'cancelled'
                for i in o['items'] if str(i['productId']) == p)
    stock = db.products.find_one({'_id': ObjectId(p)})['stock']
    assert stock + units == start, (p, stock, units)
print('# %d orders made, %d refused for stock' % (len(orders), len(short)))
" >&3
}

@test "api-ha: a host clock 40 s ahead: no 500, every retry of a key gets its first order" {
	local products=() customers=() k run
	products=("$(product_id DK-707)" "$(product_id SP-505)")
	set_stock "${products[0]}" 1000
	set_stock "${products[1]}" 1000
	for k in 0 1 2; do
		customers+=("$(customer_id "$k")")
	done
	api_up a fast
	api_up b
	lighttpd_up a
	lighttpd_up b
	run="clock$RANDOM"
	# Claims without an order, left by a request of an older version
	# that claimed outside the order's transaction: one just made by the
	# database's clock (its owner may still be at work), one 45 s old.
	stack_mongo "
now = datetime.datetime.utcnow()
for name, age in (('young', 0), ('old', 45)):
    db.idempotency.insert_one({'_id': '${customers[0]}:$run-' + name,
        'at': now - datetime.timedelta(seconds=age)})
"
	/usr/bin/python3 - "$run" "${products[*]}" "${customers[*]}" \
		"http://$NETNS_IP_A:8080" "http://$NETNS_IP_B:8080" \
		>"$HA_DIR/jobs.json" <<'PY'
import json, random, sys
run, products, customers = sys.argv[1], sys.argv[2].split(), \
    sys.argv[3].split()
a, b = sys.argv[4], sys.argv[5]
jobs = []
keys = ['%s-%d' % (run, i) for i in range(24)] + \
    ['%s-young' % run, '%s-old' % run]
for n, key in enumerate(keys):
    c = customers[0] if not key[-1].isdigit() else customers[n % 3]
    body = json.dumps({'customerId': c, 'items': [
        {'productId': products[n % 2], 'qty': 1 + n % 3}]})
    for i in range(6):
        # Half of the retries to each host, the fast one first.
        hosts = [a, b] if i % 2 == 0 else [b, a]
        if key.endswith('young'):
            hosts = [a]
        jobs.append({'key': key, 'body': body, 'hosts': hosts,
                     'customer': c, 'qty': 1 + n % 3,
                     'product': products[n % 2]})
random.shuffle(jobs)
print(json.dumps(jobs))
PY
	drive "$HA_DIR/jobs.json" "$HA_DIR/results" 12
	stack_mongo "
import json, time
run = '$run'
jobs = json.load(open('$HA_DIR/jobs.json'))
recs = [json.loads(l) for l in open('$HA_DIR/results')]
assert len(recs) == len(jobs), len(recs)
five = [r for r in recs if any(t[1] >= 500 or t[1] == 0
                               for t in r['tries'])]
assert not five, ('server errors', five[:3])
young = [r for r in recs if r['key'] == run + '-young']
assert all(r['code'] == 409 and r['error'] == 'in_progress'
           for r in young), ('a live claim was taken over', young)
assert db.orders.count_documents({'idempotencyKey': run + '-young'}) == 0
ids = {}
for r in recs:
    if r['key'] == run + '-young':
        continue
    assert r['code'] in (200, 201), ('unexpected answer', r)
    ids.setdefault(r['key'], set()).add(r['id'])
assert len(ids) == 25, sorted(ids)
for key, got in ids.items():
    assert len(got) == 1, ('retries got different orders', key, got)
    orders = list(db.orders.find({'idempotencyKey': key}))
    assert len(orders) == 1, ('orders under one key', key, len(orders))
    assert str(orders[0]['_id']) in got
# The fast host did make orders: dated by its clock, 40 s after the
# database's date of their claim.
ahead = 0
for o in db.orders.find({'idempotencyKey': {'\$regex': '^' + run}}):
    c = db.idempotency.find_one({'orderId': o['_id']})
    if c and (o['createdAt'] - c['at']).total_seconds() > 30:
        ahead += 1
assert ahead > 0, 'no order came from the host whose clock is ahead'
per = {}
for j in jobs:
    if not j['key'].endswith('young'):
        per[j['key']] = (j['product'], j['qty'])
for p in '${products[*]}'.split():
    taken = sum(q for pp, q in per.values() if pp == p)
    stock = db.products.find_one({'_id': ObjectId(p)})['stock']
    assert stock == 1000 - taken, (p, stock, 1000 - taken)
print('# %d requests over %d keys, %d orders from the fast host'
      % (len(recs), len(ids) + 1, ahead))
" >&3
}
