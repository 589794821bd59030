#!/usr/bin/env bats
# HTTP as clients expect it, behind lighttpd (the local stack's
# configuration, built from deploy/lighttpd) and Apache httpd (the shipped
# deploy/apache site with mod_headers, mod_filter and mod_deflate):
# compression of large JSON answers (of small ones too behind Apache,
# which cannot see their length) but never of the event stream, the
# caching policy of the dashboard's files, the headers against cross-site
# use, the 404 of files that are not the dashboard's, HEAD and ETags of
# the API, and real answers of every route (signed in as the sample admin
# and a customer, and anonymously) checked against docs/openapi.yaml.

bats_load_library bats-support
bats_load_library bats-assert

load lib/stack
load lib/smoke

APACHE_MODULES=/usr/lib/apache2/modules

# A standalone httpd.conf around the shipped site file, serving the www
# folder of a `make install`.
# Usage: http_apache_conf PORT WWWDIR OUT
http_apache_conf() {
	local port=$1 www=$2 out=$3 dir m
	dir=$(dirname "$out")
	{
		cat <<CONF
ServerRoot "/etc/apache2"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$dir/apache.pid"
DefaultRuntimeDir "$dir"
ErrorLog "$dir/apache-error.log"
LogLevel warn
User www-data
Group www-data
TypesConfig /etc/mime.types
CONF
		for m in mpm_event authz_core mime dir alias env headers filter \
		    deflate proxy proxy_fcgi; do
			echo "LoadModule ${m}_module $APACHE_MODULES/mod_$m.so"
		done
		sed -e "s|<VirtualHost \*:80>|<VirtualHost 127.0.0.1:$port>|" \
		    -e "s|@wwwdir@|$www|g" \
		    -e "s|@api_backend@|fcgi://127.0.0.1:$API_TCP_PORT|g" \
		    -e "s|@sse_backend@|fcgi://127.0.0.1:$SSE_TCP_PORT|g" \
		    "$OC_SRCDIR/deploy/apache/ordercast.conf.in"
	} >"$out"
}

http_apache_ready() {
	curl -s -o /dev/null --max-time 2 "$APACHE_URL/"
}

setup_file() {
	local dest www
	stack_start
	# Apache's workers run as www-data: the installed dashboard goes to a
	# folder they can read, and the programs listen on TCP.
	HTTP_INSTALL=$(mktemp -d /tmp/ordercast-http.XXXXXX)
	chmod 755 "$HTTP_INSTALL"
	dest=$HTTP_INSTALL/dest
	make -C "$OC_BUILDDIR" -s install DESTDIR="$dest" >/dev/null
	www=$(dirname "$(find "$dest" -path '*/www/index.html' | head -n 1)")
	chmod -R a+rX "$HTTP_INSTALL"
	API_TCP_PORT=$(stack_free_port)
	SSE_TCP_PORT=$(stack_free_port)
	export API_TCP_PORT SSE_TCP_PORT
	stack_spawn http-api-tcp "$OC_BUILDDIR/ordercast-api" \
		--listen "127.0.0.1:$API_TCP_PORT" --threads 4
	stack_spawn http-sse-tcp "$OC_BUILDDIR/ordercast-sse" \
		--listen "127.0.0.1:$SSE_TCP_PORT"
	APACHE_DIR=$BATS_FILE_TMPDIR/apache
	mkdir -p "$APACHE_DIR"
	APACHE_PORT=$(stack_free_port)
	APACHE_URL=http://127.0.0.1:$APACHE_PORT
	export HTTP_INSTALL APACHE_DIR APACHE_URL
	http_apache_conf "$APACHE_PORT" "$www" "$APACHE_DIR/httpd.conf"
	stack_spawn http-apache apache2 -f "$APACHE_DIR/httpd.conf" -DFOREGROUND
	stack_wait http-apache 20 http_apache_ready
	http_make_orders 50
}

teardown_file() {
	stack_stop_prog http-apache
	stack_stop_prog http-api-tcp
	stack_stop_prog http-sse-tcp
	[ -z "${HTTP_INSTALL:-}" ] || rm -rf "$HTTP_INSTALL"
	stack_stop
}

