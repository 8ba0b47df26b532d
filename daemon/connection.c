/* connection.c — one client connection: reading, incremental parsing,
 * the FIFO of its exchanges, writing answers in request order, timeouts,
 * backpressure and the lingering close.
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
#include "server_int.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "iobuf.h"
#include "log.h"

static void conn_process_input(wp_conn *conn);

/* ---- Connections --------------------------------------------------------- */

static void on_write(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  wp_conn *conn = w->conn;
  conn->writes_pending--;
  wp_iobuf_free(&conn->shard->iobufs, w, w->map_len);
  if (status < 0 && !conn->closing) {
    wp_log_debug("conn_write_failed", "error=\"%s\"", uv_strerror(status));
    wp__conn_close(conn);
    return;
  }
  /* Reading may have paused on the write backlog, or a batch may have
   * ended with requests still parsed or held. */
  if (!conn->closing && !conn->shutting_down)
    conn_process_input(conn);
}

static void on_linger_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  if (nread < 0)
    wp__conn_close(stream->data);
  /* Anything else the client still sends is dropped. */
}

static void on_linger_timeout(uv_timer_t *timer) {
  wp__conn_close(timer->data);
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
    wp__conn_close(conn);
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
    wp__conn_close(conn);
    return;
  }
  req->data = conn;
  if (uv_shutdown(req, &conn->h.stream, on_shutdown) != 0) {
    free(req);
    wp__conn_close(conn);
  }
}

/* Most answers fit in the socket buffer. Written at once they need no write
 * request, no callback, and no epoll_ctl (libuv 1.44 re-arms the stream's
 * epoll entry after every queued write completes). Only when nothing is
 * queued before it and nothing more waits to be parsed: otherwise the write
 * callback is what starts the connection's next batch. Returns how many
 * bytes went, or -1 when the connection was closed. */
static ssize_t conn_try_write(wp_conn *conn, wp_buf *data) {
  if (conn->writes_pending || conn->input_len || wp_http_parser_pending(conn->parser))
    return 0;
  uv_buf_t buf = uv_buf_init(data->data, (unsigned)data->len);
  int n = uv_try_write(&conn->h.stream, &buf, 1);
  if (n == UV_EAGAIN || n == UV_ENOSYS)
    return 0;
  if (n < 0) {
    wp_log_debug("conn_write_failed", "error=\"%s\"", uv_strerror(n));
    wp__conn_close(conn);
    return -1;
  }
  return n;
}

/* Writes data and empties it; what the socket does not take at once is
 * copied into the write request. data's allocation is kept for the next
 * answer, unless the answer had to wait and the allocation has pages of its
 * own: a connection whose client does not read would keep those for as long
 * as it waits (iobuf.c). */
static void conn_write(wp_conn *conn, wp_buf *data) {
  ssize_t done = conn_try_write(conn, data);
  if (done < 0)
    return;
  size_t len = data->len - (size_t)done;
  if (len > 0) {
    size_t map_len;
    write_req *w = wp_iobuf_alloc(&conn->shard->iobufs, sizeof *w + len, &map_len);
    if (!w) {
      wp_buf_free(data);
      wp__conn_close(conn);
      return;
    }
    w->conn = conn;
    w->map_len = map_len;
    memcpy(w->bytes, data->data + done, len);
    uv_buf_t buf = uv_buf_init(w->bytes, (unsigned)len);
    conn->writes_pending++;
    int rc = uv_write(&w->req, &conn->h.stream, &buf, 1, on_write);
    if (rc != 0) {
      conn->writes_pending--;
      wp_iobuf_free(&conn->shard->iobufs, w, map_len);
      wp_buf_free(data);
      wp__conn_close(conn);
      return;
    }
  }
  if (data->cap >= WP_IOBUF_MIN && len > 0)
    wp_buf_free(data);
  else
    wp_buf_reset(data);
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
  wp__conn_close(conn);
}

static void on_conn_closed(uv_handle_t *handle) {
  wp_conn *conn = handle->data;
  if (--conn->open_handles > 0)
    return;
  wp__shard *shard = conn->shard;
  wp_http_parser_destroy(conn->parser);
  if (conn->held)
    wp_iobuf_free(&shard->iobufs, conn->held, conn->held_map);
  wp_buf_free(&conn->outbox);
  free(conn);
  /* jemalloc's thread cache is trimmed only by that thread's own allocations:
   * a loop left without connections would keep what its last flood freed
   * (~1.5 MiB after 500 pipelining clients) for as long as it stays idle.
   * Flushed here, after the last connection's own buffers went into it; the
   * blocks kept for lagging connections go too. */
  if (shard->conn_count == 0) {
    wp_jemalloc_flush_thread_cache();
    wp_iobuf_trim(&shard->iobufs);
  }
}

/* Detaches every exchange of the connection: those on a worker finish there
 * and are freed by their done callback (which sees cancelled); the rest are
 * freed now. */
static void conn_drop_exchanges(wp_conn *conn) {
  wp_exchange *x = conn->head;
  while (x) {
    wp_exchange *next = WP__X(x)->next;
    WP__X(x)->next = NULL;
    WP__X(x)->conn = NULL;
    if (WP__X(x)->in_worker)
      atomic_store(&WP__X(x)->cancelled, true);
    else
      wp__exchange_free(x);
    x = next;
  }
  conn->head = conn->tail = NULL;
  conn->exchange_count = 0;
}

