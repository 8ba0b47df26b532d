/* test_value.c — value.c: wast2json value strings to wp_val, NaN patterns,
 * exact float comparison by bits, references and trap messages. */
#include <criterion/criterion.h>
#include <string.h>

#include "spec.h"

static json_t *val(const char *type, const char *value) {
  json_t *obj = json_object();
  json_object_set_new(obj, "type", json_string(type));
  if (value != NULL)
    json_object_set_new(obj, "value", json_string(value));
  return obj;
}

static wp_val parse_ok(const char *type, const char *value) {
  json_t *obj = val(type, value);
  wp_val out;
  char why[256] = "";
  cr_assert_eq(wp_spec_value_parse(obj, &out, why, sizeof why), 0, "%s %s: %s", type, value, why);
  json_decref(obj);
  return out;
}

static int parse_rc(const char *type, const char *value) {
  json_t *obj = val(type, value);
  wp_val out;
  char why[256];
  int rc = wp_spec_value_parse(obj, &out, why, sizeof why);
  json_decref(obj);
  return rc;
}

static wp_val f32_zero(void) {
  return (wp_val){.type = WP_F32, .of.f32_bits = 0};
}

static wp_spec_expected expect_ok(const char *type, const char *value) {
  json_t *obj = val(type, value);
  wp_spec_expected out;
  char why[256] = "";
  cr_assert_eq(wp_spec_expected_parse(obj, &out, why, sizeof why), 0, "%s", why);
  json_decref(obj);
  return out;
}

Test(value, i32_is_unsigned_decimal_of_the_bits) {
  wp_val v = parse_ok("i32", "4294967295");
  cr_assert_eq(v.type, WP_I32);
  cr_assert_eq(v.of.i32, 0xffffffffu);
  cr_assert_eq(parse_ok("i32", "2147483648").of.i32, 0x80000000u);
  cr_assert_eq(parse_ok("i32", "0").of.i32, 0);
}

Test(value, i32_out_of_range_and_junk_are_rejected) {
  cr_assert_eq(parse_rc("i32", "4294967296"), WP_EINVAL);
  cr_assert_eq(parse_rc("i32", "-1"), WP_EINVAL);
  cr_assert_eq(parse_rc("i32", "12x"), WP_EINVAL);
  cr_assert_eq(parse_rc("i32", ""), WP_EINVAL);
  cr_assert_eq(parse_rc("i32", NULL), WP_EINVAL);
  cr_assert_eq(parse_rc("i128", "1"), WP_EINVAL);
}

Test(value, i64_full_range) {
  cr_assert_eq(parse_ok("i64", "18446744073709551615").of.i64, UINT64_MAX);
  cr_assert_eq(parse_ok("i64", "9223372036854775808").of.i64, UINT64_C(1) << 63);
  cr_assert_eq(parse_rc("i64", "18446744073709551616"), WP_EINVAL);
}

Test(value, floats_keep_their_bit_patterns) {
  wp_val one = parse_ok("f32", "1065353216");
  cr_assert_eq(one.type, WP_F32);
  cr_assert_eq(one.of.f32_bits, 0x3f800000u);
  /* A NaN with a payload and the negative zero survive as bits. */
  cr_assert_eq(parse_ok("f32", "2141192192").of.f32_bits, 0x7fa00000u);
  cr_assert_eq(parse_ok("f32", "2147483648").of.f32_bits, 0x80000000u);
  cr_assert_eq(parse_ok("f64", "9221120237041090560").of.f64_bits, UINT64_C(0x7ff8000000000000));
  cr_assert_eq(parse_ok("f64", "9223372036854775808").of.f64_bits, UINT64_C(1) << 63);
  cr_assert_eq(parse_rc("f32", "4294967296"), WP_EINVAL);
}

