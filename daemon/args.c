/* args.c — typed JSON <-> wp_val for call arguments and results (see args.h
 * for the rules; docs/DAEMON.md explains why they are what they are).
 *
 * Integers are parsed by hand rather than with strtoll/strtoull: those accept
 * leading spaces, a sign on unsigned input ("-1" -> 2^64-1) and set errno
 * instead of saying which bound was crossed.
 */
#include "args.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wp_errno.h"

#define F32_CANONICAL_NAN UINT32_C(0x7fc00000)
#define F64_CANONICAL_NAN UINT64_C(0x7ff8000000000000)
#define F32_SIGN          UINT32_C(0x80000000)
#define F64_SIGN          UINT64_C(0x8000000000000000)
#define EXACT_INT_LIMIT   (UINT64_C(1) << 53) /* largest magnitude a double holds exactly */

/* "string \"abc\"", "integer 5", ... for error messages. */
static void describe_json(const json_t *value, char *out, size_t out_len) {
  switch (json_typeof(value)) {
  case JSON_OBJECT: snprintf(out, out_len, "an object"); break;
  case JSON_ARRAY: snprintf(out, out_len, "an array"); break;
  case JSON_STRING: {
    const char *s = json_string_value(value);
    size_t len = json_string_length(value);
    snprintf(out, out_len, "string \"%.*s%s\"", (int)(len > 32 ? 32 : len), s,
             len > 32 ? "..." : "");
    break;
  }
  case JSON_INTEGER:
    snprintf(out, out_len, "integer %" JSON_INTEGER_FORMAT, json_integer_value(value));
    break;
  case JSON_REAL: snprintf(out, out_len, "number %.17g", json_real_value(value)); break;
  case JSON_TRUE: snprintf(out, out_len, "true"); break;
  case JSON_FALSE: snprintf(out, out_len, "false"); break;
  case JSON_NULL: snprintf(out, out_len, "null"); break;
  }
}

