#!/usr/bin/env bats
# The filter language on /api/events?where=: each client gets exactly the
# events its filter admits, live and in a replay after Last-Event-ID;
# bad filters are 400 bad_filter with a position; the examples of
# docs/filters.md run as written. Events are appended and published the
# way the watcher does it, on the stack's own prefix.

bats_require_minimum_version 1.5.0

# Append an event to the log and publish it in one step; prints its id.
LUA='
local t = redis.call("TIME")
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seq = 0
local l = redis.call("XREVRANGE", KEYS[1], "+", "-", "COUNT", 1)
if #l > 0 then
	local lms, lseq = string.match(l[1][1], "(%d+)-(%d+)")
	lms = tonumber(lms)
	if lms >= ms then ms = lms; seq = tonumber(lseq) + 1 end
end
local id = string.format("%d-%d", ms, seq)
local ev = string.gsub(ARGV[1], "__ID__", id)
redis.call("XADD", KEYS[1], id, "event", ev)
redis.call("PUBLISH", KEYS[2], ev)
return id'

C1=65f0c0ffee65f0c0ffee0c01
K1=65f0c0ffee65f0c0ffee0e01
K2=65f0c0ffee65f0c0ffee0e02
K3=65f0c0ffee65f0c0ffee0e03
K4=65f0c0ffee65f0c0ffee0e04
P1=65f0c0ffee65f0c0ffee0f01
P2=65f0c0ffee65f0c0ffee0f02

setup_file() {
	load lib/stack
	stack_start
	# Every stream of this suite is the admin's, from 127.0.0.1.
	stack_stop_prog ordercast-sse
	ORDERCAST_STREAMS_PER_SESSION=1000 ORDERCAST_STREAMS_PER_ADDR=1000 \
		stack_start_prog ordercast-sse
	stack_wait ordercast-sse 20 eval \
		'[ "$(stack_redis pubsub numsub "$ORDERCAST_PREFIX:events" | tail -n 1)" -ge 1 ]'
}

load sse-common

# pub JSON: the event with "__ID__" for its id; prints the id.
pub() {
	stack_redis eval "$LUA" 2 "$ORDERCAST_PREFIX:log" \
		"$ORDERCAST_PREFIX:events" "$1"
}

order_event() {	# TYPE OP KEY DOC
	echo "{\"id\":\"__ID__\",\"type\":\"$1\",\"collection\":\"orders\",\"op\":\"$2\",\"key\":\"$3\",\"doc\":$4,\"changed\":{},\"removed\":[],\"clusterTime\":1,\"publishedAt\":1}"
}

product_event() {	# TYPE KEY DOC
	echo "{\"id\":\"__ID__\",\"type\":\"$1\",\"collection\":\"products\",\"op\":\"update\",\"key\":\"$2\",\"doc\":$3,\"changed\":{},\"removed\":[],\"clusterTime\":1,\"publishedAt\":1}"
}

# The keys of the data events of a stream file, up to its system.resync.
keys_of() {
	sed -n 's/^data: //p' "$1" | jq -r '
		if .type == "system.resync" then "END" else .key end' |
		sed '/^END$/q' | grep -v '^END$' | tr '\n' ' ' | sed 's/ $//'
}

# Open a stream as the admin: stream OUT QUERY [CURL ARGS...].
stream() {
	local out=$1 query=$2
	shift 2
	curl -sN --max-time 60 -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$@" --get "$STACK_URL/api/events" $query >"$out" 2>/dev/null 3>&- &
	CURLS+=($!)
	wait_for 10 grep -q '^: ordercast' "$out"
}

# The filters, one per operator family, and the keys each admits.
FILTERS=(
	"doc.status = 'pending'"
	"doc.totalCents >= 12000"
	"doc.totalCents != 500 AND collection = 'orders'"
	"doc.totalCents < 12000 OR doc.priceCents <= 900"
	"doc.status IN ('shipped', 'cancelled')"
	"collection = 'orders' AND doc.status NOT IN ('pending')"
	"doc.totalCents BETWEEN 400 AND 12000"
	"doc.totalCents NOT BETWEEN 400 AND 12000 AND collection = 'orders'"
	"doc.items.sku LIKE 'TE-%'"
	"doc.name ILIKE 'GREEN%'"
	"collection = 'orders' AND doc.status IS NULL"
	"doc.createdAt > '2025-01-01T12:00:00Z'"
	"(doc.status = 'pending' OR doc.priceCents < 1000) AND NOT op = 'delete'"
	"type = 'order.deleted' OR key = '$P1'"
)
WANT=(
	"$K1"
	"$K2 $K3"
	"$K2 $K3"
	"$K1 $P2"
	"$K2 $K3"
	"$K2 $K3 $K4"
	"$K1 $K2"
	"$K3 $K4"
	"$K2"
	"$P2"
	"$K4"
	"$K2 $K3"
	"$K1 $P2"
	"$P1 $K4"
)

