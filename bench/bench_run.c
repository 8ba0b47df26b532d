/* bench_run.c — connections, scheduling and counting on one libuv loop.
 *
 * Each connection keeps a ring of the requests it has written and not yet
 * seen answered, in wire order; HTTP/1.1 answers come back in that order, so
 * the head of the ring is always the request an answer belongs to. An
 * instantiate op is two requests (POST .../instances, then DELETE of the id
 * it returned): when the first is answered the op goes to the back of the
 * ring as its DELETE, so an op holds at most one request on the wire and the
 * ring never exceeds the pipeline depth.
 *
 * Open loop: the pacer's intended times drive a timerfd (nanosecond
 * resolution; uv_timer only has milliseconds, which would add up to 1 ms of
 * our own lateness to every measured latency). When a request is due and
 * every connection is full it waits in the pacer (nothing is dropped) and
 * leaves as soon as an answer frees a slot, still carrying its intended time.
 *
 * Phases: WARMUP (sent, not measured) -> MEASURE -> DRAIN (nothing new is
 * sent; answers to measured requests are awaited up to --timeout) -> DONE.
 */
#include "bench_run.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <uv.h>

#include "bench_http.h"
#include "bench_pace.h"
#include "wp_errno.h"

#define READ_BUF_BYTES    (64 * 1024)
#define CHECK_PERIOD_MS   10
#define RECONNECT_NS      (100 * 1000000ull)
#define CONNECT_GIVEUP_NS (5 * 1000000000ull)

typedef enum phase { PHASE_WARMUP, PHASE_MEASURE, PHASE_DRAIN, PHASE_DONE } phase;
typedef enum conn_state { CONN_CLOSED, CONN_CONNECTING, CONN_OPEN, CONN_CLOSING } conn_state;

typedef struct op {
  uint32_t entry;
  uint8_t step; /* instantiate: 0 = POST instances, 1 = DELETE */
  bool measured;
  uint64_t intended_ns;
  uint64_t sent_ns;
} op;

typedef struct engine engine;

typedef struct conn {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_pipe_t pipe;
    uv_tcp_t tcp;
  } h;
  uv_connect_t connect_req;
  uv_write_t write_req;
  engine *eng;
  conn_state state;
  wp_bench_resp_parser *parser;
  op *ring; /* capacity = pipeline */
  unsigned head, count;
  wp_buf pending; /* requests queued, not yet handed to uv_write */
  wp_buf writing; /* bytes of the write in progress (must live until its callback) */
  bool write_busy;
  uint64_t reconnect_at_ns;
  wp_bench_transport_err close_reason;
  wp_bench_hist *hist;  /* this connection's measured latencies */
  wp_buf *instance_req; /* per entry: instance_call request on this connection's instance */
} conn;

struct engine {
  uv_loop_t loop;
  const wp_bench_opts *opts;
  const wp_bench_mix *mix;
  wp_bench_results *res;
  const char *socket_path;
  struct sockaddr_in tcp_addr;
  conn *conns;
  unsigned conn_count;
  wp_buf *static_req; /* per entry; empty for instance_call */
  bool open_loop;
  wp_bench_pacer pacer;
  int timer_fd;
  uv_poll_t pace_poll;
  uint64_t armed_ns; /* timerfd target, 0 when disarmed */
  uv_timer_t check_timer;
  uv_timer_t progress_timer;
  uv_signal_t sigint;
  phase phase;
  uint64_t start_ns, measure_start_ns, measure_end_ns, drain_deadline_ns;
  uint64_t issued_measured;
  uint64_t inflight; /* ops on the wire over all connections */
  uint64_t last_done_ns;
  bool ever_connected;
  uint64_t rng;
  unsigned rr;
  bool progress;
  bool progress_printed;
  wp_bench_hist *interval; /* measured latencies of the current progress second */
  uint64_t interval_errors;
  int fatal;
  char *err;
  size_t err_len;
  /* One read buffer for every connection: libuv calls on_read right after
   * on_alloc on this one thread, and on_read consumes all of it. */
  char read_buf[READ_BUF_BYTES];
};

