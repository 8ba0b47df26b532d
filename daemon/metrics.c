/* metrics.c — counters and histograms behind /metrics and /v1/stats.
 *
 * Everything is a fixed-size array of relaxed atomics, indexed by endpoint,
 * status slot, trap kind and latency bucket, so recording is a couple of
 * fetch_adds with no lock and no allocation on the request path.
 */
#include "metrics.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "wp_errno.h"

/* Statuses the API answers with; anything else lands in the "other" slot. */
static const int status_codes[] = {100, 200, 201, 204, 400, 403, 404, 405, 408,
                                   409, 413, 422, 431, 500, 502, 503, 504};
#define STATUS_SLOTS (sizeof status_codes / sizeof status_codes[0] + 1)

/* Upper bounds of the latency buckets, microseconds (+Inf is implied). */
static const uint64_t bucket_bounds_us[] = {
    10,    25,    50,     100,    250,    500,     1000,    2500,    5000,    10000,
    25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
#define BUCKETS (sizeof bucket_bounds_us / sizeof bucket_bounds_us[0] + 1)

/* Trap codes are the contiguous WP_ETRAP_OOB..WP_ETRAP_TABLE_OOB, then
 * WP_ETIMEOUT right after them in wp_errno.h. */
#define TRAP_FIRST (-WP_ETRAP_OOB)
#define TRAP_LAST  (-WP_ETIMEOUT)
#define TRAP_KINDS (TRAP_LAST - TRAP_FIRST + 1)

typedef struct endpoint_counters {
  atomic_uint_fast64_t by_status[STATUS_SLOTS];
  atomic_uint_fast64_t latency_buckets[BUCKETS];
  atomic_uint_fast64_t latency_sum_us;
  atomic_uint_fast64_t latency_count;
} endpoint_counters;

struct wp_metrics {
  const char *const *endpoint_names;
  size_t endpoint_count;
  endpoint_counters *endpoints;
  atomic_uint_fast64_t traps[TRAP_KINDS];
  atomic_uint_fast64_t guest_runs[WP_GUEST_RUN_KINDS];
  atomic_uint_fast64_t compiles;
  atomic_uint_fast64_t compile_cache_hits;
  atomic_uint_fast64_t compile_us_total;
};

int wp_metrics_create(const char *const *endpoint_names, size_t endpoint_count, wp_metrics **out) {
  if (endpoint_count == 0)
    return WP_EINVAL;
  wp_metrics *metrics = calloc(1, sizeof *metrics);
  if (!metrics)
    return WP_ENOMEM;
  metrics->endpoints = calloc(endpoint_count, sizeof *metrics->endpoints);
  if (!metrics->endpoints) {
    free(metrics);
    return WP_ENOMEM;
  }
  metrics->endpoint_names = endpoint_names;
  metrics->endpoint_count = endpoint_count;
  *out = metrics;
  return 0;
}

void wp_metrics_destroy(wp_metrics *metrics) {
  if (!metrics)
    return;
  free(metrics->endpoints);
  free(metrics);
}

static size_t status_slot(int status) {
  for (size_t i = 0; i < STATUS_SLOTS - 1; i++)
    if (status_codes[i] == status)
      return i;
  return STATUS_SLOTS - 1;
}

static size_t latency_bucket(uint64_t latency_us) {
  for (size_t i = 0; i < BUCKETS - 1; i++)
    if (latency_us <= bucket_bounds_us[i])
      return i;
  return BUCKETS - 1;
}

void wp_metrics_record_request(wp_metrics *metrics, size_t endpoint, int status,
                               uint64_t latency_us) {
  if (endpoint >= metrics->endpoint_count)
    endpoint = 0;
  endpoint_counters *c = &metrics->endpoints[endpoint];
  atomic_fetch_add_explicit(&c->by_status[status_slot(status)], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->latency_buckets[latency_bucket(latency_us)], 1,
                            memory_order_relaxed);
  atomic_fetch_add_explicit(&c->latency_sum_us, latency_us, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->latency_count, 1, memory_order_relaxed);
}

void wp_metrics_record_trap(wp_metrics *metrics, int code) {
  int kind = -code;
  if (kind < TRAP_FIRST || kind > TRAP_LAST)
    return;
  atomic_fetch_add_explicit(&metrics->traps[kind - TRAP_FIRST], 1, memory_order_relaxed);
}

void wp_metrics_record_guest_run(wp_metrics *metrics, wp_guest_run where) {
  if (where >= WP_GUEST_RUN_KINDS)
    return;
  atomic_fetch_add_explicit(&metrics->guest_runs[where], 1, memory_order_relaxed);
}

static const char *const guest_run_names[WP_GUEST_RUN_KINDS] = {"loop", "pool", "loop_cut"};

void wp_metrics_record_compile(wp_metrics *metrics, bool cache_hit, uint64_t duration_us) {
  atomic_fetch_add_explicit(&metrics->compiles, 1, memory_order_relaxed);
  if (cache_hit)
    atomic_fetch_add_explicit(&metrics->compile_cache_hits, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&metrics->compile_us_total, duration_us, memory_order_relaxed);
}

static uint64_t load(const atomic_uint_fast64_t *counter) {
  return atomic_load_explicit(counter, memory_order_relaxed);
}

static void gauge(FILE *f, const char *name, const char *help, uint64_t value) {
  fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %" PRIu64 "\n", name, help, name, name, value);
}

static void slot_gauges(FILE *f, const char *pool, const wp_slot_counts *c) {
  fprintf(f, "wasmpool_pool_slots{pool=\"%s\",state=\"in_use\"} %" PRIu32 "\n", pool, c->in_use);
  fprintf(f, "wasmpool_pool_slots{pool=\"%s\",state=\"warm\"} %" PRIu32 "\n", pool, c->warm);
  fprintf(f, "wasmpool_pool_slots{pool=\"%s\",state=\"cold\"} %" PRIu32 "\n", pool, c->cold);
  fprintf(f, "wasmpool_pool_slots{pool=\"%s\",state=\"pending\"} %" PRIu32 "\n", pool, c->pending);
  fprintf(f, "wasmpool_pool_slots_total{pool=\"%s\"} %" PRIu32 "\n", pool, c->total);
}

int wp_metrics_render_prometheus(const wp_metrics *metrics, const wp_metrics_gauges *gauges,
                                 char **out, size_t *len) {
  char *text = NULL;
  size_t text_len = 0;
  FILE *f = open_memstream(&text, &text_len);
  if (!f)
    return WP_ENOMEM;

  fprintf(f, "# HELP wasmpool_requests_total Requests answered, by endpoint and status.\n"
             "# TYPE wasmpool_requests_total counter\n");
  for (size_t e = 0; e < metrics->endpoint_count; e++) {
    for (size_t s = 0; s < STATUS_SLOTS; s++) {
      uint64_t n = load(&metrics->endpoints[e].by_status[s]);
      if (n == 0)
        continue;
      if (s == STATUS_SLOTS - 1)
        fprintf(f, "wasmpool_requests_total{endpoint=\"%s\",status=\"other\"} %" PRIu64 "\n",
                metrics->endpoint_names[e], n);
      else
        fprintf(f, "wasmpool_requests_total{endpoint=\"%s\",status=\"%d\"} %" PRIu64 "\n",
                metrics->endpoint_names[e], status_codes[s], n);
    }
  }

  fprintf(f, "# HELP wasmpool_request_duration_seconds Time from request to response.\n"
             "# TYPE wasmpool_request_duration_seconds histogram\n");
  for (size_t e = 0; e < metrics->endpoint_count; e++) {
    const endpoint_counters *c = &metrics->endpoints[e];
    uint64_t count = load(&c->latency_count);
    if (count == 0)
      continue;
    const char *name = metrics->endpoint_names[e];
    uint64_t cumulative = 0;
    for (size_t b = 0; b < BUCKETS; b++) {
      cumulative += load(&c->latency_buckets[b]);
      if (b == BUCKETS - 1)
        fprintf(f,
                "wasmpool_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %" PRIu64
                "\n",
                name, cumulative);
      else
        fprintf(f,
                "wasmpool_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %" PRIu64 "\n",
                name, (double)bucket_bounds_us[b] / 1e6, cumulative);
    }
    fprintf(f, "wasmpool_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", name,
            (double)load(&c->latency_sum_us) / 1e6);
    fprintf(f, "wasmpool_request_duration_seconds_count{endpoint=\"%s\"} %" PRIu64 "\n", name,
            count);
  }

  fprintf(f, "# HELP wasmpool_traps_total Guest traps and deadlines, by kind.\n"
             "# TYPE wasmpool_traps_total counter\n");
  for (int k = 0; k < TRAP_KINDS; k++)
    fprintf(f, "wasmpool_traps_total{kind=\"%s\"} %" PRIu64 "\n", wp_err_name(-(k + TRAP_FIRST)),
            load(&metrics->traps[k]));

  fprintf(f, "# HELP wasmpool_guest_runs_total Guest work by where it ran (loop_cut: tried on "
             "the loop, cut at the inline bound, run again on the pool).\n"
             "# TYPE wasmpool_guest_runs_total counter\n");
  for (int k = 0; k < WP_GUEST_RUN_KINDS; k++)
    fprintf(f, "wasmpool_guest_runs_total{where=\"%s\"} %" PRIu64 "\n", guest_run_names[k],
            load(&metrics->guest_runs[k]));

  fprintf(f,
          "# HELP wasmpool_module_loads_total Module loads at deploy or start-up.\n"
          "# TYPE wasmpool_module_loads_total counter\n"
          "wasmpool_module_loads_total{cache=\"hit\"} %" PRIu64 "\n"
          "wasmpool_module_loads_total{cache=\"miss\"} %" PRIu64 "\n",
          load(&metrics->compile_cache_hits),
          load(&metrics->compiles) - load(&metrics->compile_cache_hits));

  fprintf(f,
          "# HELP wasmpool_code_builds_total Modules compiled (not from the cache), by tier.\n"
          "# TYPE wasmpool_code_builds_total counter\n"
          "wasmpool_code_builds_total{tier=\"0\"} %" PRIu64 "\n"
          "wasmpool_code_builds_total{tier=\"1\"} %" PRIu64 "\n"
          "# HELP wasmpool_code_build_seconds_total Time spent compiling, by tier.\n"
          "# TYPE wasmpool_code_build_seconds_total counter\n"
          "wasmpool_code_build_seconds_total{tier=\"0\"} %.6f\n"
          "wasmpool_code_build_seconds_total{tier=\"1\"} %.6f\n"
          "# HELP wasmpool_tierups_total Background tier-1 builds that finished, by result.\n"
          "# TYPE wasmpool_tierups_total counter\n"
          "wasmpool_tierups_total{result=\"done\"} %" PRIu64 "\n"
          "wasmpool_tierups_total{result=\"failed\"} %" PRIu64 "\n",
          gauges->builds[0], gauges->builds[1], (double)gauges->build_us[0] / 1e6,
          (double)gauges->build_us[1] / 1e6, gauges->tierups_done, gauges->tierups_failed);
  gauge(f, "wasmpool_compiles_in_flight", "Background tier-1 builds queued or running.",
        gauges->tierups_in_flight);

  fprintf(f, "# HELP wasmpool_pool_slots Slots of each pool by state.\n"
             "# TYPE wasmpool_pool_slots gauge\n");
  slot_gauges(f, "instance", &gauges->pool.instances);
  slot_gauges(f, "memory", &gauges->pool.memories);
  slot_gauges(f, "table", &gauges->pool.tables);
  fprintf(f,
          "# HELP wasmpool_pool_affinity_total Memory acquires by image affinity.\n"
          "# TYPE wasmpool_pool_affinity_total counter\n"
          "wasmpool_pool_affinity_total{result=\"hit\"} %" PRIu64 "\n"
          "wasmpool_pool_affinity_total{result=\"miss\"} %" PRIu64 "\n",
          gauges->pool.affinity_hits, gauges->pool.affinity_misses);
  fprintf(f, "# TYPE wasmpool_pool_resets_total counter\nwasmpool_pool_resets_total %" PRIu64 "\n",
          gauges->pool.resets);
  fprintf(f,
          "# TYPE wasmpool_pool_decommitted_bytes_total counter\n"
          "wasmpool_pool_decommitted_bytes_total %" PRIu64 "\n",
          gauges->pool.bytes_decommitted);
  gauge(f, "wasmpool_pool_committed_memory_bytes",
        "Accessible bytes of the guest memories in use (counted against "
        "pool.max_committed_memory).",
        gauges->pool.committed_bytes);
  gauge(f, "wasmpool_pool_max_committed_memory_bytes", "pool.max_committed_memory (0: no budget).",
        gauges->pool.max_committed_bytes);
  fprintf(f,
          "# HELP wasmpool_pool_memory_budget_refusals_total Instantiations and memory.grow "
          "refused by pool.max_committed_memory.\n"
          "# TYPE wasmpool_pool_memory_budget_refusals_total counter\n"
          "wasmpool_pool_memory_budget_refusals_total %" PRIu64 "\n",
          gauges->pool.budget_refusals);

  gauge(f, "wasmpool_pool_protection_key_stripes",
        "Protection-key stripes of the guarded memory slots (0: memory_protection_keys off or "
        "unavailable).",
        gauges->pool.key_stripes);

  gauge(f, "wasmpool_workers", "Worker threads.", gauges->workers);
  gauge(f, "wasmpool_workers_busy", "Workers running a job.", gauges->workers_busy);
  gauge(f, "wasmpool_queue_waiting", "Jobs waiting for a worker.", gauges->queue_waiting);
  gauge(f, "wasmpool_queue_capacity", "Most jobs that may wait.", gauges->queue_capacity);
  fprintf(f,
          "# TYPE wasmpool_queue_rejected_total counter\nwasmpool_queue_rejected_total %" PRIu64
          "\n",
          gauges->queue_rejected);
  gauge(f, "wasmpool_connections", "Open client connections.", gauges->connections);
  gauge(f, "wasmpool_instances", "Live long-lived instances.", gauges->live_instances);
  gauge(f, "wasmpool_modules", "Deployed modules.", gauges->modules);
  if (gauges->jemalloc_ok) {
    gauge(f, "wasmpool_jemalloc_allocated_bytes", "jemalloc stats.allocated.",
          gauges->jemalloc_allocated);
    gauge(f, "wasmpool_jemalloc_resident_bytes", "jemalloc stats.resident.",
          gauges->jemalloc_resident);
    gauge(f, "wasmpool_jemalloc_metadata_bytes", "jemalloc stats.metadata.",
          gauges->jemalloc_metadata);
  }
  fprintf(f,
          "# HELP wasmpool_uptime_seconds Seconds since start.\n"
          "# TYPE wasmpool_uptime_seconds gauge\nwasmpool_uptime_seconds %.3f\n",
          (double)gauges->uptime_ms / 1e3);

  if (fclose(f) != 0 || !text) {
    free(text);
    return WP_ENOMEM;
  }
  *out = text;
  *len = text_len;
  return 0;
}

/* Upper bound of the bucket holding quantile q: an estimate, never below the
 * truth. The +Inf bucket reports the largest finite bound. */
static uint64_t quantile_us(const endpoint_counters *c, double q) {
  uint64_t count = load(&c->latency_count);
  if (count == 0)
    return 0;
  uint64_t rank = (uint64_t)(q * (double)count);
  if (rank >= count)
    rank = count - 1;
  uint64_t cumulative = 0;
  for (size_t b = 0; b < BUCKETS; b++) {
    cumulative += load(&c->latency_buckets[b]);
    if (cumulative > rank)
      return bucket_bounds_us[b < BUCKETS - 1 ? b : BUCKETS - 2];
  }
  return bucket_bounds_us[BUCKETS - 2];
}

static json_t *slots_json(const wp_slot_counts *c) {
  return json_pack("{s:I,s:I,s:I,s:I,s:I}", "total", (json_int_t)c->total, "in_use",
                   (json_int_t)c->in_use, "warm", (json_int_t)c->warm, "cold", (json_int_t)c->cold,
                   "pending", (json_int_t)c->pending);
}

json_t *wp_metrics_to_json(const wp_metrics *metrics, const wp_metrics_gauges *gauges) {
  json_t *requests = json_object();
  json_t *traps = json_object();
  if (!requests || !traps)
    goto fail;
  for (size_t e = 0; e < metrics->endpoint_count; e++) {
    const endpoint_counters *c = &metrics->endpoints[e];
    uint64_t count = load(&c->latency_count);
    if (count == 0)
      continue;
    json_t *by_status = json_object();
    if (!by_status)
      goto fail;
    for (size_t s = 0; s < STATUS_SLOTS; s++) {
      uint64_t n = load(&c->by_status[s]);
      if (n == 0)
        continue;
      char key[16];
      if (s == STATUS_SLOTS - 1)
        snprintf(key, sizeof key, "other");
      else
        snprintf(key, sizeof key, "%d", status_codes[s]);
      json_object_set_new(by_status, key, json_integer((json_int_t)n));
    }
    json_t *entry = json_pack("{s:I,s:o,s:I,s:I,s:I}", "count", (json_int_t)count, "by_status",
                              by_status, "latency_sum_us", (json_int_t)load(&c->latency_sum_us),
                              "latency_p50_us", (json_int_t)quantile_us(c, 0.50), "latency_p99_us",
                              (json_int_t)quantile_us(c, 0.99));
    if (!entry || json_object_set_new(requests, metrics->endpoint_names[e], entry) != 0)
      goto fail;
  }
  for (int k = 0; k < TRAP_KINDS; k++)
    json_object_set_new(traps, wp_err_name(-(k + TRAP_FIRST)),
                        json_integer((json_int_t)load(&metrics->traps[k])));
  json_t *guest_runs = json_object();
  for (int k = 0; guest_runs && k < WP_GUEST_RUN_KINDS; k++)
    json_object_set_new(guest_runs, guest_run_names[k],
                        json_integer((json_int_t)load(&metrics->guest_runs[k])));

  const wp_pool_stats *p = &gauges->pool;
  json_t *pool = json_pack(
      "{s:o,s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:I}", "instances", slots_json(&p->instances), "memories",
      slots_json(&p->memories), "tables", slots_json(&p->tables), "affinity_hits",
      (json_int_t)p->affinity_hits, "affinity_misses", (json_int_t)p->affinity_misses, "image_maps",
      (json_int_t)p->image_maps, "resets", (json_int_t)p->resets, "bytes_decommitted",
      (json_int_t)p->bytes_decommitted, "warm_evictions", (json_int_t)p->warm_evictions);
  json_t *budget = json_pack("{s:I,s:I,s:I}", "committed_bytes", (json_int_t)p->committed_bytes,
                             "max_committed_bytes", (json_int_t)p->max_committed_bytes, "refusals",
                             (json_int_t)p->budget_refusals);
  if (pool && budget)
    json_object_set_new(pool, "memory_budget", budget);
  else
    json_decref(budget);
  if (pool)
    json_object_set_new(pool, "protection_key_stripes", json_integer(p->key_stripes));
  json_t *queue = json_pack(
      "{s:I,s:I,s:I,s:I,s:I}", "workers", (json_int_t)gauges->workers, "busy",
      (json_int_t)gauges->workers_busy, "waiting", (json_int_t)gauges->queue_waiting, "capacity",
      (json_int_t)gauges->queue_capacity, "rejected", (json_int_t)gauges->queue_rejected);
  json_t *loads = json_pack(
      "{s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I}}", "total",
      (json_int_t)load(&metrics->compiles), "cache_hits",
      (json_int_t)load(&metrics->compile_cache_hits), "duration_us_total",
      (json_int_t)load(&metrics->compile_us_total), "builds", "tier0",
      (json_int_t)gauges->builds[0], "tier1", (json_int_t)gauges->builds[1], "tier0_us_total",
      (json_int_t)gauges->build_us[0], "tier1_us_total", (json_int_t)gauges->build_us[1], "tier_up",
      "in_flight", (json_int_t)gauges->tierups_in_flight, "done", (json_int_t)gauges->tierups_done,
      "failed", (json_int_t)gauges->tierups_failed);
  json_t *memory =
      gauges->jemalloc_ok
          ? json_pack("{s:I,s:I,s:I}", "allocated", (json_int_t)gauges->jemalloc_allocated,
                      "resident", (json_int_t)gauges->jemalloc_resident, "metadata",
                      (json_int_t)gauges->jemalloc_metadata)
          : json_null();
  json_t *root = json_pack(
      "{s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "uptime_ms", (json_int_t)gauges->uptime_ms,
      "connections", (json_int_t)gauges->connections, "instances",
      (json_int_t)gauges->live_instances, "modules", (json_int_t)gauges->modules, "requests",
      requests, "traps", traps, "guest_runs", guest_runs, "pool", pool, "queue", queue,
      "module_loads", loads, "jemalloc", memory);
  return root; /* json_pack's "o" stole every reference, also on failure */

fail:
  json_decref(requests);
  json_decref(traps);
  return NULL;
}
