/* bench_http.c — request bytes for each workload and the response parser.
 *
 * Every request carries Host and Content-Length (also 0, so the daemon never
 * waits for a body), and no Connection header: HTTP/1.1 keeps it alive.
 */
#include "bench_http.h"

#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "wp_errno.h"

static int append_head(wp_buf *out, const char *method, const wp_buf *path, const char *type,
                       size_t body_len, unsigned deadline_ms) {
  int rc = wp_buf_appendf(out, "%s %s HTTP/1.1\r\nHost: localhost\r\n", method, path->data);
  if (rc == 0 && type != NULL)
    rc = wp_buf_appendf(out, "Content-Type: %s\r\n", type);
  if (rc == 0 && deadline_ms > 0)
    rc = wp_buf_appendf(out, "X-Wasmpool-Deadline-Ms: %u\r\n", deadline_ms);
  if (rc == 0)
    rc = wp_buf_appendf(out, "Content-Length: %zu\r\n\r\n", body_len);
  return rc;
}

static int append_segment(wp_buf *path, const char *literal, const char *segment) {
  int rc = wp_buf_append_str(path, literal);
  if (rc == 0)
    rc = wp_percent_encode(path, segment, strlen(segment));
  return rc;
}

int wp_bench_request_build(const wp_bench_entry *e, const char *instance_id, wp_buf *out) {
  wp_buf path, body;
  wp_buf_init(&path);
  wp_buf_init(&body);
  const char *type = NULL;
  int rc = 0;
  switch (e->kind) {
  case WP_BENCH_CALL:
  case WP_BENCH_INSTANCE_CALL:
    if (e->kind == WP_BENCH_CALL)
      rc = append_segment(&path, "/v1/modules/", e->module);
    else if (instance_id == NULL)
      rc = WP_EINVAL;
    else
      rc = append_segment(&path, "/v1/instances/", instance_id);
    if (rc == 0)
      rc = append_segment(&path, "/call/", e->export_name);
    if (rc == 0) {
      json_t *doc = json_pack("{sO}", "args", e->args ? e->args : json_array());
      rc = doc ? wp_json_dump(&body, doc) : WP_ENOMEM;
      json_decref(doc);
    }
    type = "application/json";
    break;
  case WP_BENCH_RUN:
    rc = append_segment(&path, "/v1/modules/", e->module);
    if (rc == 0)
      rc = wp_buf_append_str(&path, "/run");
    for (size_t i = 0; rc == 0 && e->args != NULL && i < json_array_size(e->args); i++) {
      json_t *arg = json_array_get(e->args, i);
      rc = wp_buf_append_str(&path, i == 0 ? "?arg=" : "&arg=");
      if (rc == 0)
        rc = wp_percent_encode(&path, json_string_value(arg), json_string_length(arg));
    }
    if (rc == 0 && e->body_len > 0)
      rc = wp_buf_append(&body, e->body, e->body_len);
    type = "application/octet-stream";
    break;
  case WP_BENCH_INSTANTIATE:
    rc = append_segment(&path, "/v1/modules/", e->module);
    if (rc == 0)
      rc = wp_buf_append_str(&path, "/instances");
    break;
  default: rc = WP_EINVAL;
  }
  if (rc == 0)
    rc = append_head(out, "POST", &path, type, body.len, e->deadline_ms);
  if (rc == 0 && body.len > 0)
    rc = wp_buf_append(out, body.data, body.len);
  wp_buf_free(&path);
  wp_buf_free(&body);
  return rc;
}

int wp_bench_request_release(const char *instance_id, size_t id_len, wp_buf *out) {
  wp_buf path;
  wp_buf_init(&path);
  int rc = wp_buf_append_str(&path, "/v1/instances/");
  if (rc == 0)
    rc = wp_percent_encode(&path, instance_id, id_len);
  if (rc == 0)
    rc = append_head(out, "DELETE", &path, NULL, 0, 0);
  wp_buf_free(&path);
  return rc;
}

struct wp_bench_resp_parser {
  http_parser hp;
  http_parser_settings settings;
  wp_bench_response_cb cb;
  void *ctx;
  bool in_response;
  bool stopped;
  size_t body_len;
  size_t body_kept;
  char body[WP_BENCH_BODY_KEEP];
};

static int on_message_begin(http_parser *hp) {
  wp_bench_resp_parser *p = hp->data;
  p->in_response = true;
  p->body_len = 0;
  p->body_kept = 0;
  return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len) {
  wp_bench_resp_parser *p = hp->data;
  size_t room = WP_BENCH_BODY_KEEP - p->body_kept;
  size_t keep = len < room ? len : room;
  memcpy(p->body + p->body_kept, at, keep);
  p->body_kept += keep;
  p->body_len += len;
  return 0;
}

static int on_message_complete(http_parser *hp) {
  wp_bench_resp_parser *p = hp->data;
  p->in_response = false;
  wp_bench_response resp = {
      .status = (int)hp->status_code,
      .keep_alive = http_should_keep_alive(hp) != 0,
      .body = p->body,
      .body_kept = p->body_kept,
      .body_len = p->body_len,
  };
  if (p->cb(p->ctx, &resp) != 0) {
    p->stopped = true;
    return 1;
  }
  return 0;
}

int wp_bench_resp_parser_create(wp_bench_resp_parser **out) {
  wp_bench_resp_parser *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return WP_ENOMEM;
  http_parser_init(&p->hp, HTTP_RESPONSE);
  p->hp.data = p;
  http_parser_settings_init(&p->settings);
  p->settings.on_message_begin = on_message_begin;
  p->settings.on_body = on_body;
  p->settings.on_message_complete = on_message_complete;
  *out = p;
  return 0;
}

void wp_bench_resp_parser_destroy(wp_bench_resp_parser *parser) {
  free(parser);
}

int wp_bench_resp_parser_feed(wp_bench_resp_parser *p, const char *data, size_t len,
                              wp_bench_response_cb cb, void *ctx) {
  if (p->stopped)
    return 1;
  p->cb = cb;
  p->ctx = ctx;
  size_t used = http_parser_execute(&p->hp, &p->settings, data, len);
  if (p->stopped)
    return 1;
  if (HTTP_PARSER_ERRNO(&p->hp) != HPE_OK || used != len)
    return WP_EBAD_REQUEST;
  return 0;
}

bool wp_bench_resp_parser_in_response(const wp_bench_resp_parser *parser) {
  return parser->in_response;
}

int wp_bench_parse_instance_id(const char *body, size_t len, char *id, size_t cap) {
  json_t *doc = json_loadb(body, len, 0, NULL);
  json_t *value = json_object_get(doc, "id");
  if (!json_is_string(value) || json_string_length(value) == 0 ||
      json_string_length(value) >= cap) {
    json_decref(doc);
    return WP_EBAD_REQUEST;
  }
  memcpy(id, json_string_value(value), json_string_length(value) + 1);
  json_decref(doc);
  return 0;
}