# Place N orders of one item each (as the admin), so that lists are long.
http_make_orders() {
	local n=$1 i customer product code
	customer=$(curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$STACK_URL/api/users?role=customer" | jq -r '.data[0].id')
	product=$(curl -s "$STACK_URL/api/products" |
		jq -r '[.data[] | select(.stock > 100)][0].id')
	for ((i = 0; i < n; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' \
			-H 'Content-Type: application/json' \
			-H "Authorization: Bearer $OC_ADMIN_TOKEN" \
			-d "{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":1}]}" \
			"$STACK_URL/api/orders")
		[ "$code" = 201 ] || { echo "order $i: $code" >&2; return 1; }
	done
}

# GET a URL with extra curl arguments: headers to $HTTP_HEAD (lower-case
# names), the raw body to $HTTP_BODY_FILE, the status to $http_status.
http_fetch() {
	local url=$1
	shift
	HTTP_HEAD=$BATS_TEST_TMPDIR/head
	HTTP_BODY_FILE=$BATS_TEST_TMPDIR/body
	http_status=$(curl -s --max-time 10 -D "$HTTP_HEAD.raw" \
		-o "$HTTP_BODY_FILE" -w '%{http_code}' "$@" "$url")
	tr -d '\r' <"$HTTP_HEAD.raw" |
		awk 'NR > 1 && /:/ { i = index($0, ":");
			print tolower(substr($0, 1, i - 1)) ":" substr($0, i + 1) }' \
		>"$HTTP_HEAD"
}

# The value of one response header of the last http_fetch, or nothing.
http_header() {
	sed -n "s/^$1: *//p" "$HTTP_HEAD" | head -n 1
}

# A 50-order list is gzip-compressed for a client that accepts it, and
# unpacks to the same JSON; without Accept-Encoding it is sent as is.
check_gzip_list() {
	local base=$1 plain auth="Authorization: Bearer $OC_ADMIN_TOKEN"
	http_fetch "$base/api/orders?limit=50" -H "$auth"
	[ "$http_status" = 200 ] || { echo "plain: $http_status"; return 1; }
	[ -z "$(http_header content-encoding)" ] ||
		{ echo "compressed without Accept-Encoding"; return 1; }
	plain=$(jq -c . "$HTTP_BODY_FILE")
	[ "$(echo "$plain" | jq '.data | length')" = 50 ] ||
		{ echo "not 50 orders"; return 1; }
	http_fetch "$base/api/orders?limit=50" -H "$auth" \
		-H 'Accept-Encoding: gzip'
	[ "$http_status" = 200 ] || { echo "gzip: $http_status"; return 1; }
	[ "$(http_header content-encoding)" = gzip ] ||
		{ echo "not compressed:"; cat "$HTTP_HEAD"; return 1; }
	[[ $(http_header vary) == *Accept-Encoding* ]] ||
		{ echo "no Vary: Accept-Encoding"; return 1; }
	echo "list: $(echo "$plain" | wc -c) bytes," \
		"$(wc -c <"$HTTP_BODY_FILE") gzip-compressed"
	[ "$(gzip -dc <"$HTTP_BODY_FILE" | jq -c .)" = "$plain" ]
}

# A JSON answer under 1 KiB goes out uncompressed even when gzip is
# accepted.
check_small_plain() {
	local base=$1 product
	product=$(curl -s "$base/api/products" | jq -r '.data[0].id')
	http_fetch "$base/api/products/$product" -H 'Accept-Encoding: gzip'
	[ "$http_status" = 200 ] || { echo "product: $http_status"; return 1; }
	[ "$(wc -c <"$HTTP_BODY_FILE")" -lt 1024 ] ||
		{ echo "the product is not under 1 KiB"; return 1; }
	[ -z "$(http_header content-encoding)" ] ||
		{ echo "a small answer was compressed"; return 1; }
	jq -e .id "$HTTP_BODY_FILE" >/dev/null
}

# HEAD on the event stream: the stream's headers, then the answer ends
# (curl fails with 28 if it does not); the access checks of GET.
check_events_head() {
	local base=$1
	http_fetch "$base/api/events?topics=products" --head
	[ "$http_status" = 200 ] || { echo "HEAD products: $http_status"; return 1; }
	[ "$(http_header content-type)" = text/event-stream ] ||
		{ echo "HEAD: $(http_header content-type)"; return 1; }
	http_fetch "$base/api/events?topics=orders" --head
	[ "$http_status" = 401 ] || { echo "HEAD orders: $http_status"; return 1; }
}

# An event stream asked for with Accept-Encoding: gzip comes back
# uncompressed, and a stock change reaches it within a second.
check_stream_plain() {
	local base=$1 out=$BATS_TEST_TMPDIR/stream head=$BATS_TEST_TMPDIR/shead
	local reader product line arrived published
	curl -sN --max-time 20 -H 'Accept-Encoding: gzip' -D "$head" \
		"$base/api/events?topics=products" | while IFS= read -r line; do
			printf '%s %s\n' "$(( ${EPOCHREALTIME/./} / 1000 ))" "$line"
		done >"$out" &
	reader=$!
	smoke_wait_line "$out" '^[0-9]+ retry:' 10 ||
		{ echo "stream did not start"; kill "$reader"; return 1; }
	if grep -qi '^content-encoding' "$head"; then
		echo "the stream is compressed"
		kill "$reader"
		return 1
	fi
	grep -qi '^content-type: text/event-stream' "$head" ||
		{ echo "not an event stream"; kill "$reader"; return 1; }
	product=$(curl -s "$base/api/products" | jq -r '.data[0].id')
	curl -s -X PUT -H 'Content-Type: application/json' -d '{"delta":1}' \
		-H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$base/api/products/$product/stock" >/dev/null
	smoke_wait_line "$out" "^[0-9]+ data: .*\"key\":\"$product\"" 10 ||
		{ echo "no event arrived"; cat "$out"; kill "$reader"; return 1; }
	kill "$reader" 2>/dev/null || true
	wait "$reader" 2>/dev/null || true
	line=$(grep -E "^[0-9]+ data: .*\"key\":\"$product\"" "$out" | head -1)
	arrived=${line%% *}
	published=$(echo "${line#* data: }" | jq -r '.publishedAt')
	echo "published $published arrived $arrived"
	[ $((arrived - published)) -lt 1000 ]
}

# Build files and the licence file beside uPlot (which exists in both
# document roots) are 404; the dashboard's files are served.
http_check_not_served() {
	local dir
	dir=$(sed -n "s|.*'\./\(uplot-[^/]*\)/uPlot\.esm\.js'.*|\1|p" \
		"$OC_BUILDDIR/www/vendor/uPlot.esm.js")
	[ -n "$dir" ] && [ -f "$OC_BUILDDIR/www/vendor/$dir/LICENSE" ] ||
		{ echo "no vendor/$dir/LICENSE to ask for"; return 1; }
	smoke_not_served "$1" "/vendor/$dir/LICENSE" /vendor/ &&
	smoke_fetch "$1/vendor/$dir/uPlot.esm.js" &&
	[ "$status_code" = 200 ] || { echo "uPlot: $status_code"; return 1; }
}

# uPlot's entry points name the versioned folder of the installed
# release; its files are cached for a year, the entry points, the page
# and its modules are revalidated with a validator that yields 304.
check_cache_headers() {
	local base=$1 dir version path etag cc
	http_fetch "$base/vendor/uPlot.esm.js"
	[ "$http_status" = 200 ] || { echo "entry: $http_status"; return 1; }
	dir=$(sed -n "s|.*'\./\(uplot-[^/]*\)/uPlot\.esm\.js'.*|\1|p" \
		"$HTTP_BODY_FILE")
	version=$(jq -r .version "$OC_SRCDIR/node_modules/uplot/package.json")
	[ "$dir" = "uplot-$version" ] ||
		{ echo "entry point names '$dir', not uplot-$version"; return 1; }
	for path in "/vendor/$dir/uPlot.esm.js" "/vendor/$dir/uPlot.min.css"; do
		http_fetch "$base$path"
		[ "$http_status" = 200 ] || { echo "$path: $http_status"; return 1; }
		cc=$(http_header cache-control)
		[ "$cc" = "public, max-age=31536000, immutable" ] ||
			{ echo "$path: Cache-Control: $cc"; return 1; }
	done
	for path in / /index.html /js/main.js /js/live.js /app.css \
	    /vendor/uPlot.esm.js /vendor/uPlot.min.css; do
		http_fetch "$base$path"
		[ "$http_status" = 200 ] || { echo "$path: $http_status"; return 1; }
		cc=$(http_header cache-control)
		[ "$cc" = no-cache ] ||
			{ echo "$path: Cache-Control: $cc"; return 1; }
		[ -n "$(http_header last-modified)" ] ||
			{ echo "$path: no Last-Modified"; return 1; }
		etag=$(http_header etag)
		[ -n "$etag" ] || { echo "$path: no ETag"; return 1; }
		http_fetch "$base$path" -H "If-None-Match: $etag"
		[ "$http_status" = 304 ] ||
			{ echo "$path: If-None-Match gave $http_status"; return 1; }
	done
	# The static policy stays off the API, which sets its own (no-store
	# for health).
	http_fetch "$base/api/health"
	[ "$(grep -c '^cache-control:' "$HTTP_HEAD")" = 1 ] &&
		[ "$(http_header cache-control)" = no-store ] ||
		{ echo "API: $(grep '^cache-control' "$HTTP_HEAD")"; return 1; }
}

@test "lighttpd: a 50-order list is gzip-compressed when accepted" {
	run check_gzip_list "$STACK_URL"
	echo "$output"
	assert_success
}

@test "lighttpd: a JSON answer under 1 KiB is not compressed" {
	run check_small_plain "$STACK_URL"
	echo "$output"
	assert_success
}

@test "lighttpd: the event stream is neither compressed nor buffered" {
	run check_stream_plain "$STACK_URL"
	echo "$output"
	assert_success
}

@test "lighttpd: versioned vendor files are immutable, the rest revalidates" {
	run check_cache_headers "$STACK_URL"
	echo "$output"
	assert_success
}

@test "lighttpd: the dashboard comes with CSP, no framing, nosniff, Referrer-Policy" {
	run smoke_security_headers "$STACK_URL"
	echo "$output"
	assert_success
}

@test "lighttpd: only the dashboard's files are served, build files are 404" {
	run http_check_not_served "$STACK_URL"
	echo "$output"
	assert_success
}

@test "lighttpd: HEAD /api/products agrees with GET" {
	run smoke_head_products "$STACK_URL"
	echo "$output"
	assert_success
}

@test "lighttpd: HEAD on the event stream answers its headers and ends" {
	run check_events_head "$STACK_URL"
	echo "$output"
	assert_success
}

@test "lighttpd: an unchanged product is 304, a changed one 200 with a new ETag" {
	run smoke_etag_product "$STACK_URL"
	echo "$output"
	assert_success
}

@test "apache: a 50-order list is gzip-compressed when accepted" {
	run check_gzip_list "$APACHE_URL"
	echo "$output"
	assert_success
}

@test "apache: the event stream is neither compressed nor buffered" {
	run check_stream_plain "$APACHE_URL"
	echo "$output"
	assert_success
}

@test "apache: HEAD on the event stream answers its headers and ends" {
	run check_events_head "$APACHE_URL"
	echo "$output"
	assert_success
}

@test "apache: versioned vendor files are immutable, the rest revalidates" {
	run check_cache_headers "$APACHE_URL"
	echo "$output"
	assert_success
}

@test "apache: the dashboard comes with CSP, no framing, nosniff, Referrer-Policy" {
	run smoke_security_headers "$APACHE_URL"
	echo "$output"
	assert_success
}

@test "apache: only the dashboard's files are served, build files are 404" {
	run http_check_not_served "$APACHE_URL"
	echo "$output"
	assert_success
}

@test "apache: HEAD /api/products agrees with GET" {
	run smoke_head_products "$APACHE_URL"
	echo "$output"
	assert_success
}

@test "apache: an unchanged product is 304, a changed one 200 with a new ETag" {
	run smoke_etag_product "$APACHE_URL"
	echo "$output"
	assert_success
}

# Answers of the API recorded for the OpenAPI check, one JSON per line.
HTTP_ANSWERS_NAME=answers.jsonl

# Make a request and append its answer to the record; HEAD is sent as
# curl --head (no body is read). The record says whether the request
# carried a session (bearer token or cookie).
# Usage: http_record METHOD PATH [CURL-ARG...]
http_record() {
	local method=$1 path=$2 raw=$BATS_TEST_TMPDIR/rec.head
	local body=$BATS_TEST_TMPDIR/rec.body status how=(-X "$1") a auth=none
	shift 2
	[ "$method" = HEAD ] && how=(--head)
	for a in "$@"; do
		case $a in
		Authorization:*) auth=bearer ;;
		Cookie:*) auth=cookie ;;
		esac
	done
	status=$(curl -s --max-time 10 "${how[@]}" -D "$raw" -o "$body" \
		-w '%{http_code}' "$@" "$STACK_URL$path")
	[ "$method" = HEAD ] && : >"$body"
	http_record_write "$method" "$path" "$status" "$raw" "$body" "$auth"
}

