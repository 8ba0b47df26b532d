/* test_bench_http.c — request bytes and the incremental response parser. */
#include <criterion/criterion.h>
#include <string.h>

#include "bench_http.h"
#include "wp_errno.h"

static wp_bench_entry entry(wp_bench_kind kind, const char *module, const char *export_name,
                            json_t *args) {
  wp_bench_entry e;
  memset(&e, 0, sizeof(e));
  e.kind = kind;
  e.module = (char *)module;
  e.export_name = (char *)export_name;
  e.args = args;
  e.weight = 1;
  return e;
}

Test(bench_http, call_request_bytes) {
  json_t *args = json_pack("[ii]", 1, 2);
  wp_bench_entry e = entry(WP_BENCH_CALL, "add", "a/b c", args);
  e.deadline_ms = 250;
  wp_buf out;
  wp_buf_init(&out);
  cr_assert_eq(wp_bench_request_build(&e, NULL, &out), 0);
  cr_assert_str_eq(out.data, "POST /v1/modules/add/call/a%2Fb%20c HTTP/1.1\r\n"
                             "Host: localhost\r\n"
                             "Content-Type: application/json\r\n"
                             "X-Wasmpool-Deadline-Ms: 250\r\n"
                             "Content-Length: 14\r\n\r\n"
                             "{\"args\":[1,2]}");
  wp_buf_reset(&out);
  e.kind = WP_BENCH_INSTANCE_CALL;
  e.deadline_ms = 0;
  cr_assert_eq(wp_bench_request_build(&e, NULL, &out), WP_EINVAL, "an instance call needs an id");
  wp_buf_reset(&out);
  cr_assert_eq(wp_bench_request_build(&e, "0123abcd", &out), 0);
  cr_assert(strncmp(out.data, "POST /v1/instances/0123abcd/call/a%2Fb%20c HTTP/1.1\r\n", 52) == 0,
            "%s", out.data);
  wp_buf_free(&out);
  json_decref(args);
}

Test(bench_http, run_instantiate_release_bytes) {
  json_t *args = json_pack("[ss]", "-v", "a b");
  wp_bench_entry e = entry(WP_BENCH_RUN, "hello", NULL, args);
  e.body = "wor\0ld";
  e.body_len = 6;
  wp_buf out;
  wp_buf_init(&out);
  cr_assert_eq(wp_bench_request_build(&e, NULL, &out), 0);
  const char head[] = "POST /v1/modules/hello/run?arg=-v&arg=a%20b HTTP/1.1\r\n"
                      "Host: localhost\r\n"
                      "Content-Type: application/octet-stream\r\n"
                      "Content-Length: 6\r\n\r\n";
  cr_assert_eq(out.len, strlen(head) + 6);
  cr_assert_eq(memcmp(out.data, head, strlen(head)), 0, "%s", out.data);
  cr_assert_eq(memcmp(out.data + strlen(head), "wor\0ld", 6), 0);

  wp_buf_reset(&out);
  wp_bench_entry inst = entry(WP_BENCH_INSTANTIATE, "add", NULL, NULL);
  cr_assert_eq(wp_bench_request_build(&inst, NULL, &out), 0);
  cr_assert_str_eq(out.data, "POST /v1/modules/add/instances HTTP/1.1\r\nHost: localhost\r\n"
                             "Content-Length: 0\r\n\r\n");
  wp_buf_reset(&out);
  cr_assert_eq(wp_bench_request_release("9f2c", 4, &out), 0);
  cr_assert_str_eq(out.data, "DELETE /v1/instances/9f2c HTTP/1.1\r\nHost: localhost\r\n"
                             "Content-Length: 0\r\n\r\n");
  wp_buf_free(&out);
  json_decref(args);
}

typedef struct seen {
  int count;
  int status[8];
  size_t body_len[8];
  char body[8][64];
  bool keep_alive[8];
  int stop_after; /* 0: never */
} seen;

static int record(void *ctx, const wp_bench_response *r) {
  seen *s = ctx;
  int i = s->count++;
  s->status[i] = r->status;
  s->body_len[i] = r->body_len;
  s->keep_alive[i] = r->keep_alive;
  memcpy(s->body[i], r->body, r->body_kept < 63 ? r->body_kept : 63);
  return s->stop_after && s->count >= s->stop_after;
}

