/* shard.c — one libuv loop per worker thread (server.workers of them).
 *
 * Every shard polls the same listening sockets (a dup of each descriptor),
 * accepts connections itself and owns them to the end: it reads, parses,
 * routes, runs the guest (inline, see wp__shard_last_run) and writes the
 * answer, all on its thread. The common path has no hand-off between
 * threads: no lock, no condition variable, no eventfd.
 *
 * Accepting: the listening descriptors are registered in the loop's epoll
 * with EPOLLEXCLUSIVE, so the kernel wakes one sleeping loop per incoming
 * connection instead of all of them (a loop that is busy running a request
 * is not in epoll_wait and is not woken). libuv cannot ask for that flag,
 * so a shard lets libuv register its uv_poll handle (one loop iteration),
 * then swaps that epoll entry for an exclusive one with the same events and
 * data (libuv 1.44 keys entries by fd and never modifies an entry whose
 * events it did not change). If the swap fails the shared entry stays: every
 * loop wakes and all but one find nothing to accept, which is only slower.
 * Each wake-up accepts one connection, so a loop goes back to its other
 * connections and the next connection can wake another loop.
 *
 * Balancing: the kernel wakes the first sleeping loop in its wait queue,
 * which is the same loop again and again when they are all idle, so a
 * burst of connections (a client opening 16) would all land on one loop and
 * use one core. A loop that accepts a connection while another loop has
 * fewer hands the socket over to that loop (a mutex-guarded inbox and the
 * loop's async handle): one hand-off per connection, none per request.
 *
 * The main loop talks to a shard only through its command flags and async
 * handle (drain, close everything, stop).
 */
#include "server_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

/* ---- Accepting ----------------------------------------------------------- */

static wp__shard *least_loaded(wp_server *server) {
  wp__shard *best = server->shards[0];
  for (unsigned i = 1; i < server->shard_count; i++)
    if (atomic_load(&server->shards[i]->conn_count) < atomic_load(&best->conn_count))
      best = server->shards[i];
  return best;
}

/* False when the inbox cannot grow: the caller keeps the connection. */
static bool hand_over(wp__shard *target, int fd, bool is_unix) {
  pthread_mutex_lock(&target->inbox_lock);
  if (target->inbox_len == target->inbox_cap) {
    size_t cap = target->inbox_cap ? target->inbox_cap * 2 : 16;
    void *grown = realloc(target->inbox, cap * sizeof *target->inbox);
    if (!grown) {
      pthread_mutex_unlock(&target->inbox_lock);
      return false;
    }
    target->inbox = grown;
    target->inbox_cap = cap;
  }
  target->inbox[target->inbox_len].fd = fd;
  target->inbox[target->inbox_len].is_unix = is_unix;
  target->inbox_len++;
  /* Counted now, so that the next accept anywhere sees it. */
  atomic_fetch_add(&target->conn_count, 1);
  pthread_mutex_unlock(&target->inbox_lock);
  uv_async_send(&target->command);
  return true;
}

/* Takes the handed-over sockets (their count was added by hand_over). */
static void adopt_inbox(wp__shard *shard) {
  pthread_mutex_lock(&shard->inbox_lock);
  size_t n = shard->inbox_len;
  struct handed_fd *items = shard->inbox;
  shard->inbox = NULL;
  shard->inbox_len = shard->inbox_cap = 0;
  pthread_mutex_unlock(&shard->inbox_lock);
  for (size_t i = 0; i < n; i++) {
    atomic_fetch_sub(&shard->conn_count, 1); /* wp__conn_start counts it */
    if (shard->draining)
      close(items[i].fd);
    else
      wp__conn_start(shard, items[i].fd, items[i].is_unix);
  }
  free(items);
}

static void on_accept_ready(uv_poll_t *poll, int status, int events) {
  (void)events;
  wp__shard *shard = poll->data;
  bool is_unix = poll == &shard->unix_poll;
  if (status < 0 || shard->draining)
    return;
  int fd =
      accept4(is_unix ? shard->unix_fd : shard->tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    /* Another loop took it, or the client gave up: nothing to do. */
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
      return;
    /* EMFILE under a connection flood would repeat on every event. */
    if (wp_daemon_log_overload_now(shard->server->daemon))
      wp_log_warn("accept_failed", "error=\"%s\"", strerror(errno));
    return;
  }
  wp__shard *target = least_loaded(shard->server);
  if (target != shard && atomic_load(&target->conn_count) < atomic_load(&shard->conn_count) &&
      hand_over(target, fd, is_unix))
    return;
  wp__conn_start(shard, fd, is_unix);
}

