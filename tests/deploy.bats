#!/usr/bin/env bats
# ordercast behind lighttpd and Apache httpd with the standalone FastCGI
# daemons, the shipped configuration files, systemd units and make install.

bats_load_library bats-support
bats_load_library bats-assert

load lib/stack
load lib/smoke

# Apache's modules on Debian.
APACHE_MODULES=/usr/lib/apache2/modules

# A standalone httpd.conf around one of the shipped site files.
# Usage: write_apache_conf SITE.in PORT OUT
write_apache_conf() {
	local site=$1 port=$2 out=$3 dir
	dir=$(dirname "$out")
	cat >"$out" <<CONF
ServerRoot "/etc/apache2"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$dir/apache.pid"
DefaultRuntimeDir "$dir"
ErrorLog "$dir/apache-error.log"
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module $APACHE_MODULES/mod_mpm_event.so
LoadModule authz_core_module $APACHE_MODULES/mod_authz_core.so
LoadModule mime_module $APACHE_MODULES/mod_mime.so
LoadModule dir_module $APACHE_MODULES/mod_dir.so
LoadModule alias_module $APACHE_MODULES/mod_alias.so
LoadModule env_module $APACHE_MODULES/mod_env.so
LoadModule headers_module $APACHE_MODULES/mod_headers.so
LoadModule filter_module $APACHE_MODULES/mod_filter.so
LoadModule deflate_module $APACHE_MODULES/mod_deflate.so
LoadModule proxy_module $APACHE_MODULES/mod_proxy.so
LoadModule proxy_fcgi_module $APACHE_MODULES/mod_proxy_fcgi.so
LoadModule fcgid_module $APACHE_MODULES/mod_fcgid.so
FcgidIPCDir "$dir/fcgid"
FcgidProcessTableFile "$dir/fcgid/table"
TypesConfig /etc/mime.types
CONF
	sed -e "s|<VirtualHost \*:80>|<VirtualHost 127.0.0.1:$port>|" \
	    -e "s|@wwwdir@|$OC_SRCDIR/www|g" \
	    -e "s|@bindir@|$OC_BUILDDIR|g" \
	    -e "s|@api_backend@|fcgi://127.0.0.1:$API_TCP_PORT|g" \
	    -e "s|@sse_backend@|fcgi://127.0.0.1:$SSE_TCP_PORT|g" \
	    "$site" >>"$out"
}

apache_ready() {
	curl -s -o /dev/null --max-time 2 "$APACHE_URL/"
}

setup_file() {
	stack_start
	# Apache's workers run as www-data: give them TCP backends.
	API_TCP_PORT=$(stack_free_port)
	SSE_TCP_PORT=$(stack_free_port)
	stack_spawn api-tcp "$OC_BUILDDIR/ordercast-api" \
		--listen "127.0.0.1:$API_TCP_PORT" --threads 4
	stack_spawn sse-tcp "$OC_BUILDDIR/ordercast-sse" \
		--listen "127.0.0.1:$SSE_TCP_PORT"
	APACHE_DIR=$BATS_FILE_TMPDIR/apache
	mkdir -p "$APACHE_DIR/fcgid"
	chown www-data "$APACHE_DIR/fcgid"
	APACHE_PORT=$(stack_free_port)
	APACHE_URL=http://127.0.0.1:$APACHE_PORT
	write_apache_conf "$OC_SRCDIR/deploy/apache/ordercast.conf.in" \
		"$APACHE_PORT" "$APACHE_DIR/httpd.conf"
	stack_spawn apache2 apache2 -f "$APACHE_DIR/httpd.conf" -DFOREGROUND
	stack_wait apache2 20 apache_ready
	export API_TCP_PORT SSE_TCP_PORT APACHE_DIR APACHE_PORT APACHE_URL
}

teardown_file() {
	stack_stop_prog apache2
	stack_stop_prog api-tcp
	stack_stop_prog sse-tcp
	stack_stop
}

