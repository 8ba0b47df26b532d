/* http_request.c — the incremental HTTP/1.1 request parser of a connection.
 *
 * A thin owner around http-parser 2.9: http-parser validates the syntax and
 * does the transfer decoding (Content-Length, chunked), calling back with
 * pointers into whatever chunk it was given. Since a chunk may end anywhere,
 * every callback appends to buffers of the request being built; when the
 * message completes, those buffers become one wp_request (one allocation
 * for the struct, the header array and the strings; the body buffer is
 * handed over without a copy) and join a FIFO. Pipelined requests therefore
 * come out in order however the bytes were split.
 *
 * Limits are enforced in the callbacks, so an oversized request fails as
 * soon as it is known to be oversized: the header budget while the headers
 * stream in, a Content-Length over the body limit at headers-complete time
 * (before any body byte), a chunked body when its decoded size passes it.
 * http-parser's own process-wide header cap (80 KiB) is left alone: setting
 * it would be global state; ours is per parser and smaller.
 *
 * Errors are sticky: once the byte stream is bad, the connection cannot be
 * resynchronised, so the daemon answers the error after the requests that
 * completed before it and closes.
 */
#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proto_internal.h"

/* Offsets (not pointers: the buffer moves as it grows) of one header. */
typedef struct field_span {
  size_t name_off, name_len;
  size_t value_off, value_len;
} field_span;

/* The public request plus the private facts wp_request_destroy needs. */
typedef struct request_block {
  wp_request pub; /* first, so a wp_request * is a request_block * */
  char *owned_body;
} request_block;

struct wp_http_parser {
  http_parser hp; /* hp.data points back at this struct */
  wp_http_limits limits;

  int error; /* sticky WP_E*, 0 while the stream is good */
  char error_message[160];
  int callback_error; /* what a callback failed with, read after execute */
  bool closed;        /* a request that is not kept alive completed */

  /* The request being received. */
  bool in_request;
  /* Its request line, captured from the raw bytes: this build of
   * http-parser is not strict (HTTP_PARSER_STRICT=0, as its Makefile's
   * library target builds it) and only checks the 'H' of "HTTP/1.1". */
  enum { LINE_WAIT, LINE_READING, LINE_DONE } line_state;
  wp_buf line;
  /* The header lines after it, scanned from the raw bytes too: this build
   * lets obs-fold (a line starting with whitespace, which some readers join
   * to the previous header and others do not) and a CR that does not end a
   * line through. */
  enum { FIELDS_WAIT, FIELDS_READING, FIELDS_DONE } fields_state;
  bool fields_line_start; /* the next byte starts a header line */
  bool fields_saw_cr;     /* the last byte was a CR: an LF must follow */
  /* A chunked body is ours to decode (chunked.c): http-parser is told the
   * message has no body, and the bytes after the head go to the decoder. */
  bool chunked_body; /* the message in progress is chunked */
  bool in_chunked;   /* its head is done: bytes go to the decoder */
  wp__chunked chunked;
  bool continue_pending; /* Expect: 100-continue, headers done, body not */
  wp_buf url;
  wp_buf fields_text; /* "name\0value\0" for each header */
  field_span *fields;
  size_t field_count, field_cap;
  bool in_value;     /* the last header callback was a value */
  bool headers_done; /* later header callbacks are chunked-body trailers */
  size_t header_bytes;
  wp_buf body;
  bool keep_alive;

  /* Complete requests not yet popped: queue[head..count). */
  wp_request **queue;
  size_t queue_head, queue_count, queue_cap;
};

static void set_error(wp_http_parser *p, int code, const char *message) {
  if (p->error != 0)
    return;
  p->error = code;
  snprintf(p->error_message, sizeof(p->error_message), "%s", message);
}

/* Record a callback failure and tell http-parser to stop. */
static int fail(wp_http_parser *p, int code, const char *message) {
  if (p->callback_error == 0) {
    p->callback_error = code;
    snprintf(p->error_message, sizeof(p->error_message), "%s", message);
  }
  return -1;
}

