/* bench_report.c — counting results and printing them.
 *
 * The text report is laid out like wrk's (summary, latency table, errors),
 * plus a table per mix entry when there is more than one. The JSON report
 * has the same figures under stable keys for scripts (docs/BENCH_TOOL.md).
 */
#include "bench_report.h"

#include <stdlib.h>
#include <string.h>

#include "wp_errno.h"

static const char *const transport_names[WP_BENCH_ERR_COUNT] = {"connect", "closed", "timeout",
                                                                "protocol"};

/* The percentiles every report shows. */
static const double report_pcts[] = {50, 90, 99, 99.9};
static const char *const report_pct_names[] = {"p50", "p90", "p99", "p99.9"};
#define REPORT_PCT_COUNT (sizeof(report_pcts) / sizeof(report_pcts[0]))

const char *wp_bench_transport_err_name(wp_bench_transport_err err) {
  return (unsigned)err < WP_BENCH_ERR_COUNT ? transport_names[err] : "unknown";
}

int wp_bench_results_create(size_t entry_count, wp_bench_results **out) {
  *out = NULL;
  wp_bench_results *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return WP_ENOMEM;
  r->entries = calloc(entry_count ? entry_count : 1, sizeof(*r->entries));
  r->entry_count = entry_count;
  int rc = r->entries ? 0 : WP_ENOMEM;
  if (rc == 0)
    rc = wp_bench_hist_create(0, &r->latency);
  if (rc == 0)
    rc = wp_bench_hist_create(0, &r->send_lag);
  for (size_t i = 0; rc == 0 && i < entry_count; i++)
    rc = wp_bench_hist_create(0, &r->entries[i].latency);
  if (rc < 0) {
    wp_bench_results_destroy(r);
    return rc;
  }
  *out = r;
  return 0;
}

void wp_bench_results_destroy(wp_bench_results *r) {
  if (r == NULL)
    return;
  wp_bench_hist_destroy(r->latency);
  wp_bench_hist_destroy(r->send_lag);
  for (size_t i = 0; r->entries != NULL && i < r->entry_count; i++)
    wp_bench_hist_destroy(r->entries[i].latency);
  free(r->entries);
  free(r->codes);
  free(r);
}

int wp_bench_results_add_code(wp_bench_results *r, const char *name) {
  for (size_t i = 0; i < r->code_count; i++) {
    if (strcmp(r->codes[i].name, name) == 0) {
      r->codes[i].count++;
      return 0;
    }
  }
  if (r->code_count == r->code_cap) {
    size_t cap = r->code_cap ? r->code_cap * 2 : 8;
    wp_bench_code_count *grown = realloc(r->codes, cap * sizeof(*grown));
    if (grown == NULL)
      return WP_ENOMEM;
    r->codes = grown;
    r->code_cap = cap;
  }
  wp_bench_code_count *c = &r->codes[r->code_count++];
  snprintf(c->name, sizeof(c->name), "%s", name);
  c->count = 1;
  return 0;
}

double wp_bench_results_throughput(const wp_bench_results *r) {
  return r->elapsed_s > 0 ? (double)r->completed / r->elapsed_s : 0;
}

void wp_bench_format_ns(uint64_t ns, char *buf, size_t len) {
  if (ns < 1000)
    snprintf(buf, len, "%luns", (unsigned long)ns);
  else if (ns < 1000000)
    snprintf(buf, len, "%.1fus", (double)ns / 1e3);
  else if (ns < 1000000000)
    snprintf(buf, len, "%.2fms", (double)ns / 1e6);
  else
    snprintf(buf, len, "%.2fs", (double)ns / 1e9);
}

static void describe_target(const wp_bench_opts *opts, char *buf, size_t len) {
  if (opts->tcp_host != NULL)
    snprintf(buf, len, "tcp %s:%u", opts->tcp_host, (unsigned)opts->tcp_port);
  else
    snprintf(buf, len, "unix %s", opts->socket_path ? opts->socket_path : "(default)");
}