@test "lighttpd: health, products, 404, static files" {
	smoke_health "$STACK_URL"
	smoke_products "$STACK_URL"
	smoke_not_found "$STACK_URL"
	smoke_static "$STACK_URL"
}

@test "lighttpd: an order is placed" {
	smoke_order "$STACK_URL"
}

@test "lighttpd: events arrive unbuffered" {
	smoke_event_unbuffered "$STACK_URL" "$BATS_TEST_TMPDIR/events"
}

@test "lighttpd: the dashboard comes with CSP, no framing, nosniff, Referrer-Policy" {
	smoke_security_headers "$STACK_URL"
}

@test "lighttpd: only the dashboard's files are served, build files are 404" {
	[ -f "$OC_SRCDIR/www/local.mk" ]
	smoke_not_served "$STACK_URL"
}

@test "lighttpd: HEAD /api/products agrees with GET" {
	smoke_head_products "$STACK_URL"
}

@test "lighttpd: an unchanged product is 304, a changed one 200 with a new ETag" {
	smoke_etag_product "$STACK_URL"
}

@test "apache: health, products, 404, static files" {
	smoke_health "$APACHE_URL"
	smoke_products "$APACHE_URL"
	smoke_not_found "$APACHE_URL"
	smoke_static "$APACHE_URL"
}

@test "apache: an order is placed" {
	smoke_order "$APACHE_URL"
}

@test "apache: events arrive unbuffered" {
	smoke_event_unbuffered "$APACHE_URL" "$BATS_TEST_TMPDIR/events"
}

@test "apache: the dashboard comes with CSP, no framing, nosniff, Referrer-Policy" {
	smoke_security_headers "$APACHE_URL"
}

@test "apache: only the dashboard's files are served, build files are 404" {
	[ -f "$OC_SRCDIR/www/local.mk" ]
	smoke_not_served "$APACHE_URL"
}

@test "apache: HEAD /api/products agrees with GET" {
	smoke_head_products "$APACHE_URL"
}

@test "apache: an unchanged product is 304, a changed one 200 with a new ETag" {
	smoke_etag_product "$APACHE_URL"
}

@test "apache with mod_fcgid: the API through a spawned ordercast-api" {
	local dir port redis_port
	# Apache's www-data children must reach mod_fcgid's sockets: a folder
	# of their own outside the private temporary tree.
	dir=$(mktemp -d /tmp/ordercast-fcgid.XXXXXX)
	chmod 755 "$dir"
	mkdir -p "$dir/fcgid"
	chown www-data "$dir/fcgid"
	port=$(stack_free_port)
	# The spawned program runs as www-data, which cannot reach the
	# stack's private Redis socket: give it a Redis on TCP.
	redis_port=$(stack_free_port)
	stack_spawn redis-tcp redis-server --port "$redis_port" \
		--bind 127.0.0.1 --save "" --appendonly no
	stack_wait redis-tcp 10 redis-cli -p "$redis_port" ping
	write_apache_conf "$OC_SRCDIR/deploy/apache/ordercast-fcgid.conf.in" \
		"$port" "$dir/httpd.conf"
	# mod_fcgid passes only the variables it is told to.
	sed -i -e "s|FcgidInitialEnv ORDERCAST_MONGODB_URI .*|FcgidInitialEnv ORDERCAST_MONGODB_URI \"$ORDERCAST_MONGODB_URI\"|" \
	    -e "s|FcgidInitialEnv ORDERCAST_REDIS .*|FcgidInitialEnv ORDERCAST_REDIS \"127.0.0.1:$redis_port\"\nFcgidInitialEnv ORDERCAST_DB \"$ORDERCAST_DB\"\nFcgidInitialEnv ASAN_OPTIONS \"$ASAN_OPTIONS\"|" \
	    "$dir/httpd.conf"
	run apache2 -t -f "$dir/httpd.conf"
	assert_success
	stack_spawn apache2-fcgid apache2 -f "$dir/httpd.conf" -DFOREGROUND
	APACHE_URL=http://127.0.0.1:$port stack_wait apache2-fcgid 20 apache_ready
	# A sign-in, products anonymously, an order as the admin (the bearer
	# token must reach the spawned program), the headers and the 404s.
	run fcgid_checks "http://127.0.0.1:$port"
	echo "$output"
	cat "$dir/apache-error.log" >&2 || true
	stack_stop_prog apache2-fcgid
	stack_stop_prog redis-tcp
	rm -rf "$dir"
	assert_success
}