# Append one answer (status, header file, body file, auth) to the record.
http_record_write() {
	local headers
	headers=$(tr -d '\r' <"$4" | awk 'NR > 1 && /:/' |
		jq -R -s 'split("\n") | map(select(length > 0) |
			capture("^(?<k>[^:]+):[ ]*(?<v>.*)$") |
			{(.k | ascii_downcase): .v}) | add // {}')
	jq -n -c --arg method "$1" --arg url "$2" --argjson status "$3" \
		--argjson headers "$headers" --rawfile body "$5" \
		--arg auth "${6:-none}" \
		'{method: $method, url: $url, status: $status, auth: $auth,
		  headers: $headers, body: $body}' \
		>>"$BATS_FILE_TMPDIR/$HTTP_ANSWERS_NAME"
}

# Open the event stream until its first lines arrived, and record that.
# Usage: http_record_stream PATH [CURL-ARGS...]
http_record_stream() {
	local path=$1 raw=$BATS_TEST_TMPDIR/ev.head body=$BATS_TEST_TMPDIR/ev.body
	local a auth=none
	shift
	for a in "$@"; do
		case $a in
		Authorization:*) auth=bearer ;;
		esac
	done
	# curl ends the stream itself at --max-time, so that it writes the
	# headers out whole (a killed curl may not); the stream's first lines
	# come at once.
	curl -sN --max-time 2 -D "$raw" -o "$body" "$@" "$STACK_URL$path" ||
		true
	grep -q '^retry:' "$body" || { echo "no stream at $path" >&2; return 1; }
	http_record_write GET "$path" \
		"$(sed -n 's|^HTTP/[0-9.]* \([0-9]*\).*|\1|p' "$raw" | head -n 1)" \
		"$raw" "$body" "$auth"
}