static void print_latency_row(FILE *out, const char *label, const wp_bench_hist *h) {
  char cells[REPORT_PCT_COUNT + 2][32];
  for (size_t i = 0; i < REPORT_PCT_COUNT; i++)
    wp_bench_format_ns(wp_bench_hist_percentile(h, report_pcts[i]), cells[i], sizeof(cells[i]));
  wp_bench_format_ns(h->total ? h->max : 0, cells[REPORT_PCT_COUNT], 32);
  wp_bench_format_ns((uint64_t)wp_bench_hist_mean(h), cells[REPORT_PCT_COUNT + 1], 32);
  fprintf(out, "  %-22s %9s %9s %9s %9s %9s %9s\n", label, cells[0], cells[1], cells[2], cells[3],
          cells[4], cells[5]);
}

void wp_bench_report_text(FILE *out, const wp_bench_opts *opts, const wp_bench_results *r) {
  char target[160];
  describe_target(opts, target, sizeof(target));
  fprintf(out, "wasmpool-bench: %s, %u connection%s, pipeline %u, %s", target, opts->connections,
          opts->connections == 1 ? "" : "s", opts->pipeline,
          r->open_loop ? "open loop" : "closed loop");
  if (r->open_loop)
    fprintf(out, " at %.0f req/s", r->rate);
  if (opts->mix->count == 1)
    fprintf(out, "\n  workload %s: %s\n", opts->workload_flag ? opts->workload_flag : "?",
            opts->mix->entries[0].name);
  else
    fprintf(out, "\n  workload %s: %zu entries\n", opts->workload_flag ? opts->workload_flag : "?",
            opts->mix->count);

  fprintf(out, "\n  requests     %lu in %.2fs (%lu HTTP responses, %lu body bytes)\n",
          (unsigned long)r->completed, r->elapsed_s, (unsigned long)r->http_responses,
          (unsigned long)r->bytes_received);
  fprintf(out, "  throughput   %.1f req/s\n", wp_bench_results_throughput(r));
  fprintf(out, "  expected     %lu (%.2f%%)\n", (unsigned long)r->expected,
          r->completed ? 100.0 * (double)r->expected / (double)r->completed : 0.0);

  fprintf(out, "\n  latency%s %9s %9s %9s %9s %9s %9s\n",
          r->open_loop ? " (from intended send)" : " (from actual send)  ", "p50", "p90", "p99",
          "p99.9", "max", "mean");
  print_latency_row(out, "all", r->latency);
  if (r->open_loop)
    print_latency_row(out, "send lag (client)", r->send_lag);
  if (r->entry_count > 1) {
    for (size_t i = 0; i < r->entry_count; i++) {
      char label[23];
      snprintf(label, sizeof(label), "%s", opts->mix->entries[i].name);
      print_latency_row(out, label, r->entries[i].latency);
    }
    fprintf(out, "\n  per entry    %-30s %10s %10s %8s\n", "name", "requests", "expected",
            "weight");
    for (size_t i = 0; i < r->entry_count; i++)
      fprintf(out, "               %-30.30s %10lu %10lu %8g\n", opts->mix->entries[i].name,
              (unsigned long)r->entries[i].completed, (unsigned long)r->entries[i].expected,
              opts->mix->entries[i].weight);
  }

  fprintf(out, "\n  status      ");
  bool any_status = false;
  for (int s = 0; s < WP_BENCH_STATUS_MAX; s++) {
    if (r->status[s] != 0) {
      fprintf(out, " %d: %lu", s, (unsigned long)r->status[s]);
      any_status = true;
    }
  }
  fprintf(out, "%s\n", any_status ? "" : " (no answer)");
  if (r->code_count > 0) {
    fprintf(out, "  error codes ");
    for (size_t i = 0; i < r->code_count; i++)
      fprintf(out, " %s: %lu", r->codes[i].name, (unsigned long)r->codes[i].count);
    fprintf(out, "\n");
  }
  bool any_transport = false;
  for (int i = 0; i < WP_BENCH_ERR_COUNT; i++)
    any_transport |= r->transport[i] != 0;
  if (any_transport) {
    fprintf(out, "  transport   ");
    for (int i = 0; i < WP_BENCH_ERR_COUNT; i++)
      if (r->transport[i] != 0)
        fprintf(out, " %s: %lu", transport_names[i], (unsigned long)r->transport[i]);
    fprintf(out, "\n");
  }
}

