# shellcheck shell=bash
#
# Functions that start and stop a complete ordercast stack on loopback:
# a private Redis on a unix socket (unless OC_REAL_REDIS or
# OC_REAL_REDIS_SENTINELS name an external one), MongoDB (the test
# stand-in unless ORDERCAST_MONGODB_URI names a real replica set),
# ordercast-watch, ordercast-api and ordercast-sse as FastCGI daemons on
# unix sockets, and lighttpd in front. Sourced by deploy/up and by the test helper.
#
# Inputs (set before calling stack_up):
#   OC_SRCDIR    source tree (www/, deploy/, tests/mongod-standin/)
#   OC_BUILDDIR  build tree with the programs
#   OC_STATE     state folder: data, logs, sockets, PID files, configs
#   OC_PORT      HTTP port of lighttpd (0: pick a free one)
# Outputs: OC_URL, OC_PORT, ORDERCAST_* exported for the programs.

OC_PROGRAMS="redis mongod-standin ordercast-watch ordercast-api ordercast-sse lighttpd"

# libmongoc keeps a shared-memory counter file per process, left behind
# in /dev/shm when a test kills the process; a later process given the
# same pid warns on stderr. The programs of a test stack need none.
export MONGOC_DISABLE_SHM=1

# Debian packages: what the local stack runs on (deploy/up), and what the
# tests and benchmarks need besides. The one list of both.
OC_PACKAGES_STACK=(
	build-essential autoconf automake libtool pkg-config
	libmongoc-dev libbson-dev libhiredis-dev libjson-c-dev libfcgi-dev
	libsodium-dev redis-server redis-tools lighttpd lighttpd-mod-deflate jq curl
	python3 python3-pymongo python3-mongomock
)
OC_PACKAGES_TEST=(
	"${OC_PACKAGES_STACK[@]}"
	apache2 libapache2-mod-fcgid bats bats-assert bats-support bats-file
	chromium wrk iproute2 faketime
)

# Configure (once) and build the tree in DIR from OC_SRCDIR; further
# arguments go to configure the first time (--enable-sanitizers, ...).
# Usage: stack_build DIR [CONFIGURE-ARG...]
stack_build() {
	local dir=$1
	shift
	if [ ! -x "$OC_SRCDIR/configure" ] ||
	    [ "$OC_SRCDIR/configure.ac" -nt "$OC_SRCDIR/configure" ]; then
		(cd "$OC_SRCDIR" && ./autogen.sh >/dev/null 2>&1)
	fi
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ]; then
		(cd "$dir" && "$OC_SRCDIR/configure" -q "$@")
	fi
	make -C "$dir" -s -j"$(nproc)" >/dev/null
}

# Install the Debian packages of the list that are missing (sudo when not
# root), and Debian's Node.js when there is no npm at all.
# Usage: stack_install_packages WHO PACKAGE...
stack_install_packages() {
	local who=$1 missing=() p sudo=
	shift
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	command -v npm >/dev/null || missing+=(nodejs npm)
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "$who: installing ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
}

# The npm packages of package-lock.json, when node_modules is older.
stack_npm_ci() {
	if [ ! -f "$OC_SRCDIR/node_modules/.package-lock.json" ] ||
	    [ "$OC_SRCDIR/package-lock.json" -nt \
	    "$OC_SRCDIR/node_modules/.package-lock.json" ]; then
		(cd "$OC_SRCDIR" && npm ci --no-audit --no-fund >/dev/null)
	fi
}

