/* report.c — what the spec runner counts: passed, failed and skipped
 * commands, with every skip filed under its reason so the summary can say
 * why each one was not run. Reasons are grouped by exact text in first-seen
 * order; a file's report is merged into the total at the end of the file.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

typedef struct reason_entry {
  char *text;
  uint64_t count;
} reason_entry;

struct wp_spec_report {
  uint64_t passed, failed, skipped;
  reason_entry *reasons;
  size_t reason_count, reason_capacity;
};

int wp_spec_report_create(wp_spec_report **out) {
  wp_spec_report *report = calloc(1, sizeof *report);
  if (report == NULL)
    return WP_ENOMEM;
  *out = report;
  return 0;
}

void wp_spec_report_destroy(wp_spec_report *report) {
  if (report == NULL)
    return;
  for (size_t i = 0; i < report->reason_count; i++)
    free(report->reasons[i].text);
  free(report->reasons);
  free(report);
}

void wp_spec_report_pass(wp_spec_report *report) {
  report->passed++;
}

void wp_spec_report_fail(wp_spec_report *report) {
  report->failed++;
}

static int add_reason(wp_spec_report *report, const char *reason, uint64_t count) {
  for (size_t i = 0; i < report->reason_count; i++) {
    if (strcmp(report->reasons[i].text, reason) == 0) {
      report->reasons[i].count += count;
      return 0;
    }
  }
  if (report->reason_count == report->reason_capacity) {
    size_t capacity = report->reason_capacity ? report->reason_capacity * 2 : 8;
    reason_entry *grown = realloc(report->reasons, capacity * sizeof *grown);
    if (grown == NULL)
      return WP_ENOMEM;
    report->reasons = grown;
    report->reason_capacity = capacity;
  }
  char *copy = strdup(reason);
  if (copy == NULL)
    return WP_ENOMEM;
  report->reasons[report->reason_count++] = (reason_entry){copy, count};
  return 0;
}

int wp_spec_report_skip(wp_spec_report *report, const char *reason) {
  /* Counted even if the reason cannot be stored, so totals never undercount. */
  report->skipped++;
  return add_reason(report, reason, 1);
}

int wp_spec_report_merge(wp_spec_report *into, const wp_spec_report *from) {
  into->passed += from->passed;
  into->failed += from->failed;
  into->skipped += from->skipped;
  for (size_t i = 0; i < from->reason_count; i++) {
    int rc = add_reason(into, from->reasons[i].text, from->reasons[i].count);
    if (rc != 0)
      return rc;
  }
  return 0;
}

uint64_t wp_spec_report_passed(const wp_spec_report *report) {
  return report->passed;
}

uint64_t wp_spec_report_failed(const wp_spec_report *report) {
  return report->failed;
}

uint64_t wp_spec_report_skipped(const wp_spec_report *report) {
  return report->skipped;
}

size_t wp_spec_report_reason_count(const wp_spec_report *report) {
  return report->reason_count;
}

const char *wp_spec_report_reason(const wp_spec_report *report, size_t i, uint64_t *count) {
  if (i >= report->reason_count)
    return NULL;
  if (count != NULL)
    *count = report->reasons[i].count;
  return report->reasons[i].text;
}

void wp_spec_report_format(const wp_spec_report *report, char *buf, size_t len) {
  snprintf(buf, len, "%" PRIu64 " passed, %" PRIu64 " failed, %" PRIu64 " skipped", report->passed,
           report->failed, report->skipped);
}

void wp_spec_report_print_reasons(const wp_spec_report *report, FILE *out) {
  for (size_t i = 0; i < report->reason_count; i++)
    fprintf(out, "  skipped %" PRIu64 ": %s\n", report->reasons[i].count, report->reasons[i].text);
}

/* Format: "counts P F S\n", then "reason N TEXT\n" per reason. Reasons are
 * single-line strings written by the runner itself. */
int wp_spec_report_write(const wp_spec_report *report, FILE *out) {
  fprintf(out, "counts %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", report->passed, report->failed,
          report->skipped);
  for (size_t i = 0; i < report->reason_count; i++)
    fprintf(out, "reason %" PRIu64 " %s\n", report->reasons[i].count, report->reasons[i].text);
  return ferror(out) ? WP_EIO : 0;
}

int wp_spec_report_read(wp_spec_report *into, FILE *in) {
  char line[4096];
  bool have_counts = false;
  while (fgets(line, sizeof line, in) != NULL) {
    size_t len = strlen(line);
    if (len == 0 || line[len - 1] != '\n')
      return WP_EINVAL;
    line[len - 1] = '\0';
    uint64_t passed, failed, skipped, count;
    int used = 0;
    if (sscanf(line, "counts %" SCNu64 " %" SCNu64 " %" SCNu64 "%n", &passed, &failed, &skipped,
               &used) == 3 &&
        line[used] == '\0') {
      into->passed += passed;
      into->failed += failed;
      into->skipped += skipped;
      have_counts = true;
    } else if (sscanf(line, "reason %" SCNu64 " %n", &count, &used) == 1 && used > 0 &&
               line[used] != '\0') {
      int rc = add_reason(into, line + used, count);
      if (rc != 0)
        return rc;
    } else {
      return WP_EINVAL;
    }
  }
  return have_counts ? 0 : WP_EINVAL;
}
