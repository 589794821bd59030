#!/usr/bin/env bats
# Fidelity tests of the mongod stand-in (tests/mongod-standin), driven
# through libmongoc by tests/mongod-standin/standin-client.
#
# With ORDERCAST_MONGODB_URI set, the same tests run against that real
# replica set (in a database of their own, dropped at the end); only tests
# that restart the server or need --history skip there, and the failpoint
# tests when the server runs without enableTestCommands.

bats_load_library bats-support
bats_load_library bats-assert

setup_file() {
	local top
	top=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export OC_SRCDIR=${OC_SRCDIR:-$top}
	export OC_BUILDDIR=${OC_BUILDDIR:-$top}
	export CLIENT=$OC_BUILDDIR/tests/mongod-standin/standin-client
	export STANDIN=$OC_SRCDIR/tests/mongod-standin/mongod-standin
	export TDB=standin_test_$$_$RANDOM
	if [ ! -x "$CLIENT" ]; then
		echo "build $CLIENT first (make check builds it)" >&2
		return 1
	fi
	load "$OC_SRCDIR/tests/mongod-standin/standin-helpers.bash"
	if [ -n "${ORDERCAST_MONGODB_URI:-}" ]; then
		export URI=$ORDERCAST_MONGODB_URI
		export REAL_SERVER=1
	else
		export MAIN_DIR=$BATS_FILE_TMPDIR/main
		start_standin "$MAIN_DIR"
		URI=$(standin_uri "$MAIN_DIR")
		export URI
		export REAL_SERVER=
	fi
}

teardown_file() {
	load "$OC_SRCDIR/tests/mongod-standin/standin-helpers.bash"
	if [ -n "$REAL_SERVER" ]; then
		oc drop-database "$TDB" >/dev/null || true
	elif [ -n "${MAIN_DIR:-}" ]; then
		stop_standin "$MAIN_DIR"
	fi
}

setup() {
	load "$OC_SRCDIR/tests/mongod-standin/standin-helpers.bash"
	C=c$BATS_TEST_NUMBER
	T=$BATS_TEST_TMPDIR
}

# needs_private_standin WHY: skip against a real server, saying why.
needs_private_standin() {
	if [ -n "$REAL_SERVER" ]; then
		skip "$1: needs a private stand-in, not run against a real server"
	fi
}

# needs_failpoints: skip against a real server without enableTestCommands.
needs_failpoints() {
	run oc command admin '{"configureFailPoint": "failCommand", "mode": "off"}'
	if [ -n "$REAL_SERVER" ] && [ "$status" -ne 0 ]; then
		skip "server runs without enableTestCommands (no failpoints)"
	fi
	assert_success
}

# lose_next_reply CMD: the next CMD is applied but its reply comes only
# after 1500 ms, longer than the 1000 ms socketTimeoutMS of $SLOW_URI, so
# the client times out and retries.  (A real mongod blocks before running
# the command, the stand-in after; either way the first attempt and its
# retry race on one txnNumber and the write must happen once.)
lose_next_reply() {
	oc command admin "{\"configureFailPoint\": \"failCommand\",
		\"mode\": {\"times\": 1}, \"data\": {\"failCommands\": [\"$1\"],
		\"blockConnection\": true, \"blockTimeMS\": 1500}}" >/dev/null
	SLOW_URI="$URI&socketTimeoutMS=1000"
}

# failpoint_off: turn failCommand off again.
failpoint_off() {
	oc command admin '{"configureFailPoint": "failCommand", "mode": "off"}' \
		>/dev/null
}

# optime: the server's current operationTime, as extended JSON.
optime() {
	oc command admin '{"ping": 1}' | jq -c .operationTime
}

# field JSON-LINE JQ-PATH: print one field of a JSON document.
field() {
	echo "$1" | jq -c "$2" || {
		echo "not JSON: $1" >&2
		return 1
	}
}

# --- handshake -----------------------------------------------------------

@test "hello through a replica-set URI: primary of rs0" {
	run oc command admin '{"hello": 1}'
	assert_success
	assert_equal "$(field "$output" .setName)" '"rs0"'
	assert_equal "$(field "$output" .isWritablePrimary)" true
	assert_equal "$(field "$output" .secondary)" false
	assert_equal "$(field "$output" .logicalSessionTimeoutMinutes)" 30
	assert_equal "$(field "$output" '.maxWireVersion >= 13')" true
	assert_equal "$(field "$output" '.hosts | length')" 1
	assert_equal "$(field "$output" '.me == .hosts[0]')" true
	assert_equal "$(field "$output" '.operationTime | has("$timestamp")')" true
}

@test "legacy isMaster answers ismaster: true" {
	run oc command admin '{"isMaster": 1}'
	assert_success
	assert_equal "$(field "$output" .ismaster)" true
	assert_equal "$(field "$output" .setName)" '"rs0"'
}

@test "directConnection URI works too" {
	local host
	host=$(oc command admin '{"hello": 1}' | jq -r '.me')
	run "$CLIENT" "mongodb://$host/?directConnection=true" command admin \
		'{"ping": 1}'
	assert_success
	assert_equal "$(field "$output" .ok)" 1
}