# What the mod_fcgid setup must do, each check in turn. Its program has
# a Redis of its own, so the admin signs in through it.
fcgid_checks() {
	OC_ADMIN_TOKEN=$(STACK_URL=$1 stack_login admin@ordercast.example) ||
		{ echo "cannot sign in through mod_fcgid"; return 1; }
	smoke_products "$1" &&
	smoke_order "$1" &&
	smoke_security_headers "$1" &&
	smoke_not_served "$1" &&
	smoke_head_products "$1"
}

@test "shipped lighttpd files pass lighttpd -tt" {
	local f out=$BATS_TEST_TMPDIR/lighttpd.conf
	for f in ordercast ordercast-spawn; do
		{
			echo "server.port = $(stack_free_port)"
			sed -e "s|@[a-z_]*@|/nonexistent|g" \
				"$OC_SRCDIR/deploy/lighttpd/$f.conf.in"
		} >"$out"
		run lighttpd -tt -f "$out"
		assert_success
	done
	run lighttpd -tt -f "$OC_STATE/lighttpd.conf"
	assert_success
}

@test "shipped Apache files pass apache2 -t" {
	local f dir=$BATS_TEST_TMPDIR
	for f in ordercast ordercast-fcgid; do
		write_apache_conf "$OC_SRCDIR/deploy/apache/$f.conf.in" \
			"$(stack_free_port)" "$dir/$f.conf"
		run apache2 -t -f "$dir/$f.conf"
		assert_success
		assert_output --partial "Syntax OK"
	done
}

@test "systemd units verify" {
	local u dir=$BATS_TEST_TMPDIR/units
	mkdir -p "$dir"
	for u in api sse watch; do
		sed -e "s|@bindir@|$OC_BUILDDIR|g" -e "s|@sysconfdir@|/etc|g" \
		    -e "s|@docdir@|/usr/share/doc/ordercast|g" \
		    "$OC_SRCDIR/deploy/systemd/ordercast-$u.service.in" \
		    >"$dir/ordercast-$u.service"
	done
	run systemd-analyze verify --man=no "$dir"/*.service
	echo "$output"
	assert_success
	refute_output --regexp 'Unknown (key|section)|Invalid|bad-setting|Failed'
}

@test "make install puts programs, dashboard, configuration and units in place" {
	local dest=$BATS_TEST_TMPDIR/dest
	run make -C "$OC_BUILDDIR" -s install DESTDIR="$dest"
	assert_success
	run find "$dest" -type f
	assert_line --regexp '/bin/ordercast-api$'
	assert_line --regexp '/bin/ordercast-sse$'
	assert_line --regexp '/bin/ordercast-watch$'
	assert_line --regexp '/share/ordercast/www/index.html$'
	assert_line --regexp '/etc/ordercast/ordercast.env$'
	assert_line --regexp '/systemd/system/ordercast-api.service$'
	assert_line --regexp '/sysusers.d/ordercast.conf$'
	assert_line --regexp '/share/ordercast/deploy/lighttpd/ordercast.conf$'
	assert_line --regexp '/share/ordercast/deploy/apache/ordercast.conf$'
	run grep -rh '^ExecStart=' "$dest" --include=ordercast-api.service
	assert_output --partial 'ordercast-api --listen'
	refute_output --partial '@'
}