static json_t *v128(const char *lane_type, const char *const *lanes, size_t count) {
  json_t *obj = json_object();
  json_object_set_new(obj, "type", json_string("v128"));
  json_object_set_new(obj, "lane_type", json_string(lane_type));
  json_t *array = json_array();
  for (size_t i = 0; i < count; i++)
    json_array_append_new(array, json_string(lanes[i]));
  json_object_set_new(obj, "value", array);
  return obj;
}

static int v128_rc(const char *lane_type, const char *const *lanes, size_t count) {
  json_t *obj = v128(lane_type, lanes, count);
  wp_val out;
  char why[256];
  int rc = wp_spec_value_parse(obj, &out, why, sizeof why);
  json_decref(obj);
  return rc;
}

static wp_spec_expected v128_expect(const char *lane_type, const char *const *lanes, size_t count) {
  json_t *obj = v128(lane_type, lanes, count);
  wp_spec_expected out;
  char why[256] = "";
  cr_assert_eq(wp_spec_expected_parse(obj, &out, why, sizeof why), 0, "%s", why);
  json_decref(obj);
  return out;
}

Test(value, v128_lanes_are_stored_little_endian_in_every_shape) {
  const char *i8[16] = {"0", "1", "2",  "3",  "4",  "5",  "6",  "7",
                        "8", "9", "10", "11", "12", "13", "14", "255"};
  json_t *obj = v128("i8", i8, 16);
  wp_val v;
  char why[256] = "";
  cr_assert_eq(wp_spec_value_parse(obj, &v, why, sizeof why), 0, "%s", why);
  json_decref(obj);
  cr_assert_eq(v.type, WP_V128);
  cr_assert_eq(v.of.v128[0], 0);
  cr_assert_eq(v.of.v128[1], 1);
  cr_assert_eq(v.of.v128[15], 0xff);

  const char *i16[8] = {"258", "0", "0", "0", "0", "0", "0", "65535"};
  obj = v128("i16", i16, 8);
  cr_assert_eq(wp_spec_value_parse(obj, &v, why, sizeof why), 0, "%s", why);
  json_decref(obj);
  cr_assert_eq(v.of.v128[0], 0x02, "low byte first");
  cr_assert_eq(v.of.v128[1], 0x01);
  cr_assert_eq(v.of.v128[14], 0xff);
  cr_assert_eq(v.of.v128[15], 0xff);

  const char *i32[4] = {"16909060", "0", "0", "4294967295"}; /* 0x01020304 */
  obj = v128("i32", i32, 4);
  cr_assert_eq(wp_spec_value_parse(obj, &v, why, sizeof why), 0, "%s", why);
  json_decref(obj);
  uint8_t want32[16] = {4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
  cr_assert_arr_eq(v.of.v128, want32, 16);

  const char *f64[2] = {"4607182418800017408", "9223372036854775808"}; /* 1.0, -0.0 */
  obj = v128("f64", f64, 2);
  cr_assert_eq(wp_spec_value_parse(obj, &v, why, sizeof why), 0, "%s", why);
  json_decref(obj);
  uint8_t want64[16] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x80};
  cr_assert_arr_eq(v.of.v128, want64, 16);
}

Test(value, v128_rejects_wrong_lane_counts_ranges_and_shapes) {
  const char *four[4] = {"0", "0", "0", "0"};
  cr_assert_eq(v128_rc("i16", four, 4), WP_EINVAL, "i16x8 needs 8 lanes");
  cr_assert_eq(v128_rc("i32", four, 3), WP_EINVAL);
  cr_assert_eq(v128_rc("i128", four, 4), WP_EINVAL);
  const char *big8[16] = {"256", "0", "0", "0", "0", "0", "0", "0",
                          "0",   "0", "0", "0", "0", "0", "0", "0"};
  cr_assert_eq(v128_rc("i8", big8, 16), WP_EINVAL, "256 does not fit an i8 lane");
  const char *big16[8] = {"65536", "0", "0", "0", "0", "0", "0", "0"};
  cr_assert_eq(v128_rc("i16", big16, 8), WP_EINVAL);
  const char *big32[4] = {"4294967296", "0", "0", "0"};
  cr_assert_eq(v128_rc("f32", big32, 4), WP_EINVAL);
  /* NaN patterns are expectations only. */
  const char *nan[4] = {"nan:canonical", "0", "0", "0"};
  cr_assert_eq(v128_rc("f32", nan, 4), WP_EINVAL);
  /* No lane_type. */
  json_t *obj = json_pack("{s:s, s:[s,s,s,s]}", "type", "v128", "value", "0", "0", "0", "0");
  wp_val v;
  char why[256];
  cr_assert_eq(wp_spec_value_parse(obj, &v, why, sizeof why), WP_EINVAL);
  json_decref(obj);
}

