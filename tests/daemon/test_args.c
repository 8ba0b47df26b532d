/* test_args.c — JSON <-> wp_val: ranges, strings for what JSON cannot hold,
 * float specials and bit patterns, mismatches naming the argument. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "args.h"
#include "wp_errno.h"

static json_t *parse(const char *text) {
  json_error_t error;
  json_t *value = json_loads(text, JSON_DECODE_ANY, &error);
  cr_assert_not_null(value, "bad test JSON %s: %s", text, error.text);
  return value;
}

static int convert(const char *text, wp_valtype type, wp_val *out, char *why) {
  json_t *args = parse(text);
  int rc = wp_args_from_json(args, &type, 1, out, why, 256);
  json_decref(args);
  return rc;
}

static char *dump_val(wp_val val) {
  json_t *array = wp_results_to_json(&val, 1);
  cr_assert_not_null(array);
  char *text = json_dumps(array, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(array);
  return text;
}

Test(args, i32_accepts_signed_and_unsigned_ranges) {
  wp_val v;
  char why[256];
  cr_assert_eq(convert("[-2147483648]", WP_I32, &v, why), 0);
  cr_assert_eq(v.of.i32, 0x80000000u);
  cr_assert_eq(convert("[4294967295]", WP_I32, &v, why), 0);
  cr_assert_eq(v.of.i32, 0xffffffffu);
  cr_assert_eq(convert("[\"0xdeadbeef\"]", WP_I32, &v, why), 0);
  cr_assert_eq(v.of.i32, 0xdeadbeefu);
  cr_assert_eq(convert("[\"-7\"]", WP_I32, &v, why), 0);
  cr_assert_eq(v.of.i32, (uint32_t)-7);
  cr_assert_eq(convert("[4294967296]", WP_I32, &v, why), WP_EARG_TYPE);
  cr_assert_not_null(strstr(why, "argument 0: expected i32"), "%s", why);
  cr_assert_not_null(strstr(why, "out of range"), "%s", why);
  cr_assert_eq(convert("[-2147483649]", WP_I32, &v, why), WP_EARG_TYPE);
  cr_assert_eq(convert("[1.5]", WP_I32, &v, why), WP_EARG_TYPE);
  cr_assert_eq(convert("[\"0x100000000\"]", WP_I32, &v, why), WP_EARG_TYPE);
  cr_assert_eq(convert("[\" 5\"]", WP_I32, &v, why), WP_EARG_TYPE);
  cr_assert_eq(convert("[true]", WP_I32, &v, why), WP_EARG_TYPE);
}

Test(args, i64_beyond_2_53_as_strings) {
  wp_val v;
  char why[256];
  cr_assert_eq(convert("[\"18446744073709551615\"]", WP_I64, &v, why), 0);
  cr_assert_eq(v.of.i64, UINT64_MAX);
  cr_assert_eq(convert("[\"-9223372036854775808\"]", WP_I64, &v, why), 0);
  cr_assert_eq(v.of.i64, UINT64_C(1) << 63);
  cr_assert_eq(convert("[-9223372036854775807]", WP_I64, &v, why), 0);
  cr_assert_eq((int64_t)v.of.i64, -INT64_MAX);
  cr_assert_eq(convert("[\"18446744073709551616\"]", WP_I64, &v, why), WP_EARG_TYPE);
  cr_assert_eq(convert("[\"-9223372036854775809\"]", WP_I64, &v, why), WP_EARG_TYPE);
  cr_assert_eq(convert("[\"12a\"]", WP_I64, &v, why), WP_EARG_TYPE);
  cr_assert_not_null(strstr(why, "expected i64, got string \"12a\""), "%s", why);
}

Test(args, results_i32_signed_and_i64_strings_past_2_53) {
  wp_val v = {.type = WP_I32, .of.i32 = 0xffffffffu};
  char *text = dump_val(v);
  cr_assert_str_eq(text, "[-1]");
  free(text);
  v = (wp_val){.type = WP_I64, .of.i64 = UINT64_C(1) << 53};
  text = dump_val(v);
  cr_assert_str_eq(text, "[9007199254740992]");
  free(text);
  v = (wp_val){.type = WP_I64, .of.i64 = (UINT64_C(1) << 53) + 1};
  text = dump_val(v);
  cr_assert_str_eq(text, "[\"9007199254740993\"]");
  free(text);
  v = (wp_val){.type = WP_I64, .of.i64 = UINT64_MAX};
  text = dump_val(v);
  cr_assert_str_eq(text, "[-1]");
  free(text);
  v = (wp_val){.type = WP_I64, .of.i64 = UINT64_C(1) << 63};
  text = dump_val(v);
  cr_assert_str_eq(text, "[\"-9223372036854775808\"]");
  free(text);
}

Test(args, floats_specials_and_bit_patterns) {
  wp_val v;
  char why[256];
  cr_assert_eq(convert("[\"nan\"]", WP_F32, &v, why), 0);
  cr_assert_eq(v.of.f32_bits, 0x7fc00000u);
  cr_assert_eq(convert("[\"-nan\"]", WP_F64, &v, why), 0);
  cr_assert_eq(v.of.f64_bits, UINT64_C(0xfff8000000000000));
  cr_assert_eq(convert("[\"-inf\"]", WP_F32, &v, why), 0);
  cr_assert_eq(v.of.f32_bits, 0xff800000u);
  cr_assert_eq(convert("[\"0x7fa00001\"]", WP_F32, &v, why), 0);
  cr_assert_eq(v.of.f32_bits, 0x7fa00001u);
  cr_assert_eq(convert("[1.5]", WP_F32, &v, why), 0);
  cr_assert_eq(v.of.f32_bits, 0x3fc00000u);
  cr_assert_eq(convert("[3]", WP_F64, &v, why), 0);
  cr_assert_eq(v.of.f64_bits, UINT64_C(0x4008000000000000));
  cr_assert_eq(convert("[\"2.5e1\"]", WP_F64, &v, why), 0);
  double d;
  memcpy(&d, &v.of.f64_bits, sizeof d);
  cr_assert_eq(d, 25.0);
  cr_assert_eq(convert("[1e300]", WP_F32, &v, why), WP_EARG_TYPE);
  cr_assert_not_null(strstr(why, "out of range for f32"), "%s", why);
  cr_assert_eq(convert("[\"0x1p3\"]", WP_F64, &v, why), WP_EARG_TYPE);
  cr_assert_eq(convert("[\"banana\"]", WP_F64, &v, why), WP_EARG_TYPE);
  cr_assert_eq(convert("[null]", WP_F64, &v, why), WP_EARG_TYPE);
}

/* A JSON string with an embedded NUL must not decode as the word before it
 * (found by fuzz_args: "nan\u0000junk" read as NaN). */
