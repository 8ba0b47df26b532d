/* json.c — jansson helpers shared by the daemon, the CLI and the bench tool.
 *
 * Two sides of one contract (docs/API.md): the daemon encodes bodies and
 * the {"error":{...}} shape, the client decodes them back into WP_E* codes
 * so the CLI can print the daemon's message and exit with a meaningful
 * status. Also base64, which the run endpoint uses to carry arbitrary
 * stderr bytes in a header, and the CLI's typing of command-line
 * arguments into JSON numbers.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proto_internal.h"

int wp_json_dump(wp_buf *out, const json_t *value) {
  const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
  size_t need = json_dumpb(value, NULL, 0, flags);
  if (need == 0)
    return WP_EINVAL;
  int rc = wp_buf_reserve(out, need);
  if (rc != 0)
    return rc;
  if (json_dumpb(value, out->data + out->len, need, flags) != need)
    return WP_EINVAL;
  out->len += need;
  out->data[out->len] = '\0';
  return 0;
}

int wp_json_load(const char *data, size_t len, json_t **out, char *why, size_t why_len) {
  json_error_t error;
  *out = json_loadb(data, len, JSON_DECODE_ANY, &error);
  if (*out != NULL)
    return 0;
  if (why != NULL && why_len > 0)
    snprintf(why, why_len, "invalid JSON at line %d column %d: %s", error.line, error.column,
             error.text);
  return WP_EBAD_REQUEST;
}

/* A JSON string from arbitrary bytes: error messages may quote export names
 * or guest output that is not UTF-8, which jansson refuses; such bytes are
 * replaced by '?' rather than losing the whole message. */
static json_t *string_lossy(const char *text) {
  json_t *s = json_string(text);
  if (s != NULL)
    return s;
  char *copy = strdup(text);
  if (copy == NULL)
    return NULL;
  for (char *c = copy; *c; c++) {
    if ((unsigned char)*c >= 0x80)
      *c = '?';
  }
  s = json_string(copy);
  free(copy);
  return s;
}

int wp_name_text(wp_buf *out, const char *name, size_t len) {
  /* jansson's own UTF-8 check; a NUL would end the message early. */
  json_t *probe = memchr(name, 0, len) == NULL ? json_stringn(name, len) : NULL;
  if (probe != NULL) {
    json_decref(probe);
    return wp_buf_append(out, name, len) == 0 ? 0 : WP_ENOMEM;
  }
  if (wp_buf_append_str(out, "0x") != 0)
    return WP_ENOMEM;
  for (size_t i = 0; i < len; i++) {
    if (wp_buf_appendf(out, "%02x", (unsigned char)name[i]) != 0)
      return WP_ENOMEM;
  }
  return 0;
}

int wp_json_error_body(wp_buf *out, int code, const char *message) {
  json_t *inner = json_object();
  json_t *outer = json_object();
  json_t *msg = string_lossy(message != NULL ? message : wp_strerror(code));
  int rc = WP_ENOMEM;
  if (inner != NULL && outer != NULL && msg != NULL &&
      json_object_set_new(inner, "code", json_string(wp_err_name(code))) == 0 &&
      json_object_set(inner, "message", msg) == 0 && json_object_set(outer, "error", inner) == 0)
    rc = wp_json_dump(out, outer);
  json_decref(msg);
  json_decref(inner);
  json_decref(outer);
  return rc;
}

int wp_err_from_name(const char *name, int *code) {
  if (strcmp(name, "ok") == 0) {
    *code = 0;
    return 0;
  }
#define WP__FROM_NAME(n, num, str, status, msg)                                                    \
  if (strcmp(name, str) == 0) {                                                                    \
    *code = -(num);                                                                                \
    return 0;                                                                                      \
  }
  WP_ERRNO_MAP(WP__FROM_NAME)
#undef WP__FROM_NAME
  return WP_EINVAL;
}

/* The code a client assumes when the body is not one of our JSON errors
 * (a proxy in between, or a plain-text answer). */
static int code_from_status(int status) {
  switch (status) {
  case 400: return WP_EBAD_REQUEST;
  case 403: return WP_EFORBIDDEN;
  case 404: return WP_ENOT_FOUND;
  case 405: return WP_EMETHOD;
  case 409: return WP_ECONFLICT;
  case 413: return WP_EPAYLOAD_TOO_LARGE;
  case 431: return WP_EHEADERS_TOO_LARGE;
  case 503: return WP_EQUEUE_FULL;
  case 504: return WP_ETIMEOUT;
  default: return status >= 200 && status < 300 ? 0 : WP_ESYS;
  }
}

