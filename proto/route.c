/* route.c — maps a method and an encoded path to an API endpoint.
 *
 * The API has few routes and short paths, so matching is a walk over the
 * raw '/'-separated segments against a table of shapes. Splitting happens
 * before percent-decoding, so an encoded "%2F" inside an export name stays
 * part of that name instead of becoming a separator. Literal segments
 * ("v1", "modules") are compared as sent; parameters are decoded into the
 * route's own storage, and their lengths are what counts: "%00" is a NUL
 * byte that an export name may legitimately contain.
 *
 * Outcome order: an unknown shape is 404 (WP_ENOT_FOUND), a known shape
 * with the wrong method 405 (WP_EMETHOD, with the methods it accepts), and
 * only then are parameters decoded and checked (400, WP_EBAD_REQUEST).
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proto_internal.h"

#define MAX_SEGMENTS 6

/* How a shape's segments are read: a literal, or a parameter slot. */
enum { LIT = 0, P_MODULE, P_INSTANCE, P_EXPORT };

typedef struct route_shape {
  const char *segments[MAX_SEGMENTS]; /* literal text, NULL for a parameter */
  unsigned char kinds[MAX_SEGMENTS];
  size_t segment_count;
  /* Endpoint per method; WP_EP_NONE where the method is not allowed. */
  wp_endpoint get, post, put, del;
} route_shape;

static const route_shape shapes[] = {
    {{"metrics"}, {LIT}, 1, WP_EP_METRICS, 0, 0, 0},
    {{"v1", "health"}, {LIT, LIT}, 2, WP_EP_HEALTH, 0, 0, 0},
    {{"v1", "stats"}, {LIT, LIT}, 2, WP_EP_STATS, 0, 0, 0},
    {{"v1", "modules"}, {LIT, LIT}, 2, WP_EP_MODULE_LIST, 0, 0, 0},
    {{"v1", "modules", NULL},
     {LIT, LIT, P_MODULE},
     3,
     WP_EP_MODULE_GET,
     0,
     WP_EP_MODULE_PUT,
     WP_EP_MODULE_DELETE},
    {{"v1", "modules", NULL, "instances"},
     {LIT, LIT, P_MODULE, LIT},
     4,
     0,
     WP_EP_INSTANCE_CREATE,
     0,
     0},
    {{"v1", "modules", NULL, "run"}, {LIT, LIT, P_MODULE, LIT}, 4, 0, WP_EP_MODULE_RUN, 0, 0},
    {{"v1", "modules", NULL, "call", NULL},
     {LIT, LIT, P_MODULE, LIT, P_EXPORT},
     5,
     0,
     WP_EP_MODULE_CALL,
     0,
     0},
    {{"v1", "instances"}, {LIT, LIT}, 2, WP_EP_INSTANCE_LIST, 0, 0, 0},
    {{"v1", "instances", NULL}, {LIT, LIT, P_INSTANCE}, 3, 0, 0, 0, WP_EP_INSTANCE_DELETE},
    {{"v1", "instances", NULL, "call", NULL},
     {LIT, LIT, P_INSTANCE, LIT, P_EXPORT},
     5,
     0,
     WP_EP_INSTANCE_CALL,
     0,
     0},
};

static const char *const endpoint_names[WP_EP_COUNT] = {
    [WP_EP_NONE] = "none",
    [WP_EP_MODULE_LIST] = "module_list",
    [WP_EP_MODULE_PUT] = "module_put",
    [WP_EP_MODULE_GET] = "module_get",
    [WP_EP_MODULE_DELETE] = "module_delete",
    [WP_EP_INSTANCE_CREATE] = "instance_create",
    [WP_EP_MODULE_CALL] = "module_call",
    [WP_EP_MODULE_RUN] = "module_run",
    [WP_EP_INSTANCE_LIST] = "instance_list",
    [WP_EP_INSTANCE_CALL] = "instance_call",
    [WP_EP_INSTANCE_DELETE] = "instance_delete",
    [WP_EP_STATS] = "stats",
    [WP_EP_METRICS] = "metrics",
    [WP_EP_HEALTH] = "health",
};

const char *wp_endpoint_name(wp_endpoint ep) {
  if ((unsigned)ep >= WP_EP_COUNT)
    return "none";
  return endpoint_names[ep];
}

const char *wp_method_name(wp_method method) {
  switch (method) {
  case WP_METHOD_GET: return "GET";
  case WP_METHOD_HEAD: return "HEAD";
  case WP_METHOD_POST: return "POST";
  case WP_METHOD_PUT: return "PUT";
  case WP_METHOD_DELETE: return "DELETE";
  case WP_METHOD_OPTIONS: return "OPTIONS";
  case WP_METHOD_PATCH: return "PATCH";
  case WP_METHOD_OTHER: break;
  }
  return "OTHER";
}

