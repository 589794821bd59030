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
	www/js/config.js \
	www/js/portal.js www/js/admin.js www/js/live.js

# What the dashboard takes from node_modules, and where it comes from.
WWW_VENDOR = www/vendor/uPlot.esm.js www/vendor/uPlot.min.css \
	www/vendor/uPlot.LICENSE
wwwvendor_DATA = $(WWW_VENDOR)
WWW_NODE_MODULES = $(NODE_MODULES)

www/vendor/uPlot.esm.js: $(top_srcdir)/package-lock.json
	$(AM_V_GEN)$(WWW_COPY) uplot/dist/uPlot.esm.js $@
www/vendor/uPlot.min.css: $(top_srcdir)/package-lock.json
	$(AM_V_GEN)$(WWW_COPY) uplot/dist/uPlot.min.css $@
www/vendor/uPlot.LICENSE: $(top_srcdir)/package-lock.json
	$(AM_V_GEN)$(WWW_COPY) uplot/LICENSE $@

# Copy a file of node_modules, or fail saying how to get it.
WWW_COPY = $(SHELL) -c 'f="$(WWW_NODE_MODULES)/$$1"; \
	if test ! -f "$$f"; then \
		echo "www: $$f is missing: run npm ci in" \
			"$$(cd "$(top_srcdir)" && pwd)" >&2; \
		exit 1; \
	fi; \
	$(MKDIR_P) "$$(dirname "$$2")" && cp "$$f" "$$2"' www-copy

CLEANFILES += $(WWW_VENDOR)
EXTRA_DIST += package.json package-lock.json

# Screenshots the browser tests keep in the build tree.
clean-local: clean-www-screenshots
clean-www-screenshots:
	rm -rf tests/www-screenshots
.PHONY: clean-www-screenshots
