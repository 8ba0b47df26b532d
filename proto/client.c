/* client.c — a small blocking HTTP/1.1 client over a Unix socket or TCP.
 *
 * The CLI, the bench tool and the integration tests talk to the daemon
 * through this. It keeps one connection open across requests (keep-alive),
 * parses responses with http-parser in response mode (Content-Length,
 * chunked, or read-until-close bodies), and bounds every request with a
 * deadline: the socket is non-blocking and every wait is a poll() with the
 * time that is left, so a stuck daemon turns into WP_ETIMEOUT, not a hang.
 *
 * A keep-alive connection may be closed by the server at any moment (idle
 * timeout, restart). When a request on a reused connection sees the
 * connection die before a single response byte arrives, the request is
 * sent again once on a fresh connection — the usual client behaviour, and
 * the only way a long-lived CLI or bench connection survives a daemon's
 * idle timeout. Bytes read past the end of one response stay buffered for
 * the next, so pipelined responses (wp_client_send x n, then
 * wp_client_recv x n) come out in order.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "proto_internal.h"

typedef struct field_span {
  size_t name_off, name_len;
  size_t value_off, value_len;
} field_span;

struct wp_client {
  wp_client_options opts; /* unix_path / tcp_host point at our copies */
  char *unix_path;
  char *tcp_host;
  int fd;              /* -1 when not connected */
  bool reused;         /* a response has already come back on fd */
  int64_t deadline_ns; /* of the request in progress; 0 = none */
  wp_buf head;         /* request head being sent */
  wp_buf in;           /* bytes read but not yet parsed */
  char error[256];

  /* The response being parsed. */
  http_parser hp;
  wp_client_response *resp;
  field_span *fields;
  size_t field_count, field_cap;
  bool in_value;
  bool skip_body; /* answer to HEAD */
  bool complete;
  size_t header_bytes;
  int callback_error;
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int sys_error(wp_client *c, const char *what, int err) {
  snprintf(c->error, sizeof(c->error), "%s: %s", what, strerror(err));
  return WP_ESYS;
}

static int client_error(wp_client *c, int code, const char *what) {
  snprintf(c->error, sizeof(c->error), "%s", what);
  return code;
}

static void disconnect(wp_client *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  c->reused = false;
  wp_buf_reset(&c->in);
}

/* Wait until fd is ready for events or the deadline passes. */
static int wait_fd(wp_client *c, short events) {
  for (;;) {
    int timeout = -1;
    if (c->deadline_ns != 0) {
      int64_t left = c->deadline_ns - now_ns();
      if (left <= 0)
        return client_error(c, WP_ETIMEOUT, "timed out waiting for the server");
      timeout = (int)((left + 999999) / 1000000);
    }
    struct pollfd pfd = {.fd = c->fd, .events = events};
    int n = poll(&pfd, 1, timeout);
    if (n > 0)
      return 0;
    if (n == 0)
      continue; /* re-check the deadline */
    if (errno != EINTR)
      return sys_error(c, "poll", errno);
  }
}

static int connect_now(wp_client *c) {
  int domain = c->unix_path ? AF_UNIX : AF_INET;
  int fd = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return sys_error(c, "socket", errno);
  c->fd = fd;
  c->reused = false;
  wp_buf_reset(&c->in);

  int rc;
  if (c->unix_path != NULL) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, c->unix_path, strlen(c->unix_path) + 1);
    /* A full accept backlog makes a non-blocking Unix connect fail with
     * EAGAIN instead of waiting (TCP would wait in SYN_SENT). Under a load
     * test that is normal: retry until the deadline, or for 1 s without one. */
    int64_t give_up = c->deadline_ns ? c->deadline_ns : now_ns() + 1000000000;
    while ((rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr))) != 0 &&
           (errno == EAGAIN || errno == EINTR) && now_ns() < give_up) {
      struct timespec pause = {0, 1000000};
      nanosleep(&pause, NULL);
    }
  } else {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(c->opts.tcp_port)};
    inet_pton(AF_INET, c->tcp_host, &addr.sin_addr); /* checked in create */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
  }
  if (rc != 0 && errno == EINPROGRESS) {
    rc = wait_fd(c, POLLOUT);
    if (rc != 0) {
      disconnect(c);
      return rc;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      errno = err;
      rc = -1;
    }
  }
  if (rc != 0 && errno == EAGAIN) {
    disconnect(c);
    return client_error(c, WP_ETIMEOUT, "timed out connecting: the server's backlog is full");
  }
  if (rc != 0) {
    char what[160];
    snprintf(what, sizeof(what), "connect to %s", c->unix_path ? c->unix_path : c->tcp_host);
    int saved = errno;
    disconnect(c);
    return sys_error(c, what, saved);
  }
  return 0;
}

