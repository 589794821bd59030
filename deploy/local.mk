# deploy/: web server, systemd and Redis files for operators, and
# the entry points of the local stack (up, down), which are not installed.

systemdsystemunitdir = $(prefix)/lib/systemd/system
sysusersdir = $(prefix)/lib/sysusers.d
ordercastconfdir = $(sysconfdir)/ordercast
deploylighttpddir = $(pkgdatadir)/deploy/lighttpd
deployapachedir = $(pkgdatadir)/deploy/apache
deployredisdir = $(pkgdatadir)/deploy/redis

# Where the daemons' sockets live in a systemd deployment.
OC_RUNDIR = /run/ordercast

DEPLOY_GENERATED = \
	deploy/lighttpd/ordercast.conf deploy/lighttpd/ordercast-spawn.conf \
	deploy/apache/ordercast.conf deploy/apache/ordercast-fcgid.conf \
	deploy/systemd/ordercast-api.service \
	deploy/systemd/ordercast-sse.service \
	deploy/systemd/ordercast-watch.service

dist_ordercastconf_DATA = deploy/ordercast.env
deploylighttpd_DATA = deploy/lighttpd/ordercast.conf \
	deploy/lighttpd/ordercast-spawn.conf
deployapache_DATA = deploy/apache/ordercast.conf \
	deploy/apache/ordercast-fcgid.conf
dist_deployredis_DATA = deploy/redis/ordercast.conf \
	deploy/redis/ordercast-ha.conf deploy/redis/sentinel.conf
systemdsystemunit_DATA = deploy/systemd/ordercast-api.service \
	deploy/systemd/ordercast-sse.service \
	deploy/systemd/ordercast-watch.service

EXTRA_DIST += deploy/up deploy/down deploy/README.md \
	deploy/systemd/ordercast.sysusers \
	$(DEPLOY_GENERATED:=.in)
CLEANFILES += $(DEPLOY_GENERATED)

# Fill in the installation paths.
deploy_edit = $(SED) \
	-e 's|@bindir[@]|$(bindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|@docdir[@]|$(docdir)|g' \
	-e 's|@wwwdir[@]|$(wwwdir)|g' \
	-e 's|@api_socket[@]|$(OC_RUNDIR)/api.sock|g' \
	-e 's|@sse_socket[@]|$(OC_RUNDIR)/sse.sock|g' \
	-e 's|@api_backend[@]|unix:$(OC_RUNDIR)/api.sock\|fcgi://ordercast-api|g' \
	-e 's|@sse_backend[@]|unix:$(OC_RUNDIR)/sse.sock\|fcgi://ordercast-sse|g'

$(DEPLOY_GENERATED): %: %.in Makefile
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(deploy_edit) $(srcdir)/$@.in >$@.tmp && \
	mv $@.tmp $@

all-local: $(DEPLOY_GENERATED)

install-data-local:
	$(MKDIR_P) '$(DESTDIR)$(sysusersdir)' '$(DESTDIR)$(docdir)'
	$(INSTALL_DATA) $(srcdir)/deploy/systemd/ordercast.sysusers \
		'$(DESTDIR)$(sysusersdir)/ordercast.conf'
	$(INSTALL_DATA) $(srcdir)/deploy/README.md '$(DESTDIR)$(docdir)/deploy.md'

uninstall-local:
	rm -f '$(DESTDIR)$(sysusersdir)/ordercast.conf' \
		'$(DESTDIR)$(docdir)/deploy.md'
