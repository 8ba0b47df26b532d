/* args.h — typed JSON <-> wp_val for call arguments and results.
 *
 * The call endpoints carry {"args":[...]} and answer {"results":[...]}. JSON
 * has one number type; Wasm has four, with ranges JSON numbers cannot all
 * hold exactly. The rules (docs/API.md and docs/DAEMON.md):
 *
 *   i32  JSON integer in [-2^31, 2^32-1] (signed and unsigned both accepted),
 *        or a string with such a decimal or a "0x" hex (up to 8 digits).
 *        Answered as a signed JSON integer.
 *   i64  JSON integer, or a string with a decimal in [-2^63, 2^64-1] or a
 *        "0x" hex of up to 16 digits (JSON parsers lose integers past 2^53).
 *        Answered as a signed JSON integer when |v| <= 2^53, else as a
 *        string holding the signed decimal.
 *   f32, f64  JSON number (integer or real), or a string: "nan", "-nan",
 *        "inf", "+inf", "-inf", a decimal strtod reads whole, or "0x" with
 *        the exact bit pattern (up to 8 / 16 hex digits, for NaN payloads).
 *        A finite number out of f32's range is refused (not rounded to inf).
 *        Answered as a JSON number when finite; "inf", "-inf"; "nan" for
 *        the canonical quiet NaN (0x7fc00000 / 0x7ff8000000000000), "-nan"
 *        for it with the sign set, and any other NaN as its "0x..." bits.
 *   funcref, externref  only null in arguments; a non-null result is
 *        answered as the string "funcref" / "externref" (it has no JSON form).
 *
 * A count or type mismatch is WP_EARG_TYPE with why naming the argument
 * ("argument 1: expected i32, got string \"abc\"").
 *
 * Pure functions: no I/O, no global state (a fuzz target wraps them).
 */
#ifndef WP_DAEMON_ARGS_H
#define WP_DAEMON_ARGS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "instance.h"

/* Converts args (a JSON array) to out[0..param_count) per params.
 * WP_EARG_TYPE with why filled on a mismatch; WP_EINVAL if args is not an
 * array. */
int wp_args_from_json(const json_t *args, const wp_valtype *params, uint32_t param_count,
                      wp_val *out, char *why, size_t why_len);

/* One value to JSON (new reference; NULL when out of memory). */
json_t *wp_val_to_json(const wp_val *val);

/* results[0..count) as a new JSON array (NULL when out of memory). */
json_t *wp_results_to_json(const wp_val *results, uint32_t count);

#endif /* WP_DAEMON_ARGS_H */