static int poll_listener(wp__shard *shard, uv_poll_t *poll, int server_fd, int *fd_out) {
  *fd_out = -1;
  if (server_fd < 0)
    return 0;
  int fd = fcntl(server_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    return WP_ESYS;
  if (uv_poll_init(&shard->loop, poll, fd) != 0) {
    close(fd);
    return WP_ESYS;
  }
  poll->data = shard;
  *fd_out = fd;
  uv_poll_start(poll, UV_READABLE, on_accept_ready);
  return 0;
}

/* After libuv registered fd (one loop iteration): the same entry, exclusive. */
static bool make_exclusive(wp__shard *shard, int fd) {
  if (fd < 0)
    return true;
  int ep = uv_backend_fd(&shard->loop);
  struct epoll_event e = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = fd};
  if (epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) != 0)
    return false;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) == 0)
    return true;
  e.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  return false;
}

static void on_listener_closed(uv_handle_t *handle) {
  wp__shard *shard = handle->data;
  int *fd = handle == (uv_handle_t *)&shard->unix_poll ? &shard->unix_fd : &shard->tcp_fd;
  close(*fd);
  *fd = -1;
}

static void stop_listening(wp__shard *shard) {
  shard->draining = true;
  if (shard->unix_fd >= 0 && !uv_is_closing((uv_handle_t *)&shard->unix_poll))
    uv_close((uv_handle_t *)&shard->unix_poll, on_listener_closed);
  if (shard->tcp_fd >= 0 && !uv_is_closing((uv_handle_t *)&shard->tcp_poll))
    uv_close((uv_handle_t *)&shard->tcp_poll, on_listener_closed);
}

/* ---- Commands from the main loop ----------------------------------------- */

/* Connections with nothing in flight and no request half received close
 * now; the others keep reading until their last answer (wp__conn_flush sees
 * draining): a request that arrives meanwhile, pipelined or not, is answered
 * 503 shutting_down by wp__exchange_dispatch() instead of being ignored. */
static void shard_drain(wp__shard *shard) {
  stop_listening(shard);
  wp_conn *conn = shard->conns;
  while (conn) {
    wp_conn *next = conn->next;
    if (conn->exchange_count == 0 && conn->input_len == 0 &&
        !wp_http_parser_in_request(conn->parser))
      wp__conn_close(conn);
    conn = next;
  }
}

static void close_all(wp__shard *shard) {
  while (shard->conns)
    wp__conn_close(shard->conns);
}

/* Everything closes, so uv_run returns and the thread ends. No pool job of
 * this shard may still run (the daemon stops cleanly only when none does). */
static void shard_stop(wp__shard *shard) {
  stop_listening(shard);
  close_all(shard);
  if (shard->home) {
    wp_work_home_close(shard->home);
    shard->home = NULL;
  }
  uv_close((uv_handle_t *)&shard->command, NULL);
}

static void on_command(uv_async_t *handle) {
  wp__shard *shard = handle->data;
  adopt_inbox(shard);
  if (atomic_exchange(&shard->cmd_drain, false))
    shard_drain(shard);
  if (atomic_exchange(&shard->cmd_close_all, false))
    close_all(shard);
  if (atomic_exchange(&shard->cmd_stop, false))
    shard_stop(shard);
}

void wp__shards_command(wp_server *server, atomic_bool *(*flag)(wp__shard *)) {
  for (unsigned i = 0; i < server->shard_count; i++) {
    wp__shard *shard = server->shards[i];
    atomic_store(flag(shard), true);
    uv_async_send(&shard->command);
  }
}

/* ---- Threads ------------------------------------------------------------- */

