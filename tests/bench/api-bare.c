/*
 * The ceiling of FastCGI behind the web server, for tests/bench/api: a
 * bare libfcgi responder with the same threads as ordercast-api that
 * answers every request with the bytes of one file.
 *
 *   api-bare SOCKET FILE THREADS
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

static int listen_fd;
static char *body;
static long body_len;

/* Answer requests until the process is killed. */
static void *
worker(void *arg)
{
	FCGX_Request req;
	char head[160];
	int n;

	(void)arg;
	FCGX_InitRequest(&req, listen_fd, 0);
	while (FCGX_Accept_r(&req) >= 0) {
		n = snprintf(head, sizeof(head), "Status: 200 OK\r\n"
		    "Content-Type: application/json; charset=utf-8\r\n"
		    "Content-Length: %ld\r\n\r\n", body_len);
		FCGX_PutStr(head, n, req.out);
		FCGX_PutStr(body, (int)body_len, req.out);
		FCGX_Finish_r(&req);
	}
	return NULL;
}

/* Load the body, listen, and serve with the given threads. */
int
main(int argc, char **argv)
{
	pthread_t threads[64];
	FILE *fp;
	long i, nthreads;

	if (argc != 4)
		return 2;
	fp = fopen(argv[2], "rb");
	if (fp == NULL)
		return 1;
	fseek(fp, 0, SEEK_END);
	body_len = ftell(fp);
	rewind(fp);
	body = malloc((size_t)body_len + 1);
	if (body == NULL || fread(body, 1, (size_t)body_len, fp) !=
	    (size_t)body_len)
		return 1;
	fclose(fp);
	nthreads = strtol(argv[3], NULL, 10);
	if (nthreads < 1 || nthreads > 64)
		return 2;
	FCGX_Init();
	/* libfcgi's own SIGTERM handler would keep the process alive. */
	signal(SIGTERM, SIG_DFL);
	listen_fd = FCGX_OpenSocket(argv[1], 1024);
	if (listen_fd < 0)
		return 1;
	for (i = 0; i < nthreads; i++)
		pthread_create(&threads[i], NULL, worker, NULL);
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	return 0;
}