static json_t *latency_json(const wp_bench_hist *h) {
  json_t *obj = json_object();
  if (obj == NULL)
    return NULL;
  json_object_set_new(obj, "count", json_integer((json_int_t)h->total));
  json_object_set_new(obj, "min", json_real(h->total ? (double)h->min / 1e3 : 0));
  json_object_set_new(obj, "mean", json_real(wp_bench_hist_mean(h) / 1e3));
  for (size_t i = 0; i < REPORT_PCT_COUNT; i++)
    json_object_set_new(obj, report_pct_names[i],
                        json_real((double)wp_bench_hist_percentile(h, report_pcts[i]) / 1e3));
  json_object_set_new(obj, "p99.99", json_real((double)wp_bench_hist_percentile(h, 99.99) / 1e3));
  json_object_set_new(obj, "max", json_real((double)(h->total ? h->max : 0) / 1e3));
  return obj;
}

json_t *wp_bench_report_json(const wp_bench_opts *opts, const wp_bench_results *r) {
  json_t *root = json_object();
  if (root == NULL)
    return NULL;
  char target[160];
  describe_target(opts, target, sizeof(target));
  json_object_set_new(root, "target", json_string(target));
  json_object_set_new(root, "workload",
                      json_string(opts->workload_flag ? opts->workload_flag : ""));
  json_object_set_new(root, "connections", json_integer(opts->connections));
  json_object_set_new(root, "pipeline", json_integer(opts->pipeline));
  json_object_set_new(root, "mode", json_string(r->open_loop ? "open" : "closed"));
  json_object_set_new(root, "rate", r->open_loop ? json_real(r->rate) : json_null());
  json_object_set_new(root, "requests", json_integer((json_int_t)r->completed));
  json_object_set_new(root, "expected", json_integer((json_int_t)r->expected));
  json_object_set_new(root, "http_responses", json_integer((json_int_t)r->http_responses));
  json_object_set_new(root, "bytes_received", json_integer((json_int_t)r->bytes_received));
  json_object_set_new(root, "elapsed_s", json_real(r->elapsed_s));
  json_object_set_new(root, "throughput_rps", json_real(wp_bench_results_throughput(r)));
  json_object_set_new(root, "latency_us", latency_json(r->latency));
  if (r->open_loop)
    json_object_set_new(root, "send_lag_us", latency_json(r->send_lag));
  json_t *status = json_object();
  for (int s = 0; status != NULL && s < WP_BENCH_STATUS_MAX; s++) {
    if (r->status[s] == 0)
      continue;
    char key[8];
    snprintf(key, sizeof(key), "%d", s);
    json_object_set_new(status, key, json_integer((json_int_t)r->status[s]));
  }
  json_object_set_new(root, "status", status);
  json_t *codes = json_object();
  for (size_t i = 0; codes != NULL && i < r->code_count; i++)
    json_object_set_new(codes, r->codes[i].name, json_integer((json_int_t)r->codes[i].count));
  json_object_set_new(root, "error_codes", codes);
  json_t *transport = json_object();
  for (int i = 0; transport != NULL && i < WP_BENCH_ERR_COUNT; i++)
    json_object_set_new(transport, transport_names[i], json_integer((json_int_t)r->transport[i]));
  json_object_set_new(root, "transport_errors", transport);
  json_t *entries = json_array();
  for (size_t i = 0; entries != NULL && i < r->entry_count; i++) {
    const wp_bench_entry *e = &opts->mix->entries[i];
    json_t *obj = json_object();
    if (obj == NULL)
      break;
    json_object_set_new(obj, "name", json_string(e->name));
    json_object_set_new(obj, "kind", json_string(wp_bench_kind_name(e->kind)));
    json_object_set_new(obj, "module", json_string(e->module));
    json_object_set_new(obj, "weight", json_real(e->weight));
    json_object_set_new(obj, "requests", json_integer((json_int_t)r->entries[i].completed));
    json_object_set_new(obj, "expected", json_integer((json_int_t)r->entries[i].expected));
    json_object_set_new(obj, "latency_us", latency_json(r->entries[i].latency));
    json_array_append_new(entries, obj);
  }
  json_object_set_new(root, "entries", entries);
  return root;
}
