# tests: parts of the build added here.
