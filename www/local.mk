# www: parts of the build added here.
