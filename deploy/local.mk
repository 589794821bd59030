# deploy/: the local stack scripts (not installed; operators use the
# web server and systemd files).
EXTRA_DIST += deploy/up deploy/down deploy/stack.sh
