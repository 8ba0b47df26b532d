/* server.c — starts and stops the connection layer, on the main loop: the
 * listening sockets, the loop threads (shard.c) that serve them, the
 * idle-instance reaper, and the graceful shutdown (drain, grace period).
 *
 * Shutdown across loops: the main loop sets draining, closes its listeners
 * and tells every shard to drain (stop accepting, close idle connections,
 * finish the rest). A 10 ms poll on the main loop watches the connection
 * count (an atomic over all shards) and the pool's outstanding jobs; when
 * both reach zero, or the grace period ends (then the shards close every
 * connection), drained runs. wp_server_destroy stops and joins the shards.
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

void wp__server_handle_closed(uv_handle_t *handle) {
  wp_server *server = handle->data;
  if (--server->open_handles == 0 && server->drained_called)
    free(server);
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
  server->unix_fd = server->tcp_fd = -1;
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
  int rc = wp__listen_unix(server, why, why_len);
  if (rc == 0)
    rc = wp__listen_tcp(server, why, why_len);
  if (rc)
    return rc;
  unsigned loops = d->cfg->server.workers;
  if (loops == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    loops = cpus > 0 ? (unsigned)cpus : 1;
  }
  rc = wp__shards_start(server, loops, why, why_len);
  if (rc == 0)
    wp_log_info("loops_started", "loops=%u", loops);
  return rc;
}

uint64_t wp_server_connection_count(const wp_daemon *d) {
  return d->server ? atomic_load(&d->server->conn_count) : 0;
}

/* ---- Shutdown ------------------------------------------------------------ */

static atomic_bool *drain_flag(wp__shard *shard) {
  return &shard->cmd_drain;
}

static atomic_bool *close_all_flag(wp__shard *shard) {
  return &shard->cmd_close_all;
}

static void finish_drain(wp_server *server, bool clean) {
  if (server->drained_called)
    return;
  server->drained_called = true;
  uv_timer_stop(&server->grace);
  uv_timer_stop(&server->reaper);
  server->drained(server->daemon, clean);
}

void wp__server_check_drained(wp_server *server) {
  if (!atomic_load(&server->draining) || server->drained_called)
    return;
  if (atomic_load(&server->conn_count) == 0 &&
      wp_work_queue_outstanding(server->daemon->queue) == 0)
    finish_drain(server, true);
}

static void on_grace_expired(uv_timer_t *timer) {
  wp_server *server = timer->data;
  size_t outstanding = wp_work_queue_outstanding(server->daemon->queue);
  wp_log_warn("shutdown_grace_expired", "connections=%llu jobs=%zu",
              (unsigned long long)atomic_load(&server->conn_count), outstanding);
  wp__shards_command(server, close_all_flag);
  if (!server->drained_called)
    finish_drain(server, outstanding == 0);
}

static void on_drain_poll(uv_timer_t *timer) {
  wp__server_check_drained(timer->data);
}

static void close_listeners(wp_server *server) {
  if (server->unix_open) {
    server->unix_open = false;
    uv_close(&server->unix_listener.handle, wp__server_handle_closed);
  }
  if (server->tcp_open) {
    server->tcp_open = false;
    uv_close(&server->tcp_listener.handle, wp__server_handle_closed);
  }
  if (server->socket_path) {
    unlink(server->socket_path);
    free(server->socket_path);
    server->socket_path = NULL;
  }
}

void wp_server_shutdown(wp_daemon *d, wp_server_drained_cb drained) {
  wp_server *server = d->server;
  if (atomic_load(&server->draining))
    return;
  server->drained = drained;
  atomic_store(&server->draining, true);
  atomic_store(&d->shutting_down, true);
  /* The shards keep their dups of the descriptors until they drain; the
   * socket file goes now, so no new client finds it. */
  close_listeners(server);
  wp_work_queue_stop(d->queue);
  wp__shards_command(server, drain_flag);
  uv_timer_start(&server->grace, on_grace_expired, d->cfg->server.shutdown_grace_ms, 0);
  /* Connections close on their shards and pool jobs finish on the pool:
   * poll for both to reach zero. */
  uv_timer_start(&server->reaper, on_drain_poll, 10, 10);
}

void wp_server_destroy(wp_daemon *d) {
  wp_server *server = d->server;
  if (!server)
    return;
  d->server = NULL;
  wp__shards_join(server);
  close_listeners(server);
  server->drained_called = true; /* lets the last close callback free it */
  uv_close((uv_handle_t *)&server->reaper, wp__server_handle_closed);
  uv_close((uv_handle_t *)&server->grace, wp__server_handle_closed);
}