static wp_val v128_of_f32(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  wp_val v = {.type = WP_V128};
  uint32_t lanes[4] = {a, b, c, d};
  for (size_t i = 0; i < 4; i++) {
    for (size_t byte = 0; byte < 4; byte++)
      v.of.v128[i * 4 + byte] = (uint8_t)(lanes[i] >> (8 * byte));
  }
  return v;
}

Test(value, v128_nan_patterns_hold_per_lane) {
  const char *lanes[4] = {"nan:canonical", "1065353216", "nan:arithmetic", "0"};
  wp_spec_expected e = v128_expect("f32", lanes, 4);
  cr_assert_eq(e.lane, WP_SPEC_LANE_F32);
  cr_assert_eq(e.lane_patterns[0], WP_SPEC_NAN_CANONICAL);
  cr_assert_eq(e.lane_patterns[1], WP_SPEC_EXACT);
  cr_assert_eq(e.lane_patterns[2], WP_SPEC_NAN_ARITHMETIC);

  wp_val ok = v128_of_f32(0xffc00000, 0x3f800000, 0x7fc00001, 0);
  cr_assert(wp_spec_expected_matches(&e, &ok));
  /* Lane 0 with a payload is arithmetic, not canonical. */
  wp_val bad = v128_of_f32(0x7fc00001, 0x3f800000, 0x7fc00001, 0);
  cr_assert_not(wp_spec_expected_matches(&e, &bad));
  /* Lane 2 must be a quiet NaN. */
  bad = v128_of_f32(0x7fc00000, 0x3f800000, 0x7f800000, 0);
  cr_assert_not(wp_spec_expected_matches(&e, &bad));
  /* Exact lanes compare bits: -0.0 is not 0.0. */
  bad = v128_of_f32(0x7fc00000, 0x3f800000, 0x7fc00000, 0x80000000);
  cr_assert_not(wp_spec_expected_matches(&e, &bad));
  /* A v128 never matches a scalar. */
  wp_val scalar = f32_zero();
  cr_assert_not(wp_spec_expected_matches(&e, &scalar));

  const char *f64[2] = {"nan:canonical", "0"};
  e = v128_expect("f64", f64, 2);
  wp_val d = {.type = WP_V128};
  d.of.v128[6] = 0xf8;
  d.of.v128[7] = 0x7f; /* lane 0: 0x7ff8000000000000 */
  cr_assert(wp_spec_expected_matches(&e, &d));
  d.of.v128[0] = 1;
  cr_assert_not(wp_spec_expected_matches(&e, &d));
}

Test(value, v128_integer_lanes_compare_exactly) {
  const char *lanes[8] = {"1", "2", "3", "4", "5", "6", "7", "65535"};
  wp_spec_expected e = v128_expect("i16", lanes, 8);
  wp_val got = e.val;
  cr_assert(wp_spec_expected_matches(&e, &got));
  got.of.v128[15] = 0x7f;
  cr_assert_not(wp_spec_expected_matches(&e, &got));
}

