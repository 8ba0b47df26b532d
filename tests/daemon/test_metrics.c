/* test_metrics.c — counters land under the right labels, histograms are
 * cumulative, the JSON mirrors the text. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "wp_errno.h"

static const char *const names[] = {"none", "module_call", "health"};

Test(metrics, prometheus_counters_and_histogram) {
  wp_metrics *m;
  cr_assert_eq(wp_metrics_create(names, 3, &m), 0);
  wp_metrics_record_request(m, 1, 200, 30);       /* bucket le=5e-05 */
  wp_metrics_record_request(m, 1, 200, 800);      /* bucket le=0.001 */
  wp_metrics_record_request(m, 1, 502, 20000000); /* +Inf */
  wp_metrics_record_request(m, 99, 418, 5);       /* endpoint none, status other */
  wp_metrics_record_trap(m, WP_ETRAP_DIV_ZERO);
  wp_metrics_record_trap(m, WP_ETIMEOUT);
  wp_metrics_record_trap(m, WP_ETIMEOUT);
  wp_metrics_record_trap(m, WP_EINVAL); /* ignored */
  wp_metrics_record_compile(m, true, 100);
  wp_metrics_record_compile(m, false, 900);
  wp_metrics_record_guest_run(m, WP_GUEST_RUN_LOOP);
  wp_metrics_record_guest_run(m, WP_GUEST_RUN_LOOP);
  wp_metrics_record_guest_run(m, WP_GUEST_RUN_CUT);
  wp_metrics_record_guest_run(m, WP_GUEST_RUN_KINDS); /* ignored */

  wp_metrics_gauges g = {0};
  g.pool.instances.total = 10;
  g.pool.instances.in_use = 3;
  g.jemalloc_ok = true;
  g.jemalloc_allocated = 12345;
  g.uptime_ms = 1500;
  char *text;
  size_t len;
  cr_assert_eq(wp_metrics_render_prometheus(m, &g, &text, &len), 0);
  cr_assert_eq(strlen(text), len);
  const char *want[] = {
      "wasmpool_requests_total{endpoint=\"module_call\",status=\"200\"} 2\n",
      "wasmpool_requests_total{endpoint=\"module_call\",status=\"502\"} 1\n",
      "wasmpool_requests_total{endpoint=\"none\",status=\"other\"} 1\n",
      "wasmpool_request_duration_seconds_bucket{endpoint=\"module_call\",le=\"2.5e-05\"} 0\n",
      "wasmpool_request_duration_seconds_bucket{endpoint=\"module_call\",le=\"5e-05\"} 1\n",
      "wasmpool_request_duration_seconds_bucket{endpoint=\"module_call\",le=\"0.001\"} 2\n",
      "wasmpool_request_duration_seconds_bucket{endpoint=\"module_call\",le=\"10\"} 2\n",
      "wasmpool_request_duration_seconds_bucket{endpoint=\"module_call\",le=\"+Inf\"} 3\n",
      "wasmpool_request_duration_seconds_count{endpoint=\"module_call\"} 3\n",
      "wasmpool_traps_total{kind=\"trap_divide_by_zero\"} 1\n",
      "wasmpool_traps_total{kind=\"deadline_exceeded\"} 2\n",
      "wasmpool_traps_total{kind=\"trap_unreachable\"} 0\n",
      "wasmpool_guest_runs_total{where=\"loop\"} 2\n",
      "wasmpool_guest_runs_total{where=\"pool\"} 0\n",
      "wasmpool_guest_runs_total{where=\"loop_cut\"} 1\n",
      "wasmpool_module_loads_total{cache=\"hit\"} 1\n",
      "wasmpool_module_loads_total{cache=\"miss\"} 1\n",
      "wasmpool_pool_slots{pool=\"instance\",state=\"in_use\"} 3\n",
      "wasmpool_pool_slots_total{pool=\"instance\"} 10\n",
      "wasmpool_jemalloc_allocated_bytes 12345\n",
      "wasmpool_uptime_seconds 1.500\n",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    cr_assert_not_null(strstr(text, want[i]), "missing %s in:\n%s", want[i], text);
  cr_assert_null(strstr(text, "endpoint=\"health\""), "unused endpoints stay out");
  free(text);

  g.jemalloc_ok = false;
  cr_assert_eq(wp_metrics_render_prometheus(m, &g, &text, &len), 0);
  cr_assert_null(strstr(text, "jemalloc"));
  free(text);
  wp_metrics_destroy(m);
}

Test(metrics, json_mirrors_counters) {
  wp_metrics *m;
  cr_assert_eq(wp_metrics_create(names, 3, &m), 0);
  for (int i = 0; i < 99; i++)
    wp_metrics_record_request(m, 2, 200, 40);
  wp_metrics_record_request(m, 2, 503, 3000);
  wp_metrics_record_trap(m, WP_ETRAP_OOB);
  wp_metrics_record_guest_run(m, WP_GUEST_RUN_POOL);
  wp_metrics_gauges g = {0};
  g.live_instances = 7;
  json_t *root = wp_metrics_to_json(m, &g);
  cr_assert_not_null(root);
  json_t *health = json_object_get(json_object_get(root, "requests"), "health");
  cr_assert_not_null(health);
  cr_assert_eq(json_integer_value(json_object_get(health, "count")), 100);
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(health, "by_status"), "503")), 1);
  cr_assert_eq(json_integer_value(json_object_get(health, "latency_p50_us")), 50);
  cr_assert_eq(json_integer_value(json_object_get(health, "latency_p99_us")), 5000);
  cr_assert_eq(
      json_integer_value(json_object_get(json_object_get(root, "traps"), "trap_out_of_bounds")), 1);
  json_t *runs = json_object_get(root, "guest_runs");
  cr_assert_eq(json_integer_value(json_object_get(runs, "pool")), 1);
  cr_assert_eq(json_integer_value(json_object_get(runs, "loop")), 0);
  cr_assert_not_null(json_object_get(runs, "loop_cut"));
  cr_assert_eq(json_integer_value(json_object_get(root, "instances")), 7);
  cr_assert(json_is_null(json_object_get(root, "jemalloc")));
  cr_assert_null(json_object_get(json_object_get(root, "requests"), "module_call"));
  json_decref(root);
  wp_metrics_destroy(m);
}
