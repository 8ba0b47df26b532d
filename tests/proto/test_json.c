/* test_json.c — JSON and base64 helpers (proto/json.c): the error body both
 * ways, call-argument shape checks, the CLI's argument typing.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "proto.h"

Test(json, error_body_round_trip) {
  wp_buf out;
  wp_buf_init(&out);
  cr_assert_eq(wp_json_error_body(&out, WP_ETRAP_DIV_ZERO, "in \"f\"\n"), 0);
  cr_assert_str_eq(
      out.data, "{\"error\":{\"code\":\"trap_divide_by_zero\",\"message\":\"in \\\"f\\\"\\n\"}}");
  wp_api_error e;
  cr_assert_eq(wp_json_error_parse(502, out.data, out.len, &e), 0);
  cr_assert_eq(e.code, WP_ETRAP_DIV_ZERO);
  cr_assert_str_eq(e.name, "trap_divide_by_zero");
  cr_assert_str_eq(e.message, "in \"f\"\n");

  /* Non-UTF-8 bytes in a message do not lose the error. */
  wp_buf_reset(&out);
  cr_assert_eq(wp_json_error_body(&out, WP_ENO_EXPORT, "export \xff\xfe"), 0);
  cr_assert_eq(wp_json_error_parse(404, out.data, out.len, &e), 0);
  cr_assert_eq(e.code, WP_ENO_EXPORT);
  cr_assert_str_eq(e.message, "export ??");
  wp_buf_free(&out);
}

Test(json, error_parse_fallbacks) {
  wp_api_error e;
  const char *text = "upstream went away\nmore";
  cr_assert_eq(wp_json_error_parse(502, text, strlen(text), &e), 0);
  cr_assert_str_eq(e.name, "http_502");
  cr_assert_eq(e.code, WP_ESYS);
  cr_assert_str_eq(e.message, "upstream went away");
  cr_assert_eq(wp_json_error_parse(404, "", 0, &e), 0);
  cr_assert_eq(e.code, WP_ENOT_FOUND);
  cr_assert_str_eq(e.message, "Not Found");
  const char *unknown = "{\"error\":{\"code\":\"from_the_future\",\"message\":\"m\"}}";
  cr_assert_eq(wp_json_error_parse(500, unknown, strlen(unknown), &e), 0);
  cr_assert_eq(e.code, WP_ESYS);
  cr_assert_str_eq(e.name, "from_the_future");
  cr_assert_str_eq(e.message, "m");
}

Test(json, err_from_name_covers_the_table) {
  int code = 1;
  cr_assert_eq(wp_err_from_name("ok", &code), 0);
  cr_assert_eq(code, 0);
#define CHECK(name, num, str, status, msg)                                                         \
  cr_assert_eq(wp_err_from_name(str, &code), 0);                                                   \
  cr_assert_eq(code, -(num));
  WP_ERRNO_MAP(CHECK)
#undef CHECK
  cr_assert_eq(wp_err_from_name("nope", &code), WP_EINVAL);
}

Test(json, load_and_dump) {
  json_t *v;
  char why[200];
  const char *text = "{\"args\": [1, 2.5, \"x\"]}";
  cr_assert_eq(wp_json_load(text, strlen(text), &v, why, sizeof(why)), 0);
  wp_buf out;
  wp_buf_init(&out);
  wp_buf_append_str(&out, ">");
  cr_assert_eq(wp_json_dump(&out, v), 0);
  cr_assert_str_eq(out.data, ">{\"args\":[1,2.5,\"x\"]}");
  json_decref(v);
  cr_assert_eq(wp_json_load("{\"a\":", 5, &v, why, sizeof(why)), WP_EBAD_REQUEST);
  cr_assert_not_null(strstr(why, "line 1"));
  cr_assert_null(v);
  /* Scalars are fine at the top level. */
  cr_assert_eq(wp_json_load("42", 2, &v, NULL, 0), 0);
  cr_assert_eq(json_integer_value(v), 42);
  json_decref(v);
  wp_buf_free(&out);
}

Test(json, call_args_shape) {
  json_t *args;
  char why[100];
  cr_assert_eq(wp_json_call_args(NULL, &args, why, sizeof(why)), 0);
  cr_assert(json_is_array(args));
  cr_assert_eq(json_array_size(args), 0);
  json_decref(args);

  json_t *body = json_loads("{\"args\":[1,2]}", 0, NULL);
  cr_assert_eq(wp_json_call_args(body, &args, why, sizeof(why)), 0);
  cr_assert_eq(json_array_size(args), 2);
  json_decref(body); /* args holds its own reference */
  cr_assert_eq(json_integer_value(json_array_get(args, 1)), 2);
  json_decref(args);

  body = json_loads("{}", 0, NULL);
  cr_assert_eq(wp_json_call_args(body, &args, why, sizeof(why)), 0);
  cr_assert_eq(json_array_size(args), 0);
  json_decref(args);
  json_decref(body);

  body = json_loads("{\"args\":{}}", 0, NULL);
  cr_assert_eq(wp_json_call_args(body, &args, why, sizeof(why)), WP_EBAD_REQUEST);
  cr_assert_null(args);
  cr_assert_str_neq(why, "");
  json_decref(body);
  body = json_loads("[1]", 0, NULL);
  cr_assert_eq(wp_json_call_args(body, &args, NULL, 0), WP_EBAD_REQUEST);
  json_decref(body);
}