Test(value, either_matches_any_alternative) {
  json_t *obj = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "type", "either", "values", "type",
                          "i32", "value", "1", "type", "i32", "value", "2");
  wp_spec_result r;
  char why[256] = "";
  cr_assert_eq(wp_spec_result_parse(obj, &r, why, sizeof why), 0, "%s", why);
  json_decref(obj);
  cr_assert_eq(r.count, 2);
  wp_val one = {.type = WP_I32, .of.i32 = 1}, two = {.type = WP_I32, .of.i32 = 2};
  wp_val three = {.type = WP_I32, .of.i32 = 3};
  cr_assert(wp_spec_result_matches(&r, &one));
  cr_assert(wp_spec_result_matches(&r, &two));
  cr_assert_not(wp_spec_result_matches(&r, &three));
  char buf[256];
  wp_spec_result_format(&r, buf, sizeof buf);
  cr_assert_str_eq(buf, "either(i32:1 (0x00000001) | i32:2 (0x00000002))");

  /* A plain value is a result of one alternative. */
  obj = val("i32", "3");
  cr_assert_eq(wp_spec_result_parse(obj, &r, why, sizeof why), 0, "%s", why);
  json_decref(obj);
  cr_assert_eq(r.count, 1);
  cr_assert(wp_spec_result_matches(&r, &three));

  /* v128 alternatives with lane patterns, as relaxed SIMD writes them. */
  obj = json_pack("{s:s, s:[{s:s, s:s, s:[s,s,s,s]}, {s:s, s:s, s:[s,s,s,s]}]}", "type", "either",
                  "values", "type", "v128", "lane_type", "f32", "value", "nan:canonical", "0", "0",
                  "0", "type", "v128", "lane_type", "f32", "value", "0", "0", "0", "0");
  cr_assert_eq(wp_spec_result_parse(obj, &r, why, sizeof why), 0, "%s", why);
  json_decref(obj);
  wp_val nan_first = v128_of_f32(0x7fc00000, 0, 0, 0), zeros = v128_of_f32(0, 0, 0, 0);
  wp_val neither = v128_of_f32(0x3f800000, 0, 0, 0);
  cr_assert(wp_spec_result_matches(&r, &nan_first));
  cr_assert(wp_spec_result_matches(&r, &zeros));
  cr_assert_not(wp_spec_result_matches(&r, &neither));

  /* Empty or malformed either. */
  obj = json_pack("{s:s, s:[]}", "type", "either", "values");
  cr_assert_eq(wp_spec_result_parse(obj, &r, why, sizeof why), WP_EINVAL);
  json_decref(obj);
  obj = json_pack("{s:s, s:[{s:s, s:s}]}", "type", "either", "values", "type", "i32", "value", "x");
  cr_assert_eq(wp_spec_result_parse(obj, &r, why, sizeof why), WP_EINVAL);
  json_decref(obj);
}

Test(value, v128_formatting_follows_the_lane_shape) {
  const char *lanes[4] = {"nan:canonical", "1065353216", "0", "4294967295"};
  wp_spec_expected e = v128_expect("f32", lanes, 4);
  char buf[256];
  wp_spec_expected_format(&e, buf, sizeof buf);
  cr_assert_str_eq(buf, "v128:f32x4: nan:canonical 0x3f800000 0x00000000 0xffffffff");
  wp_val v = v128_of_f32(1, 2, 3, 4);
  wp_spec_val_format_lanes(&v, WP_SPEC_LANE_I64, buf, sizeof buf);
  cr_assert_str_eq(buf, "v128:i64x2: 0x0000000200000001 0x0000000400000003");
  wp_spec_val_format(&v, buf, sizeof buf);
  cr_assert_str_eq(buf, "v128:i32x4: 0x00000001 0x00000002 0x00000003 0x00000004");
  cr_assert_eq(wp_spec_lane_count(WP_SPEC_LANE_I8), 16);
  cr_assert_eq(wp_spec_lane_count(WP_SPEC_LANE_F64), 2);
  cr_assert_eq(wp_spec_lane_count(WP_SPEC_LANE_NONE), 0);
}

