/* test_bench_mix.c — mix documents and the weighted choice of entries. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "bench_mix.h"
#include "wp_errno.h"

static char why[512];

static int parse(const char *doc, wp_bench_mix **out) {
  return wp_bench_mix_parse(doc, strlen(doc), out, why, sizeof(why));
}

#define EXPECT_BAD(needle, doc)                                                                    \
  do {                                                                                             \
    wp_bench_mix *m_ = NULL;                                                                       \
    cr_assert_eq(parse(doc, &m_), WP_EINVAL, "accepted %s", doc);                                  \
    cr_assert_null(m_);                                                                            \
    cr_assert(strstr(why, needle) != NULL, "message \"%s\" lacks \"%s\"", why, needle);            \
  } while (0)

Test(bench_mix, full_document) {
  wp_bench_mix *m;
  const char *doc =
      "{\"requests\": ["
      " {\"weight\": 8, \"kind\": \"call\", \"module\": \"add\", \"export\": \"add\", \"args\": "
      "[1, 2]},"
      " {\"weight\": 2, \"kind\": \"run\", \"module\": \"hello\", \"body\": \"wor\\u0000ld\","
      "  \"args\": [\"-v\", 3]},"
      " {\"kind\": \"instantiate\", \"module\": \"big.data\"},"
      " {\"kind\": \"instance-call\", \"module\": \"r\", \"export\": \"get\", \"name\": "
      "\"counter\"},"
      " {\"weight\": 0.5, \"kind\": \"call\", \"module\": \"trap\", \"export\": \"spin\","
      "  \"deadline_ms\": 5, \"expect\": 504}]}";
  cr_assert_eq(parse(doc, &m), 0, "%s", why);
  cr_assert_eq(m->count, 5);
  cr_assert_eq(m->entries[0].kind, WP_BENCH_CALL);
  cr_assert_float_eq(m->entries[0].weight, 8, 1e-12);
  cr_assert_str_eq(m->entries[0].name, "call add/add");
  cr_assert_eq(json_array_size(m->entries[0].args), 2);
  cr_assert_eq(m->entries[1].kind, WP_BENCH_RUN);
  cr_assert_eq(m->entries[1].body_len, 6, "the body keeps its NUL");
  cr_assert_str_eq(json_string_value(json_array_get(m->entries[1].args, 1)), "3");
  cr_assert_eq(m->entries[2].kind, WP_BENCH_INSTANTIATE);
  cr_assert_float_eq(m->entries[2].weight, 1, 1e-12);
  cr_assert_null(m->entries[2].args);
  cr_assert_eq(m->entries[3].kind, WP_BENCH_INSTANCE_CALL);
  cr_assert_str_eq(m->entries[3].name, "counter");
  cr_assert_eq(json_array_size(m->entries[3].args), 0, "a call without args sends []");
  cr_assert_eq(m->entries[4].deadline_ms, 5);
  cr_assert_eq(m->entries[4].expect_status, 504);
  cr_assert_float_eq(m->cumulative[4], 12.5, 1e-12);
  cr_assert(wp_bench_mix_has_kind(m, WP_BENCH_INSTANCE_CALL));
  wp_bench_mix_destroy(m);

  cr_assert_eq(parse("[{\"kind\":\"run\",\"module\":\"h\"}]", &m), 0, "%s", why);
  cr_assert_eq(m->count, 1);
  cr_assert(!wp_bench_mix_has_kind(m, WP_BENCH_INSTANCE_CALL));
  wp_bench_mix_destroy(m);
}

Test(bench_mix, bad_documents) {
  EXPECT_BAD("line 1", "{\"requests\": [");
  EXPECT_BAD("expected {\"requests\"", "{\"requests\": 5}");
  EXPECT_BAD("unknown top-level key \"request\"", "{\"request\": []}");
  EXPECT_BAD("1..64 entries", "{\"requests\": []}");
  EXPECT_BAD("requests[0]: must be an object", "[5]");
  EXPECT_BAD("requests[0].kind", "[{\"module\":\"a\"}]");
  EXPECT_BAD("requests[0].kind", "[{\"kind\":\"invoke\",\"module\":\"a\"}]");
  EXPECT_BAD("requests[0].module: missing", "[{\"kind\":\"run\"}]");
  EXPECT_BAD("requests[0].module: must be a module name",
             "[{\"kind\":\"run\",\"module\":\"a/b\"}]");
  EXPECT_BAD("requests[1].export: missing",
             "[{\"kind\":\"run\",\"module\":\"a\"},{\"kind\":\"call\",\"module\":\"a\"}]");
  EXPECT_BAD("only call and instance_call take one",
             "[{\"kind\":\"run\",\"module\":\"a\",\"export\":\"f\"}]");
  EXPECT_BAD("only run takes a body",
             "[{\"kind\":\"call\",\"module\":\"a\",\"export\":\"f\",\"body\":\"x\"}]");
  EXPECT_BAD("instantiate takes none", "[{\"kind\":\"instantiate\",\"module\":\"a\",\"args\":[]}]");
  EXPECT_BAD("weight: must be a number", "[{\"kind\":\"run\",\"module\":\"a\",\"weight\":0}]");
  EXPECT_BAD("weight: must be a number", "[{\"kind\":\"run\",\"module\":\"a\",\"weight\":\"2\"}]");
  EXPECT_BAD("expect: must be an HTTP status",
             "[{\"kind\":\"run\",\"module\":\"a\",\"expect\":1000}]");
  EXPECT_BAD("deadline_ms: must be an integer",
             "[{\"kind\":\"run\",\"module\":\"a\",\"deadline_ms\":0}]");
  EXPECT_BAD("args: must be an array",
             "[{\"kind\":\"call\",\"module\":\"a\",\"export\":\"f\",\"args\":1}]");
  EXPECT_BAD("a run argument must be a string or number",
             "[{\"kind\":\"run\",\"module\":\"a\",\"args\":[[1]]}]");
  EXPECT_BAD("unknown key \"wieght\"", "[{\"kind\":\"run\",\"module\":\"a\",\"wieght\":2}]");
}

Test(bench_mix, pick_boundaries) {
  wp_bench_mix *m;
  cr_assert_eq(parse("[{\"kind\":\"run\",\"module\":\"a\",\"weight\":1},"
                     "{\"kind\":\"run\",\"module\":\"b\",\"weight\":3}]",
                     &m),
               0, "%s", why);
  cr_assert_eq(wp_bench_mix_pick(m, 0.0), 0);
  cr_assert_eq(wp_bench_mix_pick(m, 0.2499), 0);
  cr_assert_eq(wp_bench_mix_pick(m, 0.25), 1);
  cr_assert_eq(wp_bench_mix_pick(m, 0.999999), 1);
  wp_bench_mix_destroy(m);
}

Test(bench_mix, weighted_selection_proportions) {
  wp_bench_mix *m;
  cr_assert_eq(parse("[{\"kind\":\"run\",\"module\":\"a\",\"weight\":8},"
                     "{\"kind\":\"run\",\"module\":\"b\",\"weight\":1},"
                     "{\"kind\":\"run\",\"module\":\"c\",\"weight\":0.5},"
                     "{\"kind\":\"run\",\"module\":\"d\",\"weight\":0.5}]",
                     &m),
               0, "%s", why);
  const double share[] = {0.8, 0.1, 0.05, 0.05};
  uint64_t counts[4] = {0};
  const int n = 200000;
  uint64_t rng = 12345;
  for (int i = 0; i < n; i++)
    counts[wp_bench_mix_pick(m, wp_bench_rng_unit(&rng))]++;
  for (int i = 0; i < 4; i++) {
    /* Five standard deviations of a binomial count. */
    double mean = n * share[i];
    double sd = sqrt(n * share[i] * (1 - share[i]));
    cr_assert(fabs((double)counts[i] - mean) < 5 * sd, "entry %d: %lu picks, expected %.0f +- %.0f",
              i, (unsigned long)counts[i], mean, 5 * sd);
  }
  wp_bench_mix_destroy(m);
}

Test(bench_mix, rng_is_seeded_and_in_range) {
  uint64_t a = 5, b = 5, c = 6;
  for (int i = 0; i < 1000; i++) {
    double u = wp_bench_rng_unit(&a);
    cr_assert(u >= 0 && u < 1);
    cr_assert_eq(u, wp_bench_rng_unit(&b), "same seed, same sequence");
  }
  int same = 0;
  for (int i = 0; i < 100; i++)
    same += wp_bench_rng_next(&a) == wp_bench_rng_next(&c);
  cr_assert_lt(same, 2, "different seeds, different sequences");
}