Test(args, float_string_with_nul_refused) {
  wp_val v;
  char why[256];
  const wp_valtype type = WP_F64;
  const char *words[] = {"nan", "-inf", "0x7ff8000000000000", "1.5"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
    char buf[32];
    size_t len = strlen(words[i]);
    memcpy(buf, words[i], len);
    memcpy(buf + len, "\0junk", 5);
    json_t *args = json_array();
    json_array_append_new(args, json_stringn(buf, len + 5));
    cr_assert_eq(wp_args_from_json(args, &type, 1, &v, why, sizeof why), WP_EARG_TYPE, "%s",
                 words[i]);
    json_decref(args);
  }
}

Test(args, float_results) {
  wp_val v = {.type = WP_F32, .of.f32_bits = 0x7fc00000u};
  char *text = dump_val(v);
  cr_assert_str_eq(text, "[\"nan\"]");
  free(text);
  v.of.f32_bits = 0xffc00000u;
  text = dump_val(v);
  cr_assert_str_eq(text, "[\"-nan\"]");
  free(text);
  v.of.f32_bits = 0x7fa00001u;
  text = dump_val(v);
  cr_assert_str_eq(text, "[\"0x7fa00001\"]");
  free(text);
  v = (wp_val){.type = WP_F64, .of.f64_bits = UINT64_C(0xfff0000000000000)};
  text = dump_val(v);
  cr_assert_str_eq(text, "[\"-inf\"]");
  free(text);
  v.of.f64_bits = UINT64_C(0x3ff8000000000000);
  text = dump_val(v);
  cr_assert_str_eq(text, "[1.5]");
  free(text);
}

