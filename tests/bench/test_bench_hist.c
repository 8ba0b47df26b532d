/* test_bench_hist.c — the latency histogram against exact percentiles.
 *
 * Exact nearest-rank percentiles of sorted random samples are the reference;
 * the histogram must stay within its stated relative error (1/256 from the
 * bucket midpoint, asserted here as < 0.4%, well inside the 1% promised in
 * docs/BENCH_TOOL.md) for every percentile the reports show and more.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "bench_hist.h"
#include "bench_mix.h"
#include "wp_errno.h"

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest rank: the value at rank ceil(p/100 * n), 1-based. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double pct) {
  if (pct <= 0)
    return sorted[0];
  double want = pct / 100.0 * (double)n;
  size_t rank = (size_t)ceil(want - 1e-9);
  if (rank < 1)
    rank = 1;
  if (rank > n)
    rank = n;
  return sorted[rank - 1];
}

static const double pcts[] = {0, 1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100};

static void check_against_exact(uint64_t *values, size_t n) {
  wp_bench_hist *h;
  cr_assert_eq(wp_bench_hist_create(0, &h), 0);
  for (size_t i = 0; i < n; i++)
    wp_bench_hist_record(h, values[i]);
  qsort(values, n, sizeof(*values), cmp_u64);
  cr_assert_eq(h->total, n);
  cr_assert_eq(h->min, values[0]);
  cr_assert_eq(h->max, values[n - 1]);
  for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
    uint64_t exact = exact_percentile(values, n, pcts[k]);
    uint64_t got = wp_bench_hist_percentile(h, pcts[k]);
    double rel = fabs((double)got - (double)exact) / (double)(exact ? exact : 1);
    cr_assert(rel <= 1.0 / 256 + 1e-12, "p%g: got %lu, exact %lu (relative error %g)", pcts[k],
              (unsigned long)got, (unsigned long)exact, rel);
  }
  wp_bench_hist_destroy(h);
}

Test(bench_hist, uniform_random_within_error) {
  uint64_t seed = 7;
  size_t n = 100000;
  uint64_t *v = malloc(n * sizeof(*v));
  for (size_t i = 0; i < n; i++)
    v[i] = 1000 + wp_bench_rng_next(&seed) % 10000000;
  check_against_exact(v, n);
  free(v);
}

Test(bench_hist, log_uniform_random_within_error) {
  /* Latencies spread over many powers of two (1 us .. 10 s), the shape of a
   * real tail, exercise every bucket size. */
  uint64_t seed = 99;
  size_t n = 50000;
  uint64_t *v = malloc(n * sizeof(*v));
  for (size_t i = 0; i < n; i++)
    v[i] = (uint64_t)(1e3 * pow(10, 7 * wp_bench_rng_unit(&seed)));
  check_against_exact(v, n);
  free(v);
}

Test(bench_hist, small_values_are_exact) {
  uint64_t v[300];
  for (size_t i = 0; i < 300; i++)
    v[i] = (i * 37) % 256;
  wp_bench_hist *h;
  cr_assert_eq(wp_bench_hist_create(0, &h), 0);
  for (size_t i = 0; i < 300; i++)
    wp_bench_hist_record(h, v[i]);
  qsort(v, 300, sizeof(v[0]), cmp_u64);
  for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++)
    cr_assert_eq(wp_bench_hist_percentile(h, pcts[k]), exact_percentile(v, 300, pcts[k]), "p%g",
                 pcts[k]);
  wp_bench_hist_destroy(h);
}

Test(bench_hist, buckets_are_contiguous_and_narrow) {
  uint64_t expect_lo = 0;
  for (size_t i = 0; i < wp_bench_hist_index(UINT64_C(1) << 40); i++) {
    uint64_t lo, width;
    wp_bench_hist_bucket_range(i, &lo, &width);
    cr_assert_eq(lo, expect_lo, "bucket %zu starts at %lu, not %lu", i, (unsigned long)lo,
                 (unsigned long)expect_lo);
    cr_assert(width == 1 || width * 128 <= lo, "bucket %zu too wide", i);
    cr_assert_eq(wp_bench_hist_index(lo), i);
    cr_assert_eq(wp_bench_hist_index(lo + width - 1), i);
    expect_lo = lo + width;
  }
}

Test(bench_hist, merge_equals_recording_everything) {
  wp_bench_hist *a, *b, *all;
  cr_assert_eq(wp_bench_hist_create(0, &a), 0);
  cr_assert_eq(wp_bench_hist_create(0, &b), 0);
  cr_assert_eq(wp_bench_hist_create(0, &all), 0);
  uint64_t seed = 3;
  for (int i = 0; i < 20000; i++) {
    uint64_t v = wp_bench_rng_next(&seed) % 50000000;
    wp_bench_hist_record(i % 3 ? a : b, v);
    wp_bench_hist_record(all, v);
  }
  cr_assert_eq(wp_bench_hist_merge(a, b), 0);
  cr_assert_eq(a->total, all->total);
  cr_assert_eq(a->min, all->min);
  cr_assert_eq(a->max, all->max);
  for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++)
    cr_assert_eq(wp_bench_hist_percentile(a, pcts[k]), wp_bench_hist_percentile(all, pcts[k]));
  cr_assert_float_eq(wp_bench_hist_mean(a), wp_bench_hist_mean(all), 1e-6);

  wp_bench_hist *other;
  cr_assert_eq(wp_bench_hist_create(UINT64_C(1) << 30, &other), 0);
  cr_assert_eq(wp_bench_hist_merge(a, other), WP_EINVAL);
  wp_bench_hist_destroy(other);
  wp_bench_hist_destroy(a);
  wp_bench_hist_destroy(b);
  wp_bench_hist_destroy(all);
}

Test(bench_hist, empty_reset_clamp_and_mean) {
  wp_bench_hist *h;
  cr_assert_eq(wp_bench_hist_create(UINT64_C(1) << 20, &h), 0);
  cr_assert_eq(wp_bench_hist_percentile(h, 50), 0);
  cr_assert_eq(wp_bench_hist_mean(h), 0);
  wp_bench_hist_record(h, 100);
  wp_bench_hist_record(h, UINT64_C(1) << 30); /* above highest: clamped bucket, exact max */
  cr_assert_eq(h->max, UINT64_C(1) << 30);
  cr_assert_eq(wp_bench_hist_percentile(h, 100), UINT64_C(1) << 30);
  cr_assert_eq(wp_bench_hist_percentile(h, 50), 100);
  cr_assert_float_eq(wp_bench_hist_mean(h), (100.0 + (double)(1u << 30)) / 2, 1e-3);
  wp_bench_hist_record_n(h, 5, 10);
  cr_assert_eq(h->total, 12);
  cr_assert_eq(wp_bench_hist_percentile(h, 50), 5);
  wp_bench_hist_reset(h);
  cr_assert_eq(h->total, 0);
  cr_assert_eq(wp_bench_hist_percentile(h, 99), 0);
  wp_bench_hist_destroy(h);
  cr_assert_eq(wp_bench_hist_create(10, &h), WP_EINVAL);
}
