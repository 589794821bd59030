#!/usr/bin/env bats
# ?where=, ?sort=, keyset paging and counts of the REST lists
# (docs/filters.md): every answer is compared with what the filter means,
# computed independently with jq over the whole unfiltered list.

load lib/stack
load api-common

setup_file() {
	stack_start
	# An order without totalCents and status, and a line without a sku,
	# for the meaning of missing fields.
	local c
	c=$(customer_id 0)
	stack_mongo "db.orders.insert_one({'customerId': ObjectId('$c'),
	    'items': [{'sku': 'ZZ-1', 'name': 'Odd Thing', 'qty': 1},
	              {'name': 'No Sku', 'qty': 2}],
	    'createdAt': datetime.datetime.utcnow(),
	    'updatedAt': datetime.datetime.utcnow()})"
}

teardown_file() {
	stack_stop
}

# GET with URL-encoded parameters: oc_get PATH NAME=VALUE... Signed in as
# the admin unless API_TOKEN says otherwise. Sets status_code and body.
oc_get() {
	local path=$1 kv token=${API_TOKEN-$OC_ADMIN_TOKEN} args=()
	shift
	for kv in "$@"; do
		args+=(--data-urlencode "$kv")
	done
	[ -z "$token" ] || args+=(-H "Authorization: Bearer $token")
	body=$(curl -s --max-time 30 --get -w '\n%{http_code}' \
		"${args[@]}" "$STACK_URL$path")
	status_code=${body##*$'\n'}
	body=${body%$'\n'*}
}

# Every row of a list, page by page, into $rows (a JSON array); pages
# counts the requests. Usage: list_all PATH LIMIT NAME=VALUE...
list_all() {
	local path=$1 limit=$2 next= i
	shift 2
	rows='[]'
	pages=0
	for ((i = 0; i < 200; i++)); do
		oc_get "$path" "limit=$limit" "$@" ${next:+"next=$next"}
		assert_status 200 || return 1
		pages=$((pages + 1))
		rows=$(jq -c --argjson r "$rows" '$r + .data' <<<"$body")
		next=$(jq -r '.next // empty' <<<"$body")
		[ -n "$next" ] || return 0
	done
	echo "more than 200 pages" >&2
	return 1
}

# The whole collection as the admin sees it, unfiltered, in $ALL.
load_all() {
	case $1 in
	orders) ALL=$(curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$STACK_URL/api/orders?limit=200" | jq -c .data) ;;
	products) ALL=$(curl -s "$STACK_URL/api/products" | jq -c .data) ;;
	users) ALL=$(curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$STACK_URL/api/users" | jq -c .data) ;;
	esac
	[ "$(jq length <<<"$ALL")" -gt 5 ]
}

# Check one filter on a list: the ids it answers (paged by 7) and its
# count equal those of the jq condition over $ALL. JQ_ARGS holds
# --arg/--argjson options for the condition.
# Usage: check_filter LIST WHERE JQ-CONDITION
check_filter() {
	local list=$1 where=$2 cond=$3 want got n
	want=$(jq -c "${JQ_ARGS[@]}" "[.[] | select($cond) | .id] | sort" \
		<<<"$ALL") || { echo "bad jq: $cond" >&2; return 1; }
	list_all "/api/$list" 7 "where=$where" || return 1
	got=$(jq -c '[.[].id] | sort' <<<"$rows")
	if [ "$got" != "$want" ]; then
		echo "where=$where" >&2
		echo "  want $want" >&2
		echo "  got  $got" >&2
		return 1
	fi
	oc_get "/api/$list/count" "where=$where"
	assert_status 200 || return 1
	n=$(jq length <<<"$want")
	if [ "$(jq .count <<<"$body")" != "$n" ]; then
		echo "count of '$where': $body, want $n" >&2
		return 1
	fi
	SELECTED=$((SELECTED + n))
}

