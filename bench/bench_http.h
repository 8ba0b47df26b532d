/* bench_http.h — the wire side of wasmpool-bench: request bytes and an
 * incremental response parser.
 *
 * Requests are built once per workload entry (and per connection for
 * instance calls, whose path holds the instance id) and then written as
 * they are, so sending costs one memcpy. proto/'s client is blocking and
 * keeps its response parser private, so the non-blocking libuv connections
 * parse responses here, with http-parser as proto/ does.
 */
#ifndef WP_BENCH_HTTP_H
#define WP_BENCH_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "bench_mix.h"
#include "proto.h"

/* The complete request for entry (head and body) appended to out.
 * instance_id is the instance of an instance_call entry (else NULL). */
int wp_bench_request_build(const wp_bench_entry *entry, const char *instance_id, wp_buf *out);
/* DELETE /v1/instances/{id}, appended to out. */
int wp_bench_request_release(const char *instance_id, size_t id_len, wp_buf *out);

/* The first bytes of each response body are kept (enough for a JSON error or
 * an instance id); the rest is only counted. */
#define WP_BENCH_BODY_KEEP 4096

typedef struct wp_bench_response {
  int status;
  bool keep_alive;
  const char *body; /* first min(body_len, WP_BENCH_BODY_KEEP) bytes */
  size_t body_kept;
  size_t body_len;
} wp_bench_response;

typedef struct wp_bench_resp_parser wp_bench_resp_parser;

/* Called once per complete response, in order. Returns 0 to go on, or
 * nonzero to stop: the feed then returns 1 and the parser is spent (the
 * connection is being dropped). */
typedef int (*wp_bench_response_cb)(void *ctx, const wp_bench_response *resp);

int wp_bench_resp_parser_create(wp_bench_resp_parser **out);
void wp_bench_resp_parser_destroy(wp_bench_resp_parser *parser);
/* Feed bytes from the connection. Returns 0 when all were consumed, 1 when
 * the callback asked to stop, WP_EBAD_REQUEST when the bytes are not an HTTP
 * response (the connection must be dropped), WP_ENOMEM. */
int wp_bench_resp_parser_feed(wp_bench_resp_parser *parser, const char *data, size_t len,
                              wp_bench_response_cb cb, void *ctx);
/* Whether a response has started and not completed. */
bool wp_bench_resp_parser_in_response(const wp_bench_resp_parser *parser);

/* Instance id from a 201 answer {"id":"..."}; copies at most cap-1 bytes.
 * WP_EBAD_REQUEST when there is none. */
int wp_bench_parse_instance_id(const char *body, size_t len, char *id, size_t cap);

#endif /* WP_BENCH_HTTP_H */