int wp_client_create(const wp_client_options *opts, wp_client **out) {
  *out = NULL;
  bool has_unix = opts->unix_path != NULL, has_tcp = opts->tcp_host != NULL;
  if (has_unix == has_tcp)
    return WP_EINVAL;
  if (has_unix && strlen(opts->unix_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
    return WP_EINVAL;
  struct in_addr probe;
  if (has_tcp && (inet_pton(AF_INET, opts->tcp_host, &probe) != 1 || opts->tcp_port == 0))
    return WP_EINVAL;

  wp_client *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return WP_ENOMEM;
  c->opts = *opts;
  c->fd = -1;
  c->unix_path = has_unix ? strdup(opts->unix_path) : NULL;
  c->tcp_host = has_tcp ? strdup(opts->tcp_host) : NULL;
  if ((has_unix && c->unix_path == NULL) || (has_tcp && c->tcp_host == NULL)) {
    wp_client_destroy(c);
    return WP_ENOMEM;
  }
  c->opts.unix_path = c->unix_path;
  c->opts.tcp_host = c->tcp_host;
  if (c->opts.max_header_bytes == 0)
    c->opts.max_header_bytes = 64 * 1024;
  if (c->opts.max_body_bytes == 0)
    c->opts.max_body_bytes = (size_t)1 << 30;
  *out = c;
  return 0;
}

void wp_client_destroy(wp_client *c) {
  if (c == NULL)
    return;
  disconnect(c);
  free(c->unix_path);
  free(c->tcp_host);
  free(c->fields);
  wp_buf_free(&c->head);
  wp_buf_free(&c->in);
  free(c);
}

const char *wp_client_error(const wp_client *c) {
  return c->error;
}

/* ---- sending ------------------------------------------------------------ */

static int send_all(wp_client *c, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int rc = wait_fd(c, POLLOUT);
      if (rc != 0)
        return rc;
      continue;
    }
    return sys_error(c, "send", n < 0 ? errno : EPIPE);
  }
  return 0;
}

static bool has_crlf(const char *text, size_t len) {
  return memchr(text, '\r', len) != NULL || memchr(text, '\n', len) != NULL;
}

