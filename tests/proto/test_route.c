/* test_route.c — the router (proto/route.c): every API row, percent-decoding
 * of parameters (NUL bytes included), the module-name rule, 404 vs 405, and
 * the query-string iterator.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "proto.h"

static int route(wp_method m, const char *path, wp_route *out) {
  return wp_route_match(m, path, strlen(path), out);
}

static void assert_bytes(wp_bytes b, const char *expect, size_t expect_len) {
  cr_assert_eq(b.len, expect_len, "length %zu, expected %zu", b.len, expect_len);
  cr_assert_eq(memcmp(b.data, expect, expect_len), 0);
}

Test(route, every_endpoint) {
  struct {
    wp_method method;
    const char *path;
    wp_endpoint ep;
    const char *module, *instance, *export_name;
  } cases[] = {
      {WP_METHOD_GET, "/v1/modules", WP_EP_MODULE_LIST, NULL, NULL, NULL},
      {WP_METHOD_PUT, "/v1/modules/hello", WP_EP_MODULE_PUT, "hello", NULL, NULL},
      {WP_METHOD_GET, "/v1/modules/hello", WP_EP_MODULE_GET, "hello", NULL, NULL},
      {WP_METHOD_DELETE, "/v1/modules/hello", WP_EP_MODULE_DELETE, "hello", NULL, NULL},
      {WP_METHOD_POST, "/v1/modules/m-1/instances", WP_EP_INSTANCE_CREATE, "m-1", NULL, NULL},
      {WP_METHOD_POST, "/v1/modules/m.2/call/add", WP_EP_MODULE_CALL, "m.2", NULL, "add"},
      {WP_METHOD_POST, "/v1/modules/m_3/run", WP_EP_MODULE_RUN, "m_3", NULL, NULL},
      {WP_METHOD_GET, "/v1/instances", WP_EP_INSTANCE_LIST, NULL, NULL, NULL},
      {WP_METHOD_POST, "/v1/instances/i7Xa/call/fib", WP_EP_INSTANCE_CALL, NULL, "i7Xa", "fib"},
      {WP_METHOD_DELETE, "/v1/instances/i7Xa", WP_EP_INSTANCE_DELETE, NULL, "i7Xa", NULL},
      {WP_METHOD_GET, "/v1/stats", WP_EP_STATS, NULL, NULL, NULL},
      {WP_METHOD_GET, "/metrics", WP_EP_METRICS, NULL, NULL, NULL},
      {WP_METHOD_GET, "/v1/health", WP_EP_HEALTH, NULL, NULL, NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    wp_route r;
    int rc = route(cases[i].method, cases[i].path, &r);
    cr_assert_eq(rc, 0, "%s: rc %d", cases[i].path, rc);
    cr_assert_eq(r.endpoint, cases[i].ep, "%s: endpoint %s", cases[i].path,
                 wp_endpoint_name(r.endpoint));
    cr_assert_not(r.head);
    if (cases[i].module)
      assert_bytes(r.module, cases[i].module, strlen(cases[i].module));
    else
      cr_assert_null(r.module.data);
    if (cases[i].instance)
      assert_bytes(r.instance, cases[i].instance, strlen(cases[i].instance));
    else
      cr_assert_null(r.instance.data);
    if (cases[i].export_name)
      assert_bytes(r.export_name, cases[i].export_name, strlen(cases[i].export_name));
    else
      cr_assert_null(r.export_name.data);
    wp_route_free(&r);
  }
}

Test(route, head_is_routed_like_get) {
  wp_route r;
  cr_assert_eq(route(WP_METHOD_HEAD, "/v1/health", &r), 0);
  cr_assert_eq(r.endpoint, WP_EP_HEALTH);
  cr_assert(r.head);
  wp_route_free(&r);
  cr_assert_eq(route(WP_METHOD_HEAD, "/v1/modules/x/run", &r), WP_EMETHOD);
  wp_route_free(&r);
}

Test(route, percent_decoding_with_nul_and_slash) {
  wp_route r;
  /* The export name holds a NUL, a slash, a space and a '+' (kept). */
  const char *path = "/v1/instances/abc/call/a%00b%2Fc%20d+e";
  cr_assert_eq(route(WP_METHOD_POST, path, &r), 0);
  cr_assert_eq(r.endpoint, WP_EP_INSTANCE_CALL);
  assert_bytes(r.export_name, "a\0b/c d+e", 9);
  cr_assert_eq(r.export_name.data[9], '\0');
  wp_route_free(&r);

  /* Encoded module names decode before the name rule is applied. */
  cr_assert_eq(route(WP_METHOD_GET, "/v1/modules/%68%65llo", &r), 0);
  assert_bytes(r.module, "hello", 5);
  wp_route_free(&r);

  /* The empty export name is a valid WebAssembly name. */
  cr_assert_eq(route(WP_METHOD_POST, "/v1/modules/m/call/", &r), 0);
  cr_assert_eq(r.endpoint, WP_EP_MODULE_CALL);
  cr_assert_eq(r.export_name.len, 0);
  wp_route_free(&r);
}