static int charge_header_bytes(wp_http_parser *p, size_t len) {
  p->header_bytes += len;
  if (p->header_bytes > p->limits.max_header_bytes)
    return fail(p, WP_EHEADERS_TOO_LARGE, "request headers exceed the header size limit");
  return 0;
}

static void reset_message(wp_http_parser *p) {
  wp_buf_reset(&p->url);
  wp_buf_reset(&p->fields_text);
  p->field_count = 0;
  p->in_value = false;
  p->headers_done = false;
  p->header_bytes = 0;
  p->continue_pending = false;
  p->keep_alive = false;
  p->chunked_body = false;
  /* The body buffer was handed to the last request or is still empty. */
  wp_buf_reset(&p->body);
}

static int on_message_begin(http_parser *hp) {
  wp_http_parser *p = hp->data;
  reset_message(p);
  p->in_request = true;
  /* The request line's fixed parts: method, spaces, "HTTP/1.1", CRLF. */
  return charge_header_bytes(p, 16);
}

static int on_url(http_parser *hp, const char *at, size_t len) {
  wp_http_parser *p = hp->data;
  if (charge_header_bytes(p, len) != 0)
    return -1;
  if (wp_buf_append(&p->url, at, len) != 0)
    return fail(p, WP_ENOMEM, "out of memory");
  return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t len) {
  wp_http_parser *p = hp->data;
  if (charge_header_bytes(p, len) != 0)
    return -1;
  if (p->headers_done)
    return 0; /* trailers are counted against the limit, then dropped */
  if (p->field_count == 0 || p->in_value) {
    /* A new header starts: close the previous value, open a span. */
    if (p->field_count > 0 && wp_buf_append(&p->fields_text, "", 1) != 0)
      return fail(p, WP_ENOMEM, "out of memory");
    if (charge_header_bytes(p, 4) != 0) /* ": " and CRLF */
      return -1;
    if (p->field_count == p->field_cap) {
      size_t cap = p->field_cap ? p->field_cap * 2 : 16;
      field_span *fields = realloc(p->fields, cap * sizeof(*fields));
      if (fields == NULL)
        return fail(p, WP_ENOMEM, "out of memory");
      p->fields = fields;
      p->field_cap = cap;
    }
    field_span *f = &p->fields[p->field_count++];
    f->name_off = p->fields_text.len;
    f->name_len = 0;
    f->value_off = 0;
    f->value_len = 0;
    p->in_value = false;
  }
  field_span *f = &p->fields[p->field_count - 1];
  if (wp_buf_append(&p->fields_text, at, len) != 0)
    return fail(p, WP_ENOMEM, "out of memory");
  f->name_len += len;
  return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t len) {
  wp_http_parser *p = hp->data;
  if (charge_header_bytes(p, len) != 0)
    return -1;
  if (p->headers_done)
    return 0;
  field_span *f = &p->fields[p->field_count - 1];
  if (!p->in_value) {
    if (wp_buf_append(&p->fields_text, "", 1) != 0)
      return fail(p, WP_ENOMEM, "out of memory");
    f->value_off = p->fields_text.len;
    p->in_value = true;
  }
  if (wp_buf_append(&p->fields_text, at, len) != 0)
    return fail(p, WP_ENOMEM, "out of memory");
  f->value_len += len;
  return 0;
}

/* Checks the raw bytes of the header lines; stops at the empty line that
 * ends them. WP_EBAD_REQUEST (with the message set) for obs-fold or a CR
 * that is not followed by LF. */
static int scan_fields(wp_http_parser *p, const char *data, size_t len) {
  for (size_t i = 0; i < len && p->fields_state == FIELDS_READING; i++) {
    char c = data[i];
    if (p->fields_saw_cr) {
      p->fields_saw_cr = false;
      if (c != '\n') {
        set_error(p, WP_EBAD_REQUEST, "CR not followed by LF in the request head");
        return WP_EBAD_REQUEST;
      }
    } else if (c == '\r') {
      p->fields_saw_cr = true;
      continue;
    }
    if (c == '\n') {
      if (p->fields_line_start)
        p->fields_state = FIELDS_DONE; /* the empty line */
      p->fields_line_start = true;
      continue;
    }
    if (p->fields_line_start && (c == ' ' || c == '\t')) {
      set_error(p, WP_EBAD_REQUEST,
                "obs-fold: a header line starts with whitespace (line folding is not accepted)");
      return WP_EBAD_REQUEST;
    }
    p->fields_line_start = false;
  }
  return 0;
}