# The ETag of the last recorded answer.
http_last_etag() {
	tr -d '\r' <"$BATS_TEST_TMPDIR/rec.head" | sed -n 's/^[Ee][Tt][Aa][Gg]: *//p'
}

# The sign-in routes: a session, who it is, its end; bad credentials, a
# body that is no JSON or lacks a field.
http_record_session() {
	local json=(-H 'Content-Type: application/json') pw=$ORDERCAST_DEMO_PASSWORD
	local token
	http_record POST /api/session "${json[@]}" \
		-d "{\"email\":\"admin@ordercast.example\",\"password\":\"$pw\"}"
	token=$(jq -r .token "$BATS_TEST_TMPDIR/rec.body")
	http_record GET /api/session -H "Authorization: Bearer $token"
	http_record HEAD /api/session -H "Authorization: Bearer $token"
	http_record GET /api/session -H "Cookie: ordercast_session=$token"
	http_record DELETE /api/session "${json[@]}" \
		-H "Authorization: Bearer $token"
	http_record GET /api/session -H "Authorization: Bearer $token"
	http_record GET /api/session
	http_record DELETE /api/session "${json[@]}"
	http_record POST /api/session "${json[@]}" \
		-d '{"email":"admin@ordercast.example","password":"wrong password"}'
	http_record POST /api/session "${json[@]}" \
		-d '{"email":"admin@ordercast.example"}'
	http_record POST /api/session -H 'Content-Type: text/plain' -d 'hello'
	http_record PUT /api/session "${json[@]}" -d '{}'
}