@test "unix socket listener" {
	needs_private_standin "--unix"
	local sock=$T/s.sock
	"$STANDIN" --unix "$sock" --port-file "$T/port" --pidfile "$T/pid" \
		--log "$T/log" </dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$T/child"
	wait_for 30 standin_ready "$T"
	local enc=${sock//\//%2F}
	run "$CLIENT" "mongodb://$enc/?directConnection=true" insert d u \
		'{"_id": 1}'
	stop_standin "$T"
	assert_success
	assert_output '{ "insertedCount" : 1 }'
}

@test "unknown command is CommandNotFound, never a silent ok" {
	run oc command "$TDB" '{"frobnicate": 1}'
	assert_failure 1
	assert_equal "$(field "$output" .ok)" 0
	assert_equal "$(field "$output" .code)" 59
	assert_equal "$(field "$output" .codeName)" '"CommandNotFound"'
	assert_equal "$(field "$output" .errmsg)" \
		"\"no such command: 'frobnicate'\""
}

@test "ping and buildInfo" {
	run oc command admin '{"ping": 1}'
	assert_success
	run oc command admin '{"buildInfo": 1}'
	assert_success
	assert_equal "$(field "$output" '.versionArray | length')" 4
}

# --- CRUD ----------------------------------------------------------------

@test "insert and find with filter, sort, projection, skip, limit" {
	oc insert "$TDB" "$C" '{"_id": 1, "n": 5, "tag": "a"}' \
		'{"_id": 2, "n": 3, "tag": "b"}' '{"_id": 3, "n": 9, "tag": "a"}' \
		'{"_id": 4, "n": 1, "tag": "a"}' >/dev/null
	run oc find "$TDB" "$C" '{"tag": "a"}' \
		'{"sort": {"n": -1}, "projection": {"_id": 0, "n": 1}, "skip": 1, "limit": 2}'
	assert_success
	assert_output $'{ "n" : 5 }\n{ "n" : 1 }'
	run oc find "$TDB" "$C" '{"n": {"$gte": 3, "$lt": 9}}' '{"sort": {"_id": 1}}'
	assert_output $'{ "_id" : 1, "n" : 5, "tag" : "a" }\n{ "_id" : 2, "n" : 3, "tag" : "b" }'
}

@test "insert without _id gets an ObjectId; a duplicate _id is E11000" {
	run oc insert "$TDB" "$C" '{"x": 1}'
	assert_success
	run oc find "$TDB" "$C" '{}'
	assert_equal "$(field "$output" '._id | has("$oid")')" true
	oc insert "$TDB" "$C" '{"_id": "k"}' >/dev/null
	run oc insert "$TDB" "$C" '{"_id": "k"}'
	assert_failure 1
	assert_equal "$(field "$output" '.writeErrors[0].code')" 11000
	assert_output --partial "index: _id_ dup key: { _id: \\\"k\\\" }"
}

@test "find returns every document across getMore batches" {
	local docs=() i
	for i in $(seq 1 250); do
		docs+=("{\"_id\": $i}")
	done
	oc insert "$TDB" "$C" "${docs[@]}" >/dev/null
	run oc find "$TDB" "$C" '{}' '{"batchSize": 7, "sort": {"_id": 1}}'
	assert_success
	assert_equal "$(echo "$output" | wc -l)" 250
	assert_equal "$(echo "$output" | jq -s 'map(._id) == [range(1; 251)]')" true
}

@test "update: operators, upsert, multi, arrayFilters" {
	oc insert "$TDB" "$C" '{"_id": 1, "n": 1, "a": [1, 5, 9], "s": {"x": 1}}' \
		'{"_id": 2, "n": 2, "a": [2]}' >/dev/null
	run oc update-one "$TDB" "$C" '{"_id": 1}' \
		'{"$inc": {"n": 10}, "$set": {"s.y": 2}, "$push": {"a": 11}, "$unset": {"s.x": ""}}'
	assert_output '{ "modifiedCount" : 1, "matchedCount" : 1, "upsertedCount" : 0 }'
	run oc find "$TDB" "$C" '{"_id": 1}'
	assert_output '{ "_id" : 1, "n" : 11, "a" : [ 1, 5, 9, 11 ], "s" : { "y" : 2 } }'
	run oc update-one "$TDB" "$C" '{"_id": 1}' '{"$set": {"a.$[big]": 0}}' \
		'{"arrayFilters": [{"big": {"$gte": 9}}]}'
	assert_success
	run oc find "$TDB" "$C" '{"_id": 1}' '{"projection": {"a": 1}}'
	assert_output '{ "_id" : 1, "a" : [ 1, 5, 0, 0 ] }'
	run oc update-many "$TDB" "$C" '{}' '{"$set": {"m": true}}'
	assert_output '{ "modifiedCount" : 2, "matchedCount" : 2, "upsertedCount" : 0 }'
	run oc update-one "$TDB" "$C" '{"_id": 7, "k": "v"}' '{"$set": {"z": 1}}' \
		'{"upsert": true}'
	assert_equal "$(field "$output" .upsertedId)" 7
	run oc find "$TDB" "$C" '{"_id": 7}'
	assert_output '{ "_id" : 7, "k" : "v", "z" : 1 }'
	run oc update-one "$TDB" "$C" '{"_id": 2}' '{"$set": {"n": 2}}'
	assert_output '{ "modifiedCount" : 0, "matchedCount" : 1, "upsertedCount" : 0 }'
}

@test "update with a bad operator or a non-numeric \$inc fails as MongoDB does" {
	oc insert "$TDB" "$C" '{"_id": 1, "s": "text"}' >/dev/null
	run oc update-one "$TDB" "$C" '{"_id": 1}' '{"$inc": {"s": 1}}'
	assert_failure 1
	assert_equal "$(field "$output" '.writeErrors[0].code')" 14
	run oc command "$TDB" "{\"update\": \"$C\", \"updates\": [{\"q\": {}, \"u\": {\"\$frob\": {\"a\": 1}}}]}"
	assert_equal "$(field "$output" '.writeErrors[0].code')" 9
}

@test "replace-one keeps the _id" {
	oc insert "$TDB" "$C" '{"_id": 1, "a": 1, "b": 2}' >/dev/null
	run oc replace-one "$TDB" "$C" '{"_id": 1}' '{"c": 3}'
	assert_output '{ "modifiedCount" : 1, "matchedCount" : 1, "upsertedCount" : 0 }'
	run oc find "$TDB" "$C" '{}'
	assert_output '{ "_id" : 1, "c" : 3 }'
}

@test "delete-one and delete-many" {
	oc insert "$TDB" "$C" '{"_id": 1, "k": 1}' '{"_id": 2, "k": 1}' \
		'{"_id": 3, "k": 2}' '{"_id": 4, "k": 1}' >/dev/null
	run oc delete-one "$TDB" "$C" '{"k": 1}'
	assert_output '{ "deletedCount" : 1 }'
	run oc delete-many "$TDB" "$C" '{"k": 1}'
	assert_output '{ "deletedCount" : 2 }'
	run oc find "$TDB" "$C" '{}'
	assert_output '{ "_id" : 3, "k" : 2 }'
}

@test "findAndModify: new, sort, fields, upsert, remove" {
	oc insert "$TDB" "$C" '{"_id": 1, "q": 5}' '{"_id": 2, "q": 7}' >/dev/null
	run oc find-and-modify "$TDB" "$C" '{}' \
		'{"sort": {"q": -1}, "update": {"$inc": {"q": 1}}, "new": true, "fields": {"_id": 0}}'
	assert_success
	assert_equal "$(field "$output" .value)" '{"q":8}'
	assert_equal "$(field "$output" .lastErrorObject.updatedExisting)" true
	run oc find-and-modify "$TDB" "$C" '{"_id": 1}' '{"update": {"$set": {"q": 0}}}'
	assert_equal "$(field "$output" .value)" '{"_id":1,"q":5}'
	run oc find-and-modify "$TDB" "$C" '{"_id": 3}' \
		'{"update": {"$set": {"q": 1}}, "upsert": true, "new": true}'
	assert_equal "$(field "$output" .value)" '{"_id":3,"q":1}'
	assert_equal "$(field "$output" .lastErrorObject.upserted)" 3
	run oc find-and-modify "$TDB" "$C" '{"_id": 2}' '{"remove": true}'
	assert_equal "$(field "$output" .value)" '{"_id":2,"q":8}'
	run oc find-and-modify "$TDB" "$C" '{"_id": 99}' '{"remove": true}'
	assert_equal "$(field "$output" .value)" null
	run oc count "$TDB" "$C" '{}'
	assert_output '{ "count" : 2 }'
}

@test "aggregate: match, group, sort, project, unwind, count, addFields, facet" {
	oc insert "$TDB" "$C" '{"_id": 1, "s": "a", "v": 5, "t": ["x", "y"]}' \
		'{"_id": 2, "s": "b", "v": 3, "t": ["x"]}' \
		'{"_id": 3, "s": "a", "v": 4, "t": []}' >/dev/null
	run oc aggregate "$TDB" "$C" '[{"$match": {"v": {"$gte": 3}}},
		{"$group": {"_id": "$s", "total": {"$sum": "$v"}, "n": {"$sum": 1}}},
		{"$sort": {"total": -1}}]'
	assert_output $'{ "_id" : "a", "total" : 9, "n" : 2 }\n{ "_id" : "b", "total" : 3, "n" : 1 }'
	run oc aggregate "$TDB" "$C" '[{"$unwind": "$t"}, {"$project": {"_id": 0, "t": 1}},
		{"$sort": {"t": 1}}, {"$skip": 1}, {"$limit": 1}]'
	assert_output '{ "t" : "x" }'
	run oc aggregate "$TDB" "$C" '[{"$match": {"s": "a"}}, {"$count": "n"}]'
	assert_output '{ "n" : 2 }'
	run oc aggregate "$TDB" "$C" '[{"$match": {"_id": 2}},
		{"$addFields": {"w": {"$multiply": ["$v", 2]}}}, {"$project": {"w": 1}}]'
	assert_output '{ "_id" : 2, "w" : 6 }'
	run oc aggregate "$TDB" "$C" '[{"$facet": {"all": [{"$count": "n"}],
		"big": [{"$match": {"v": {"$gt": 4}}}, {"$project": {"_id": 1}}]}}]'
	assert_output '{ "all" : [ { "n" : 3 } ], "big" : [ { "_id" : 1 } ] }'
}

