# www/: the dashboard. Its own files are static and installed as they are;
# the browser libraries it uses come from npm (package.json and its
# lockfile): `npm ci` fills node_modules/ in the source tree and `make`
# copies their dist files to www/vendor/ in the build tree, served at
# /vendor/ (tests/lib/stack.sh aliases it; `make install` puts it beside).

wwwjsdir = $(wwwdir)/js
wwwvendordir = $(wwwdir)/vendor

dist_www_DATA = www/index.html www/app.css
dist_wwwjs_DATA = \
	www/js/main.js www/js/api.js www/js/dom.js www/js/events.js \
	www/js/format.js www/js/store.js www/js/demo.js www/js/toast.js \
	www/js/config.js www/js/signin.js \
	www/js/portal.js www/js/admin.js www/js/live.js \
	www/js/health.js www/js/query.js

# The sample accounts for the sign-in view of the local demo: shipped in
# the tarball, served from the source tree by the local stack
# (tests/lib/stack.sh), never installed, so a real site lists no accounts.
EXTRA_DIST += www/demo-accounts.json

# What the dashboard takes from node_modules. uPlot's files live in
# www/vendor/uplot-<version>/, named after the version in
# node_modules/uplot/package.json, so browsers may keep them for a year
# (the web server says they are immutable); www/vendor/uPlot.esm.js and
# uPlot.min.css keep their names and only load that folder's files, so
# the page and its modules need not know the version.
WWW_VENDOR = www/vendor/uPlot.esm.js www/vendor/uPlot.min.css
wwwvendor_DATA = $(WWW_VENDOR)
WWW_NODE_MODULES = $(NODE_MODULES)

www/vendor/uPlot.esm.js: $(top_srcdir)/package-lock.json
	$(AM_V_GEN)$(WWW_UPLOT) dist/uPlot.esm.js LICENSE $@ \
		"export { default } from './%s/uPlot.esm.js';"
www/vendor/uPlot.min.css: $(top_srcdir)/package-lock.json
	$(AM_V_GEN)$(WWW_UPLOT) dist/uPlot.min.css "" $@ \
		'@import url("%s/uPlot.min.css");'

# Copy a file of node_modules/uplot (and its licence, unless "") to
# www/vendor/uplot-<version>/, drop other versions' folders, and write
# the entry point OUT from a format naming that folder; or fail saying
# how to get the package.
# Usage: $(WWW_UPLOT) FILE LICENCE OUT FORMAT
WWW_UPLOT = $(SHELL) -c 'm="$(WWW_NODE_MODULES)/uplot"; \
	if test ! -f "$$m/package.json" || test ! -f "$$m/$$1"; then \
		echo "www: $$m/$$1 is missing: run npm ci in" \
			"$$(cd "$(top_srcdir)" && pwd)" >&2; \
		exit 1; \
	fi; \
	v=$$(sed -n "s/^ *\"version\": *\"\([0-9A-Za-z.+-]*\)\".*/\1/p" \
		"$$m/package.json" | head -n 1); \
	if test -z "$$v"; then \
		echo "www: no version in $$m/package.json" >&2; \
		exit 1; \
	fi; \
	d=uplot-$$v; \
	$(MKDIR_P) "www/vendor/$$d" && \
	for o in www/vendor/uplot-*; do \
		test "$$o" = "www/vendor/$$d" || rm -rf "$$o"; \
	done && \
	cp "$$m/$$1" "www/vendor/$$d/" && \
	{ test -z "$$2" || cp "$$m/$$2" "www/vendor/$$d/"; } && \
	printf "$$4\n" "$$d" >"$$3"' www-uplot

# The versioned folder is made by the rules above: automake cannot name
# it, so it is installed, removed and cleaned here.
install-data-local: install-www-vendor
uninstall-local: uninstall-www-vendor
clean-local: clean-www-vendor
install-www-vendor: $(WWW_VENDOR)
	@for d in www/vendor/uplot-*; do \
		test -d "$$d" || continue; \
		t='$(DESTDIR)$(wwwvendordir)'/$$(basename "$$d"); \
		echo " $(MKDIR_P) $$t"; \
		$(MKDIR_P) "$$t" || exit 1; \
		echo " $(INSTALL_DATA) $$d/* $$t"; \
		$(INSTALL_DATA) "$$d"/* "$$t" || exit 1; \
	done
uninstall-www-vendor:
	rm -rf '$(DESTDIR)$(wwwvendordir)'/uplot-*
clean-www-vendor:
	rm -rf www/vendor/uplot-*
.PHONY: install-www-vendor uninstall-www-vendor clean-www-vendor

CLEANFILES += $(WWW_VENDOR)
EXTRA_DIST += package.json package-lock.json

# Screenshots the browser tests keep in the build tree.
clean-local: clean-www-screenshots
clean-www-screenshots:
	rm -rf tests/www-screenshots
.PHONY: clean-www-screenshots
