/* bench_pace.h — open-loop pacing and the coordinated-omission rule.
 *
 * In open loop the k-th request is INTENDED to leave at start + k / rate,
 * whatever happened to the ones before it. When the server stalls, the
 * connections fill up and later requests wait in the client; they leave late,
 * but their latency is still counted from the intended time, so the stall
 * shows in the percentiles as the queueing a real user would have seen
 * (Gil Tene's "coordinated omission"). A closed loop has no schedule: each
 * request leaves when a previous one finished, and its latency is counted
 * from when it actually left.
 *
 * The pacer only does arithmetic on times; the caller owns the clock. Times
 * are nanoseconds on one monotonic clock.
 */
#ifndef WP_BENCH_PACE_H
#define WP_BENCH_PACE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct wp_bench_pacer {
  uint64_t start_ns;
  double interval_ns; /* 1e9 / rate */
  uint64_t taken;     /* requests handed out so far */
} wp_bench_pacer;

/* rate in requests per second, > 0. */
void wp_bench_pacer_init(wp_bench_pacer *pacer, uint64_t start_ns, double rate);
/* Intended send time of the next request. */
uint64_t wp_bench_pacer_next(const wp_bench_pacer *pacer);
/* If the next request is due at now, take it: *intended_ns gets its intended
 * time and true is returned. Requests due while nothing could send them are
 * not skipped: they come out one per call, late, with their own times. */
bool wp_bench_pacer_take(wp_bench_pacer *pacer, uint64_t now_ns, uint64_t *intended_ns);
/* Requests due at now and not yet taken (the client-side queue). */
uint64_t wp_bench_pacer_backlog(const wp_bench_pacer *pacer, uint64_t now_ns);

/* The latency to record for a request: from the intended time in open loop,
 * from the actual send in closed loop. */
static inline uint64_t wp_bench_latency_ns(bool open_loop, uint64_t intended_ns, uint64_t sent_ns,
                                           uint64_t done_ns) {
  uint64_t from = open_loop ? intended_ns : sent_ns;
  return done_ns > from ? done_ns - from : 0;
}

#endif /* WP_BENCH_PACE_H */
