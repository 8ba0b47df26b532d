/* test_size_parse.c — sizes ("4GiB") and durations ("30s") of the config:
 * tables of good and bad strings, and format -> parse round trips. */
#include <criterion/criterion.h>
#include <string.h>

#include "config.h"

#define KIB (1ull << 10)
#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define TIB (1ull << 40)

typedef struct good_case {
  const char *text;
  uint64_t value;
} good_case;

typedef struct bad_case {
  const char *text;
  int rc;
  const char *why;
} bad_case;

Test(size_parse, good_sizes) {
  static const good_case cases[] = {
      {"0", 0},
      {"4096", 4096},
      {"1B", 1},
      {"64KiB", 64 * KIB},
      {"512MiB", 512 * MIB},
      {"4GiB", 4 * GIB},
      {"4 GiB", 4 * GIB},
      {"1TiB", TIB},
      {"1.5GiB", GIB + GIB / 2},
      {"0.5KiB", 512},
      {"2kB", 2000},
      {"2KB", 2000},
      {"3MB", 3000000},
      {"1GB", 1000000000},
      {"2TB", 2000000000000ull},
      {"1.5KB", 1500},
      {"0.25MiB", 256 * KIB},
      {"1.000000000000000000GiB", GIB},
      {"16777215TiB", 16777215ull * TIB},
      {"18446744073709551615", UINT64_MAX},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint64_t value = 12345;
    const char *why = NULL;
    int rc = wp_parse_size(cases[i].text, &value, &why);
    cr_expect_eq(rc, 0, "\"%s\": rc %d (%s)", cases[i].text, rc, why ? why : "");
    cr_expect_eq(value, cases[i].value, "\"%s\" gave %llu, want %llu", cases[i].text,
                 (unsigned long long)value, (unsigned long long)cases[i].value);
  }
}

