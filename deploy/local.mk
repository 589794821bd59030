# deploy: parts of the build added here.
