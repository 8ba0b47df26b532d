/* buf.c — wp_buf, the growable byte buffer of proto/.
 *
 * Requests, responses, JSON and decoded path segments are all appended to a
 * wp_buf. It keeps a NUL after the last byte so text can be handed to printf
 * or strcmp, while the length stays authoritative for binary content.
 * Growth doubles, so appending n bytes one at a time costs O(n).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proto_internal.h"

void wp_buf_init(wp_buf *buf) {
  buf->data = NULL;
  buf->len = 0;
  buf->cap = 0;
}

void wp_buf_free(wp_buf *buf) {
  free(buf->data);
  wp_buf_init(buf);
}

void wp_buf_reset(wp_buf *buf) {
  buf->len = 0;
  if (buf->data != NULL)
    buf->data[0] = '\0';
}

int wp_buf_reserve(wp_buf *buf, size_t extra) {
  if (extra > SIZE_MAX - buf->len - 1)
    return WP_ENOMEM;
  size_t need = buf->len + extra + 1; /* + the NUL */
  if (need <= buf->cap)
    return 0;
  size_t cap = buf->cap < 64 ? 64 : buf->cap;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  char *data = realloc(buf->data, cap);
  if (data == NULL)
    return WP_ENOMEM;
  if (buf->data == NULL)
    data[0] = '\0';
  buf->data = data;
  buf->cap = cap;
  return 0;
}

int wp_buf_append(wp_buf *buf, const void *data, size_t len) {
  int rc = wp_buf_reserve(buf, len);
  if (rc != 0)
    return rc;
  if (len > 0)
    memcpy(buf->data + buf->len, data, len);
  buf->len += len;
  buf->data[buf->len] = '\0';
  return 0;
}

int wp_buf_append_str(wp_buf *buf, const char *str) {
  return wp_buf_append(buf, str, strlen(str));
}

int wp_buf_appendf(wp_buf *buf, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0)
    return WP_EINVAL;
  if ((size_t)n < sizeof(small))
    return wp_buf_append(buf, small, (size_t)n);

  int rc = wp_buf_reserve(buf, (size_t)n);
  if (rc != 0)
    return rc;
  va_start(ap, fmt);
  vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  buf->len += (size_t)n;
  return 0;
}

void wp_buf_consume(wp_buf *buf, size_t len) {
  if (len >= buf->len) {
    wp_buf_reset(buf);
    return;
  }
  memmove(buf->data, buf->data + len, buf->len - len);
  buf->len -= len;
  buf->data[buf->len] = '\0';
}

bool wp__ascii_ieq(const char *a, size_t alen, const char *b) {
  size_t i = 0;
  for (; i < alen; i++) {
    if (b[i] == '\0' || wp__ascii_lower(a[i]) != wp__ascii_lower(b[i]))
      return false;
  }
  return b[i] == '\0';
}

bool wp__header_has_token(const char *value, size_t len, const char *token) {
  size_t i = 0;
  while (i < len) {
    while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
      i++;
    size_t start = i;
    while (i < len && value[i] != ',')
      i++;
    size_t end = i;
    while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
      end--;
    if (end > start && wp__ascii_ieq(value + start, end - start, token))
      return true;
  }
  return false;
}

const wp_header *wp__header_find(const wp_header *headers, size_t count, const char *name) {
  for (size_t i = 0; i < count; i++) {
    if (wp__ascii_ieq(headers[i].name, headers[i].name_len, name))
      return &headers[i];
  }
  return NULL;
}

const wp_header *wp_header_find(const wp_header *headers, size_t count, const char *name) {
  return wp__header_find(headers, count, name);
}
