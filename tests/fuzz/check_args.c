/* check_args.c — wp_fuzz_args(): the daemon's JSON argument decoder
 * (daemon/args.h) on one arbitrary call body.
 *
 * The body goes the way handlers.c takes it: wp_json_load() (any JSON
 * value), wp_json_call_args() (the "args" array), then wp_args_from_json()
 * against several signatures of the array's length: one per value type,
 * two mixed ones, and one spelled by the input's own bytes so the fuzzer can
 * steer it. A refusal must be WP_EARG_TYPE with a message. An acceptance
 * must give values of the signature's types, and those values must survive
 * the way back: wp_results_to_json(), JSON text, wp_json_load(), and a
 * second decode to the same bits (a NaN payload or an i64 past 2^53 that
 * changed on the way would be a silent wrong answer to a client).
 */
#include "fuzz_targets.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "proto.h"
#include "wp_errno.h"

/* Longer arrays only exercise the count check; a signature this long is
 * already past anything the decoder treats differently. */
#define MAX_PARAMS 32

static const wp_valtype all_types[] = {WP_I32, WP_I64, WP_F32, WP_F64, WP_FUNCREF, WP_EXTERNREF};
#define TYPE_COUNT (sizeof all_types / sizeof all_types[0])

static int fail(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t why_len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (why && why_len)
    vsnprintf(why, why_len, fmt, ap);
  va_end(ap);
  return -1;
}

static bool same_value(const wp_val *a, const wp_val *b) {
  if (a->type != b->type)
    return false;
  switch (a->type) {
  case WP_I32: return a->of.i32 == b->of.i32;
  case WP_I64: return a->of.i64 == b->of.i64;
  case WP_F32: return a->of.f32_bits == b->of.f32_bits;
  case WP_F64: return a->of.f64_bits == b->of.f64_bits;
  case WP_V128: return memcmp(a->of.v128, b->of.v128, 16) == 0;
  case WP_FUNCREF:
  case WP_EXTERNREF: return a->of.ref == b->of.ref;
  }
  return false;
}

/* The JSON kind args.h promises for each answered value: clients read
 * numbers as doubles, so an i64 past 2^53, a NaN or an infinity must be a
 * string, never a number that a client would round. */
static bool json_kind_ok(const wp_val *val, const json_t *json) {
  switch (val->type) {
  case WP_I32: return json_is_integer(json);
  case WP_I64: {
    int64_t v = (int64_t)val->of.i64;
    uint64_t magnitude = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    return magnitude <= (UINT64_C(1) << 53) ? json_is_integer(json) : json_is_string(json);
  }
  case WP_F32: {
    uint32_t exponent = (val->of.f32_bits >> 23) & 0xff;
    return exponent == 0xff ? json_is_string(json) : json_is_real(json);
  }
  case WP_F64: {
    uint64_t exponent = (val->of.f64_bits >> 52) & 0x7ff;
    return exponent == 0x7ff ? json_is_string(json) : json_is_real(json);
  }
  case WP_V128: return json_is_string(json);
  case WP_FUNCREF:
  case WP_EXTERNREF: return val->of.ref ? json_is_string(json) : json_is_null(json);
  }
  return false;
}

/* Encodes vals as a results array, prints and re-parses it as a client
 * would, and decodes it again with the same signature. */
