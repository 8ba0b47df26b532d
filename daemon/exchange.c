/* exchange.c — one request and its answer.
 *
 * connection.c makes an exchange for each parsed request and calls
 * wp__exchange_dispatch(): the TCP checks, the router, then the endpoint's
 * handler. The handler answers with wp_exchange_respond*() (at once, or
 * after wp_exchange_submit() ran its slow part on a worker), which formats
 * the bytes and hands the exchange back to its connection to write.
 */
#include "server_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

uint64_t wp_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- Exchanges ----------------------------------------------------------- */

wp_exchange *wp__exchange_new(wp_conn *conn, wp_request *req) {
  wp_exchange *x = calloc(1, sizeof *x);
  if (!x)
    return NULL;
  x->daemon = conn->server->daemon;
  x->conn = conn;
  x->req = req;
  x->start_us = wp_now_us();
  x->shard = conn->shard;
  x->keep_alive = req ? req->keep_alive && !atomic_load(&conn->server->draining) : false;
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

void wp__exchange_free(wp_exchange *x) {
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
  if (atomic_load(&x->daemon->shutting_down) && !x->next)
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
    wp__exchange_free(x);
    return;
  }
  wp__conn_flush(x->conn);
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
  if ((code == WP_EQUEUE_FULL || code == WP_EPOOL_EXHAUSTED) &&
      wp_daemon_log_overload_now(x->daemon))
    wp_log_warn("overload", "code=%s endpoint=%s", wp_err_name(code),
                wp_endpoint_name(x->route.endpoint));
  exchange_answered(x);
}

bool wp_daemon_log_overload_now(wp_daemon *d) {
  uint64_t now = wp_now_us() / 1000;
  uint64_t last = atomic_load(&d->last_overload_log_ms);
  return now - last >= 1000 && atomic_compare_exchange_strong(&d->last_overload_log_ms, &last, now);
}

static void exchange_work(wp_job *job) {
  wp_exchange *x = (wp_exchange *)job;
  if (atomic_load(&x->cancelled))
    return;
  uint64_t start = wp_now_us();
  x->work(x);
  x->run_us = wp_now_us() - start;
}

static void exchange_done(wp_job *job) {
  wp_exchange *x = (wp_exchange *)job;
  x->in_worker = false;
  /* Learnt on the loop that asked: a module that ran short on the pool may
   * run inline next time. */
  if (x->run_module && x->run_us)
    wp__shard_record_run(x->shard, x->run_module, x->run_module_len, x->run_us);
  if (!x->conn) {
    /* The client left while the worker ran: nobody to answer. */
    wp__exchange_free(x);
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
  int rc = wp_work_queue_submit_to(x->daemon->queue, x->shard->home, &x->job);
  if (rc) {
    wp_exchange_respond_error(x, rc,
                              rc == WP_EQUEUE_FULL ? "request queue full, retry later" : NULL);
    return false;
  }
  x->in_worker = true;
  return true;
}

bool wp_exchange_run_guest(wp_exchange *x, const char *module, size_t module_len,
                           void (*work)(wp_exchange *x), void (*finish)(wp_exchange *x)) {
  x->run_module = module;
  x->run_module_len = module_len;
  if (!wp__shard_may_inline(x->shard, module, module_len))
    return wp_exchange_submit(x, work, finish);
  uint64_t start = wp_now_us();
  work(x);
  wp__shard_record_run(x->shard, module, module_len, wp_now_us() - start);
  finish(x);
  return true;
}

/* ---- Routing ------------------------------------------------------------- */

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

void wp__exchange_dispatch(wp_exchange *x) {
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
  if (atomic_load(&x->daemon->shutting_down)) {
    x->keep_alive = false;
    wp_exchange_respond_error(x, WP_ESHUTTING_DOWN, NULL);
    return;
  }
  wp_handle(x);
}
