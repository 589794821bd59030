/*
 * The TAP reporter of the unit test programs: ok() records one result,
 * tap_done() prints the plan and gives main's exit status. Each program
 * includes this once.
 */
#ifndef TAP_H
#define TAP_H

#include <stdio.h>

static int test_no;
static int failures;

/* Record one TAP result. */
static void
ok(int cond, const char *what)
{
	test_no++;
	if (!cond)
		failures++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", test_no, what);
}

/* Print the plan; 0 when every test passed, else 1. */
static int
tap_done(void)
{
	printf("1..%d\n", test_no);
	return failures == 0 ? 0 : 1;
}

#endif
