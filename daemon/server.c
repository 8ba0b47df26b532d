/* server.c — wasmpoold's connection layer on the libuv loop.
 *
 * Listening: a Unix socket (mode and owner from the config; a stale socket
 * file from a dead daemon is removed, a live daemon makes start-up fail) and
 * optionally TCP on loopback.
 *
 * Each connection owns an incremental parser (proto) and a FIFO of
 * exchanges, one per request, in arrival order. Requests are dispatched as
 * soon as they are parsed, so pipelined requests run concurrently on the
 * workers, but answers leave strictly from the head of the FIFO: a finished
 * answer behind an unfinished one waits (HTTP/1.1 pipelining order).
 *
 * Lifetimes: a connection is freed when both its handles (stream, timer)
 * have closed. Closing detaches its exchanges: those a worker is running
 * keep going and are freed when their done callback finds conn == NULL, so
 * a worker result for a closed connection is dropped without touching it.
 *
 * Backpressure: reading a connection pauses while it has 32 unanswered
 * requests, or their bodies reach max_body_size, or answers wait for the
 * client to read them beyond what the kernel's socket buffer holds; it resumes as answers go out.
 * Bytes read are fed to the parser a slice at a time and only while the connection is under the
 * request limit: one 16 KiB read of tiny pipelined requests would otherwise become ~450 requests at
 * once. What is left of a read when the limit is reached is kept (at most one read's worth) until
 * answers go out.
 *
 * One timer per connection serves every timeout: the header timeout from
 * accept to the first byte and while a request is being received (a client
 * that never sends anything must not hold a place for the idle timeout),
 * the idle timeout while nothing is outstanding after an answer.
 * While requests are being worked on no timer runs (the work has deadlines).
 * After the daemon's last answer on a connection it half-closes and lingers,
 * dropping input, until the client closes (at most 2 s), so that the client
 * is never reset before it has read that answer.
 */
#include "daemon.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Requests of one connection parsed and not yet answered; past it reading
 * pauses, so one client cannot queue unbounded work by pipelining. */
#define MAX_PIPELINE 32
/* Also the most a connection holds unparsed while it is at its limit. */
#define READ_BUFFER_BYTES 16384
/* Bytes handed to the parser at once: 512 bytes hold at most 28 minimal
 * requests, so a connection at its limit has at most that many parsed ahead. */
#define FEED_SLICE_BYTES 512
/* Answer bytes queued (beyond what the kernel took) for a client that does
 * not read them; past it the daemon stops reading its requests. Zero: once
 * the socket buffer is full the client is not keeping up, and a client that
 * only sends cannot make the daemon buffer answers at all. It pauses
 * reading, it does not cap an answer: one large answer still goes. */
#define MAX_WRITE_BACKLOG ((size_t)0)

typedef union stream_handle {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_pipe_t pipe;
  uv_tcp_t tcp;
} stream_handle;

struct wp_conn {
  stream_handle h; /* first: handle->data also works as a cast */
  uv_timer_t timer;
  wp_server *server;
  bool is_unix;
  wp_http_parser *parser;
  /* Read and not yet fed to the parser: points into the server's read
   * buffer during on_read, into held (owned) after it. */
  const char *input;
  size_t input_len;
  char *held;
  /* Answers ready to go out together: the answers of one batch of pipelined
   * requests leave in one write (one syscall, one write request). */
  wp_buf outbox;
  wp_exchange *head, *tail;
  size_t exchange_count;
  uint64_t pending_body_bytes; /* bodies of the exchanges not yet answered */
  int open_handles;            /* 2 until both closes completed */
  bool closing;                /* uv_close called */
  bool reading;
  bool input_done;          /* a parse error or a response closing it: read no more */
  bool eof;                 /* the client half-closed: answer what came, then close */
  bool shutting_down;       /* uv_shutdown queued: close after the writes */
  bool request_timer_armed; /* the header timeout of the current request runs */
  bool processing;          /* inside conn_process_input (no recursion) */
  bool had_request;         /* a request was parsed: idle_timeout, not the first-byte one */
  unsigned writes_pending;
  wp_conn *prev, *next; /* server's list */
};

typedef struct write_req {
  uv_write_t req;
  wp_buf data;
  wp_conn *conn;
} write_req;

struct wp_server {
  wp_daemon *daemon;
  stream_handle unix_listener;
  stream_handle tcp_listener;
  bool unix_open, tcp_open;
  char *socket_path; /* unlinked at shutdown */
  /* Host header values the TCP listener accepts (DNS rebinding defence):
   * its address and "localhost", each bare and with the bound port. */
  char tcp_hosts[4][80];
  size_t tcp_host_count;
  uv_timer_t reaper; /* idle long-lived instances */
  uv_timer_t grace;  /* shutdown deadline */
  bool reaper_running;
  int open_handles; /* handles of the server itself (timers, listeners) */
  wp_conn *conns;
  uint64_t conn_count;
  bool draining;
  bool drained_called;
  wp_server_drained_cb drained;
  /* One read buffer for every connection: read callbacks feed the parser
   * synchronously, so the bytes never outlive the callback, and thousands
   * of mostly idle keep-alive connections cost no buffer each. */
  char read_buffer[READ_BUFFER_BYTES];
};

static void conn_close(wp_conn *conn);
static void conn_flush(wp_conn *conn);
static void conn_process_input(wp_conn *conn);
static void check_drained(wp_server *server);

uint64_t wp_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- Exchanges ----------------------------------------------------------- */