Test(value, nan_patterns_only_in_expectations) {
  cr_assert_eq(parse_rc("f32", "nan:canonical"), WP_EINVAL);
  wp_spec_expected e = expect_ok("f32", "nan:canonical");
  cr_assert_eq(e.pattern, WP_SPEC_NAN_CANONICAL);
  cr_assert_eq(e.val.type, WP_F32);
  e = expect_ok("f64", "nan:arithmetic");
  cr_assert_eq(e.pattern, WP_SPEC_NAN_ARITHMETIC);
  cr_assert_eq(e.val.type, WP_F64);
  /* Integers have no NaN. */
  json_t *obj = val("i32", "nan:canonical");
  char why[256];
  cr_assert_eq(wp_spec_expected_parse(obj, &e, why, sizeof why), WP_EINVAL);
  json_decref(obj);
}

static wp_val f32(uint32_t bits) {
  return (wp_val){.type = WP_F32, .of.f32_bits = bits};
}

static wp_val f64(uint64_t bits) {
  return (wp_val){.type = WP_F64, .of.f64_bits = bits};
}

Test(value, canonical_nan_matching) {
  wp_spec_expected e = expect_ok("f32", "nan:canonical");
  cr_assert(wp_spec_expected_matches(&e, &(wp_val){f32(0x7fc00000).type, f32(0x7fc00000).of}));
  wp_val v = f32(0xffc00000); /* sign is free */
  cr_assert(wp_spec_expected_matches(&e, &v));
  v = f32(0x7fc00001); /* extra payload bit: arithmetic, not canonical */
  cr_assert_not(wp_spec_expected_matches(&e, &v));
  v = f32(0x7fa00000); /* signalling */
  cr_assert_not(wp_spec_expected_matches(&e, &v));
  v = f32(0x7f800000); /* infinity */
  cr_assert_not(wp_spec_expected_matches(&e, &v));
  v = f64(UINT64_C(0x7ff8000000000000)); /* wrong type */
  cr_assert_not(wp_spec_expected_matches(&e, &v));

  e = expect_ok("f64", "nan:canonical");
  v = f64(UINT64_C(0xfff8000000000000));
  cr_assert(wp_spec_expected_matches(&e, &v));
  v = f64(UINT64_C(0x7ff8000000000001));
  cr_assert_not(wp_spec_expected_matches(&e, &v));
}

Test(value, arithmetic_nan_matching) {
  wp_spec_expected e = expect_ok("f32", "nan:arithmetic");
  wp_val v = f32(0x7fc00001);
  cr_assert(wp_spec_expected_matches(&e, &v));
  v = f32(0xffffffff);
  cr_assert(wp_spec_expected_matches(&e, &v));
  v = f32(0x7fbfffff); /* quiet bit clear */
  cr_assert_not(wp_spec_expected_matches(&e, &v));
  v = f32(0x3fc00000); /* exponent not all ones */
  cr_assert_not(wp_spec_expected_matches(&e, &v));

  e = expect_ok("f64", "nan:arithmetic");
  v = f64(UINT64_C(0x7ffc000000000000));
  cr_assert(wp_spec_expected_matches(&e, &v));
  v = f64(UINT64_C(0x7ff4000000000000));
  cr_assert_not(wp_spec_expected_matches(&e, &v));
}

Test(value, exact_floats_compare_bits_not_values) {
  wp_spec_expected zero = expect_ok("f32", "0");
  wp_val negative_zero = f32(0x80000000);
  cr_assert_not(wp_spec_expected_matches(&zero, &negative_zero));
  wp_spec_expected nan = expect_ok("f32", "2143289344"); /* 0x7fc00000 */
  wp_val same = f32(0x7fc00000), other = f32(0x7fc00001);
  cr_assert(wp_spec_expected_matches(&nan, &same));
  cr_assert_not(wp_spec_expected_matches(&nan, &other));
}

Test(value, integers_match_exactly_and_by_type) {
  wp_spec_expected e = expect_ok("i32", "4294967294");
  wp_val v = {.type = WP_I32, .of.i32 = 0xfffffffe};
  cr_assert(wp_spec_expected_matches(&e, &v));
  v.of.i32 = 0xffffffff;
  cr_assert_not(wp_spec_expected_matches(&e, &v));
  wp_val wide = {.type = WP_I64, .of.i64 = 0xfffffffe};
  cr_assert_not(wp_spec_expected_matches(&e, &wide));
}

