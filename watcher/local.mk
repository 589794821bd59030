# watcher/: ordercast-watch, the change stream to Redis daemon.
bin_PROGRAMS += ordercast-watch
ordercast_watch_SOURCES = \
	watcher/watch-main.c watcher/watch.h \
	watcher/watch-mongo.c \
	watcher/watch-queue.c \
	watcher/watch-redis.c
ordercast_watch_CFLAGS = $(OC_CFLAGS)
ordercast_watch_LDADD = $(OC_LIBS)