static wp_exchange *exchange_new(wp_conn *conn, wp_request *req) {
  wp_exchange *x = calloc(1, sizeof *x);
  if (!x)
    return NULL;
  x->daemon = conn->server->daemon;
  x->conn = conn;
  x->req = req;
  x->start_us = wp_now_us();
  x->keep_alive = req ? req->keep_alive && !conn->server->draining : false;
  wp_buf_init(&x->out);
  if (conn->tail)
    conn->tail->next = x;
  else
    conn->head = x;
  conn->tail = x;
  conn->exchange_count++;
  if (req)
    conn->pending_body_bytes += req->body_len;
  return x;
}

static void exchange_free(wp_exchange *x) {
  if (x->req)
    wp_request_destroy(x->req);
  wp_route_free(&x->route);
  wp_buf_free(&x->out);
  if (x->module)
    wp_module_release(x->module);
  if (x->live)
    wp_live_instance_release(x->live);
  if (x->json)
    json_decref(x->json);
  if (x->extra && x->extra_free)
    x->extra_free(x->extra);
  free(x->extra);
  free(x);
}

/* During shutdown an answer ends its connection unless a request already
 * waits behind it (that one gets 503 shutting_down and ends it): a client
 * is never told "keep-alive" by a daemon that will not read again, and no
 * request it pipelined goes unanswered. */
static void exchange_pick_keep_alive(wp_exchange *x) {
  if (x->daemon->shutting_down && !x->next)
    x->keep_alive = false;
}

/* Common tail of every respond: metrics, access log, hand back to the
 * connection (or drop it when the client is gone). */
static void exchange_answered(wp_exchange *x) {
  x->answered = true;
  uint64_t latency = wp_now_us() - x->start_us;
  wp_metrics_record_request(x->daemon->metrics, (size_t)x->route.endpoint, x->status, latency);
  if (wp_log_enabled(WP_LOG_DEBUG))
    wp_log_debug("request", "method=%s path=%s endpoint=%s status=%d us=%llu",
                 x->req ? x->req->method_name : "-", x->req ? x->req->path : "-",
                 wp_endpoint_name(x->route.endpoint), x->status, (unsigned long long)latency);
  if (!x->conn) {
    exchange_free(x);
    return;
  }
  conn_flush(x->conn);
}

void wp_exchange_respond(wp_exchange *x, int status, const char *content_type,
                         const wp_header *headers, size_t header_count, const void *body,
                         size_t body_len) {
  exchange_pick_keep_alive(x);
  wp_response resp = {
      .status = status,
      .content_type = content_type,
      .keep_alive = x->keep_alive,
      .head_only = x->route.head,
      .headers = headers,
      .header_count = header_count,
      .body = body,
      .body_len = body_len,
  };
  x->status = status;
  wp_buf_reset(&x->out);
  if (wp_response_write(&x->out, &resp) != 0) {
    wp_buf_reset(&x->out);
    x->status = 500;
    x->keep_alive = false;
    wp_response_write_error(&x->out, WP_ENOMEM, "cannot format the response", false, 0, 0);
  }
  exchange_answered(x);
}

void wp_exchange_respond_json(wp_exchange *x, int status, json_t *body) {
  wp_buf text;
  wp_buf_init(&text);
  if (!body || wp_json_dump(&text, body) != 0) {
    json_decref(body);
    wp_buf_free(&text);
    wp_exchange_respond_error(x, WP_ENOMEM, "cannot encode the answer");
    return;
  }
  json_decref(body);
  wp_exchange_respond(x, status, "application/json", NULL, 0, text.data, text.len);
  wp_buf_free(&text);
}

void wp_exchange_respond_error(wp_exchange *x, int code, const char *message) {
  exchange_pick_keep_alive(x);
  x->status = wp_err_http_status(code);
  wp_buf_reset(&x->out);
  if (wp_response_write_error(&x->out, code, message, x->keep_alive, 1, x->route.allow) != 0) {
    wp_buf_reset(&x->out);
    wp_buf_append_str(&x->out, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n");
    x->keep_alive = false;
    x->status = 500;
  }
  /* HEAD: the head of the error (its Content-Length included), no body,
   * or a keep-alive client would read the body as the next response. */
  if (x->req && x->req->method == WP_METHOD_HEAD) {
    char *end = x->out.data ? strstr(x->out.data, "\r\n\r\n") : NULL;
    if (end)
      x->out.len = (size_t)(end + 4 - x->out.data);
  }
  /* Overload is logged at most once a second: under a flood the log would
   * otherwise cost more than the refusals (which the metrics count). */
  wp_daemon *d = x->daemon;
  if ((code == WP_EQUEUE_FULL || code == WP_EPOOL_EXHAUSTED) &&
      uv_now(d->loop) - d->last_overload_log_ms >= 1000) {
    d->last_overload_log_ms = uv_now(d->loop);
    wp_log_warn("overload", "code=%s endpoint=%s", wp_err_name(code),
                wp_endpoint_name(x->route.endpoint));
  }
  exchange_answered(x);
}

static void exchange_work(wp_job *job) {
  wp_exchange *x = (wp_exchange *)job;
  if (atomic_load(&x->cancelled))
    return;
  x->work(x);
}

static void exchange_done(wp_job *job) {
  wp_exchange *x = (wp_exchange *)job;
  x->in_worker = false;
  if (!x->conn) {
    /* The client left while the worker ran: nobody to answer. */
    exchange_free(x);
    return;
  }
  x->finish(x);
}

bool wp_exchange_submit(wp_exchange *x, void (*work)(wp_exchange *x),
                        void (*finish)(wp_exchange *x)) {
  x->work = work;
  x->finish = finish;
  x->job.work = exchange_work;
  x->job.done = exchange_done;
  int rc = wp_work_queue_submit(x->daemon->queue, &x->job);
  if (rc) {
    wp_exchange_respond_error(x, rc,
                              rc == WP_EQUEUE_FULL ? "request queue full, retry later" : NULL);
    return false;
  }
  x->in_worker = true;
  return true;
}

/* ---- Connections --------------------------------------------------------- */

static void on_write(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  wp_conn *conn = w->conn;
  conn->writes_pending--;
  wp_buf_free(&w->data);
  free(w);
  if (status < 0 && !conn->closing) {
    wp_log_debug("conn_write_failed", "error=\"%s\"", uv_strerror(status));
    conn_close(conn);
    return;
  }
  /* Reading may have paused on the write backlog, or a batch may have
   * ended with requests still parsed or held. */
  if (!conn->closing && !conn->shutting_down)
    conn_process_input(conn);
}

static void on_linger_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  if (nread < 0)
    conn_close(stream->data);
  /* Anything else the client still sends is dropped. */
}