Test(value, references) {
  wp_val null_ext = parse_ok("externref", "null");
  cr_assert_eq(null_ext.type, WP_EXTERNREF);
  cr_assert_null(null_ext.of.ref);
  wp_val zero = parse_ok("externref", "0");
  cr_assert_not_null(zero.of.ref, "ref.extern 0 must not be the null reference");
  cr_assert_eq(zero.of.ref, wp_spec_extern_ref(0));
  cr_assert_neq(parse_ok("externref", "1").of.ref, zero.of.ref);
  wp_val null_func = parse_ok("funcref", "null");
  cr_assert_eq(null_func.type, WP_FUNCREF);
  cr_assert_null(null_func.of.ref);

  wp_spec_expected e = expect_ok("externref", "1");
  wp_val one = parse_ok("externref", "1");
  cr_assert(wp_spec_expected_matches(&e, &one));
  cr_assert_not(wp_spec_expected_matches(&e, &zero));
  cr_assert_not(wp_spec_expected_matches(&e, &null_ext));

  /* No value: any non-null reference of the type. */
  e = expect_ok("funcref", NULL);
  cr_assert_eq(e.pattern, WP_SPEC_ANY_REF);
  wp_val some = {.type = WP_FUNCREF, .of.ref = &e};
  cr_assert(wp_spec_expected_matches(&e, &some));
  cr_assert_not(wp_spec_expected_matches(&e, &null_func));
}

Test(value, formatting_names_type_and_bits) {
  char buf[128];
  wp_val v = {.type = WP_I32, .of.i32 = 0xffffffff};
  wp_spec_val_format(&v, buf, sizeof buf);
  cr_assert_str_eq(buf, "i32:4294967295 (0xffffffff)");
  v = f32(0x3f800000);
  wp_spec_val_format(&v, buf, sizeof buf);
  cr_assert_str_eq(buf, "f32:0x3f800000 (1)");
  wp_spec_expected e = expect_ok("f64", "nan:arithmetic");
  wp_spec_expected_format(&e, buf, sizeof buf);
  cr_assert_str_eq(buf, "f64:nan:arithmetic");
  v = parse_ok("externref", "7");
  wp_spec_val_format(&v, buf, sizeof buf);
  cr_assert_str_eq(buf, "externref:7");
}

Test(value, trap_messages_map_to_codes) {
  int codes[4];
  cr_assert_eq(wp_spec_trap_codes("out of bounds memory access", codes), 1);
  cr_assert_eq(codes[0], WP_ETRAP_OOB);
  cr_assert_eq(wp_spec_trap_codes("integer divide by zero", codes), 1);
  cr_assert_eq(codes[0], WP_ETRAP_DIV_ZERO);
  /* Suffixes as in "uninitialized element 2" still match. */
  size_t n = wp_spec_trap_codes("uninitialized element 2", codes);
  cr_assert_eq(n, 2);
  cr_assert_eq(codes[0], WP_ETRAP_INDIRECT);
  n = wp_spec_trap_codes("out of bounds table access", codes);
  cr_assert_eq(n, 2);
  cr_assert_eq(codes[0], WP_ETRAP_TABLE_OOB);
  cr_assert_eq(codes[1], WP_ETRAP_OOB);
  cr_assert_eq(wp_spec_trap_codes("call stack exhausted", codes), 1);
  cr_assert_eq(codes[0], WP_ETRAP_STACK);
  cr_assert_eq(wp_spec_trap_codes("something new", codes), 0);
  cr_assert(wp_spec_is_trap_code(WP_ETRAP_UNREACHABLE));
  cr_assert_not(wp_spec_is_trap_code(WP_ETIMEOUT));
  cr_assert_not(wp_spec_is_trap_code(0));
}