static int build_head(wp_client *c, const char *method, const char *path, const wp_header *headers,
                      size_t header_count, size_t body_len) {
  wp_buf_reset(&c->head);
  if (has_crlf(method, strlen(method)) || strchr(method, ' ') != NULL ||
      has_crlf(path, strlen(path)) || strchr(path, ' ') != NULL || path[0] != '/')
    return client_error(c, WP_EINVAL, "bad method or path");
  int rc = wp_buf_appendf(&c->head, "%s %s HTTP/1.1\r\n", method, path);
  bool has_host = false;
  for (size_t i = 0; i < header_count && rc == 0; i++) {
    const wp_header *h = &headers[i];
    if (h->name_len == 0 || has_crlf(h->name, h->name_len) || has_crlf(h->value, h->value_len))
      return client_error(c, WP_EINVAL, "header holds CR or LF");
    if (wp__ascii_ieq(h->name, h->name_len, "content-length"))
      continue; /* we write the real one */
    if (wp__ascii_ieq(h->name, h->name_len, "transfer-encoding"))
      return client_error(c, WP_EINVAL, "the client sends Content-Length bodies only");
    has_host = has_host || wp__ascii_ieq(h->name, h->name_len, "host");
    rc = wp_buf_append(&c->head, h->name, h->name_len);
    if (rc == 0)
      rc = wp_buf_append(&c->head, ": ", 2);
    if (rc == 0)
      rc = wp_buf_append(&c->head, h->value, h->value_len);
    if (rc == 0)
      rc = wp_buf_append(&c->head, "\r\n", 2);
  }
  if (rc == 0 && !has_host)
    rc = wp_buf_append_str(&c->head, "Host: localhost\r\n");
  bool bodiless =
      strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 || strcmp(method, "DELETE") == 0;
  if (rc == 0 && (body_len > 0 || !bodiless))
    rc = wp_buf_appendf(&c->head, "Content-Length: %zu\r\n", body_len);
  if (rc == 0)
    rc = wp_buf_append(&c->head, "\r\n", 2);
  return rc;
}

static void start_deadline(wp_client *c) {
  c->deadline_ns = c->opts.timeout_ms > 0 ? now_ns() + (int64_t)c->opts.timeout_ms * 1000000 : 0;
}

static int send_request(wp_client *c, const char *method, const char *path,
                        const wp_header *headers, size_t header_count, const void *body,
                        size_t body_len) {
  int rc = build_head(c, method, path, headers, header_count, body_len);
  if (rc != 0)
    return rc;
  if (c->fd < 0 && (rc = connect_now(c)) != 0)
    return rc;
  /* Small bodies ride with the head in one send, so a request is usually
   * one segment; large ones go separately rather than being copied. */
  if (body_len > 0 && body_len <= 16 * 1024) {
    rc = wp_buf_append(&c->head, body, body_len);
    if (rc != 0)
      return rc;
    body_len = 0;
  }
  rc = send_all(c, c->head.data, c->head.len);
  if (rc == 0 && body_len > 0)
    rc = send_all(c, body, body_len);
  return rc;
}

int wp_client_send(wp_client *c, const char *method, const char *path, const wp_header *headers,
                   size_t header_count, const void *body, size_t body_len) {
  c->error[0] = '\0';
  start_deadline(c);
  int rc = send_request(c, method, path, headers, header_count, body, body_len);
  if (rc != 0 && rc != WP_EINVAL)
    disconnect(c);
  return rc;
}

/* ---- receiving ---------------------------------------------------------- */

static int fail_cb(wp_client *c, int code, const char *what) {
  if (c->callback_error == 0) {
    c->callback_error = code;
    snprintf(c->error, sizeof(c->error), "%s", what);
  }
  return -1;
}

static int charge(wp_client *c, size_t len) {
  c->header_bytes += len;
  if (c->header_bytes > c->opts.max_header_bytes)
    return fail_cb(c, WP_EHEADERS_TOO_LARGE, "response headers exceed the client's limit");
  return 0;
}

static int on_message_begin(http_parser *hp) {
  wp_client *c = hp->data;
  wp_buf_reset(&c->resp->storage);
  wp_buf_reset(&c->resp->body);
  c->field_count = 0;
  c->in_value = false;
  c->header_bytes = 0;
  return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t len) {
  wp_client *c = hp->data;
  wp_buf *text = &c->resp->storage;
  if (charge(c, len + 4) != 0)
    return -1;
  if (c->field_count == 0 || c->in_value) {
    if (c->field_count > 0 && wp_buf_append(text, "", 1) != 0)
      return fail_cb(c, WP_ENOMEM, "out of memory");
    if (c->field_count == c->field_cap) {
      size_t cap = c->field_cap ? c->field_cap * 2 : 16;
      field_span *fields = realloc(c->fields, cap * sizeof(*fields));
      if (fields == NULL)
        return fail_cb(c, WP_ENOMEM, "out of memory");
      c->fields = fields;
      c->field_cap = cap;
    }
    c->fields[c->field_count++] = (field_span){text->len, 0, 0, 0};
    c->in_value = false;
  }
  if (wp_buf_append(text, at, len) != 0)
    return fail_cb(c, WP_ENOMEM, "out of memory");
  c->fields[c->field_count - 1].name_len += len;
  return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t len) {
  wp_client *c = hp->data;
  wp_buf *text = &c->resp->storage;
  if (charge(c, len) != 0)
    return -1;
  field_span *f = &c->fields[c->field_count - 1];
  if (!c->in_value) {
    if (wp_buf_append(text, "", 1) != 0)
      return fail_cb(c, WP_ENOMEM, "out of memory");
    f->value_off = text->len;
    c->in_value = true;
  }
  if (wp_buf_append(text, at, len) != 0)
    return fail_cb(c, WP_ENOMEM, "out of memory");
  f->value_len += len;
  return 0;
}