# Failed sign-ins past the limit answer 429 with Retry-After; the counts
# are cleared afterwards, as they also hold this client's address.
http_record_login_limit() {
	local json=(-H 'Content-Type: application/json') i code keys
	for ((i = 0; i < 12; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "${json[@]}" \
			-d '{"email":"nobody@example.com","password":"not this one"}' \
			"$STACK_URL/api/session")
		[ "$code" = 429 ] && break
	done
	http_record POST /api/session "${json[@]}" \
		-d '{"email":"nobody@example.com","password":"not this one"}'
	keys=$(stack_redis --scan --pattern "$ORDERCAST_PREFIX:login:*")
	[ -z "$keys" ] || echo "$keys" | xargs redis-cli \
		-s "$OC_STATE/run/redis.sock" del >/dev/null
}

# A query value, URL-encoded.
http_q() {
	jq -rn --arg v "$1" '$v | @uri'
}

# The cursor in "next" of the last recorded answer; fails when there is
# none (the page was the last).
http_last_next() {
	local next
	next=$(jq -r '.next // empty' "$BATS_TEST_TMPDIR/rec.body")
	[ -n "$next" ] || { echo "no next cursor" >&2; return 1; }
	printf '%s\n' "$next"
}

# The rows of the last recorded page as "id sort-value" lines.
# Usage: http_last_rows FIELD
http_last_rows() {
	jq -r --arg f "$1" '.data[] | "\(.id) \(.[$f])"' \
		"$BATS_TEST_TMPDIR/rec.body"
}

# The filtered, sorted lists and their next pages by cursor, a refused
# filter, a cursor reused with another query, and the counts as the
# admin, a customer and anonymously. The page after a cursor holds none
# of the rows before it and goes on in the sort's order.
# Usage: http_record_lists CUSTOMER-TOKEN
http_record_lists() {
	local admin=(-H "Authorization: Bearer $OC_ADMIN_TOKEN")
	local cust=(-H "Authorization: Bearer $1") q next page1 page2
	q="where=$(http_q "status = 'pending'")"
	q+="&sort=$(http_q -totalCents,createdAt)&limit=3"
	http_record GET "/api/orders?$q" "${admin[@]}"
	page1=$(http_last_rows totalCents)
	next=$(http_last_next)
	http_record GET "/api/orders?$q&next=$(http_q "$next")" "${admin[@]}"
	page2=$(http_last_rows totalCents)
	[ "$(printf '%s\n' "$page1" "$page2" | cut -d' ' -f1 | sort -u |
	    wc -l)" = 6 ] || { echo "pages overlap: $page1 / $page2" >&2;
		return 1; }
	[ "$(printf '%s\n' "$page1" | tail -n 1 | cut -d' ' -f2)" -ge \
	    "$(printf '%s\n' "$page2" | head -n 1 | cut -d' ' -f2)" ] ||
		{ echo "not descending: $page1 / $page2" >&2; return 1; }
	http_record HEAD "/api/orders?$q&next=$(http_q "$next")" "${admin[@]}"
	http_record GET \
		"/api/orders?sort=totalCents&limit=3&next=$(http_q "$next")" \
		"${admin[@]}"
	http_record GET "/api/orders?where=$(http_q "status = 'pending' AND")" \
		"${admin[@]}"
	http_record GET "/api/orders?where=$(http_q "totalCents > 0")&limit=2" \
		"${cust[@]}"
	q="where=$(http_q 'stock > 0')&sort=$(http_q -priceCents)&limit=2"
	http_record GET "/api/products?$q"
	next=$(http_last_next)
	http_record GET "/api/products?$q&next=$(http_q "$next")"
	http_record GET "/api/products?where=$(http_q "color = 'red'")"
	q="where=$(http_q "role = 'customer'")&sort=email&limit=2"
	http_record GET "/api/users?$q" "${admin[@]}"
	next=$(http_last_next)
	http_record GET "/api/users?$q&next=$(http_q "$next")" "${admin[@]}"
	http_record GET "/api/users?$q&role=admin&next=$(http_q "$next")" \
		"${admin[@]}"
	http_record GET \
		"/api/orders/count?where=$(http_q "status = 'pending'")" \
		"${admin[@]}"
	http_record HEAD /api/orders/count "${admin[@]}"
	http_record GET /api/orders/count "${cust[@]}"
	http_record GET /api/orders/count
	http_record GET \
		"/api/orders/count?where=$(http_q "totalCents > 'a lot'")" \
		"${admin[@]}"
	http_record GET "/api/products/count?where=$(http_q 'stock < 10')"
	http_record HEAD /api/products/count
	http_record GET /api/products/count "${cust[@]}"
	http_record GET '/api/users/count?role=customer' "${admin[@]}"
	http_record HEAD /api/users/count "${admin[@]}"
	http_record GET /api/users/count "${cust[@]}"
	http_record GET /api/users/count
}

