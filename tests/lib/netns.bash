# shellcheck shell=bash
#
# Two test hosts in network namespaces of their own, joined by a veth
# pair, for suites that run servers on several hosts. Needs root (ip
# netns). The addresses, of the private test range 10.213.0.0/24, exist
# only inside the namespaces made here, and netns_teardown removes them.
#
#   netns_usable              true when namespaces can be made here
#   netns_setup               make hosts a and b: NETNS_A, NETNS_B,
#                             NETNS_IP_A (10.213.0.1), NETNS_IP_B (.2)
#   netns_exec HOST CMD...    run CMD on host a or b
#   netns_cut / netns_heal    take the link between them down / up
#   netns_teardown            remove both namespaces (and the link)
#
# Unix sockets are files, not network: a server on either host may also
# listen on one in the test's folder, which the test itself uses.

NETNS_IP_A=10.213.0.1
NETNS_IP_B=10.213.0.2

# True when this process may make network namespaces.
netns_usable() {
	local probe="oc-probe-$$"
	[ "$(id -u)" -eq 0 ] || return 1
	command -v ip >/dev/null || return 1
	ip netns add "$probe" 2>/dev/null || return 1
	ip netns del "$probe"
}

# Make the two hosts. Names carry the pid, so runs side by side differ.
netns_setup() {
	NETNS_A="oc-$$-a"
	NETNS_B="oc-$$-b"
	NETNS_LINK_A="oc$$a"
	NETNS_LINK_B="oc$$b"
	export NETNS_A NETNS_B NETNS_IP_A NETNS_IP_B NETNS_LINK_A NETNS_LINK_B
	ip netns add "$NETNS_A" || return 1
	ip netns add "$NETNS_B" || { netns_teardown; return 1; }
	ip link add "$NETNS_LINK_A" netns "$NETNS_A" type veth \
		peer name "$NETNS_LINK_B" netns "$NETNS_B" ||
		{ netns_teardown; return 1; }
	ip -n "$NETNS_A" addr add "$NETNS_IP_A/24" dev "$NETNS_LINK_A" &&
	ip -n "$NETNS_B" addr add "$NETNS_IP_B/24" dev "$NETNS_LINK_B" &&
	ip -n "$NETNS_A" link set lo up &&
	ip -n "$NETNS_B" link set lo up &&
	ip -n "$NETNS_A" link set "$NETNS_LINK_A" up &&
	ip -n "$NETNS_B" link set "$NETNS_LINK_B" up ||
		{ netns_teardown; return 1; }
}

# The namespace of host a or b.
netns_name() {
	case $1 in
	a) echo "$NETNS_A" ;;
	b) echo "$NETNS_B" ;;
	*) echo "netns: no host $1" >&2; return 1 ;;
	esac
}

# Run a command on host a or b.
# Usage: netns_exec a|b COMMAND...
netns_exec() {
	local ns
	ns=$(netns_name "$1") || return 1
	shift
	ip netns exec "$ns" "$@"
}

# The link between the hosts goes down: each still reaches itself.
netns_cut() {
	ip -n "$NETNS_A" link set "$NETNS_LINK_A" down
}

netns_heal() {
	ip -n "$NETNS_A" link set "$NETNS_LINK_A" up
}

# Remove what netns_setup made; deleting a namespace deletes its veth end
# and with it the pair. Safe to call twice.
netns_teardown() {
	[ -n "${NETNS_A:-}" ] && ip netns del "$NETNS_A" 2>/dev/null
	[ -n "${NETNS_B:-}" ] && ip netns del "$NETNS_B" 2>/dev/null
	return 0
}

# -- Redis with Sentinel on the two hosts ------------------------------
#
# A primary r1 on host a (6379), its replica r2 on host b (6380), and
# three sentinels: s1 on a (26379), s2 and s3 on b (26380, 26381), with
# quorum 2 for the master "ocm". Each Redis server also listens on a unix
# socket HA_DIR/NAME.sock for the test. Everything lives in HA_DIR (a
# short path: unix socket paths are limited), PIDs in HA_DIR/NAME.pid.
#
#   ha_redis_up            start the five servers, wait for the quorum
#   ha_redis_down          stop them by PID
#   ha_sentinel HOST PORT ARGS...   redis-cli to one sentinel
#   ha_primary             "ip:port" of the primary, per a sentinel
#   ha_sock ip:port        the unix socket of that server
#   ha_kill NAME [SIG]     signal one server (default KILL), wait for it

HA_MASTER=ocm
HA_SENTINELS="$NETNS_IP_A:26379,$NETNS_IP_B:26380,$NETNS_IP_B:26381"