bool wp_name_valid(const char *name, size_t len) {
  if (len == 0 || len > WP_NAME_MAX)
    return false;
  if (name[0] == '.')
    return false; /* "..", and hidden files in the daemon's module directory */
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int wp_percent_decode(wp_buf *out, const char *src, size_t len, bool plus_is_space) {
  int rc = wp_buf_reserve(out, len);
  if (rc != 0)
    return rc;
  size_t start = out->len;
  for (size_t i = 0; i < len; i++) {
    char c = src[i];
    if (c == '%') {
      int hi = i + 2 < len ? hex_value(src[i + 1]) : -1;
      int lo = i + 2 < len ? hex_value(src[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        out->len = start; /* leave out as it was */
        out->data[out->len] = '\0';
        return WP_EBAD_REQUEST;
      }
      c = (char)(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    out->data[out->len++] = c;
  }
  out->data[out->len] = '\0';
  return 0;
}

int wp_percent_encode(wp_buf *out, const void *src, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *bytes = src;
  int rc = wp_buf_reserve(out, len * 3);
  if (rc != 0)
    return rc;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = bytes[i];
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '~' || c == '-';
    if (unreserved) {
      out->data[out->len++] = (char)c;
    } else {
      out->data[out->len++] = '%';
      out->data[out->len++] = hex[c >> 4];
      out->data[out->len++] = hex[c & 15];
    }
  }
  out->data[out->len] = '\0';
  return 0;
}

void wp_query_iter_init(wp_query_iter *it, const char *query, size_t len) {
  it->pos = query;
  it->end = query + len;
}

int wp_query_next(wp_query_iter *it, wp_buf *key, wp_buf *value) {
  wp_buf_reset(key);
  wp_buf_reset(value);
  while (it->pos < it->end) {
    const char *pair = it->pos;
    const char *amp = memchr(pair, '&', (size_t)(it->end - pair));
    const char *pair_end = amp ? amp : it->end;
    it->pos = amp ? amp + 1 : it->end;
    if (pair_end == pair)
      continue; /* "a=1&&b=2" */
    const char *eq = memchr(pair, '=', (size_t)(pair_end - pair));
    const char *key_end = eq ? eq : pair_end;
    int rc = wp_percent_decode(key, pair, (size_t)(key_end - pair), true);
    if (rc != 0)
      return rc;
    /* Make sure both buffers are non-NULL text even when empty. */
    if ((rc = wp_buf_reserve(key, 0)) != 0 || (rc = wp_buf_reserve(value, 0)) != 0)
      return rc;
    if (eq != NULL) {
      rc = wp_percent_decode(value, eq + 1, (size_t)(pair_end - eq - 1), true);
      if (rc != 0)
        return rc;
    }
    return 1;
  }
  return 0;
}

static bool seg_is(const char *seg, size_t len, const char *literal) {
  return len == strlen(literal) && memcmp(seg, literal, len) == 0;
}

/* The first four segments are v1/modules/{name}/run. */
static bool is_run_prefix(const char *const *seg, const size_t *seg_len) {
  return seg_is(seg[0], seg_len[0], "v1") && seg_is(seg[1], seg_len[1], "modules") &&
         seg_is(seg[3], seg_len[3], "run");
}

static int decode_param(wp_buf *storage, const char *raw, size_t raw_len, size_t *off,
                        size_t *len) {
  *off = storage->len;
  int rc = wp_percent_decode(storage, raw, raw_len, false);
  if (rc != 0)
    return rc;
  *len = storage->len - *off;
  /* A NUL after each parameter, so names can be used as C strings. */
  return wp_buf_append(storage, "", 1);
}

int wp_route_match(wp_method method, const char *path, size_t path_len, wp_route *out) {
  memset(out, 0, sizeof(*out));
  out->why = "no such route";
  if (path_len == 0 || path[0] != '/')
    return WP_ENOT_FOUND;

  /* Raw segments after the leading '/'. */
  const char *seg[MAX_SEGMENTS];
  size_t seg_len[MAX_SEGMENTS];
  size_t count = 0;
  const char *rest = NULL;
  size_t rest_len = 0;
  const char *p = path + 1, *end = path + path_len;
  for (;;) {
    if (count == MAX_SEGMENTS)
      return WP_ENOT_FOUND;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *seg_end = slash ? slash : end;
    seg[count] = p;
    seg_len[count] = (size_t)(seg_end - p);
    count++;
    if (slash == NULL)
      break;
    if (count == 4 && is_run_prefix(seg, seg_len)) {
      rest = slash; /* ".../run/a/b": "/a/b" becomes PATH_INFO */
      rest_len = (size_t)(end - slash);
      break;
    }
    p = slash + 1;
  }

  const route_shape *shape = NULL;
  for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]) && shape == NULL; i++) {
    const route_shape *s = &shapes[i];
    if (s->segment_count != count)
      continue;
    bool match = true;
    for (size_t j = 0; j < count && match; j++) {
      if (s->kinds[j] == LIT)
        match = seg_is(seg[j], seg_len[j], s->segments[j]);
    }
    if (match)
      shape = s;
  }
  if (shape == NULL)
    return WP_ENOT_FOUND;

  wp_endpoint ep = WP_EP_NONE;
  switch (method) {
  case WP_METHOD_GET: ep = shape->get; break;
  case WP_METHOD_HEAD:
    ep = shape->get;
    out->head = true;
    break;
  case WP_METHOD_POST: ep = shape->post; break;
  case WP_METHOD_PUT: ep = shape->put; break;
  case WP_METHOD_DELETE: ep = shape->del; break;
  default: break;
  }
  if (ep == WP_EP_NONE) {
    out->head = false;
    if (shape->get)
      out->allow |= WP_METHOD_BIT(WP_METHOD_GET) | WP_METHOD_BIT(WP_METHOD_HEAD);
    if (shape->post)
      out->allow |= WP_METHOD_BIT(WP_METHOD_POST);
    if (shape->put)
      out->allow |= WP_METHOD_BIT(WP_METHOD_PUT);
    if (shape->del)
      out->allow |= WP_METHOD_BIT(WP_METHOD_DELETE);
    out->why = "method not allowed on this path";
    return WP_EMETHOD;
  }

  wp_buf storage;
  wp_buf_init(&storage);
  size_t off[MAX_SEGMENTS] = {0}, len[MAX_SEGMENTS] = {0};
  int rc = 0;
  for (size_t j = 0; j < count && rc == 0; j++) {
    if (shape->kinds[j] != LIT)
      rc = decode_param(&storage, seg[j], seg_len[j], &off[j], &len[j]);
  }
  if (rc == WP_EBAD_REQUEST)
    out->why = "bad percent-escape in the path";
  for (size_t j = 0; j < count && rc == 0; j++) {
    if (shape->kinds[j] == P_MODULE && !wp_name_valid(storage.data + off[j], len[j])) {
      rc = WP_EBAD_REQUEST;
      out->why = "module name must be " WP_NAME_RULE;
    }
    if (shape->kinds[j] == P_INSTANCE && !wp_name_valid(storage.data + off[j], len[j])) {
      rc = WP_EBAD_REQUEST;
      out->why = "instance id must be " WP_NAME_RULE;
    }
  }
  size_t rest_off = 0, rest_decoded = 0;
  if (rc == 0 && ep == WP_EP_MODULE_RUN) {
    rc = decode_param(&storage, rest ? rest : "", rest_len, &rest_off, &rest_decoded);
    if (rc == WP_EBAD_REQUEST)
      out->why = "bad percent-escape in the path";
  }
  if (rc != 0) {
    wp_buf_free(&storage);
    out->head = false;
    return rc;
  }

  /* Only now take pointers: the buffer no longer moves. */
  for (size_t j = 0; j < count; j++) {
    if (shape->kinds[j] == LIT)
      continue; /* storage.data is NULL for routes without parameters */
    wp_bytes param = {storage.data + off[j], len[j]};
    switch (shape->kinds[j]) {
    case P_MODULE: out->module = param; break;
    case P_INSTANCE: out->instance = param; break;
    case P_EXPORT: out->export_name = param; break;
    default: break;
    }
  }
  if (ep == WP_EP_MODULE_RUN)
    out->path_info = (wp_bytes){storage.data + rest_off, rest_decoded};
  out->storage = storage.data;
  out->endpoint = ep;
  out->why = NULL;
  return 0;
}

void wp_route_free(wp_route *route) {
  free(route->storage);
  memset(route, 0, sizeof(*route));
}

int wp_route_allow_header(unsigned allow, wp_buf *out) {
  static const wp_method order[] = {WP_METHOD_GET,  WP_METHOD_HEAD,   WP_METHOD_POST,
                                    WP_METHOD_PUT,  WP_METHOD_DELETE, WP_METHOD_OPTIONS,
                                    WP_METHOD_PATCH};
  bool first = true;
  for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
    if (!(allow & WP_METHOD_BIT(order[i])))
      continue;
    int rc = wp_buf_appendf(out, "%s%s", first ? "" : ", ", wp_method_name(order[i]));
    if (rc != 0)
      return rc;
    first = false;
  }
  return 0;
}
