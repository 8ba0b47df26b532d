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
#include <sys/resource.h>
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
  wp__exchange *e = calloc(1, sizeof *e);
  if (!e)
    return NULL;
  wp_exchange *x = &e->pub;
  x->daemon = conn->server->daemon;
  x->req = req;
  e->conn = conn;
  e->start_us = wp_now_us();
  e->shard = conn->shard;
  e->keep_alive = req ? req->keep_alive && !atomic_load(&conn->server->draining) : false;
  wp_buf_init(&e->out);
  if (conn->tail)
    WP__X(conn->tail)->next = x;
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
  wp_buf_free(&WP__X(x)->out);
  if (x->module)
    wp_module_release(x->module);
  if (x->live)
    wp_live_instance_release(x->live);
  if (x->json)
    json_decref(x->json);
  if (x->extra && x->extra_free)
    x->extra_free(x->extra);
  free(x->extra);
  free(WP__X(x));
}

/* During shutdown an answer ends its connection unless a request already
 * waits behind it (that one gets 503 shutting_down and ends it): a client
 * is never told "keep-alive" by a daemon that will not read again, and no
 * request it pipelined goes unanswered. */
static void exchange_pick_keep_alive(wp_exchange *x) {
  wp__exchange *e = WP__X(x);
  if (atomic_load(&x->daemon->shutting_down) && !e->next)
    e->keep_alive = false;
}

/* Common tail of every respond: metrics, access log, hand back to the
 * connection (or drop it when the client is gone). */
static void exchange_answered(wp_exchange *x) {
  wp__exchange *e = WP__X(x);
  e->answered = true;
  uint64_t latency = wp_now_us() - e->start_us;
  wp_metrics_record_request(x->daemon->metrics, (size_t)x->route.endpoint, e->status, latency);
  if (wp_log_enabled(WP_LOG_DEBUG))
    wp_log_debug("request", "method=%s path=%s endpoint=%s status=%d us=%llu",
                 x->req ? x->req->method_name : "-", x->req ? x->req->path : "-",
                 wp_endpoint_name(x->route.endpoint), e->status, (unsigned long long)latency);
  if (!e->conn) {
    wp__exchange_free(x);
    return;
  }
  wp__conn_flush(e->conn);
}