/* Copy the bytes of the current message's request line that sit at the
 * start of data (the line always precedes anything else of a message, so
 * reading ahead of http-parser here is safe), then check the header lines
 * after it the same way. */
static int capture_request_line(wp_http_parser *p, const char *data, size_t len) {
  size_t i = 0;
  if (p->line_state == LINE_WAIT) {
    while (i < len && (data[i] == '\r' || data[i] == '\n'))
      i++; /* http-parser skips empty lines between requests too */
    if (i == len)
      return 0;
    wp_buf_reset(&p->line);
    p->line_state = LINE_READING;
  }
  if (p->line_state == LINE_READING) {
    const char *lf = memchr(data + i, '\n', len - i);
    size_t take = lf ? (size_t)(lf - (data + i)) : len - i;
    if (p->line.len + take > p->limits.max_header_bytes)
      take = 0; /* the header limit will fire; do not buffer without bound */
    if (wp_buf_append(&p->line, data + i, take) != 0)
      return WP_ENOMEM;
    if (lf == NULL)
      return 0;
    p->line_state = LINE_DONE;
    p->fields_state = FIELDS_READING;
    p->fields_line_start = true;
    p->fields_saw_cr = false;
    i = (size_t)(lf - data) + 1;
  }
  return scan_fields(p, data + i, len - i);
}

/* RFC 9110 token: what a header name may hold. This build of http-parser
 * lets spaces through, and "Transfer-Encoding : chunked" read differently
 * by a proxy and by us is how requests get smuggled. */
static bool is_token(const char *name, size_t len) {
  if (len == 0)
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
    if (!ok)
      return false;
  }
  return true;
}

/* The request line ends in " HTTP/<digit>.<digit>". */
static bool request_line_valid(const wp_http_parser *p) {
  const char *line = p->line.data;
  size_t len = p->line.len;
  if (p->line_state != LINE_DONE || line == NULL)
    return false;
  if (len > 0 && line[len - 1] == '\r')
    len--;
  if (len < 9)
    return false;
  const char *v = line + len - 9;
  return memcmp(v, " HTTP/", 6) == 0 && v[6] >= '0' && v[6] <= '9' && v[7] == '.' && v[8] >= '0' &&
         v[8] <= '9';
}

