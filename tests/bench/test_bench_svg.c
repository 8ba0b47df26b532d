/* test_bench_svg.c — the --plot chart is well-formed SVG with its parts.
 *
 * Well-formedness is checked by python3's xml.etree (the test fails if it
 * cannot parse the file); the structure by looking for the axis labels,
 * one polyline per non-empty series, and escaped legend text.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_mix.h"
#include "bench_svg.h"

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = malloc((size_t)len + 1);
  cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
  text[len] = '\0';
  fclose(f);
  return text;
}

static int count(const char *text, const char *needle) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
    n++;
  return n;
}

/* python3 parses it as XML and checks the root is an <svg> with polylines. */
static int xml_check(const char *path, int polylines) {
  char cmd[1024];
  snprintf(
      cmd, sizeof(cmd),
      "python3 -c \"import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
      "ns = '{http://www.w3.org/2000/svg}'; "
      "sys.exit(0 if r.tag == ns + 'svg' and len(r.findall(ns + 'polyline')) == int(sys.argv[2]) "
      "else 3)\" '%s' %d 2>/dev/null",
      path, polylines);
  int status = system(cmd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(bench_svg, chart_is_well_formed) {
  wp_bench_hist *all, *fast, *slow, *empty;
  cr_assert_eq(wp_bench_hist_create(0, &all), 0);
  cr_assert_eq(wp_bench_hist_create(0, &fast), 0);
  cr_assert_eq(wp_bench_hist_create(0, &slow), 0);
  cr_assert_eq(wp_bench_hist_create(0, &empty), 0);
  uint64_t rng = 1;
  for (int i = 0; i < 10000; i++) {
    uint64_t v = 20000 + wp_bench_rng_next(&rng) % 30000;
    uint64_t w = 5000000 + wp_bench_rng_next(&rng) % 5000000;
    wp_bench_hist_record(fast, v);
    wp_bench_hist_record(slow, w);
    wp_bench_hist_record(all, v);
    wp_bench_hist_record(all, w);
  }
  wp_bench_svg_series series[] = {{"all requests", all},
                                  {"call add/add", fast},
                                  {"spin <deadline> & \"trap\"", slow},
                                  {"never sent", empty}};
  char path[] = "/tmp/wpb_svg_XXXXXX.svg";
  int fd = mkstemps(path, 4);
  cr_assert(fd >= 0);
  close(fd);
  cr_assert_eq(wp_bench_svg_save(path, "title with <angle> & amp", series, 4), 0);
  char *text = slurp(path);
  cr_assert(strncmp(text, "<?xml", 5) == 0);
  cr_assert_eq(count(text, "<polyline"), 3, "one line per non-empty series");
  cr_assert(strstr(text, "percentile (log scale") != NULL);
  cr_assert(strstr(text, "latency (ms)") != NULL, "10 ms tail: axis in ms");
  /* 20,000 values in the largest series: ticks up to 99.99%, no further. */
  cr_assert(strstr(text, ">99.99%<") != NULL);
  cr_assert(strstr(text, ">99.999%<") == NULL);
  cr_assert(strstr(text, "spin &lt;deadline&gt; &amp; &quot;trap&quot;") != NULL);
  cr_assert(strstr(text, "never sent (no data)") != NULL);
  cr_assert(strstr(text, "title with &lt;angle&gt; &amp; amp") != NULL);
  cr_assert(strstr(text, "</svg>") != NULL);
  cr_assert_eq(xml_check(path, 3), 0, "python3 xml.etree rejected %s", path);
  free(text);
  unlink(path);

  /* The checker itself must catch broken XML, or the test above proves nothing. */
  FILE *f = fopen(path, "w");
  fputs("<svg xmlns=\"http://www.w3.org/2000/svg\"><polyline></svg>", f);
  fclose(f);
  cr_assert_neq(xml_check(path, 1), 0);
  unlink(path);
  wp_bench_hist_destroy(all);
  wp_bench_hist_destroy(fast);
  wp_bench_hist_destroy(slow);
  wp_bench_hist_destroy(empty);
}

Test(bench_svg, empty_data_still_draws_axes) {
  wp_bench_hist *empty;
  cr_assert_eq(wp_bench_hist_create(0, &empty), 0);
  wp_bench_svg_series series[] = {{"all requests", empty}};
  char path[] = "/tmp/wpb_svg_XXXXXX.svg";
  int fd = mkstemps(path, 4);
  close(fd);
  cr_assert_eq(wp_bench_svg_save(path, NULL, series, 1), 0);
  cr_assert_eq(xml_check(path, 0), 0);
  /* A long label is cut for the legend, never inside a UTF-8 character. */
  wp_bench_svg_series long_label[] = {
      {"call averyveryverylongmodule/\xc3\xa9\xc3\xa9xport", empty}};
  cr_assert_eq(wp_bench_svg_save(path, NULL, long_label, 1), 0);
  char *text = slurp(path);
  cr_assert(strstr(text, "call averyveryverylongmodu...") != NULL, "%s", text);
  cr_assert_eq(xml_check(path, 0), 0);
  free(text);
  unlink(path);
  wp_bench_hist_destroy(empty);
}