static void on_linger_timeout(uv_timer_t *timer) {
  conn_close(timer->data);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);

/* Our side is done writing. Closing now with unread client bytes in the
 * socket would make the kernel reset the connection, and the client could
 * lose the answer we just sent (a 413 or 503 it has not read yet). So read
 * and drop input until the client closes, for at most two seconds. */
static void on_shutdown(uv_shutdown_t *req, int status) {
  wp_conn *conn = req->data;
  free(req);
  if (conn->closing)
    return;
  if (status < 0 || uv_read_start(&conn->h.stream, on_alloc, on_linger_read) != 0) {
    conn_close(conn);
    return;
  }
  conn->reading = true;
  uv_timer_start(&conn->timer, on_linger_timeout, 2000, 0);
}

/* Half-closes after the queued writes (uv_shutdown waits for them), then
 * closes: the client reads every answer before EOF. */
static void conn_shutdown(wp_conn *conn) {
  if (conn->shutting_down || conn->closing)
    return;
  conn->shutting_down = true;
  conn->input_done = true;
  if (conn->reading) {
    uv_read_stop(&conn->h.stream);
    conn->reading = false;
  }
  uv_timer_stop(&conn->timer);
  uv_shutdown_t *req = malloc(sizeof *req);
  if (!req) {
    conn_close(conn);
    return;
  }
  req->data = conn;
  if (uv_shutdown(req, &conn->h.stream, on_shutdown) != 0) {
    free(req);
    conn_close(conn);
  }
}

static void conn_write(wp_conn *conn, wp_buf *data) {
  write_req *w = malloc(sizeof *w);
  if (!w) {
    wp_buf_free(data);
    conn_close(conn);
    return;
  }
  w->data = *data; /* moves the bytes */
  wp_buf_init(data);
  w->conn = conn;
  uv_buf_t buf = uv_buf_init(w->data.data, (unsigned)w->data.len);
  conn->writes_pending++;
  int rc = uv_write(&w->req, &conn->h.stream, &buf, 1, on_write);
  if (rc != 0) {
    conn->writes_pending--;
    wp_buf_free(&w->data);
    free(w);
    conn_close(conn);
  }
}

static void on_timer(uv_timer_t *timer);

static void conn_arm_timer(wp_conn *conn) {
  if (conn->closing || conn->shutting_down)
    return;
  const wp_config_server *cfg = &conn->server->daemon->cfg->server;
  if (conn->exchange_count > 0) {
    uv_timer_stop(&conn->timer);
    conn->request_timer_armed = false;
    return;
  }
  if (wp_http_parser_in_request(conn->parser)) {
    /* Fixed from the request's first byte: a client trickling bytes does
     * not get to hold the connection forever. */
    if (!conn->request_timer_armed) {
      conn->request_timer_armed = true;
      if (cfg->header_timeout_ms)
        uv_timer_start(&conn->timer, on_timer, cfg->header_timeout_ms, 0);
      else
        uv_timer_stop(&conn->timer);
    }
    return;
  }
  conn->request_timer_armed = false;
  /* Before the first request the header timeout runs from accept: a
   * connection that never sends a byte gives its place back quickly. */
  uint64_t wait_ms = cfg->idle_timeout_ms;
  if (!conn->had_request && cfg->header_timeout_ms &&
      (!wait_ms || cfg->header_timeout_ms < wait_ms))
    wait_ms = cfg->header_timeout_ms;
  if (wait_ms)
    uv_timer_start(&conn->timer, on_timer, wait_ms, 0);
  else
    uv_timer_stop(&conn->timer);
}

static void on_timer(uv_timer_t *timer) {
  wp_conn *conn = timer->data;
  if (conn->closing || conn->shutting_down || conn->exchange_count > 0)
    return;
  if (wp_http_parser_in_request(conn->parser)) {
    wp_log_info("conn_timeout", "kind=header");
    wp_buf out;
    wp_buf_init(&out);
    wp_response_write_error(&out, WP_EREQUEST_TIMEOUT, "request not received within header_timeout",
                            false, 0, 0);
    conn_write(conn, &out);
    wp_buf_free(&out);
    conn_shutdown(conn);
    return;
  }
  wp_log_debug("conn_timeout", "kind=idle");
  conn_close(conn);
}

