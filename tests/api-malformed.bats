#!/usr/bin/env bats
# Malformed input to every route that takes a body: each gets its 4xx
# with the error format, and nothing in the database changes.

load lib/stack
load api-common

setup_file() {
	stack_start
}

teardown_file() {
	stack_stop
}

# Everything a bad request could have changed, as one line.
db_state() {
	stack_mongo "
import hashlib
h = hashlib.sha256()
for c in ('users', 'products', 'orders', 'idempotency'):
    for d in db[c].find({}, sort=[('_id', 1)]):
        h.update(repr(sorted(d.items())).encode())
print(h.hexdigest())"
}

# Send the bytes of a file as the body. Usage: send METHOD PATH FILE
send() {
	status_code=$(curl -s --max-time 30 -X "$1" \
		-H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		-H 'Content-Type: application/json' --data-binary "@$3" \
		-o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' "$STACK_URL$2")
	body=$(cat "$BATS_TEST_TMPDIR/body")
}

# Each printf-format payload must get STATUS and CODE.
# Usage: battery METHOD PATH STATUS CODE PAYLOAD...
battery() {
	local method=$1 path=$2 want=$3 code=$4 p f=$BATS_TEST_TMPDIR/payload
	shift 4
	for p in "$@"; do
		# shellcheck disable=SC2059
		printf "$p" >"$f"
		send "$method" "$path" "$f"
		if [ "$status_code" != "$want" ] ||
		    ! echo "$body" | jq -e ".error.code == \"$code\"" >/dev/null; then
			echo "payload '$p': expected $want $code, got $status_code $body" >&2
			return 1
		fi
	done
}

setup() {
	customer=$(customer_id 0)
	product=$(product_id MS-202)
	order=$(curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$STACK_URL/api/orders?status=pending&limit=1" | jq -r '.data[0].id')
	[ -n "$order" ] && [ "$order" != null ]
	before=$(db_state)
}

teardown() {
	after=$(db_state)
	if [ "$before" != "$after" ]; then
		echo "the database changed" >&2
		return 1
	fi
}

@test "malformed JSON is 400 bad_json on every body route" {
	for route in "POST /api/orders" "PUT /api/products/$product/stock" \
	    "PUT /api/orders/$order/status"; do
		# shellcheck disable=SC2086
		battery $route 400 bad_json \
			'{"customerId":"abc"' '{' '' ' ' '{"a":1} x' '{"a":1}{}' \
			"{'stock':1}" '{"stock":01}' '{"stock":1,}' '{stock:1}' \
			'{"a":"\\x41"}' \
			'[]' '"text"' 'null' '1' 'true' \
			'{"s":"\xff\xfe"}' '{"s":"\xc3\x28"}' \
			'{"s":"a\x00b"}' '\x00' '{"stock":1}\x00' \
			'/* c */{"stock":1}'
	done
}

@test "NaN and Infinity are no JSON numbers" {
	for v in NaN Infinity -Infinity; do
		api PUT "/api/products/$product/stock" "{\"stock\":$v}"
		assert_status 400
	done
}

@test "deep nesting is refused before it costs anything" {
	deep=$(printf '[%.0s' $(seq 5000))
	nested=$(printf '{"a":%.0s' $(seq 100))
	battery POST /api/orders 400 bad_json "$deep" "$nested"
	battery PUT "/api/products/$product/stock" 400 bad_json \
		"{\"stock\":$deep}"
}

@test "huge numbers and wrong types are 400 naming the field" {
	stock=/api/products/$product/stock
	battery PUT "$stock" 400 invalid_field \
		'{"stock":99999999999999999999999}' '{"stock":1e400}' \
		'{"delta":-99999999999999999999999}' '{"stock":1.5}' \
		'{"stock":"1"}' '{"stock":true}' '{"stock":null}' '{"stock":[1]}' \
		'{"delta":{}}' '{"stock":1000000001}' '{"stock":-1}' \
		'{"delta":1e3}' '{"Stock":1}' '{}'
	items="{\"productId\":\"$product\",\"qty\":1}"
	battery POST /api/orders 400 invalid_field \
		"{\"customerId\":123,\"items\":[$items]}" \
		"{\"customerId\":null,\"items\":[$items]}" \
		"{\"customerId\":\"${customer}0\",\"items\":[$items]}" \
		"{\"customerId\":\"${customer}\\\\u0000\",\"items\":[$items]}" \
		"{\"customerId\":\"$customer\",\"items\":{}}" \
		"{\"customerId\":\"$customer\",\"items\":\"x\"}" \
		"{\"customerId\":\"$customer\",\"items\":[1]}" \
		"{\"customerId\":\"$customer\",\"items\":[null]}" \
		"{\"customerId\":\"$customer\",\"items\":[{\"productId\":7,\"qty\":1}]}" \
		"{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\\\\u0000\",\"qty\":1}]}" \
		"{\"customerId\":\"$customer\",\"items\":[{\"qty\":1}]}" \
		"{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\"}]}" \
		"{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":99999999999999999999999}]}" \
		"{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":1e400}]}" \
		"{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":-1}]}" \
		"{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":\"2\"}]}" \
		"{\"customerId\":\"$customer\",\"items\":[{\"productId\":\"$product\",\"qty\":true}]}" \
		"{\"customerId\":\"$customer\",\"items\":[$items],\"totalCents\":1}"
	status=/api/orders/$order/status
	battery PUT "$status" 400 invalid_field \
		'{"status":3}' '{"status":null}' '{"status":["shipped"]}' \
		'{"status":"PROCESSING"}' '{"status":"processing\\u0000"}' \
		'{"status":""}' '{}' '{"status":"processing","x":1}'
}