static int on_headers_complete(http_parser *hp) {
  wp_http_parser *p = hp->data;
  p->headers_done = true;
  if (p->field_count > 0) {
    field_span *f = &p->fields[p->field_count - 1];
    if (!p->in_value)
      f->value_off = p->fields_text.len + 1; /* empty value after the name's NUL */
    if (wp_buf_append(&p->fields_text, "", 1) != 0)
      return fail(p, WP_ENOMEM, "out of memory");
    if (!p->in_value && wp_buf_append(&p->fields_text, "", 1) != 0)
      return fail(p, WP_ENOMEM, "out of memory");
  }
  /* http-parser skips leading whitespace of a value; drop the trailing. */
  bool expect_continue = false;
  for (size_t i = 0; i < p->field_count; i++) {
    field_span *f = &p->fields[i];
    while (f->value_len > 0) {
      char c = p->fields_text.data[f->value_off + f->value_len - 1];
      if (c != ' ' && c != '\t')
        break;
      f->value_len--;
    }
    p->fields_text.data[f->value_off + f->value_len] = '\0';
    if (wp__ascii_ieq(p->fields_text.data + f->name_off, f->name_len, "expect") &&
        wp__ascii_ieq(p->fields_text.data + f->value_off, f->value_len, "100-continue"))
      expect_continue = true;
  }

  for (size_t i = 0; i < p->field_count; i++) {
    if (!is_token(p->fields_text.data + p->fields[i].name_off, p->fields[i].name_len))
      return fail(p, WP_EBAD_REQUEST, "invalid character in header name");
  }
  if (!request_line_valid(p))
    return fail(p, WP_EBAD_REQUEST, "invalid HTTP version");
  if (hp->http_major != 1)
    return fail(p, WP_EBAD_REQUEST, "unsupported HTTP version");

  bool chunked = (hp->flags & F_CHUNKED) != 0;
  if (!chunked && (hp->flags & F_CONTENTLENGTH) && hp->content_length > p->limits.max_body_bytes)
    return fail(p, WP_EPAYLOAD_TOO_LARGE, "request body exceeds the body size limit");

  /* This server never switches protocols, so after an Upgrade or CONNECT
   * the bytes that follow are not HTTP: answer, then close. */
  p->keep_alive = http_should_keep_alive(hp) && !hp->upgrade;
  bool body_expected = chunked || ((hp->flags & F_CONTENTLENGTH) && hp->content_length > 0);
  p->continue_pending = expect_continue && body_expected;
  p->chunked_body = chunked;
  return chunked ? 1 : 0; /* 1: "no body" to http-parser; chunked.c reads it */
}

static int on_body(http_parser *hp, const char *at, size_t len) {
  wp_http_parser *p = hp->data;
  if (len > p->limits.max_body_bytes - p->body.len)
    return fail(p, WP_EPAYLOAD_TOO_LARGE, "request body exceeds the body size limit");
  if (wp_buf_append(&p->body, at, len) != 0)
    return fail(p, WP_ENOMEM, "out of memory");
  return 0;
}

static wp_method method_of(unsigned hp_method) {
  switch (hp_method) {
  case HTTP_GET: return WP_METHOD_GET;
  case HTTP_HEAD: return WP_METHOD_HEAD;
  case HTTP_POST: return WP_METHOD_POST;
  case HTTP_PUT: return WP_METHOD_PUT;
  case HTTP_DELETE: return WP_METHOD_DELETE;
  case HTTP_OPTIONS: return WP_METHOD_OPTIONS;
  case HTTP_PATCH: return WP_METHOD_PATCH;
  default: return WP_METHOD_OTHER;
  }
}

/* Turn the buffers of the finished message into one owned wp_request. */
static int build_request(wp_http_parser *p, wp_request **out) {
  http_parser *hp = &p->hp;
  struct http_parser_url u;
  http_parser_url_init(&u);
  const char *path = "/", *query = "";
  size_t path_len = 1, query_len = 0;
  if (p->url.len == 0 ||
      http_parser_parse_url(p->url.data, p->url.len, hp->method == HTTP_CONNECT, &u) != 0)
    return WP_EBAD_REQUEST;
  if (u.field_set & (1 << UF_PATH)) {
    path = p->url.data + u.field_data[UF_PATH].off;
    path_len = u.field_data[UF_PATH].len;
  }
  if (u.field_set & (1 << UF_QUERY)) {
    query = p->url.data + u.field_data[UF_QUERY].off;
    query_len = u.field_data[UF_QUERY].len;
  }

  size_t headers_bytes = p->field_count * sizeof(wp_header);
  size_t text_bytes = (p->url.len + 1) + (path_len + 1) + (query_len + 1) + p->fields_text.len + 1;
  request_block *block = malloc(sizeof(*block) + headers_bytes + text_bytes);
  if (block == NULL)
    return WP_ENOMEM;
  wp_request *req = &block->pub;
  memset(block, 0, sizeof(*block));
  wp_header *headers = (wp_header *)(block + 1);
  char *text = (char *)headers + headers_bytes;

  req->method = method_of(hp->method);
  req->method_name = http_method_str((enum http_method)hp->method);
  req->http_major = hp->http_major;
  req->http_minor = hp->http_minor;

  memcpy(text, p->url.data, p->url.len);
  text[p->url.len] = '\0';
  req->target = text;
  req->target_len = p->url.len;
  text += p->url.len + 1;

  memcpy(text, path, path_len);
  text[path_len] = '\0';
  req->path = text;
  req->path_len = path_len;
  text += path_len + 1;

  memcpy(text, query, query_len);
  text[query_len] = '\0';
  req->query = text;
  req->query_len = query_len;
  text += query_len + 1;

  if (p->fields_text.len > 0)
    memcpy(text, p->fields_text.data, p->fields_text.len);
  for (size_t i = 0; i < p->field_count; i++) {
    headers[i].name = text + p->fields[i].name_off;
    headers[i].name_len = p->fields[i].name_len;
    headers[i].value = text + p->fields[i].value_off;
    headers[i].value_len = p->fields[i].value_len;
  }
  text += p->fields_text.len;
  *text = '\0'; /* the "" an empty body points at */
  req->headers = headers;
  req->header_count = p->field_count;

  if (p->body.len > 0) {
    block->owned_body = p->body.data; /* hand the buffer over, no copy */
    req->body = p->body.data;
    req->body_len = p->body.len;
    wp_buf_init(&p->body);
  } else {
    req->body = text;
    req->body_len = 0;
  }
  req->keep_alive = p->keep_alive;
  req->chunked = (hp->flags & F_CHUNKED) != 0;
  const wp_header *expect = wp__header_find(headers, p->field_count, "expect");
  req->expect_continue =
      expect != NULL && wp__ascii_ieq(expect->value, expect->value_len, "100-continue");
  *out = req;
  return 0;
}

