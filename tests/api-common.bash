# shellcheck shell=bash
#
# Helpers of the ordercast-api suites (tests/api*.bats): requests with
# status, headers and body captured, and lookups of sample data.

bats_load_library bats-support
bats_load_library bats-assert

# Request the API. Usage: api METHOD PATH [BODY [CURL-ARGS...]]
# The request is the sample admin's (bearer token) unless API_TOKEN says
# otherwise: another token, or empty for nobody. Every POST, PUT and
# DELETE is sent as application/json (or as $API_CT when set; set and
# empty for no Content-Type), without BODY with an empty one. Sets
# status_code, body and leaves the response headers in
# $BATS_TEST_TMPDIR/headers.
api() {
	local method=$1 path=$2 data=${3-} token=${API_TOKEN-$OC_ADMIN_TOKEN}
	local ct=${API_CT-application/json}
	shift $(($# < 3 ? $# : 3))
	local args=(-s --max-time 30 -X "$method"
		-D "$BATS_TEST_TMPDIR/headers" -o "$BATS_TEST_TMPDIR/body"
		-w '%{http_code}')
	[ -z "$token" ] || args+=(-H "Authorization: Bearer $token")
	case $method in
	POST | PUT | DELETE)
		[ -z "$ct" ] || args+=(-H "Content-Type: $ct")
		args+=(--data-binary "$data")
		;;
	*)
		[ -z "$data" ] || args+=(-H "Content-Type: $ct"
			--data-binary "$data")
		;;
	esac
	status_code=$(curl "${args[@]}" "$@" "$STACK_URL$path")
	body=$(cat "$BATS_TEST_TMPDIR/body")
}

# A response header's value (case-insensitive name), CR stripped.
api_header() {
	grep -i "^$1:" "$BATS_TEST_TMPDIR/headers" | head -1 |
		sed -e 's/^[^:]*: *//' -e 's/\r$//'
}

# Fail with the response shown unless the status is $1.
assert_status() {
	if [ "$status_code" != "$1" ]; then
		echo "expected HTTP $1, got $status_code: $body" >&2
		return 1
	fi
}

# Assert a jq expression holds on the response body.
assert_body() {
	if ! echo "$body" | jq -e "$1" >/dev/null; then
		echo "body fails '$1': $body" >&2
		return 1
	fi
}

# An error response with this status and code.
assert_error() {
	assert_status "$1"
	assert_body ".error.code == \"$2\" and (.error.message | length > 0)"
}

# Sign in anonymously with EMAIL and PASSWORD: api's results.
api_login() {
	API_TOKEN= api POST /api/session \
		"$(jq -cn --arg e "$1" --arg p "$2" '{email: $e, password: $p}')"
}

# Id of the nth customer (0-based).
customer_id() {
	curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$STACK_URL/api/users?role=customer" | jq -r ".data[${1:-0}].id"
}

# Id of the product with this SKU.
product_id() {
	curl -s "$STACK_URL/api/products" |
		jq -r --arg sku "$1" '.data[] | select(.sku == $sku) | .id'
}

# Stock of a product straight from MongoDB (not through the cache).
db_stock() {
	stack_mongo "print(db.products.find_one({'_id': ObjectId('$1')})['stock'])"
}

# Number of documents in a collection.
db_count() {
	stack_mongo "print(db.$1.count_documents(${2:-{\}}))"
}

# Wait until the API's counter FIELD reaches at least MIN (counters are
# flushed to Redis every 100 ms). Usage: wait_metric FIELD MIN
wait_metric() {
	local deadline=$((SECONDS + 10)) v
	while :; do
		v=$(stack_redis hget "$ORDERCAST_PREFIX:metrics:api" "$1")
		[ "${v:-0}" -ge "$2" ] && return 0
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "metric $1 is ${v:-0}, expected >= $2" >&2
			return 1
		fi
		sleep 0.05
	done
}

# Set a product's stock through the API.
set_stock() {
	api PUT "/api/products/$1/stock" "{\"stock\":$2}"
	assert_status 200
}

# An order body for one product.
order_body() {
	printf '{"customerId":"%s","items":[{"productId":"%s","qty":%s}]}' \
		"$1" "$2" "${3:-1}"
}
