/* value.c — spec-suite values: wast2json's JSON encoding to wp_val, the
 * expected-result patterns of assert_return, and the trap messages of
 * assert_trap.
 *
 * wast2json writes every number as an unsigned decimal string of its bits:
 * i32 -1 is "4294967295", f32 1.0 is "1065353216". Floats therefore compare
 * bit for bit, which is what the spec asks for (NaN payloads and the sign of
 * zero matter); only the two NaN patterns compare loosely:
 *   nan:canonical   sign free, exponent all ones, payload exactly the quiet bit
 *   nan:arithmetic  sign free, exponent all ones, quiet bit set, rest free
 *
 * wast2json 1.0.36 writes a v128 as its lane shape and one such string per
 * lane, {"type": "v128", "lane_type": "f32", "value": ["0", "nan:canonical",
 * ...]}; the lanes become of.v128 in little-endian order and a NaN pattern
 * holds for its own lane only. {"type": "either", "values": [...]} (relaxed
 * SIMD's nondeterministic results) matches when one alternative does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

#define F32_EXP_QUIET UINT32_C(0x7fc00000)
#define F32_ABS       UINT32_C(0x7fffffff)
#define F64_EXP_QUIET UINT64_C(0x7ff8000000000000)
#define F64_ABS       UINT64_C(0x7fffffffffffffff)

void *wp_spec_extern_ref(uint64_t n) {
  return (void *)(uintptr_t)(n + 1);
}

/* Unsigned decimal, the whole string, no sign, no overflow past max. */
static int parse_unsigned(const char *text, uint64_t max, uint64_t *out) {
  if (text == NULL || text[0] < '0' || text[0] > '9')
    return WP_EINVAL;
  errno = 0;
  char *end;
  unsigned long long value = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || value > max)
    return WP_EINVAL;
  *out = value;
  return 0;
}

static int parse_type(const char *type, wp_valtype *out) {
  static const struct {
    const char *name;
    wp_valtype type;
  } types[] = {
      {"i32", WP_I32}, {"i64", WP_I64},         {"f32", WP_F32},
      {"f64", WP_F64}, {"funcref", WP_FUNCREF}, {"externref", WP_EXTERNREF},
  };
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    if (strcmp(types[i].name, type) == 0) {
      *out = types[i].type;
      return 0;
    }
  }
  return WP_EINVAL;
}

static const struct {
  const char *name;
  wp_spec_lane lane;
  size_t count;
} lane_shapes[] = {
    {"i8", WP_SPEC_LANE_I8, 16},  {"i16", WP_SPEC_LANE_I16, 8}, {"i32", WP_SPEC_LANE_I32, 4},
    {"i64", WP_SPEC_LANE_I64, 2}, {"f32", WP_SPEC_LANE_F32, 4}, {"f64", WP_SPEC_LANE_F64, 2},
};

size_t wp_spec_lane_count(wp_spec_lane lane) {
  for (size_t i = 0; i < sizeof lane_shapes / sizeof lane_shapes[0]; i++) {
    if (lane_shapes[i].lane == lane)
      return lane_shapes[i].count;
  }
  return 0;
}

const char *wp_spec_lane_name(wp_spec_lane lane) {
  for (size_t i = 0; i < sizeof lane_shapes / sizeof lane_shapes[0]; i++) {
    if (lane_shapes[i].lane == lane)
      return lane_shapes[i].name;
  }
  return "none";
}

static bool lane_is_float(wp_spec_lane lane) {
  return lane == WP_SPEC_LANE_F32 || lane == WP_SPEC_LANE_F64;
}

/* Lane i of v as an unsigned integer (little-endian bytes). */
static uint64_t lane_get(const uint8_t v128[16], size_t width, size_t i) {
  uint64_t bits = 0;
  for (size_t b = 0; b < width; b++)
    bits |= (uint64_t)v128[i * width + b] << (8 * b);
  return bits;
}

static void lane_set(uint8_t v128[16], size_t width, size_t i, uint64_t bits) {
  for (size_t b = 0; b < width; b++)
    v128[i * width + b] = (uint8_t)(bits >> (8 * b));
}

