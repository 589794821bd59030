# shellcheck shell=bash
#
# The API, SSE and web-server smoke checks, run the same way against every
# web server setup (tests/deploy.bats, tests/http.bats). Each takes the
# base URL; changes are made as the sample admin (OC_ADMIN_TOKEN, from
# stack_start).

# GET a path; sets $status_code and $body.
smoke_get() {
	local out
	out=$(curl -s --max-time 10 -w '\n%{http_code}' "$1$2")
	status_code=${out##*$'\n'}
	body=${out%$'\n'*}
}

# Follow an event stream, each line prefixed by its arrival time in ms.
# Usage: smoke_stream URL FILE &
smoke_stream() {
	curl -sN --max-time 20 "$1" | while IFS= read -r line; do
		printf '%s %s\n' "$(( ${EPOCHREALTIME/./} / 1000 ))" "$line"
	done >"$2"
}

# Wait until FILE holds a line matching REGEX, for at most SECS seconds.
smoke_wait_line() {
	wait_for "$3" grep -qE "$2" "$1"
}

smoke_health() {
	smoke_get "$1" /api/health
	[ "$status_code" = 200 ] || { echo "health: $status_code $body"; return 1; }
	echo "$body" | jq -e '.status == "ok" and .mongodb.ok and .redis.ok' >/dev/null
}

smoke_products() {
	smoke_get "$1" /api/products
	[ "$status_code" = 200 ] || { echo "products: $status_code"; return 1; }
	echo "$body" | jq -e '.data | length > 0' >/dev/null
}

smoke_not_found() {
	smoke_get "$1" /api/no-such-route
	[ "$status_code" = 404 ] || { echo "got $status_code"; return 1; }
	echo "$body" | jq -e '.error.code == "not_found"' >/dev/null
}

smoke_static() {
	smoke_get "$1" /
	[ "$status_code" = 200 ] || { echo "got $status_code"; return 1; }
	[[ $body == *"<html"* ]]
}

# An order through the API: 201 with the new order.
smoke_order() {
	local customer product out
	customer=$(curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$1/api/users?role=customer" | jq -r '.data[0].id')
	product=$(curl -s "$1/api/products" |
		jq -r '[.data[] | select(.stock > 0)][0].id')
	out=$(curl -s -w '\n%{http_code}' -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		-d "{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":1}]}" \
		"$1/api/orders")
	[ "${out##*$'\n'}" = 201 ] || { echo "order: $out"; return 1; }
	echo "${out%$'\n'*}" | jq -e '.status == "pending"' >/dev/null
}

# A stock change reaches an open event stream within one second of being
# published, so nothing between Redis and curl buffers events.
smoke_event_unbuffered() {
	local base=$1 file=$2 product line arrived published
	smoke_stream "$base/api/events?topics=products" "$file" &
	local reader=$!
	smoke_wait_line "$file" '^[0-9]+ retry:' 10 ||
		{ echo "stream did not start"; kill "$reader"; return 1; }
	product=$(curl -s "$base/api/products" | jq -r '.data[0].id')
	curl -s -X PUT -H 'Content-Type: application/json' -d '{"delta":1}' \
		-H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$base/api/products/$product/stock" >/dev/null
	smoke_wait_line "$file" "^[0-9]+ data: .*\"key\":\"$product\"" 10 ||
		{ echo "no event arrived"; cat "$file"; kill "$reader"; return 1; }
	kill "$reader" 2>/dev/null || true
	wait "$reader" 2>/dev/null || true
	line=$(grep -E "^[0-9]+ data: .*\"key\":\"$product\"" "$file" | head -1)
	arrived=${line%% *}
	published=$(echo "${line#* data: }" | jq -r '.publishedAt')
	echo "published $published arrived $arrived"
	[ $((arrived - published)) -lt 1000 ]
}

