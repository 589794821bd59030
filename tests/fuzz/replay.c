/*
 * Run a fuzz target over saved inputs, for make check: every file of
 * each folder given (in name order) or each file given. A crash or a
 * broken property aborts under the sanitizers like it would in
 * libFuzzer. Prints TAP, one result per folder or file.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "oc-xmalloc.h"

/* Feed one file to the target; false when it cannot be read. */
static bool
replay_file(const char *path)
{
	struct stat st;
	uint8_t *data = NULL;
	FILE *f = NULL;
	bool ok = false;

	f = fopen(path, "rb");
	if (f == NULL || fstat(fileno(f), &st) == -1)
		goto done;
	/* Exactly the input's size, so ASan sees a read past its end. */
	data = xmalloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
		goto done;
	/* Named first: a crash below then says which input it was. */
	fprintf(stderr, "# %s\n", path);
	LLVMFuzzerTestOneInput(data, (size_t)st.st_size);
	ok = true;
done:
	if (f != NULL)
		fclose(f);
	free(data);
	return ok;
}

/* Every regular file of a folder, in name order; returns the count. */
static long
replay_dir(const char *dir)
{
	struct dirent **names = NULL;
	struct stat st;
	long count = 0;
	char *path;
	int n, i;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		path = xasprintf("%s/%s", dir, names[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (!replay_file(path))
				count = -1;
			else if (count >= 0)
				count++;
		}
		free(path);
		free(names[i]);
	}
	free(names);
	return count;
}

int
main(int argc, char **argv)
{
	struct stat st;
	int i, failed = 0;
	long n;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			n = replay_dir(argv[i]);
		else
			n = replay_file(argv[i]) ? 1 : -1;
		if (n <= 0)
			failed++;
		printf("%s %d - %s: %ld inputs\n", n > 0 ? "ok" : "not ok",
		    i, argv[i], n);
	}
	printf("1..%d\n", argc - 1);
	return failed == 0 ? 0 : 1;
}
