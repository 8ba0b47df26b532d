/* bench_pace.c — the open-loop schedule of bench_pace.h.
 *
 * Intended times are computed from the index (start + k * interval), never by
 * adding intervals, so rounding does not drift over millions of requests.
 */
#include "bench_pace.h"

void wp_bench_pacer_init(wp_bench_pacer *pacer, uint64_t start_ns, double rate) {
  pacer->start_ns = start_ns;
  pacer->interval_ns = rate > 0 ? 1e9 / rate : 0;
  pacer->taken = 0;
}

uint64_t wp_bench_pacer_next(const wp_bench_pacer *pacer) {
  return pacer->start_ns + (uint64_t)((double)pacer->taken * pacer->interval_ns);
}

bool wp_bench_pacer_take(wp_bench_pacer *pacer, uint64_t now_ns, uint64_t *intended_ns) {
  uint64_t next = wp_bench_pacer_next(pacer);
  if (next > now_ns)
    return false;
  *intended_ns = next;
  pacer->taken++;
  return true;
}

uint64_t wp_bench_pacer_backlog(const wp_bench_pacer *pacer, uint64_t now_ns) {
  if (now_ns < pacer->start_ns)
    return 0;
  if (pacer->interval_ns <= 0)
    return 0;
  uint64_t due = (uint64_t)((double)(now_ns - pacer->start_ns) / pacer->interval_ns) + 1;
  return due > pacer->taken ? due - pacer->taken : 0;
}