# Ask every route of the API for its answers: successes as the admin and
# a customer, the error bodies with their codes (401 without a session,
# 403 for a customer, 422, 429, bad_filter), filtered pages and counts,
# 304 and HEAD, and a 503 while Redis is down.
http_record_all() {
	local json=(-H 'Content-Type: application/json') customer product
	local order none=000000000000000000000000 big etag other alice
	local admin=(-H "Authorization: Bearer $OC_ADMIN_TOKEN") cust
	alice=$(stack_login alice.martin@example.com)
	cust=(-H "Authorization: Bearer $alice")
	customer=$(stack_user_id alice.martin@example.com)
	other=$(curl -s "${admin[@]}" "$STACK_URL/api/users?role=customer" |
		jq -r --arg c "$customer" '[.data[] | select(.id != $c)][0].id')
	product=$(curl -s "$STACK_URL/api/products" | jq -r '.data[0].id')
	http_record_session
	http_record GET /api/config
	etag=$(http_last_etag)
	http_record GET /api/config -H "If-None-Match: $etag"
	http_record HEAD /api/config
	http_record GET /api/health
	http_record GET /api/health "${admin[@]}"
	http_record HEAD /api/health
	http_record GET /api/metrics "${admin[@]}"
	http_record GET '/api/metrics?format=prometheus' "${admin[@]}"
	http_record HEAD /api/metrics "${admin[@]}"
	http_record GET /api/metrics
	http_record GET /api/metrics "${cust[@]}"
	http_record GET '/api/users?role=customer' "${admin[@]}"
	http_record GET /api/users "${admin[@]}"
	etag=$(http_last_etag)
	http_record GET /api/users "${admin[@]}" -H "If-None-Match: $etag"
	http_record HEAD /api/users "${admin[@]}"
	http_record GET '/api/users?role=nobody' "${admin[@]}"
	http_record GET /api/users "${cust[@]}"
	http_record GET /api/users -H 'Authorization: Bearer forged-token'
	http_record POST /api/users -d ''
	http_record GET /api/products
	etag=$(http_last_etag)
	http_record GET /api/products -H "If-None-Match: $etag"
	http_record HEAD /api/products
	http_record GET "/api/products/$product"
	etag=$(http_last_etag)
	http_record GET "/api/products/$product" -H "If-None-Match: $etag"
	http_record HEAD "/api/products/$product"
	http_record HEAD "/api/products/$none"
	http_record GET /api/products/not-an-id
	http_record GET "/api/products/$none"
	http_record PUT "/api/products/$product/stock" "${json[@]}" \
		"${admin[@]}" -d '{"stock":900}'
	http_record PUT "/api/products/$product/stock" "${json[@]}" \
		"${admin[@]}" -d '{"delta":-1}'
	http_record PUT "/api/products/$product/stock" "${json[@]}" \
		"${admin[@]}" -d '{"delta":-100000}'
	http_record PUT "/api/products/$product/stock" "${json[@]}" \
		"${admin[@]}" -d '{"delta":1000000000}'
	http_record PUT "/api/products/$product/stock" "${json[@]}" \
		"${admin[@]}" -d '{"stock":"many"}'
	http_record PUT "/api/products/$product/stock" "${json[@]}" \
		"${admin[@]}" -d '{"stock":'
	http_record PUT "/api/products/$product/stock" "${admin[@]}" \
		-H 'Content-Type: text/plain' -d 'hello'
	http_record PUT "/api/products/$none/stock" "${json[@]}" \
		"${admin[@]}" -d '{"stock":1}'
	http_record PUT "/api/products/$product/stock" "${json[@]}" \
		"${cust[@]}" -d '{"stock":1}'
	http_record PUT "/api/products/$product/stock" "${json[@]}" \
		-d '{"stock":1}'
	http_record POST "/api/orders" "${json[@]}" "${admin[@]}" \
		-H 'Idempotency-Key: http-bats-1' \
		-d "{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":2}]}"
	order=$(jq -r .id "$BATS_TEST_TMPDIR/rec.body")
	http_record POST "/api/orders" "${json[@]}" "${admin[@]}" \
		-H 'Idempotency-Key: http-bats-1' \
		-d "{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":2}]}"
	http_record POST "/api/orders" "${json[@]}" "${admin[@]}" \
		-H 'Idempotency-Key: http-bats-1' \
		-d "{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":3}]}"
	http_record POST "/api/orders" "${json[@]}" "${admin[@]}" \
		-d "{\"customerId\":\"$customer\",\"items\":[]}"
	http_record POST "/api/orders" "${json[@]}" "${admin[@]}" \
		-d "{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":1000}]}"
	http_record POST "/api/orders" "${json[@]}" "${cust[@]}" \
		-d "{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":1}]}"
	http_record POST "/api/orders" "${json[@]}" "${cust[@]}" \
		-d "{\"customerId\":\"$other\",\"items\":[{\"productId\":\"$product\",\"qty\":1}]}"
	http_record POST "/api/orders" "${json[@]}" "${cust[@]}" \
		-H 'Origin: https://elsewhere.example' \
		-d "{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":1}]}"
	http_record POST "/api/orders" "${json[@]}" \
		-d "{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":1}]}"
	big=$BATS_TEST_TMPDIR/big.json
	head -c 70000 /dev/zero | tr '\0' ' ' >"$big"
	http_record POST /api/orders "${json[@]}" "${admin[@]}" \
		--data-binary "@$big"
	http_record DELETE /api/orders "${admin[@]}"
	http_record GET '/api/orders?limit=5' "${admin[@]}"
	http_record HEAD '/api/orders?limit=5' "${admin[@]}"
	http_record GET "/api/orders?customerId=$customer&status=pending&limit=2" \
		"${admin[@]}"
	http_record GET '/api/orders?limit=2' "${cust[@]}"
	http_record GET '/api/orders?limit=0' "${admin[@]}"
	http_record GET /api/orders
	http_record_lists "$alice"
	http_record GET "/api/orders/$order" "${admin[@]}"
	etag=$(http_last_etag)
	http_record GET "/api/orders/$order" "${admin[@]}" \
		-H "If-None-Match: $etag"
	http_record HEAD "/api/orders/$order" "${admin[@]}"
	http_record GET "/api/orders/$order" "${cust[@]}"
	http_record GET "/api/orders/$none" "${admin[@]}"
	http_record GET "/api/orders/$order"
	http_record PUT "/api/orders/$order/status" "${json[@]}" "${admin[@]}" \
		-d '{"status":"processing"}'
	http_record PUT "/api/orders/$order/status" "${json[@]}" "${admin[@]}" \
		-d '{"status":"delivered"}'
	http_record PUT "/api/orders/$order/status" "${json[@]}" "${admin[@]}" \
		-d '{"status":"lost"}'
	http_record PUT "/api/orders/$order/status" "${json[@]}" "${cust[@]}" \
		-d '{"status":"shipped"}'
	http_record PUT "/api/orders/$order/status" "${json[@]}" \
		-d '{"status":"shipped"}'
	http_record GET /api/stats "${admin[@]}"
	http_record HEAD /api/stats "${admin[@]}"
	http_record GET /api/stats "${cust[@]}"
	http_record GET /api/stats
	http_record POST /api/simulate/new-order "${json[@]}" "${admin[@]}" -d ''
	http_record POST /api/simulate/update-stock "${json[@]}" "${admin[@]}" \
		-d ''
	http_record POST /api/simulate/status-update "${json[@]}" \
		"${admin[@]}" -d ''
	http_record POST /api/simulate/new-order "${admin[@]}" -d ''
	http_record POST /api/simulate/new-order "${json[@]}" "${cust[@]}" -d ''
	http_record POST /api/simulate/new-order "${json[@]}" -d ''
	http_record GET /api/simulate/new-order "${admin[@]}"
	http_record HEAD /api/simulate/new-order "${admin[@]}"
	http_record_stream '/api/events?topics=products,orders' "${admin[@]}"
	http_record_stream '/api/events?topics=products'
	# Who may read which topics: 401 for nobody, 403 for a customer.
	http_record GET '/api/events?topics=orders'
	http_record GET '/api/events?topics=users' "${cust[@]}"
	http_record GET '/api/events?topics=products' \
		-H 'Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
	http_record GET '/api/events?topics=nothing'
	http_record POST /api/events -d ''
	http_record HEAD /api/events
	http_record HEAD '/api/events?topics=orders'
	http_record HEAD '/api/events?topics=orders' "${admin[@]}"
	http_record_login_limit
	# With Redis down: 503 with Retry-After, and a degraded health.
	stack_stop_prog redis
	http_record GET /api/products
	http_record GET /api/health
	stack_start_redis
}