static void on_conn_closed(uv_handle_t *handle) {
  wp_conn *conn = handle->data;
  if (--conn->open_handles > 0)
    return;
  wp_http_parser_destroy(conn->parser);
  free(conn->held);
  wp_buf_free(&conn->outbox);
  free(conn);
}

/* Detaches every exchange of the connection: those on a worker finish there
 * and are freed by their done callback (which sees cancelled); the rest are
 * freed now. */
static void conn_drop_exchanges(wp_conn *conn) {
  wp_exchange *x = conn->head;
  while (x) {
    wp_exchange *next = x->next;
    x->next = NULL;
    x->conn = NULL;
    if (x->in_worker)
      atomic_store(&x->cancelled, true);
    else
      exchange_free(x);
    x = next;
  }
  conn->head = conn->tail = NULL;
  conn->exchange_count = 0;
}

static void conn_close(wp_conn *conn) {
  if (conn->closing)
    return;
  conn->closing = true;
  conn_drop_exchanges(conn);
  if (conn->reading)
    uv_read_stop(&conn->h.stream);
  conn->reading = false;
  uv_timer_stop(&conn->timer);
  uv_close(&conn->h.handle, on_conn_closed);
  uv_close((uv_handle_t *)&conn->timer, on_conn_closed);

  wp_server *server = conn->server;
  if (conn->prev)
    conn->prev->next = conn->next;
  else
    server->conns = conn->next;
  if (conn->next)
    conn->next->prev = conn->prev;
  server->conn_count--;
  check_drained(server);
}

static void conn_send_outbox(wp_conn *conn) {
  if (conn->outbox.len == 0 || conn->closing)
    return;
  conn_write(conn, &conn->outbox);
}

static void conn_outbox_add(wp_conn *conn, wp_buf *answer) {
  if (conn->outbox.len == 0) {
    wp_buf empty = conn->outbox; /* keeps any allocation for the answer */
    conn->outbox = *answer;
    *answer = empty;
    return;
  }
  if (wp_buf_append(&conn->outbox, answer->data, answer->len) != 0) {
    conn_send_outbox(conn);
    conn_write(conn, answer);
  }
}

/* Writes every answered exchange at the head of the FIFO, in order (while
 * input is being processed they wait in the outbox for the batch's end). */
static void conn_flush(wp_conn *conn) {
  bool closes = false;
  while (!conn->closing && conn->head && conn->head->answered) {
    wp_exchange *x = conn->head;
    conn->head = x->next;
    if (!conn->head)
      conn->tail = NULL;
    conn->exchange_count--;
    if (x->req)
      conn->pending_body_bytes -= x->req->body_len;
    closes = !x->keep_alive;
    conn_outbox_add(conn, &x->out);
    exchange_free(x);
    if (closes)
      break;
  }
  if (conn->closing)
    return;
  if (!conn->processing || closes)
    conn_send_outbox(conn);
  if (closes) {
    /* Later pipelined requests of a closing connection are not answered
     * (the client was told the connection ends here). */
    conn_drop_exchanges(conn);
    conn_shutdown(conn);
    return;
  }
  if (conn->exchange_count == 0 && conn->input_done) {
    conn_shutdown(conn);
    return;
  }
  if (conn->exchange_count == 0 && conn->server->draining &&
      !wp_http_parser_in_request(conn->parser)) {
    conn_shutdown(conn);
    return;
  }
  conn_process_input(conn);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  wp_conn *conn = handle->data;
  *buf = uv_buf_init(conn->server->read_buffer, sizeof conn->server->read_buffer);
}

/* After EOF: did the client only half-close (it still reads the answers)
 * or close for good? A Unix socket whose peer is gone entirely polls as
 * POLLHUP; a half-close does not. (TCP cannot tell them apart before a
 * write fails, so TCP clients are treated as half-closed.) */