/* {"lane_type": ..., "value": [...]}: fills out->val.of.v128 and, when
 * allow_patterns, the per-lane NaN patterns of float shapes. */
static int parse_v128(json_t *value, bool allow_patterns, wp_spec_expected *out, char *why,
                      size_t why_len) {
  const char *shape = json_string_value(json_object_get(value, "lane_type"));
  json_t *lanes = json_object_get(value, "value");
  out->val.type = WP_V128;
  if (shape == NULL) {
    snprintf(why, why_len, "v128 value has no \"lane_type\"");
    return WP_EINVAL;
  }
  size_t count = 0;
  for (size_t i = 0; i < sizeof lane_shapes / sizeof lane_shapes[0]; i++) {
    if (strcmp(lane_shapes[i].name, shape) == 0) {
      out->lane = lane_shapes[i].lane;
      count = lane_shapes[i].count;
    }
  }
  if (count == 0) {
    snprintf(why, why_len, "unknown v128 lane_type \"%s\"", shape);
    return WP_EINVAL;
  }
  if (!json_is_array(lanes) || json_array_size(lanes) != count) {
    snprintf(why, why_len, "v128 %s value needs an array of %zu lanes", shape, count);
    return WP_EINVAL;
  }
  size_t width = 16 / count;
  uint64_t max = width == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * width)) - 1;
  for (size_t i = 0; i < count; i++) {
    const char *text = json_string_value(json_array_get(lanes, i));
    if (text == NULL) {
      snprintf(why, why_len, "v128 lane %zu is not a string", i);
      return WP_EINVAL;
    }
    if (allow_patterns && lane_is_float(out->lane)) {
      if (strcmp(text, "nan:canonical") == 0) {
        out->lane_patterns[i] = WP_SPEC_NAN_CANONICAL;
        continue;
      }
      if (strcmp(text, "nan:arithmetic") == 0) {
        out->lane_patterns[i] = WP_SPEC_NAN_ARITHMETIC;
        continue;
      }
    }
    uint64_t bits;
    if (parse_unsigned(text, max, &bits) != 0) {
      snprintf(why, why_len, "bad v128 %s lane %zu \"%s\"", shape, i, text);
      return WP_EINVAL;
    }
    lane_set(out->val.of.v128, width, i, bits);
  }
  return 0;
}

/* Shared by arguments and expectations; allow_patterns enables the NaN
 * patterns and a missing reference value. */
static int parse_any(json_t *value, bool allow_patterns, wp_spec_expected *out, char *why,
                     size_t why_len) {
  memset(out, 0, sizeof *out);
  out->pattern = WP_SPEC_EXACT;
  if (!json_is_object(value)) {
    snprintf(why, why_len, "value is not an object");
    return WP_EINVAL;
  }
  const char *type = json_string_value(json_object_get(value, "type"));
  if (type == NULL) {
    snprintf(why, why_len, "value has no \"type\"");
    return WP_EINVAL;
  }
  if (strcmp(type, "v128") == 0)
    return parse_v128(value, allow_patterns, out, why, why_len);
  if (parse_type(type, &out->val.type) != 0) {
    snprintf(why, why_len, "unknown value type \"%s\"", type);
    return WP_EINVAL;
  }
  json_t *member = json_object_get(value, "value");
  const char *text = json_string_value(member);
  if (member != NULL && text == NULL) {
    snprintf(why, why_len, "%s value is not a string", type);
    return WP_EINVAL;
  }

  if (out->val.type == WP_FUNCREF || out->val.type == WP_EXTERNREF) {
    if (text == NULL) {
      if (!allow_patterns) {
        snprintf(why, why_len, "%s argument without a value", type);
        return WP_EINVAL;
      }
      out->pattern = WP_SPEC_ANY_REF;
      return 0;
    }
    if (strcmp(text, "null") == 0) {
      out->val.of.ref = NULL;
      return 0;
    }
    uint64_t n;
    if (out->val.type == WP_EXTERNREF && parse_unsigned(text, UINTPTR_MAX - 1, &n) == 0) {
      out->val.of.ref = wp_spec_extern_ref(n);
      return 0;
    }
    /* A funcref has no host-side identity the runner could name. */
    snprintf(why, why_len, "unsupported %s value \"%s\"", type, text);
    return WP_EINVAL;
  }

  if (text == NULL) {
    snprintf(why, why_len, "%s value missing", type);
    return WP_EINVAL;
  }
  if (allow_patterns && (out->val.type == WP_F32 || out->val.type == WP_F64)) {
    if (strcmp(text, "nan:canonical") == 0) {
      out->pattern = WP_SPEC_NAN_CANONICAL;
      return 0;
    }
    if (strcmp(text, "nan:arithmetic") == 0) {
      out->pattern = WP_SPEC_NAN_ARITHMETIC;
      return 0;
    }
  }
  bool wide = out->val.type == WP_I64 || out->val.type == WP_F64;
  uint64_t bits;
  if (parse_unsigned(text, wide ? UINT64_MAX : UINT32_MAX, &bits) != 0) {
    snprintf(why, why_len, "bad %s value \"%s\"", type, text);
    return WP_EINVAL;
  }
  switch (out->val.type) {
  case WP_I32: out->val.of.i32 = (uint32_t)bits; break;
  case WP_I64: out->val.of.i64 = bits; break;
  case WP_F32: out->val.of.f32_bits = (uint32_t)bits; break;
  case WP_F64: out->val.of.f64_bits = bits; break;
  default: break;
  }
  return 0;
}

