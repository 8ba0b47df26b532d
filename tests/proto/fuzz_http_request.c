/* fuzz_http_request.c — libFuzzer target for the request path of proto/.
 *
 * Bytes in: the first byte picks a split point, the rest is fed to a
 * wp_http_parser in two chunks (so chunk boundaries are fuzzed too); every
 * request popped is routed, its CGI environment and argv built, and an
 * answer written, as the daemon would. Nothing may crash, leak or read out
 * of bounds, and a split must never change what was parsed.
 *
 * Build (clang only): cmake -DCMAKE_C_COMPILER=clang -DWASMPOOL_FUZZ=ON ...
 * then run build/tests/proto_fuzz_http_request -max_total_time=60.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static void run(const uint8_t *data, size_t size, size_t split, wp_buf *summary) {
  wp_http_limits limits = {.max_header_bytes = 2048, .max_body_bytes = 4096};
  wp_http_parser *parser;
  if (wp_http_parser_create(&limits, &parser) != 0)
    abort();
  int rc = wp_http_parser_feed(parser, (const char *)data, split);
  if (rc == 0)
    rc = wp_http_parser_feed(parser, (const char *)data + split, size - split);
  wp_request *req;
  int next;
  while ((next = wp_http_parser_next(parser, &req)) == 1) {
    wp_buf_append(summary, req->target, req->target_len);
    wp_buf_appendf(summary, "|%zu|%d\n", req->body_len, req->keep_alive);
    wp_buf_append(summary, req->body, req->body_len);
    wp_route route;
    int routed = wp_route_match(req->method, req->path, req->path_len, &route);
    wp_buf out, env;
    wp_buf_init(&out);
    wp_buf_init(&env);
    size_t count;
    if (routed == 0 && route.endpoint == WP_EP_MODULE_RUN) {
      wp_cgi_env(req, &route, &env, &count);
      wp_cgi_args(req, &route, &env, &count);
    }
    if (routed == 0) {
      wp_response resp = {.status = 200,
                          .keep_alive = req->keep_alive,
                          .head_only = route.head,
                          .body = route.export_name.data,
                          .body_len = route.export_name.len};
      wp_response_write(&out, &resp);
    } else {
      wp_response_write_error(&out, routed, NULL, req->keep_alive, 1, route.allow);
    }
    wp_buf_free(&out);
    wp_buf_free(&env);
    wp_route_free(&route);
    wp_request_destroy(req);
  }
  wp_buf_appendf(summary, "end %d\n", next);
  wp_http_parser_destroy(parser);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  size_t split = data[0] % size;
  data++;
  size--;
  if (split > size)
    split = size;
  wp_buf whole, halves;
  wp_buf_init(&whole);
  wp_buf_init(&halves);
  run(data, size, size, &whole);
  run(data, size, split, &halves);
  /* Same requests either way; the error may differ only in being reported
   * at a different feed, which the summary does not distinguish. */
  if (whole.len != halves.len || (whole.len && memcmp(whole.data, halves.data, whole.len) != 0))
    abort();
  wp_buf_free(&whole);
  wp_buf_free(&halves);
  return 0;
}