int wp_json_error_parse(int status, const char *body, size_t len, wp_api_error *out) {
  memset(out, 0, sizeof(*out));
  json_t *root = json_loadb(body, len, 0, NULL);
  json_t *error = root ? json_object_get(root, "error") : NULL;
  const char *name = json_string_value(json_object_get(error, "code"));
  const char *message = json_string_value(json_object_get(error, "message"));
  if (name != NULL) {
    snprintf(out->name, sizeof(out->name), "%s", name);
    if (wp_err_from_name(name, &out->code) != 0)
      out->code = WP_ESYS;
    snprintf(out->message, sizeof(out->message), "%s", message ? message : wp_strerror(out->code));
    json_decref(root);
    return 0;
  }
  json_decref(root);

  snprintf(out->name, sizeof(out->name), "http_%d", status);
  out->code = code_from_status(status);
  /* Keep the printable start of a non-JSON body as the message. */
  size_t n = 0;
  for (size_t i = 0; i < len && n + 1 < sizeof(out->message); i++) {
    unsigned char c = (unsigned char)body[i];
    if (c == '\n' || c == '\r') {
      if (n > 0)
        break;
      continue;
    }
    out->message[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  out->message[n] = '\0';
  if (n == 0)
    snprintf(out->message, sizeof(out->message), "%s", wp_http_reason(status));
  return 0;
}

int wp_json_call_args(const json_t *body, json_t **args, char *why, size_t why_len) {
  *args = NULL;
  if (body == NULL) {
    *args = json_array();
    return *args ? 0 : WP_ENOMEM;
  }
  if (!json_is_object(body)) {
    if (why != NULL && why_len > 0)
      snprintf(why, why_len, "request body must be a JSON object {\"args\":[...]}");
    return WP_EBAD_REQUEST;
  }
  json_t *found = json_object_get(body, "args");
  if (found == NULL) {
    *args = json_array();
    return *args ? 0 : WP_ENOMEM;
  }
  if (!json_is_array(found)) {
    if (why != NULL && why_len > 0)
      snprintf(why, why_len, "\"args\" must be a JSON array");
    return WP_EBAD_REQUEST;
  }
  *args = json_incref(found);
  return 0;
}

/* text is entirely an integer: [+-]digits, or [+-]0x hexdigits. */
static bool parse_integer(const char *text, json_int_t *out) {
  const char *p = text;
  bool negative = false;
  if (*p == '+' || *p == '-')
    negative = *p++ == '-';
  int base = 10;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
    base = 16;
    p += 2;
  }
  if (!isxdigit((unsigned char)*p))
    return false;
  for (const char *q = p; *q; q++) {
    if (base == 10 ? !isdigit((unsigned char)*q) : !isxdigit((unsigned char)*q))
      return false;
  }
  errno = 0;
  char *end = NULL;
  unsigned long long magnitude = strtoull(p, &end, base);
  if (errno != 0 || *end != '\0')
    return false;
  if (negative) {
    if (magnitude > (unsigned long long)INT64_MAX + 1)
      return false;
    *out = (json_int_t)(0 - magnitude); /* two's complement, INT64_MIN included */
    return true;
  }
  /* Above INT64_MAX: keep the bit pattern, which is what an i64 guest
   * parameter receives for a u64 literal. */
  *out = (json_int_t)magnitude;
  return true;
}

json_t *wp_json_args_from_strings(int argc, char **argv) {
  json_t *array = json_array();
  json_t *body = json_object();
  if (array == NULL || body == NULL || json_object_set(body, "args", array) != 0)
    goto fail;
  for (int i = 0; i < argc; i++) {
    const char *text = argv[i];
    json_int_t integer;
    json_t *value = NULL;
    if (parse_integer(text, &integer)) {
      value = json_integer(integer);
    } else {
      char *end = NULL;
      double real = strtod(text, &end);
      if (*text != '\0' && !isspace((unsigned char)*text) && *end == '\0' && isfinite(real))
        value = json_real(real);
      else
        value = string_lossy(text);
    }
    if (value == NULL || json_array_append_new(array, value) != 0)
      goto fail;
  }
  json_decref(array);
  return body;
fail:
  json_decref(array);
  json_decref(body);
  return NULL;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int wp_base64_encode(wp_buf *out, const void *data, size_t len) {
  const unsigned char *in = data;
  int rc = wp_buf_reserve(out, (len + 2) / 3 * 4);
  if (rc != 0)
    return rc;
  char *o = out->data + out->len;
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
    *o++ = b64_alphabet[v >> 18];
    *o++ = b64_alphabet[(v >> 12) & 63];
    *o++ = b64_alphabet[(v >> 6) & 63];
    *o++ = b64_alphabet[v & 63];
  }
  if (i < len) {
    unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0);
    *o++ = b64_alphabet[v >> 18];
    *o++ = b64_alphabet[(v >> 12) & 63];
    *o++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  out->len = (size_t)(o - out->data);
  out->data[out->len] = '\0';
  return 0;
}

static int b64_value(char c) {
  const char *at = c ? strchr(b64_alphabet, c) : NULL;
  return at ? (int)(at - b64_alphabet) : -1;
}

int wp_base64_decode(wp_buf *out, const char *text, size_t len) {
  if (len % 4 != 0)
    return WP_EINVAL;
  int rc = wp_buf_reserve(out, len / 4 * 3);
  if (rc != 0)
    return rc;
  size_t start = out->len;
  for (size_t i = 0; i < len; i += 4) {
    bool last = i + 4 == len;
    int pad = 0;
    if (last && text[i + 3] == '=')
      pad = text[i + 2] == '=' ? 2 : 1;
    int v[4];
    for (int k = 0; k < 4 - pad; k++) {
      v[k] = b64_value(text[i + k]);
      if (v[k] < 0)
        goto bad;
    }
    for (int k = 4 - pad; k < 4; k++)
      v[k] = 0;
    unsigned bits =
        (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
    out->data[out->len++] = (char)(bits >> 16);
    if (pad < 2)
      out->data[out->len++] = (char)(bits >> 8);
    if (pad < 1)
      out->data[out->len++] = (char)bits;
  }
  out->data[out->len] = '\0';
  return 0;
bad:
  out->len = start;
  out->data[start] = '\0';
  return WP_EINVAL;
}