int wp_spec_value_parse(json_t *value, wp_val *out, char *why, size_t why_len) {
  wp_spec_expected parsed;
  int rc = parse_any(value, false, &parsed, why, why_len);
  if (rc != 0)
    return rc;
  *out = parsed.val;
  return 0;
}

int wp_spec_expected_parse(json_t *value, wp_spec_expected *out, char *why, size_t why_len) {
  return parse_any(value, true, out, why, why_len);
}

static bool nan_matches(wp_spec_pattern pattern, bool wide, uint64_t bits) {
  uint64_t abs = wide ? F64_ABS : F32_ABS;
  uint64_t exp_quiet = wide ? F64_EXP_QUIET : F32_EXP_QUIET;
  if (pattern == WP_SPEC_NAN_CANONICAL)
    return (bits & abs) == exp_quiet;
  return (bits & exp_quiet) == exp_quiet;
}

static bool v128_matches(const wp_spec_expected *expected, const wp_val *got) {
  size_t count = wp_spec_lane_count(expected->lane);
  if (count == 0)
    return false;
  size_t width = 16 / count;
  for (size_t i = 0; i < count; i++) {
    uint64_t want = lane_get(expected->val.of.v128, width, i);
    uint64_t have = lane_get(got->of.v128, width, i);
    wp_spec_pattern pattern =
        lane_is_float(expected->lane) ? expected->lane_patterns[i] : WP_SPEC_EXACT;
    if (pattern == WP_SPEC_EXACT ? want != have : !nan_matches(pattern, width == 8, have))
      return false;
  }
  return true;
}

bool wp_spec_expected_matches(const wp_spec_expected *expected, const wp_val *got) {
  if (expected->val.type != got->type)
    return false;
  switch (expected->pattern) {
  case WP_SPEC_NAN_CANONICAL:
  case WP_SPEC_NAN_ARITHMETIC:
    if (got->type == WP_F32)
      return nan_matches(expected->pattern, false, got->of.f32_bits);
    if (got->type == WP_F64)
      return nan_matches(expected->pattern, true, got->of.f64_bits);
    return false;
  case WP_SPEC_ANY_REF: return got->of.ref != NULL;
  case WP_SPEC_EXACT: break;
  }
  switch (got->type) {
  case WP_I32: return got->of.i32 == expected->val.of.i32;
  case WP_I64: return got->of.i64 == expected->val.of.i64;
  case WP_F32: return got->of.f32_bits == expected->val.of.f32_bits;
  case WP_F64: return got->of.f64_bits == expected->val.of.f64_bits;
  case WP_FUNCREF:
  case WP_EXTERNREF: return got->of.ref == expected->val.of.ref;
  case WP_V128: return v128_matches(expected, got);
  }
  return false;
}

