# cgi: parts of the build added here.
