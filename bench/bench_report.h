/* bench_report.h — what a run measured, and its text and JSON reports.
 *
 * The engine (bench_run.c) fills a wp_bench_results; main prints it as text
 * or JSON and hands it to the SVG plot. Counting is kept here, apart from
 * the event loop, so the report's arithmetic can be tested without a server.
 */
#ifndef WP_BENCH_REPORT_H
#define WP_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "bench_args.h"
#include "bench_hist.h"

/* Failures below HTTP: no status to count them under. */
typedef enum wp_bench_transport_err {
  WP_BENCH_ERR_CONNECT = 0, /* connect() failed */
  WP_BENCH_ERR_CLOSED,      /* connection closed or reset with requests in flight */
  WP_BENCH_ERR_TIMEOUT,     /* no response within --timeout */
  WP_BENCH_ERR_PROTOCOL,    /* bytes that are not an HTTP response, or a bad instance answer */
  WP_BENCH_ERR_COUNT
} wp_bench_transport_err;

const char *wp_bench_transport_err_name(wp_bench_transport_err err);

#define WP_BENCH_STATUS_MAX 600

typedef struct wp_bench_code_count {
  char name[64]; /* the JSON error code ("trap_divide_by_zero") */
  uint64_t count;
} wp_bench_code_count;

typedef struct wp_bench_entry_stats {
  uint64_t completed; /* measured requests of this entry that got a response */
  uint64_t expected;  /* ... with the expected status (--expect, else 2xx) */
  wp_bench_hist *latency;
} wp_bench_entry_stats;

typedef struct wp_bench_results {
  bool open_loop;
  double rate;
  uint64_t completed;      /* measured requests answered (an instantiate pair is one) */
  uint64_t expected;       /* ... with the expected status */
  uint64_t http_responses; /* measured HTTP responses (a pair counts 2) */
  uint64_t bytes_received; /* body bytes of measured responses */
  double elapsed_s;        /* measured time: first intended/actual send to last answer */
  wp_bench_hist *latency;  /* every measured answered request, merged over connections */
  wp_bench_hist *send_lag; /* open loop: actual send - intended send */
  uint64_t status[WP_BENCH_STATUS_MAX]; /* measured responses by HTTP status */
  wp_bench_code_count *codes;           /* error responses by JSON error code */
  size_t code_count;
  size_t code_cap;
  uint64_t transport[WP_BENCH_ERR_COUNT];
  wp_bench_entry_stats *entries; /* one per mix entry */
  size_t entry_count;
} wp_bench_results;

int wp_bench_results_create(size_t entry_count, wp_bench_results **out);
void wp_bench_results_destroy(wp_bench_results *results);
/* Count one error response under its code. */
int wp_bench_results_add_code(wp_bench_results *results, const char *name);

/* Requests per second over the measured time. */
double wp_bench_results_throughput(const wp_bench_results *results);

/* The text report (what a person reads). */
void wp_bench_report_text(FILE *out, const wp_bench_opts *opts, const wp_bench_results *results);
/* The --json object; NULL when out of memory. Latencies in microseconds. */
json_t *wp_bench_report_json(const wp_bench_opts *opts, const wp_bench_results *results);

/* "12.3us", "4.56ms", "1.23s" for a nanosecond value. */
void wp_bench_format_ns(uint64_t ns, char *buf, size_t len);

#endif /* WP_BENCH_REPORT_H */
