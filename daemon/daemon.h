/* daemon.h — what every part of a running wasmpoold shares, and the seams
 * between the connection layer (server.c) and the endpoints (handlers.c).
 *
 *   server.c    listening sockets, connections, HTTP framing, pipelining
 *               order, timeouts, limits, graceful shutdown
 *   handlers.c  one function per endpoint: what runs on the loop and what is
 *               handed to a worker, and the JSON of each answer
 *
 * An exchange is one request and its response. The server creates it when
 * the parser yields a request and hands it to wp_handle(); the handler
 * answers (now, on the loop, or later from a worker's done callback) with
 * wp_exchange_respond*(), which gives it back to the server to write in
 * request order. Exactly one respond call per exchange.
 *
 * Threading: wasmpoold runs one loop per worker thread (server.workers);
 * an exchange lives on the loop that read its request, where its handler
 * runs and its answer is written. The work function of a job submitted to
 * the pool runs on a pool thread and touches only its own exchange's fields
 * (never the connection). The shared state (registry, instance table,
 * metrics, runtime) is safe from any thread.
 */
#ifndef WP_DAEMON_DAEMON_H
#define WP_DAEMON_DAEMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "instance.h"
#include "instances.h"
#include "metrics.h"
#include "proto.h"
#include "registry.h"
#include "work_queue.h"

typedef struct wp_server wp_server;
typedef struct wp_conn wp_conn;

typedef struct wp_daemon {
  uv_loop_t *loop;
  const wp_daemon_config *cfg;
  wp_runtime *rt;
  wp_registry *registry;
  wp_instance_table *instances;
  wp_work_queue *queue;
  wp_metrics *metrics;
  wp_server *server;
  uint64_t started_ms; /* wp_now_us() / 1000 at start-up */
  atomic_bool shutting_down;
  /* wp_now_us() / 1000 of the last "overload" line, from any loop. */
  _Atomic uint64_t last_overload_log_ms;
} wp_daemon;

/* One request and its answer, as a handler sees it. The connection side
 * (its place in the connection's FIFO, the formatted answer, the pool job)
 * is private to the connection layer (server_int.h). */
typedef struct wp_exchange wp_exchange;
struct wp_exchange {
  wp_daemon *daemon;
  wp_request *req; /* owned */
  wp_route route;  /* owned */

  /* Handler scratch: filled by the handler, used by its work part (on this
   * loop or on the pool), freed with the exchange. */
  wp_module *module;
  wp_live_instance *live;
  uint64_t deadline_ms;
  int result_code; /* the work part's outcome */
  wp_error error;
  json_t *json; /* the work part's answer body */
  void *extra;  /* endpoint specific: extra_free(extra) then free() */
  void (*extra_free)(void *extra);
};

/* handlers.c: answer (or queue work for) one routed request. */
void wp_handle(wp_exchange *x);

/* Answer with a JSON body (takes the reference). */
void wp_exchange_respond_json(wp_exchange *x, int status, json_t *body);
/* Answer with a JSON error: status from the code, Retry-After and Allow as
 * proto does. message NULL: the code's default message. */
void wp_exchange_respond_error(wp_exchange *x, int code, const char *message);
/* Answer with raw bytes and extra headers (copied). */
void wp_exchange_respond(wp_exchange *x, int status, const char *content_type,
                         const wp_header *headers, size_t header_count, const void *body,
                         size_t body_len);

/* Runs work(x) on a worker, then finish(x) on the loop, which must respond.
 * When the client left meanwhile, finish is skipped and the exchange freed.
 * On a full queue or during shutdown answers the error itself and returns
 * false. */
bool wp_exchange_submit(wp_exchange *x, void (*work)(wp_exchange *x),
                        void (*finish)(wp_exchange *x));

/* Guest work that starts from a fresh instance and destroys it (a one-shot
 * call or run, an instantiation that files its instance only once it
 * succeeded): work(x) may run twice, the first run cut at its deadline. */
#define WP_GUEST_RESTARTABLE 1u

/* Guest work (bounded by the request's deadline, x->deadline_ms, which work
 * must use): runs work(x) and finish(x) at once on this loop when this
 * loop's last run of it was short (WP_INLINE_RUN_US); work this loop has no
 * run time for is tried on the loop under that bound when flags has
 * WP_GUEST_RESTARTABLE (and run again on the pool when it is cut); the rest
 * goes as wp_exchange_submit. module names what runs and must live as long
 * as x. False when it answered an error itself. */
bool wp_exchange_run_guest(wp_exchange *x, const char *module, size_t module_len, unsigned flags,
                           void (*work)(wp_exchange *x), void (*finish)(wp_exchange *x));

/* True at most once a second, from any thread: may an overload be logged? */
bool wp_daemon_log_overload_now(wp_daemon *d);

/* server.c */
typedef void (*wp_server_drained_cb)(wp_daemon *daemon, bool clean);

/* Before start-up work: WP_ECONFLICT when a live daemon answers on path or
 * it is not a socket; a stale socket file (nobody listening) is removed. */
int wp_server_check_socket(const char *path, char *why, size_t why_len);
/* Binds and listens (Unix socket, optional TCP), starts the idle-instance
 * reaper. WP_ECONFLICT when another daemon answers on the socket path; other
 * errors with why filled. */
int wp_server_start(wp_daemon *daemon, char *why, size_t why_len);
/* Stops accepting and removes the socket file; in-flight requests finish
 * (up to the grace period) and then every connection closes; drained runs
 * once, with clean false if the grace period ran out with work in flight. */
void wp_server_shutdown(wp_daemon *daemon, wp_server_drained_cb drained);
/* Frees the server after drained ran (the loop must run once more). */
void wp_server_destroy(wp_daemon *daemon);
uint64_t wp_server_connection_count(const wp_daemon *daemon);

/* Monotonic microseconds (the latency clock). */
uint64_t wp_now_us(void);

#endif /* WP_DAEMON_DAEMON_H */
