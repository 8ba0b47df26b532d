/* main.c — wasmpoold: reads the config, builds the runtime, the module
 * registry, the workers and the server, runs the libuv loop, and shuts down
 * gracefully on SIGTERM/SIGINT.
 *
 * Start-up order matters: a live daemon on the socket path is detected
 * before anything slow happens; persisted modules are reloaded before the
 * socket accepts, so a client never sees a half-loaded registry.
 *
 * Shutdown: stop accepting (the socket file goes at once), let in-flight
 * requests finish for up to server.shutdown_grace_ms, then release every
 * instance and exit 0. If guest code is still running when the grace period
 * ends (a call without a deadline), the process exits without waiting for it.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

#ifndef WASMPOOL_VERSION
#define WASMPOOL_VERSION "unknown"
#endif

typedef struct daemon_main {
  wp_daemon d;
  uv_signal_t sigterm, sigint;
  bool clean;
  int signals_seen;
} daemon_main;

static void usage(FILE *out) {
  fprintf(out, "usage: wasmpoold [--config FILE] [--socket PATH]\n"
               "       wasmpoold --check-config FILE\n"
               "\n"
               "The wasmpool daemon: deploys WebAssembly modules and runs them in pooled,\n"
               "pre-reserved instance slots, served over HTTP/1.1 on a Unix socket.\n"
               "\n"
               "  -c, --config FILE        read the TOML config (default: built-in defaults)\n"
               "      --check-config FILE  validate FILE, print the effective config, exit 0/1\n"
               "  -s, --socket PATH        listen on PATH instead of server.socket_path\n"
               "  -h, --help               this text\n"
               "  -V, --version            print the version\n"
               "\n"
               "Signals: SIGTERM or SIGINT stop accepting, finish in-flight requests (up to\n"
               "server.shutdown_grace_ms), release every instance, remove the socket, exit 0.\n");
}

static void on_drained(wp_daemon *d, bool clean) {
  daemon_main *m = (daemon_main *)d;
  m->clean = clean;
  uv_stop(d->loop);
}

static void on_signal(uv_signal_t *handle, int signum) {
  daemon_main *m = handle->data;
  if (++m->signals_seen > 1) {
    wp_log_warn("shutdown_forced", "signal=%d", signum);
    if (m->d.cfg->server.socket_path)
      unlink(m->d.cfg->server.socket_path);
    _exit(1);
  }
  wp_log_info("shutdown", "signal=%s grace_ms=%llu", signum == SIGTERM ? "SIGTERM" : "SIGINT",
              (unsigned long long)m->d.cfg->server.shutdown_grace_ms);
  wp_server_shutdown(&m->d, on_drained);
}

/* jemalloc reads this at its start-up. Without it, memory freed after a
 * burst (1,000 pipelining clients closing) stays resident until enough
 * later allocations tick jemalloc's decay, which an idle daemon never does:
 * a background thread returns dirty pages after a second instead. */
const char *malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";

static const char *endpoint_names[WP_EP_COUNT];