Test(route, bad_escapes) {
  const char *bad[] = {"/v1/modules/m/call/%", "/v1/modules/m/call/%4", "/v1/modules/m/call/%zz",
                       "/v1/modules/m/call/ab%g1", "/v1/modules/%/run"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    wp_route r;
    cr_assert_eq(route(WP_METHOD_POST, bad[i], &r), WP_EBAD_REQUEST, "%s", bad[i]);
    cr_assert_str_eq(r.why, "bad percent-escape in the path");
    cr_assert_eq(r.endpoint, WP_EP_NONE);
    wp_route_free(&r);
  }
}

Test(route, module_name_rule) {
  cr_assert(wp_name_valid("a", 1));
  cr_assert(wp_name_valid("Hello-World_1.2", 15));
  cr_assert_not(wp_name_valid("", 0));
  cr_assert_not(wp_name_valid(".", 1));
  cr_assert_not(wp_name_valid("..", 2));
  cr_assert_not(wp_name_valid("...", 3));
  cr_assert_not(wp_name_valid(".hidden", 7));
  cr_assert(wp_name_valid("a.", 2));
  cr_assert_not(wp_name_valid("a b", 3));
  cr_assert_not(wp_name_valid("a/b", 3));
  cr_assert_not(wp_name_valid("a\0b", 3));
  cr_assert_not(wp_name_valid("é", strlen("é")));
  char longest[WP_NAME_MAX + 1];
  memset(longest, 'x', sizeof(longest));
  cr_assert(wp_name_valid(longest, WP_NAME_MAX));
  cr_assert_not(wp_name_valid(longest, WP_NAME_MAX + 1));

  struct {
    wp_method method;
    const char *path;
  } bad[] = {
      {WP_METHOD_GET, "/v1/modules/a%20b"},
      {WP_METHOD_GET, "/v1/modules/a%2Fb"},
      {WP_METHOD_GET, "/v1/modules/.."},
      {WP_METHOD_GET, "/v1/modules/a%00"},
      {WP_METHOD_GET, "/v1/modules/"},
      {WP_METHOD_POST, "/v1/modules//instances"},
      {WP_METHOD_DELETE, "/v1/instances/a$b"},
      {WP_METHOD_POST, "/v1/instances/%2E%2E/call/f"},
      {WP_METHOD_POST, "/v1/modules/a:b/call/f"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    wp_route r;
    cr_assert_eq(route(bad[i].method, bad[i].path, &r), WP_EBAD_REQUEST, "%s", bad[i].path);
    cr_assert_not_null(r.why);
    cr_assert_not_null(
        strstr(r.why, strstr(bad[i].path, "instances/") ? "instance id" : "module name"), "%s: %s",
        bad[i].path, r.why);
    cr_assert_null(r.storage);
    wp_route_free(&r);
  }
  wp_buf path;
  wp_buf_init(&path);
  wp_buf_append_str(&path, "/v1/modules/");
  wp_buf_append(&path, longest, WP_NAME_MAX + 1);
  wp_route r;
  cr_assert_eq(wp_route_match(WP_METHOD_GET, path.data, path.len, &r), WP_EBAD_REQUEST);
  wp_route_free(&r);
  wp_buf_free(&path);
}

Test(route, not_found_vs_method_not_allowed) {
  const char *unknown[] = {"/",
                           "",
                           "v1/health",
                           "/v1",
                           "/v2/health",
                           "/v1/health/",
                           "/metrics/x",
                           "/v1/modules/m/other",
                           "/v1/modules/m/call",
                           "/v1/modules/m/call/f/g",
                           "/v1/instances/i/call",
                           "/V1/health",
                           "/v1/modules/m/instances/x"};
  for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
    wp_route r;
    cr_assert_eq(route(WP_METHOD_GET, unknown[i], &r), WP_ENOT_FOUND, "'%s'", unknown[i]);
    wp_route_free(&r);
  }

  wp_route r;
  cr_assert_eq(route(WP_METHOD_POST, "/v1/modules/m", &r), WP_EMETHOD);
  cr_assert_eq(r.endpoint, WP_EP_NONE);
  cr_assert_eq(r.allow, WP_METHOD_BIT(WP_METHOD_GET) | WP_METHOD_BIT(WP_METHOD_HEAD) |
                            WP_METHOD_BIT(WP_METHOD_PUT) | WP_METHOD_BIT(WP_METHOD_DELETE));
  wp_buf allow;
  wp_buf_init(&allow);
  cr_assert_eq(wp_route_allow_header(r.allow, &allow), 0);
  cr_assert_str_eq(allow.data, "GET, HEAD, PUT, DELETE");
  wp_route_free(&r);

  cr_assert_eq(route(WP_METHOD_GET, "/v1/modules/m/call/f", &r), WP_EMETHOD);
  cr_assert_eq(r.allow, WP_METHOD_BIT(WP_METHOD_POST));
  wp_route_free(&r);
  cr_assert_eq(route(WP_METHOD_PUT, "/metrics", &r), WP_EMETHOD);
  wp_buf_reset(&allow);
  wp_route_allow_header(r.allow, &allow);
  cr_assert_str_eq(allow.data, "GET, HEAD");
  wp_route_free(&r);
  cr_assert_eq(route(WP_METHOD_OTHER, "/v1/instances/x", &r), WP_EMETHOD);
  cr_assert_eq(r.allow, WP_METHOD_BIT(WP_METHOD_DELETE));
  wp_route_free(&r);
  /* 405 wins over a bad name: the method is wrong whatever the name. */
  cr_assert_eq(route(WP_METHOD_POST, "/v1/modules/a%20b", &r), WP_EMETHOD);
  wp_route_free(&r);
  wp_buf_free(&allow);
}