@test "aggregate returns every result across getMore batches" {
	local docs=() i
	for i in $(seq 1 230); do
		docs+=("{\"_id\": $i, \"g\": $((i % 3))}")
	done
	oc insert "$TDB" "$C" "${docs[@]}" >/dev/null
	run oc aggregate "$TDB" "$C" '[{"$sort": {"_id": -1}}]' '{"batchSize": 10}'
	assert_equal "$(echo "$output" | jq -s 'map(._id) == [range(230; 0; -1)]')" true
}

@test "count, estimated count, distinct" {
	oc insert "$TDB" "$C" '{"_id": 1, "c": "r", "t": [1, 2]}' \
		'{"_id": 2, "c": "g", "t": [2, 3]}' '{"_id": 3, "c": "r"}' >/dev/null
	run oc count "$TDB" "$C" '{"c": "r"}'
	assert_output '{ "count" : 2 }'
	run oc estimated-count "$TDB" "$C"
	assert_output '{ "count" : 3 }'
	run oc command "$TDB" "{\"distinct\": \"$C\", \"key\": \"t\"}"
	assert_equal "$(field "$output" '.values | sort')" '[1,2,3]'
	run oc command "$TDB" "{\"count\": \"$C\", \"query\": {\"t\": 2}}"
	assert_equal "$(field "$output" .n)" 2
}

@test "unique index is enforced on insert, update, upsert and findAndModify" {
	run oc create-index "$TDB" "$C" '{"sku": 1}' '{"unique": true}'
	assert_success
	oc insert "$TDB" "$C" '{"_id": 1, "sku": "X"}' '{"_id": 2, "sku": "Y"}' >/dev/null
	run oc insert "$TDB" "$C" '{"_id": 3, "sku": "X"}'
	assert_failure 1
	assert_equal "$(field "$output" '.writeErrors[0].code')" 11000
	assert_output --partial "E11000 duplicate key error collection: $TDB.$C index: sku_1 dup key: { sku: \\\"X\\\" }"
	run oc update-one "$TDB" "$C" '{"_id": 2}' '{"$set": {"sku": "X"}}'
	assert_failure 1
	assert_equal "$(field "$output" '.writeErrors[0].code')" 11000
	run oc update-one "$TDB" "$C" '{"_id": 9}' '{"$set": {"sku": "Y"}}' '{"upsert": true}'
	assert_failure 1
	assert_equal "$(field "$output" '.writeErrors[0].code')" 11000
	run oc find-and-modify "$TDB" "$C" '{"_id": 9}' \
		'{"update": {"$set": {"sku": "X"}}, "upsert": true}'
	assert_failure 1
	assert_equal "$(field "$output" .code)" 11000
	run oc find "$TDB" "$C" '{}' '{"sort": {"_id": 1}}'
	assert_output $'{ "_id" : 1, "sku" : "X" }\n{ "_id" : 2, "sku" : "Y" }'
}

@test "createIndexes over duplicates fails; listIndexes lists indexes" {
	oc insert "$TDB" "$C" '{"_id": 1, "e": "a"}' '{"_id": 2, "e": "a"}' >/dev/null
	run oc create-index "$TDB" "$C" '{"e": 1}' '{"unique": true}'
	assert_failure 1
	assert_equal "$(field "$output" .code)" 11000
	run oc create-index "$TDB" "$C" '{"e": 1, "f": -1}'
	assert_success
	run oc list-indexes "$TDB" "$C"
	assert_equal "$(echo "$output" | jq -sc 'map(.name)')" '["_id_","e_1_f_-1"]'
}

@test "create, listCollections, listDatabases, drop, dropDatabase" {
	local db=${TDB}_x
	run oc command "$db" "{\"create\": \"$C\"}"
	assert_success
	run oc command "$db" "{\"create\": \"$C\"}"
	assert_failure 1
	assert_equal "$(field "$output" .code)" 48
	run oc list-collections "$db"
	assert_equal "$(echo "$output" | jq -sc 'map(.name)')" "[\"$C\"]"
	run oc list-databases
	assert_equal "$(echo "$output" | jq -s "map(.name) | index(\"$db\") != null")" true
	run oc drop "$db" "$C"
	assert_output '{ "dropped" : true }'
	oc insert "$db" other '{"_id": 1}' >/dev/null
	run oc drop-database "$db"
	assert_success
	run oc list-databases
	assert_equal "$(echo "$output" | jq -s "map(.name) | index(\"$db\")")" null
}

@test "killCursors kills an open cursor" {
	local docs=() i id
	for i in $(seq 1 5); do
		docs+=("{\"_id\": $i}")
	done
	oc insert "$TDB" "$C" "${docs[@]}" >/dev/null
	run oc command "$TDB" "{\"find\": \"$C\", \"batchSize\": 2}"
	id=$(echo "$output" | grep -o '"id" : [0-9]*' | grep -o '[0-9]*$')
	assert [ -n "$id" ]
	refute [ "$id" = 0 ]
	run oc command "$TDB" "{\"killCursors\": \"$C\", \"cursors\": [{\"\$numberLong\": \"$id\"}]}"
	assert_success
	assert_output --partial "\"cursorsKilled\" : [ $id ]"
	run oc command "$TDB" "{\"getMore\": {\"\$numberLong\": \"$id\"}, \"collection\": \"$C\"}"
	assert_failure 1
	assert_equal "$(field "$output" .code)" 43
}

@test "20 concurrent conditional decrements of a stock of 10: exactly 10 win" {
	oc insert "$TDB" "$C" '{"_id": "p", "stock": 10}' >/dev/null
	run oc race "$TDB" "$C" 20 '{"_id": "p", "stock": {"$gte": 1}}' \
		'{"$inc": {"stock": -1}}'
	assert_success
	assert_output '{ "modified" : 10, "failed" : 0 }'
	run oc find "$TDB" "$C" '{}'
	assert_output '{ "_id" : "p", "stock" : 0 }'
}

# --- change streams ------------------------------------------------------

@test "change stream: insert, update, replace, delete, drop, invalidate" {
	oc insert "$TDB" "$C" '{"_id": 0}' >/dev/null
	start_watch "$T/ev" "$TDB" "$C" 6
	oc insert "$TDB" "$C" '{"_id": 1, "a": 1, "s": {"x": 1}}' >/dev/null
	oc update-one "$TDB" "$C" '{"_id": 1}' \
		'{"$set": {"b": 2}, "$unset": {"a": ""}}' >/dev/null
	oc replace-one "$TDB" "$C" '{"_id": 1}' '{"r": 1}' >/dev/null
	oc delete-one "$TDB" "$C" '{"_id": 1}' >/dev/null
	oc drop "$TDB" "$C" >/dev/null
	wait "$WATCH_PID"
	run jq -sc 'map(.operationType)' "$T/ev"
	assert_output '["insert","update","replace","delete","drop","invalidate"]'
	run jq -sc '.[0] | [.fullDocument, .documentKey, .ns]' "$T/ev"
	assert_output "[{\"_id\":1,\"a\":1,\"s\":{\"x\":1}},{\"_id\":1},{\"db\":\"$TDB\",\"coll\":\"$C\"}]"
	run jq -sc '.[1] | [.updateDescription, has("fullDocument")]' "$T/ev"
	assert_output '[{"updatedFields":{"b":2},"removedFields":["a"],"truncatedArrays":[]},false]'
	run jq -sc '.[2].fullDocument, .[3].documentKey, (.[3] | has("fullDocument"))' "$T/ev"
	assert_output $'{"_id":1,"r":1}\n{"_id":1}\nfalse'
	run jq -sc '.[4].ns, (.[5] | has("ns"))' "$T/ev"
	assert_output $"{\"db\":\"$TDB\",\"coll\":\"$C\"}"$'\nfalse'
	run jq -sc 'map(._id._data | type == "string") | all' "$T/ev"
	assert_output true
	# Strictly increasing; the invalidate shares the drop's clusterTime.
	run jq -sc '[.[].clusterTime."$timestamp" | [.t, .i]]
		| (.[:5] | . == sort and (unique | length) == 5) and .[4] == .[5]' "$T/ev"
	assert_output true
	run jq -sc 'map(.wallTime | has("$date")) | all' "$T/ev"
	assert_output true
}