static int push_request(wp_http_parser *p, wp_request *req) {
  if (p->queue_head + p->queue_count == p->queue_cap) {
    if (p->queue_head > 0) {
      memmove(p->queue, p->queue + p->queue_head, p->queue_count * sizeof(*p->queue));
      p->queue_head = 0;
    } else {
      size_t cap = p->queue_cap ? p->queue_cap * 2 : 4;
      wp_request **queue = realloc(p->queue, cap * sizeof(*queue));
      if (queue == NULL)
        return WP_ENOMEM;
      p->queue = queue;
      p->queue_cap = cap;
    }
  }
  p->queue[p->queue_head + p->queue_count++] = req;
  return 0;
}

/* The message is whole: queue it and get ready for the next one. */
static int finish_message(wp_http_parser *p) {
  wp_request *req = NULL;
  int rc = build_request(p, &req);
  if (rc == WP_EBAD_REQUEST)
    return fail(p, rc, "invalid request target");
  if (rc != 0)
    return fail(p, rc, "out of memory");
  rc = push_request(p, req);
  if (rc != 0) {
    wp_request_destroy(req);
    return fail(p, rc, "out of memory");
  }
  p->in_request = false;
  p->continue_pending = false;
  p->line_state = LINE_WAIT;
  p->fields_state = FIELDS_WAIT;
  p->chunked_body = false;
  p->in_chunked = false;
  /* After a request that is not kept alive, whatever follows is discarded:
   * http-parser would call it an error, but the client did nothing we must
   * answer. */
  p->closed = !req->keep_alive;
  return 0;
}