Test(route, run_path_info) {
  wp_route r;
  cr_assert_eq(route(WP_METHOD_POST, "/v1/modules/app/run", &r), 0);
  cr_assert_eq(r.endpoint, WP_EP_MODULE_RUN);
  cr_assert_eq(r.path_info.len, 0);
  wp_route_free(&r);
  cr_assert_eq(route(WP_METHOD_POST, "/v1/modules/app/run/users/a%20b/x/y/z", &r), 0);
  cr_assert_eq(r.endpoint, WP_EP_MODULE_RUN);
  assert_bytes(r.module, "app", 3);
  assert_bytes(r.path_info, "/users/a b/x/y/z", 16);
  wp_route_free(&r);
  cr_assert_eq(route(WP_METHOD_POST, "/v1/modules/app/run/", &r), 0);
  assert_bytes(r.path_info, "/", 1);
  wp_route_free(&r);
  cr_assert_eq(route(WP_METHOD_GET, "/v1/modules/app/run/x", &r), WP_EMETHOD);
  wp_route_free(&r);
  cr_assert_eq(route(WP_METHOD_POST, "/v1/modules/app/run/%zz", &r), WP_EBAD_REQUEST);
  wp_route_free(&r);
}

Test(route, percent_encode_round_trip) {
  unsigned char all[256];
  for (int i = 0; i < 256; i++)
    all[i] = (unsigned char)i;
  wp_buf enc, dec;
  wp_buf_init(&enc);
  wp_buf_init(&dec);
  cr_assert_eq(wp_percent_encode(&enc, all, sizeof(all)), 0);
  cr_assert_null(memchr(enc.data, '/', enc.len));
  cr_assert_null(memchr(enc.data, '+', enc.len));
  cr_assert_eq(wp_percent_decode(&dec, enc.data, enc.len, false), 0);
  cr_assert_eq(dec.len, 256);
  cr_assert_eq(memcmp(dec.data, all, 256), 0);
  wp_buf_reset(&enc);
  wp_percent_encode(&enc, "a b/c~", 6);
  cr_assert_str_eq(enc.data, "a%20b%2Fc~");
  /* An encoded export name routes back to the same bytes. */
  wp_buf path;
  wp_buf_init(&path);
  wp_buf_append_str(&path, "/v1/modules/m/call/");
  wp_percent_encode(&path, all, sizeof(all));
  wp_route r;
  cr_assert_eq(wp_route_match(WP_METHOD_POST, path.data, path.len, &r), 0);
  assert_bytes(r.export_name, (const char *)all, 256);
  wp_route_free(&r);
  wp_buf_free(&path);
  wp_buf_free(&enc);
  wp_buf_free(&dec);
}