# Each operator, over orders, against what it means. Cases are
# WHERE<TAB>JQ-CONDITION lines.
run_cases() {
	local list=$1 where cond
	SELECTED=0
	while IFS=$'\t' read -r where cond; do
		[ -n "$where" ] || continue
		check_filter "$list" "$where" "$cond" || return 1
	done
	# The cases must select something, or they prove little.
	[ "$SELECTED" -gt 0 ]
}

# Values from the sample data the cases compare against.
order_values() {
	MID=$(jq '[.[].totalCents | numbers] | sort | .[length / 2 | floor]' <<<"$ALL")
	LOW=$(jq '[.[].totalCents | numbers] | sort | .[length / 4 | floor]' <<<"$ALL")
	CUT=$(jq -r '[.[].createdAt] | sort | .[length / 2 | floor]' <<<"$ALL")
	EARLY=$(jq -r '[.[].createdAt] | sort | .[3]' <<<"$ALL")
	CUST=$(jq -r '[.[].customerId | strings] | sort | .[0]' <<<"$ALL")
	OID=$(jq -r '.[5].id' <<<"$ALL")
	PID=$(jq -r '[.[].items[].productId | strings] | sort | .[0]' <<<"$ALL")
	JQ_ARGS=(--argjson mid "$MID" --argjson low "$LOW" --arg cut "$CUT"
		--arg early "$EARLY" --arg cust "$CUST" --arg oid "$OID"
		--arg pid "$PID")
}

@test "orders: each comparison, IN, BETWEEN, IS NULL, against its meaning" {
	load_all orders
	order_values
	run_cases orders <<EOF
status = 'pending'	.status == "pending"
status != 'pending'	(.status | type) == "string" and .status != "pending"
status <> 'delivered'	(.status | type) == "string" and .status != "delivered"
totalCents = $MID	.totalCents == \$mid
totalCents < $MID	(.totalCents | type) == "number" and .totalCents < \$mid
totalCents <= $MID	(.totalCents | type) == "number" and .totalCents <= \$mid
totalCents > $MID	(.totalCents | type) == "number" and .totalCents > \$mid
totalCents >= $MID	(.totalCents | type) == "number" and .totalCents >= \$mid
totalCents > 100.5	(.totalCents | type) == "number" and .totalCents > 100.5
status IN ('pending', 'shipped')	.status == "pending" or .status == "shipped"
status NOT IN ('pending', 'shipped')	(.status == "pending" or .status == "shipped") | not
totalCents BETWEEN $LOW AND $MID	(.totalCents | type) == "number" and .totalCents >= \$low and .totalCents <= \$mid
totalCents NOT BETWEEN $LOW AND $MID	((.totalCents | type) == "number" and .totalCents >= \$low and .totalCents <= \$mid) | not
totalCents IS NULL	.totalCents == null
totalCents IS NOT NULL	.totalCents != null
status is null	.status == null
id = '$OID'	.id == \$oid
id != '$OID'	.id != \$oid
customerId = '$CUST'	.customerId == \$cust
customerId = '$(tr a-f A-F <<<"$CUST")'	.customerId == \$cust
EOF
}

@test "orders: arrays match when any line matches" {
	load_all orders
	order_values
	run_cases orders <<EOF
items.sku = 'KB-101'	any(.items[]; .sku == "KB-101")
items.sku != 'KB-101'	any(.items[]; (.sku | type) == "string" and .sku != "KB-101")
items.sku IN ('KB-101', 'MN-303')	any(.items[]; .sku == "KB-101" or .sku == "MN-303")
items.sku NOT IN ('KB-101', 'MN-303')	any(.items[]; .sku == "KB-101" or .sku == "MN-303") | not
items.qty BETWEEN 2 AND 2	any(.items[]; .qty >= 2 and .qty <= 2)
items.qty >= 3	any(.items[]; .qty >= 3)
items.productId = '$PID'	any(.items[]; .productId == \$pid)
items.sku IS NULL	any(.items[]; .sku == null)
items.name LIKE '%USB%'	any(.items[]; .name | contains("USB"))
items.name LIKE 'USB-C _able%'	any(.items[]; .name | test("^USB-C .able"))
items.name LIKE 'Desk Mat XL'	any(.items[]; .name == "Desk Mat XL")
items.name LIKE 'Desk Mat'	false
items.name ILIKE '%usb%'	any(.items[]; .name | ascii_downcase | contains("usb"))
items.name NOT ILIKE '%usb%'	any(.items[]; .name | ascii_downcase | contains("usb")) | not
items.name ILIKE '%usb%' AND items.qty >= 2	any(.items[]; .name | ascii_downcase | contains("usb")) and any(.items[]; .qty >= 2)
EOF
}