static int run(const wp_daemon_config *cfg) {
  daemon_main m;
  memset(&m, 0, sizeof m);
  wp_daemon *d = &m.d;
  d->cfg = cfg;
  char why[1024] = "";

  /* Write errors to a client that left must not kill the daemon. */
  signal(SIGPIPE, SIG_IGN);

  int rc = wp_config_socket_dir_check(cfg->server.socket_path, why, sizeof why);
  if (rc == 0)
    rc = wp_server_check_socket(cfg->server.socket_path, why, sizeof why);
  if (rc) {
    wp_log_error("startup_failed", "%s", why);
    return 1;
  }

  /* The default state directory may not exist yet on a fresh machine
   * (~/.local/state); the runtime only creates the last level. */
  if (cfg->runtime.cache_dir && wp_make_dirs(cfg->runtime.cache_dir) != 0) {
    wp_log_error("startup_failed", "runtime.cache_dir %s: %s", cfg->runtime.cache_dir,
                 strerror(errno));
    return 1;
  }

  wp_runtime_config rt_cfg;
  wp_runtime_config_default(&rt_cfg);
  wp_config_to_runtime(cfg, &rt_cfg);
  wp_error err = {0};
  rc = wp_runtime_create(&rt_cfg, &d->rt, &err);
  if (rc) {
    wp_log_error("startup_failed", "runtime: %s (%s)", err.message, wp_err_name(rc));
    return 1;
  }
  rc = wp_registry_create(d->rt, cfg->runtime.module_dir, &d->registry, &err);
  if (rc) {
    wp_log_error("startup_failed", "registry: %s", err.message);
    wp_runtime_destroy(d->rt);
    return 1;
  }
  rc = wp_registry_start_tierup(d->registry, cfg->runtime.tierup_threads);
  if (rc) {
    wp_log_error("startup_failed", "tier-up threads: %s", wp_strerror(rc));
    wp_registry_destroy(d->registry);
    wp_runtime_destroy(d->rt);
    return 1;
  }
  wp_registry_set_snapshot_defaults(d->registry, cfg->runtime.snapshot_deadline_ms,
                                    cfg->pool_prewarm);
  size_t loaded, failed;
  wp_registry_reload(d->registry, &loaded, &failed);
  wp_log_info("registry_loaded", "dir=%s modules=%zu failed=%zu", cfg->runtime.module_dir, loaded,
              failed);

  for (int i = 0; i < WP_EP_COUNT; i++)
    endpoint_names[i] = wp_endpoint_name((wp_endpoint)i);
  uv_loop_t loop;
  uv_loop_init(&loop);
  d->loop = &loop;
  d->started_ms = wp_now_us() / 1000;
  if (wp_metrics_create(endpoint_names, WP_EP_COUNT, &d->metrics) != 0 ||
      wp_instance_table_create(&d->instances) != 0 ||
      wp_work_queue_create(&loop, cfg->server.workers, cfg->server.queue_depth, 0, &d->queue) !=
          0) {
    wp_log_error("startup_failed", "cannot start workers");
    return 1;
  }
  /* Before the socket exists, so a SIGTERM right after bind still removes
   * it (the handler runs once the loop does). */
  uv_signal_init(&loop, &m.sigterm);
  uv_signal_init(&loop, &m.sigint);
  m.sigterm.data = m.sigint.data = &m;
  uv_signal_start(&m.sigterm, on_signal, SIGTERM);
  uv_signal_start(&m.sigint, on_signal, SIGINT);
  rc = wp_server_start(d, why, sizeof why);
  if (rc) {
    wp_log_error("startup_failed", "%s", why);
    wp_server_destroy(d);
    wp_work_queue_destroy(d->queue);
    uv_close((uv_handle_t *)&m.sigterm, NULL);
    uv_close((uv_handle_t *)&m.sigint, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    return 1;
  }

  wp_work_queue_stats qs;
  wp_work_queue_get_stats(d->queue, &qs);
  wp_log_info("started", "version=%s pid=%d workers=%u queue_depth=%u instances=%u",
              WASMPOOL_VERSION, (int)getpid(), qs.workers, cfg->server.queue_depth,
              cfg->pool.total_instances);

  uv_run(&loop, UV_RUN_DEFAULT);

  if (!m.clean) {
    /* Guest code without a deadline is still running on a worker: joining
     * it could take forever, and the socket is already gone. */
    wp_log_warn("stopped", "in-flight work abandoned after the grace period");
    _exit(0);
  }
  wp_server_destroy(d);
  wp_work_queue_destroy(d->queue);
  uv_close((uv_handle_t *)&m.sigterm, NULL);
  uv_close((uv_handle_t *)&m.sigint, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  size_t live = wp_instance_table_count(d->instances);
  wp_instance_table_destroy(d->instances);
  wp_registry_destroy(d->registry);
  wp_metrics_destroy(d->metrics);
  wp_runtime_destroy(d->rt);
  if (uv_loop_close(&loop) != 0)
    wp_log_warn("loop_not_empty", NULL);
  wp_log_info("stopped", "released_instances=%zu", live);
  return 0;
}

/* The daemon's version and the exact engine it compiles with (the tool
 * root's Debian 13 packages, also part of every compile-cache key). */
static void print_version(void) {
  printf("wasmpoold %s\n", WASMPOOL_VERSION);
  char versions[4096];
  if (wp_toolroot_versions(NULL, versions, sizeof(versions)) != 0) {
    printf("engine: no tool root at %s (run scripts/bootstrap.sh)\n", wp_default_toolroot());
    return;
  }
  printf("engine: wasm2c from the tool root %s\n", wp_default_toolroot());
  for (char *line = strtok(versions, "\n"); line; line = strtok(NULL, "\n"))
    printf("  %s\n", line);
}

int main(int argc, char **argv) {
  enum { OPT_CHECK = 1000 };
  static const struct option options[] = {
      {"config", required_argument, NULL, 'c'},
      {"check-config", required_argument, NULL, OPT_CHECK},
      {"socket", required_argument, NULL, 's'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0},
  };
  const char *config_path = NULL, *socket_path = NULL;
  bool check_only = false;
  int opt;
  while ((opt = getopt_long(argc, argv, "c:s:hV", options, NULL)) != -1) {
    switch (opt) {
    case 'c': config_path = optarg; break;
    case OPT_CHECK:
      config_path = optarg;
      check_only = true;
      break;
    case 's': socket_path = optarg; break;
    case 'h': usage(stdout); return 0;
    case 'V': print_version(); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "wasmpoold: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
  }

  wp_daemon_config cfg;
  char err[1024] = "";
  if (config_path) {
    int rc = check_only ? wp_config_check_file(config_path, &cfg, err, sizeof err)
                        : wp_config_load(config_path, &cfg, err, sizeof err);
    if (rc != 0) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
  } else {
    wp_config_default(&cfg);
  }
  if (socket_path && wp_config_set_socket_path(&cfg, socket_path, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    wp_config_free(&cfg);
    return 1;
  }
  if (check_only) {
    wp_config_dump(&cfg, stdout);
    wp_config_dump_sizing(&cfg, stdout);
    wp_config_free(&cfg);
    return 0;
  }
  wp_log_setup(cfg.log.level, cfg.log.format);
  int status = run(&cfg);
  wp_config_free(&cfg);
  return status;
}