Test(size_parse, bad_sizes) {
  static const bad_case cases[] = {
      {"", WP_EINVAL, "must start with a digit"},
      {"GiB", WP_EINVAL, "must start with a digit"},
      {" 4GiB", WP_EINVAL, "must start with a digit"},
      {"-1", WP_EINVAL, "must start with a digit"},
      {".5GiB", WP_EINVAL, "must start with a digit"},
      {"4.GiB", WP_EINVAL, "needs a digit after the decimal point"},
      {"4GiB ", WP_EINVAL, "has an unknown unit"},
      {"4  GiB", WP_EINVAL, "has an unknown unit"},
      {"4gib", WP_EINVAL, "has an unknown unit"},
      {"4G", WP_EINVAL, "has an unknown unit"},
      {"4GiB5", WP_EINVAL, "has an unknown unit"},
      {"1e3", WP_EINVAL, "has an unknown unit"},
      {"4ms", WP_EINVAL, "has an unknown unit"},
      {"0.1KiB", WP_EINVAL, "is not a whole number of bytes"},
      {"1.3B", WP_EINVAL, "is not a whole number of bytes"},
      {"1.0001kB", WP_EINVAL, "is not a whole number of bytes"},
      {"0.00000000000000000001TiB", WP_EINVAL, "has too many decimal places"},
      {"18446744073709551616", WP_ELIMIT, "too large"},
      {"16777216TiB", WP_ELIMIT, "too large"},
      {"99999999999999999999999", WP_ELIMIT, "too large"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint64_t value = 777;
    const char *why = NULL;
    int rc = wp_parse_size(cases[i].text, &value, &why);
    cr_expect_eq(rc, cases[i].rc, "\"%s\": rc %d, want %d", cases[i].text, rc, cases[i].rc);
    cr_expect(why != NULL && strcmp(why, cases[i].why) == 0, "\"%s\": why \"%s\", want \"%s\"",
              cases[i].text, why ? why : "(null)", cases[i].why);
    cr_expect_eq(value, 777, "\"%s\": output written on failure", cases[i].text);
  }
}

Test(size_parse, good_durations) {
  static const good_case cases[] = {
      {"0ms", 0},     {"500ms", 500},     {"30s", 30000},       {"1 s", 1000},
      {"2m", 120000}, {"1h", 3600000},    {"1.5s", 1500},       {"0.5m", 30000},
      {"0.001s", 1},  {"36h", 129600000}, {"100000ms", 100000},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint64_t value = 12345;
    const char *why = NULL;
    int rc = wp_parse_duration_ms(cases[i].text, &value, &why);
    cr_expect_eq(rc, 0, "\"%s\": rc %d (%s)", cases[i].text, rc, why ? why : "");
    cr_expect_eq(value, cases[i].value, "\"%s\" gave %llu ms, want %llu", cases[i].text,
                 (unsigned long long)value, (unsigned long long)cases[i].value);
  }
}

Test(size_parse, bad_durations) {
  static const bad_case cases[] = {
      {"500", WP_EINVAL, "needs a unit"},
      {"1.5ms", WP_EINVAL, "is not a whole number of milliseconds"},
      {"0.0001s", WP_EINVAL, "is not a whole number of milliseconds"},
      {"1d", WP_EINVAL, "has an unknown unit"},
      {"1sec", WP_EINVAL, "has an unknown unit"},
      {"1us", WP_EINVAL, "has an unknown unit"},
      {"s", WP_EINVAL, "must start with a digit"},
      {"-1s", WP_EINVAL, "must start with a digit"},
      {"99999999999999999999s", WP_ELIMIT, "too large"},
      {"5124095576030432h", WP_ELIMIT, "too large"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint64_t value = 777;
    const char *why = NULL;
    int rc = wp_parse_duration_ms(cases[i].text, &value, &why);
    cr_expect_eq(rc, cases[i].rc, "\"%s\": rc %d, want %d", cases[i].text, rc, cases[i].rc);
    cr_expect(why != NULL && strcmp(why, cases[i].why) == 0, "\"%s\": why \"%s\", want \"%s\"",
              cases[i].text, why ? why : "(null)", cases[i].why);
    cr_expect_eq(value, 777, "\"%s\": output written on failure", cases[i].text);
  }
}

Test(size_parse, format_picks_the_largest_exact_unit) {
  static const struct {
    uint64_t value;
    const char *size, *duration;
  } cases[] = {
      {0, "0B", "0ms"},
      {1, "1B", "1ms"},
      {1000, "1000B", "1s"},
      {1536, "1536B", "1536ms"},
      {4096, "4KiB", "4096ms"},
      {90000, "90000B", "90s"},
      {120000, "120000B", "2m"},
      {7200000, "7200000B", "2h"},
      {4 * GIB, "4GiB", "4294967296ms"},
      {3 * TIB, "3TiB", "3298534883328ms"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char buf[64];
    wp_format_size(cases[i].value, buf, sizeof(buf));
    cr_expect_str_eq(buf, cases[i].size, "size %llu", (unsigned long long)cases[i].value);
    wp_format_duration(cases[i].value, buf, sizeof(buf));
    cr_expect_str_eq(buf, cases[i].duration, "duration %llu", (unsigned long long)cases[i].value);
  }
}

Test(size_parse, format_then_parse_is_identity) {
  static const uint64_t values[] = {
      0,         1, 999, 1024, 4097, 65536, 3 * MIB + 4096, 5 * GIB, UINT64_MAX, UINT64_MAX - 1,
      1ull << 63};
  for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
    char buf[64];
    uint64_t back = 0;
    const char *why = NULL;
    wp_format_size(values[i], buf, sizeof(buf));
    cr_expect_eq(wp_parse_size(buf, &back, &why), 0, "size \"%s\"", buf);
    cr_expect_eq(back, values[i], "size \"%s\"", buf);
    wp_format_duration(values[i], buf, sizeof(buf));
    cr_expect_eq(wp_parse_duration_ms(buf, &back, &why), 0, "duration \"%s\"", buf);
    cr_expect_eq(back, values[i], "duration \"%s\"", buf);
  }
}