@test "change stream: updateLookup gives the document at lookup time" {
	local start
	start=$(optime)
	oc insert "$TDB" "$C" '{"_id": 1, "n": 0}' '{"_id": 2, "n": 0}' >/dev/null
	oc update-one "$TDB" "$C" '{"_id": 1}' '{"$set": {"n": 1}}' >/dev/null
	oc update-one "$TDB" "$C" '{"_id": 1}' '{"$set": {"n": 2}}' >/dev/null
	oc update-one "$TDB" "$C" '{"_id": 2}' '{"$set": {"n": 5}}' >/dev/null
	oc delete-one "$TDB" "$C" '{"_id": 2}' >/dev/null
	run oc watch "$TDB" "$C" 6 '[]' \
		"{\"fullDocument\": \"updateLookup\", \"startAtOperationTime\": $start}"
	assert_success
	run jq -sc 'map(.fullDocument)' <<<"$output"
	# The lookup happens when the event is read: doc 2 is gone by then.
	assert_output '[{"_id":1,"n":0},{"_id":2,"n":0},{"_id":1,"n":2},{"_id":1,"n":2},null,null]'
}

@test "change stream: \$match and \$project stages apply to events" {
	start_watch "$T/ev" "$TDB" "$C" 2 \
		'[{"$match": {"operationType": "insert", "fullDocument.k": "yes"}},
		  {"$project": {"operationType": 1, "fullDocument.n": 1}}]'
	oc insert "$TDB" "$C" '{"_id": 1, "k": "no", "n": 1}' >/dev/null
	oc insert "$TDB" "$C" '{"_id": 2, "k": "yes", "n": 2}' >/dev/null
	oc update-one "$TDB" "$C" '{"_id": 2}' '{"$set": {"k": "yes!"}}' >/dev/null
	oc insert "$TDB" "$C" '{"_id": 3, "k": "yes", "n": 3}' >/dev/null
	wait "$WATCH_PID"
	run jq -sc 'map(del(._id))' "$T/ev"
	assert_output '[{"operationType":"insert","fullDocument":{"n":2}},{"operationType":"insert","fullDocument":{"n":3}}]'
}

@test "database change stream: all collections, one global order" {
	start_watch "$T/ev" "$TDB" - 40
	local i p1 p2
	for i in $(seq 1 10); do
		oc insert "$TDB" "${C}a" "{\"_id\": $i}" >/dev/null &
		p1=$!
		oc insert "$TDB" "${C}b" "{\"_id\": $i}" >/dev/null &
		p2=$!
		wait "$p1" "$p2"
		oc update-one "$TDB" "${C}a" "{\"_id\": $i}" '{"$set": {"u": 1}}' >/dev/null &
		p1=$!
		oc delete-one "$TDB" "${C}b" "{\"_id\": $i}" >/dev/null &
		p2=$!
		wait "$p1" "$p2"
	done
	wait "$WATCH_PID"
	run jq -sc '[.[].ns.coll] | unique' "$T/ev"
	assert_output "[\"${C}a\",\"${C}b\"]"
	run jq -sc '[.[].clusterTime."$timestamp" | [.t, .i]] | . == (. | sort) and (. | unique | length) == 40' "$T/ev"
	assert_output true
	# Per document, events come in the order they were made.
	run jq -sc "[.[] | select(.ns.coll == \"${C}a\") | [.documentKey._id, .operationType]]
		| group_by(.[0]) | map(map(.[1])) | unique" "$T/ev"
	assert_output '[["insert","update"]]'
	run jq -sc "[.[] | select(.ns.coll == \"${C}b\") | [.documentKey._id, .operationType]]
		| group_by(.[0]) | map(map(.[1])) | unique" "$T/ev"
	assert_output '[["insert","delete"]]'
}

@test "database change stream: dropDatabase gives drops, dropDatabase, invalidate" {
	local db=${TDB}_dd
	oc insert "$db" one '{"_id": 1}' >/dev/null
	oc insert "$db" two '{"_id": 1}' >/dev/null
	start_watch "$T/ev" "$db" - 4
	oc drop-database "$db" >/dev/null
	wait "$WATCH_PID"
	run jq -sc 'map(.operationType)' "$T/ev"
	assert_output '["drop","drop","dropDatabase","invalidate"]'
	run jq -sc '[.[0].ns.coll, .[1].ns.coll] | sort' "$T/ev"
	assert_output '["one","two"]'
	run jq -sc '.[2].ns' "$T/ev"
	assert_output "{\"db\":\"$db\"}"
}

@test "postBatchResumeToken on first and empty batches; resuming from it skips nothing" {
	run oc command "$TDB" "{\"aggregate\": \"$C\", \"pipeline\": [{\"\$changeStream\": {}}], \"cursor\": {}}"
	assert_success
	assert_equal "$(field "$output" '.cursor.postBatchResumeToken | has("_data")')" true
	assert_equal "$(field "$output" '.cursor.firstBatch')" '[]'
	local id
	id=$(echo "$output" | grep -o '"id" : [0-9]*' | grep -o '[0-9]*$')
	run oc command "$TDB" "{\"getMore\": {\"\$numberLong\": \"$id\"}, \"collection\": \"$C\", \"maxTimeMS\": 10}"
	assert_success
	assert_equal "$(field "$output" '.cursor.nextBatch')" '[]'
	assert_equal "$(field "$output" '.cursor.postBatchResumeToken | has("_data")')" true
	# An empty stream saves the post-batch token; events after it resume.
	oc insert "$TDB" "$C" '{"_id": 0}' >/dev/null
	run oc watch --token "$T/tok" --nexts 1 "$TDB" "$C" 1 '[]' '{"maxAwaitTimeMS": 50}'
	assert_failure 3
	oc insert "$TDB" "$C" '{"_id": 1}' '{"_id": 2}' >/dev/null
	run oc watch "$TDB" "$C" 2 '[]' "{\"resumeAfter\": $(cat "$T/tok")}"
	assert_success
	assert_equal "$(echo "$output" | jq -sc 'map(.documentKey._id)')" '[1,2]'
}

@test "resumeAfter a stored token after reconnecting: nothing lost, nothing repeated" {
	start_watch "$T/ev" --token "$T/tok" "$TDB" "$C" 3
	local i
	for i in 1 2 3 4 5 6; do
		oc insert "$TDB" "$C" "{\"_id\": $i}" >/dev/null
	done
	wait "$WATCH_PID"
	assert_equal "$(jq -sc 'map(.documentKey._id)' "$T/ev")" '[1,2,3]'
	oc insert "$TDB" "$C" '{"_id": 7}' >/dev/null
	run oc watch "$TDB" "$C" 4 '[]' "{\"resumeAfter\": $(cat "$T/tok")}"
	assert_success
	assert_equal "$(echo "$output" | jq -sc 'map(.documentKey._id)')" '[4,5,6,7]'
}