@test "openapi: every route answers as docs/openapi.yaml describes" {
	rm -f "$BATS_FILE_TMPDIR/$HTTP_ANSWERS_NAME"
	http_record_all
	run node "$OC_SRCDIR/tests/lib/openapi-check.mjs" \
		"$OC_SRCDIR/docs/openapi.yaml" \
		"$BATS_FILE_TMPDIR/$HTTP_ANSWERS_NAME" --all
	echo "$output"
	assert_success
	assert_output --regexp '[0-9]+ answers checked .*: 0 problems'
	# The record holds the answers of signing in and of access control,
	# of conditional requests and of HEAD, not only successes.
	run jq -r '"\(.status) \(.method)"' \
		"$BATS_FILE_TMPDIR/$HTTP_ANSWERS_NAME"
	for want in '201 POST' '204 DELETE' '304 GET' '401 GET' '401 POST' \
	    '403 GET' '403 POST' '415 POST' '422 POST' '429 POST' \
	    '200 HEAD' '304 GET' '404 HEAD' '405 HEAD'; do
		assert_line "$want"
	done
	# A refused filter with its position, a cursor reused with another
	# query, and the counts' access: a customer counts orders and
	# products, not users; without a session only products.
	run jq -r 'select(.status == 400) | .body | fromjson | .error |
	    "\(.code) \(.field // .position)"' \
		"$BATS_FILE_TMPDIR/$HTTP_ANSWERS_NAME"
	assert_line 'bad_filter 22'
	assert_line 'invalid_field next'
	run jq -r 'select(.url | startswith("/api/") and
	    (split("?")[0] | endswith("/count"))) |
	    "\(.status) \(.method) \(.url | split("?")[0]) \(.auth)"' \
		"$BATS_FILE_TMPDIR/$HTTP_ANSWERS_NAME"
	for want in '200 GET /api/orders/count bearer' \
	    '401 GET /api/orders/count none' \
	    '200 GET /api/products/count bearer' \
	    '200 GET /api/products/count none' \
	    '200 GET /api/users/count bearer' \
	    '403 GET /api/users/count bearer' \
	    '401 GET /api/users/count none'; do
		assert_line "$want"
	done
}