static bool peer_closed(wp_conn *conn) {
  uv_os_fd_t fd;
  if (!conn->is_unix || uv_fileno(&conn->h.handle, &fd) != 0)
    return false;
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* After on_read: what the parser was not given yet must outlive the shared
 * read buffer. */
static void conn_hold_input(wp_conn *conn) {
  if (conn->input_len == 0 || conn->closing || conn->input == conn->held)
    return;
  char *copy = malloc(conn->input_len);
  if (!copy) {
    conn_close(conn);
    return;
  }
  memcpy(copy, conn->input, conn->input_len);
  conn->held = copy;
  conn->input = copy;
}

/* Feeds the parser the next slice of unparsed input. False when there is
 * none. A parse error is sticky and reported through wp_http_parser_next. */
static bool conn_feed_slice(wp_conn *conn) {
  if (conn->input_len == 0)
    return false;
  size_t n = conn->input_len < FEED_SLICE_BYTES ? conn->input_len : FEED_SLICE_BYTES;
  wp_http_parser_feed(conn->parser, conn->input, n);
  conn->input += n;
  conn->input_len -= n;
  if (conn->input_len == 0 && conn->held) {
    free(conn->held);
    conn->held = NULL;
    conn->input = NULL;
  }
  return true;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  wp_conn *conn = stream->data;
  if (nread == 0)
    return;
  if (nread < 0) {
    if (nread != UV_EOF)
      wp_log_debug("conn_read_failed", "error=\"%s\"", uv_strerror((int)nread));
    /* EOF: a client that half-closed after its requests still gets the
     * answers (a partial request at the end is dropped); one that is gone
     * (closed, reset) ends it now, and its queued jobs are skipped. */
    if (nread == UV_EOF && (conn->exchange_count > 0 || wp_http_parser_pending(conn->parser) > 0) &&
        !peer_closed(conn)) {
      uv_read_stop(stream);
      conn->reading = false;
      conn->eof = true;
      conn_process_input(conn);
      return;
    }
    conn_close(conn);
    return;
  }
  /* Reading is on only while nothing is left of the previous read. */
  conn->input = buf->base;
  conn->input_len = (size_t)nread;
  conn_process_input(conn);
  conn_hold_input(conn);
}

static bool host_allowed(const wp_server *server, const wp_header *host) {
  if (!host)
    return false;
  for (size_t i = 0; i < server->tcp_host_count; i++)
    if (strlen(server->tcp_hosts[i]) == host->value_len &&
        strncasecmp(server->tcp_hosts[i], host->value, host->value_len) == 0)
      return true;
  return false;
}

/* The media types a browser may send cross-site without a CORS preflight
 * (and an absent Content-Type, which it may too). */
static bool content_type_is_form(const wp_header *type) {
  static const char *const simple[] = {"text/plain", "application/x-www-form-urlencoded",
                                       "multipart/form-data"};
  if (!type)
    return true;
  size_t len = 0;
  while (len < type->value_len && type->value[len] != ';' && type->value[len] != ' ' &&
         type->value[len] != '\t')
    len++;
  if (len == 0)
    return true;
  for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
    if (strlen(simple[i]) == len && strncasecmp(simple[i], type->value, len) == 0)
      return true;
  return false;
}

/* TCP is reachable from a browser: by DNS rebinding (a page whose name now
 * points at 127.0.0.1 sends "Host: attacker.example") and by cross-site form
 * posts (no preflight for the form media types). The Unix socket is guarded
 * by its file permissions and is not checked. Answers 403 itself when the
 * request is refused. */
static bool tcp_request_allowed(wp_exchange *x) {
  const wp_request *req = x->req;
  if (!host_allowed(x->conn->server, wp_request_header(req, "Host"))) {
    wp_exchange_respond_error(x, WP_EFORBIDDEN,
                              "Host is not this TCP listener's address or localhost");
    return false;
  }
  bool mutating = req->method == WP_METHOD_POST || req->method == WP_METHOD_PUT;
  if (mutating && content_type_is_form(wp_request_header(req, "Content-Type"))) {
    wp_exchange_respond_error(x, WP_EFORBIDDEN,
                              "POST and PUT over TCP need a Content-Type such as "
                              "application/json or application/wasm (not a form type)");
    return false;
  }
  return true;
}

static void dispatch(wp_exchange *x) {
  wp_request *req = x->req;
  if (!x->conn->is_unix && !tcp_request_allowed(x))
    return;
  int rc = wp_route_match(req->method, req->path, req->path_len, &x->route);
  if (rc) {
    /* The router says which rule the path broke; the client needs it. */
    const char *message = x->route.why;
    char why[128];
    if (rc == WP_ENOT_FOUND) {
      snprintf(why, sizeof why, "no route for %s %.64s", req->method_name, req->path);
      message = why;
    }
    wp_exchange_respond_error(x, rc, message);
    return;
  }
  if (x->daemon->shutting_down) {
    x->keep_alive = false;
    wp_exchange_respond_error(x, WP_ESHUTTING_DOWN, NULL);
    return;
  }
  wp_handle(x);
}

static void conn_process_input(wp_conn *conn) {
  /* An answer given synchronously by dispatch() flushes, and the flush asks
   * for more input: the loop below is already doing that. */
  if (conn->processing)
    return;
  conn->processing = true;
  /* At most one batch per call: the batch's answers leave in one write,
   * and the next batch starts from that write's callback, so held input is
   * parsed only while answers are going out (a client that does not read
   * gets no more requests run) and a busy connection yields to the others. */
  unsigned batch = 0;
  while (!conn->closing && !conn->input_done && conn->exchange_count < MAX_PIPELINE &&
         batch < MAX_PIPELINE &&
         uv_stream_get_write_queue_size(&conn->h.stream) <= MAX_WRITE_BACKLOG) {
    wp_request *req = NULL;
    int rc = wp_http_parser_next(conn->parser, &req);
    if (rc == 0) {
      if (conn_feed_slice(conn))
        continue;
      break;
    }
    if (rc < 0) {
      /* The byte stream is unusable past this point: answer and close. */
      conn->input_done = true;
      wp_exchange *x = exchange_new(conn, NULL);
      if (!x) {
        conn->processing = false;
        conn_close(conn);
        return;
      }
      const char *why = wp_http_parser_error_message(conn->parser);
      conn->processing = false;
      wp_exchange_respond_error(x, rc, why && why[0] ? why : NULL);
      return;
    }
    conn->request_timer_armed = false;
    conn->had_request = true;
    batch++;
    wp_exchange *x = exchange_new(conn, req);
    if (!x) {
      wp_request_destroy(req);
      conn->processing = false;
      conn_close(conn);
      return;
    }
    dispatch(x);
  }
  conn->processing = false;
  conn_send_outbox(conn);
  if (conn->closing || conn->shutting_down)
    return;
  if (conn->eof && conn->exchange_count == 0 && conn->input_len == 0 &&
      wp_http_parser_pending(conn->parser) == 0) {
    conn_shutdown(conn);
    return;
  }
  /* Pipelined bodies count too: 32 bodies of max_body_size each would be
   * gigabytes; one body's worth of unanswered requests is enough. */
  bool want_read = !conn->input_done && !conn->eof && conn->input_len == 0 &&
                   wp_http_parser_pending(conn->parser) == 0 &&
                   conn->exchange_count < MAX_PIPELINE &&
                   uv_stream_get_write_queue_size(&conn->h.stream) <= MAX_WRITE_BACKLOG &&
                   conn->pending_body_bytes < conn->server->daemon->cfg->server.max_body_bytes;
  if (want_read && !conn->reading) {
    if (uv_read_start(&conn->h.stream, on_alloc, on_read) == 0)
      conn->reading = true;
  } else if (!want_read && conn->reading) {
    uv_read_stop(&conn->h.stream);
    conn->reading = false;
  }
  /* 100 Continue only when it cannot interleave with an earlier answer. */
  if (wp_http_parser_take_continue(conn->parser) && conn->exchange_count == 0) {
    wp_buf cont;
    wp_buf_init(&cont);
    wp_buf_append_str(&cont, "HTTP/1.1 100 Continue\r\n\r\n");
    conn_write(conn, &cont);
    wp_buf_free(&cont);
  }
  conn_arm_timer(conn);
}

/* Accepted, but refused before reading anything: answer and close. */
static void conn_reject(wp_conn *conn, int code, const char *message) {
  conn->input_done = true;
  wp_exchange *x = exchange_new(conn, NULL);
  if (!x) {
    conn_close(conn);
    return;
  }
  wp_exchange_respond_error(x, code, message);
}

static bool peer_allowed(wp_conn *conn, uid_t *uid_out) {
  const wp_config_server *cfg = &conn->server->daemon->cfg->server;
  if (!conn->is_unix || cfg->allowed_uid_count == 0)
    return true;
  uv_os_fd_t fd;
  if (uv_fileno(&conn->h.handle, &fd) != 0)
    return false;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return false;
  *uid_out = cred.uid;
  for (size_t i = 0; i < cfg->allowed_uid_count; i++)
    if (cfg->allowed_uids[i] == cred.uid)
      return true;
  return false;
}

static void on_connection(uv_stream_t *listener, int status) {
  wp_server *server = listener->data;
  wp_daemon *d = server->daemon;
  if (status < 0) {
    /* EMFILE under a connection flood would repeat on every event. */
    if (uv_now(d->loop) - d->last_overload_log_ms >= 1000) {
      d->last_overload_log_ms = uv_now(d->loop);
      wp_log_warn("accept_failed", "error=\"%s\"", uv_strerror(status));
    }
    return;
  }
  wp_conn *conn = calloc(1, sizeof *conn);
  if (!conn)
    return; /* the kernel keeps it in the backlog; we retry on the next event */
  conn->server = server;
  conn->is_unix = listener == &server->unix_listener.stream;
  wp_http_limits limits = {.max_header_bytes = d->cfg->server.max_header_bytes,
                           .max_body_bytes = d->cfg->server.max_body_bytes};
  if (wp_http_parser_create(&limits, &conn->parser) != 0) {
    free(conn);
    return;
  }
  if (conn->is_unix)
    uv_pipe_init(d->loop, &conn->h.pipe, 0);
  else
    uv_tcp_init(d->loop, &conn->h.tcp);
  uv_timer_init(d->loop, &conn->timer);
  conn->h.handle.data = conn;
  conn->timer.data = conn;
  conn->open_handles = 2;
  conn->next = server->conns;
  if (server->conns)
    server->conns->prev = conn;
  server->conns = conn;
  server->conn_count++;
  if (uv_accept(listener, &conn->h.stream) != 0) {
    conn_close(conn);
    return;
  }
  if (!conn->is_unix)
    uv_tcp_nodelay(&conn->h.tcp, 1);

  uid_t uid = 0;
  if (!peer_allowed(conn, &uid)) {
    wp_log_warn("peer_refused", "uid=%u", (unsigned)uid);
    conn_reject(conn, WP_EFORBIDDEN, "peer uid not in server.allowed_uids");
    return;
  }
  if (server->conn_count > d->cfg->server.max_connections) {
    wp_log_warn("conn_limit", "max_connections=%u", d->cfg->server.max_connections);
    conn_reject(conn, WP_EQUEUE_FULL, "too many connections (server.max_connections)");
    return;
  }
  conn_process_input(conn);
}

/* ---- Listening ----------------------------------------------------------- */

static void on_server_handle_closed(uv_handle_t *handle) {
  wp_server *server = handle->data;
  if (--server->open_handles == 0 && server->drained_called)
    free(server);
}

/* A socket file left by a daemon that died is removed; one a live daemon
 * answers on makes us refuse to start (two daemons on one path would steal
 * each other's clients); anything that is not a socket is left alone. */
int wp_server_check_socket(const char *path, char *why, size_t why_len) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    if (errno == ENOENT)
      return 0;
    snprintf(why, why_len, "%s: %s", path, strerror(errno));
    return WP_ESYS;
  }
  if (!S_ISSOCK(st.st_mode)) {
    snprintf(why, why_len, "%s exists and is not a socket; not removing it", path);
    return WP_ECONFLICT;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(why, why_len, "socket: %s", strerror(errno));
    return WP_ESYS;
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  int saved = errno;
  close(fd);
  if (rc == 0) {
    snprintf(why, why_len, "another daemon is listening on %s", path);
    return WP_ECONFLICT;
  }
  if (saved != ECONNREFUSED && saved != ENOENT) {
    snprintf(why, why_len, "%s: cannot tell whether it is stale: %s", path, strerror(saved));
    return WP_ESYS;
  }
  if (unlink(path) != 0 && errno != ENOENT) {
    snprintf(why, why_len, "%s: cannot remove stale socket: %s", path, strerror(errno));
    return WP_ESYS;
  }
  wp_log_info("stale_socket_removed", "path=%s", path);
  return 0;
}

