# tests/fuzz/: libFuzzer targets, one per parser of outside input. Each
# target is built twice: with replay.c into a make check program that
# runs the seed corpus (tests/fuzz.bats), and, with --enable-fuzzing
# (clang), with libFuzzer for tests/fuzz/run.
OC_FUZZ_COMMON = tests/fuzz/fuzz.h tests/fuzz/fuzz-common.c
OC_FUZZ_SSE = cgi/sse/fcgi-proto.c cgi/sse/fcgi-proto.h \
	cgi/sse/sse-event.c cgi/sse/sse.h
OC_FUZZ_CFLAGS = $(OC_CFLAGS) $(FCGI_CFLAGS) -I$(top_srcdir)/cgi/sse
# The API's request parsing and the answers it refuses with, as linked
# into ordercast-api.
OC_FUZZ_API = cgi/api/api-req.c cgi/api/api-reply.c cgi/api/api.h
OC_FUZZ_API_CFLAGS = $(OC_CFLAGS) $(FCGI_CFLAGS) -I$(top_srcdir)/cgi/api

check_PROGRAMS += tests/fuzz/replay-json-parse tests/fuzz/replay-bson-to-json \
	tests/fuzz/replay-change-event tests/fuzz/replay-fcgi-record \
	tests/fuzz/replay-sse-id tests/fuzz/replay-filter \
	tests/fuzz/replay-query tests/fuzz/replay-token-headers tests/fuzz/replay-session-record \
	tests/fuzz/replay-errbody tests/fuzz/replay-api-req
tests_fuzz_replay_json_parse_SOURCES = tests/fuzz/replay.c \
	tests/fuzz/json-parse.c $(OC_FUZZ_COMMON)
tests_fuzz_replay_json_parse_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_replay_json_parse_LDADD = $(OC_LIBS)
tests_fuzz_replay_bson_to_json_SOURCES = tests/fuzz/replay.c \
	tests/fuzz/bson-to-json.c $(OC_FUZZ_COMMON)
tests_fuzz_replay_bson_to_json_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_replay_bson_to_json_LDADD = $(OC_LIBS)
tests_fuzz_replay_change_event_SOURCES = tests/fuzz/replay.c \
	tests/fuzz/change-event.c $(OC_FUZZ_COMMON)
tests_fuzz_replay_change_event_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_replay_change_event_LDADD = $(OC_LIBS)
tests_fuzz_replay_fcgi_record_SOURCES = tests/fuzz/replay.c \
	tests/fuzz/fcgi-record.c $(OC_FUZZ_COMMON) $(OC_FUZZ_SSE)
tests_fuzz_replay_fcgi_record_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_replay_fcgi_record_LDADD = $(OC_LIBS)
tests_fuzz_replay_sse_id_SOURCES = tests/fuzz/replay.c \
	tests/fuzz/sse-id.c $(OC_FUZZ_COMMON) $(OC_FUZZ_SSE)
tests_fuzz_replay_sse_id_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_replay_sse_id_LDADD = $(OC_LIBS)
tests_fuzz_replay_filter_SOURCES = tests/fuzz/replay.c \
	tests/fuzz/filter.c $(OC_FUZZ_COMMON)
tests_fuzz_replay_filter_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_replay_filter_LDADD = $(OC_LIBS)
tests_fuzz_replay_query_SOURCES = tests/fuzz/replay.c \
	tests/fuzz/query.c $(OC_FUZZ_COMMON)
tests_fuzz_replay_query_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_replay_query_LDADD = $(OC_LIBS)
tests_fuzz_replay_token_headers_SOURCES = tests/fuzz/replay.c \
	tests/fuzz/token-headers.c $(OC_FUZZ_COMMON)
tests_fuzz_replay_token_headers_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_replay_token_headers_LDADD = $(OC_LIBS)
tests_fuzz_replay_session_record_SOURCES = tests/fuzz/replay.c \
	tests/fuzz/session-record.c $(OC_FUZZ_COMMON)
tests_fuzz_replay_session_record_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_replay_session_record_LDADD = $(OC_LIBS)
tests_fuzz_replay_errbody_SOURCES = tests/fuzz/replay.c \
	tests/fuzz/errbody.c $(OC_FUZZ_COMMON)
tests_fuzz_replay_errbody_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_replay_errbody_LDADD = $(OC_LIBS)
tests_fuzz_replay_api_req_SOURCES = tests/fuzz/replay.c \
	tests/fuzz/api-req.c $(OC_FUZZ_COMMON) $(OC_FUZZ_API)
tests_fuzz_replay_api_req_CFLAGS = $(OC_FUZZ_API_CFLAGS)
tests_fuzz_replay_api_req_LDADD = $(OC_LIBS) $(FCGI_LIBS)

if OC_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz-json-parse tests/fuzz/fuzz-bson-to-json \
	tests/fuzz/fuzz-change-event tests/fuzz/fuzz-fcgi-record \
	tests/fuzz/fuzz-sse-id tests/fuzz/fuzz-filter tests/fuzz/fuzz-query \
	tests/fuzz/fuzz-token-headers tests/fuzz/fuzz-session-record \
	tests/fuzz/fuzz-errbody tests/fuzz/fuzz-api-req