# Publish the sample events, then a system.resync that ends each list.
publish_all() {
	pub "$(order_event order.created insert "$K1" "{\"id\":\"$K1\",\"customerId\":\"$C1\",\"status\":\"pending\",\"totalCents\":500,\"createdAt\":\"2025-01-01T10:00:00.000Z\",\"items\":[{\"sku\":\"CB-101\",\"name\":\"Coffee beans\",\"qty\":1}]}")" >/dev/null
	pub "$(product_event product.updated "$P1" "{\"id\":\"$P1\",\"sku\":\"CB-101\",\"name\":\"Coffee Beans\",\"category\":\"coffee\",\"priceCents\":1500,\"stock\":3}")" >/dev/null
	pub "$(order_event order.updated update "$K2" "{\"id\":\"$K2\",\"customerId\":\"$C1\",\"status\":\"shipped\",\"totalCents\":12000,\"createdAt\":\"2025-01-02T10:00:00.000Z\",\"items\":[{\"sku\":\"TE-202\",\"name\":\"Green tea\",\"qty\":3},{\"sku\":\"CB-101\",\"name\":\"Coffee beans\",\"qty\":1}]}")" >/dev/null
	pub "$(product_event product.created "$P2" "{\"id\":\"$P2\",\"sku\":\"TE-202\",\"name\":\"green tea\",\"category\":\"tea\",\"priceCents\":900,\"stock\":0}")" >/dev/null
	pub "$(order_event order.updated update "$K3" "{\"id\":\"$K3\",\"customerId\":\"$C1\",\"status\":\"cancelled\",\"totalCents\":75000,\"createdAt\":\"2025-01-03T10:00:00.000Z\",\"items\":[{\"sku\":\"MU-303\",\"name\":\"Mug\",\"qty\":2}]}")" >/dev/null
	pub "$(order_event order.deleted delete "$K4" null)" >/dev/null
	pub '{"id":"__ID__","type":"system.resync","collection":null,"op":null,"key":null,"doc":null,"changed":{},"removed":[],"clusterTime":null,"publishedAt":1}'
}

@test "each operator family admits exactly its events, live and in a replay" {
	local i start end live=() replay=()
	start=$(pub "$(product_event product.updated "$P1" '{"sku":"XX-000","priceCents":1,"stock":1}')")
	for i in "${!FILTERS[@]}"; do
		live+=("$BATS_TEST_TMPDIR/live$i")
		stream "${live[$i]}" "" --data-urlencode "where=${FILTERS[$i]}"
	done
	end=$(publish_all)
	for i in "${!FILTERS[@]}"; do
		replay+=("$BATS_TEST_TMPDIR/replay$i")
		stream "${replay[$i]}" "" --data-urlencode "where=${FILTERS[$i]}" \
			-H "Last-Event-ID: $start"
	done
	for i in "${!FILTERS[@]}"; do
		wait_for 10 grep -q "^id: $end" "${live[$i]}"
		wait_for 10 grep -q "^id: $end" "${replay[$i]}"
		run keys_of "${live[$i]}"
		[ "$output" = "${WANT[$i]}" ] ||
			fail "live, ${FILTERS[$i]}: got '$output', want '${WANT[$i]}'"
		run keys_of "${replay[$i]}"
		[ "$output" = "${WANT[$i]}" ] ||
			fail "replay, ${FILTERS[$i]}: got '$output', want '${WANT[$i]}'"
	done
}

@test "topics and a filter combine" {
	local out=$BATS_TEST_TMPDIR/s end
	stream "$out" "--data-urlencode topics=products" \
		--data-urlencode "where=doc.priceCents < 1000 OR doc.status = 'pending'"
	end=$(publish_all)
	wait_for 10 grep -q "^id: $end" "$out"
	run keys_of "$out"
	assert_output "$P2"
}

@test "a bad filter is 400 bad_filter with the position of the error" {
	run curl -s -w '\n%{http_code}' --get "$STACK_URL/api/events" \
		-H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		--data-urlencode "where=doc.status = 'pending' AND"
	assert_line --index 1 400
	run jq -r '.error.code, .error.position' <<<"${lines[0]}"
	assert_output $'bad_filter\n26'
	# Anyone reads products, but doc.email is a user's field.
	run curl -s -w '\n%{http_code}' --get "$STACK_URL/api/events" \
		--data-urlencode "where=doc.email = 'a@b.c'"
	assert_line --index 1 400
	assert_line --index 0 --partial '"code":"bad_filter"'
	assert_line --index 0 --partial 'email'
	# Past the language's own limit of 2 KiB.
	run curl -s -w '\n%{http_code}' --get "$STACK_URL/api/events" \
		--data-urlencode "where=doc.sku = '$(printf 'x%.0s' $(seq 1 2100))'"
	assert_line --index 1 400
	assert_line --index 0 --partial '"code":"bad_filter"'
}

