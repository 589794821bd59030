#!/usr/bin/env bats
# ordercast-watch: every change becomes the right event, alerts, cache
# invalidation, heartbeat, signals and options.

setup_file() {
	load watch-common
	export ORDERCAST_LOW_STOCK=10
	watch_stack_start 3>&-
}

teardown_file() {
	load watch-common
	watch_stack_stop
}

setup() {
	load watch-common
}

@test "watch: -n accepts a valid configuration and rejects a bad URI" {
	run "$OC_BUILDDIR/ordercast-watch" -n
	assert_success
	ORDERCAST_MONGODB_URI=nonsense run "$OC_BUILDDIR/ordercast-watch" -n
	assert_failure
	assert_output --partial ORDERCAST_MONGODB_URI
	run "$OC_BUILDDIR/ordercast-watch" --bogus
	assert_failure
}

@test "watch: every operation on every collection gives its event in order" {
	watch_py '
start = rcmd("XLEN", PREFIX + ":log")
want = []
# updateLookup returns the document as it is when the watcher reads the
# change, so each write waits for its event to keep "doc" predictable.
def step():
    wait_log(start + len(want))
for coll, noun in (("orders", "order"), ("products", "product"),
                   ("users", "user")):
    c = db[coll]
    oid = c.insert_one({"name": "n1", "stock": 50, "tags": ["a"],
                        "nested": {"_id": 7, "x": 1}}).inserted_id
    key = str(oid)
    want.append((noun + ".created", coll, "insert", key,
                 {"id": key, "name": "n1", "stock": 50, "tags": ["a"],
                  "nested": {"_id": 7, "x": 1}}, {}, []))
    step()
    c.update_one({"_id": oid}, {"$set": {"name": "n2", "nested.x": 2},
                                "$unset": {"tags": ""}})
    want.append((noun + ".updated", coll, "update", key,
                 {"id": key, "name": "n2", "stock": 50,
                  "nested": {"_id": 7, "x": 2}},
                 {"name": "n2", "nested.x": 2}, ["tags"]))
    step()
    c.replace_one({"_id": oid}, {"name": "n3", "stock": 60})
    want.append((noun + ".updated", coll, "replace", key,
                 {"id": key, "name": "n3", "stock": 60}, {}, []))
    step()
    c.delete_one({"_id": oid})
    want.append((noun + ".deleted", coll, "delete", key, None, {}, []))
# Changes to other collections make no event.
db.other.insert_one({"x": 1})
db.orders.insert_one({"_id": "k-1", "last": True})
want.append(("order.created", "orders", "insert", "k-1",
             {"id": "k-1", "last": True}, {}, []))
evs = wait_log(start + len(want))[start:]
assert len(evs) == len(want), (len(evs), len(want))
prev = None
for ev, w in zip(evs, want):
    got = (ev["type"], ev["collection"], ev["op"], ev["key"], ev["doc"],
           ev["changed"], ev["removed"])
    assert got == w, "\n got %r\nwant %r" % (got, w)
    assert list(ev) == ["id", "type", "collection", "op", "key", "doc",
        "changed", "removed", "clusterTime", "publishedAt"], list(ev)
    assert ev["publishedAt"] >= ev["clusterTime"] > 0
    if prev is not None:
        a = tuple(map(int, prev.split("-")))
        b = tuple(map(int, ev["id"].split("-")))
        assert a < b, (prev, ev["id"])
    prev = ev["id"]
'
}

@test "watch: the event is published with the same text as the log entry" {
	watch_py '
import subprocess, os
sub = subprocess.Popen(["redis-cli", "-s", sys.argv[3], "--raw",
    "SUBSCRIBE", PREFIX + ":events"], stdout=subprocess.PIPE)
assert sub.stdout.readline().strip() == b"subscribe"
sub.stdout.readline(); sub.stdout.readline()
start = rcmd("XLEN", PREFIX + ":log")
db.users.insert_one({"name": "pub"})
evs = wait_log(start + 1)
lines = [sub.stdout.readline().strip() for _ in range(3)]
sub.kill(); sub.wait()
assert lines[0] == b"message", lines
stored = rcmd("XRANGE", PREFIX + ":log", evs[-1]["id"], evs[-1]["id"])
assert lines[2].decode() == stored[0][1][1], (lines, stored)
'
}