Test(route, query_iterator) {
  const char *q = "arg=a+b&&x&arg=%2F%00z&=v&arg=";
  wp_query_iter it;
  wp_query_iter_init(&it, q, strlen(q));
  wp_buf k, v;
  wp_buf_init(&k);
  wp_buf_init(&v);
  cr_assert_eq(wp_query_next(&it, &k, &v), 1);
  cr_assert_str_eq(k.data, "arg");
  cr_assert_str_eq(v.data, "a b");
  cr_assert_eq(wp_query_next(&it, &k, &v), 1);
  cr_assert_str_eq(k.data, "x");
  cr_assert_eq(v.len, 0);
  cr_assert_eq(wp_query_next(&it, &k, &v), 1);
  cr_assert_eq(v.len, 3);
  cr_assert_eq(memcmp(v.data, "/\0z", 3), 0);
  cr_assert_eq(wp_query_next(&it, &k, &v), 1);
  cr_assert_eq(k.len, 0);
  cr_assert_str_eq(v.data, "v");
  cr_assert_eq(wp_query_next(&it, &k, &v), 1);
  cr_assert_str_eq(k.data, "arg");
  cr_assert_eq(v.len, 0);
  cr_assert_eq(wp_query_next(&it, &k, &v), 0);
  wp_query_iter_init(&it, "a=%x1", 5);
  cr_assert_eq(wp_query_next(&it, &k, &v), WP_EBAD_REQUEST);
  wp_buf_free(&k);
  wp_buf_free(&v);
}

Test(route, names) {
  cr_assert_str_eq(wp_endpoint_name(WP_EP_MODULE_RUN), "module_run");
  cr_assert_str_eq(wp_endpoint_name(WP_EP_COUNT), "none");
  for (int ep = 0; ep < WP_EP_COUNT; ep++)
    cr_assert_not_null(wp_endpoint_name((wp_endpoint)ep));
  cr_assert_str_eq(wp_method_name(WP_METHOD_DELETE), "DELETE");
}
