/* test_bench_run.c — the libuv engine against a scripted server.
 *
 * The server runs in threads of this process on a temporary Unix socket and
 * answers by path: .../call/ok -> 200, .../call/trap -> 502 with a JSON error,
 * .../instances -> 201 with an id, DELETE -> 200. It can stall one request,
 * so the open-loop test sees the stall in the engine's own percentiles
 * (coordinated omission corrected in the real code path, not a model).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench_args.h"
#include "bench_report.h"
#include "bench_run.h"

typedef struct server {
  char path[108];
  int listen_fd;
  pthread_t thread;
  atomic_int requests;
  int stall_at; /* 1-based request number to stall, 0 = none */
  int stall_ms;
  atomic_bool stop;
} server;

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static void answer(int fd, int status, const char *reason, const char *body) {
  char buf[512];
  int n = snprintf(buf, sizeof(buf),
                   "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                   "Connection: keep-alive\r\n\r\n%s",
                   status, reason, strlen(body), body);
  ssize_t w = write(fd, buf, (size_t)n);
  (void)w;
}

typedef struct conn_arg {
  server *srv;
  int fd;
} conn_arg;

static void *serve_conn(void *p) {
  conn_arg *arg = p;
  server *srv = arg->srv;
  int fd = arg->fd;
  free(arg);
  char buf[65536];
  size_t len = 0;
  for (;;) {
    char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL) {
      ssize_t n = read(fd, buf + len, sizeof(buf) - len);
      if (n <= 0)
        break;
      len += (size_t)n;
      continue;
    }
    size_t head = (size_t)(end - buf) + 4;
    size_t body = 0;
    char *cl = memmem(buf, head, "Content-Length: ", 16);
    if (cl != NULL)
      body = strtoul(cl + 16, NULL, 10);
    while (len < head + body) {
      ssize_t n = read(fd, buf + len, sizeof(buf) - len);
      if (n <= 0)
        goto out;
      len += (size_t)n;
    }
    int number = atomic_fetch_add(&srv->requests, 1) + 1;
    if (number == srv->stall_at)
      sleep_ms(srv->stall_ms);
    if (strncmp(buf, "DELETE ", 7) == 0)
      answer(fd, 200, "OK", "{\"deleted\":\"abc\"}");
    else if (memmem(buf, head, "/instances ", 11) != NULL)
      answer(fd, 201, "Created", "{\"id\":\"abc\",\"module\":\"m\"}");
    else if (memmem(buf, head, "/call/trap ", 11) != NULL)
      answer(
          fd, 502, "Bad Gateway",
          "{\"error\":{\"code\":\"trap_divide_by_zero\",\"message\":\"integer divide by zero\"}}");
    else
      answer(fd, 200, "OK", "{\"results\":[1]}");
    memmove(buf, buf + head + body, len - head - body);
    len -= head + body;
  }
out:
  close(fd);
  return NULL;
}

static void *serve(void *p) {
  server *srv = p;
  while (!atomic_load(&srv->stop)) {
    int fd = accept(srv->listen_fd, NULL, NULL);
    if (fd < 0)
      break;
    conn_arg *arg = malloc(sizeof(*arg));
    arg->srv = srv;
    arg->fd = fd;
    pthread_t t;
    pthread_create(&t, NULL, serve_conn, arg);
    pthread_detach(t);
  }
  return NULL;
}