void wp__conn_close(wp_conn *conn) {
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

  wp__shard *shard = conn->shard;
  if (conn->prev)
    conn->prev->next = conn->next;
  else
    shard->conns = conn->next;
  if (conn->next)
    conn->next->prev = conn->prev;
  shard->conn_count--;
  /* The main loop's drain poll sees it (server.c). */
  atomic_fetch_sub(&conn->server->conn_count, 1);
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
void wp__conn_flush(wp_conn *conn) {
  bool closes = false;
  while (!conn->closing && conn->head && WP__X(conn->head)->answered) {
    wp_exchange *x = conn->head;
    conn->head = WP__X(x)->next;
    if (!conn->head)
      conn->tail = NULL;
    conn->exchange_count--;
    if (x->req)
      conn->pending_body_bytes -= x->req->body_len;
    closes = !WP__X(x)->keep_alive;
    conn_outbox_add(conn, &WP__X(x)->out);
    wp__exchange_free(x);
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
  if (conn->exchange_count == 0 && atomic_load(&conn->server->draining) &&
      !wp_http_parser_in_request(conn->parser)) {
    conn_shutdown(conn);
    return;
  }
  conn_process_input(conn);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  wp_conn *conn = handle->data;
  *buf = uv_buf_init(conn->shard->read_buffer, sizeof conn->shard->read_buffer);
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
  char *copy = wp_iobuf_alloc(&conn->shard->iobufs, conn->input_len, &conn->held_map);
  if (!copy) {
    wp__conn_close(conn);
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
    wp_iobuf_free(&conn->shard->iobufs, conn->held, conn->held_map);
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
    wp__conn_close(conn);
    return;
  }
  /* Reading is on only while nothing is left of the previous read. */
  conn->input = buf->base;
  conn->input_len = (size_t)nread;
  conn_process_input(conn);
  conn_hold_input(conn);
}

static void conn_process_input(wp_conn *conn) {
  /* An answer given synchronously by wp__exchange_dispatch() flushes, and the flush asks
   * for more input: the loop below is already doing that. */
  if (conn->processing)
    return;
  conn->processing = true;
  /* At most one batch per call: the batch's answers leave in one write,
   * and the next batch starts from that write's callback, so held input is
   * parsed only while answers are going out (a client that does not read
   * gets no more requests run) and a busy connection yields to the others.
   * Guest code runs inline on this loop, so a batch also ends once it has
   * taken WP_INLINE_TURN_US: a connection pipelining short runs yields to
   * the loop's other connections within that bound (a batch that ends
   * early has either written an answer or handed work to the pool, and
   * either resumes it). */
  unsigned batch = 0;
  uint64_t batch_start_us = wp_now_us();
  while (!conn->closing && !conn->input_done && conn->exchange_count < MAX_PIPELINE &&
         batch < MAX_PIPELINE && (batch == 0 || wp_now_us() - batch_start_us < WP_INLINE_TURN_US) &&
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
      wp_exchange *x = wp__exchange_new(conn, NULL);
      if (!x) {
        conn->processing = false;
        wp__conn_close(conn);
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
    wp_exchange *x = wp__exchange_new(conn, req);
    if (!x) {
      wp_request_destroy(req);
      conn->processing = false;
      wp__conn_close(conn);
      return;
    }
    wp__exchange_dispatch(x);
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
  wp_exchange *x = wp__exchange_new(conn, NULL);
  if (!x) {
    wp__conn_close(conn);
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

/* How long an accept over max_connections waits for closes on other loops. */
#define LIMIT_RECHECK_MS 10

static void on_limit_recheck(uv_timer_t *timer) {
  wp_conn *conn = timer->data;
  const wp_config_server *cfg = &conn->server->daemon->cfg->server;
  if (conn->closing)
    return;
  if (atomic_load(&conn->server->conn_count) > cfg->max_connections) {
    wp_log_warn("conn_limit", "max_connections=%u", cfg->max_connections);
    conn_reject(conn, WP_EQUEUE_FULL, "too many connections (server.max_connections)");
    return;
  }
  conn_process_input(conn);
}

void wp__conn_start(wp__shard *shard, int fd, bool is_unix) {
  wp_server *server = shard->server;
  wp_daemon *d = server->daemon;
  wp_conn *conn = calloc(1, sizeof *conn);
  wp_http_limits limits = {.max_header_bytes = d->cfg->server.max_header_bytes,
                           .max_body_bytes = d->cfg->server.max_body_bytes};
  if (!conn || wp_http_parser_create(&limits, &conn->parser) != 0) {
    free(conn);
    close(fd);
    return;
  }
  conn->server = server;
  conn->shard = shard;
  conn->is_unix = is_unix;
  int rc;
  if (is_unix) {
    uv_pipe_init(&shard->loop, &conn->h.pipe, 0);
    rc = uv_pipe_open(&conn->h.pipe, fd);
  } else {
    uv_tcp_init(&shard->loop, &conn->h.tcp);
    rc = uv_tcp_open(&conn->h.tcp, fd);
  }
  uv_timer_init(&shard->loop, &conn->timer);
  conn->h.handle.data = conn;
  conn->timer.data = conn;
  conn->open_handles = 2;
  conn->next = shard->conns;
  if (shard->conns)
    shard->conns->prev = conn;
  shard->conns = conn;
  shard->conn_count++;
  uint64_t total = atomic_fetch_add(&server->conn_count, 1) + 1;
  if (rc != 0) {
    close(fd);
    wp__conn_close(conn);
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
  if (total > d->cfg->server.max_connections) {
    /* Counted, but judged a moment later: a client that closed a
     * connection and opened another may have its close still unseen by
     * the loop that owns the old one (one loop saw both in order). */
    uv_timer_start(&conn->timer, on_limit_recheck, LIMIT_RECHECK_MS, 0);
    return;
  }
  conn_process_input(conn);
}