@test "openapi: the check fails on answers the description does not allow" {
	local answers=$BATS_FILE_TMPDIR/$HTTP_ANSWERS_NAME
	local bad=$BATS_TEST_TMPDIR/bad.jsonl
	[ -s "$answers" ]
	# A price sent as a string in the product list.
	jq -c 'if .method == "GET" and .url == "/api/products" and
	    .status == 200 then .body |= (fromjson |
	    .data[0].priceCents = "12.99" | tojson) else . end' \
		"$answers" >"$bad"
	run node "$OC_SRCDIR/tests/lib/openapi-check.mjs" \
		"$OC_SRCDIR/docs/openapi.yaml" "$bad"
	echo "$output"
	assert_failure
	assert_output --partial 'GET /api/products -> 200: body: body/data/0/priceCents must be integer'
	# A status the route does not answer, and a 503 without Retry-After.
	jq -c 'if .url == "/api/stats" then .status = 418
	    elif .status == 503 then .headers |= del(."retry-after")
	    else . end' "$answers" >"$bad"
	run node "$OC_SRCDIR/tests/lib/openapi-check.mjs" \
		"$OC_SRCDIR/docs/openapi.yaml" "$bad"
	echo "$output"
	assert_failure
	assert_output --partial 'GET /api/stats -> 418: GET /api/stats describes no 418 answer'
	assert_output --partial 'GET /api/products -> 503: header Retry-After is missing'
	# An admin route that answers without a session, a cacheable answer
	# without its ETag, a 401 without WWW-Authenticate, a HEAD with a body.
	jq -c 'if .url == "/api/stats" and .status == 200 and
	    .method == "GET" then .auth = "none"
	    elif .method == "GET" and .url == "/api/products" and
	    .status == 200 then .headers |= del(.etag)
	    elif .status == 401 then .headers |= del(."www-authenticate")
	    elif .method == "HEAD" and .url == "/api/config" then
	    .body = "{}" else . end' "$answers" >"$bad"
	run node "$OC_SRCDIR/tests/lib/openapi-check.mjs" \
		"$OC_SRCDIR/docs/openapi.yaml" "$bad"
	echo "$output"
	assert_failure
	assert_output --partial 'GET /api/stats -> 200: answered without a session, but x-role is admin'
	assert_output --partial 'GET /api/products -> 200: header ETag is missing'
	assert_output --partial 'GET /api/orders -> 401: header WWW-Authenticate is missing'
	assert_output --partial 'HEAD /api/config -> 200: a HEAD answer with a body'
	# A refused filter without its position, a count that is a string, a
	# cursor that is not URL-safe, and an order count without a session.
	jq -c 'if .status == 400 and (.url | startswith("/api/orders?")) and
	    (.body | fromjson | .error.code) == "bad_filter" then
	    .body |= (fromjson | del(.error.position) | tojson)
	    elif .method == "GET" and .status == 200 and
	    (.url | startswith("/api/products/count?")) then
	    .body |= (fromjson | .count = "2" | tojson)
	    elif .method == "GET" and .status == 200 and
	    (.url | startswith("/api/products?where=")) and
	    (.url | contains("next=") | not) then
	    .body |= (fromjson | .next = "a+b/c=" | tojson)
	    elif .method == "GET" and .status == 200 and
	    (.url | startswith("/api/orders/count?")) then .auth = "none"
	    else . end' "$answers" >"$bad"
	run node "$OC_SRCDIR/tests/lib/openapi-check.mjs" \
		"$OC_SRCDIR/docs/openapi.yaml" "$bad"
	echo "$output"
	assert_failure
	assert_output --regexp "GET /api/orders\?where=[^ ]* -> 400: body: body/error must have required property 'position'"
	assert_output --regexp 'GET /api/products/count\?where=[^ ]* -> 200: body: body/count must be integer'
	assert_output --regexp 'GET /api/products\?where=[^ ]* -> 200: body: body/next must match pattern'
	assert_output --regexp 'GET /api/orders/count\?where=[^ ]* -> 200: answered without a session, but x-role is customer'
}
