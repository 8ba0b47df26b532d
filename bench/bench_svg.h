/* bench_svg.h — the --plot chart: latency by percentile, as SVG.
 *
 * The x axis is the percentile on the usual "number of nines" log scale
 * (x = log10(1 / (1 - p)), ticks at 0, 90, 99, 99.9 ... %), so the tail gets
 * as much room as the median; the y axis is latency, linear from 0. One line
 * per series (all requests, then each mix entry). Hand-written SVG 1.1 with
 * no script or external reference, so any browser or viewer shows it.
 */
#ifndef WP_BENCH_SVG_H
#define WP_BENCH_SVG_H

#include <stddef.h>
#include <stdio.h>

#include "bench_hist.h"

typedef struct wp_bench_svg_series {
  const char *label;
  const wp_bench_hist *hist; /* nanoseconds */
} wp_bench_svg_series;

/* Write the chart. Empty histograms are left out of the plot (but named in
 * the legend as "(no data)"). WP_EIO on a write error. */
int wp_bench_svg_write(FILE *out, const char *title, const wp_bench_svg_series *series,
                       size_t count);
/* The same into a file at path. WP_EIO (errno says why). */
int wp_bench_svg_save(const char *path, const char *title, const wp_bench_svg_series *series,
                      size_t count);

#endif /* WP_BENCH_SVG_H */