@test "startAtOperationTime starts at that event" {
	local start
	start=$(optime)
	oc insert "$TDB" "$C" '{"_id": 1}' '{"_id": 2}' '{"_id": 3}' >/dev/null
	run oc watch "$TDB" "$C" 3 '[]' "{\"startAtOperationTime\": $start}"
	assert_success
	local second
	second=$(echo "$output" | jq -sc '.[1].clusterTime')
	run oc watch "$TDB" "$C" 2 '[]' "{\"startAtOperationTime\": $second}"
	assert_success
	assert_equal "$(echo "$output" | jq -sc 'map(.documentKey._id)')" '[2,3]'
}

@test "invalidate: startAfter continues, resumeAfter is InvalidResumeToken" {
	oc insert "$TDB" "$C" '{"_id": 1}' >/dev/null
	start_watch "$T/ev" --token "$T/tok" "$TDB" "$C" 2
	oc drop "$TDB" "$C" >/dev/null
	wait "$WATCH_PID"
	assert_equal "$(jq -sc 'map(.operationType)' "$T/ev")" '["drop","invalidate"]'
	local inv
	inv=$(jq -sc '.[1]._id' "$T/ev")
	oc insert "$TDB" "$C" '{"_id": 2}' >/dev/null
	run oc watch "$TDB" "$C" 1 '[]' "{\"startAfter\": $inv}"
	assert_success
	assert_equal "$(field "$output" .documentKey)" '{"_id":2}'
	run oc watch "$TDB" "$C" 1 '[]' "{\"resumeAfter\": $inv}"
	assert_failure 1
	assert_equal "$(field "$output" .code)" 260
}

@test "getMore returns as soon as an event arrives (maxAwaitTimeMS 20000)" {
	# One next() only: it is a single awaiting getMore.  Seeing the event
	# means the getMore was woken by the write, not by its time limit.
	start_watch "$T/ev" --nexts 1 "$TDB" "$C" 1 '[]' '{"maxAwaitTimeMS": 20000}'
	oc insert "$TDB" "$C" '{"_id": "wake"}' >/dev/null
	local rc=0
	wait "$WATCH_PID" || rc=$?
	assert_equal "$rc" 0
	assert_equal "$(jq -c .documentKey "$T/ev")" '{"_id":"wake"}'
}

@test "libmongoc resumes by itself after a resumable error and a dropped connection" {
	run oc command admin '{"configureFailPoint": "failCommand", "mode": "off"}'
	if [ -n "$REAL_SERVER" ] && [ "$status" -ne 0 ]; then
		skip "server runs without enableTestCommands (no failpoints)"
	fi
	assert_success
	start_watch "$T/ev" "$TDB" "$C" 4
	oc insert "$TDB" "$C" '{"_id": 1}' >/dev/null
	oc command admin '{"configureFailPoint": "failCommand", "mode": {"times": 1},
		"data": {"failCommands": ["getMore"], "errorCode": 6,
		"errorLabels": ["ResumableChangeStreamError"]}}' >/dev/null
	oc insert "$TDB" "$C" '{"_id": 2}' >/dev/null
	oc command admin '{"configureFailPoint": "failCommand", "mode": {"times": 1},
		"data": {"failCommands": ["getMore"], "closeConnection": true}}' >/dev/null
	oc insert "$TDB" "$C" '{"_id": 3}' '{"_id": 4}' >/dev/null
	wait "$WATCH_PID"
	oc command admin '{"configureFailPoint": "failCommand", "mode": "off"}' >/dev/null
	assert_equal "$(jq -sc 'map(.documentKey._id)' "$T/ev")" '[1,2,3,4]'
}

@test "a non-resumable error ends the stream with that error" {
	run oc command admin '{"configureFailPoint": "failCommand", "mode": "off"}'
	if [ -n "$REAL_SERVER" ] && [ "$status" -ne 0 ]; then
		skip "server runs without enableTestCommands (no failpoints)"
	fi
	start_watch "$T/ev" "$TDB" "$C" 2
	oc command admin '{"configureFailPoint": "failCommand", "mode": {"times": 1},
		"data": {"failCommands": ["getMore"], "errorCode": 2}}' >/dev/null
	oc insert "$TDB" "$C" '{"_id": 1}' >/dev/null
	local rc=0
	wait "$WATCH_PID" || rc=$?
	assert_equal "$rc" 1
	# The getMore already waiting may still deliver the event first.
	assert_equal "$(tail -n 1 "$T/ev" | jq -c .code)" 2
}

@test "resuming from before the kept history is ChangeStreamHistoryLost (286)" {
	needs_private_standin "--history"
	start_standin "$T/h" --history 5
	local URI
	URI=$(standin_uri "$T/h")
	local start
	start=$(optime)
	oc insert "$TDB" "$C" '{"_id": 0}' >/dev/null
	run oc watch --token "$T/tok" "$TDB" "$C" 1 '[]' \
		"{\"startAtOperationTime\": $start}"
	assert_success
	local i
	for i in 1 2 3 4; do
		oc insert "$TDB" "$C" "{\"_id\": $i}" >/dev/null
	done
	# Five events kept: resuming after the first still works.
	run oc watch "$TDB" "$C" 4 '[]' "{\"resumeAfter\": $(cat "$T/tok")}"
	assert_success
	oc insert "$TDB" "$C" '{"_id": 5}' '{"_id": 6}' >/dev/null
	run oc watch "$TDB" "$C" 1 '[]' "{\"resumeAfter\": $(cat "$T/tok")}"
	stop_standin "$T/h"
	assert_failure 1
	assert_equal "$(field "$output" .code)" 286
	assert_equal "$(field "$output" .codeName)" '"ChangeStreamHistoryLost"'
	assert_output --partial 'Resume of change stream was not possible, as the resume point may no longer be in the oplog.'
}

@test "restart with --dbpath keeps data, indexes and resume tokens" {
	needs_private_standin "restarts the server"
	start_standin "$T/r" --dbpath "$T/r/data"
	local URI
	URI=$(standin_uri "$T/r")
	oc create-index "$TDB" "$C" '{"sku": 1}' '{"unique": true}' >/dev/null
	local start
	start=$(optime)
	oc insert "$TDB" "$C" '{"_id": 1, "sku": "a"}' >/dev/null
	run oc watch --token "$T/tok" "$TDB" "$C" 1 '[]' \
		"{\"startAtOperationTime\": $start}"
	assert_success
	oc insert "$TDB" "$C" '{"_id": 2, "sku": "b"}' >/dev/null
	stop_standin "$T/r"
	run cat "$T/r/log"
	assert_output --partial "saved snapshot"
	start_standin "$T/r" --dbpath "$T/r/data"
	URI=$(standin_uri "$T/r")
	run oc find "$TDB" "$C" '{}' '{"sort": {"_id": 1}}'
	assert_output $'{ "_id" : 1, "sku" : "a" }\n{ "_id" : 2, "sku" : "b" }'
	run oc insert "$TDB" "$C" '{"_id": 3, "sku": "a"}'
	assert_failure 1
	oc insert "$TDB" "$C" '{"_id": 4, "sku": "d"}' >/dev/null
	run oc watch "$TDB" "$C" 2 '[]' "{\"resumeAfter\": $(cat "$T/tok")}"
	stop_standin "$T/r"
	assert_success
	assert_equal "$(echo "$output" | jq -sc 'map(.documentKey._id)')" '[2,4]'
	run jq -sc '[.[].clusterTime."$timestamp" | [.t, .i]] | .[0] < .[1]' <<<"$output"
	assert_output true
}