static int chown_socket(const wp_config_server *cfg, char *why, size_t why_len) {
  if (!cfg->socket_owner && !cfg->socket_group)
    return 0;
  uid_t uid = (uid_t)-1;
  gid_t gid = (gid_t)-1;
  if (cfg->socket_owner) {
    struct passwd *pw = getpwnam(cfg->socket_owner);
    if (!pw) {
      snprintf(why, why_len, "server.socket_owner: no user named %s", cfg->socket_owner);
      return WP_ECONFIG;
    }
    uid = pw->pw_uid;
  }
  if (cfg->socket_group) {
    struct group *gr = getgrnam(cfg->socket_group);
    if (!gr) {
      snprintf(why, why_len, "server.socket_group: no group named %s", cfg->socket_group);
      return WP_ECONFIG;
    }
    gid = gr->gr_gid;
  }
  if (chown(cfg->socket_path, uid, gid) != 0) {
    snprintf(why, why_len, "chown %s: %s", cfg->socket_path, strerror(errno));
    return WP_ESYS;
  }
  return 0;
}

static int listen_unix(wp_server *server, char *why, size_t why_len) {
  wp_daemon *d = server->daemon;
  const wp_config_server *cfg = &d->cfg->server;
  struct sockaddr_un probe;
  if (strlen(cfg->socket_path) >= sizeof probe.sun_path) {
    snprintf(why, why_len, "server.socket_path: longer than %zu bytes", sizeof probe.sun_path - 1);
    return WP_ECONFIG;
  }
  int rc = wp_server_check_socket(cfg->socket_path, why, why_len);
  if (rc)
    return rc;
  uv_pipe_init(d->loop, &server->unix_listener.pipe, 0);
  server->unix_listener.handle.data = server;
  server->unix_open = true;
  server->open_handles++;
  /* Created owner-only, then widened to socket_mode: no window in which the
   * socket is more open than configured. Start-up is single-threaded here
   * as far as file creation goes (workers are idle). */
  mode_t old_mask = umask(0177);
  rc = uv_pipe_bind(&server->unix_listener.pipe, cfg->socket_path);
  umask(old_mask);
  if (rc != 0) {
    snprintf(why, why_len, "bind %s: %s", cfg->socket_path, uv_strerror(rc));
    return WP_ESYS;
  }
  server->socket_path = strdup(cfg->socket_path);
  if (chmod(cfg->socket_path, (mode_t)cfg->socket_mode) != 0) {
    snprintf(why, why_len, "chmod %s: %s", cfg->socket_path, strerror(errno));
    return WP_ESYS;
  }
  rc = chown_socket(cfg, why, why_len);
  if (rc)
    return rc;
  rc = uv_listen(&server->unix_listener.stream, 511, on_connection);
  if (rc != 0) {
    snprintf(why, why_len, "listen %s: %s", cfg->socket_path, uv_strerror(rc));
    return WP_ESYS;
  }
  wp_log_info("listening", "socket=%s mode=%04o", cfg->socket_path, cfg->socket_mode);
  return 0;
}