static int mismatch(char *why, size_t why_len, size_t index, wp_valtype type, const json_t *value,
                    const char *detail) {
  char got[96];
  describe_json(value, got, sizeof got);
  if (why && why_len)
    snprintf(why, why_len, "argument %zu: expected %s, got %s%s%s", index, wp_valtype_name(type),
             got, detail ? ": " : "", detail ? detail : "");
  return WP_EARG_TYPE;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* "0x" + 1..max_digits hex digits, the whole string. */
static bool parse_hex_bits(const char *s, size_t len, unsigned max_digits, uint64_t *out) {
  if (len < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || len - 2 > max_digits)
    return false;
  uint64_t v = 0;
  for (size_t i = 2; i < len; i++) {
    int d = hex_digit(s[i]);
    if (d < 0)
      return false;
    v = (v << 4) | (uint64_t)d;
  }
  *out = v;
  return true;
}

/* Optional '-' or '+', then 1+ decimal digits, the whole string, magnitude
 * fitting in uint64. */
static bool parse_decimal(const char *s, size_t len, bool *negative, uint64_t *magnitude) {
  size_t i = 0;
  *negative = false;
  if (i < len && (s[i] == '-' || s[i] == '+'))
    *negative = s[i++] == '-';
  if (i == len)
    return false;
  uint64_t v = 0;
  for (; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *magnitude = v;
  return true;
}

/* The text of a JSON string argument. JSON strings may hold \u0000, and
 * "nan\u0000junk" must not read as "nan": such strings are refused. */
static bool string_text(const json_t *value, const char **text, size_t *length) {
  *text = json_string_value(value);
  *length = json_string_length(value);
  return strlen(*text) == *length;
}

/* An integer argument of `bits` (32 or 64) from a JSON integer or string. */
static int parse_int(const json_t *value, unsigned bits, uint64_t *out, const char **detail) {
  bool negative;
  uint64_t magnitude;
  if (json_is_integer(value)) {
    json_int_t v = json_integer_value(value);
    negative = v < 0;
    magnitude = negative ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  } else if (json_is_string(value)) {
    const char *s;
    size_t len;
    if (!string_text(value, &s, &len)) {
      *detail = "not a number";
      return WP_EARG_TYPE;
    }
    if (parse_hex_bits(s, len, bits / 4, out))
      return 0;
    if (!parse_decimal(s, len, &negative, &magnitude)) {
      *detail = "not a decimal or 0x integer";
      return WP_EARG_TYPE;
    }
  } else {
    *detail = NULL;
    return WP_EARG_TYPE;
  }
  uint64_t max_unsigned = bits == 32 ? UINT32_MAX : UINT64_MAX;
  uint64_t max_negative = bits == 32 ? UINT64_C(1) << 31 : UINT64_C(1) << 63;
  if (negative ? magnitude > max_negative : magnitude > max_unsigned) {
    *detail = "out of range";
    return WP_EARG_TYPE;
  }
  uint64_t v = negative ? (uint64_t)0 - magnitude : magnitude;
  *out = bits == 32 ? (uint32_t)v : v;
  return 0;
}

static uint32_t f32_bits(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  return bits;
}

static uint64_t f64_bits(double d) {
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  return bits;
}

/* A float argument of `bits` (32 or 64): out gets the bit pattern. */
static int parse_float(const json_t *value, unsigned bits, uint64_t *out, const char **detail) {
  double d;
  if (json_is_number(value)) {
    d = json_number_value(value);
  } else if (json_is_string(value)) {
    const char *s;
    size_t len;
    if (!string_text(value, &s, &len)) {
      *detail = "not a number";
      return WP_EARG_TYPE;
    }
    if (parse_hex_bits(s, len, bits / 4, out))
      return 0;
    bool sign = s[0] == '-';
    const char *word = (s[0] == '-' || s[0] == '+') ? s + 1 : s;
    if (strcmp(word, "nan") == 0) {
      *out = bits == 32 ? (F32_CANONICAL_NAN | (sign ? F32_SIGN : 0))
                        : (F64_CANONICAL_NAN | (sign ? F64_SIGN : 0));
      return 0;
    }
    if (strcmp(word, "inf") == 0 || strcmp(word, "infinity") == 0) {
      d = sign ? -INFINITY : INFINITY;
    } else {
      char *end;
      /* Plain decimals only: strtod would also take hex floats ("0x1p3"),
       * which would read like bit patterns, and leading spaces. */
      if (len == 0 || strspn(s, "0123456789+-.eE") != len) {
        *detail = "not a number";
        return WP_EARG_TYPE;
      }
      d = strtod(s, &end);
      if (*end != '\0' || !isfinite(d)) {
        *detail = "not a number";
        return WP_EARG_TYPE;
      }
    }
  } else {
    *detail = NULL;
    return WP_EARG_TYPE;
  }
  if (bits == 64) {
    *out = f64_bits(d);
    return 0;
  }
  float f = (float)d;
  if (isfinite(d) && !isfinite(f)) {
    *detail = "out of range for f32";
    return WP_EARG_TYPE;
  }
  *out = f32_bits(f);
  return 0;
}

/* A v128 is a string of 32 hex digits: its 16 bytes in memory order (lane
 * byte 0 first), so any lane shape reads it the way the guest stores it. */
static int parse_v128(const json_t *value, uint8_t out[16], const char **detail) {
  const char *text = json_string_value(value);
  if (!text || strlen(text) != 32) {
    *detail = "a v128 is a string of 32 hex digits (byte 0 first)";
    return WP_EARG_TYPE;
  }
  for (int i = 0; i < 16; i++) {
    unsigned byte = 0;
    for (int k = 0; k < 2; k++) {
      char c = text[2 * i + k];
      unsigned digit = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                       : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                       : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                              : 16u;
      if (digit == 16) {
        *detail = "a v128 is a string of 32 hex digits (byte 0 first)";
        return WP_EARG_TYPE;
      }
      byte = byte * 16 + digit;
    }
    out[i] = (uint8_t)byte;
  }
  return 0;
}

int wp_args_from_json(const json_t *args, const wp_valtype *params, uint32_t param_count,
                      wp_val *out, char *why, size_t why_len) {
  if (!json_is_array(args)) {
    if (why && why_len)
      snprintf(why, why_len, "\"args\" must be an array");
    return WP_EINVAL;
  }
  size_t given = json_array_size(args);
  if (given != param_count) {
    if (why && why_len)
      snprintf(why, why_len, "expected %" PRIu32 " argument%s, got %zu", param_count,
               param_count == 1 ? "" : "s", given);
    return WP_EARG_TYPE;
  }
  for (uint32_t i = 0; i < param_count; i++) {
    const json_t *value = json_array_get(args, i);
    const char *detail = NULL;
    uint64_t bits = 0;
    int rc = 0;
    out[i].type = params[i];
    switch (params[i]) {
    case WP_I32:
      rc = parse_int(value, 32, &bits, &detail);
      out[i].of.i32 = (uint32_t)bits;
      break;
    case WP_I64:
      rc = parse_int(value, 64, &bits, &detail);
      out[i].of.i64 = bits;
      break;
    case WP_F32:
      rc = parse_float(value, 32, &bits, &detail);
      out[i].of.f32_bits = (uint32_t)bits;
      break;
    case WP_F64:
      rc = parse_float(value, 64, &bits, &detail);
      out[i].of.f64_bits = bits;
      break;
    case WP_V128: rc = parse_v128(value, out[i].of.v128, &detail); break;
    case WP_FUNCREF:
    case WP_EXTERNREF:
      if (!json_is_null(value)) {
        rc = WP_EARG_TYPE;
        detail = "only null references can be passed";
      }
      out[i].of.ref = NULL;
      break;
    }
    if (rc)
      return mismatch(why, why_len, i, params[i], value, detail);
  }
  return 0;
}

static json_t *float_to_json(double d, bool is_nan, bool sign, bool canonical, uint64_t bits,
                             unsigned width) {
  char text[24];
  if (is_nan) {
    if (canonical)
      return json_string(sign ? "-nan" : "nan");
    snprintf(text, sizeof text, "0x%0*" PRIx64, (int)(width / 4), bits);
    return json_string(text);
  }
  if (isinf(d))
    return json_string(d < 0 ? "-inf" : "inf");
  return json_real(d);
}

json_t *wp_val_to_json(const wp_val *val) {
  switch (val->type) {
  case WP_V128: {
    char text[33];
    for (int i = 0; i < 16; i++)
      snprintf(text + 2 * i, 3, "%02x", val->of.v128[i]);
    return json_string(text);
  }
  case WP_I32: return json_integer((int32_t)val->of.i32);
  case WP_I64: {
    int64_t v = (int64_t)val->of.i64;
    uint64_t magnitude = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (magnitude <= EXACT_INT_LIMIT)
      return json_integer(v);
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, v);
    return json_string(text);
  }
  case WP_F32: {
    uint32_t bits = val->of.f32_bits;
    float f;
    memcpy(&f, &bits, sizeof f);
    return float_to_json(f, isnan(f), bits & F32_SIGN, (bits & ~F32_SIGN) == F32_CANONICAL_NAN,
                         bits, 32);
  }
  case WP_F64: {
    uint64_t bits = val->of.f64_bits;
    double d;
    memcpy(&d, &bits, sizeof d);
    return float_to_json(d, isnan(d), bits & F64_SIGN, (bits & ~F64_SIGN) == F64_CANONICAL_NAN,
                         bits, 64);
  }
  case WP_FUNCREF: return val->of.ref ? json_string("funcref") : json_null();
  case WP_EXTERNREF: return val->of.ref ? json_string("externref") : json_null();
  }
  return json_null();
}

json_t *wp_results_to_json(const wp_val *results, uint32_t count) {
  json_t *array = json_array();
  if (!array)
    return NULL;
  for (uint32_t i = 0; i < count; i++) {
    json_t *value = wp_val_to_json(&results[i]);
    if (!value || json_array_append_new(array, value) != 0) {
      json_decref(array);
      return NULL;
    }
  }
  return array;
}