@test "orders: AND, OR and NOT nest with their precedence; NOT admits missing fields" {
	load_all orders
	order_values
	run_cases orders <<EOF
status = 'shipped' OR status = 'delivered' AND totalCents > $MID	.status == "shipped" or (.status == "delivered" and .totalCents > \$mid)
(status = 'shipped' OR status = 'delivered') AND totalCents > $MID	(.status == "shipped" or .status == "delivered") and .totalCents > \$mid
NOT totalCents > $MID	((.totalCents | type) == "number" and .totalCents > \$mid) | not
NOT (NOT status = 'pending')	.status == "pending"
not (status = 'pending' or items.sku = 'CB-606') and totalCents >= $LOW	((.status == "pending" or any(.items[]; .sku == "CB-606")) | not) and (.totalCents | type) == "number" and .totalCents >= \$low
(status IN ('pending', 'processing') OR NOT (totalCents < $MID OR items.sku = 'CB-606')) AND NOT customerId = '$CUST'	((.status == "pending" or .status == "processing") or (((.totalCents | type) == "number" and .totalCents < \$mid) or any(.items[]; .sku == "CB-606") | not)) and .customerId != \$cust
status = 'pending' OR NOT (status = 'pending' OR status != 'pending')	.status == "pending" or .status == null
EOF
}

