/* test_cgi.c — the run endpoint's CGI/WAGI environment and argv
 * (proto/cgi.c), from a parsed request and its route.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "proto.h"

typedef struct parsed {
  wp_http_parser *parser;
  wp_request *req;
  wp_route route;
} parsed;

static void parse(parsed *p, const char *text) {
  cr_assert_eq(wp_http_parser_create(NULL, &p->parser), 0);
  cr_assert_eq(wp_http_parser_feed(p->parser, text, strlen(text)), 0);
  cr_assert_eq(wp_http_parser_next(p->parser, &p->req), 1);
  cr_assert_eq(wp_route_match(p->req->method, p->req->path, p->req->path_len, &p->route), 0);
}

static void done(parsed *p) {
  wp_route_free(&p->route);
  wp_request_destroy(p->req);
  wp_http_parser_destroy(p->parser);
}

/* The value of KEY in a "K=V\0K=V\0" list, or NULL. */
static const char *env_get(const wp_buf *env, size_t count, const char *key) {
  const char *s = env->data;
  size_t key_len = strlen(key);
  for (size_t i = 0; i < count; i++) {
    if (strncmp(s, key, key_len) == 0 && s[key_len] == '=')
      return s + key_len + 1;
    s += strlen(s) + 1;
  }
  return NULL;
}

Test(cgi, environment) {
  parsed p;
  parse(&p, "POST /v1/modules/app/run/users/7?arg=a&x=%41 HTTP/1.1\r\n"
            "Host: localhost\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 5\r\n"
            "X-Trace-Id: t1\r\n"
            "Accept: a\r\n"
            "accept: b\r\n"
            "Proxy: http://evil\r\n"
            "X_Under: shadow\r\n"
            "\r\n"
            "hello");
  wp_buf env;
  wp_buf_init(&env);
  size_t count;
  cr_assert_eq(wp_cgi_env(p.req, &p.route, &env, &count), 0);
  /* count matches the NUL-separated strings written. */
  size_t nuls = 0;
  for (size_t i = 0; i < env.len; i++)
    nuls += env.data[i] == '\0';
  cr_assert_eq(nuls, count);

  cr_assert_str_eq(env_get(&env, count, "REQUEST_METHOD"), "POST");
  cr_assert_str_eq(env_get(&env, count, "SCRIPT_NAME"), "/v1/modules/app/run");
  cr_assert_str_eq(env_get(&env, count, "PATH_INFO"), "/users/7");
  cr_assert_str_eq(env_get(&env, count, "QUERY_STRING"), "arg=a&x=%41");
  cr_assert_str_eq(env_get(&env, count, "REQUEST_URI"), "/v1/modules/app/run/users/7?arg=a&x=%41");
  cr_assert_str_eq(env_get(&env, count, "CONTENT_TYPE"), "text/plain");
  cr_assert_str_eq(env_get(&env, count, "CONTENT_LENGTH"), "5");
  cr_assert_str_eq(env_get(&env, count, "SERVER_PROTOCOL"), "HTTP/1.1");
  cr_assert_str_eq(env_get(&env, count, "GATEWAY_INTERFACE"), "CGI/1.1");
  cr_assert_str_eq(env_get(&env, count, "WASMPOOL_MODULE"), "app");
  cr_assert_str_eq(env_get(&env, count, "HTTP_HOST"), "localhost");
  cr_assert_str_eq(env_get(&env, count, "HTTP_X_TRACE_ID"), "t1");
  cr_assert_str_eq(env_get(&env, count, "HTTP_ACCEPT"), "a, b");
  cr_assert_null(env_get(&env, count, "HTTP_CONTENT_TYPE"));
  cr_assert_null(env_get(&env, count, "HTTP_CONTENT_LENGTH"));
  cr_assert_null(env_get(&env, count, "HTTP_PROXY"));
  cr_assert_null(env_get(&env, count, "HTTP_X_UNDER"));
  wp_buf_free(&env);
  done(&p);
}

Test(cgi, environment_without_body_or_type) {
  parsed p;
  parse(&p, "POST /v1/modules/a.b/run HTTP/1.0\r\n\r\n");
  wp_buf env;
  wp_buf_init(&env);
  size_t count;
  cr_assert_eq(wp_cgi_env(p.req, &p.route, &env, &count), 0);
  cr_assert_str_eq(env_get(&env, count, "PATH_INFO"), "");
  cr_assert_str_eq(env_get(&env, count, "QUERY_STRING"), "");
  cr_assert_str_eq(env_get(&env, count, "CONTENT_TYPE"), "");
  cr_assert_str_eq(env_get(&env, count, "CONTENT_LENGTH"), "0");
  cr_assert_str_eq(env_get(&env, count, "SERVER_PROTOCOL"), "HTTP/1.0");
  cr_assert_str_eq(env_get(&env, count, "SCRIPT_NAME"), "/v1/modules/a.b/run");
  wp_buf_free(&env);
  done(&p);
}

Test(cgi, args_from_query) {
  parsed p;
  parse(&p, "POST /v1/modules/echo/run?arg=hello+world&other=1&arg=%2Fx&arg= HTTP/1.1\r\n\r\n");
  wp_buf argv;
  wp_buf_init(&argv);
  size_t count;
  cr_assert_eq(wp_cgi_args(p.req, &p.route, &argv, &count), 0);
  cr_assert_eq(count, 4);
  const char *s = argv.data;
  cr_assert_str_eq(s, "echo");
  s += strlen(s) + 1;
  cr_assert_str_eq(s, "hello world");
  s += strlen(s) + 1;
  cr_assert_str_eq(s, "/x");
  s += strlen(s) + 1;
  cr_assert_str_eq(s, "");
  cr_assert_eq((size_t)(s + 1 - argv.data), argv.len);
  wp_buf_free(&argv);
  done(&p);

  parse(&p, "POST /v1/modules/echo/run?arg=a%00b HTTP/1.1\r\n\r\n");
  wp_buf_init(&argv);
  cr_assert_eq(wp_cgi_args(p.req, &p.route, &argv, &count), WP_EBAD_REQUEST);
  wp_buf_free(&argv);
  done(&p);

  parse(&p, "POST /v1/modules/echo/run?arg=%zz HTTP/1.1\r\n\r\n");
  wp_buf_init(&argv);
  cr_assert_eq(wp_cgi_args(p.req, &p.route, &argv, &count), WP_EBAD_REQUEST);
  wp_buf_free(&argv);
  done(&p);
}
