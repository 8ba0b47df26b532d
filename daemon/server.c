/* server.c — starts and stops the connection layer: the listeners, the
 * idle-instance reaper, and the graceful shutdown (drain, grace period).
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

void wp__server_check_drained(wp_server *server) {
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
    wp__conn_close(server->conns);
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
  wp_work_queue_stop(d->queue);
  /* Connections with nothing in flight and no request half received close
   * now; the others keep reading until their last answer (wp__conn_flush sees
   * draining): a request that arrives meanwhile, pipelined or not, is
   * answered 503 shutting_down by wp__exchange_dispatch() instead of being ignored. */
  wp_conn *conn = server->conns;
  while (conn) {
    wp_conn *next = conn->next;
    if (conn->exchange_count == 0 && conn->input_len == 0 &&
        !wp_http_parser_in_request(conn->parser))
      wp__conn_close(conn);
    conn = next;
  }
  uv_timer_start(&server->grace, on_grace_expired, d->cfg->server.shutdown_grace_ms, 0);
  /* Jobs of closed connections finish without touching any connection, so
   * poll for the queue to empty too. */
  uv_timer_start(&server->reaper, on_drain_poll, 10, 10);
  wp__server_check_drained(server);
}

static void on_drain_poll(uv_timer_t *timer) {
  wp__server_check_drained(timer->data);
}

void wp_server_destroy(wp_daemon *d) {
  wp_server *server = d->server;
  if (!server)
    return;
  d->server = NULL;
  while (server->conns)
    wp__conn_close(server->conns);
  if (server->unix_open)
    uv_close(&server->unix_listener.handle, wp__server_handle_closed);
  if (server->tcp_open)
    uv_close(&server->tcp_listener.handle, wp__server_handle_closed);
  server->unix_open = server->tcp_open = false;
  if (server->socket_path) {
    unlink(server->socket_path);
    free(server->socket_path);
    server->socket_path = NULL;
  }
  server->drained_called = true; /* lets the last close callback free it */
  uv_close((uv_handle_t *)&server->reaper, wp__server_handle_closed);
  uv_close((uv_handle_t *)&server->grace, wp__server_handle_closed);
}