static int on_message_complete(http_parser *hp) {
  wp_http_parser *p = hp->data;
  if (p->chunked_body) {
    /* Only the head is done; the body is the decoder's (see feed). */
    size_t left = p->limits.max_header_bytes - p->header_bytes;
    if (p->header_bytes > p->limits.max_header_bytes)
      left = 0;
    wp__chunked_init(&p->chunked, p->limits.max_body_bytes, left);
    p->in_chunked = true;
  } else if (finish_message(p) != 0) {
    return -1;
  }
  /* Stop after every message (or head of a chunked one), so feed knows
   * where the next bytes start. */
  http_parser_pause(hp, 1);
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

int wp_http_parser_create(const wp_http_limits *limits, wp_http_parser **out) {
  wp_http_parser *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return WP_ENOMEM;
  http_parser_init(&p->hp, HTTP_REQUEST);
  p->hp.data = p;
  if (limits != NULL)
    p->limits = *limits;
  if (p->limits.max_header_bytes == 0)
    p->limits.max_header_bytes = WP_HTTP_DEFAULT_MAX_HEADER_BYTES;
  if (p->limits.max_body_bytes == 0)
    p->limits.max_body_bytes = WP_HTTP_DEFAULT_MAX_BODY_BYTES;
  *out = p;
  return 0;
}

void wp_http_parser_destroy(wp_http_parser *p) {
  if (p == NULL)
    return;
  for (size_t i = 0; i < p->queue_count; i++)
    wp_request_destroy(p->queue[p->queue_head + i]);
  free(p->queue);
  free(p->fields);
  wp_buf_free(&p->url);
  wp_buf_free(&p->line);
  wp_buf_free(&p->fields_text);
  wp_buf_free(&p->body);
  free(p);
}

/* Hands the bytes at data to the chunked decoder; 0, or the sticky error. */
static int feed_chunked(wp_http_parser *p, const char *data, size_t len, size_t *used) {
  *used = wp__chunked_decode(&p->chunked, data, len, &p->body);
  if (p->chunked.error != 0) {
    set_error(p, p->chunked.error, p->chunked.message);
    return p->error;
  }
  if (p->chunked.done) {
    p->callback_error = 0;
    if (finish_message(p) != 0) {
      p->error = p->callback_error; /* fail() already wrote the message */
      return p->error;
    }
  }
  return 0;
}

int wp_http_parser_feed(wp_http_parser *p, const char *data, size_t len) {
  if (p->error != 0)
    return p->error;
  size_t off = 0;
  enum http_errno hpe = HPE_OK;
  while (off < len && !p->closed) {
    if (p->in_chunked) {
      size_t used;
      if (feed_chunked(p, data + off, len - off, &used) != 0)
        return p->error;
      off += used;
      continue;
    }
    int rc = capture_request_line(p, data + off, len - off);
    if (rc == WP_ENOMEM)
      set_error(p, WP_ENOMEM, "out of memory");
    if (rc != 0)
      return p->error;
    p->callback_error = 0;
    off += http_parser_execute(&p->hp, &settings, data + off, len - off);
    hpe = HTTP_PARSER_ERRNO(&p->hp);
    if (hpe != HPE_PAUSED)
      break;
    http_parser_pause(&p->hp, 0); /* a message (or a chunked head) ended at off */
    hpe = HPE_OK;
  }
  if (hpe == HPE_OK)
    return 0;
  if (p->callback_error != 0) {
    p->error = p->callback_error; /* fail() already wrote the message */
    return p->error;
  }
  if (hpe == HPE_HEADER_OVERFLOW)
    set_error(p, WP_EHEADERS_TOO_LARGE, "request headers exceed the header size limit");
  else
    set_error(p, WP_EBAD_REQUEST, http_errno_description(hpe));
  return p->error;
}

int wp_http_parser_next(wp_http_parser *p, wp_request **out) {
  *out = NULL;
  if (p->queue_count > 0) {
    *out = p->queue[p->queue_head++];
    if (--p->queue_count == 0)
      p->queue_head = 0;
    return 1;
  }
  return p->error;
}

size_t wp_http_parser_pending(const wp_http_parser *p) {
  return p->queue_count;
}

bool wp_http_parser_take_continue(wp_http_parser *p) {
  if (!p->continue_pending || p->error != 0)
    return false;
  p->continue_pending = false;
  return true;
}

bool wp_http_parser_in_request(const wp_http_parser *p) {
  return p->in_request;
}

const char *wp_http_parser_error_message(const wp_http_parser *p) {
  return p->error != 0 ? p->error_message : "";
}

void wp_request_destroy(wp_request *req) {
  if (req == NULL)
    return;
  request_block *block = (request_block *)req;
  free(block->owned_body);
  free(block);
}

const wp_header *wp_request_header(const wp_request *req, const char *name) {
  return wp__header_find(req->headers, req->header_count, name);
}