Test(json, args_from_strings) {
  char *argv[] = {"42",
                  "-7",
                  "0x10",
                  "18446744073709551615",
                  "-9223372036854775808",
                  "1.5",
                  "1e3",
                  "nan",
                  "inf",
                  "hello",
                  "010",
                  "",
                  " 1",
                  "0x",
                  "-99999999999999999999"};
  int argc = (int)(sizeof(argv) / sizeof(argv[0]));
  json_t *body = wp_json_args_from_strings(argc, argv);
  cr_assert_not_null(body);
  json_t *a = json_object_get(body, "args");
  cr_assert_eq((int)json_array_size(a), argc);
  cr_assert_eq(json_integer_value(json_array_get(a, 0)), 42);
  cr_assert_eq(json_integer_value(json_array_get(a, 1)), -7);
  cr_assert_eq(json_integer_value(json_array_get(a, 2)), 16);
  cr_assert(json_is_integer(json_array_get(a, 3)));
  cr_assert_eq(json_integer_value(json_array_get(a, 3)), -1); /* u64 max bit pattern */
  cr_assert_eq(json_integer_value(json_array_get(a, 4)), INT64_MIN);
  cr_assert(json_is_real(json_array_get(a, 5)));
  cr_assert_float_eq(json_real_value(json_array_get(a, 5)), 1.5, 1e-12);
  cr_assert_float_eq(json_real_value(json_array_get(a, 6)), 1000.0, 1e-9);
  cr_assert_str_eq(json_string_value(json_array_get(a, 7)), "nan");
  cr_assert_str_eq(json_string_value(json_array_get(a, 8)), "inf");
  cr_assert_str_eq(json_string_value(json_array_get(a, 9)), "hello");
  cr_assert_eq(json_integer_value(json_array_get(a, 10)), 10); /* decimal, not octal */
  cr_assert_str_eq(json_string_value(json_array_get(a, 11)), "");
  cr_assert(json_is_string(json_array_get(a, 12)));
  cr_assert(json_is_string(json_array_get(a, 13)));
  cr_assert(json_is_real(json_array_get(a, 14))); /* too small for i64 */
  json_decref(body);
}

Test(json, base64) {
  const char *cases[][2] = {{"", ""},
                            {"f", "Zg=="},
                            {"fo", "Zm8="},
                            {"foo", "Zm9v"},
                            {"foob", "Zm9vYg=="},
                            {"fooba", "Zm9vYmE="},
                            {"foobar", "Zm9vYmFy"}};
  wp_buf out;
  wp_buf_init(&out);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    wp_buf_reset(&out);
    cr_assert_eq(wp_base64_encode(&out, cases[i][0], strlen(cases[i][0])), 0);
    cr_assert_str_eq(out.data ? out.data : "", cases[i][1]);
    wp_buf_reset(&out);
    cr_assert_eq(wp_base64_decode(&out, cases[i][1], strlen(cases[i][1])), 0);
    cr_assert_eq(out.len, strlen(cases[i][0]));
    cr_assert_eq(memcmp(out.data ? out.data : "", cases[i][0], out.len), 0);
  }
  unsigned char bin[256];
  for (int i = 0; i < 256; i++)
    bin[i] = (unsigned char)(255 - i);
  wp_buf enc;
  wp_buf_init(&enc);
  wp_base64_encode(&enc, bin, sizeof(bin));
  wp_buf_reset(&out);
  cr_assert_eq(wp_base64_decode(&out, enc.data, enc.len), 0);
  cr_assert_eq(out.len, 256);
  cr_assert_eq(memcmp(out.data, bin, 256), 0);
  cr_assert_eq(wp_base64_decode(&out, "Zm9", 3), WP_EINVAL);
  cr_assert_eq(wp_base64_decode(&out, "Zm!v", 4), WP_EINVAL);
  cr_assert_eq(wp_base64_decode(&out, "Z===", 4), WP_EINVAL);
  wp_buf_free(&enc);
  wp_buf_free(&out);
}

/* Issue 12 item 9: names that are not UTF-8 are shown as 0x + hex. */
Test(json, name_text_is_utf8_or_hex) {
  wp_buf out;
  wp_buf_init(&out);
  cr_assert_eq(wp_name_text(&out, "caf\xc3\xa9", 5), 0);
  cr_assert_eq(out.len, 5);
  cr_assert_eq(memcmp(out.data, "caf\xc3\xa9", 5), 0);
  wp_buf_reset(&out);
  cr_assert_eq(wp_name_text(&out,
                            "a\xff\xfe"
                            "b",
                            4),
               0);
  cr_assert_eq(out.len, 10);
  cr_assert_eq(memcmp(out.data, "0x61fffe62", 10), 0);
  wp_buf_reset(&out);
  cr_assert_eq(wp_name_text(&out, "a\0b", 3), 0, "a NUL would cut a message short");
  cr_assert_eq(memcmp(out.data, "0x610062", 8), 0);
  wp_buf_free(&out);
}
