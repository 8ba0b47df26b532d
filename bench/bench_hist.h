/* bench_hist.h — log-linear latency histogram of wasmpool-bench.
 *
 * HdrHistogram's layout, simplified: values below 256 get one bucket each;
 * above, every power of two [2^e, 2^(e+1)) is cut into 128 equal buckets, so
 * a bucket is never wider than 1/128 of its lower bound. A percentile is
 * answered with the midpoint of the bucket holding the value of that rank,
 * clamped to the exact min and max, so it is within 1/256 (0.4%) of the
 * exact nearest-rank percentile of the recorded values. Values above the
 * highest trackable value land in the last bucket (max stays exact).
 *
 * Histograms with the same highest trackable value merge by adding counts,
 * so each connection records into its own and the report merges them.
 * Values are unitless; the bench tool records nanoseconds.
 */
#ifndef WP_BENCH_HIST_H
#define WP_BENCH_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 128 sub-buckets per power of two: relative bucket width <= 1/128. */
#define WP_BENCH_HIST_SUB_BITS 7
/* Default highest trackable value: 2^37 ns, about 137 s. */
#define WP_BENCH_HIST_DEFAULT_MAX (UINT64_C(1) << 37)

typedef struct wp_bench_hist {
  uint64_t *counts;
  size_t bucket_count;
  uint64_t highest; /* highest trackable value (larger ones clamp) */
  uint64_t total;   /* values recorded */
  uint64_t min;     /* exact; UINT64_MAX when empty */
  uint64_t max;     /* exact; 0 when empty */
  long double sum;  /* for the mean; long double so 1e9 ns values don't lose bits */
} wp_bench_hist;

/* highest 0 means WP_BENCH_HIST_DEFAULT_MAX. WP_EINVAL, WP_ENOMEM. */
int wp_bench_hist_create(uint64_t highest, wp_bench_hist **out);
void wp_bench_hist_destroy(wp_bench_hist *hist);

void wp_bench_hist_record(wp_bench_hist *hist, uint64_t value);
/* record count copies of value at once. */
void wp_bench_hist_record_n(wp_bench_hist *hist, uint64_t value, uint64_t count);
void wp_bench_hist_reset(wp_bench_hist *hist);
/* dst += src. WP_EINVAL when their highest trackable values differ. */
int wp_bench_hist_merge(wp_bench_hist *dst, const wp_bench_hist *src);

/* The value at percentile pct (0..100) by nearest rank: the smallest
 * recorded value v such that at least pct% of the values are <= v, within
 * the stated error. 0 for an empty histogram; pct <= 0 gives min, pct >= 100
 * gives max (both exact). */
uint64_t wp_bench_hist_percentile(const wp_bench_hist *hist, double pct);
double wp_bench_hist_mean(const wp_bench_hist *hist);

/* Bucket maths, exposed for the tests. */
size_t wp_bench_hist_index(uint64_t value);
/* Lowest value of bucket index and its width (values lo .. lo+width-1). */
void wp_bench_hist_bucket_range(size_t index, uint64_t *lo, uint64_t *width);

#endif /* WP_BENCH_HIST_H */