@test "the curl stream example of docs/filters.md runs as written" {
	local script=$BATS_TEST_TMPDIR/ex.sh out=$BATS_TEST_TMPDIR/ex.out k5 end
	awk '/^```sh$/ { b = ""; inb = 1; next }
	     inb && /^```$/ { inb = 0; if (b ~ /api\/events/ && b ~ /curl -sN/) print b; next }
	     inb { b = b $0 "\n" }' "$OC_SRCDIR/docs/filters.md" >"$script"
	grep -q 'changed.status' "$script"
	BASE=$STACK_URL AUTH="Authorization: Bearer $OC_ADMIN_TOKEN" \
		bash "$script" >"$out" 3>&- &
	local pid=$!
	wait_for 10 grep -q '^: ordercast' "$out"
	k5=65f0c0ffee65f0c0ffee0e05
	pub "$(order_event order.updated update "$K1" '{"status":"shipped","totalCents":100}' | sed 's/"changed":{}/"changed":{"status":"shipped"}/')" >/dev/null
	pub "$(order_event order.updated update "$k5" '{"status":"shipped","totalCents":90000}' | sed 's/"changed":{}/"changed":{"status":"shipped"}/')" >/dev/null
	end=$(pub "$(order_event order.updated update "$K2" '{"status":"processing","totalCents":90000}' | sed 's/"changed":{}/"changed":{"status":"processing"}/')")
	wait "$pid" || true	# its --max-time 5 ends it
	run bash -c "sed -n 's/^data: //p' '$out' | jq -r .key"
	assert_output "$k5"
}

@test "the stream examples of docs/filters.md answer as documented" {
	run curl -s -o /dev/null -w '%{http_code}' --get "$STACK_URL/api/events" \
		--data-urlencode "where=doc.stock <"
	assert_output 400
	grep -qF 'where=doc.stock <' "$OC_SRCDIR/docs/filters.md"
}

@test "the EventSource example of docs/filters.md runs in headless chromium" {
	[ -d "$OC_SRCDIR/node_modules/playwright-core" ] ||
		fail "playwright-core is missing: run npm ci"
	[ -x /usr/bin/chromium ] || fail "chromium is missing: apt-get install chromium"
	local js=$BATS_TEST_TMPDIR/es.mjs example=$BATS_TEST_TMPDIR/example.js
	awk '/^```js$/ { inb = 1; next } inb && /^```$/ { exit }
	     inb { print }' "$OC_SRCDIR/docs/filters.md" >"$example"
	grep -q EventSource "$example"
	cat >"$js" <<'JS'
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
const require = createRequire(process.env.OC_SRCDIR + '/package.json');
const { chromium } = require('playwright-core');
const [base, ready, example] = process.argv.slice(2);
const browser = await chromium.launch({
	executablePath: '/usr/bin/chromium', headless: true,
	args: ['--headless', '--no-sandbox', '--disable-gpu',
	    '--disable-background-networking', '--disable-component-update',
	    '--disable-sync'] });
try {
	const context = await browser.newContext({ bypassCSP: true });
	const page = await context.newPage();
	const lines = [];
	let done;
	const got = new Promise((r) => { done = r; });
	page.on('console', (m) => {
		lines.push(m.text());
		if (m.text().startsWith('product.updated TE-202'))
			done();
	});
	await page.goto(base + '/api/health').catch(() => {});
	const code = readFileSync(example, 'utf8');
	await page.evaluate((c) => {
		const orig = window.EventSource;
		window.EventSource = function (url) {
			const es = new orig(url);
			es.onopen = () => { window.esOpen = true; };
			return es;
		};
		(0, eval)(c);
	}, code);
	await page.waitForFunction(() => window.esOpen === true);
	writeFileSync(ready, '');
	await Promise.race([got, new Promise((_, j) =>
	    setTimeout(() => j(new Error('no event')), 20000))]);
	console.log(lines.join('\n'));
} finally {
	await browser.close();
}
JS
	OC_SRCDIR=$OC_SRCDIR node "$js" "$STACK_URL" "$BATS_TEST_TMPDIR/ready" \
		"$example" >"$BATS_TEST_TMPDIR/node.out" 2>&1 3>&- &
	local node=$!
	wait_for 60 test -e "$BATS_TEST_TMPDIR/ready" || {
		cat "$BATS_TEST_TMPDIR/node.out"; kill $node; false; }
	pub "$(product_event product.updated "$P1" '{"sku":"CB-101","stock":50}')" >/dev/null
	pub "$(product_event product.updated "$P2" '{"sku":"TE-202","stock":4}')" >/dev/null
	wait "$node" || { cat "$BATS_TEST_TMPDIR/node.out"; false; }
	run cat "$BATS_TEST_TMPDIR/node.out"
	assert_line 'product.updated TE-202 4'
	refute_output --partial 'CB-101'
}
