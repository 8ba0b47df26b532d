/* http_response.c — HTTP/1.1 responses as bytes in a caller-owned wp_buf.
 *
 * The daemon builds every answer here, so the framing rules live in one
 * place: a Content-Length on every response (the daemon never streams, and
 * a length lets the client keep the connection), an explicit Connection
 * header so HTTP/1.0 clients and proxies agree on whether it stays open,
 * and header values checked for CR/LF so no caller can split a response.
 * Error responses share one JSON shape; see docs/API.md.
 */
#include <string.h>

#include "proto.h"
#include "proto_internal.h"

const char *wp_http_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 411: return "Length Required";
  case 413: return "Payload Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 422: return "Unprocessable Entity";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}

static bool has_crlf(const char *text, size_t len) {
  return memchr(text, '\r', len) != NULL || memchr(text, '\n', len) != NULL;
}

int wp_response_write_head(wp_buf *out, const wp_response *resp) {
  if (resp->status < 100 || resp->status > 999)
    return WP_EINVAL;
  if (resp->content_type != NULL && has_crlf(resp->content_type, strlen(resp->content_type)))
    return WP_EINVAL;
  for (size_t i = 0; i < resp->header_count; i++) {
    const wp_header *h = &resp->headers[i];
    if (h->name_len == 0 || has_crlf(h->name, h->name_len) ||
        memchr(h->name, ':', h->name_len) != NULL || has_crlf(h->value, h->value_len))
      return WP_EINVAL;
  }

  size_t start = out->len;
  int rc = wp_buf_appendf(out, "HTTP/1.1 %d %s\r\n", resp->status, wp_http_reason(resp->status));
  if (rc == 0 && resp->content_type != NULL)
    rc = wp_buf_appendf(out, "Content-Type: %s\r\n", resp->content_type);
  if (rc == 0)
    rc = wp_buf_appendf(out, "Content-Length: %zu\r\nConnection: %s\r\n", resp->body_len,
                        resp->keep_alive ? "keep-alive" : "close");
  for (size_t i = 0; i < resp->header_count && rc == 0; i++) {
    const wp_header *h = &resp->headers[i];
    rc = wp_buf_append(out, h->name, h->name_len);
    if (rc == 0)
      rc = wp_buf_append(out, ": ", 2);
    if (rc == 0)
      rc = wp_buf_append(out, h->value, h->value_len);
    if (rc == 0)
      rc = wp_buf_append(out, "\r\n", 2);
  }
  if (rc == 0)
    rc = wp_buf_append(out, "\r\n", 2);
  if (rc != 0) {
    out->len = start; /* never leave half a head behind */
    if (out->data != NULL)
      out->data[start] = '\0';
  }
  return rc;
}

int wp_response_write(wp_buf *out, const wp_response *resp) {
  size_t start = out->len;
  int rc = wp_response_write_head(out, resp);
  if (rc != 0 || resp->head_only || resp->body_len == 0)
    return rc;
  rc = wp_buf_append(out, resp->body, resp->body_len);
  if (rc != 0) {
    out->len = start;
    out->data[start] = '\0';
  }
  return rc;
}

int wp_response_write_error(wp_buf *out, int code, const char *message, bool keep_alive,
                            unsigned retry_after_s, unsigned allow) {
  wp_buf body;
  wp_buf_init(&body);
  wp_buf extra; /* values of the extra headers */
  wp_buf_init(&extra);
  wp_header headers[2];
  size_t header_count = 0;

  int rc = wp_json_error_body(&body, code, message);
  if (rc == 0 &&
      (code == WP_EQUEUE_FULL || code == WP_EPOOL_EXHAUSTED || code == WP_ESHUTTING_DOWN)) {
    rc = wp_buf_appendf(&extra, "%u", retry_after_s == 0 ? 1u : retry_after_s);
    headers[header_count++] = (wp_header){"Retry-After", 11, NULL, extra.len};
  }
  size_t allow_off = extra.len;
  if (rc == 0 && code == WP_EMETHOD && allow != 0) {
    rc = wp_route_allow_header(allow, &extra);
    headers[header_count++] = (wp_header){"Allow", 5, NULL, extra.len - allow_off};
  }
  if (rc == 0) {
    /* Values point into extra only now that it has stopped growing. */
    size_t off = 0;
    for (size_t i = 0; i < header_count; i++) {
      headers[i].value = extra.data + off;
      off += headers[i].value_len;
    }
    wp_response resp = {
        .status = wp_err_http_status(code),
        .content_type = "application/json",
        .keep_alive = keep_alive,
        .headers = headers,
        .header_count = header_count,
        .body = body.data,
        .body_len = body.len,
    };
    rc = wp_response_write(out, &resp);
  }
  wp_buf_free(&body);
  wp_buf_free(&extra);
  return rc;
}
