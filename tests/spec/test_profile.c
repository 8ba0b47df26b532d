/* test_profile.c — profile.c: the features each directory of the 2024 suite
 * is run with, from the file's path. */
#include <criterion/criterion.h>
#include <string.h>

#include "spec.h"

static const wp_spec_profile *for_path(const char *path) {
  return wp_spec_profile_for_path(path);
}

static bool has_flag(const wp_spec_profile *p, const char *flag) {
  for (size_t i = 0; p->flags[i] != NULL; i++) {
    if (strcmp(p->flags[i], flag) == 0)
      return true;
  }
  return false;
}

Test(profile, core_turns_every_proposal_off) {
  const wp_spec_profile *p = for_path("/x/testsuite-2024/core/memory.wast");
  cr_assert_not_null(p);
  cr_assert_str_eq(p->name, "core");
  /* core/ still asserts "multiple memories" is invalid (memory.wast). */
  cr_assert_eq(p->disabled_features, WP_FEATURES_ALL);
  cr_assert_null(p->flags[0], "SIMD is on by default in wast2json 1.0.36; no flag needed");
}

Test(profile, a_proposal_directory_turns_its_proposal_on) {
  static const struct {
    const char *dir;
    uint32_t on;
    const char *flag;
  } cases[] = {
      {"tail-call", WP_FEATURE_TAIL_CALL, "--enable-tail-call"},
      {"memory64", WP_FEATURE_MEMORY64, "--enable-memory64"},
      {"multi-memory", WP_FEATURE_MULTI_MEMORY, "--enable-multi-memory"},
      {"extended-const", WP_FEATURE_EXTENDED_CONST, "--enable-extended-const"},
      {"threads", WP_FEATURE_THREADS, "--enable-threads"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char path[256];
    snprintf(path, sizeof path, "../shared/spec/testsuite-2024/proposals/%s/a.wast", cases[i].dir);
    const wp_spec_profile *p = for_path(path);
    cr_assert_not_null(p, "%s", path);
    cr_assert_str_eq(p->name, cases[i].dir);
    cr_assert_eq(p->disabled_features, WP_FEATURES_ALL & ~cases[i].on, "%s", cases[i].dir);
    cr_assert(has_flag(p, cases[i].flag), "%s", cases[i].dir);
    cr_assert_null(p->flags[1], "%s: one flag only", cases[i].dir);
  }
}

Test(profile, legacy_exceptions_also_need_tail_calls) {
  const wp_spec_profile *p = for_path("proposals/exceptions-legacy/try_catch.wast");
  cr_assert_not_null(p);
  cr_assert_eq(p->disabled_features,
               WP_FEATURES_ALL & ~(uint32_t)(WP_FEATURE_EXCEPTIONS | WP_FEATURE_TAIL_CALL));
  cr_assert(has_flag(p, "--enable-exceptions"));
  cr_assert(has_flag(p, "--enable-tail-call"));
}

Test(profile, unknown_proposals_have_no_profile) {
  cr_assert_null(for_path("/s/proposals/gc/struct.wast"));
  cr_assert_null(for_path("/s/proposals/relaxed-simd/x.wast"));
  /* "core" and "all" are not proposal directories. */
  cr_assert_null(for_path("/s/proposals/all/x.wast"));
  cr_assert_null(for_path("/s/proposals/core/x.wast"));
}

Test(profile, other_files_get_every_feature) {
  const wp_spec_profile *p = for_path("/build/tests/spec/example_add.wast");
  cr_assert_not_null(p);
  cr_assert_str_eq(p->name, "all");
  cr_assert_eq(p->disabled_features, 0);
  cr_assert(has_flag(p, "--enable-memory64"));
  cr_assert_not(has_flag(p, "--enable-all"), "--enable-all would admit GC and relaxed SIMD");
  cr_assert_str_eq(for_path("plain.wast")->name, "all");
  cr_assert_str_eq(for_path("/plain.wast")->name, "all");
}

Test(profile, find_by_name) {
  cr_assert_str_eq(wp_spec_profile_find("memory64")->name, "memory64");
  cr_assert_str_eq(wp_spec_profile_find("all")->name, "all");
  cr_assert_null(wp_spec_profile_find("gc"));
  cr_assert_null(wp_spec_profile_find(NULL));
}

Test(profile, threads_skips_the_one_table_rule_only) {
  const wp_spec_profile *threads = wp_spec_profile_find("threads");
  cr_assert(wp_spec_profile_unenforceable(threads, "multiple tables"));
  cr_assert_not(wp_spec_profile_unenforceable(threads, "multiple memories"));
  cr_assert_not(wp_spec_profile_unenforceable(threads, NULL));
  cr_assert_not_null(threads->unenforceable_reason);
  /* Everywhere else it is enforced (core has reference types). */
  cr_assert_not(wp_spec_profile_unenforceable(wp_spec_profile_find("core"), "multiple tables"));
  cr_assert_not(wp_spec_profile_unenforceable(wp_spec_profile_find("all"), "multiple tables"));
}
