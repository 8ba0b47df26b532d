/* test_bench_pace.c — the open-loop schedule and coordinated omission.
 *
 * The simulation drives the pacer, the latency rule and the histogram the
 * way bench_run.c does, against a simulated server that answers in 100 us
 * but stalls once for one second. Measured from the intended send time the
 * stall must dominate the tail; measured from the actual send (what a
 * naive load generator reports) it almost vanishes. Both are asserted, so
 * the test fails if the correction is lost.
 */
#include <criterion/criterion.h>

#include "bench_hist.h"
#include "bench_pace.h"

#define MS 1000000ull
#define US 1000ull

Test(bench_pace, intended_times_follow_the_rate) {
  wp_bench_pacer p;
  wp_bench_pacer_init(&p, 5000, 1000.0); /* one per ms */
  uint64_t t;
  cr_assert(!wp_bench_pacer_take(&p, 4999, &t), "nothing is due before the start");
  cr_assert(wp_bench_pacer_take(&p, 5000, &t));
  cr_assert_eq(t, 5000);
  cr_assert(!wp_bench_pacer_take(&p, 5000 + MS - 1, &t));
  cr_assert_eq(wp_bench_pacer_next(&p), 5000 + MS);
  /* 10 ms late: ten requests are due, and each keeps its own time. */
  uint64_t now = 5000 + 10 * MS;
  cr_assert_eq(wp_bench_pacer_backlog(&p, now), 10);
  for (uint64_t k = 1; k <= 10; k++) {
    cr_assert(wp_bench_pacer_take(&p, now, &t));
    cr_assert_eq(t, 5000 + k * MS);
  }
  cr_assert(!wp_bench_pacer_take(&p, now, &t));
  cr_assert_eq(wp_bench_pacer_backlog(&p, now), 0);
}

Test(bench_pace, no_drift_over_many_requests) {
  wp_bench_pacer p;
  wp_bench_pacer_init(&p, 0, 3.0); /* 333333333.33 ns apart */
  uint64_t t = 0;
  for (int i = 0; i < 3000000; i++)
    cr_assert(wp_bench_pacer_take(&p, UINT64_MAX / 2, &t));
  /* The 3,000,000th request (index 2,999,999) is due at 999,999.666 s. */
  cr_assert(t >= 999999666000000ull && t <= 999999667000000ull, "t = %lu", (unsigned long)t);
}

Test(bench_pace, latency_rule) {
  cr_assert_eq(wp_bench_latency_ns(true, 100, 150, 400), 300);
  cr_assert_eq(wp_bench_latency_ns(false, 100, 150, 400), 250);
  cr_assert_eq(wp_bench_latency_ns(true, 500, 500, 400), 0);
}

/* One connection, one request in flight, 1000 req/s for 10 s; the server
 * answers in 100 us except that whatever is in flight at t = 2 s waits
 * until t = 3 s. */
static void simulate(bool open_loop, wp_bench_hist *h) {
  wp_bench_pacer p;
  wp_bench_pacer_init(&p, 0, 1000.0);
  uint64_t now = 0, end = 10000 * MS;
  uint64_t intended;
  while (now < end) {
    if (!wp_bench_pacer_take(&p, now, &intended)) {
      now = wp_bench_pacer_next(&p); /* idle until the next one is due */
      continue;
    }
    uint64_t sent = now;
    uint64_t done = sent + 100 * US;
    if (sent <= 2000 * MS && done > 2000 * MS)
      done = 3000 * MS;
    wp_bench_hist_record(h, wp_bench_latency_ns(open_loop, intended, sent, done));
    now = done;
  }
}

Test(bench_pace, a_stall_shows_in_open_loop_percentiles) {
  wp_bench_hist *corrected, *naive;
  cr_assert_eq(wp_bench_hist_create(0, &corrected), 0);
  cr_assert_eq(wp_bench_hist_create(0, &naive), 0);
  simulate(true, corrected);
  simulate(false, naive);
  /* Every request is still sent: the ones due during the stall go late. */
  cr_assert_eq(corrected->total, 10000);
  cr_assert_eq(naive->total, 10000);
  /* ~10% of the requests were due during the 1 s stall and waited between
   * 0 and 1 s: p95 ~ 0.5 s, p99 ~ 0.9 s. */
  uint64_t p99 = wp_bench_hist_percentile(corrected, 99);
  uint64_t p95 = wp_bench_hist_percentile(corrected, 95);
  cr_assert(p99 > 850 * MS && p99 < 950 * MS, "corrected p99 = %lu ns", (unsigned long)p99);
  cr_assert(p95 > 400 * MS && p95 < 600 * MS, "corrected p95 = %lu ns", (unsigned long)p95);
  cr_assert(wp_bench_hist_percentile(corrected, 50) < 1 * MS);
  /* Measured from the actual send, one request saw the stall: hidden below p99.99. */
  cr_assert(wp_bench_hist_percentile(naive, 99) < 1 * MS);
  cr_assert(wp_bench_hist_percentile(naive, 99.9) < 1 * MS);
  cr_assert(naive->max >= 999 * MS);
  wp_bench_hist_destroy(corrected);
  wp_bench_hist_destroy(naive);
}