static int on_headers_complete(http_parser *hp) {
  wp_client *c = hp->data;
  wp_client_response *resp = c->resp;
  wp_buf *text = &resp->storage;
  if (c->field_count > 0) {
    if (!c->in_value) {
      c->fields[c->field_count - 1].value_off = text->len + 1;
      if (wp_buf_append(text, "", 1) != 0)
        return fail_cb(c, WP_ENOMEM, "out of memory");
    }
    if (wp_buf_append(text, "", 1) != 0)
      return fail_cb(c, WP_ENOMEM, "out of memory");
  }
  if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > c->opts.max_body_bytes)
    return fail_cb(c, WP_EPAYLOAD_TOO_LARGE, "response body exceeds the client's limit");
  /* The headers' strings are final now: point at them. */
  if (c->field_count > resp->headers_cap) {
    wp_header *headers = realloc(resp->headers, c->field_count * sizeof(*headers));
    if (headers == NULL)
      return fail_cb(c, WP_ENOMEM, "out of memory");
    resp->headers = headers;
    resp->headers_cap = c->field_count;
  }
  for (size_t i = 0; i < c->field_count; i++) {
    field_span *f = &c->fields[i];
    while (f->value_len > 0 && (text->data[f->value_off + f->value_len - 1] == ' ' ||
                                text->data[f->value_off + f->value_len - 1] == '\t'))
      text->data[f->value_off + --f->value_len] = '\0';
    resp->headers[i] =
        (wp_header){text->data + f->name_off, f->name_len, text->data + f->value_off, f->value_len};
  }
  resp->header_count = c->field_count;
  resp->status = hp->status_code;
  resp->http_major = hp->http_major;
  resp->http_minor = hp->http_minor;
  return c->skip_body ? 1 : 0;
}

static int on_body(http_parser *hp, const char *at, size_t len) {
  wp_client *c = hp->data;
  if (len > c->opts.max_body_bytes - c->resp->body.len)
    return fail_cb(c, WP_EPAYLOAD_TOO_LARGE, "response body exceeds the client's limit");
  if (wp_buf_append(&c->resp->body, at, len) != 0)
    return fail_cb(c, WP_ENOMEM, "out of memory");
  return 0;
}