Test(args, float_round_trip_through_json) {
  /* Every finite f32 printed by jansson's %.17g reads back to the same bits. */
  uint32_t samples[] = {0x3dcccccdu, 0x00000001u, 0x7f7fffffu, 0x80000000u, 0xc2f6e979u};
  for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
    wp_val v = {.type = WP_F32, .of.f32_bits = samples[i]};
    char *text = dump_val(v);
    wp_val back;
    char why[256];
    cr_assert_eq(convert(text, WP_F32, &back, why), 0, "%s: %s", text, why);
    cr_assert_eq(back.of.f32_bits, samples[i], "%s", text);
    free(text);
  }
}

Test(args, arity_and_refs) {
  wp_valtype params[2] = {WP_I32, WP_FUNCREF};
  wp_val out[2];
  char why[256];
  json_t *args = parse("[1]");
  cr_assert_eq(wp_args_from_json(args, params, 2, out, why, sizeof why), WP_EARG_TYPE);
  cr_assert_str_eq(why, "expected 2 arguments, got 1");
  json_decref(args);
  args = parse("[1, null]");
  cr_assert_eq(wp_args_from_json(args, params, 2, out, why, sizeof why), 0);
  cr_assert_null(out[1].of.ref);
  json_decref(args);
  args = parse("[1, 2]");
  cr_assert_eq(wp_args_from_json(args, params, 2, out, why, sizeof why), WP_EARG_TYPE);
  cr_assert_not_null(strstr(why, "argument 1: expected funcref"), "%s", why);
  json_decref(args);
  args = parse("{}");
  cr_assert_eq(wp_args_from_json(args, params, 2, out, why, sizeof why), WP_EINVAL);
  json_decref(args);
}

/* xorshift64: deterministic, so a failure reproduces. */
static uint64_t next_random(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

Test(args, every_value_round_trips_through_json_text) {
  /* Result -> JSON text -> argument gives back the same bits, for random bit
   * patterns of every numeric type (NaN payloads, subnormals, i64 past 2^53
   * included). */
  static const wp_valtype types[] = {WP_I32, WP_I64, WP_F32, WP_F64};
  uint64_t state = 0x9e3779b97f4a7c15u;
  for (int i = 0; i < 20000; i++) {
    wp_valtype type = types[i % 4];
    uint64_t bits = next_random(&state);
    wp_val v = {.type = type};
    switch (type) {
    case WP_I32: v.of.i32 = (uint32_t)bits; break;
    case WP_I64: v.of.i64 = bits; break;
    case WP_F32: v.of.f32_bits = (uint32_t)bits; break;
    default: v.of.f64_bits = bits; break;
    }
    char *text = dump_val(v);
    wp_val back;
    char why[256];
    cr_assert_eq(convert(text, type, &back, why), 0, "%s: %s", text, why);
    switch (type) {
    case WP_I32: cr_assert_eq(back.of.i32, v.of.i32, "%s", text); break;
    case WP_I64: cr_assert_eq(back.of.i64, v.of.i64, "%s", text); break;
    case WP_F32: cr_assert_eq(back.of.f32_bits, v.of.f32_bits, "%s", text); break;
    default: cr_assert_eq(back.of.f64_bits, v.of.f64_bits, "%s", text); break;
    }
    free(text);
  }
}