void wp_exchange_respond(wp_exchange *x, int status, const char *content_type,
                         const wp_header *headers, size_t header_count, const void *body,
                         size_t body_len) {
  wp__exchange *e = WP__X(x);
  exchange_pick_keep_alive(x);
  wp_response resp = {
      .status = status,
      .content_type = content_type,
      .keep_alive = e->keep_alive,
      .head_only = x->route.head,
      .headers = headers,
      .header_count = header_count,
      .body = body,
      .body_len = body_len,
  };
  e->status = status;
  wp_buf_reset(&e->out);
  if (wp_response_write(&e->out, &resp) != 0) {
    wp_buf_reset(&e->out);
    e->status = 500;
    e->keep_alive = false;
    wp_response_write_error(&e->out, WP_ENOMEM, "cannot format the response", false, 0, 0);
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
  wp__exchange *e = WP__X(x);
  exchange_pick_keep_alive(x);
  e->status = wp_err_http_status(code);
  wp_buf_reset(&e->out);
  if (wp_response_write_error(&e->out, code, message, e->keep_alive, 1, x->route.allow) != 0) {
    wp_buf_reset(&e->out);
    wp_buf_append_str(&e->out, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n");
    e->keep_alive = false;
    e->status = 500;
  }
  /* HEAD: the head of the error (its Content-Length included), no body,
   * or a keep-alive client would read the body as the next response. */
  if (x->req && x->req->method == WP_METHOD_HEAD) {
    char *end = e->out.data ? strstr(e->out.data, "\r\n\r\n") : NULL;
    if (end)
      e->out.len = (size_t)(end + 4 - e->out.data);
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

/* Times a guest run for the inline decision (wp__shard_last_run). Wall
 * time is what a run holds its loop for, but on a busy host (or on the pool,
 * at nice 19) most of a short run's wall time can be other processes'
 * turns: charged that, a short module would be sent to the pool and, timed
 * there, never come back. So a run longer than the bound that never blocked
 * (no voluntary context switch) is charged its CPU time; one that blocked
 * (a WASI guest waiting on I/O) keeps its wall time. */
typedef struct run_clock {
  uint64_t wall_us;
  uint64_t cpu_us;
  long voluntary; /* voluntary context switches so far; -1: unknown */
} run_clock;

static void thread_usage(uint64_t *cpu_us, long *voluntary) {
  struct rusage ru;
  if (getrusage(RUSAGE_THREAD, &ru) != 0) {
    *cpu_us = 0;
    *voluntary = -1;
    return;
  }
  *cpu_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
            (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  *voluntary = ru.ru_nvcsw;
}

static void run_clock_start(run_clock *c) {
  thread_usage(&c->cpu_us, &c->voluntary);
  c->wall_us = wp_now_us();
}

static uint64_t run_clock_charge(const run_clock *c) {
  uint64_t wall = wp_now_us() - c->wall_us;
  if (wall <= WP_INLINE_RUN_US || c->voluntary < 0)
    return wall;
  uint64_t cpu;
  long voluntary;
  thread_usage(&cpu, &voluntary);
  if (voluntary != c->voluntary || cpu < c->cpu_us)
    return wall;
  return cpu - c->cpu_us;
}

static void exchange_work(wp_job *job) {
  wp__exchange *e = (wp__exchange *)job; /* job is its first member */
  if (atomic_load(&e->cancelled))
    return;
  run_clock clock;
  run_clock_start(&clock);
  e->work(&e->pub);
  e->run_us = run_clock_charge(&clock);
  if (e->run_key)
    wp_metrics_record_guest_run(e->pub.daemon->metrics, WP_GUEST_RUN_POOL);
}

static void exchange_done(wp_job *job) {
  wp__exchange *e = (wp__exchange *)job;
  wp_exchange *x = &e->pub;
  e->in_worker = false;
  /* Learnt on the loop that asked: work that ran short on the pool may run
   * inline next time. */
  if (e->run_key && e->run_us)
    wp__shard_record_run(e->shard, e->run_key, e->run_us);
  if (!e->conn) {
    /* The client left while the worker ran: nobody to answer. */
    wp__exchange_free(x);
    return;
  }
  e->finish(x);
}

bool wp_exchange_submit(wp_exchange *x, void (*work)(wp_exchange *x),
                        void (*finish)(wp_exchange *x)) {
  wp__exchange *e = WP__X(x);
  e->work = work;
  e->finish = finish;
  e->job.work = exchange_work;
  e->job.done = exchange_done;
  int rc = wp_work_queue_submit_to(x->daemon->queue, e->shard->home, &e->job);
  if (rc) {
    wp_exchange_respond_error(x, rc,
                              rc == WP_EQUEUE_FULL ? "request queue full, retry later" : NULL);
    return false;
  }
  e->in_worker = true;
  return true;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
  const uint8_t *p = data;
  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

/* What the run-time history is kept for: the endpoint, the module and the
 * export, so that a module's short instantiation does not vouch for its
 * long-running export. */
static uint64_t run_key(const wp_exchange *x, const char *module, size_t module_len) {
  uint8_t endpoint = (uint8_t)x->route.endpoint;
  uint64_t h = fnv1a(1469598103934665603ull, &endpoint, 1);
  h = fnv1a(h, module, module_len);
  h = fnv1a(h, "", 1); /* separator: "ab"+"c" is not "a"+"bc" */
  h = fnv1a(h, x->route.export_name.data, x->route.export_name.len);
  return h ? h : 1; /* 0 marks an empty history slot */
}

/* Runs work(x) on this loop and records what it cost. */
static void run_here(wp_exchange *x, void (*work)(wp_exchange *x)) {
  wp__exchange *e = WP__X(x);
  run_clock clock;
  run_clock_start(&clock);
  work(x);
  wp__shard_record_run(e->shard, e->run_key, run_clock_charge(&clock));
  wp_metrics_record_guest_run(x->daemon->metrics, WP_GUEST_RUN_LOOP);
}

/* Work this loop has no run time for, on a fresh instance that it destroys:
 * tried here with a deadline of the inline bound. Without the try, a new
 * export's first requests (after every deploy, all at once) went to the
 * pool, where the wait for a nice 19 thread and the two hand-offs cost 15-40
 * times a 20 us run (docs/BENCHMARKS.md, "Prewarm"). Cut at the bound, the
 * work left nothing behind (its instance is gone, its answer not sent), so
 * it runs again from the start on the pool with the request's own deadline,
 * and the key is remembered as long: a guest that spins holds the loop for
 * the try once, not up to its deadline. */
static bool try_here(wp_exchange *x, void (*work)(wp_exchange *x), void (*finish)(wp_exchange *x)) {
  wp__exchange *e = WP__X(x);
  uint64_t deadline_ms = x->deadline_ms;
  /* A deadline no longer than the try is the request's own: it stands. */
  bool cut_short = deadline_ms == 0 || deadline_ms > WP_INLINE_TRY_MS;
  if (cut_short)
    x->deadline_ms = WP_INLINE_TRY_MS;
  run_clock clock;
  run_clock_start(&clock);
  work(x);
  uint64_t us = run_clock_charge(&clock);
  x->deadline_ms = deadline_ms;
  if (!cut_short || x->result_code != WP_ETIMEOUT) {
    wp__shard_record_run(e->shard, e->run_key, us);
    wp_metrics_record_guest_run(x->daemon->metrics, WP_GUEST_RUN_LOOP);
    finish(x);
    return true;
  }
  /* Its CPU time may be under the bound (preempted): long all the same. */
  wp__shard_record_run(e->shard, e->run_key, us > WP_INLINE_RUN_US ? us : WP_INLINE_RUN_US + 1);
  wp_metrics_record_guest_run(x->daemon->metrics, WP_GUEST_RUN_CUT);
  x->result_code = 0;
  memset(&x->error, 0, sizeof x->error);
  if (atomic_load(&x->daemon->shutting_down)) {
    /* Draining: the pool takes no more work, and this request came before
     * the shutdown, so it is finished here, with its own deadline. */
    run_here(x, work);
    finish(x);
    return true;
  }
  return wp_exchange_submit(x, work, finish);
}

bool wp_exchange_run_guest(wp_exchange *x, const char *module, size_t module_len, unsigned flags,
                           void (*work)(wp_exchange *x), void (*finish)(wp_exchange *x)) {
  wp__exchange *e = WP__X(x);
  e->run_key = run_key(x, module, module_len);
  uint32_t last_us;
  if (!wp__shard_last_run(e->shard, e->run_key, &last_us)) {
    if (flags & WP_GUEST_RESTARTABLE)
      return try_here(x, work, finish);
    return wp_exchange_submit(x, work, finish);
  }
  if (last_us > WP_INLINE_RUN_US)
    return wp_exchange_submit(x, work, finish);
  run_here(x, work);
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
  if (!host_allowed(WP__X(x)->conn->server, wp_request_header(req, "Host"))) {
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
  wp__exchange *e = WP__X(x);
  wp_request *req = x->req;
  if (!e->conn->is_unix && !tcp_request_allowed(x))
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
    e->keep_alive = false;
    wp_exchange_respond_error(x, WP_ESHUTTING_DOWN, NULL);
    return;
  }
  wp_handle(x);
}
