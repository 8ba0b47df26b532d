/* bench_svg.c — the percentile chart of bench_svg.h.
 *
 * The x range ends at the deepest percentile the data can support: with N
 * values, percentiles past 1 - 1/N are all the maximum, so the axis stops at
 * log10(N) nines (at most 6) instead of drawing a long flat line.
 */
#include "bench_svg.h"

#include <math.h>
#include <string.h>

#include "wp_errno.h"

#define WIDTH   860
#define HEIGHT  520
#define LEFT    90
#define RIGHT   190
#define TOP     50
#define BOTTOM  70
#define SAMPLES 240

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                     "#9467bd", "#8c564b", "#e377c2", "#17becf"};
#define COLOR_COUNT (sizeof(colors) / sizeof(colors[0]))

/* XML-escape text; at most max_bytes of it (0: all), cut before a UTF-8
 * continuation byte so a character is never split, with "..." after a cut. */
static void put_escaped_max(FILE *out, const char *text, size_t max_bytes) {
  size_t used = 0;
  for (; *text != '\0'; text++, used++) {
    if (max_bytes != 0 && used >= max_bytes && ((unsigned char)*text & 0xC0) != 0x80) {
      fputs("...", out);
      return;
    }
    unsigned char c = (unsigned char)*text;
    switch (c) {
    case '<': fputs("&lt;", out); break;
    case '>': fputs("&gt;", out); break;
    case '&': fputs("&amp;", out); break;
    case '"': fputs("&quot;", out); break;
    default:
      /* Control characters are not allowed in XML 1.0 text. */
      if (c < 0x20 && c != '\t')
        fputc('?', out);
      else
        fputc(c, out);
    }
  }
}

static void put_escaped(FILE *out, const char *text) {
  put_escaped_max(out, text, 0);
}

/* Legend labels longer than this would run off the right margin. */
#define LEGEND_MAX_BYTES 26

/* 1, 2 or 5 times a power of ten, so that max / step gives 4..10 ticks. */
static double nice_step(double max) {
  double raw = max / 5;
  double mag = pow(10, floor(log10(raw)));
  double norm = raw / mag;
  double step = norm < 1.5 ? 1 : norm < 3.5 ? 2 : norm < 7.5 ? 5 : 10;
  return step * mag;
}

/* Latency unit for the axis: chosen from the largest value. */
static void pick_unit(double max_ns, double *div, const char **name) {
  if (max_ns >= 2e9) {
    *div = 1e9;
    *name = "s";
  } else if (max_ns >= 2e6) {
    *div = 1e6;
    *name = "ms";
  } else {
    *div = 1e3;
    *name = "us";
  }
}

static double pct_at(double nines) {
  return 100.0 * (1.0 - pow(10, -nines));
}

int wp_bench_svg_write(FILE *out, const char *title, const wp_bench_svg_series *series,
                       size_t count) {
  uint64_t most = 0;
  for (size_t i = 0; i < count; i++)
    if (series[i].hist->total > most)
      most = series[i].hist->total;
  double max_nines = most > 1 ? floor(log10((double)most)) : 1;
  if (max_nines < 1)
    max_nines = 1;
  if (max_nines > 6)
    max_nines = 6;
  double top_ns = 0;
  for (size_t i = 0; i < count; i++) {
    const wp_bench_hist *h = series[i].hist;
    if (h->total == 0)
      continue;
    double v = (double)wp_bench_hist_percentile(h, pct_at(max_nines));
    if (v > top_ns)
      top_ns = v;
  }
  if (top_ns <= 0)
    top_ns = 1000;
  double div;
  const char *unit;
  pick_unit(top_ns, &div, &unit);
  double step = nice_step(top_ns / div);
  double y_max = ceil(top_ns / div / step) * step;
  double plot_w = WIDTH - LEFT - RIGHT, plot_h = HEIGHT - TOP - BOTTOM;

  fprintf(out,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
          "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
          "font-size=\"12\">\n",
          WIDTH, HEIGHT, WIDTH, HEIGHT);
  fprintf(out, "<title>");
  put_escaped(out, title ? title : "wasmpool-bench latency");
  fprintf(out, "</title>\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
          WIDTH, HEIGHT);
  fprintf(out, "<text x=\"%d\" y=\"28\" font-size=\"15\" font-weight=\"bold\">", LEFT);
  put_escaped(out, title ? title : "wasmpool-bench latency");
  fprintf(out, "</text>\n");

  /* Grid and ticks. */
  fprintf(out, "<g stroke=\"#dddddd\" stroke-width=\"1\">\n");
  for (double v = 0; v <= y_max + step / 2; v += step) {
    double y = TOP + plot_h - v / y_max * plot_h;
    fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", LEFT, y, LEFT + plot_w,
            y);
  }
  for (int n = 0; n <= (int)max_nines; n++) {
    double x = LEFT + n / max_nines * plot_w;
    fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, TOP, x,
            TOP + plot_h);
  }
  fprintf(out, "</g>\n<g fill=\"#333333\">\n");
  for (double v = 0; v <= y_max + step / 2; v += step) {
    double y = TOP + plot_h - v / y_max * plot_h;
    fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", LEFT - 8, y + 4, v);
  }
  static const char *const tick_labels[] = {"0%",     "90%",     "99%",     "99.9%",
                                            "99.99%", "99.999%", "99.9999%"};
  for (int n = 0; n <= (int)max_nines; n++) {
    double x = LEFT + n / max_nines * plot_w;
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x,
            TOP + plot_h + 18, tick_labels[n]);
  }
  fprintf(out,
          "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">percentile (log scale of "
          "1/(1-p))</text>\n",
          LEFT + plot_w / 2, HEIGHT - 22);
  fprintf(out,
          "<text x=\"20\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 20 %.1f)\">"
          "latency (%s)</text>\n</g>\n",
          TOP + plot_h / 2, TOP + plot_h / 2, unit);
  fprintf(out,
          "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
          "stroke=\"#333333\"/>\n",
          LEFT, TOP, plot_w, plot_h);

  /* One polyline per series. */
  for (size_t i = 0; i < count; i++) {
    const wp_bench_hist *h = series[i].hist;
    const char *color = colors[i % COLOR_COUNT];
    if (h->total > 0) {
      fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
      for (int s = 0; s <= SAMPLES; s++) {
        double nines = max_nines * s / SAMPLES;
        double v = (double)wp_bench_hist_percentile(h, pct_at(nines)) / div;
        if (v > y_max)
          v = y_max;
        fprintf(out, "%s%.1f,%.1f", s ? " " : "", LEFT + nines / max_nines * plot_w,
                TOP + plot_h - v / y_max * plot_h);
      }
      fprintf(out, "\"/>\n");
    }
    double ly = TOP + 10 + 20.0 * (double)i;
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"3\"/>\n",
            LEFT + plot_w + 12, ly, LEFT + plot_w + 32, ly, color);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">", LEFT + plot_w + 38, ly + 4);
    put_escaped_max(out, series[i].label ? series[i].label : "", LEGEND_MAX_BYTES);
    if (h->total == 0)
      fputs(" (no data)", out);
    fprintf(out, "</text>\n");
  }
  fprintf(out, "</svg>\n");
  return ferror(out) ? WP_EIO : 0;
}

int wp_bench_svg_save(const char *path, const char *title, const wp_bench_svg_series *series,
                      size_t count) {
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return WP_EIO;
  int rc = wp_bench_svg_write(f, title, series, count);
  if (fclose(f) != 0 && rc == 0)
    rc = WP_EIO;
  return rc;
}