# Start a program on a host, with its PID file and log in HA_DIR.
# Usage: ha_spawn NAME HOST COMMAND...
ha_spawn() {
	local name=$1 ns
	ns=$(netns_name "$2") || return 1
	shift 2
	# ip execs the command: its PID is the program's.
	ip netns exec "$ns" "$@" >>"$HA_DIR/$name.log" 2>&1 </dev/null 3>&- &
	echo $! >"$HA_DIR/$name.pid"
}

# Poll COMMAND until it passes or SECONDS pass.
# Usage: ha_wait SECONDS COMMAND...
ha_wait() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "ha_wait: timed out: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# One Redis server. Usage: ha_redis_server NAME HOST IP PORT [ARGS...]
ha_redis_server() {
	local name=$1 host=$2 ip=$3 port=$4
	shift 4
	mkdir -p "$HA_DIR/$name"
	ha_spawn "$name" "$host" redis-server --bind "$ip" --port "$port" \
		--unixsocket "$HA_DIR/$name.sock" --unixsocketperm 700 \
		--dir "$HA_DIR/$name" --save "" --appendonly no \
		--protected-mode no --daemonize no --loglevel warning \
		--repl-timeout 5 ${HA_REDIS_ARGS:-} "$@"
}

# One sentinel. Usage: ha_sentinel_server NAME HOST IP PORT
ha_sentinel_server() {
	local name=$1 host=$2 ip=$3 port=$4
	mkdir -p "$HA_DIR/$name"
	cat >"$HA_DIR/$name/sentinel.conf" <<CONF
bind $ip
port $port
protected-mode no
daemonize no
dir $HA_DIR/$name
loglevel warning
sentinel resolve-hostnames no
sentinel monitor $HA_MASTER $NETNS_IP_A 6379 2
sentinel down-after-milliseconds $HA_MASTER 1000
sentinel failover-timeout $HA_MASTER 4000
sentinel parallel-syncs $HA_MASTER 1
CONF
	ha_spawn "$name" "$host" redis-server "$HA_DIR/$name/sentinel.conf" \
		--sentinel
}

# redis-cli to a sentinel. Usage: ha_sentinel a|b PORT ARGS...
ha_sentinel() {
	local host=$1 port=$2 ip
	shift 2
	if [ "$host" = a ]; then ip=$NETNS_IP_A; else ip=$NETNS_IP_B; fi
	netns_exec "$host" redis-cli -h "$ip" -p "$port" "$@"
}

# True when every sentinel sees the other two and the replica.
ha_quorum() {
	local s
	for s in "a 26379" "b 26380" "b 26381"; do
		# shellcheck disable=SC2086
		ha_sentinel $s sentinel ckquorum "$HA_MASTER" 2>/dev/null |
			grep -q '^OK 3 usable' || return 1
		# shellcheck disable=SC2086
		[ "$(ha_sentinel $s sentinel replicas "$HA_MASTER" |
			grep -c "^$NETNS_IP_B:6380$")" = 1 ] || return 1
	done
}

ha_redis_ready() {
	[ "$(redis-cli -s "$HA_DIR/$1.sock" ping 2>/dev/null)" = PONG ]
}

# True when r2 has caught up with r1.
ha_replica_synced() {
	redis-cli -s "$HA_DIR/r2.sock" info replication |
		grep -q 'master_link_status:up'
}

ha_redis_up() {
	ha_redis_server r1 a "$NETNS_IP_A" 6379
	ha_redis_server r2 b "$NETNS_IP_B" 6380 \
		--replicaof "$NETNS_IP_A" 6379
	ha_wait 20 ha_redis_ready r1 || return 1
	ha_wait 20 ha_redis_ready r2 || return 1
	ha_wait 20 ha_replica_synced || return 1
	ha_sentinel_server s1 a "$NETNS_IP_A" 26379
	ha_sentinel_server s2 b "$NETNS_IP_B" 26380
	ha_sentinel_server s3 b "$NETNS_IP_B" 26381
	ha_wait 30 ha_quorum
}

# Signal one server by its PID file and wait for it to end.
# Usage: ha_kill NAME [SIGNAL]
ha_kill() {
	local f="$HA_DIR/$1.pid" pid i
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	kill -"${2:-KILL}" "$pid" 2>/dev/null || { rm -f "$f"; return 0; }
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	rm -f "$f"
}

ha_redis_down() {
	local n
	for n in s1 s2 s3 r1 r2; do
		ha_kill "$n" TERM
	done
}

# The primary's address as the sentinels on host b see it.
ha_primary() {
	ha_sentinel b 26380 sentinel get-master-addr-by-name "$HA_MASTER" |
		paste -sd:
}

# The unix socket of the server at ip:port.
ha_sock() {
	case $1 in
	"$NETNS_IP_A:6379") echo "$HA_DIR/r1.sock" ;;
	"$NETNS_IP_B:6380") echo "$HA_DIR/r2.sock" ;;
	*) echo "ha_sock: no server at $1" >&2; return 1 ;;
	esac
}