@test "a change stream open across a restart resumes by itself" {
	needs_private_standin "restarts the server"
	start_standin "$T/r" --dbpath "$T/r/data"
	local URI port
	URI=$(standin_uri "$T/r")
	port=$(cat "$T/r/port")
	# A single-threaded client tries server selection only once unless
	# told otherwise; with a real server that is the same.
	URI="$URI&serverSelectionTryOnce=false" start_watch "$T/ev" "$TDB" "$C" 3
	oc insert "$TDB" "$C" '{"_id": 1}' >/dev/null
	wait_for 30 grep -q '"_id" : 1' "$T/ev"
	stop_standin "$T/r"
	start_standin "$T/r" --dbpath "$T/r/data" --port "$port"
	oc insert "$TDB" "$C" '{"_id": 2}' '{"_id": 3}' >/dev/null
	local rc=0
	wait "$WATCH_PID" || rc=$?
	stop_standin "$T/r"
	assert_equal "$rc" 0
	assert_equal "$(jq -sc 'map(.documentKey._id)' "$T/ev")" '[1,2,3]'
}

# --- retryable writes ------------------------------------------------------

@test "retryable write: an update whose reply was lost is applied once" {
	needs_failpoints
	oc insert "$TDB" "$C" '{"_id": "p", "stock": 10}' >/dev/null
	lose_next_reply update
	run "$CLIENT" "$SLOW_URI" update-one "$TDB" "$C" '{"_id": "p"}' \
		'{"$inc": {"stock": -1}}'
	failpoint_off
	assert_success
	assert_output '{ "modifiedCount" : 1, "matchedCount" : 1, "upsertedCount" : 0 }'
	run oc find "$TDB" "$C" '{}'
	assert_output '{ "_id" : "p", "stock" : 9 }'
}

@test "retryable write: an insert whose reply was lost is not E11000 against itself" {
	needs_failpoints
	lose_next_reply insert
	run "$CLIENT" "$SLOW_URI" insert "$TDB" "$C" '{"_id": "o1", "n": 1}'
	failpoint_off
	assert_success
	assert_output '{ "insertedCount" : 1 }'
	run oc find "$TDB" "$C" '{}'
	assert_output '{ "_id" : "o1", "n" : 1 }'
}

@test "retryable write: findAndModify and delete whose replies were lost apply once" {
	needs_failpoints
	oc insert "$TDB" "$C" '{"_id": 1, "q": 5}' '{"_id": 2}' '{"_id": 3}' >/dev/null
	lose_next_reply findAndModify
	run "$CLIENT" "$SLOW_URI" find-and-modify "$TDB" "$C" '{"_id": 1}' \
		'{"update": {"$inc": {"q": -2}}, "new": true}'
	failpoint_off
	assert_success
	assert_equal "$(field "$output" .value)" '{"_id":1,"q":3}'
	lose_next_reply delete
	run "$CLIENT" "$SLOW_URI" delete-one "$TDB" "$C" '{"_id": {"$gte": 2}}'
	failpoint_off
	assert_success
	assert_output '{ "deletedCount" : 1 }'
	run oc count "$TDB" "$C" '{}'
	assert_output '{ "count" : 2 }'
}

@test "retryable write: a retryable error carries RetryableWriteError; one retry" {
	needs_failpoints
	oc command admin '{"configureFailPoint": "failCommand", "mode": {"times": 1},
		"data": {"failCommands": ["insert"], "errorCode": 91}}' >/dev/null
	run oc insert "$TDB" "$C" '{"_id": 1}'
	assert_success
	oc command admin '{"configureFailPoint": "failCommand", "mode": {"times": 2},
		"data": {"failCommands": ["insert"], "errorCode": 91}}' >/dev/null
	run oc insert "$TDB" "$C" '{"_id": 2}'
	failpoint_off
	assert_failure 1
	assert_equal "$(field "$output" '.errorLabels | index("RetryableWriteError") != null')" true
	run oc find "$TDB" "$C" '{}'
	assert_output '{ "_id" : 1 }'
}

# --- transactions ----------------------------------------------------------