static void conn_fill(conn *c, uint64_t now);
static void conn_flush(conn *c);
static void conn_drop(conn *c, wp_bench_transport_err reason);
static void arm_pacer(engine *eng);
static void finish(engine *eng);

static uint64_t now_ns(void) {
  return uv_hrtime();
}

static void set_err(engine *eng, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(engine *eng, int code, const char *fmt, ...) {
  if (eng->fatal != 0)
    return;
  eng->fatal = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(eng->err, eng->err_len, fmt, ap);
  va_end(ap);
}

/* ---- phases ------------------------------------------------------------ */

static void begin_drain(engine *eng, uint64_t now) {
  if (eng->phase >= PHASE_DRAIN)
    return;
  eng->phase = PHASE_DRAIN;
  eng->drain_deadline_ns = now + eng->opts->timeout_ns;
  arm_pacer(eng);
  if (eng->inflight == 0)
    finish(eng);
}

static void update_phase(engine *eng, uint64_t now) {
  if (eng->phase == PHASE_WARMUP && now >= eng->measure_start_ns)
    eng->phase = PHASE_MEASURE;
  /* Closed loop stops sending at the end of the measured time; open loop
   * stops when the schedule reaches it (see can_issue), so requests that
   * were due before the end still go out however late they are. */
  if (eng->phase == PHASE_MEASURE && eng->opts->requests == 0 && !eng->open_loop &&
      now >= eng->measure_end_ns)
    begin_drain(eng, now);
}

/* Whether a new op may leave now; sets its intended time and whether it is
 * measured. */
static bool can_issue(engine *eng, uint64_t now, uint64_t *intended, bool *measured) {
  update_phase(eng, now);
  if (eng->phase >= PHASE_DRAIN)
    return false;
  const wp_bench_opts *opts = eng->opts;
  uint64_t when = now;
  if (eng->open_loop) {
    when = wp_bench_pacer_next(&eng->pacer);
    if (when > now)
      return false;
    if (opts->requests == 0 && when >= eng->measure_end_ns) {
      begin_drain(eng, now);
      return false;
    }
  }
  bool m = when >= eng->measure_start_ns;
  if (m && opts->requests != 0 && eng->issued_measured >= opts->requests) {
    begin_drain(eng, now);
    return false;
  }
  if (eng->open_loop)
    wp_bench_pacer_take(&eng->pacer, now, &when);
  if (m)
    eng->issued_measured++;
  *intended = when;
  *measured = m;
  return true;
}

/* ---- sending ----------------------------------------------------------- */

static void on_write(uv_write_t *req, int status) {
  conn *c = req->data;
  c->write_busy = false;
  wp_buf_reset(&c->writing);
  if (status < 0) {
    if (c->state == CONN_OPEN)
      conn_drop(c, WP_BENCH_ERR_CLOSED);
    return;
  }
  if (c->state == CONN_OPEN && c->pending.len > 0)
    conn_flush(c);
}

static void conn_flush(conn *c) {
  if (c->write_busy || c->pending.len == 0 || c->state != CONN_OPEN)
    return;
  wp_buf tmp = c->writing;
  c->writing = c->pending;
  c->pending = tmp;
  wp_buf_reset(&c->pending);
  uv_buf_t buf = uv_buf_init(c->writing.data, (unsigned)c->writing.len);
  c->write_req.data = c;
  int rc = uv_write(&c->write_req, &c->h.stream, &buf, 1, on_write);
  if (rc < 0) {
    wp_buf_reset(&c->writing);
    conn_drop(c, WP_BENCH_ERR_CLOSED);
    return;
  }
  c->write_busy = true;
}

static void ring_push(conn *c, const op *o) {
  unsigned cap = c->eng->opts->pipeline;
  c->ring[(c->head + c->count) % cap] = *o;
  c->count++;
}

static op ring_pop(conn *c) {
  unsigned cap = c->eng->opts->pipeline;
  op o = c->ring[c->head];
  c->head = (c->head + 1) % cap;
  c->count--;
  return o;
}

static void conn_fill(conn *c, uint64_t now) {
  engine *eng = c->eng;
  if (c->state != CONN_OPEN)
    return;
  uint64_t intended;
  bool measured;
  while (c->count < eng->opts->pipeline && can_issue(eng, now, &intended, &measured)) {
    uint32_t entry = 0;
    if (eng->mix->count > 1)
      entry = (uint32_t)wp_bench_mix_pick(eng->mix, wp_bench_rng_unit(&eng->rng));
    const wp_buf *req = eng->mix->entries[entry].kind == WP_BENCH_INSTANCE_CALL
                            ? &c->instance_req[entry]
                            : &eng->static_req[entry];
    if (wp_buf_append(&c->pending, req->data, req->len) < 0) {
      set_err(eng, WP_ENOMEM, "out of memory");
      finish(eng);
      return;
    }
    op o = {
        .entry = entry, .step = 0, .measured = measured, .intended_ns = intended, .sent_ns = now};
    ring_push(c, &o);
    eng->inflight++;
    if (measured && eng->open_loop)
      wp_bench_hist_record(eng->res->send_lag, now - intended);
  }
  conn_flush(c);
}

/* Offer due requests to every connection, starting with a different one
 * each time so no connection is favoured. */
static void sweep(engine *eng) {
  uint64_t now = now_ns();
  for (unsigned k = 0; k < eng->conn_count && eng->phase < PHASE_DRAIN; k++) {
    conn_fill(&eng->conns[(eng->rr + k) % eng->conn_count], now);
    if (eng->open_loop && wp_bench_pacer_next(&eng->pacer) > now)
      break;
  }
  eng->rr++;
}

/* ---- the open-loop timer ----------------------------------------------- */

static void arm_pacer(engine *eng) {
  if (!eng->open_loop || eng->timer_fd < 0)
    return;
  uint64_t target = 0;
  if (eng->phase < PHASE_DRAIN) {
    uint64_t next = wp_bench_pacer_next(&eng->pacer);
    /* A request already due waits for a free slot; an answer will send it. */
    if (next > now_ns())
      target = next;
  }
  if (target == eng->armed_ns)
    return;
  struct itimerspec its;
  memset(&its, 0, sizeof(its));
  its.it_value.tv_sec = (time_t)(target / 1000000000u);
  its.it_value.tv_nsec = (long)(target % 1000000000u);
  /* An all-zero it_value disarms. */
  timerfd_settime(eng->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
  eng->armed_ns = target;
}

static void on_pace(uv_poll_t *handle, int status, int events) {
  engine *eng = handle->data;
  uint64_t expirations;
  ssize_t n = read(eng->timer_fd, &expirations, sizeof(expirations));
  (void)n;
  eng->armed_ns = 0;
  sweep(eng);
  arm_pacer(eng);
}

/* ---- receiving --------------------------------------------------------- */

static bool status_expected(const wp_bench_entry *e, int status) {
  return e->expect_status ? status == e->expect_status : (status >= 200 && status < 300);
}

static void op_done(engine *eng, conn *c, const op *o, int status, uint64_t now) {
  if (!o->measured)
    return;
  wp_bench_results *res = eng->res;
  uint64_t latency = wp_bench_latency_ns(eng->open_loop, o->intended_ns, o->sent_ns, now);
  wp_bench_hist_record(c->hist, latency);
  wp_bench_hist_record(res->entries[o->entry].latency, latency);
  wp_bench_hist_record(eng->interval, latency);
  res->completed++;
  res->entries[o->entry].completed++;
  if (status_expected(&eng->mix->entries[o->entry], status)) {
    res->expected++;
    res->entries[o->entry].expected++;
  } else {
    eng->interval_errors++;
  }
  eng->last_done_ns = now;
}

static int on_response(void *ctx, const wp_bench_response *resp) {
  conn *c = ctx;
  engine *eng = c->eng;
  wp_bench_results *res = eng->res;
  if (c->count == 0) {
    c->close_reason = WP_BENCH_ERR_PROTOCOL; /* an answer nobody asked for */
    return 1;
  }
  uint64_t now = now_ns();
  op o = ring_pop(c);
  eng->inflight--;
  int status = resp->status;
  if (o.measured) {
    res->http_responses++;
    res->bytes_received += resp->body_len;
    if (status >= 0 && status < WP_BENCH_STATUS_MAX)
      res->status[status]++;
    if (status >= 400) {
      wp_api_error api;
      wp_json_error_parse(status, resp->body, resp->body_kept, &api);
      wp_bench_results_add_code(res, api.name);
    }
  }
  const wp_bench_entry *e = &eng->mix->entries[o.entry];
  if (e->kind == WP_BENCH_INSTANTIATE && o.step == 0 && status == 201) {
    char id[WP_NAME_MAX + 1];
    if (wp_bench_parse_instance_id(resp->body, resp->body_kept, id, sizeof(id)) < 0 ||
        wp_bench_request_release(id, strlen(id), &c->pending) < 0) {
      if (o.measured)
        res->transport[WP_BENCH_ERR_PROTOCOL]++;
    } else {
      o.step = 1;
      ring_push(c, &o);
      eng->inflight++;
      return resp->keep_alive ? 0 : 1;
    }
  } else {
    op_done(eng, c, &o, status, now);
  }
  if (!resp->keep_alive) {
    c->close_reason = WP_BENCH_ERR_CLOSED;
    return 1;
  }
  return 0;
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  conn *c = handle->data;
  *buf = uv_buf_init(c->eng->read_buf, sizeof(c->eng->read_buf));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  conn *c = stream->data;
  engine *eng = c->eng;
  if (nread == 0)
    return;
  if (nread < 0) {
    conn_drop(c, WP_BENCH_ERR_CLOSED);
    return;
  }
  int rc = wp_bench_resp_parser_feed(c->parser, buf->base, (size_t)nread, on_response, c);
  if (rc != 0) {
    conn_drop(c, rc == 1 ? c->close_reason : WP_BENCH_ERR_PROTOCOL);
    return;
  }
  if (eng->phase == PHASE_DRAIN) {
    conn_flush(c);
    if (eng->inflight == 0)
      finish(eng);
    return;
  }
  conn_fill(c, now_ns());
  arm_pacer(eng);
}

/* ---- connecting and dropping -------------------------------------------- */

static void on_close(uv_handle_t *handle) {
  conn *c = handle->data;
  engine *eng = c->eng;
  c->state = CONN_CLOSED;
  if (eng->phase == PHASE_DRAIN && eng->inflight == 0)
    finish(eng);
}

/* Close the connection; every op still on it failed with reason (counted
 * when measured). It is reopened by the check timer. */
static void conn_drop(conn *c, wp_bench_transport_err reason) {
  engine *eng = c->eng;
  if (c->state == CONN_CLOSING || c->state == CONN_CLOSED)
    return;
  /* A server closing an idle keep-alive connection is no error. */
  while (c->count > 0) {
    op o = ring_pop(c);
    eng->inflight--;
    if (o.measured) {
      eng->res->transport[reason]++;
      eng->interval_errors++;
    }
  }
  wp_buf_reset(&c->pending);
  wp_bench_resp_parser_destroy(c->parser);
  c->parser = NULL;
  if (wp_bench_resp_parser_create(&c->parser) < 0)
    set_err(eng, WP_ENOMEM, "out of memory");
  uint64_t now = now_ns();
  c->reconnect_at_ns = now + (reason == WP_BENCH_ERR_CONNECT ? RECONNECT_NS : 0);
  c->state = CONN_CLOSING;
  uv_close(&c->h.handle, on_close);
}

static void on_connect(uv_connect_t *req, int status) {
  conn *c = req->data;
  engine *eng = c->eng;
  if (c->state != CONN_CONNECTING)
    return;
  if (status < 0) {
    eng->res->transport[WP_BENCH_ERR_CONNECT]++;
    conn_drop(c, WP_BENCH_ERR_CONNECT);
    return;
  }
  if (eng->phase == PHASE_DONE) {
    conn_drop(c, WP_BENCH_ERR_CLOSED);
    return;
  }
  c->state = CONN_OPEN;
  eng->ever_connected = true;
  if (eng->opts->tcp_host != NULL)
    uv_tcp_nodelay(&c->h.tcp, 1);
  int rc = uv_read_start(&c->h.stream, on_alloc, on_read);
  if (rc < 0) {
    conn_drop(c, WP_BENCH_ERR_CLOSED);
    return;
  }
  conn_fill(c, now_ns());
  arm_pacer(eng);
}

static void conn_connect(conn *c) {
  engine *eng = c->eng;
  int rc;
  c->connect_req.data = c;
  if (eng->opts->tcp_host != NULL) {
    rc = uv_tcp_init(&eng->loop, &c->h.tcp);
    if (rc == 0)
      rc = uv_tcp_connect(&c->connect_req, &c->h.tcp, (const struct sockaddr *)&eng->tcp_addr,
                          on_connect);
  } else {
    rc = uv_pipe_init(&eng->loop, &c->h.pipe, 0);
    if (rc == 0)
      uv_pipe_connect(&c->connect_req, &c->h.pipe, eng->socket_path, on_connect);
  }
  c->h.handle.data = c;
  c->state = CONN_CONNECTING;
  if (rc < 0) {
    eng->res->transport[WP_BENCH_ERR_CONNECT]++;
    conn_drop(c, WP_BENCH_ERR_CONNECT);
  }
}

/* ---- timers ------------------------------------------------------------- */

static void on_check(uv_timer_t *timer) {
  engine *eng = timer->data;
  uint64_t now = now_ns();
  update_phase(eng, now);
  if (eng->phase == PHASE_DONE)
    return;
  if (eng->phase == PHASE_DRAIN && now >= eng->drain_deadline_ns) {
    finish(eng);
    return;
  }
  /* Open loop with the server stuck: requests stay due forever; stop once
   * the schedule is over by more than the timeout. */
  if (eng->open_loop && eng->opts->requests == 0 &&
      now >= eng->measure_end_ns + eng->opts->timeout_ns) {
    begin_drain(eng, now);
    return;
  }
  uint64_t giveup =
      eng->opts->timeout_ns < CONNECT_GIVEUP_NS ? eng->opts->timeout_ns : CONNECT_GIVEUP_NS;
  if (!eng->ever_connected && now - eng->start_ns > giveup) {
    set_err(eng, WP_ESYS, "could not connect to %s within %.1f s",
            eng->socket_path ? eng->socket_path : "the TCP address", (double)giveup / 1e9);
    finish(eng);
    return;
  }
  for (unsigned i = 0; i < eng->conn_count; i++) {
    conn *c = &eng->conns[i];
    if (c->state == CONN_OPEN && c->count > 0 &&
        now - c->ring[c->head].sent_ns > eng->opts->timeout_ns) {
      conn_drop(c, WP_BENCH_ERR_TIMEOUT);
    } else if (c->state == CONN_CLOSED && eng->phase < PHASE_DRAIN && now >= c->reconnect_at_ns) {
      conn_connect(c);
    }
  }
}

static void on_progress(uv_timer_t *timer) {
  engine *eng = timer->data;
  uint64_t now = now_ns();
  char p50[32], p99[32];
  wp_bench_format_ns(wp_bench_hist_percentile(eng->interval, 50), p50, sizeof(p50));
  wp_bench_format_ns(wp_bench_hist_percentile(eng->interval, 99), p99, sizeof(p99));
  double t = (double)(now - eng->start_ns) / 1e9;
  uint64_t transport = 0;
  for (int i = 0; i < WP_BENCH_ERR_COUNT; i++)
    transport += eng->res->transport[i];
  if (eng->phase == PHASE_WARMUP)
    printf("\r\033[K[%5.1fs] warming up, %lu in flight", t, (unsigned long)eng->inflight);
  else
    printf("\r\033[K[%5.1fs] %lu req, %lu req/s, p50 %s, p99 %s, unexpected %lu, transport "
           "errors %lu",
           t, (unsigned long)eng->res->completed, (unsigned long)eng->interval->total, p50, p99,
           (unsigned long)eng->interval_errors, (unsigned long)transport);
  fflush(stdout);
  eng->progress_printed = true;
  wp_bench_hist_reset(eng->interval);
  eng->interval_errors = 0;
}

static void on_sigint(uv_signal_t *handle, int signum) {
  engine *eng = handle->data;
  finish(eng);
}

static void close_if_open(uv_handle_t *handle) {
  if (handle->loop != NULL && !uv_is_closing(handle))
    uv_close(handle, NULL);
}

static void finish(engine *eng) {
  if (eng->phase == PHASE_DONE)
    return;
  eng->phase = PHASE_DONE;
  for (unsigned i = 0; i < eng->conn_count; i++) {
    conn *c = &eng->conns[i];
    if (c->state == CONN_OPEN || c->state == CONN_CONNECTING)
      conn_drop(c, WP_BENCH_ERR_TIMEOUT);
  }
  close_if_open((uv_handle_t *)&eng->check_timer);
  close_if_open((uv_handle_t *)&eng->progress_timer);
  close_if_open((uv_handle_t *)&eng->sigint);
  if (eng->timer_fd >= 0)
    close_if_open((uv_handle_t *)&eng->pace_poll);
}

/* ---- set-up and tear-down ------------------------------------------------ */

static int engine_init(engine *eng, const wp_bench_opts *opts, const char *socket_path,
                       char *const *instance_ids, wp_bench_results *res) {
  eng->opts = opts;
  eng->mix = opts->mix;
  eng->res = res;
  eng->socket_path = socket_path;
  eng->open_loop = opts->rate > 0;
  eng->timer_fd = -1;
  eng->rng = opts->seed;
  eng->conn_count = opts->connections;
  res->open_loop = eng->open_loop;
  res->rate = opts->rate;
  if (opts->tcp_host != NULL) {
    eng->tcp_addr.sin_family = AF_INET;
    eng->tcp_addr.sin_port = htons(opts->tcp_port);
    if (inet_pton(AF_INET, opts->tcp_host, &eng->tcp_addr.sin_addr) != 1)
      return WP_EINVAL;
  }
  int rc = wp_bench_hist_create(0, &eng->interval);
  if (rc < 0)
    return rc;
  size_t entries = eng->mix->count;
  eng->static_req = calloc(entries, sizeof(*eng->static_req));
  eng->conns = calloc(eng->conn_count, sizeof(*eng->conns));
  if (eng->static_req == NULL || eng->conns == NULL)
    return WP_ENOMEM;
  for (size_t e = 0; e < entries; e++) {
    if (eng->mix->entries[e].kind == WP_BENCH_INSTANCE_CALL)
      continue;
    if ((rc = wp_bench_request_build(&eng->mix->entries[e], NULL, &eng->static_req[e])) < 0)
      return rc;
  }
  for (unsigned i = 0; i < eng->conn_count; i++) {
    conn *c = &eng->conns[i];
    c->eng = eng;
    c->ring = calloc(opts->pipeline, sizeof(*c->ring));
    c->instance_req = calloc(entries, sizeof(*c->instance_req));
    if (c->ring == NULL || c->instance_req == NULL)
      return WP_ENOMEM;
    if ((rc = wp_bench_resp_parser_create(&c->parser)) < 0 ||
        (rc = wp_bench_hist_create(0, &c->hist)) < 0)
      return rc;
    for (size_t e = 0; e < entries; e++) {
      if (eng->mix->entries[e].kind != WP_BENCH_INSTANCE_CALL)
        continue;
      const char *id = instance_ids ? instance_ids[i * entries + e] : NULL;
      if (id == NULL)
        return WP_EINVAL;
      if ((rc = wp_bench_request_build(&eng->mix->entries[e], id, &c->instance_req[e])) < 0)
        return rc;
    }
  }
  return 0;
}

static void engine_free(engine *eng) {
  for (unsigned i = 0; eng->conns != NULL && i < eng->conn_count; i++) {
    conn *c = &eng->conns[i];
    free(c->ring);
    for (size_t e = 0; c->instance_req != NULL && e < eng->mix->count; e++)
      wp_buf_free(&c->instance_req[e]);
    free(c->instance_req);
    wp_buf_free(&c->pending);
    wp_buf_free(&c->writing);
    wp_bench_resp_parser_destroy(c->parser);
    wp_bench_hist_destroy(c->hist);
  }
  free(eng->conns);
  for (size_t e = 0; eng->static_req != NULL && e < eng->mix->count; e++)
    wp_buf_free(&eng->static_req[e]);
  free(eng->static_req);
  wp_bench_hist_destroy(eng->interval);
  if (eng->timer_fd >= 0)
    close(eng->timer_fd);
}

int wp_bench_run(const wp_bench_opts *opts, const char *socket_path, char *const *instance_ids,
                 wp_bench_results *res, char *err, size_t err_len) {
  engine *eng = calloc(1, sizeof(*eng));
  if (eng == NULL)
    return WP_ENOMEM;
  eng->err = err;
  eng->err_len = err_len;
  int rc = engine_init(eng, opts, socket_path, instance_ids, res);
  if (rc < 0) {
    snprintf(err, err_len, "cannot set up the run: %s", wp_strerror(rc));
    engine_free(eng);
    free(eng);
    return rc;
  }
  if ((rc = uv_loop_init(&eng->loop)) < 0) {
    snprintf(err, err_len, "uv_loop_init: %s", uv_strerror(rc));
    engine_free(eng);
    free(eng);
    return WP_ESYS;
  }
  eng->start_ns = now_ns();
  eng->measure_start_ns = eng->start_ns + opts->warmup_ns;
  eng->measure_end_ns = eng->measure_start_ns + opts->duration_ns;
  eng->phase = opts->warmup_ns > 0 ? PHASE_WARMUP : PHASE_MEASURE;

  if (eng->open_loop) {
    /* Our own timer lateness lands in every open-loop latency: ask the
     * kernel not to stretch our sleeps (the default slack is 50 us). */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    wp_bench_pacer_init(&eng->pacer, eng->start_ns, opts->rate);
    eng->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (eng->timer_fd < 0 || uv_poll_init(&eng->loop, &eng->pace_poll, eng->timer_fd) < 0) {
      snprintf(err, err_len, "timerfd: %s", strerror(errno));
      uv_loop_close(&eng->loop);
      engine_free(eng);
      free(eng);
      return WP_ESYS;
    }
    eng->pace_poll.data = eng;
    uv_poll_start(&eng->pace_poll, UV_READABLE, on_pace);
  }
  uv_timer_init(&eng->loop, &eng->check_timer);
  eng->check_timer.data = eng;
  uv_timer_start(&eng->check_timer, on_check, CHECK_PERIOD_MS, CHECK_PERIOD_MS);
  uv_timer_init(&eng->loop, &eng->progress_timer);
  eng->progress_timer.data = eng;
  eng->progress = !opts->no_progress && !opts->json && isatty(STDOUT_FILENO);
  if (eng->progress)
    uv_timer_start(&eng->progress_timer, on_progress, 1000, 1000);
  uv_signal_init(&eng->loop, &eng->sigint);
  eng->sigint.data = eng;
  uv_signal_start_oneshot(&eng->sigint, on_sigint, SIGINT);

  for (unsigned i = 0; i < eng->conn_count; i++)
    conn_connect(&eng->conns[i]);
  arm_pacer(eng);
  uv_run(&eng->loop, UV_RUN_DEFAULT);

  if (eng->progress_printed) {
    printf("\r\033[K");
    fflush(stdout);
  }
  for (unsigned i = 0; i < eng->conn_count; i++)
    wp_bench_hist_merge(res->latency, eng->conns[i].hist);
  uint64_t end = eng->last_done_ns > eng->measure_start_ns ? eng->last_done_ns : now_ns();
  res->elapsed_s = (double)(end - eng->measure_start_ns) / 1e9;
  rc = eng->fatal;
  uv_loop_close(&eng->loop);
  engine_free(eng);
  free(eng);
  return rc;
}
