/* test_bench_report.c — counting results and the text and JSON reports. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_report.h"
#include "wp_errno.h"

static wp_bench_opts make_opts(void) {
  wp_bench_opts o;
  char err[256];
  char *argv[] = {"wasmpool-bench", "--socket", "/tmp/s.sock", "-c", "2", "--mix", "", NULL};
  /* A two-entry mix written to a temp file. */
  char path[] = "/tmp/wpb_report_mixXXXXXX";
  int fd = mkstemp(path);
  const char *doc = "[{\"kind\":\"call\",\"module\":\"add\",\"export\":\"add\"},"
                    "{\"kind\":\"call\",\"module\":\"trap\",\"export\":\"div0\",\"expect\":502,"
                    "\"name\":\"div <0>\"}]";
  cr_assert_eq(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
  close(fd);
  argv[6] = path;
  cr_assert_eq(wp_bench_opts_parse(7, argv, &o, err, sizeof(err)), 0, "%s", err);
  unlink(path);
  return o;
}

static wp_bench_results *make_results(void) {
  wp_bench_results *r;
  cr_assert_eq(wp_bench_results_create(2, &r), 0);
  r->completed = 300;
  r->expected = 290;
  r->http_responses = 300;
  r->elapsed_s = 1.5;
  for (int i = 1; i <= 200; i++) {
    wp_bench_hist_record(r->latency, (uint64_t)i * 1000);
    wp_bench_hist_record(r->entries[0].latency, (uint64_t)i * 1000);
  }
  for (int i = 1; i <= 100; i++) {
    wp_bench_hist_record(r->latency, 1000000);
    wp_bench_hist_record(r->entries[1].latency, 1000000);
  }
  r->entries[0].completed = 200;
  r->entries[0].expected = 190;
  r->entries[1].completed = 100;
  r->entries[1].expected = 100;
  r->status[200] = 190;
  r->status[502] = 100;
  r->status[503] = 10;
  for (int i = 0; i < 100; i++)
    cr_assert_eq(wp_bench_results_add_code(r, "trap_divide_by_zero"), 0);
  for (int i = 0; i < 10; i++)
    cr_assert_eq(wp_bench_results_add_code(r, "queue_full"), 0);
  r->transport[WP_BENCH_ERR_TIMEOUT] = 3;
  return r;
}

Test(bench_report, codes_are_counted_by_name) {
  wp_bench_results *r = make_results();
  cr_assert_eq(r->code_count, 2);
  cr_assert_str_eq(r->codes[0].name, "trap_divide_by_zero");
  cr_assert_eq(r->codes[0].count, 100);
  cr_assert_eq(r->codes[1].count, 10);
  /* Growth past the first allocation keeps the counts. */
  char name[32];
  for (int i = 0; i < 20; i++) {
    snprintf(name, sizeof(name), "code_%d", i);
    cr_assert_eq(wp_bench_results_add_code(r, name), 0);
  }
  cr_assert_eq(r->code_count, 22);
  cr_assert_eq(r->codes[0].count, 100);
  cr_assert_float_eq(wp_bench_results_throughput(r), 200.0, 1e-9);
  wp_bench_results_destroy(r);
}

Test(bench_report, json_report) {
  wp_bench_opts o = make_opts();
  wp_bench_results *r = make_results();
  json_t *doc = wp_bench_report_json(&o, r);
  cr_assert_not_null(doc);
  cr_assert_str_eq(json_string_value(json_object_get(doc, "target")), "unix /tmp/s.sock");
  cr_assert_str_eq(json_string_value(json_object_get(doc, "mode")), "closed");
  cr_assert(json_is_null(json_object_get(doc, "rate")));
  cr_assert_eq(json_integer_value(json_object_get(doc, "requests")), 300);
  cr_assert_eq(json_integer_value(json_object_get(doc, "connections")), 2);
  cr_assert_float_eq(json_real_value(json_object_get(doc, "throughput_rps")), 200.0, 1e-9);
  json_t *lat = json_object_get(doc, "latency_us");
  cr_assert_eq(json_integer_value(json_object_get(lat, "count")), 300);
  /* 200 values 1..200 us, then 100 of 1000 us: p50 is rank 150 = 150 us. */
  double p50 = json_real_value(json_object_get(lat, "p50"));
  cr_assert(p50 > 149 && p50 < 151, "p50 = %g", p50);
  cr_assert_float_eq(json_real_value(json_object_get(lat, "p99")), 1000.0, 1e-9);
  cr_assert_float_eq(json_real_value(json_object_get(lat, "max")), 1000.0, 1e-9);
  cr_assert_float_eq(json_real_value(json_object_get(lat, "min")), 1.0, 1e-9);
  json_t *status = json_object_get(doc, "status");
  cr_assert_eq(json_integer_value(json_object_get(status, "502")), 100);
  cr_assert_eq(json_object_size(status), 3);
  json_t *codes = json_object_get(doc, "error_codes");
  cr_assert_eq(json_integer_value(json_object_get(codes, "queue_full")), 10);
  cr_assert_eq(
      json_integer_value(json_object_get(json_object_get(doc, "transport_errors"), "timeout")), 3);
  json_t *entries = json_object_get(doc, "entries");
  cr_assert_eq(json_array_size(entries), 2);
  json_t *e1 = json_array_get(entries, 1);
  cr_assert_str_eq(json_string_value(json_object_get(e1, "name")), "div <0>");
  cr_assert_eq(json_integer_value(json_object_get(e1, "expected")), 100);
  cr_assert_float_eq(json_real_value(json_object_get(json_object_get(e1, "latency_us"), "p50")),
                     1000.0, 1e-9);
  json_decref(doc);
  wp_bench_results_destroy(r);
  wp_bench_opts_free(&o);
}

Test(bench_report, text_report) {
  wp_bench_opts o = make_opts();
  wp_bench_results *r = make_results();
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  wp_bench_report_text(f, &o, r);
  fclose(f);
  cr_assert(strstr(text, "2 connections, pipeline 1, closed loop") != NULL, "%s", text);
  cr_assert(strstr(text, "requests     300 in 1.50s") != NULL, "%s", text);
  cr_assert(strstr(text, "throughput   200.0 req/s") != NULL, "%s", text);
  cr_assert(strstr(text, "200: 190 502: 100 503: 10") != NULL, "%s", text);
  cr_assert(strstr(text, "trap_divide_by_zero: 100 queue_full: 10") != NULL, "%s", text);
  cr_assert(strstr(text, "timeout: 3") != NULL, "%s", text);
  cr_assert(strstr(text, "div <0>") != NULL, "%s", text);
  free(text);
  wp_bench_results_destroy(r);
  wp_bench_opts_free(&o);
}

Test(bench_report, format_ns) {
  char buf[32];
  wp_bench_format_ns(950, buf, sizeof(buf));
  cr_assert_str_eq(buf, "950ns");
  wp_bench_format_ns(12345, buf, sizeof(buf));
  cr_assert_str_eq(buf, "12.3us");
  wp_bench_format_ns(4560000, buf, sizeof(buf));
  cr_assert_str_eq(buf, "4.56ms");
  wp_bench_format_ns(2500000000ull, buf, sizeof(buf));
  cr_assert_str_eq(buf, "2.50s");
}
