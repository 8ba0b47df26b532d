/* test_report.c — report.c: counters, grouped skip reasons, merging and the
 * exact summary line the suite's callers parse. */
#include <criterion/criterion.h>
#include <string.h>

#include "spec.h"

Test(report, counts_and_formats_the_summary_line) {
  wp_spec_report *r;
  cr_assert_eq(wp_spec_report_create(&r), 0);
  char line[128];
  wp_spec_report_format(r, line, sizeof line);
  cr_assert_str_eq(line, "0 passed, 0 failed, 0 skipped");
  for (int i = 0; i < 5; i++)
    wp_spec_report_pass(r);
  wp_spec_report_fail(r);
  cr_assert_eq(wp_spec_report_skip(r, "SIMD is not supported"), 0);
  wp_spec_report_format(r, line, sizeof line);
  cr_assert_str_eq(line, "5 passed, 1 failed, 1 skipped");
  wp_spec_report_destroy(r);
}

Test(report, skips_are_grouped_by_reason_in_first_seen_order) {
  wp_spec_report *r;
  cr_assert_eq(wp_spec_report_create(&r), 0);
  wp_spec_report_skip(r, "b");
  wp_spec_report_skip(r, "a");
  wp_spec_report_skip(r, "b");
  /* More reasons than the first allocation holds. */
  char reason[16];
  for (int i = 0; i < 20; i++) {
    snprintf(reason, sizeof reason, "r%d", i);
    wp_spec_report_skip(r, reason);
  }
  cr_assert_eq(wp_spec_report_skipped(r), 23);
  cr_assert_eq(wp_spec_report_reason_count(r), 22);
  uint64_t count;
  cr_assert_str_eq(wp_spec_report_reason(r, 0, &count), "b");
  cr_assert_eq(count, 2);
  cr_assert_str_eq(wp_spec_report_reason(r, 1, &count), "a");
  cr_assert_eq(count, 1);
  cr_assert_str_eq(wp_spec_report_reason(r, 21, &count), "r19");
  cr_assert_null(wp_spec_report_reason(r, 22, &count));
  wp_spec_report_destroy(r);
}

Test(report, merge_adds_counters_and_reasons) {
  wp_spec_report *total, *file;
  cr_assert_eq(wp_spec_report_create(&total), 0);
  cr_assert_eq(wp_spec_report_create(&file), 0);
  wp_spec_report_pass(total);
  wp_spec_report_skip(total, "x");
  wp_spec_report_pass(file);
  wp_spec_report_fail(file);
  wp_spec_report_skip(file, "x");
  wp_spec_report_skip(file, "y");
  cr_assert_eq(wp_spec_report_merge(total, file), 0);
  cr_assert_eq(wp_spec_report_passed(total), 2);
  cr_assert_eq(wp_spec_report_failed(total), 1);
  cr_assert_eq(wp_spec_report_skipped(total), 3);
  uint64_t count;
  cr_assert_str_eq(wp_spec_report_reason(total, 0, &count), "x");
  cr_assert_eq(count, 2);
  cr_assert_str_eq(wp_spec_report_reason(total, 1, &count), "y");
  cr_assert_eq(count, 1);
  /* The source is unchanged. */
  cr_assert_eq(wp_spec_report_skipped(file), 2);
  wp_spec_report_destroy(file);
  wp_spec_report_destroy(total);
}

Test(report, reasons_print_one_line_each) {
  wp_spec_report *r;
  cr_assert_eq(wp_spec_report_create(&r), 0);
  wp_spec_report_skip(r, "SIMD is not supported");
  wp_spec_report_skip(r, "SIMD is not supported");
  wp_spec_report_skip(r, "other");
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  wp_spec_report_print_reasons(r, f);
  fclose(f);
  cr_assert_str_eq(text, "  skipped 2: SIMD is not supported\n  skipped 1: other\n");
  free(text);
  wp_spec_report_destroy(r);
}

Test(report, write_then_read_round_trips_into_a_merge) {
  wp_spec_report *file, *total;
  cr_assert_eq(wp_spec_report_create(&file), 0);
  cr_assert_eq(wp_spec_report_create(&total), 0);
  for (int i = 0; i < 3; i++)
    wp_spec_report_pass(file);
  wp_spec_report_fail(file);
  wp_spec_report_skip(file, "SIMD is not supported");
  wp_spec_report_skip(file, "SIMD is not supported");
  wp_spec_report_skip(file, "a reason: with colons and spaces");
  wp_spec_report_pass(total);
  wp_spec_report_skip(total, "SIMD is not supported");

  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  cr_assert_eq(wp_spec_report_write(file, f), 0);
  fclose(f);
  f = fmemopen(text, len, "r");
  cr_assert_eq(wp_spec_report_read(total, f), 0);
  fclose(f);
  free(text);

  cr_assert_eq(wp_spec_report_passed(total), 4);
  cr_assert_eq(wp_spec_report_failed(total), 1);
  cr_assert_eq(wp_spec_report_skipped(total), 4);
  uint64_t count;
  cr_assert_str_eq(wp_spec_report_reason(total, 0, &count), "SIMD is not supported");
  cr_assert_eq(count, 3);
  cr_assert_str_eq(wp_spec_report_reason(total, 1, &count), "a reason: with colons and spaces");
  cr_assert_eq(count, 1);
  wp_spec_report_destroy(file);
  wp_spec_report_destroy(total);
}

Test(report, read_rejects_truncated_or_foreign_input) {
  const char *bad[] = {"",        "counts 1 2\n", "counts 1 2 3",
                       "hello\n", "reason 3 x\n", "counts 1 2 3\nreason x\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    wp_spec_report *r;
    cr_assert_eq(wp_spec_report_create(&r), 0);
    FILE *f = fmemopen((void *)bad[i], strlen(bad[i]) + (bad[i][0] == '\0'), "r");
    cr_assert_eq(wp_spec_report_read(r, f), WP_EINVAL, "input %zu accepted", i);
    fclose(f);
    wp_spec_report_destroy(r);
  }
}