@test "watch: low-stock alert once per crossing, after the product event" {
	watch_py '
start = rcmd("XLEN", PREFIX + ":log")
pid = db.products.insert_one({"sku": "LOW", "stock": 30}).inserted_id
for s in (20, 9, 5, 0, 12, 50, 3, 2):
    db.products.update_one({"_id": pid}, {"$set": {"stock": s}})
db.products.update_one({"_id": pid}, {"$set": {"name": "still low"}})
db.products.delete_one({"_id": pid})
# A product created under the threshold alerts at once.
p2 = db.products.insert_one({"sku": "LOW2", "stock": 1}).inserted_id
types = ["product.created"] + ["product.updated"] * 2 + ["alert.low_stock"]
types += ["product.updated"] * 4 + ["product.updated", "alert.low_stock"]
types += ["product.updated", "product.updated", "product.deleted"]
types += ["product.created", "alert.low_stock"]
evs = wait_log(start + len(types))[start:]
got = [e["type"] for e in evs]
assert got == types, got
alerts = [e for e in evs if e["type"] == "alert.low_stock"]
assert [a["changed"] for a in alerts] == [{"stock": 9}, {"stock": 3},
                                          {"stock": 1}], alerts
assert alerts[0]["key"] == str(pid) and alerts[0]["doc"]["sku"] == "LOW"
assert alerts[0]["collection"] == "products"
assert alerts[2]["key"] == str(p2)
'
}

@test "watch: product changes drop the product cache and bump its generation, other changes keep it" {
	watch_py '
gen = lambda: int(rcmd("GET", PREFIX + ":cache:gen") or 0)
start = rcmd("XLEN", PREFIX + ":log")
pid = db.products.insert_one({"sku": "CACHE", "stock": 40}).inserted_id
wait_log(start + 1)
one = PREFIX + ":cache:product:" + str(pid)
rcmd("SET", PREFIX + ":cache:products", "{}")
rcmd("SET", one, "{}")
g0 = gen()
n = rcmd("XLEN", PREFIX + ":log")
db.orders.insert_one({"note": "no cache change"})
wait_log(n + 1)
assert rcmd("EXISTS", one) == 1
assert rcmd("EXISTS", PREFIX + ":cache:products") == 1
assert gen() == g0
db.products.update_one({"_id": pid}, {"$inc": {"stock": -1}})
wait_for(lambda: rcmd("EXISTS", one) == 0, 20)
assert rcmd("EXISTS", PREFIX + ":cache:products") == 0
# Readers that missed before the change may not store what they read.
assert gen() == g0 + 1
# The cache was gone before the event could be seen.
last = log_events()[-1]
assert last["type"] == "product.updated" and last["key"] == str(pid)
'
}

@test "watch: heartbeat and counters" {
	watch_py '
n = rcmd("XLEN", PREFIX + ":log")
db.orders.insert_one({"beat": 1})
evs = wait_log(n + 1)
def fresh():
    a = json.loads(rcmd("GET", PREFIX + ":watch:alive") or "{}")
    return a.get("lastEventId") == evs[-1]["id"]
wait_for(fresh, 10)
alive = json.loads(rcmd("GET", PREFIX + ":watch:alive"))
assert set(alive) >= {"pid", "at", "lagMs", "events", "errors",
                      "lastEventId", "leader", "standbys"}, alive
assert alive["leader"].endswith(":%d" % alive["pid"]), alive
assert alive["standbys"] == [], alive
assert alive["events"] >= 1 and alive["lagMs"] >= 0
ttl = rcmd("TTL", PREFIX + ":watch:alive")
assert 0 < ttl <= 5, ttl
m = rcmd("HGETALL", PREFIX + ":metrics:watch")
m = dict(zip(m[::2], m[1::2]))
assert int(m["events"]) >= 1 and int(m["batches"]) >= 1, m
g = rcmd("HGETALL", PREFIX + ":metrics:watch:" + alive["leader"])
assert "lag_ms" in dict(zip(g[::2], g[1::2])), g
tok = rcmd("GET", PREFIX + ":watch:token")
assert json.loads(tok)["_data"], tok
'
}

@test "watch: a dropped database invalidates the stream; it starts after that" {
	watch_py '
n = rcmd("XLEN", PREFIX + ":log")
db.users.insert_one({"name": "before drop"})
wait_log(n + 1)
client.drop_database(db.name)
db.users.insert_one({"name": "after drop"})
evs = wait_log(n + 2)[n:]
assert [e["type"] for e in evs] == ["user.created", "user.created"], evs
assert evs[1]["doc"]["name"] == "after drop"
'
	grep -q "invalidated" "$OC_STATE/log/ordercast-watch.log"
}

@test "watch: SIGHUP reopens the log; SIGTERM exits 0, removes the pid file" {
	local dir=$BATS_TEST_TMPDIR pid
	"$OC_BUILDDIR/ordercast-watch" --log "$dir/w.log" \
		--pidfile "$dir/w.pid" 3>&- &
	pid=$!
	stack_wait watch-own 20 test -s "$dir/w.pid"
	[ "$(cat "$dir/w.pid")" = "$pid" ]
	mv "$dir/w.log" "$dir/w.log.1"
	kill -HUP "$pid"
	stack_wait watch-own 20 grep -q "log reopened" "$dir/w.log"
	kill -TERM "$pid"
	local status=0
	wait "$pid" || status=$?
	[ "$status" -eq 0 ]
	[ ! -e "$dir/w.pid" ]
	grep -q "stopping" "$dir/w.log"
	! grep -E 'Sanitizer|runtime error' "$dir"/w.log*
}
