# watcher: parts of the build added here.
