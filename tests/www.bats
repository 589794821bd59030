#!/usr/bin/env bats
# The dashboard (www/) in headless chromium on a private stack: signing
# in and out, the views of each role, live updates between pages, stock,
# charts, markup in data, keyboard, the connection indicator, the admin's
# order queries against the API's, one stream shared by many tabs, the
# pill while the watcher is down, a 30 s burst of events, export, detail,
# low stock, the cart, axe-core and screenshots of every view. The
# browser side is tests/browser/dashboard.mjs (playwright-core from
# npm); its pages sign in as the sample admin unless a test says
# otherwise.

bats_load_library bats-support
bats_load_library bats-assert

load lib/stack

XSS_NAME='<img src=x onerror=alert(1)>'

setup_file() {
	[ -d "$OC_SRCDIR/node_modules/playwright-core" ] || {
		echo "playwright-core is missing: run npm ci in $OC_SRCDIR" >&2
		return 1
	}
	[ -f "$OC_BUILDDIR/www/vendor/uPlot.esm.js" ] || {
		echo "www/vendor is missing: run make in $OC_BUILDDIR" >&2
		return 1
	}
	stack_start
	# Kept after the run: screenshots of every view, and of failures.
	WWW_OUT=${OC_WWW_OUT:-$OC_BUILDDIR/tests/www-screenshots}
	rm -rf "$WWW_OUT"
	mkdir -p "$WWW_OUT"
	export WWW_OUT
	echo "# screenshots in $WWW_OUT" >&3
}

teardown_file() {
	stack_stop
}

# Run one check of tests/browser/dashboard.mjs against the stack.
browser() {
	run node "$OC_SRCDIR/tests/browser/dashboard.mjs" "$1" "$STACK_URL" \
		"$WWW_OUT"
	echo "$output"
	assert_success
}

# The same, and show what it measured (its "# " lines) in the report.
browser_measured() {
	browser "$1"
	grep '^# ' <<<"$output" | grep -v '^# saved ' >&3 || true
}

@test "www: the page and its modules are served, vendor files too" {
	run curl -sf "$STACK_URL/"
	assert_success
	assert_output --partial 'src="js/main.js"'
	run curl -sf -o /dev/null -w '%{content_type}' "$STACK_URL/js/main.js"
	assert_success
	assert_output --partial 'javascript'
	run curl -sf -o /dev/null "$STACK_URL/vendor/uPlot.esm.js"
	assert_success
	run curl -sf -o /dev/null "$STACK_URL/vendor/uPlot.min.css"
	assert_success
}

@test "www: no server value is inserted as HTML" {
	# Static check of the sources: the DOM is built with textContent only.
	run grep -rnE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write' \
		"$OC_SRCDIR/www"
	assert_failure
}

@test "www: an order in the portal reaches the admin page and its status move comes back, each within 2 s" {
	browser order-flow
}

@test "www: an order beyond the stock is refused and the page says so" {
	browser refused
}

@test "www: stock changes show in the portal; out of stock cannot be ordered" {
	browser stock
}

@test "www: the live dashboard's charts and counts move with new orders" {
	browser live
}

@test "www: a product named as markup renders as text and runs nothing" {
	stack_mongo "db.products.insert_one({'sku': 'XSS-1',
		'name': '$XSS_NAME', 'category': '<b>cat</b>', 'priceCents': 100,
		'stock': 5, 'updatedAt': datetime.datetime.utcnow()})"
	# The second such product is written while the pages are open.
	cat >"$BATS_TEST_TMPDIR/insert" <<SH
#!/usr/bin/env bash
. "$OC_SRCDIR/tests/lib/stack.bash"
stack_mongo "db.products.insert_one({'sku': 'XSS-2', 'name': '$XSS_NAME',
	'category': 'x', 'priceCents': 100, 'stock': 5,
	'updatedAt': datetime.datetime.utcnow()})"
SH
	chmod +x "$BATS_TEST_TMPDIR/insert"
	OC_XSS_INSERT=$BATS_TEST_TMPDIR/insert browser xss
}

@test "www: the views are reachable with the keyboard" {
	browser keyboard
}

@test "www: a wrong password is said in words and opens no view; so are too many attempts and an unreachable server" {
	browser signin-errors
}

@test "www: a customer sees only the portal, no customer picker, only their own orders, no admin or live tab" {
	browser customer
}

@test "www: an admin sees the portal with a customer picker, the admin and live views and the demo controls" {
	browser admin-views
}

@test "www: sign-out returns to the sign-in view and closes the stream; a reload stays signed out" {
	browser signout
}

@test "www: a session ended elsewhere brings the page back to sign-in, saying so" {
	browser session-ended
}

@test "www: a user named as markup renders as text in the top bar and the customer picker" {
	local email=farid.haddad@example.com name
	name=$(stack_mongo "print(db.users.find_one({'email': '$email'})['name'])")
	stack_mongo "db.users.update_one({'email': '$email'},
		{'\$set': {'name': '$XSS_NAME'}})"
	OC_XSS_EMAIL=$email run node "$OC_SRCDIR/tests/browser/dashboard.mjs" \
		xss-name "$STACK_URL" "$WWW_OUT"
	stack_mongo "db.users.update_one({'email': '$email'},
		{'\$set': {'name': '$name'}})"
	echo "$output"
	assert_success
}