static int on_message_complete(http_parser *hp) {
  wp_client *c = hp->data;
  c->resp->keep_alive = http_should_keep_alive(hp);
  c->complete = true;
  /* Leave the bytes after this response for the next recv. */
  http_parser_pause(hp, 1);
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Parse what is buffered. Returns 0 (maybe complete), or an error. */
static int parse_buffered(wp_client *c, const char *data, size_t len, size_t *used) {
  c->callback_error = 0;
  *used = http_parser_execute(&c->hp, &settings, data, len);
  enum http_errno hpe = HTTP_PARSER_ERRNO(&c->hp);
  if (hpe == HPE_OK || (hpe == HPE_PAUSED && c->complete))
    return 0;
  if (c->callback_error != 0)
    return c->callback_error;
  snprintf(c->error, sizeof(c->error), "bad response from the server: %s",
           http_errno_description(hpe));
  return WP_EBAD_REQUEST;
}

/* *got_bytes tells the caller whether any byte of this response arrived
 * (a request may only be resent when none did). */
static int recv_response(wp_client *c, bool head, wp_client_response *resp, bool *got_bytes) {
  *got_bytes = false;
  if (c->fd < 0)
    return client_error(c, WP_ESYS, "not connected");
  for (;;) { /* once per response; interim 1xx responses loop */
    http_parser_init(&c->hp, HTTP_RESPONSE);
    c->hp.data = c;
    c->resp = resp;
    c->complete = false;
    c->skip_body = head;
    resp->status = 0;
    resp->header_count = 0;
    wp_buf_reset(&resp->body);
    wp_buf_reset(&resp->storage);

    while (!c->complete) {
      if (c->in.len > 0) {
        *got_bytes = true;
        size_t used = 0;
        int rc = parse_buffered(c, c->in.data, c->in.len, &used);
        wp_buf_consume(&c->in, used);
        if (rc != 0)
          return rc;
        if (c->complete)
          break;
      }
      int rc = wp_buf_reserve(&c->in, 16 * 1024);
      if (rc != 0)
        return rc;
      ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
      if (n > 0) {
        c->in.len += (size_t)n;
        c->in.data[c->in.len] = '\0';
        continue;
      }
      if (n == 0) {
        /* EOF ends a read-until-close body; anything else is cut short. */
        size_t used = 0;
        if (*got_bytes && (rc = parse_buffered(c, NULL, 0, &used)) != 0)
          return rc;
        if (c->complete) {
          resp->keep_alive = false;
          break;
        }
        return client_error(c, WP_ESYS, "server closed the connection before responding");
      }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if ((rc = wait_fd(c, POLLIN)) != 0)
          return rc;
        continue;
      }
      return sys_error(c, "recv", errno);
    }
    /* 100 Continue and friends precede the real response. */
    if (resp->status >= 100 && resp->status < 200 && resp->status != 101)
      continue;
    return 0;
  }
}

int wp_client_recv(wp_client *c, bool method_is_head, wp_client_response *resp) {
  bool got_bytes;
  if (c->deadline_ns == 0 && c->opts.timeout_ms > 0)
    start_deadline(c);
  int rc = recv_response(c, method_is_head, resp, &got_bytes);
  c->deadline_ns = 0;
  if (rc != 0) {
    disconnect(c);
    return rc;
  }
  c->reused = true;
  if (!resp->keep_alive)
    disconnect(c);
  return 0;
}

int wp_client_request(wp_client *c, const char *method, const char *path, const wp_header *headers,
                      size_t header_count, const void *body, size_t body_len,
                      wp_client_response *resp) {
  bool head = strcmp(method, "HEAD") == 0;
  for (int attempt = 0;; attempt++) {
    c->error[0] = '\0';
    bool reused = c->fd >= 0 && c->reused;
    start_deadline(c);
    int rc = send_request(c, method, path, headers, header_count, body, body_len);
    bool got_bytes = false;
    if (rc == 0)
      rc = recv_response(c, head, resp, &got_bytes);
    if (rc == 0) {
      c->deadline_ns = 0;
      c->reused = true;
      if (!resp->keep_alive)
        disconnect(c);
      return 0;
    }
    c->deadline_ns = 0;
    if (rc == WP_EINVAL)
      return rc;
    disconnect(c);
    /* Only a connection that had served before and died without a byte of
     * this response is retried: the server closed it while idle. */
    if (attempt > 0 || !reused || got_bytes || rc != WP_ESYS)
      return rc;
  }
}

void wp_client_response_free(wp_client_response *resp) {
  free(resp->headers);
  wp_buf_free(&resp->body);
  wp_buf_free(&resp->storage);
  memset(resp, 0, sizeof(*resp));
}

const wp_header *wp_client_response_header(const wp_client_response *resp, const char *name) {
  return wp__header_find(resp->headers, resp->header_count, name);
}
