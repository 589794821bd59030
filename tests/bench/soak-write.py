"""Writer of tests/bench/soak: a paced, steady mix of writes through the
web server, as an admin: new orders (POST /api/orders), status moves
(PUT /api/orders/:id/status) and stock changes (PUT
/api/products/:id/stock), RATE a second for SECONDS, every body JSON with
Content-Type: application/json, over WORKERS keep-alive connections.

    soak-write.py URL RATE SECONDS [WORKERS]
    soak-write.py --prime URL SECONDS CLIENTS

The token comes from SOAK_TOKEN. Prints one JSON object: writes by kind,
answers by status, latency percentiles, and how far the pacing slipped.
Exits 1 when an answer is neither a success nor an expected refusal
(409: stock short, a move another writer made first).

--prime sends reads from CLIENTS connections at once for SECONDS, so
that every API thread is busy together and the API's bounded pools
(MongoDB clients, Redis connections) reach their size before the
warm-up sample: descriptors that appear after it are leaks, not a pool
filling up.
"""

import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

MOVES = {
    "pending": ["processing", "processing", "processing", "cancelled"],
    "processing": ["shipped", "shipped", "shipped", "cancelled"],
    "shipped": ["delivered"],
}


class Api:
    """One keep-alive connection to the web server."""

    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.headers = {"Authorization": "Bearer " + token,
                        "Accept": "application/json"}
        self.conn = None

    def call(self, method, path, body=None):
        """Send one request; (status, parsed body or None)."""
        headers = dict(self.headers)
        data = None
        if body is not None or method != "GET":
            data = json.dumps(body if body is not None else {}).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, OSError):
                # The server may close a kept-alive connection: once more
                # on a new one.
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return r.status, doc


class Writer:
    """The shared plan: which write comes next, and the tallies."""

    def __init__(self, url, token, rate, seconds):
        self.url, self.token = url, token
        self.rate, self.seconds = rate, seconds
        self.lock = threading.Lock()
        self.rnd = random.Random(20240517)
        self.next_k = 0
        self.start = 0.0
        self.open_orders = []           # [id, status, busy], not final
        self.counts = {}
        self.statuses = {}
        self.lat = []
        self.max_slip = 0.0
        self.failures = []
        api = Api(url, token)
        st, doc = api.call("GET", "/api/products")
        if st != 200:
            raise SystemExit("soak-write: GET /api/products: %d" % st)
        self.products = [p["id"] for p in doc["data"]]
        st, doc = api.call("GET", "/api/users?role=customer")
        if st != 200:
            raise SystemExit("soak-write: GET /api/users: %d" % st)
        self.customers = [u["id"] for u in doc["data"]]
        if not self.products or not self.customers:
            raise SystemExit("soak-write: no products or customers")

    def plan(self):
        """The next write as (k, kind, method, path, body, order entry),
        or None when the time is up. Called under the lock."""
        k = self.next_k
        if k >= self.rate * self.seconds:
            return None
        self.next_k += 1
        r = self.rnd.random()
        if r < 0.4 or (r < 0.8 and not self.open_orders):
            items = self.rnd.sample(self.products, self.rnd.randint(1, 3))
            body = {"customerId": self.rnd.choice(self.customers),
                    "items": [{"productId": p,
                               "qty": self.rnd.randint(1, 3)}
                              for p in items]}
            return k, "order", "POST", "/api/orders", body, None
        if r < 0.8:
            # One move at a time per order, so moves never race.
            for _ in range(8):
                i = self.rnd.randrange(len(self.open_orders))
                entry = self.open_orders[i]
                if not entry[2]:
                    break
            else:
                return self.plan_stock(k)
            to = self.rnd.choice(MOVES[entry[1]])
            entry[1], entry[2] = to, True
            if to not in MOVES:
                self.open_orders[i] = self.open_orders[-1]
                self.open_orders.pop()
            return (k, "status", "PUT", "/api/orders/%s/status" % entry[0],
                    {"status": to}, entry)
        return self.plan_stock(k)

    def plan_stock(self, k):
        """A stock change as the write k. Called under the lock."""
        pid = self.rnd.choice(self.products)
        if self.rnd.random() < 0.5:
            # Now and then under the low-stock threshold: alerts.
            body = {"stock": self.rnd.choice([3, 8, 40, 120, 400, 900])}
        else:
            body = {"delta": self.rnd.randint(5, 60)}
        return (k, "stock", "PUT", "/api/products/%s/stock" % pid, body,
                None)

    def run_worker(self):
        """Take writes in turn and send each at its time."""
        api = Api(self.url, self.token)
        while True:
            with self.lock:
                w = self.plan()
            if w is None:
                return
            k, kind, method, path, body, entry = w
            due = self.start + k / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t0 = time.monotonic()
            try:
                st, doc = api.call(method, path, body)
            except (http.client.HTTPException, OSError) as e:
                st, doc = 0, {"error": str(e)}
            t1 = time.monotonic()
            with self.lock:
                if entry is not None:
                    entry[2] = False
                self.note(kind, st, doc, t1 - t0, t0 - due)

    def note(self, kind, st, doc, secs, slip):
        """Record one answer. Called under the lock."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        key = "%s %d" % (kind, st)
        self.statuses[key] = self.statuses.get(key, 0) + 1
        self.lat.append(secs * 1000)
        self.max_slip = max(self.max_slip, slip)
        if kind == "order" and st == 201:
            self.open_orders.append([doc["id"], "pending", False])
        elif st >= 300 and st != 409:
            if len(self.failures) < 5:
                self.failures.append("%s: %d %s" % (kind, st, doc))

    def run(self, workers):
        """All the writes, WORKERS at a time; the summary as a dict."""
        self.start = time.monotonic()
        threads = [threading.Thread(target=self.run_worker)
                   for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - self.start
        lat = sorted(self.lat)

        def pct(p):
            return round(lat[min(len(lat) - 1, int(len(lat) * p))], 1) \
                if lat else None
        return {"writes": len(lat), "seconds": round(wall, 1),
                "rate": round(len(lat) / wall, 1) if wall else 0,
                "by_kind": self.counts, "by_status": self.statuses,
                "p50_ms": pct(0.5), "p99_ms": pct(0.99),
                "max_ms": pct(1.0),
                "max_slip_ms": round(self.max_slip * 1000, 1),
                "failures": self.failures}


def prime(url, seconds, clients):
    """Concurrent reads (orders, stats, health) for SECONDS; 1 on an
    answer that is not 200."""
    paths = ["/api/orders?limit=200", "/api/stats", "/api/health"]
    bad = []
    count = [0]
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def run(i):
        api = Api(url, os.environ["SOAK_TOKEN"])
        n = i
        while time.monotonic() < end:
            path = paths[n % len(paths)]
            st, _ = api.call("GET", path)
            n += 1
            with lock:
                count[0] += 1
                if st != 200 and len(bad) < 5:
                    bad.append("%s: %d" % (path, st))

    threads = [threading.Thread(target=run, args=(i,))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"reads": count[0], "failures": bad}))
    return 1 if bad else 0


def main():
    if sys.argv[1] == "--prime":
        return prime(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
    url, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    workers = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    w = Writer(url, os.environ["SOAK_TOKEN"], rate, seconds)
    out = w.run(workers)
    print(json.dumps(out))
    return 1 if out["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