@test "www: the demo accounts are served by the local stack but not installed" {
	local dest=$BATS_TEST_TMPDIR/inst
	run curl -sf "$STACK_URL/demo-accounts.json"
	assert_success
	assert_output --partial 'admin@ordercast.example'
	make -C "$OC_BUILDDIR" -s install DESTDIR="$dest" >/dev/null
	run find "$dest" -name index.html -path '*/www/*'
	assert_success
	refute_output ''
	[ -f "$(dirname "${lines[0]}")/js/signin.js" ]
	run find "$dest" -name demo-accounts.json
	assert_success
	assert_output ''
}

@test "www: screenshots of every view from 360 to 2560 px (1024 and 1280 among them), no sideways scrolling, no serious axe-core violation" {
	[ -f "$OC_SRCDIR/node_modules/axe-core/axe.min.js" ] || {
		echo "axe-core is missing: run npm ci in $OC_SRCDIR" >&2
		return 1
	}
	browser screenshots
	for f in signin portal admin live; do
		for w in 2560 1920 1280 1024 375 360; do
			[ -s "$WWW_OUT/$f-$w.png" ]
		done
	done
}

@test "www: the connection indicator follows the event stream" {
	local deadline
	browser_start connection
	# `|| true`: its final `wait` fails in a test, which is not the
	# shell that started the program.
	stack_stop_prog ordercast-sse || true
	deadline=$((SECONDS + 30))
	until grep -q 'indicator:' "$BROWSER_OUT"; do
		kill -0 "$BROWSER_PID" 2>/dev/null || break
		[ "$SECONDS" -lt "$deadline" ] || break
		sleep 0.05
	done
	stack_start_prog ordercast-sse
	browser_finish
	run grep -E 'indicator: (reconnecting|offline)' "$BROWSER_OUT"
	assert_success
}

# Start a browser check in the background and wait for its "ready" line.
# Sets BROWSER_PID and BROWSER_OUT.
browser_start() {
	local deadline=$((SECONDS + 30))
	BROWSER_OUT=$BATS_TEST_TMPDIR/browser.out
	node "$OC_SRCDIR/tests/browser/dashboard.mjs" "$1" "$STACK_URL" \
		"$WWW_OUT" >"$BROWSER_OUT" 2>&1 3>&- &
	BROWSER_PID=$!
	until grep -q '^ready' "$BROWSER_OUT"; do
		kill -0 "$BROWSER_PID" 2>/dev/null || break
		[ "$SECONDS" -lt "$deadline" ] || break
		sleep 0.05
	done
}

# Wait for the background check; fail with its output if it failed.
browser_finish() {
	local rc=0
	wait "$BROWSER_PID" || rc=$?
	cat "$BROWSER_OUT"
	[ "$rc" = 0 ]
}

@test "www: on system.resync the page reloads its state over REST" {
	local id_file=$BATS_TEST_TMPDIR/order-id
	export OC_RESYNC_ORDER_FILE=$id_file
	browser_start resync
	stack_stop_prog ordercast-watch || true
	# An order no event tells of: the watcher is down.
	stack_mongo "o = db.orders.find_one()
del o['_id']
o['createdAt'] = o['updatedAt'] = datetime.datetime.utcnow()
print(db.orders.insert_one(o).inserted_id)" >"$id_file.tmp"
	mv "$id_file.tmp" "$id_file"
	stack_redis publish "$ORDERCAST_PREFIX:events" "{\"id\":\"$((
		${EPOCHREALTIME/./} / 1000))-999\",\"type\":\"system.resync\",
		\"collection\":null,\"op\":null,\"key\":null,\"doc\":null,
		\"changed\":{},\"removed\":[],\"clusterTime\":0,
		\"publishedAt\":0}" >/dev/null
	browser_finish
	stack_start_prog ordercast-watch
}

@test "www: the admin's filters, search, dates and sort give the API's results and counts; the address keeps the query" {
	browser orders-query
}

@test "www: paging reaches the oldest order, every order once" {
	browser_measured orders-paging
}

@test "www: ten tabs of one browser share one connection and all receive an order placed in an eleventh" {
	browser_measured tabs
}

@test "www: closing the tab that holds the connection hands it over within 2 s, with no event lost" {
	browser_measured handover
}

@test "www: the pill reads degraded within 5 s of stopping the watcher, and live again after it returns" {
	local deadline
	export OC_WATCH_STOPPED=$BATS_TEST_TMPDIR/watch-stopped
	browser_start degraded
	stack_stop_prog ordercast-watch || true
	touch "$OC_WATCH_STOPPED"
	deadline=$((SECONDS + 30))
	until grep -qE '^# degraded:|^FAIL' "$BROWSER_OUT"; do
		kill -0 "$BROWSER_PID" 2>/dev/null || break
		[ "$SECONDS" -lt "$deadline" ] || break
		sleep 0.05
	done
	stack_start_prog ordercast-watch
	browser_finish
	grep '^# ' "$BROWSER_OUT" >&3 || true
}

@test "www: a burst of 20 events a second for 30 s leaves no main-thread task of 100 ms or more" {
	browser_measured burst
}

@test "www: the CSV export holds every order of the query, with a header row, and says how many" {
	browser_measured export
}

@test "www: an order's detail shows its items, customer and who moved it when" {
	browser detail
}

@test "www: the low-stock panel lists the products under the threshold now, sold out first" {
	browser low-stock
}

@test "www: the cart tells of an item that ran short and offers what is left; a refusal names the product and clears with its cause" {
	browser cart-short
}

@test "www: the charts show the values under the pointer; the traffic figures say what they count" {
	browser chart-tip
}

@test "www: a status move made with the keyboard says what happened and keeps focus in the row" {
	browser move-focus
}
