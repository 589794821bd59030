#!/usr/bin/env bats
# The layout of each program folder: its files form a one-way dependency
# graph (no two files call each other, directly or through others), as
# tests/lib/callgraph reads it from the object files of the build tree.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

setup() {
	callgraph=$OC_SRCDIR/tests/lib/callgraph
	objs=$BATS_TEST_TMPDIR/prog
	mkdir -p "$objs"
}

# Compile p-NAME.o in $objs from C source text.
compile() {
	printf '%s\n' "$2" >"$BATS_TEST_TMPDIR/$1.c"
	"${CC:-cc}" -c -o "$objs/p-$1.o" "$BATS_TEST_TMPDIR/$1.c"
}

@test "callgraph fails on two files that call each other" {
	compile a 'void b(void); void a(void) { b(); }'
	compile b 'void a(void); void b(void) { a(); }'
	compile c 'void a(void); void c(void) { a(); }'
	OC_BUILDDIR=$BATS_TEST_TMPDIR run -1 "$callgraph" prog
	assert_output 'p: cycle: a b'
	rm "$objs/p-b.o"
	OC_BUILDDIR=$BATS_TEST_TMPDIR run -0 "$callgraph" prog
}

@test "callgraph fails on a cycle through a third file and a variable" {
	compile a 'void b(void); void a(void) { b(); }'
	compile b 'void c(void); void b(void) { c(); }'
	compile c 'int v; void c(void) { v++; }'
	OC_BUILDDIR=$BATS_TEST_TMPDIR run -0 "$callgraph" -v prog
	assert_line 'p: b -> c (c)'
	compile v 'void a(void); int v = 1; void d(void) { a(); }'
	compile c 'extern int v; void c(void) { v++; }'
	OC_BUILDDIR=$BATS_TEST_TMPDIR run -1 "$callgraph" prog
	assert_output 'p: cycle: a b c v'
}

@test "cgi/api: no two files depend on each other" {
	run -0 "$callgraph" cgi/api
	assert_output --partial 'no cycles'
}

@test "cgi/sse: no two files depend on each other" {
	run -0 "$callgraph" cgi/sse
	assert_output --partial 'no cycles'
}

@test "watcher: no two files depend on each other" {
	run -0 "$callgraph" watcher
	assert_output --partial 'no cycles'
}

@test "no program includes another program's files" {
	local s=$OC_SRCDIR
	run grep -ln '#include "\(sse\|fcgi-proto\|watch\)[^"]*\.h"' \
		"$s"/cgi/api/*.[ch]
	[ "$status" -eq 1 ]
	run grep -ln '#include "\(api\|watch\)[^"]*\.h"' "$s"/cgi/sse/*.[ch]
	[ "$status" -eq 1 ]
	run grep -ln '#include "\(api\|sse\|fcgi-proto\)[^"]*\.h"' \
		"$s"/watcher/*.[ch]
	[ "$status" -eq 1 ]
}

@test "lib: no file of lib/ includes a program's header" {
	run grep -ln '#include "\(api\|sse\|watch\|fcgi-proto\)[^"]*\.h"' \
		"$OC_SRCDIR"/lib/*.c "$OC_SRCDIR"/lib/*.h
	[ "$status" -eq 1 ]
}