# Fetch a URL with extra curl arguments; sets $status_code, $body and
# $headers (the response header lines, names in lower case, no CR).
# Usage: smoke_fetch URL [CURL-ARG...]
smoke_fetch() {
	local url=$1 out raw
	shift
	raw=$(mktemp)
	out=$(curl -s --max-time 10 -D "$raw" -w '\n%{http_code}' "$@" "$url")
	status_code=${out##*$'\n'}
	body=${out%$'\n'*}
	headers=$(tr -d '\r' <"$raw" | awk 'NR > 1 && /:/ {
		i = index($0, ":");
		print tolower(substr($0, 1, i - 1)) ":" substr($0, i + 1) }')
	rm -f "$raw"
}

# The value of one header of the last smoke_fetch (lower-case name).
smoke_header() {
	printf '%s\n' "$headers" | sed -n "s/^$1: *//p" | head -n 1
}

# The page, a module and the style sheet come with a Content-Security-
# Policy of this site only (no inline script, no framing) and the other
# headers against cross-site use and leaks.
smoke_security_headers() {
	local base=$1 path csp
	for path in / /index.html /js/main.js /app.css; do
		smoke_fetch "$base$path"
		[ "$status_code" = 200 ] || { echo "$path: $status_code"; return 1; }
		csp=$(smoke_header content-security-policy)
		[[ $csp == *"default-src 'self'"* ]] ||
			{ echo "$path: CSP '$csp'"; return 1; }
		[[ $csp == *"frame-ancestors 'none'"* ]] ||
			{ echo "$path: CSP without frame-ancestors: '$csp'"; return 1; }
		[[ $csp != *unsafe-inline* && $csp != *unsafe-eval* &&
		    $csp != *"*"* ]] ||
			{ echo "$path: CSP allows too much: '$csp'"; return 1; }
		[ "$(smoke_header x-frame-options)" = DENY ] ||
			{ echo "$path: X-Frame-Options '$(smoke_header x-frame-options)'"; return 1; }
		[ "$(smoke_header x-content-type-options)" = nosniff ] ||
			{ echo "$path: no X-Content-Type-Options: nosniff"; return 1; }
		[ "$(smoke_header referrer-policy)" = same-origin ] ||
			{ echo "$path: Referrer-Policy '$(smoke_header referrer-policy)'"; return 1; }
	done
}

# Files of the document root that are not the dashboard's, folders and
# unknown names are 404; the dashboard's own files are 200.
# Usage: smoke_not_served BASE [PATH...] (extra paths that must be 404)
smoke_not_served() {
	local base=$1 path
	shift
	for path in /local.mk /js/ /js/../local.mk /Makefile.am \
	    /index.html~ /.git/config /app.css.orig "$@"; do
		smoke_fetch "$base$path" --path-as-is
		[ "$status_code" = 404 ] ||
			{ echo "$path: $status_code, not 404"; return 1; }
	done
	for path in / /index.html /app.css /js/main.js; do
		smoke_fetch "$base$path"
		[ "$status_code" = 200 ] || { echo "$path: $status_code"; return 1; }
	done
}

# HEAD /api/products answers what GET does (status, type, validator,
# caching, length) without a body.
smoke_head_products() {
	local base=$1 get_len get_etag get_cc get_type head_len
	smoke_fetch "$base/api/products"
	[ "$status_code" = 200 ] || { echo "GET: $status_code"; return 1; }
	get_len=${#body}
	get_etag=$(smoke_header etag)
	get_cc=$(smoke_header cache-control)
	get_type=$(smoke_header content-type)
	[ -n "$get_etag" ] || { echo "GET: no ETag"; return 1; }
	smoke_fetch "$base/api/products" --head
	[ "$status_code" = 200 ] || { echo "HEAD: $status_code"; return 1; }
	[ "$(smoke_header etag)" = "$get_etag" ] ||
		{ echo "HEAD ETag '$(smoke_header etag)', GET '$get_etag'"; return 1; }
	[ "$(smoke_header cache-control)" = "$get_cc" ] ||
		{ echo "HEAD Cache-Control '$(smoke_header cache-control)'"; return 1; }
	[ "$(smoke_header content-type)" = "$get_type" ] ||
		{ echo "HEAD Content-Type '$(smoke_header content-type)'"; return 1; }
	head_len=$(smoke_header content-length)
	[ -z "$head_len" ] || [ "$head_len" = "$get_len" ] ||
		{ echo "HEAD Content-Length $head_len, GET body $get_len"; return 1; }
	echo "GET and HEAD: ETag $get_etag, ${get_len} bytes," \
		"HEAD Content-Length ${head_len:-(none)}"
}

# A product unchanged since its ETag is 304 without a body; after a stock
# change the old ETag gets 200, the new stock and a new ETag.
smoke_etag_product() {
	local base=$1 product etag stock
	product=$(curl -s "$base/api/products" | jq -r '.data[0].id')
	smoke_fetch "$base/api/products/$product"
	[ "$status_code" = 200 ] || { echo "GET: $status_code"; return 1; }
	etag=$(smoke_header etag)
	stock=$(echo "$body" | jq .stock)
	[ -n "$etag" ] || { echo "no ETag"; return 1; }
	smoke_fetch "$base/api/products/$product" -H "If-None-Match: $etag"
	[ "$status_code" = 304 ] ||
		{ echo "unchanged: $status_code, not 304"; return 1; }
	[ -z "$body" ] || { echo "a 304 with a body"; return 1; }
	[ "$(smoke_header etag)" = "$etag" ] ||
		{ echo "304 ETag '$(smoke_header etag)', not $etag"; return 1; }
	curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $OC_ADMIN_TOKEN" -d '{"delta":1}' \
		"$base/api/products/$product/stock"
	smoke_fetch "$base/api/products/$product" -H "If-None-Match: $etag"
	[ "$status_code" = 200 ] ||
		{ echo "after a change: $status_code, not 200"; return 1; }
	[ "$(echo "$body" | jq .stock)" = $((stock + 1)) ] ||
		{ echo "stock $(echo "$body" | jq .stock), not $((stock + 1))"; return 1; }
	[ -n "$(smoke_header etag)" ] && [ "$(smoke_header etag)" != "$etag" ] ||
		{ echo "ETag '$(smoke_header etag)' after a change, was $etag"; return 1; }
	echo "ETag $etag -> $(smoke_header etag)"
}