# Print a message and fail the caller.
stack_die() {
	echo "ordercast: $*" >&2
	return 1
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
stack_free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# PID recorded for a program, if that process is alive.
stack_pid() {
	local f="$OC_STATE/run/$1.pid" pid
	[ -s "$f" ] || return 1
	pid=$(cat "$f")
	kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

# The one poller of the tests and the local stack. Run COMMAND every
# 50 ms until it succeeds, for at most SECONDS, then fail saying what it
# waited for. COMMAND may exit with OC_WAIT_NEVER to say it never will
# (the program it waits on died), which stops at once; with OC_WAIT_PROG
# set, the death of that program of the stack stops it too.
# Usage: wait_for SECONDS COMMAND...
OC_WAIT_NEVER=125
wait_for() {
	local secs=$1 rc
	shift
	local deadline=$((SECONDS + secs))
	while :; do
		rc=0
		"$@" >/dev/null || rc=$?
		[ "$rc" -eq 0 ] && return 0
		if [ "$rc" -eq "$OC_WAIT_NEVER" ]; then
			echo "gave up waiting for: $*" >&2
			return 1
		fi
		if [ -n "${OC_WAIT_PROG:-}" ] && ! stack_pid "$OC_WAIT_PROG" >/dev/null; then
			echo "$OC_WAIT_PROG died while waiting for: $*" >&2
			return 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "timed out after ${secs}s waiting for: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# Poll a check until it passes, failing early if the program died.
# Usage: stack_wait NAME SECONDS COMMAND...
stack_wait() {
	local name=$1 secs=$2
	shift 2
	local deadline=$((SECONDS + secs))
	while ! "$@" >/dev/null 2>&1; do
		if [ -n "${OC_WAIT_PID:-}" ] && ! kill -0 "$OC_WAIT_PID" 2>/dev/null; then
			tail -n 20 "$OC_STATE/log/$name.log" >&2 2>/dev/null
			stack_die "$name exited during start; see $OC_STATE/log/$name.log"
			return 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			tail -n 20 "$OC_STATE/log/$name.log" >&2 2>/dev/null
			stack_die "$name not ready after ${secs}s; see $OC_STATE/log/$name.log"
			return 1
		fi
		sleep 0.05
	done
}

# Start a program in the background with its log and PID file.
# Usage: stack_spawn NAME COMMAND...
stack_spawn() {
	local name=$1
	shift
	"$@" >>"$OC_STATE/log/$name.log" 2>&1 </dev/null 3>&- &
	OC_WAIT_PID=$!
	echo "$OC_WAIT_PID" >"$OC_STATE/run/$name.pid"
}

# An external Redis instead of our own: OC_REAL_REDIS (ORDERCAST_REDIS as
# the user gave it) or OC_REAL_REDIS_SENTINELS, set by deploy/up.
stack_external_redis() {
	[ -n "${OC_REAL_REDIS:-}${OC_REAL_REDIS_SENTINELS:-}" ]
}

# redis-cli options for the external Redis: the primary the first
# answering sentinel names, or ORDERCAST_REDIS (host:port or a socket).
stack_redis_where() {
	local s addr
	if [ -n "${OC_REAL_REDIS_SENTINELS:-}" ]; then
		for s in ${OC_REAL_REDIS_SENTINELS//,/ }; do
			addr=$(redis-cli -h "${s%:*}" -p "${s##*:}" sentinel \
				get-master-addr-by-name "$ORDERCAST_REDIS_MASTER" \
				2>/dev/null | paste -sd' ') || continue
			[ -n "$addr" ] || continue
			echo "-h ${addr% *} -p ${addr#* }"
			return 0
		done
		return 1
	fi
	case $OC_REAL_REDIS in
	/* | .*) echo "-s $OC_REAL_REDIS" ;;
	*) echo "-h ${OC_REAL_REDIS%:*} -p ${OC_REAL_REDIS##*:}" ;;
	esac
}

stack_redis_cli() {
	local where
	if ! stack_external_redis; then
		redis-cli -s "$OC_STATE/run/redis.sock" "$@"
		return
	fi
	where=$(stack_redis_where) || return 1
	# shellcheck disable=SC2086
	REDISCLI_AUTH=${ORDERCAST_REDIS_PASSWORD:-} redis-cli $where \
		${ORDERCAST_REDIS_USER:+--user "$ORDERCAST_REDIS_USER"} "$@"
}

stack_redis_ready() {
	[ "$(stack_redis_cli ping 2>/dev/null)" = PONG ]
}

stack_start_redis() {
	if stack_external_redis; then
		OC_WAIT_PID=
		stack_wait redis 20 stack_redis_ready ||
			stack_die "the external Redis does not answer"
		return
	fi
	mkdir -p "$OC_STATE/redis"
	stack_spawn redis redis-server --port 0 \
		--unixsocket "$OC_STATE/run/redis.sock" --unixsocketperm 700 \
		--dir "$OC_STATE/redis" --appendonly yes --appendfsync everysec \
		--save "" --daemonize no --loglevel warning
	stack_wait redis 20 stack_redis_ready
}

stack_start_mongo() {
	if [ -n "${OC_REAL_MONGODB_URI:-}" ]; then
		ORDERCAST_MONGODB_URI=$OC_REAL_MONGODB_URI
		export ORDERCAST_MONGODB_URI
		return 0
	fi
	local portfile="$OC_STATE/run/mongod-standin.port" port
	mkdir -p "$OC_STATE/mongo"
	rm -f "$portfile"
	# Reuse the port of a previous run so stored URIs stay valid.
	port=${OC_MONGO_PORT:-0}
	stack_spawn mongod-standin "$OC_SRCDIR/tests/mongod-standin/mongod-standin" \
		--port "$port" --port-file "$portfile" \
		--dbpath "$OC_STATE/mongo" ${OC_MONGO_ARGS:-}
	stack_wait mongod-standin 30 test -s "$portfile"
	OC_MONGO_PORT=$(cat "$portfile")
	ORDERCAST_MONGODB_URI="mongodb://127.0.0.1:$OC_MONGO_PORT/?replicaSet=rs0"
	export OC_MONGO_PORT ORDERCAST_MONGODB_URI
}

stack_init_db() {
	"$OC_BUILDDIR/ordercast-api" --init --sample-data >>"$OC_STATE/log/init.log" 2>&1 ||
		{ tail -n 20 "$OC_STATE/log/init.log" >&2
		  stack_die "ordercast-api --init failed; see $OC_STATE/log/init.log"; }
}

stack_start_watch() {
	stack_spawn ordercast-watch "$OC_BUILDDIR/ordercast-watch"
	stack_wait ordercast-watch 30 stack_watch_alive
}

stack_watch_alive() {
	[ "$(stack_redis_cli exists "$ORDERCAST_PREFIX:watch:alive")" = 1 ]
}

stack_start_api() {
	rm -f "$OC_STATE/run/api.sock"
	stack_spawn ordercast-api "$OC_BUILDDIR/ordercast-api" \
		--listen "unix:$OC_STATE/run/api.sock" --threads "${OC_API_THREADS:-8}"
	stack_wait ordercast-api 20 test -S "$OC_STATE/run/api.sock"
}

stack_start_sse() {
	rm -f "$OC_STATE/run/sse.sock"
	stack_spawn ordercast-sse "$OC_BUILDDIR/ordercast-sse" \
		--listen "unix:$OC_STATE/run/sse.sock"
	stack_wait ordercast-sse 20 test -S "$OC_STATE/run/sse.sock"
}

# lighttpd's configuration for this stack: a standalone header and the
# site file operators install (deploy/lighttpd/ordercast.conf.in), which
# serves only the dashboard's files and sends the headers against
# cross-site use.
stack_write_lighttpd_conf() {
	cat >"$OC_STATE/lighttpd.conf" <<CONF
# Generated by ordercast's tests/lib/stack.sh for a local stack.
server.modules = ("mod_access", "mod_alias")
server.bind = "127.0.0.1"
server.port = $OC_PORT
server.errorlog = "$OC_STATE/log/lighttpd.log"
mimetype.assign = (
	".html" => "text/html; charset=utf-8",
	".js" => "text/javascript; charset=utf-8",
	".mjs" => "text/javascript; charset=utf-8",
	".css" => "text/css; charset=utf-8",
	".json" => "application/json; charset=utf-8",
	".svg" => "image/svg+xml",
	".png" => "image/png",
	".ico" => "image/x-icon"
)
# The browser libraries from the build tree, and nothing else of it.
\$HTTP["url"] =~ "^/vendor/([A-Za-z0-9_.-]+/)?[A-Za-z0-9_.-]+\\.(js|css)\$" {
	alias.url = ("/vendor/" => "$OC_BUILDDIR/www/vendor/")
}
CONF
	sed -e "s|@wwwdir@|$OC_SRCDIR/www|g" \
	    -e "s|@api_socket@|$OC_STATE/run/api.sock|g" \
	    -e "s|@sse_socket@|$OC_STATE/run/sse.sock|g" \
	    "$OC_SRCDIR/deploy/lighttpd/ordercast.conf.in" >>"$OC_STATE/lighttpd.conf"
	# The local demo also serves its list of sample accounts, which
	# `make install` never installs.
	cat >>"$OC_STATE/lighttpd.conf" <<CONF
\$HTTP["url"] == "/demo-accounts.json" {
	server.document-root = "$OC_SRCDIR/www"
}
CONF
}

stack_http_ready() {
	curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$OC_PORT/"
}

stack_start_lighttpd() {
	stack_write_lighttpd_conf
	lighttpd -tt -f "$OC_STATE/lighttpd.conf" >/dev/null ||
		stack_die "lighttpd rejects $OC_STATE/lighttpd.conf" || return 1
	stack_spawn lighttpd lighttpd -D -f "$OC_STATE/lighttpd.conf"
	stack_wait lighttpd 20 stack_http_ready
}

# The environment every ordercast program of this stack reads.
stack_export_env() {
	if [ -n "${OC_REAL_REDIS_SENTINELS:-}" ]; then
		export ORDERCAST_REDIS_SENTINELS=$OC_REAL_REDIS_SENTINELS
		[ -n "${OC_REAL_REDIS:-}" ] && export ORDERCAST_REDIS=$OC_REAL_REDIS
	elif [ -n "${OC_REAL_REDIS:-}" ]; then
		export ORDERCAST_REDIS=$OC_REAL_REDIS
	else
		export ORDERCAST_REDIS="$OC_STATE/run/redis.sock"
	fi
	export ORDERCAST_PREFIX="${ORDERCAST_PREFIX:-ordercast}"
	export ORDERCAST_DB="${ORDERCAST_DB:-ordercast}"
}

# Bring the whole stack up. Programs not built yet are left out.
stack_up() {
	mkdir -p "$OC_STATE/run" "$OC_STATE/log"
	[ "${OC_PORT:-0}" = 0 ] && OC_PORT=$(stack_free_port)
	OC_URL="http://127.0.0.1:$OC_PORT"
	export OC_PORT OC_URL
	stack_export_env
	stack_start_redis || return 1
	stack_start_mongo || return 1
	if [ -x "$OC_BUILDDIR/ordercast-api" ]; then
		stack_init_db || return 1
	fi
	if [ -x "$OC_BUILDDIR/ordercast-watch" ]; then
		stack_start_watch || return 1
	fi
	if [ -x "$OC_BUILDDIR/ordercast-api" ]; then
		stack_start_api || return 1
	fi
	if [ -x "$OC_BUILDDIR/ordercast-sse" ]; then
		stack_start_sse || return 1
	fi
	stack_start_lighttpd
}

# Stop one program by its PID file: TERM, then KILL after a grace period.
stack_stop_prog() {
	local name=$1 pid i
	pid=$(stack_pid "$name") || { rm -f "$OC_STATE/run/$name.pid"; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "ordercast: $name (pid $pid) ignored SIGTERM; killing it" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null || true
	rm -f "$OC_STATE/run/$name.pid"
}

# Stop everything, front to back.
stack_down() {
	local name
	for name in lighttpd ordercast-sse ordercast-api ordercast-watch \
	    mongod-standin redis; do
		stack_stop_prog "$name"
	done
}

# True when any program of this stack is running.
stack_running() {
	local name
	for name in $OC_PROGRAMS; do
		stack_pid "$name" >/dev/null && return 0
	done
	return 1
}