static int listen_tcp(wp_server *server, char *why, size_t why_len) {
  wp_daemon *d = server->daemon;
  const wp_config_server *cfg = &d->cfg->server;
  if (!cfg->tcp_host)
    return 0;
  union {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_storage storage;
  } addr;
  if (uv_ip4_addr(cfg->tcp_host, cfg->tcp_port, &addr.in4) != 0 &&
      uv_ip6_addr(cfg->tcp_host, cfg->tcp_port, &addr.in6) != 0) {
    snprintf(why, why_len, "server.tcp_listen: bad address %s", cfg->tcp_host);
    return WP_ECONFIG;
  }
  uv_tcp_init(d->loop, &server->tcp_listener.tcp);
  server->tcp_listener.handle.data = server;
  server->tcp_open = true;
  server->open_handles++;
  int rc = uv_tcp_bind(&server->tcp_listener.tcp, &addr.sa, 0);
  if (rc == 0)
    rc = uv_listen(&server->tcp_listener.stream, 511, on_connection);
  if (rc != 0) {
    snprintf(why, why_len, "server.tcp_listen %s: %s", cfg->tcp_listen, uv_strerror(rc));
    return WP_ESYS;
  }
  int len = sizeof addr;
  uv_tcp_getsockname(&server->tcp_listener.tcp, &addr.sa, &len);
  char host[64] = "?";
  int port = 0;
  if (addr.sa.sa_family == AF_INET) {
    uv_ip4_name(&addr.in4, host, sizeof host);
    port = ntohs(addr.in4.sin_port);
  } else {
    uv_ip6_name(&addr.in6, host, sizeof host);
    port = ntohs(addr.in6.sin6_port);
  }
  wp_log_info("listening", "tcp=%s:%d", host, port);
  const char *bracket_l = addr.sa.sa_family == AF_INET6 ? "[" : "";
  const char *bracket_r = addr.sa.sa_family == AF_INET6 ? "]" : "";
  char(*hosts)[80] = server->tcp_hosts;
  snprintf(hosts[0], sizeof hosts[0], "%s%s%s", bracket_l, host, bracket_r);
  snprintf(hosts[1], sizeof hosts[1], "%s%s%s:%d", bracket_l, host, bracket_r, port);
  snprintf(hosts[2], sizeof hosts[2], "localhost");
  snprintf(hosts[3], sizeof hosts[3], "localhost:%d", port);
  server->tcp_host_count = 4;
  if (cfg->allowed_uid_count)
    wp_log_warn("tcp_unchecked", "server.allowed_uids applies to the Unix socket only");
  return 0;
}