@test "ids that are not 24-hex are 400, never 500" {
	for id in x 123 0123456789abcdef0123456 0123456789abcdef012345678 \
	    0123456789abcdef0123456g "${product}x" "${product^^}x"; do
		api GET "/api/products/$id"
		assert_error 400 invalid_field
		api GET "/api/orders/$id"
		assert_error 400 invalid_field
		api PUT "/api/orders/$id/status" '{"status":"processing"}'
		assert_error 400 invalid_field
		api PUT "/api/products/$id/stock" '{"stock":1}'
		assert_error 400 invalid_field
	done
}

@test "oversized bodies are 413, unread; wrong types 415" {
	f=$BATS_TEST_TMPDIR/big
	{ printf '{"stock":1,"pad":"'; head -c 70000 /dev/zero | tr '\0' a; printf '"}'; } >"$f"
	send PUT "/api/products/$product/stock" "$f"
	assert_error 413 payload_too_large
	send POST /api/orders "$f"
	assert_error 413 payload_too_large
	{ printf '{"stock":1,"pad":"'; head -c 65516 /dev/zero | tr '\0' a; printf '"}'; } >"$f"
	[ "$(stat -c %s "$f")" -eq 65536 ]
	send PUT "/api/products/$product/stock" "$f"
	assert_error 400 invalid_field
	assert_body '.error.field == "pad"'
	head -c 2000000 /dev/zero >"$f"
	send POST /api/orders "$f"
	assert_error 413 payload_too_large
	for ct in text/plain application/xml multipart/form-data \
	    application/jsonp application/json-seq; do
		API_CT=$ct api POST /api/orders "$(order_body "$customer" "$product")"
		assert_error 415 unsupported_media_type
	done
	status_code=$(curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' \
		-X PUT --data-binary '{"stock":1}' -H 'Content-Type:' \
		-H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$STACK_URL/api/products/$product/stock")
	body=$(cat "$BATS_TEST_TMPDIR/body")
	assert_error 415 unsupported_media_type
}

@test "an error naming a long multibyte field is valid UTF-8, clipped whole" {
	for ch in é € 𝄞; do
		name=$(printf "$ch%.0s" $(seq 300))
		printf '{"%s":1}' "$name" >"$BATS_TEST_TMPDIR/payload"
		send PUT "/api/products/$product/stock" "$BATS_TEST_TMPDIR/payload"
		assert_error 400 invalid_field
		iconv -f UTF-8 -t UTF-8 "$BATS_TEST_TMPDIR/body" >/dev/null
		/usr/bin/python3 -c '
import json, sys
name = sys.argv[2]
e = json.load(open(sys.argv[1], encoding="utf-8", errors="strict"))["error"]
m = e["message"].encode()
assert e["field"] == name, "field"
assert 0 < len(m) <= 480, len(m)
assert name.startswith(e["message"]), "message is no prefix of the name"
' "$BATS_TEST_TMPDIR/body" "$name"
	done
}
