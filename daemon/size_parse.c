/* size_parse.c — sizes ("4GiB") and durations ("30s") written as strings in
 * the config, and the reverse for `wasmpoold --check-config`.
 *
 * Grammar (no leading or trailing blanks; at most one space before the unit):
 *   size     = number [" "] unit-of-size      unit: B KiB MiB GiB TiB kB KB MB GB TB
 *                                               (a bare number means bytes)
 *   duration = number [" "] unit-of-time      unit: ms s m h (a unit is required)
 *   number   = digits ["." digits]
 *
 * A fraction is accepted only when the result is a whole number of the base
 * unit ("1.5GiB" is 1610612736 bytes; "0.1KiB" and "1.5ms" are refused), so
 * what is written is exactly what is used. The arithmetic is done in 128 bits
 * so that no digit string can overflow silently.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"

typedef struct unit {
  const char *name;
  uint64_t scale;
} unit;

static const unit size_units[] = {
    {"B", 1},
    {"KiB", 1ull << 10},
    {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},
    {"TiB", 1ull << 40},
    {"kB", 1000ull},
    {"KB", 1000ull},
    {"MB", 1000ull * 1000},
    {"GB", 1000ull * 1000 * 1000},
    {"TB", 1000ull * 1000 * 1000 * 1000},
};

static const unit duration_units[] = {
    {"ms", 1},
    {"s", 1000},
    {"m", 60 * 1000},
    {"h", 60 * 60 * 1000},
};

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* Parses number, optional space and unit from text; units[] is searched for
 * the suffix (bare numbers use bare_scale, 0 = a unit is required). */
static int parse_scaled(const char *text, const unit *units, size_t unit_count, uint64_t bare_scale,
                        const char *not_whole, uint64_t *out, const char **why) {
  typedef unsigned __int128 u128;
  const char *p = text;
  u128 whole = 0, fraction = 0, fraction_scale = 1;

  if (!is_digit(*p)) {
    *why = "must start with a digit";
    return WP_EINVAL;
  }
  for (; is_digit(*p); p++) {
    whole = whole * 10 + (u128)(*p - '0');
    if (whole > UINT64_MAX) {
      *why = "too large";
      return WP_ELIMIT;
    }
  }
  if (*p == '.') {
    p++;
    if (!is_digit(*p)) {
      *why = "needs a digit after the decimal point";
      return WP_EINVAL;
    }
    for (; is_digit(*p); p++) {
      /* 10^19 still fits with a 2^40 scale in 128 bits; more digits than
       * that cannot describe a whole byte of any unit we have. */
      if (fraction_scale >= (u128)10000000000000000000ull) {
        *why = "has too many decimal places";
        return WP_EINVAL;
      }
      fraction = fraction * 10 + (u128)(*p - '0');
      fraction_scale *= 10;
    }
  }
  if (*p == ' ')
    p++;

  uint64_t scale = 0;
  if (*p == '\0') {
    scale = bare_scale;
    if (scale == 0) {
      *why = "needs a unit";
      return WP_EINVAL;
    }
  } else {
    for (size_t i = 0; i < unit_count; i++) {
      if (strcmp(p, units[i].name) == 0) {
        scale = units[i].scale;
        break;
      }
    }
    if (scale == 0) {
      *why = "has an unknown unit";
      return WP_EINVAL;
    }
  }

  u128 scaled_fraction = fraction * scale;
  if (scaled_fraction % fraction_scale != 0) {
    *why = not_whole;
    return WP_EINVAL;
  }
  u128 total = whole * scale + scaled_fraction / fraction_scale;
  if (total > UINT64_MAX) {
    *why = "too large";
    return WP_ELIMIT;
  }
  *out = (uint64_t)total;
  return 0;
}

int wp_parse_size(const char *text, uint64_t *out, const char **why) {
  return parse_scaled(text, size_units, sizeof(size_units) / sizeof(size_units[0]), 1,
                      "is not a whole number of bytes", out, why);
}

int wp_parse_duration_ms(const char *text, uint64_t *out, const char **why) {
  return parse_scaled(text, duration_units, sizeof(duration_units) / sizeof(duration_units[0]), 0,
                      "is not a whole number of milliseconds", out, why);
}

/* Picks the largest unit that divides value exactly (binary units for sizes,
 * so 4GiB prints as "4GiB", not "4294967296"). */
static void format_scaled(uint64_t value, const unit *units, size_t unit_count, char *buf,
                          size_t len) {
  const unit *best = value == 0 ? &units[0] : NULL; /* "0B", "0ms" */
  for (size_t i = 0; i < unit_count; i++) {
    if (value != 0 && value % units[i].scale == 0 && (best == NULL || units[i].scale > best->scale))
      best = &units[i];
  }
  if (best == NULL)
    snprintf(buf, len, "%llu", (unsigned long long)value);
  else
    snprintf(buf, len, "%llu%s", (unsigned long long)(value / best->scale), best->name);
}

void wp_format_size(uint64_t bytes, char *buf, size_t len) {
  /* Binary units only: decimal ones would make 1000 print as "1kB". */
  format_scaled(bytes, size_units, 5, buf, len);
}

void wp_format_duration(uint64_t ms, char *buf, size_t len) {
  format_scaled(ms, duration_units, sizeof(duration_units) / sizeof(duration_units[0]), buf, len);
}
