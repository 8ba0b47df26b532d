/* bench_run.h — the load-generating engine of wasmpool-bench.
 *
 * One libuv loop on the calling thread drives every connection: keep-alive
 * HTTP/1.1 over a Unix socket or loopback TCP, up to --pipeline requests in
 * flight on each, fed as fast as answers come (closed loop) or on the
 * open-loop schedule of bench_pace.h. Answers are parsed as they arrive and
 * counted into a wp_bench_results; connections that fail are reopened.
 *
 * Setup that must finish before the clock starts (deploys, instances for
 * instance calls) is bench_setup.c's, over proto/'s blocking client.
 */
#ifndef WP_BENCH_RUN_H
#define WP_BENCH_RUN_H

#include <stddef.h>

#include "bench_args.h"
#include "bench_report.h"

/* Run the load described by opts against socket_path (or opts->tcp_*).
 * instance_ids: for instance_call entries, the id for connection c and
 * entry e at [c * mix->count + e] (others NULL); NULL when the mix has no
 * instance calls. results must have been created for mix->count entries.
 * 0, or a negative code with a message in err (the run could not start, or
 * no connection could ever be made). */
int wp_bench_run(const wp_bench_opts *opts, const char *socket_path, char *const *instance_ids,
                 wp_bench_results *results, char *err, size_t err_len);

#endif /* WP_BENCH_RUN_H */