static const char pipelined[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"
    "Connection: keep-alive\r\n\r\n{\"results\":[3]}"
    "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 20\r\n\r\n{\"error\":{\"code\":1}}"
    "HTTP/1.1 201 Created\r\nTransfer-Encoding: "
    "chunked\r\n\r\n5\r\n{\"id\"\r\n4\r\n:\"x\"\r\n1\r\n}"
    "\r\n0\r\n\r\n"
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

static void check_pipelined(const seen *s) {
  cr_assert_eq(s->count, 4);
  cr_assert_eq(s->status[0], 200);
  cr_assert_str_eq(s->body[0], "{\"results\":[3]}");
  cr_assert(s->keep_alive[0]);
  cr_assert_eq(s->status[1], 502);
  cr_assert_eq(s->body_len[1], 20);
  cr_assert_eq(s->status[2], 201);
  cr_assert_str_eq(s->body[2], "{\"id\":\"x\"}");
  cr_assert_eq(s->status[3], 503);
  cr_assert(!s->keep_alive[3]);
}

Test(bench_http, pipelined_responses_in_one_read) {
  wp_bench_resp_parser *p;
  cr_assert_eq(wp_bench_resp_parser_create(&p), 0);
  seen s = {0};
  cr_assert_eq(wp_bench_resp_parser_feed(p, pipelined, sizeof(pipelined) - 1, record, &s), 0);
  check_pipelined(&s);
  wp_bench_resp_parser_destroy(p);
}

Test(bench_http, every_split_point) {
  size_t len = sizeof(pipelined) - 1;
  for (size_t cut = 1; cut < len; cut++) {
    wp_bench_resp_parser *p;
    cr_assert_eq(wp_bench_resp_parser_create(&p), 0);
    seen s = {0};
    cr_assert_eq(wp_bench_resp_parser_feed(p, pipelined, cut, record, &s), 0);
    cr_assert_eq(wp_bench_resp_parser_feed(p, pipelined + cut, len - cut, record, &s), 0);
    check_pipelined(&s);
    wp_bench_resp_parser_destroy(p);
  }
}

Test(bench_http, in_response_and_stop) {
  wp_bench_resp_parser *p;
  cr_assert_eq(wp_bench_resp_parser_create(&p), 0);
  seen s = {.stop_after = 1};
  cr_assert(!wp_bench_resp_parser_in_response(p));
  cr_assert_eq(wp_bench_resp_parser_feed(p, pipelined, 30, record, &s), 0);
  cr_assert(wp_bench_resp_parser_in_response(p));
  cr_assert_eq(wp_bench_resp_parser_feed(p, pipelined + 30, sizeof(pipelined) - 31, record, &s), 1);
  cr_assert_eq(s.count, 1, "nothing after the stop is delivered");
  cr_assert_eq(wp_bench_resp_parser_feed(p, "x", 1, record, &s), 1, "a stopped parser stays so");
  wp_bench_resp_parser_destroy(p);
}

Test(bench_http, long_body_is_counted_not_kept) {
  wp_bench_resp_parser *p;
  cr_assert_eq(wp_bench_resp_parser_create(&p), 0);
  wp_buf msg;
  wp_buf_init(&msg);
  wp_buf_appendf(&msg, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 10000);
  for (int i = 0; i < 10000; i++)
    wp_buf_append(&msg, "z", 1);
  seen s = {0};
  cr_assert_eq(wp_bench_resp_parser_feed(p, msg.data, msg.len, record, &s), 0);
  cr_assert_eq(s.count, 1);
  cr_assert_eq(s.body_len[0], 10000);
  wp_buf_free(&msg);
  wp_bench_resp_parser_destroy(p);
}

Test(bench_http, garbage_is_an_error) {
  wp_bench_resp_parser *p;
  cr_assert_eq(wp_bench_resp_parser_create(&p), 0);
  seen s = {0};
  const char junk[] = "SSH-2.0-OpenSSH\r\n";
  cr_assert_eq(wp_bench_resp_parser_feed(p, junk, sizeof(junk) - 1, record, &s), WP_EBAD_REQUEST);
  cr_assert_eq(s.count, 0);
  wp_bench_resp_parser_destroy(p);
}

Test(bench_http, instance_id) {
  char id[33];
  const char ok[] = "{\"id\":\"9f2c00\",\"module\":\"add\"}";
  cr_assert_eq(wp_bench_parse_instance_id(ok, strlen(ok), id, sizeof(id)), 0);
  cr_assert_str_eq(id, "9f2c00");
  cr_assert_eq(wp_bench_parse_instance_id("{}", 2, id, sizeof(id)), WP_EBAD_REQUEST);
  cr_assert_eq(wp_bench_parse_instance_id("{\"id\":5}", 8, id, sizeof(id)), WP_EBAD_REQUEST);
  cr_assert_eq(wp_bench_parse_instance_id("not json", 8, id, sizeof(id)), WP_EBAD_REQUEST);
  cr_assert_eq(wp_bench_parse_instance_id(ok, strlen(ok), id, 4), WP_EBAD_REQUEST, "too long");
}
