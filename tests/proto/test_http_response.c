/* test_http_response.c — the response writer (proto/http_response.c): the
 * exact bytes of responses and JSON errors, header-injection refusal.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "proto.h"

Test(http_response, exact_bytes) {
  wp_buf out;
  wp_buf_init(&out);
  wp_header extra[] = {{"X-Wasmpool-Exit-Code", 20, "0", 1}, {"X-A", 3, "b c", 3}};
  wp_response r = {.status = 200,
                   .content_type = "text/plain",
                   .keep_alive = true,
                   .headers = extra,
                   .header_count = 2,
                   .body = "hi",
                   .body_len = 2};
  cr_assert_eq(wp_response_write(&out, &r), 0);
  cr_assert_str_eq(out.data, "HTTP/1.1 200 OK\r\n"
                             "Content-Type: text/plain\r\n"
                             "Content-Length: 2\r\n"
                             "Connection: keep-alive\r\n"
                             "X-Wasmpool-Exit-Code: 0\r\n"
                             "X-A: b c\r\n"
                             "\r\n"
                             "hi");

  /* Appends; HEAD keeps the length but drops the body; no type, close. */
  size_t before = out.len;
  r = (wp_response){
      .status = 204, .keep_alive = false, .head_only = true, .body = "xyz", .body_len = 3};
  cr_assert_eq(wp_response_write(&out, &r), 0);
  cr_assert_str_eq(out.data + before, "HTTP/1.1 204 No Content\r\n"
                                      "Content-Length: 3\r\n"
                                      "Connection: close\r\n"
                                      "\r\n");
  wp_buf_reset(&out);
  r = (wp_response){.status = 599, .keep_alive = true, .body = "ab", .body_len = 2};
  cr_assert_eq(wp_response_write_head(&out, &r), 0);
  cr_assert_str_eq(out.data, "HTTP/1.1 599 Unknown\r\nContent-Length: 2\r\n"
                             "Connection: keep-alive\r\n\r\n");
  wp_buf_free(&out);
}

Test(http_response, refuses_header_injection) {
  wp_buf out;
  wp_buf_init(&out);
  wp_buf_append_str(&out, "keep");
  wp_header evil[] = {{"X-A", 3, "a\r\nSet-Cookie: x", 16}};
  wp_response r = {.status = 200, .headers = evil, .header_count = 1};
  cr_assert_eq(wp_response_write(&out, &r), WP_EINVAL);
  cr_assert_str_eq(out.data, "keep");
  wp_header evil_name[] = {{"X:A", 3, "v", 1}};
  r.headers = evil_name;
  cr_assert_eq(wp_response_write(&out, &r), WP_EINVAL);
  r = (wp_response){.status = 200, .content_type = "text/plain\nX: y"};
  cr_assert_eq(wp_response_write(&out, &r), WP_EINVAL);
  r = (wp_response){.status = 42};
  cr_assert_eq(wp_response_write(&out, &r), WP_EINVAL);
  cr_assert_str_eq(out.data, "keep");
  wp_buf_free(&out);
}

Test(http_response, json_error_bytes) {
  wp_buf out;
  wp_buf_init(&out);
  cr_assert_eq(wp_response_write_error(&out, WP_ENO_MODULE, "no module \"x\"", true, 0, 0), 0);
  const char *body =
      "{\"error\":{\"code\":\"unknown_module\",\"message\":\"no module \\\"x\\\"\"}}";
  wp_buf expect;
  wp_buf_init(&expect);
  wp_buf_appendf(&expect,
                 "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n%s",
                 strlen(body), body);
  cr_assert_str_eq(out.data, expect.data);

  /* Default message, Retry-After for a full queue, connection closed. */
  wp_buf_reset(&out);
  cr_assert_eq(wp_response_write_error(&out, WP_EQUEUE_FULL, NULL, false, 2, 0), 0);
  body = "{\"error\":{\"code\":\"queue_full\",\"message\":\"request queue full\"}}";
  wp_buf_reset(&expect);
  wp_buf_appendf(&expect,
                 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\nRetry-After: 2\r\n\r\n%s",
                 strlen(body), body);
  cr_assert_str_eq(out.data, expect.data);

  wp_buf_reset(&out);
  cr_assert_eq(wp_response_write_error(&out, WP_EPOOL_EXHAUSTED, NULL, true, 0, 0), 0);
  cr_assert_not_null(strstr(out.data, "\r\nRetry-After: 1\r\n"));
  cr_assert_not_null(strstr(out.data, "HTTP/1.1 503 "));

  wp_buf_reset(&out);
  cr_assert_eq(
      wp_response_write_error(&out, WP_EMETHOD, NULL, true, 0, WP_METHOD_BIT(WP_METHOD_POST)), 0);
  cr_assert_not_null(strstr(out.data, "HTTP/1.1 405 Method Not Allowed\r\n"));
  cr_assert_not_null(strstr(out.data, "\r\nAllow: POST\r\n"));
  cr_assert_null(strstr(out.data, "Retry-After"));

  /* Every code of the table produces its own status and name. */
#define CHECK(name, num, str, status, msg)                                                         \
  wp_buf_reset(&out);                                                                              \
  cr_assert_eq(wp_response_write_error(&out, -(num), NULL, true, 0, 0), 0);                        \
  cr_assert_eq(strncmp(out.data + 9, #status, 3), 0, "%s", str);                                   \
  cr_assert_not_null(strstr(out.data, "\"code\":\"" str "\""));
  WP_ERRNO_MAP(CHECK)
#undef CHECK
  wp_buf_free(&out);
  wp_buf_free(&expect);
}

Test(http_response, reasons) {
  cr_assert_str_eq(wp_http_reason(413), "Payload Too Large");
  cr_assert_str_eq(wp_http_reason(431), "Request Header Fields Too Large");
  cr_assert_str_eq(wp_http_reason(422), "Unprocessable Entity");
  cr_assert_str_eq(wp_http_reason(504), "Gateway Timeout");
}