int wp_spec_result_parse(json_t *value, wp_spec_result *out, char *why, size_t why_len) {
  memset(out, 0, sizeof *out);
  const char *type = json_string_value(json_object_get(value, "type"));
  if (type == NULL || strcmp(type, "either") != 0) {
    out->count = 1;
    return wp_spec_expected_parse(value, &out->options[0], why, why_len);
  }
  json_t *values = json_object_get(value, "values");
  size_t count = json_array_size(values);
  if (!json_is_array(values) || count == 0 || count > WP_SPEC_EITHER_MAX) {
    snprintf(why, why_len, "\"either\" needs 1 to %d \"values\"", WP_SPEC_EITHER_MAX);
    return WP_EINVAL;
  }
  for (size_t i = 0; i < count; i++) {
    int rc = wp_spec_expected_parse(json_array_get(values, i), &out->options[i], why, why_len);
    if (rc != 0)
      return rc;
  }
  out->count = count;
  return 0;
}

bool wp_spec_result_matches(const wp_spec_result *result, const wp_val *got) {
  for (size_t i = 0; i < result->count; i++) {
    if (wp_spec_expected_matches(&result->options[i], got))
      return true;
  }
  return false;
}

void wp_spec_val_format(const wp_val *val, char *buf, size_t len) {
  const char *name = wp_valtype_name(val->type);
  switch (val->type) {
  case WP_I32:
    snprintf(buf, len, "%s:%" PRIu32 " (0x%08" PRIx32 ")", name, val->of.i32, val->of.i32);
    return;
  case WP_I64:
    snprintf(buf, len, "%s:%" PRIu64 " (0x%016" PRIx64 ")", name, val->of.i64, val->of.i64);
    return;
  case WP_F32: {
    float f;
    memcpy(&f, &val->of.f32_bits, sizeof f);
    snprintf(buf, len, "%s:0x%08" PRIx32 " (%.9g)", name, val->of.f32_bits, (double)f);
    return;
  }
  case WP_F64: {
    double d;
    memcpy(&d, &val->of.f64_bits, sizeof d);
    snprintf(buf, len, "%s:0x%016" PRIx64 " (%.17g)", name, val->of.f64_bits, d);
    return;
  }
  case WP_FUNCREF:
  case WP_EXTERNREF:
    if (val->of.ref == NULL)
      snprintf(buf, len, "%s:null", name);
    else if (val->type == WP_EXTERNREF)
      snprintf(buf, len, "%s:%" PRIuPTR, name, (uintptr_t)val->of.ref - 1);
    else
      snprintf(buf, len, "%s:%p", name, val->of.ref);
    return;
  case WP_V128: wp_spec_val_format_lanes(val, WP_SPEC_LANE_I32, buf, len); return;
  }
  snprintf(buf, len, "?");
}

/* Appends one lane: its bits in hex (floats too, as everywhere here), or
 * the NaN pattern it must match. */
static size_t format_lane(char *buf, size_t len, uint64_t bits, size_t digits,
                          wp_spec_pattern pattern) {
  if (pattern == WP_SPEC_NAN_CANONICAL)
    return (size_t)snprintf(buf, len, " nan:canonical");
  if (pattern == WP_SPEC_NAN_ARITHMETIC)
    return (size_t)snprintf(buf, len, " nan:arithmetic");
  return (size_t)snprintf(buf, len, " 0x%0*" PRIx64, (int)digits, bits);
}

static void format_v128(const wp_val *val, wp_spec_lane lane, const wp_spec_pattern *patterns,
                        char *buf, size_t len) {
  size_t count = wp_spec_lane_count(lane);
  if (count == 0) {
    lane = WP_SPEC_LANE_I32;
    count = 4;
  }
  size_t width = 16 / count;
  size_t at = (size_t)snprintf(buf, len, "v128:%sx%zu:", wp_spec_lane_name(lane), count);
  for (size_t i = 0; i < count && at < len; i++) {
    wp_spec_pattern pattern = patterns && lane_is_float(lane) ? patterns[i] : WP_SPEC_EXACT;
    at += format_lane(buf + at, len - at, lane_get(val->of.v128, width, i), width * 2, pattern);
  }
}