static int check_round_trip(const wp_val *vals, const wp_valtype *sig, uint32_t count, char *why,
                            size_t why_len) {
  json_t *encoded = wp_results_to_json(vals, count);
  if (encoded == NULL)
    return fail(why, why_len, "wp_results_to_json failed");
  if (json_array_size(encoded) != count) {
    json_decref(encoded);
    return fail(why, why_len, "%zu results encoded for %u values", json_array_size(encoded), count);
  }
  for (uint32_t i = 0; i < count; i++) {
    if (!json_kind_ok(&vals[i], json_array_get(encoded, i))) {
      json_decref(encoded);
      return fail(why, why_len, "value %u (%s) encoded as the wrong JSON kind", i,
                  wp_valtype_name(vals[i].type));
    }
  }
  char *text = json_dumps(encoded, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(encoded);
  if (text == NULL)
    return fail(why, why_len, "encoded results do not print");
  json_t *reparsed = NULL;
  char load_why[256] = "";
  int result = 0;
  if (wp_json_load(text, strlen(text), &reparsed, load_why, sizeof load_why) != 0) {
    result = fail(why, why_len, "encoded results %s do not parse: %s", text, load_why);
    goto out;
  }
  wp_val again[MAX_PARAMS];
  char decode_why[256] = "";
  int rc = wp_args_from_json(reparsed, sig, count, again, decode_why, sizeof decode_why);
  if (rc != 0) {
    result = fail(why, why_len, "encoded results %s do not decode: %s", text, decode_why);
    goto out;
  }
  for (uint32_t i = 0; i < count; i++) {
    if (!same_value(&vals[i], &again[i])) {
      result = fail(why, why_len, "value %u (%s) changed on the round trip through %s", i,
                    wp_valtype_name(sig[i]), text);
      goto out;
    }
  }
out:
  json_decref(reparsed);
  free(text);
  return result;
}

static int check_signature(const json_t *args, const wp_valtype *sig, uint32_t count, char *why,
                           size_t why_len) {
  wp_val vals[MAX_PARAMS];
  char decode_why[256];
  memset(decode_why, 'x', sizeof decode_why);
  int rc = wp_args_from_json(args, sig, count, vals, decode_why, sizeof decode_why);
  if (rc != 0) {
    if (rc != WP_EARG_TYPE)
      return fail(why, why_len, "refusal with code %d, not WP_EARG_TYPE", rc);
    if (memchr(decode_why, '\0', sizeof decode_why) == NULL || decode_why[0] == '\0')
      return fail(why, why_len, "refusal without a terminated message");
    return 0;
  }
  for (uint32_t i = 0; i < count; i++) {
    if (vals[i].type != sig[i])
      return fail(why, why_len, "value %u has type %d, signature says %d", i, (int)vals[i].type,
                  (int)sig[i]);
  }
  return check_round_trip(vals, sig, count, why, why_len);
}

int wp_fuzz_args(const uint8_t *data, size_t size, char *why, size_t why_len) {
  json_t *body = NULL;
  char load_why[256] = "";
  if (size > 0 && wp_json_load((const char *)data, size, &body, load_why, sizeof load_why) != 0)
    return load_why[0] ? 0 : fail(why, why_len, "unparsable body refused without a message");
  json_t *args = NULL;
  int rc = wp_json_call_args(body, &args, load_why, sizeof load_why);
  json_decref(body);
  if (rc != 0)
    return rc == WP_EBAD_REQUEST || rc == WP_ENOMEM
               ? 0
               : fail(why, why_len, "wp_json_call_args returned %d", rc);

  int result = 0;
  size_t given = json_array_size(args);
  wp_valtype sig[MAX_PARAMS];
  if (given > MAX_PARAMS) {
    /* Only the count check applies: it must refuse, not read past sig. */
    for (uint32_t i = 0; i < MAX_PARAMS; i++)
      sig[i] = WP_I32;
    wp_val vals[MAX_PARAMS];
    char decode_why[256] = "";
    if (wp_args_from_json(args, sig, MAX_PARAMS, vals, decode_why, sizeof decode_why) !=
        WP_EARG_TYPE)
      result = fail(why, why_len, "%zu arguments accepted for %d parameters", given, MAX_PARAMS);
    goto out;
  }
  uint32_t count = (uint32_t)given;
  for (size_t t = 0; t < TYPE_COUNT + 3 && result == 0; t++) {
    for (uint32_t i = 0; i < count; i++) {
      if (t < TYPE_COUNT)
        sig[i] = all_types[t]; /* every parameter of one type */
      else if (t == TYPE_COUNT)
        sig[i] = all_types[i % 4]; /* i32 i64 f32 f64 ... */
      else if (t == TYPE_COUNT + 1)
        sig[i] = all_types[(i + 3) % TYPE_COUNT]; /* f64 funcref externref i32 ... */
      else
        sig[i] = all_types[data[i % size] % TYPE_COUNT]; /* chosen by the input */
    }
    result = check_signature(args, sig, count, why, why_len);
  }
  /* One parameter too many must be a count mismatch, never a read past args. */
  if (result == 0 && count < MAX_PARAMS) {
    for (uint32_t i = 0; i <= count; i++)
      sig[i] = WP_F64;
    wp_val vals[MAX_PARAMS];
    char decode_why[256] = "";
    if (wp_args_from_json(args, sig, count + 1, vals, decode_why, sizeof decode_why) !=
        WP_EARG_TYPE)
      result = fail(why, why_len, "%u arguments accepted for %u parameters", count, count + 1);
  }
out:
  json_decref(args);
  return result;
}
