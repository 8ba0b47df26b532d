/* test_client.c — the blocking client (proto/client.c) against a tiny
 * scripted server: a thread serving a Unix socket in a temporary directory
 * (or 127.0.0.1), answering each request it parses with the next canned
 * response of the test's script. The server parses with wp_http_parser, so
 * what the client sends is checked by the same code the daemon uses.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

typedef struct action {
  const char *response; /* raw bytes to write; NULL: never answer */
  size_t piece;         /* write in pieces of this many bytes (0: at once) */
  bool close_after;     /* close the connection after answering */
} action;

typedef struct server {
  int listen_fd;
  char dir[64];
  char path[96];
  uint16_t port;
  const action *script;
  size_t script_len;
  size_t next_action;
  volatile bool stop;
  pthread_t thread;
  /* Read by the test only after the thread is joined. */
  int accepts;
  wp_buf log; /* "METHOD path [body]\n" per request, with "#conn\n" marks */
} server;

static void write_all(int fd, const char *data, size_t len, size_t piece) {
  size_t step = piece ? piece : len;
  for (size_t off = 0; off < len;) {
    size_t n = len - off < step ? len - off : step;
    ssize_t w = send(fd, data + off, n, MSG_NOSIGNAL);
    if (w <= 0)
      return;
    off += (size_t)w;
    if (piece)
      usleep(1000); /* let the client see separate reads */
  }
}

/* Serve one connection until EOF or a close_after action. */
static void serve_connection(server *s, int fd) {
  wp_http_parser *parser;
  if (wp_http_parser_create(NULL, &parser) != 0)
    return;
  char buf[4096];
  bool open = true;
  while (open && !s->stop) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, 50) <= 0)
      continue;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    if (wp_http_parser_feed(parser, buf, (size_t)n) != 0) {
      wp_buf_append_str(&s->log, "PARSE ERROR\n");
      break;
    }
    wp_request *req;
    while (open && wp_http_parser_next(parser, &req) == 1) {
      wp_buf_appendf(&s->log, "%s %s [", req->method_name, req->target);
      wp_buf_append(&s->log, req->body, req->body_len);
      wp_buf_append_str(&s->log, "]\n");
      wp_request_destroy(req);
      if (s->next_action >= s->script_len) {
        open = false;
        break;
      }
      const action *a = &s->script[s->next_action++];
      if (a->response != NULL)
        write_all(fd, a->response, strlen(a->response), a->piece);
      if (a->close_after)
        open = false;
    }
  }
  wp_http_parser_destroy(parser);
  close(fd);
}

static void *server_main(void *arg) {
  server *s = arg;
  while (!s->stop) {
    struct pollfd pfd = {.fd = s->listen_fd, .events = POLLIN};
    if (poll(&pfd, 1, 20) <= 0)
      continue;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
      continue;
    s->accepts++;
    wp_buf_append_str(&s->log, "#conn\n");
    serve_connection(s, fd);
  }
  return NULL;
}

