# shellcheck shell=bash
#
# Private ordercast stack for a bats file: call stack_start in setup_file
# and stack_stop in teardown_file. Everything runs on loopback with free
# ports in the file's temporary folder, so suites can run beside a
# running deploy/up. Exports STACK_URL, STACK_DIR and ORDERCAST_*.
#
#   stack_redis ARGS...        redis-cli against the private Redis
#   stack_mongo 'PYTHON'       run pymongo code with `db` bound
#   stack_stop_prog NAME       stop one program (redis, mongod-standin,
#   stack_start_prog NAME      ordercast-watch|api|sse, lighttpd); start it
#   stack_restart_redis        stop and start Redis (data kept)
#   stack_restart_mongo        stop and start MongoDB (data kept)

: "${OC_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${OC_BUILDDIR:=$OC_SRCDIR/_build/check}"
export OC_SRCDIR OC_BUILDDIR

# shellcheck source=stack.sh
. "$OC_SRCDIR/tests/lib/stack.sh"

# Sanitizer reports go to each program's log; stack_stop looks for them.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# A real replica set to test against, when the user names one. bats
# loads this file again for every test, after stack_start has exported the
# stand-in's URI: read the user's choice only the first time.
if [ -z "${OC_STACK_LOADED:-}" ]; then
	OC_REAL_MONGODB_URI=${ORDERCAST_MONGODB_URI:-}
	export OC_REAL_MONGODB_URI OC_STACK_LOADED=1
fi

stack_start() {
	STACK_DIR=$BATS_FILE_TMPDIR/stack
	OC_STATE=$STACK_DIR
	OC_PORT=0
	if [ -n "$OC_REAL_MONGODB_URI" ]; then
		# A database of its own per suite on a real server.
		export ORDERCAST_DB="octest_$$_$RANDOM"
	fi
	export STACK_DIR OC_STATE
	export ORDERCAST_DEMO_PASSWORD=${ORDERCAST_DEMO_PASSWORD:-ordercast-demo}
	stack_up || { stack_down; return 1; }
	STACK_URL=$OC_URL
	OC_ADMIN_TOKEN=$(stack_login admin@ordercast.example) ||
		{ stack_down; stack_die "cannot sign in as the sample admin"; }
	export STACK_URL OC_ADMIN_TOKEN
}

# Sign in as a sample account (the demo password) and print the token.
# Usage: stack_login EMAIL [PASSWORD]
stack_login() {
	local pw=${2:-$ORDERCAST_DEMO_PASSWORD} out
	out=$(jq -cn --arg e "$1" --arg p "$pw" '{email: $e, password: $p}' |
		curl -s --max-time 30 -X POST -H 'Content-Type: application/json' \
			--data-binary @- "$STACK_URL/api/session") || return 1
	echo "$out" | jq -er .token
}

# The id of the user with this email (asked as the admin).
stack_user_id() {
	curl -s --max-time 30 -H "Authorization: Bearer $OC_ADMIN_TOKEN" \
		"$STACK_URL/api/users" |
		jq -r --arg e "$1" '.data[] | select(.email == $e) | .id'
}

# Run ordercast-api once as plain CGI (a second API process beside the
# stack's), with standard input as the body and extra VAR=value pairs.
# Usage: stack_cgi METHOD URI [VAR=value...]
stack_cgi() {
	local method=$1 uri=$2 body
	shift 2
	body=$(cat)
	printf '%s' "$body" | env REQUEST_METHOD="$method" REQUEST_URI="$uri" \
		CONTENT_TYPE=application/json CONTENT_LENGTH=${#body} "$@" \
		"$OC_BUILDDIR/ordercast-api"
}

# Stop all, then fail if a sanitizer reported anything in a log.
stack_stop() {
	[ -n "${OC_STATE:-}" ] || return 0
	stack_down
	if [ -n "$OC_REAL_MONGODB_URI" ] && [ -n "${ORDERCAST_DB:-}" ]; then
		stack_mongo 'db.client.drop_database(db.name)' || true
	fi
	stack_check_logs
}

# Sanitizer findings in any program's log fail the suite.
stack_check_logs() {
	local hits
	hits=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
		"$OC_STATE"/log/*.log 2>/dev/null)
	[ -z "$hits" ] && return 0
	echo "sanitizer reports in: $hits" >&2
	grep -hE -A30 'ERROR: (Address|Leak)Sanitizer|runtime error:' $hits >&2
	return 1
}

stack_redis() {
	stack_redis_cli "$@"
}

# Run Python with pymongo; `db` is the stack's database, `client` its client.
stack_mongo() {
	/usr/bin/python3 - "$ORDERCAST_MONGODB_URI" "$ORDERCAST_DB" <<PY
import sys, json, datetime
from bson import ObjectId
from pymongo import MongoClient
client = MongoClient(sys.argv[1], serverSelectionTimeoutMS=10000)
db = client[sys.argv[2]]
$1
PY
}

stack_start_prog() {
	case $1 in
	redis) stack_start_redis ;;
	mongod-standin) stack_start_mongo ;;
	ordercast-watch) stack_start_watch ;;
	ordercast-api) stack_start_api ;;
	ordercast-sse) stack_start_sse ;;
	lighttpd) stack_start_lighttpd ;;
	*) stack_die "no program $1" ;;
	esac
}

stack_restart_redis() {
	stack_stop_prog redis && stack_start_redis
}

stack_restart_mongo() {
	stack_stop_prog mongod-standin && stack_start_mongo
}
