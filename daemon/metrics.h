/* metrics.h — request counters, trap counters, latency histograms, and the
 * two renderings of them: Prometheus text (GET /metrics) and JSON
 * (GET /v1/stats).
 *
 * Counters are updated from the loop (requests) and from workers (traps,
 * compiles) with relaxed atomics: each is an independent monotonic count and
 * a scrape that sees one a moment late is fine.
 *
 * Gauges (pool slots, queue, connections, jemalloc) are not kept here: the
 * caller samples them into a wp_metrics_gauges at render time, so this file
 * needs neither the pool nor jemalloc and stays a pure formatter.
 */
#ifndef WP_DAEMON_METRICS_H
#define WP_DAEMON_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"

typedef struct wp_metrics wp_metrics;

/* endpoint_names[i] labels endpoint i (e.g. proto's wp_endpoint_name()); the
 * array and strings are borrowed and must outlive the metrics. */
int wp_metrics_create(const char *const *endpoint_names, size_t endpoint_count, wp_metrics **out);
void wp_metrics_destroy(wp_metrics *metrics);

/* One answered request: endpoint index (out of range: counted as endpoint
 * "none" = index 0), HTTP status, time from the first byte of the request to
 * the response being queued for writing. */
void wp_metrics_record_request(wp_metrics *metrics, size_t endpoint, int status,
                               uint64_t latency_us);
/* A guest trap or deadline (WP_ETRAP_* / WP_ETIMEOUT); other codes ignored. */
void wp_metrics_record_trap(wp_metrics *metrics, int code);
/* Where guest work ran (docs/DAEMON.md, "Head-of-line blocking"): on the
 * loop that read the request, on the pool, or tried on the loop and cut at
 * the inline bound (then run again on the pool, counted there too). */
typedef enum wp_guest_run {
  WP_GUEST_RUN_LOOP,
  WP_GUEST_RUN_POOL,
  WP_GUEST_RUN_CUT,
  WP_GUEST_RUN_KINDS
} wp_guest_run;
void wp_metrics_record_guest_run(wp_metrics *metrics, wp_guest_run where);
/* A deploy's module load: from the compile cache or compiled now. */
void wp_metrics_record_compile(wp_metrics *metrics, bool cache_hit, uint64_t duration_us);

/* Sampled by the caller at render time. */
typedef struct wp_metrics_gauges {
  wp_pool_stats pool;
  uint32_t workers, workers_busy;
  uint64_t queue_waiting, queue_capacity, queue_rejected;
  uint64_t connections;
  uint64_t live_instances;
  uint64_t modules;
  bool jemalloc_ok; /* false: allocated/resident/metadata unknown, not exported */
  uint64_t jemalloc_allocated, jemalloc_resident;
  uint64_t jemalloc_metadata; /* jemalloc's own bookkeeping (stats.metadata) */
  uint64_t uptime_ms;
  /* Code builds by tier (0 tcc, 1 cc) and background tier-up (registry). */
  uint64_t builds[2], build_us[2];
  uint64_t tierups_in_flight, tierups_done, tierups_failed;
} wp_metrics_gauges;

/* Prometheus text exposition format 0.0.4, into a malloc'd NUL-terminated
 * string (*out, free() it). WP_ENOMEM. */
int wp_metrics_render_prometheus(const wp_metrics *metrics, const wp_metrics_gauges *gauges,
                                 char **out, size_t *len);

/* The same numbers as one JSON object (new reference; NULL when out of
 * memory). Latencies as count / sum_us / p50_us / p99_us estimates. */
json_t *wp_metrics_to_json(const wp_metrics *metrics, const wp_metrics_gauges *gauges);

/* Reads jemalloc's stats.allocated, stats.resident and stats.metadata
 * (after refreshing its "epoch"). WP_ESYS when the process does not run on
 * jemalloc. Lives in jemalloc_stats.c so that only the daemon links
 * jemalloc. */
int wp_jemalloc_stats(uint64_t *allocated, uint64_t *resident, uint64_t *metadata);
/* Returns the calling thread's cached free blocks to jemalloc's arenas.
 * WP_ESYS without jemalloc. */
int wp_jemalloc_flush_thread_cache(void);

#endif /* WP_DAEMON_METRICS_H */