static void on_reap(uv_timer_t *timer) {
  wp_server *server = timer->data;
  wp_daemon *d = server->daemon;
  size_t n = wp_instance_table_reap_idle(d->instances, d->cfg->server.instance_idle_timeout_ms);
  if (n)
    wp_log_info("instances_reaped", "count=%zu idle_ms=%llu", n,
                (unsigned long long)d->cfg->server.instance_idle_timeout_ms);
}

int wp_server_start(wp_daemon *d, char *why, size_t why_len) {
  wp_server *server = calloc(1, sizeof *server);
  if (!server) {
    snprintf(why, why_len, "out of memory");
    return WP_ENOMEM;
  }
  server->daemon = d;
  d->server = server;
  uv_timer_init(d->loop, &server->reaper);
  uv_timer_init(d->loop, &server->grace);
  server->reaper.data = server;
  server->grace.data = server;
  server->open_handles += 2;
  uint64_t idle = d->cfg->server.instance_idle_timeout_ms;
  if (idle) {
    uint64_t every = idle / 4;
    every = every < 100 ? 100 : every > 60000 ? 60000 : every;
    uv_timer_start(&server->reaper, on_reap, every, every);
    server->reaper_running = true;
  }
  int rc = listen_unix(server, why, why_len);
  if (rc == 0)
    rc = listen_tcp(server, why, why_len);
  return rc;
}

uint64_t wp_server_connection_count(const wp_daemon *d) {
  return d->server ? d->server->conn_count : 0;
}

/* ---- Shutdown ------------------------------------------------------------ */

static void finish_drain(wp_server *server, bool clean) {
  if (server->drained_called)
    return;
  server->drained_called = true;
  uv_timer_stop(&server->grace);
  server->drained(server->daemon, clean);
}

static void check_drained(wp_server *server) {
  if (!server->draining || server->drained_called)
    return;
  if (server->conn_count == 0 && wp_work_queue_outstanding(server->daemon->queue) == 0)
    finish_drain(server, true);
}

static void on_grace_expired(uv_timer_t *timer) {
  wp_server *server = timer->data;
  size_t outstanding = wp_work_queue_outstanding(server->daemon->queue);
  wp_log_warn("shutdown_grace_expired", "connections=%llu jobs=%zu",
              (unsigned long long)server->conn_count, outstanding);
  while (server->conns)
    conn_close(server->conns);
  if (!server->drained_called)
    finish_drain(server, outstanding == 0);
}

static void on_drain_poll(uv_timer_t *timer);

void wp_server_shutdown(wp_daemon *d, wp_server_drained_cb drained) {
  wp_server *server = d->server;
  if (server->draining)
    return;
  server->draining = true;
  server->drained = drained;
  d->shutting_down = true;
  if (server->unix_open) {
    server->unix_open = false;
    uv_close(&server->unix_listener.handle, on_server_handle_closed);
  }
  if (server->tcp_open) {
    server->tcp_open = false;
    uv_close(&server->tcp_listener.handle, on_server_handle_closed);
  }
  if (server->socket_path) {
    unlink(server->socket_path);
    free(server->socket_path);
    server->socket_path = NULL;
  }
  wp_work_queue_stop(d->queue);
  /* Connections with nothing in flight and no request half received close
   * now; the others keep reading until their last answer (conn_flush sees
   * draining): a request that arrives meanwhile, pipelined or not, is
   * answered 503 shutting_down by dispatch() instead of being ignored. */
  wp_conn *conn = server->conns;
  while (conn) {
    wp_conn *next = conn->next;
    if (conn->exchange_count == 0 && conn->input_len == 0 &&
        !wp_http_parser_in_request(conn->parser))
      conn_close(conn);
    conn = next;
  }
  uv_timer_start(&server->grace, on_grace_expired, d->cfg->server.shutdown_grace_ms, 0);
  /* Jobs of closed connections finish without touching any connection, so
   * poll for the queue to empty too. */
  uv_timer_start(&server->reaper, on_drain_poll, 10, 10);
  check_drained(server);
}

static void on_drain_poll(uv_timer_t *timer) {
  check_drained(timer->data);
}

void wp_server_destroy(wp_daemon *d) {
  wp_server *server = d->server;
  if (!server)
    return;
  d->server = NULL;
  while (server->conns)
    conn_close(server->conns);
  if (server->unix_open)
    uv_close(&server->unix_listener.handle, on_server_handle_closed);
  if (server->tcp_open)
    uv_close(&server->tcp_listener.handle, on_server_handle_closed);
  server->unix_open = server->tcp_open = false;
  if (server->socket_path) {
    unlink(server->socket_path);
    free(server->socket_path);
    server->socket_path = NULL;
  }
  server->drained_called = true; /* lets the last close callback free it */
  uv_close((uv_handle_t *)&server->reaper, on_server_handle_closed);
  uv_close((uv_handle_t *)&server->grace, on_server_handle_closed);
}