tests_fuzz_fuzz_json_parse_SOURCES = tests/fuzz/json-parse.c \
	$(OC_FUZZ_COMMON)
tests_fuzz_fuzz_json_parse_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_fuzz_json_parse_LDFLAGS = $(AM_LDFLAGS) $(OC_FUZZ_LDFLAGS)
tests_fuzz_fuzz_json_parse_LDADD = $(OC_LIBS)
tests_fuzz_fuzz_bson_to_json_SOURCES = tests/fuzz/bson-to-json.c \
	$(OC_FUZZ_COMMON)
tests_fuzz_fuzz_bson_to_json_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_fuzz_bson_to_json_LDFLAGS = $(AM_LDFLAGS) $(OC_FUZZ_LDFLAGS)
tests_fuzz_fuzz_bson_to_json_LDADD = $(OC_LIBS)
tests_fuzz_fuzz_change_event_SOURCES = tests/fuzz/change-event.c \
	$(OC_FUZZ_COMMON)
tests_fuzz_fuzz_change_event_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_fuzz_change_event_LDFLAGS = $(AM_LDFLAGS) $(OC_FUZZ_LDFLAGS)
tests_fuzz_fuzz_change_event_LDADD = $(OC_LIBS)
tests_fuzz_fuzz_fcgi_record_SOURCES = tests/fuzz/fcgi-record.c \
	$(OC_FUZZ_COMMON) $(OC_FUZZ_SSE)
tests_fuzz_fuzz_fcgi_record_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_fuzz_fcgi_record_LDFLAGS = $(AM_LDFLAGS) $(OC_FUZZ_LDFLAGS)
tests_fuzz_fuzz_fcgi_record_LDADD = $(OC_LIBS)
tests_fuzz_fuzz_sse_id_SOURCES = tests/fuzz/sse-id.c \
	$(OC_FUZZ_COMMON) $(OC_FUZZ_SSE)
tests_fuzz_fuzz_sse_id_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_fuzz_sse_id_LDFLAGS = $(AM_LDFLAGS) $(OC_FUZZ_LDFLAGS)
tests_fuzz_fuzz_sse_id_LDADD = $(OC_LIBS)
tests_fuzz_fuzz_filter_SOURCES = tests/fuzz/filter.c \
	$(OC_FUZZ_COMMON)
tests_fuzz_fuzz_filter_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_fuzz_filter_LDFLAGS = $(AM_LDFLAGS) $(OC_FUZZ_LDFLAGS)
tests_fuzz_fuzz_filter_LDADD = $(OC_LIBS)
tests_fuzz_fuzz_query_SOURCES = tests/fuzz/query.c \
	$(OC_FUZZ_COMMON)
tests_fuzz_fuzz_query_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_fuzz_query_LDFLAGS = $(AM_LDFLAGS) $(OC_FUZZ_LDFLAGS)
tests_fuzz_fuzz_query_LDADD = $(OC_LIBS)
tests_fuzz_fuzz_token_headers_SOURCES = tests/fuzz/token-headers.c \
	$(OC_FUZZ_COMMON)
tests_fuzz_fuzz_token_headers_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_fuzz_token_headers_LDFLAGS = $(AM_LDFLAGS) $(OC_FUZZ_LDFLAGS)
tests_fuzz_fuzz_token_headers_LDADD = $(OC_LIBS)
tests_fuzz_fuzz_session_record_SOURCES = tests/fuzz/session-record.c \
	$(OC_FUZZ_COMMON)
tests_fuzz_fuzz_session_record_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_fuzz_session_record_LDFLAGS = $(AM_LDFLAGS) $(OC_FUZZ_LDFLAGS)
tests_fuzz_fuzz_session_record_LDADD = $(OC_LIBS)
tests_fuzz_fuzz_errbody_SOURCES = tests/fuzz/errbody.c \
	$(OC_FUZZ_COMMON)
tests_fuzz_fuzz_errbody_CFLAGS = $(OC_FUZZ_CFLAGS)
tests_fuzz_fuzz_errbody_LDFLAGS = $(AM_LDFLAGS) $(OC_FUZZ_LDFLAGS)
tests_fuzz_fuzz_errbody_LDADD = $(OC_LIBS)
tests_fuzz_fuzz_api_req_SOURCES = tests/fuzz/api-req.c \
	$(OC_FUZZ_COMMON) $(OC_FUZZ_API)
tests_fuzz_fuzz_api_req_CFLAGS = $(OC_FUZZ_API_CFLAGS)
tests_fuzz_fuzz_api_req_LDFLAGS = $(AM_LDFLAGS) $(OC_FUZZ_LDFLAGS)
tests_fuzz_fuzz_api_req_LDADD = $(OC_LIBS) $(FCGI_LIBS)
endif

# The corpora replay after the unit programs, under the sanitizers.
TESTS += tests/fuzz.bats
dist_noinst_SCRIPTS += tests/fuzz/run
EXTRA_DIST += tests/fuzz.bats tests/fuzz/corpus