static void *shard_main(void *arg) {
  wp__shard *shard = arg;
  uv_run(&shard->loop, UV_RUN_NOWAIT); /* libuv registers the polls */
  if (!make_exclusive(shard, shard->unix_fd) || !make_exclusive(shard, shard->tcp_fd))
    wp_log_warn("accept_shared", "shard=%u: no EPOLLEXCLUSIVE, every loop wakes per connection",
                shard->index);
  uv_run(&shard->loop, UV_RUN_DEFAULT);
  return NULL;
}

static int shard_create(wp_server *server, unsigned index, wp__shard **out) {
  wp__shard *shard = calloc(1, sizeof *shard);
  if (!shard)
    return WP_ENOMEM;
  shard->server = server;
  shard->index = index;
  shard->unix_fd = shard->tcp_fd = -1;
  pthread_mutex_init(&shard->inbox_lock, NULL);
  if (uv_loop_init(&shard->loop) != 0) {
    pthread_mutex_destroy(&shard->inbox_lock);
    free(shard);
    return WP_ESYS;
  }
  uv_async_init(&shard->loop, &shard->command, on_command);
  shard->command.data = shard;
  int rc = wp_work_home_create(server->daemon->queue, &shard->loop, &shard->home);
  if (rc == 0)
    rc = poll_listener(shard, &shard->unix_poll, server->unix_fd, &shard->unix_fd);
  if (rc == 0)
    rc = poll_listener(shard, &shard->tcp_poll, server->tcp_fd, &shard->tcp_fd);
  *out = shard; /* even on error: wp__shards_join tears it down */
  return rc;
}

int wp__shards_start(wp_server *server, unsigned count, char *why, size_t why_len) {
  server->shards = calloc(count, sizeof *server->shards);
  if (!server->shards) {
    snprintf(why, why_len, "out of memory");
    return WP_ENOMEM;
  }
  for (unsigned i = 0; i < count; i++) {
    int rc = shard_create(server, i, &server->shards[i]);
    if (server->shards[i])
      server->shard_count = i + 1;
    if (rc == 0 &&
        pthread_create(&server->shards[i]->thread, NULL, shard_main, server->shards[i]) != 0)
      rc = WP_ESYS;
    if (rc) {
      snprintf(why, why_len, "cannot start loop thread %u: %s", i, wp_strerror(rc));
      return rc;
    }
    server->shards[i]->thread_started = true;
  }
  return 0;
}

static atomic_bool *stop_flag(wp__shard *shard) {
  return &shard->cmd_stop;
}

void wp__shards_join(wp_server *server) {
  wp__shards_command(server, stop_flag);
  for (unsigned i = 0; i < server->shard_count; i++) {
    wp__shard *shard = server->shards[i];
    if (shard->thread_started)
      pthread_join(shard->thread, NULL);
    else {
      shard_stop(shard);
      uv_run(&shard->loop, UV_RUN_DEFAULT);
    }
    if (uv_loop_close(&shard->loop) != 0)
      wp_log_warn("loop_not_empty", "shard=%u", shard->index);
    for (size_t j = 0; j < shard->inbox_len; j++)
      close(shard->inbox[j].fd);
    free(shard->inbox);
    pthread_mutex_destroy(&shard->inbox_lock);
    free(shard);
  }
  free(server->shards);
  server->shards = NULL;
  server->shard_count = 0;
}

/* ---- Head-of-line blocking ----------------------------------------------- */

/* Guest code on the loop delays every other connection of the loop by its
 * run time, so only work this loop saw finish within WP_INLINE_RUN_US last
 * time runs inline with its own deadline; work whose last run was longer
 * runs on the pool (and is timed there, so it comes back once it is short
 * again), and work never seen is tried on the loop under the inline bound or
 * sent to the pool (wp_exchange_run_guest). key: endpoint, module and export
 * (exchange.c). Per shard: no lock. False when the key has no entry (never
 * seen, or forgotten after a collision). */
bool wp__shard_last_run(const wp__shard *shard, uint64_t key, uint32_t *us) {
  size_t slot = (size_t)(key % RUN_HISTORY_SLOTS);
  if (shard->runs.key[slot] != key)
    return false;
  *us = shard->runs.last_us[slot];
  return true;
}

void wp__shard_record_run(wp__shard *shard, uint64_t key, uint64_t us) {
  size_t slot = (size_t)(key % RUN_HISTORY_SLOTS);
  shard->runs.key[slot] = key;
  shard->runs.last_us[slot] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}