static void server_start(server *srv) {
  memset(srv, 0, sizeof(*srv));
  snprintf(srv->path, sizeof(srv->path), "/tmp/wpb_run_%d.sock", (int)getpid());
  unlink(srv->path);
  srv->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strcpy(addr.sun_path, srv->path);
  cr_assert_eq(bind(srv->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
  cr_assert_eq(listen(srv->listen_fd, 64), 0);
  pthread_create(&srv->thread, NULL, serve, srv);
}

static void server_stop(server *srv) {
  atomic_store(&srv->stop, true);
  shutdown(srv->listen_fd, SHUT_RDWR);
  close(srv->listen_fd);
  pthread_join(srv->thread, NULL);
  unlink(srv->path);
}

static void parse(wp_bench_opts *opts, int argc, char **argv) {
  char err[512];
  cr_assert_eq(wp_bench_opts_parse(argc, argv, opts, err, sizeof(err)), 0, "%s", err);
}

Test(bench_run, closed_loop_mix_counts_every_answer) {
  server srv;
  server_start(&srv);
  char mix_path[] = "/tmp/wpb_run_mixXXXXXX";
  int fd = mkstemp(mix_path);
  const char *doc = "[{\"kind\":\"call\",\"module\":\"m\",\"export\":\"ok\",\"weight\":2},"
                    "{\"kind\":\"call\",\"module\":\"m\",\"export\":\"trap\",\"expect\":502},"
                    "{\"kind\":\"instantiate\",\"module\":\"m\"}]";
  cr_assert_eq(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
  close(fd);
  char *argv[] = {"wasmpool-bench", "--socket", srv.path, "-c", "3", "--pipeline", "4", "-n", "300",
                  "--no-progress",  "--mix",    mix_path, NULL};
  wp_bench_opts opts;
  parse(&opts, 12, argv);
  unlink(mix_path);
  wp_bench_results *res;
  cr_assert_eq(wp_bench_results_create(opts.mix->count, &res), 0);
  char err[512] = "";
  cr_assert_eq(wp_bench_run(&opts, srv.path, NULL, res, err, sizeof(err)), 0, "%s", err);

  cr_assert_eq(res->completed, 300, "exactly -n requests are measured");
  cr_assert_eq(res->expected, 300, "every answer had its expected status");
  cr_assert_eq(res->latency->total, 300);
  uint64_t per_entry = 0;
  for (size_t i = 0; i < 3; i++)
    per_entry += res->entries[i].completed;
  cr_assert_eq(per_entry, 300);
  cr_assert_gt(res->entries[0].completed, res->entries[1].completed, "weight 2 beats weight 1");
  cr_assert_eq(res->status[502], res->entries[1].completed);
  cr_assert_eq(res->status[201], res->entries[2].completed, "one POST per instantiate pair");
  cr_assert_eq(res->http_responses, 300 + res->entries[2].completed, "and one DELETE");
  cr_assert_eq(res->status[200], res->entries[0].completed + res->entries[2].completed);
  cr_assert_eq(res->code_count, 1);
  cr_assert_str_eq(res->codes[0].name, "trap_divide_by_zero");
  cr_assert_eq(res->codes[0].count, res->entries[1].completed);
  for (int i = 0; i < WP_BENCH_ERR_COUNT; i++)
    cr_assert_eq(res->transport[i], 0, "transport error %s", wp_bench_transport_err_name(i));
  cr_assert_gt(res->elapsed_s, 0);
  wp_bench_results_destroy(res);
  wp_bench_opts_free(&opts);
  server_stop(&srv);
}

Test(bench_run, open_loop_stall_shows_in_percentiles) {
  server srv;
  server_start(&srv);
  /* 200 req/s for 1 s on one connection; request 40 (t = 0.2 s) is held for
   * 300 ms, so ~60 requests due meanwhile queue in the client. */
  srv.stall_at = 40;
  srv.stall_ms = 300;
  char *argv[] = {"wasmpool-bench", "--socket", srv.path, "--rate", "200", "-d", "1s",
                  "--no-progress",  "--call",   "m",      "ok",     NULL};
  wp_bench_opts opts;
  parse(&opts, 11, argv);
  wp_bench_results *res;
  cr_assert_eq(wp_bench_results_create(1, &res), 0);
  char err[512] = "";
  cr_assert_eq(wp_bench_run(&opts, srv.path, NULL, res, err, sizeof(err)), 0, "%s", err);
  cr_assert(res->open_loop);
  cr_assert(res->completed >= 195 && res->completed <= 201, "%lu requests at 200/s for 1 s",
            (unsigned long)res->completed);
  /* ~60 of 200 requests (30%) waited 0..300 ms: p90 well above 50 ms,
   * p99 above 200 ms, max about 300 ms. p50 stays small. */
  uint64_t p90 = wp_bench_hist_percentile(res->latency, 90);
  uint64_t p99 = wp_bench_hist_percentile(res->latency, 99);
  cr_assert_gt(p90, 50000000ull, "p90 = %lu ns", (unsigned long)p90);
  cr_assert_gt(p99, 200000000ull, "p99 = %lu ns", (unsigned long)p99);
  cr_assert_gt(res->latency->max, 280000000ull);
  /* The client's own send lag shows the same queue: requests left late. */
  cr_assert_gt(wp_bench_hist_percentile(res->send_lag, 90), 40000000ull);
  wp_bench_results_destroy(res);
  wp_bench_opts_free(&opts);
  server_stop(&srv);
}

Test(bench_run, no_server_is_an_error) {
  char path[108];
  snprintf(path, sizeof(path), "/tmp/wpb_run_none_%d.sock", (int)getpid());
  unlink(path);
  char *argv[] = {"wasmpool-bench", "--socket",      path,     "-n", "5",  "--timeout",
                  "300ms",          "--no-progress", "--call", "m",  "ok", NULL};
  wp_bench_opts opts;
  parse(&opts, 11, argv);
  wp_bench_results *res;
  cr_assert_eq(wp_bench_results_create(1, &res), 0);
  char err[512] = "";
  cr_assert_lt(wp_bench_run(&opts, path, NULL, res, err, sizeof(err)), 0);
  cr_assert(strstr(err, "could not connect") != NULL, "%s", err);
  cr_assert_gt(res->transport[WP_BENCH_ERR_CONNECT], 0);
  cr_assert_eq(res->completed, 0);
  wp_bench_results_destroy(res);
  wp_bench_opts_free(&opts);
}