@test "transaction: two collections commit together, unseen until commit" {
	oc insert "$TDB" "${C}s" '{"_id": "p", "stock": 5}' >/dev/null
	"$CLIENT" "$URI" txn --mode commit --pause "$T/go" "$TDB" "[
		{\"op\": \"update\", \"coll\": \"${C}s\", \"filter\": {\"_id\": \"p\"},
		 \"update\": {\"\$inc\": {\"stock\": -2}}},
		{\"op\": \"insert\", \"coll\": \"${C}o\", \"doc\": {\"_id\": 1, \"q\": 2}},
		{\"op\": \"find\", \"coll\": \"${C}s\", \"filter\": {}},
		{\"op\": \"pause\"}]" >"$T/out" 2>"$T/err" 3>&- &
	local pid=$!
	wait_for 30 test -e "$T/go.ready"
	# The transaction reads its own write; nobody else sees it yet.
	assert_equal "$(cat "$T/out")" '{ "_id" : "p", "stock" : 3 }'
	run oc find "$TDB" "${C}s" '{}'
	assert_output '{ "_id" : "p", "stock" : 5 }'
	run oc find "$TDB" "${C}o" '{}'
	assert_output ''
	touch "$T/go"
	local rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	run tail -n 1 "$T/out"
	assert_output '{ "committed" : true, "attempts" : 1 }'
	run oc find "$TDB" "${C}s" '{}'
	assert_output '{ "_id" : "p", "stock" : 3 }'
	run oc find "$TDB" "${C}o" '{}'
	assert_output '{ "_id" : 1, "q" : 2 }'
}

@test "transaction: reads a snapshot taken at its first operation" {
	oc insert "$TDB" "$C" '{"_id": 1, "v": "old"}' '{"_id": 2, "v": "old"}' >/dev/null
	"$CLIENT" "$URI" txn --mode commit --pause "$T/go" "$TDB" "[
		{\"op\": \"find\", \"coll\": \"$C\", \"filter\": {\"_id\": 1}},
		{\"op\": \"pause\"},
		{\"op\": \"find\", \"coll\": \"$C\", \"filter\": {\"_id\": 2}}]" \
		>"$T/out" 2>"$T/err" 3>&- &
	local pid=$!
	wait_for 30 test -e "$T/go.ready"
	oc update-one "$TDB" "$C" '{"_id": 2}' '{"$set": {"v": "new"}}' >/dev/null
	touch "$T/go"
	wait "$pid"
	run cat "$T/out"
	assert_output $'{ "_id" : 1, "v" : "old" }\n{ "_id" : 2, "v" : "old" }\n{ "committed" : true, "attempts" : 1 }'
}

@test "transaction: abort leaves nothing behind" {
	oc insert "$TDB" "$C" '{"_id": "p", "stock": 5}' >/dev/null
	run oc txn --mode abort "$TDB" "[
		{\"op\": \"update\", \"coll\": \"$C\", \"filter\": {\"_id\": \"p\"},
		 \"update\": {\"\$inc\": {\"stock\": -1}}},
		{\"op\": \"insert\", \"coll\": \"$C\", \"doc\": {\"_id\": \"o\"}},
		{\"op\": \"delete\", \"coll\": \"$C\", \"filter\": {\"_id\": \"p\"}}]"
	assert_success
	assert_output '{ "aborted" : true, "attempts" : 1 }'
	run oc find "$TDB" "$C" '{}'
	assert_output '{ "_id" : "p", "stock" : 5 }'
}

@test "transaction: a write conflict is 112 with TransientTransactionError" {
	oc insert "$TDB" "$C" '{"_id": "p", "stock": 5}' >/dev/null
	local dec="{\"op\": \"update\", \"coll\": \"$C\", \"filter\": {\"_id\": \"p\"},
		\"update\": {\"\$inc\": {\"stock\": -1}}}"
	"$CLIENT" "$URI" txn --mode commit --pause "$T/go" "$TDB" \
		"[$dec, {\"op\": \"pause\"}]" >"$T/a" 2>"$T/a.err" 3>&- &
	local a=$!
	wait_for 30 test -e "$T/go.ready"
	run oc txn --mode commit "$TDB" "[$dec]"
	assert_failure 1
	assert_equal "$(field "$output" .code)" 112
	assert_equal "$(field "$output" '.errorLabels | index("TransientTransactionError") != null')" true
	# with_transaction retries on that label until the other one ends.
	"$CLIENT" "$URI" txn --mode with --mark "$T/b" "$TDB" "[$dec]" \
		>"$T/b.out" 2>"$T/b.err" 3>&- &
	local b=$!
	wait_for 60 test -e "$T/b.2"
	touch "$T/go"
	local rc=0
	wait "$a" || rc=$?
	assert_equal "$rc" 0
	wait "$b" || rc=$?
	assert_equal "$rc" 0
	run tail -n 1 "$T/b.out"
	assert_output --partial '"committed" : true'
	run oc find "$TDB" "$C" '{}'
	assert_output '{ "_id" : "p", "stock" : 3 }'
}

@test "transaction: a plain write to a document it holds waits for the commit" {
	oc insert "$TDB" "$C" '{"_id": "p", "stock": 5}' >/dev/null
	"$CLIENT" "$URI" txn --mode commit --pause "$T/go" "$TDB" "[
		{\"op\": \"update\", \"coll\": \"$C\", \"filter\": {\"_id\": \"p\"},
		 \"update\": {\"\$inc\": {\"stock\": -1}}}, {\"op\": \"pause\"}]" \
		>"$T/a" 2>"$T/a.err" 3>&- &
	local a=$!
	wait_for 30 test -e "$T/go.ready"
	oc update-one "$TDB" "$C" '{"_id": "p"}' '{"$inc": {"stock": -1}}' \
		>"$T/plain" 2>"$T/plain.err" 3>&- &
	local plain=$!
	touch "$T/go"
	wait "$a"
	wait "$plain"
	run oc find "$TDB" "$C" '{}'
	assert_output '{ "_id" : "p", "stock" : 3 }'
}

@test "transaction: a unique-index violation aborts it" {
	oc create-index "$TDB" "$C" '{"sku": 1}' '{"unique": true}' >/dev/null
	oc insert "$TDB" "$C" '{"_id": 1, "sku": "X"}' >/dev/null
	run oc txn --mode commit "$TDB" "[
		{\"op\": \"insert\", \"coll\": \"$C\", \"doc\": {\"_id\": 2, \"sku\": \"Y\"}},
		{\"op\": \"insert\", \"coll\": \"$C\", \"doc\": {\"_id\": 3, \"sku\": \"X\"}}]"
	assert_failure 1
	assert_equal "$(field "$output" '.writeErrors[0].code')" 11000
	run oc find "$TDB" "$C" '{}'
	assert_output '{ "_id" : 1, "sku" : "X" }'
}

@test "transaction: a commit whose connection dropped is retried and applied once" {
	needs_failpoints
	oc insert "$TDB" "$C" '{"_id": "p", "stock": 5}' >/dev/null
	oc command admin '{"configureFailPoint": "failCommand", "mode": {"times": 1},
		"data": {"failCommands": ["commitTransaction"], "closeConnection": true}}' >/dev/null
	run oc txn --mode with "$TDB" "[
		{\"op\": \"update\", \"coll\": \"$C\", \"filter\": {\"_id\": \"p\"},
		 \"update\": {\"\$inc\": {\"stock\": -1}}}]"
	failpoint_off
	assert_success
	assert_output '{ "committed" : true, "attempts" : 1 }'
	run oc find "$TDB" "$C" '{}'
	assert_output '{ "_id" : "p", "stock" : 4 }'
}

@test "transaction: majority write concern and snapshot/majority read concern" {
	oc insert "$TDB" "$C" '{"_id": 1}' >/dev/null
	run oc command "$TDB" "{\"insert\": \"$C\", \"documents\": [{\"_id\": 2}],
		\"writeConcern\": {\"w\": \"majority\", \"wtimeout\": 5000}}"
	assert_success
	run oc command "$TDB" "{\"find\": \"$C\", \"filter\": {\"_id\": 2},
		\"readConcern\": {\"level\": \"majority\"}}"
	assert_success
	assert_equal "$(field "$output" '.cursor.firstBatch[0]._id')" 2
	run oc command "$TDB" "{\"find\": \"$C\", \"filter\": {\"_id\": 1},
		\"readConcern\": {\"level\": \"snapshot\"}}"
	assert_success
	assert_equal "$(field "$output" '.cursor.firstBatch[0]._id')" 1
}

@test "change stream: a committed transaction's events come together; none of an aborted one" {
	start_watch "$T/ev" "$TDB" - 4
	run oc txn --mode abort "$TDB" \
		"[{\"op\": \"insert\", \"coll\": \"${C}a\", \"doc\": {\"_id\": \"gone\"}}]"
	assert_success
	run oc txn --mode with "$TDB" "[
		{\"op\": \"insert\", \"coll\": \"${C}a\", \"doc\": {\"_id\": 1}},
		{\"op\": \"insert\", \"coll\": \"${C}b\", \"doc\": {\"_id\": 1}},
		{\"op\": \"update\", \"coll\": \"${C}a\", \"filter\": {\"_id\": 1},
		 \"update\": {\"\$set\": {\"x\": 1}}}]"
	assert_success
	oc insert "$TDB" "${C}a" '{"_id": "after"}' >/dev/null
	wait "$WATCH_PID"
	run jq -sc 'map([.operationType, .ns.coll, .documentKey._id])' "$T/ev"
	assert_output "[[\"insert\",\"${C}a\",1],[\"insert\",\"${C}b\",1],[\"update\",\"${C}a\",1],[\"insert\",\"${C}a\",\"after\"]]"
	run jq -sc '[.[:3][] | .clusterTime] | unique | length' "$T/ev"
	assert_output 1
	run jq -sc '(.[:3] | map(has("lsid") and has("txnNumber")) | all),
		(.[:3] | map(.txnNumber) | unique | length),
		(.[3] | has("lsid"))' "$T/ev"
	assert_output $'true\n1\nfalse'
	run jq -sc '[.[2], .[3]] | map(.clusterTime."$timestamp" | [.t, .i])
		| .[0] < .[1]' "$T/ev"
	assert_output true
	run jq -sc 'map(._id._data) | unique | length' "$T/ev"
	assert_output 4
}

@test "change stream: resuming inside a transaction's events skips none" {
	start_watch "$T/ev" --token "$T/tok" "$TDB" "$C" 1
	run oc txn --mode with "$TDB" "[
		{\"op\": \"insert\", \"coll\": \"$C\", \"doc\": {\"_id\": 1}},
		{\"op\": \"insert\", \"coll\": \"$C\", \"doc\": {\"_id\": 2}},
		{\"op\": \"insert\", \"coll\": \"$C\", \"doc\": {\"_id\": 3}}]"
	assert_success
	wait "$WATCH_PID"
	run oc watch "$TDB" "$C" 2 '[]' "{\"resumeAfter\": $(cat "$T/tok")}"
	assert_success
	assert_equal "$(echo "$output" | jq -sc 'map(.documentKey._id)')" '[2,3]'
}

# --- differences fixed ------------------------------------------------------

@test "createIndexes: an existing name with other options or key is 85/86" {
	oc create-index "$TDB" "$C" '{"e": 1}' >/dev/null
	run oc create-index "$TDB" "$C" '{"e": 1}'
	assert_success
	run oc create-index "$TDB" "$C" '{"e": 1}' '{"unique": true}'
	assert_failure 1
	assert_equal "$(field "$output" '.code == 85 or .code == 86')" true
	run oc command "$TDB" "{\"createIndexes\": \"$C\",
		\"indexes\": [{\"key\": {\"f\": 1}, \"name\": \"e_1\"}]}"
	assert_failure 1
	assert_equal "$(field "$output" '.code == 85 or .code == 86')" true
	run oc command "$TDB" "{\"createIndexes\": \"$C\",
		\"indexes\": [{\"key\": {\"e\": 1}, \"name\": \"other\"}]}"
	assert_failure 1
	assert_equal "$(field "$output" .code)" 85
	run oc list-indexes "$TDB" "$C"
	assert_equal "$(echo "$output" | jq -sc 'map([.name, .unique])')" '[["_id_",null],["e_1",null]]'
}

@test "find: {_id: {\$in: [x, x]}} returns the document once" {
	oc insert "$TDB" "$C" '{"_id": 1}' '{"_id": 2}' >/dev/null
	run oc find "$TDB" "$C" '{"_id": {"$in": [1, 1, 2, 1]}}' '{"sort": {"_id": 1}}'
	assert_output $'{ "_id" : 1 }\n{ "_id" : 2 }'
	run oc count "$TDB" "$C" '{"_id": {"$in": [2, 2]}}'
	assert_output '{ "count" : 1 }'
}

@test "aggregate: \$sum keeps Int64; int32 sums stay int32" {
	oc insert "$TDB" "$C" '{"_id": 1, "g": "l", "v": {"$numberLong": "5"}}' \
		'{"_id": 2, "g": "l", "v": 1}' '{"_id": 3, "g": "i", "v": 2}' \
		'{"_id": 4, "g": "i", "v": 3}' >/dev/null
	run "$CLIENT" --canonical "$URI" aggregate "$TDB" "$C" \
		'[{"$group": {"_id": "$g", "t": {"$sum": "$v"}}}, {"$sort": {"_id": 1}}]'
	assert_success
	assert_output $'{ "_id" : "i", "t" : { "$numberInt" : "5" } }\n{ "_id" : "l", "t" : { "$numberLong" : "6" } }'
}

@test "aggregate: \$sortByCount, \$unset and \$replaceWith" {
	oc insert "$TDB" "$C" '{"_id": 1, "c": "r", "n": {"v": 1}}' \
		'{"_id": 2, "c": "g", "n": {"v": 2}}' '{"_id": 3, "c": "r", "n": {"v": 3}}' >/dev/null
	run oc aggregate "$TDB" "$C" '[{"$sortByCount": "$c"}]'
	assert_output $'{ "_id" : "r", "count" : 2 }\n{ "_id" : "g", "count" : 1 }'
	run oc aggregate "$TDB" "$C" '[{"$match": {"_id": 1}}, {"$unset": ["n", "c"]}]'
	assert_output '{ "_id" : 1 }'
	run oc aggregate "$TDB" "$C" '[{"$match": {"_id": 2}}, {"$replaceWith": "$n"}]'
	assert_output '{ "v" : 2 }'
}

@test "change stream: updateDescription names a whole set field; \$pop/\$pull the whole array" {
	oc insert "$TDB" "$C" '{"_id": 1, "s": {"x": 1}, "a": [1, 2, 3]}' >/dev/null
	start_watch "$T/ev" "$TDB" "$C" 4
	oc update-one "$TDB" "$C" '{"_id": 1}' '{"$set": {"s": {"x": 1, "y": 2}}}' >/dev/null
	oc update-one "$TDB" "$C" '{"_id": 1}' '{"$pop": {"a": 1}}' >/dev/null
	oc update-one "$TDB" "$C" '{"_id": 1}' '{"$pull": {"a": 1}}' >/dev/null
	oc update-one "$TDB" "$C" '{"_id": 1}' '{"$push": {"a": 9}}' >/dev/null
	wait "$WATCH_PID"
	run jq -c '.updateDescription | [.updatedFields, .removedFields]' "$T/ev"
	assert_output $'[{"s":{"x":1,"y":2}},[]]\n[{"a":[1,2]},[]]\n[{"a":[2]},[]]\n[{"a.1":9},[]]'
}

@test "change stream: fullDocument whenAvailable and required follow post-images" {
	local start
	start=$(optime)
	oc insert "$TDB" "$C" '{"_id": 1, "n": 0}' >/dev/null
	oc update-one "$TDB" "$C" '{"_id": 1}' '{"$set": {"n": 1}}' >/dev/null
	run oc watch "$TDB" "$C" 2 '[]' \
		"{\"fullDocument\": \"whenAvailable\", \"startAtOperationTime\": $start}"
	assert_success
	assert_equal "$(echo "$output" | jq -sc '.[1] | [.operationType, .fullDocument]')" '["update",null]'
	run oc watch --timeout-s 10 "$TDB" "$C" 2 '[]' \
		"{\"fullDocument\": \"required\", \"startAtOperationTime\": $start}"
	assert_failure 1
	assert_equal "$(field "$output" '.code > 0')" true
	# With post-images stored, both give the document right after the update.
	local p=${C}p
	oc command "$TDB" "{\"create\": \"$p\", \"changeStreamPreAndPostImages\": {\"enabled\": true}}" >/dev/null
	start=$(optime)
	oc insert "$TDB" "$p" '{"_id": 1, "n": 0}' >/dev/null
	oc update-one "$TDB" "$p" '{"_id": 1}' '{"$set": {"n": 1}}' >/dev/null
	oc update-one "$TDB" "$p" '{"_id": 1}' '{"$set": {"n": 2}}' >/dev/null
	run oc watch "$TDB" "$p" 3 '[]' \
		"{\"fullDocument\": \"whenAvailable\", \"startAtOperationTime\": $start}"
	assert_success
	assert_equal "$(echo "$output" | jq -sc 'map(.fullDocument.n)')" '[0,1,2]'
	run oc watch "$TDB" "$p" 3 '[]' \
		"{\"fullDocument\": \"required\", \"startAtOperationTime\": $start}"
	assert_success
	assert_equal "$(echo "$output" | jq -sc 'map(.fullDocument.n)')" '[0,1,2]'
}

@test "change stream: an unknown stage is 40324; a changed _id is 280, non-resumable" {
	run oc watch "$TDB" "$C" 1 '[{"$unsupported": "foo"}]'
	assert_failure 1
	assert_equal "$(field "$output" .code)" 40324
	start_watch "$T/ev" "$TDB" "$C" 1 '[{"$project": {"_id": 0}}]'
	oc insert "$TDB" "$C" '{"_id": 1}' >/dev/null
	local rc=0
	wait "$WATCH_PID" || rc=$?
	assert_equal "$rc" 1
	run tail -n 1 "$T/ev"
	assert_equal "$(field "$output" .code)" 280
	assert_equal "$(field "$output" '.errorLabels | index("NonResumableChangeStreamError") != null')" true
}