void wp_spec_val_format_lanes(const wp_val *val, wp_spec_lane lane, char *buf, size_t len) {
  if (val->type != WP_V128) {
    wp_spec_val_format(val, buf, len);
    return;
  }
  format_v128(val, lane, NULL, buf, len);
}

void wp_spec_expected_format(const wp_spec_expected *expected, char *buf, size_t len) {
  const char *name = wp_valtype_name(expected->val.type);
  switch (expected->pattern) {
  case WP_SPEC_NAN_CANONICAL: snprintf(buf, len, "%s:nan:canonical", name); return;
  case WP_SPEC_NAN_ARITHMETIC: snprintf(buf, len, "%s:nan:arithmetic", name); return;
  case WP_SPEC_ANY_REF: snprintf(buf, len, "%s:non-null", name); return;
  case WP_SPEC_EXACT: break;
  }
  if (expected->val.type == WP_V128) {
    format_v128(&expected->val, expected->lane, expected->lane_patterns, buf, len);
    return;
  }
  wp_spec_val_format(&expected->val, buf, len);
}

void wp_spec_result_format(const wp_spec_result *result, char *buf, size_t len) {
  if (result->count == 1) {
    wp_spec_expected_format(&result->options[0], buf, len);
    return;
  }
  size_t at = (size_t)snprintf(buf, len, "either(");
  for (size_t i = 0; i < result->count && at < len; i++) {
    char one[256];
    wp_spec_expected_format(&result->options[i], one, sizeof one);
    at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? " | " : "", one);
  }
  if (at < len)
    snprintf(buf + at, len - at, ")");
}

/* The spec suite's trap messages (a message may carry a suffix, as in
 * "uninitialized element 2", so these are prefixes). */
static const struct {
  const char *prefix;
  int codes[2];
} trap_messages[] = {
    {"out of bounds memory access", {WP_ETRAP_OOB, 0}},
    {"out of bounds table access", {WP_ETRAP_TABLE_OOB, WP_ETRAP_OOB}},
    {"undefined element", {WP_ETRAP_INDIRECT, WP_ETRAP_TABLE_OOB}},
    {"uninitialized element", {WP_ETRAP_INDIRECT, WP_ETRAP_TABLE_OOB}},
    {"indirect call type mismatch", {WP_ETRAP_INDIRECT, 0}},
    {"integer divide by zero", {WP_ETRAP_DIV_ZERO, 0}},
    {"integer overflow", {WP_ETRAP_INT_OVERFLOW, 0}},
    {"invalid conversion to integer", {WP_ETRAP_CONVERSION, 0}},
    {"unreachable", {WP_ETRAP_UNREACHABLE, 0}},
    {"call stack exhausted", {WP_ETRAP_STACK, 0}},
};

size_t wp_spec_trap_codes(const char *text, int codes[4]) {
  if (text == NULL)
    return 0;
  for (size_t i = 0; i < sizeof trap_messages / sizeof trap_messages[0]; i++) {
    size_t prefix_len = strlen(trap_messages[i].prefix);
    if (strncmp(text, trap_messages[i].prefix, prefix_len) != 0)
      continue;
    size_t n = 0;
    for (size_t c = 0; c < 2; c++) {
      if (trap_messages[i].codes[c] != 0)
        codes[n++] = trap_messages[i].codes[c];
    }
    return n;
  }
  return 0;
}

bool wp_spec_is_trap_code(int code) {
  switch (code) {
  case WP_ETRAP_OOB:
  case WP_ETRAP_DIV_ZERO:
  case WP_ETRAP_INT_OVERFLOW:
  case WP_ETRAP_CONVERSION:
  case WP_ETRAP_UNREACHABLE:
  case WP_ETRAP_INDIRECT:
  case WP_ETRAP_STACK:
  case WP_ETRAP_EXCEPTION:
  case WP_ETRAP_TABLE_OOB: return true;
  default: return false;
  }
}
