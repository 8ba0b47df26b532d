/* bench_hist.c — the log-linear histogram of bench_hist.h.
 *
 * Index of a value v: v itself below 2 * SUB (256); else with e = floor(log2 v)
 * and shift = e - SUB_BITS, the top SUB_BITS+1 bits of v select one of SUB
 * buckets in that power of two:
 *   index = 2*SUB + (e - SUB_BITS - 1) * SUB + ((v >> shift) - SUB)
 * which continues the exact range without a gap.
 */
#include "bench_hist.h"

#include <stdlib.h>
#include <string.h>

#include "wp_errno.h"

#define SUB ((uint64_t)1 << WP_BENCH_HIST_SUB_BITS)

static int floor_log2(uint64_t v) {
  return 63 - __builtin_clzll(v);
}

size_t wp_bench_hist_index(uint64_t value) {
  if (value < 2 * SUB)
    return (size_t)value;
  int e = floor_log2(value);
  int shift = e - WP_BENCH_HIST_SUB_BITS;
  return (size_t)(2 * SUB + (uint64_t)(e - WP_BENCH_HIST_SUB_BITS - 1) * SUB +
                  ((value >> shift) - SUB));
}

void wp_bench_hist_bucket_range(size_t index, uint64_t *lo, uint64_t *width) {
  if (index < 2 * SUB) {
    *lo = index;
    *width = 1;
    return;
  }
  uint64_t rel = index - 2 * SUB;
  int shift = (int)(rel / SUB) + 1;
  uint64_t mantissa = SUB + rel % SUB;
  *lo = mantissa << shift;
  *width = (uint64_t)1 << shift;
}

int wp_bench_hist_create(uint64_t highest, wp_bench_hist **out) {
  *out = NULL;
  if (highest == 0)
    highest = WP_BENCH_HIST_DEFAULT_MAX;
  if (highest < 2 * SUB || highest > (UINT64_C(1) << 62))
    return WP_EINVAL;
  wp_bench_hist *hist = calloc(1, sizeof(*hist));
  if (hist == NULL)
    return WP_ENOMEM;
  hist->highest = highest;
  hist->bucket_count = wp_bench_hist_index(highest) + 1;
  hist->counts = calloc(hist->bucket_count, sizeof(*hist->counts));
  if (hist->counts == NULL) {
    free(hist);
    return WP_ENOMEM;
  }
  wp_bench_hist_reset(hist);
  *out = hist;
  return 0;
}

void wp_bench_hist_destroy(wp_bench_hist *hist) {
  if (hist == NULL)
    return;
  free(hist->counts);
  free(hist);
}

void wp_bench_hist_reset(wp_bench_hist *hist) {
  memset(hist->counts, 0, hist->bucket_count * sizeof(*hist->counts));
  hist->total = 0;
  hist->min = UINT64_MAX;
  hist->max = 0;
  hist->sum = 0;
}

void wp_bench_hist_record_n(wp_bench_hist *hist, uint64_t value, uint64_t count) {
  if (count == 0)
    return;
  uint64_t clamped = value > hist->highest ? hist->highest : value;
  hist->counts[wp_bench_hist_index(clamped)] += count;
  hist->total += count;
  if (value < hist->min)
    hist->min = value;
  if (value > hist->max)
    hist->max = value;
  hist->sum += (long double)value * (long double)count;
}

void wp_bench_hist_record(wp_bench_hist *hist, uint64_t value) {
  wp_bench_hist_record_n(hist, value, 1);
}

int wp_bench_hist_merge(wp_bench_hist *dst, const wp_bench_hist *src) {
  if (dst->highest != src->highest)
    return WP_EINVAL;
  for (size_t i = 0; i < src->bucket_count; i++)
    dst->counts[i] += src->counts[i];
  dst->total += src->total;
  if (src->min < dst->min)
    dst->min = src->min;
  if (src->max > dst->max)
    dst->max = src->max;
  dst->sum += src->sum;
  return 0;
}

uint64_t wp_bench_hist_percentile(const wp_bench_hist *hist, double pct) {
  if (hist->total == 0)
    return 0;
  if (pct <= 0)
    return hist->min;
  if (pct >= 100)
    return hist->max;
  /* Nearest rank: ceil(pct/100 * N), at least 1. The small epsilon keeps
   * 99.9% of 1000 at rank 999 despite binary rounding of 0.999. */
  long double want = (long double)pct / 100.0L * (long double)hist->total;
  uint64_t rank = (uint64_t)(want - 1e-9L);
  if ((long double)rank < want - 1e-9L)
    rank++;
  if (rank == 0)
    rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < hist->bucket_count; i++) {
    seen += hist->counts[i];
    if (seen < rank)
      continue;
    uint64_t lo, width;
    wp_bench_hist_bucket_range(i, &lo, &width);
    uint64_t mid = lo + (width - 1) / 2;
    if (mid < hist->min)
      mid = hist->min;
    if (mid > hist->max)
      mid = hist->max;
    return mid;
  }
  return hist->max;
}

double wp_bench_hist_mean(const wp_bench_hist *hist) {
  if (hist->total == 0)
    return 0;
  return (double)(hist->sum / (long double)hist->total);
}