static void server_start(server *s, const action *script, size_t script_len, bool tcp) {
  memset(s, 0, sizeof(*s));
  wp_buf_init(&s->log);
  s->script = script;
  s->script_len = script_len;
  if (tcp) {
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    getsockname(s->listen_fd, (struct sockaddr *)&addr, &len);
    s->port = ntohs(addr.sin_port);
  } else {
    snprintf(s->dir, sizeof(s->dir), "/tmp/wp-client-test-XXXXXX");
    cr_assert_not_null(mkdtemp(s->dir));
    snprintf(s->path, sizeof(s->path), "%s/sock", s->dir);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", s->path);
    cr_assert_eq(bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
  }
  cr_assert_eq(listen(s->listen_fd, 16), 0);
  cr_assert_eq(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_stop(server *s) {
  s->stop = true;
  pthread_join(s->thread, NULL);
  close(s->listen_fd);
  if (s->path[0]) {
    unlink(s->path);
    rmdir(s->dir);
  }
}

static wp_client *client_for(server *s, int timeout_ms) {
  wp_client_options opts = {.timeout_ms = timeout_ms};
  if (s->port) {
    opts.tcp_host = "127.0.0.1";
    opts.tcp_port = s->port;
  } else {
    opts.unix_path = s->path;
  }
  wp_client *c;
  cr_assert_eq(wp_client_create(&opts, &c), 0);
  return c;
}

static const char ok_hello[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                               "Content-Length: 5\r\nX-Extra:  spaced  \r\n\r\nhello";

Test(client, content_length_and_keep_alive_reuse) {
  action script[] = {{ok_hello, 0, false}, {ok_hello, 0, false}, {ok_hello, 0, false}};
  server s;
  server_start(&s, script, 3, false);
  wp_client *c = client_for(&s, 2000);
  wp_client_response resp = {0};
  wp_header h[] = {{"X-Req", 5, "1", 1}};
  cr_assert_eq(wp_client_request(c, "GET", "/v1/health", h, 1, NULL, 0, &resp), 0);
  cr_assert_eq(resp.status, 200);
  cr_assert(resp.keep_alive);
  cr_assert_eq(resp.body.len, 5);
  cr_assert_str_eq(resp.body.data, "hello");
  const wp_header *x = wp_client_response_header(&resp, "x-extra");
  cr_assert_not_null(x);
  cr_assert_str_eq(x->value, "spaced");
  cr_assert_str_eq(wp_client_response_header(&resp, "CONTENT-TYPE")->value, "text/plain");
  /* The response struct is reused without freeing in between. */
  cr_assert_eq(wp_client_request(c, "PUT", "/v1/modules/m", NULL, 0, "\0wasm", 5, &resp), 0);
  cr_assert_str_eq(resp.body.data, "hello");
  cr_assert_eq(wp_client_request(c, "POST", "/v1/modules/m/instances", NULL, 0, NULL, 0, &resp), 0);
  wp_client_response_free(&resp);
  wp_client_destroy(c);
  server_stop(&s);
  cr_assert_eq(s.accepts, 1, "keep-alive: one connection for three requests");
  wp_buf expect;
  wp_buf_init(&expect);
  wp_buf_append_str(&expect, "#conn\nGET /v1/health []\nPUT /v1/modules/m [");
  wp_buf_append(&expect, "\0wasm", 5);
  wp_buf_append_str(&expect, "]\nPOST /v1/modules/m/instances []\n");
  cr_assert_eq(s.log.len, expect.len);
  cr_assert_eq(memcmp(s.log.data, expect.data, expect.len), 0);
  wp_buf_free(&expect);
  wp_buf_free(&s.log);
}

Test(client, chunked_response_split_in_pieces) {
  static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "6\r\nhello,\r\n1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n";
  action script[] = {{chunked, 7, false}, {ok_hello, 0, false}};
  server s;
  server_start(&s, script, 2, false);
  wp_client *c = client_for(&s, 2000);
  wp_client_response resp = {0};
  cr_assert_eq(wp_client_request(c, "GET", "/v1/stats", NULL, 0, NULL, 0, &resp), 0);
  cr_assert_eq(resp.status, 200);
  cr_assert_str_eq(resp.body.data, "hello, world!");
  cr_assert(resp.keep_alive);
  cr_assert_eq(wp_client_request(c, "GET", "/v1/stats", NULL, 0, NULL, 0, &resp), 0);
  cr_assert_str_eq(resp.body.data, "hello");
  wp_client_response_free(&resp);
  wp_client_destroy(c);
  server_stop(&s);
  cr_assert_eq(s.accepts, 1);
  wp_buf_free(&s.log);
}

Test(client, body_until_close_and_reconnect) {
  static const char until_close[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it";
  action script[] = {{until_close, 3, true}, {ok_hello, 0, false}};
  server s;
  server_start(&s, script, 2, false);
  wp_client *c = client_for(&s, 2000);
  wp_client_response resp = {0};
  cr_assert_eq(wp_client_request(c, "GET", "/metrics", NULL, 0, NULL, 0, &resp), 0);
  cr_assert_str_eq(resp.body.data, "all of it");
  cr_assert_not(resp.keep_alive);
  /* The client closed its side and connects again for the next request. */
  cr_assert_eq(wp_client_request(c, "GET", "/metrics", NULL, 0, NULL, 0, &resp), 0);
  cr_assert_str_eq(resp.body.data, "hello");
  wp_client_response_free(&resp);
  wp_client_destroy(c);
  server_stop(&s);
  cr_assert_eq(s.accepts, 2);
  wp_buf_free(&s.log);
}

Test(client, resends_once_when_idle_connection_was_closed) {
  /* The server answers with keep-alive, then closes (an idle timeout). */
  action script[] = {{ok_hello, 0, true}, {ok_hello, 0, false}};
  server s;
  server_start(&s, script, 2, false);
  wp_client *c = client_for(&s, 2000);
  wp_client_response resp = {0};
  cr_assert_eq(wp_client_request(c, "GET", "/v1/health", NULL, 0, NULL, 0, &resp), 0);
  cr_assert(resp.keep_alive);
  usleep(50 * 1000); /* let the close land */
  cr_assert_eq(wp_client_request(c, "POST", "/v1/modules/m/run", NULL, 0, "in", 2, &resp), 0, "%s",
               wp_client_error(c));
  cr_assert_str_eq(resp.body.data, "hello");
  wp_client_response_free(&resp);
  wp_client_destroy(c);
  server_stop(&s);
  cr_assert_eq(s.accepts, 2);
  cr_assert_str_eq(s.log.data, "#conn\nGET /v1/health []\n#conn\nPOST /v1/modules/m/run [in]\n");
  wp_buf_free(&s.log);
}

Test(client, timeout_when_server_does_not_answer) {
  action script[] = {{NULL, 0, false}};
  server s;
  server_start(&s, script, 1, false);
  wp_client *c = client_for(&s, 150);
  wp_client_response resp = {0};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(wp_client_request(c, "GET", "/v1/health", NULL, 0, NULL, 0, &resp), WP_ETIMEOUT);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
  cr_assert(ms >= 140 && ms < 1500, "took %.0f ms", ms);
  cr_assert_str_neq(wp_client_error(c), "");
  wp_client_response_free(&resp);
  wp_client_destroy(c);
  server_stop(&s);
  wp_buf_free(&s.log);
}

Test(client, head_and_interim_continue) {
  static const char head_resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
  static const char continued[] = "HTTP/1.1 100 Continue\r\n\r\n"
                                  "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
  action script[] = {{head_resp, 0, false}, {continued, 0, false}};
  server s;
  server_start(&s, script, 2, false);
  wp_client *c = client_for(&s, 2000);
  wp_client_response resp = {0};
  cr_assert_eq(wp_client_request(c, "HEAD", "/v1/health", NULL, 0, NULL, 0, &resp), 0);
  cr_assert_eq(resp.status, 200);
  cr_assert_eq(resp.body.len, 0);
  cr_assert_str_eq(wp_client_response_header(&resp, "content-length")->value, "1000");
  cr_assert_eq(wp_client_request(c, "PUT", "/v1/modules/m", NULL, 0, "x", 1, &resp), 0);
  cr_assert_eq(resp.status, 201);
  cr_assert_str_eq(resp.body.data, "ok");
  wp_client_response_free(&resp);
  wp_client_destroy(c);
  server_stop(&s);
  cr_assert_eq(s.accepts, 1);
  wp_buf_free(&s.log);
}

Test(client, pipelined_send_then_receive) {
  static const char r1[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1";
  static const char r2[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\n2";
  static const char r3[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3";
  action script[] = {{r1, 0, false}, {r2, 0, false}, {r3, 0, false}};
  server s;
  server_start(&s, script, 3, false);
  wp_client *c = client_for(&s, 2000);
  cr_assert_eq(wp_client_send(c, "GET", "/a", NULL, 0, NULL, 0), 0);
  cr_assert_eq(wp_client_send(c, "GET", "/b", NULL, 0, NULL, 0), 0);
  cr_assert_eq(wp_client_send(c, "GET", "/c", NULL, 0, NULL, 0), 0);
  usleep(50 * 1000); /* all three answers are likely in one read now */
  wp_client_response resp = {0};
  cr_assert_eq(wp_client_recv(c, false, &resp), 0);
  cr_assert_eq(resp.status, 200);
  cr_assert_str_eq(resp.body.data, "1");
  cr_assert_eq(wp_client_recv(c, false, &resp), 0);
  cr_assert_eq(resp.status, 404);
  cr_assert_str_eq(resp.body.data, "2");
  cr_assert_eq(wp_client_recv(c, false, &resp), 0);
  cr_assert_str_eq(resp.body.data, "3");
  wp_client_response_free(&resp);
  wp_client_destroy(c);
  server_stop(&s);
  cr_assert_str_eq(s.log.data, "#conn\nGET /a []\nGET /b []\nGET /c []\n");
  wp_buf_free(&s.log);
}

Test(client, over_tcp_loopback) {
  action script[] = {{ok_hello, 0, false}};
  server s;
  server_start(&s, script, 1, true);
  wp_client *c = client_for(&s, 2000);
  wp_client_response resp = {0};
  cr_assert_eq(wp_client_request(c, "GET", "/v1/health", NULL, 0, NULL, 0, &resp), 0);
  cr_assert_str_eq(resp.body.data, "hello");
  wp_client_response_free(&resp);
  wp_client_destroy(c);
  server_stop(&s);
  wp_buf_free(&s.log);
}

Test(client, limits_and_bad_responses) {
  static const char big[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  static const char garbage[] = "SMTP ready\r\n\r\n";
  action script[] = {{big, 0, false}, {garbage, 0, false}};
  server s;
  server_start(&s, script, 2, false);
  wp_client_options opts = {.unix_path = s.path, .timeout_ms = 2000, .max_body_bytes = 10};
  wp_client *c;
  cr_assert_eq(wp_client_create(&opts, &c), 0);
  wp_client_response resp = {0};
  cr_assert_eq(wp_client_request(c, "GET", "/", NULL, 0, NULL, 0, &resp), WP_EPAYLOAD_TOO_LARGE);
  cr_assert_eq(wp_client_request(c, "GET", "/", NULL, 0, NULL, 0, &resp), WP_EBAD_REQUEST);
  cr_assert_not_null(strstr(wp_client_error(c), "bad response"));
  wp_client_response_free(&resp);
  wp_client_destroy(c);
  server_stop(&s);
  wp_buf_free(&s.log);
}

Test(client, connect_errors_and_bad_options) {
  wp_client *c;
  wp_client_options none = {0};
  cr_assert_eq(wp_client_create(&none, &c), WP_EINVAL);
  wp_client_options both = {.unix_path = "/x", .tcp_host = "127.0.0.1", .tcp_port = 1};
  cr_assert_eq(wp_client_create(&both, &c), WP_EINVAL);
  wp_client_options bad_host = {.tcp_host = "localhost", .tcp_port = 1};
  cr_assert_eq(wp_client_create(&bad_host, &c), WP_EINVAL);

  wp_client_options missing = {.unix_path = "/nonexistent/wasmpool.sock", .timeout_ms = 500};
  cr_assert_eq(wp_client_create(&missing, &c), 0);
  wp_client_response resp = {0};
  cr_assert_eq(wp_client_request(c, "GET", "/v1/health", NULL, 0, NULL, 0, &resp), WP_ESYS);
  cr_assert_not_null(strstr(wp_client_error(c), "/nonexistent/wasmpool.sock"));
  /* Header injection is refused before anything is sent. */
  wp_header evil[] = {{"X", 1, "a\r\nY: b", 7}};
  cr_assert_eq(wp_client_request(c, "GET", "/", evil, 1, NULL, 0, &resp), WP_EINVAL);
  cr_assert_eq(wp_client_request(c, "GET", "no-slash", NULL, 0, NULL, 0, &resp), WP_EINVAL);
  wp_client_response_free(&resp);
  wp_client_destroy(c);
}

Test(client, full_backlog_times_out_instead_of_failing_at_once) {
  server s;
  memset(&s, 0, sizeof(s));
  snprintf(s.dir, sizeof(s.dir), "/tmp/wp-client-test-XXXXXX");
  cr_assert_not_null(mkdtemp(s.dir));
  snprintf(s.path, sizeof(s.path), "%s/sock", s.dir);
  int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", s.path);
  cr_assert_eq(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), 0);
  cr_assert_eq(listen(listener, 0), 0);
  /* Fill the backlog with connections nobody accepts. */
  int fillers[64];
  int filled = 0;
  while (filled < 64) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
      cr_assert_eq(errno, EAGAIN);
      close(fd);
      break;
    }
    fillers[filled++] = fd;
  }
  cr_assert_lt(filled, 64, "backlog never filled");

  wp_client *c = client_for(&s, 100);
  wp_client_response resp = {0};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(wp_client_request(c, "GET", "/v1/health", NULL, 0, NULL, 0, &resp), WP_ETIMEOUT,
               "%s", wp_client_error(c));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
  cr_assert(ms >= 90 && ms < 1500, "took %.0f ms", ms);
  cr_assert_not_null(strstr(wp_client_error(c), "backlog"));
  wp_client_response_free(&resp);
  wp_client_destroy(c);
  for (int i = 0; i < filled; i++)
    close(fillers[i]);
  close(listener);
  unlink(s.path);
  rmdir(s.dir);
}
