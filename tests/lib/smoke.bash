# shellcheck shell=bash
#
# The API and SSE smoke checks, run the same way against every web server
# setup (tests/deploy.bats). Each takes the base URL; changes are made as
# the sample admin (OC_ADMIN_TOKEN, from stack_start).

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
	local file=$1 regex=$2 deadline=$((SECONDS + $3))
	until grep -qE "$regex" "$file" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
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
