/* cgi.c — the environment and argv of a `run` request (CGI/WAGI style).
 *
 * A WASI command sees its HTTP request the way a CGI script does (RFC
 * 3875, and the WAGI conventions built on it): meta-variables in the
 * environment, the body on stdin. The daemon builds both from these two
 * functions so that the contract in docs/API.md has a single
 * implementation, and tests can check it without running a guest.
 *
 * Request headers become HTTP_<NAME>. Two are left out on purpose: the
 * "Proxy" header, because HTTP_PROXY in a guest's environment would steer
 * any HTTP library it uses (the "httpoxy" attack), and names with
 * characters other than letters, digits and '-', because "X_Foo" and
 * "X-Foo" would both map to HTTP_X_FOO and one could shadow the other.
 */
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "proto_internal.h"

static int add_var(wp_buf *out, size_t *count, const char *key, const char *value,
                   size_t value_len) {
  int rc = wp_buf_append_str(out, key);
  if (rc == 0)
    rc = wp_buf_append(out, "=", 1);
  if (rc == 0)
    rc = wp_buf_append(out, value, value_len);
  if (rc == 0)
    rc = wp_buf_append(out, "", 1);
  if (rc == 0)
    (*count)++;
  return rc;
}

static bool header_name_cgi_safe(const wp_header *h) {
  for (size_t i = 0; i < h->name_len; i++) {
    char c = h->name[i];
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok)
      return false;
  }
  return h->name_len > 0;
}

static bool same_name(const wp_header *a, const wp_header *b) {
  if (a->name_len != b->name_len)
    return false;
  for (size_t i = 0; i < a->name_len; i++) {
    if (wp__ascii_lower(a->name[i]) != wp__ascii_lower(b->name[i]))
      return false;
  }
  return true;
}

static bool skipped_header(const wp_header *h) {
  return !header_name_cgi_safe(h) || memchr(h->value, '\0', h->value_len) != NULL ||
         wp__ascii_ieq(h->name, h->name_len, "content-type") ||
         wp__ascii_ieq(h->name, h->name_len, "content-length") ||
         wp__ascii_ieq(h->name, h->name_len, "proxy");
}

int wp_cgi_env(const wp_request *req, const wp_route *route, wp_buf *out, size_t *count) {
  *count = 0;
  char number[32];
  int rc = 0;
  const wp_header *type = wp_request_header(req, "content-type");

  rc = add_var(out, count, "GATEWAY_INTERFACE", "CGI/1.1", 7);
  if (rc == 0)
    rc = add_var(out, count, "SERVER_SOFTWARE", "wasmpool", 8);
  if (rc == 0) {
    int n = snprintf(number, sizeof(number), "HTTP/%u.%u", req->http_major, req->http_minor);
    rc = add_var(out, count, "SERVER_PROTOCOL", number, (size_t)n);
  }
  if (rc == 0)
    rc = add_var(out, count, "REQUEST_METHOD", req->method_name, strlen(req->method_name));
  if (rc == 0)
    rc = add_var(out, count, "REQUEST_URI", req->target, req->target_len);
  if (rc == 0) {
    /* SCRIPT_NAME is the canonical path of the endpoint, encoded again so
     * SCRIPT_NAME + PATH_INFO reads as a path. */
    rc = wp_buf_append_str(out, "SCRIPT_NAME=/v1/modules/");
    if (rc == 0)
      rc = wp_percent_encode(out, route->module.data, route->module.len);
    if (rc == 0)
      rc = wp_buf_append(out, "/run", 5); /* with the NUL */
    if (rc == 0)
      (*count)++;
  }
  if (rc == 0) {
    if (memchr(route->path_info.data ? route->path_info.data : "", '\0', route->path_info.len))
      return WP_EBAD_REQUEST;
    rc = add_var(out, count, "PATH_INFO", route->path_info.data ? route->path_info.data : "",
                 route->path_info.len);
  }
  if (rc == 0)
    rc = add_var(out, count, "QUERY_STRING", req->query, req->query_len);
  if (rc == 0)
    rc = add_var(out, count, "CONTENT_TYPE", type ? type->value : "", type ? type->value_len : 0);
  if (rc == 0) {
    int n = snprintf(number, sizeof(number), "%zu", req->body_len);
    rc = add_var(out, count, "CONTENT_LENGTH", number, (size_t)n);
  }
  if (rc == 0)
    rc = add_var(out, count, "WASMPOOL_MODULE", route->module.data, route->module.len);

  for (size_t i = 0; i < req->header_count && rc == 0; i++) {
    const wp_header *h = &req->headers[i];
    if (skipped_header(h))
      continue;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = !skipped_header(&req->headers[j]) && same_name(h, &req->headers[j]);
    if (seen)
      continue; /* already emitted, joined with this one */

    rc = wp_buf_append(out, "HTTP_", 5);
    for (size_t k = 0; k < h->name_len && rc == 0; k++) {
      char c = h->name[k];
      c = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
      rc = wp_buf_append(out, &c, 1);
    }
    if (rc == 0)
      rc = wp_buf_append(out, "=", 1);
    /* Repeated headers join with ", " as RFC 3875 asks. */
    bool first = true;
    for (size_t j = i; j < req->header_count && rc == 0; j++) {
      const wp_header *other = &req->headers[j];
      if (skipped_header(other) || !same_name(h, other))
        continue;
      if (!first)
        rc = wp_buf_append(out, ", ", 2);
      if (rc == 0)
        rc = wp_buf_append(out, other->value, other->value_len);
      first = false;
    }
    if (rc == 0)
      rc = wp_buf_append(out, "", 1);
    if (rc == 0)
      (*count)++;
  }
  return rc;
}

int wp_cgi_args(const wp_request *req, const wp_route *route, wp_buf *out, size_t *count) {
  *count = 0;
  int rc = wp_buf_append(out, route->module.data, route->module.len);
  if (rc == 0)
    rc = wp_buf_append(out, "", 1);
  if (rc != 0)
    return rc;
  *count = 1;

  wp_buf key, value;
  wp_buf_init(&key);
  wp_buf_init(&value);
  wp_query_iter it;
  wp_query_iter_init(&it, req->query, req->query_len);
  while ((rc = wp_query_next(&it, &key, &value)) == 1) {
    if (strcmp(key.data, "arg") != 0 || key.len != 3)
      continue;
    if (memchr(value.data, '\0', value.len) != NULL) {
      rc = WP_EBAD_REQUEST; /* argv strings cannot hold NUL */
      break;
    }
    rc = wp_buf_append(out, value.data, value.len + 1);
    if (rc != 0)
      break;
    (*count)++;
  }
  wp_buf_free(&key);
  wp_buf_free(&value);
  return rc < 0 ? rc : 0;
}