@test "orders: dates compare by instant, with or without a zone" {
	load_all orders
	order_values
	local day=${CUT%%T*} shifted
	# The same instant two hours east of UTC.
	shifted=$(/usr/bin/python3 -c 'import datetime, sys
d = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ")
d += datetime.timedelta(hours=2)
print(d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d+02:00" % (d.microsecond // 1000))' "$CUT")
	run_cases orders <<EOF
createdAt >= '$CUT'	.createdAt >= \$cut
createdAt < '$CUT'	.createdAt < \$cut
createdAt >= '$shifted'	.createdAt >= \$cut
createdAt BETWEEN '$EARLY' AND '$CUT'	.createdAt >= \$early and .createdAt <= \$cut
createdAt >= '$day'	.createdAt >= "${day}T00:00:00.000Z"
updatedAt >= '$CUT' AND createdAt < '$CUT'	.updatedAt >= \$cut and .createdAt < \$cut
EOF
}

@test "products and users: filters over their own fields" {
	load_all products
	JQ_ARGS=()
	run_cases products <<'EOF'
stock < 10	.stock < 10
category = 'accessories' AND priceCents BETWEEN 0 AND 1999	.category == "accessories" and .priceCents >= 0 and .priceCents <= 1999
name ILIKE '%usb%'	.name | ascii_downcase | contains("usb")
sku LIKE 'M_-%'	.sku | test("^M.-")
EOF
	load_all users
	run_cases users <<'EOF'
role = 'admin' OR email LIKE '%@example.com'	.role == "admin" or (.email | endswith("@example.com"))
role = 'customer' AND name >= 'D'	.role == "customer" and .name >= "D"
EOF
	oc_get /api/users "where=email LIKE '%@example.com'"
	assert_body '.data | all(has("passwordHash") | not)'
}

@test "a filter that is refused is 400 bad_filter with its position" {
	local long
	long="status = '$(printf 'a%.0s' $(seq 1 2040))'"
	while IFS=$'\t' read -r where pos msg; do
		oc_get /api/orders "where=$where"
		assert_error 400 bad_filter
		assert_body "(.error | keys) == [\"code\", \"message\", \"position\"]"
		assert_body ".error.position == $pos"
		assert_body ".error.message | startswith(\"$msg\")"
	done <<EOF
status = 'a' AND	16	expected a field, '(' or NOT, found end of filter
(status = 'a'	13	expected AND, OR or ')', found end of filter
status = 5	9	field 'status' takes a string
color = 'red'	0	unknown field 'color'
createdAt > 'yesterday'	12	field 'createdAt' takes an ISO-8601 date
email = 'a@b'	0	unknown field 'email'
$long	2048	filter longer than 2048 bytes
EOF
	oc_get /api/orders/count "where=status ="
	assert_error 400 bad_filter
	# A product filter naming an order's field, asked by nobody.
	API_TOKEN= oc_get /api/products "where=totalCents > 1"
	assert_error 400 bad_filter
	assert_body '.error.message | contains("totalCents")'
}

@test "sort: minus descends, id breaks ties, and bad sorts are 400" {
	load_all orders
	list_all /api/orders 7 'sort=-totalCents,createdAt'
	[ "$pages" -ge 3 ]
	want=$(jq -c 'sort_by([(if .totalCents == null then 1 else 0 end),
		-(.totalCents // 0), .createdAt, .id]) | map(.id)' <<<"$ALL")
	[ "$(jq -c 'map(.id)' <<<"$rows")" = "$want" ]
	# Missing values sort first going up; ties by id, going up too.
	list_all /api/orders 7 'sort=totalCents'
	want=$(jq -c 'sort_by([.totalCents, .id]) | map(.id)' <<<"$ALL")
	[ "$(jq -c 'map(.id)' <<<"$rows")" = "$want" ]
	list_all /api/orders 7 'sort=-status' "where=totalCents > 0"
	want=$(jq -c '[.[] | select(.totalCents > 0)] |
		sort_by([.status, .id]) | reverse | map(.id)' <<<"$ALL")
	[ "$(jq -c 'map(.id)' <<<"$rows")" = "$want" ]
	load_all products
	list_all /api/products 5 'sort=-priceCents'
	want=$(jq -c 'sort_by([.priceCents, .id]) | reverse | map(.id)' <<<"$ALL")
	[ "$(jq -c 'map(.id)' <<<"$rows")" = "$want" ]
	for s in bogus totalCents,totalCents id,status '' -items.sku \
	    a,b,c,d,e status,totalCents,createdAt,updatedAt,customerId; do
		oc_get /api/orders "sort=$s"
		assert_error 400 invalid_field
		assert_body '.error.field == "sort"'
	done
}

@test "paging in pages of 7 with writes in between: no row twice, none skipped" {
	local where="NOT status = 'cancelled'" sort='sort=-totalCents,createdAt'
	local before next= seen='[]' changed='[]' page cust pid oid i keys
	load_all orders
	before=$(jq -c '[.[] | select(.status != "cancelled") | .id]' <<<"$ALL")
	cust=$(customer_id 1)
	pid=$(product_id SP-505)
	set_stock "$pid" 1000
	for ((i = 0; i < 50; i++)); do
		oc_get /api/orders "where=$where" "$sort" limit=7 \
			${next:+"next=$next"}
		assert_status 200
		page=$(jq -c '.data' <<<"$body")
		seen=$(jq -c --argjson s "$seen" '$s + .' <<<"$page")
		next=$(jq -r '.next // empty' <<<"$body")
		[ -n "$next" ] || break
		# Writes between pages: new orders of any size, an order
		# already seen moved on, one not seen yet cancelled.
		api POST /api/orders "$(order_body "$cust" "$pid" $((i * 7 + 1)))"
		assert_status 201
		oid=$(jq -r '[.[] | select(.status == "pending")][0].id // empty' <<<"$page")
		if [ -n "$oid" ]; then
			api PUT "/api/orders/$oid/status" '{"status":"processing"}'
			assert_status 200
			changed=$(jq -c --arg o "$oid" '. + [$o]' <<<"$changed")
		fi
		oid=$(curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
			"$STACK_URL/api/orders?status=pending&limit=200" |
			jq -r --argjson s "$seen" '[.data[].id] - ($s | map(.id)) | .[0] // empty')
		if [ -n "$oid" ]; then
			api PUT "/api/orders/$oid/status" '{"status":"cancelled"}'
			assert_status 200
			changed=$(jq -c --arg o "$oid" '. + [$o]' <<<"$changed")
		fi
	done
	[ "$i" -ge 2 ]
	# No row twice.
	[ "$(jq '[.[].id] | length' <<<"$seen")" = "$(jq '[.[].id] | unique | length' <<<"$seen")" ]
	# None of the rows that did not change skipped.
	missing=$(jq -c --argjson s "$seen" --argjson c "$changed" \
		'. - $c - ($s | map(.id))' <<<"$before")
	[ "$missing" = '[]' ] || { echo "skipped: $missing" >&2; return 1; }
	# And the pages follow one another in the sort order.
	keys=$(jq -c 'map([(if .totalCents == null then 1 else 0 end),
		-(.totalCents // 0), .createdAt, .id])' <<<"$seen")
	[ "$(jq -c 'sort' <<<"$keys")" = "$keys" ]
}

@test "a cursor is refused with another where, sort or list" {
	oc_get /api/orders "where=totalCents > 0" 'sort=-totalCents' limit=3
	assert_status 200
	next=$(jq -r .next <<<"$body")
	[ "$next" != null ]
	oc_get /api/orders "where=totalCents > 0" 'sort=-totalCents' limit=3 "next=$next"
	assert_status 200
	assert_body '.data | length == 3'
	for other in "where=totalCents > 1 sort=-totalCents" \
	    "where=totalCents > 0 sort=totalCents" \
	    "where=totalCents > 0 sort=-totalCents status=pending"; do
		read -r w1 w2 w3 s extra <<<"$other"
		oc_get /api/orders "$w1 $w2 $w3" "$s" ${extra:+"$extra"} "next=$next"
		assert_error 400 invalid_field
		assert_body '.error.field == "next"'
	done
	oc_get /api/products "where=priceCents > 0" 'sort=-priceCents' "next=$next"
	assert_error 400 invalid_field
	for bad in abc '' 'AAAA' "${next}x" "$(printf 'A%.0s' $(seq 1 5000))"; do
		oc_get /api/orders "where=totalCents > 0" 'sort=-totalCents' "next=$bad"
		assert_error 400 invalid_field
	done
	# The old cursor of the newest-first order still pages.
	oc_get /api/orders limit=5
	last=$(jq -r '.data[-1].id' <<<"$body")
	[ "$(jq -r .next <<<"$body")" = "$last" ]
	oc_get /api/orders limit=5 "before=$last" "where=totalCents > 0"
	assert_status 200
	assert_body ".data | all(.id < \"$last\")"
	oc_get /api/orders "before=$last" 'sort=-totalCents'
	assert_error 400 invalid_field
}

@test "a customer's filter never shows another's orders" {
	local alice bruno token
	load_all orders
	alice=$(curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$STACK_URL/api/users?role=customer" |
		jq -r '.data[] | select(.email == "alice.martin@example.com") | .id')
	bruno=$(curl -s -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$STACK_URL/api/users?role=customer" |
		jq -r '.data[] | select(.email == "bruno.costa@example.com") | .id')
	token=$(stack_login alice.martin@example.com)
	mine=$(jq -c --arg a "$alice" '[.[] | select(.customerId == $a) | .id] | sort' <<<"$ALL")
	[ "$(jq length <<<"$mine")" -gt 0 ]
	for where in "customerId = '$bruno'" "customerId = '$bruno' OR totalCents > 0" \
	    "NOT customerId = '$alice'" "customerId IN ('$alice', '$bruno')" \
	    "customerId IS NULL OR customerId IS NOT NULL" "totalCents > 0 OR NOT totalCents > 0"; do
		API_TOKEN=$token list_all /api/orders 7 "where=$where"
		assert_body_rows="$(jq -c --arg a "$alice" 'all(.customerId == $a)' <<<"$rows")"
		[ "$assert_body_rows" = true ] || { echo "$where: $rows" >&2; return 1; }
		got=$(jq -c '[.[].id] | sort' <<<"$rows")
		[ "$got" = '[]' ] || [ "$(jq -c --argjson m "$mine" '. - $m' <<<"$got")" = '[]' ]
		API_TOKEN=$token oc_get /api/orders/count "where=$where"
		assert_status 200
		[ "$(jq .count <<<"$body")" = "$(jq length <<<"$got")" ]
	done
	API_TOKEN=$token list_all /api/orders 7 "where=totalCents > 0 OR NOT totalCents > 0"
	[ "$(jq -c '[.[].id] | sort' <<<"$rows")" = "$mine" ]
	API_TOKEN=$token oc_get /api/orders "where=customerId = '$bruno'" "customerId=$bruno"
	assert_status 200
	assert_body '.data == []'
	API_TOKEN=$token oc_get /api/users/count
	assert_status 403
}

@test "HEAD on a count; the counts' routes refuse other methods" {
	run curl -s -I -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$STACK_URL/api/orders/count"
	assert_line --regexp '^HTTP/1.1 200'
	api POST /api/orders/count
	assert_error 405 method_not_allowed
	[ "$(api_header Allow)" = "GET, HEAD" ]
}

# The ```sh blocks of docs/filters.md that call the REST lists, in order
# in one shell; a block with an "# expect:" line must end with it.
filter_docs_script() {
	awk '
	/^```sh$/ { inblock = 1; n++; code = ""; want = ""; next }
	inblock && /^```$/ {
		inblock = 0
		if (code ~ /api\/events/)
			next
		printf "{\n%s} >>\"$EX_OUT\" 2>\"$EX_STATUS\"\n", code
		if (want != "")
			printf "check_example %d %s\n", n, want
		next
	}
	inblock && /^# expect: / { want = $3; next }
	inblock { code = code $0 "\n" }
	' "$OC_SRCDIR/docs/filters.md"
}

@test "the curl examples of docs/filters.md answer as documented" {
	run_sh=$BATS_TEST_TMPDIR/run.sh
	cat >"$run_sh" <<SH
set -u
BASE=$STACK_URL
AUTH="Authorization: Bearer $OC_ADMIN_TOKEN"
EX_OUT=$BATS_TEST_TMPDIR/ex.out
EX_STATUS=$BATS_TEST_TMPDIR/ex.status
curl() { command curl -w '%{stderr}HTTP_STATUS=%{http_code}\n' "\$@"; }
check_example() {
	local got
	got=\$(sed -n 's/^HTTP_STATUS=//p' "\$EX_STATUS" | tail -1)
	if [ "\$got" != "\$2" ]; then
		echo "example \$1: expected \$2, got '\$got'" >&2
		cat "\$EX_STATUS" "\$EX_OUT" >&2
		exit 1
	fi
	echo "example \$1: \$got"
}
SH
	filter_docs_script >>"$run_sh"
	[ "$(grep -c '^check_example' "$run_sh")" -ge 8 ]
	run bash "$run_sh"
	echo "$output"
	assert_success
	# Every example answered JSON, the refused one its documented body.
	run jq -c . "$BATS_TEST_TMPDIR/ex.out"
	assert_success
	assert_line '{"error":{"code":"bad_filter","message":"expected a field, '"'"'('"'"' or NOT, found end of filter","position":22}}'
}
