/* profile.c — which features the files of a test directory assume.
 *
 * The 2024 suite (../shared/spec/testsuite-2024) keeps the core tests in
 * core/ and each proposal's in proposals/<name>/. As in wabt's spec-test
 * driver, a file is converted and run with the features of its directory and
 * no others: core/ at that commit still has assert_invalid for a second
 * memory (memory.wast, imports.wast), so multi-memory must be off there, and
 * a proposal directory assumes its proposal on top of the 2.0 + SIMD core.
 *
 * exceptions-legacy also turns on tail calls: its try_catch.wast throws
 * through return_call and return_call_indirect (wast2json refuses the file
 * without --enable-tail-call).
 *
 * threads/ branched before reference types: its imports.wast asserts that a
 * second table is invalid ("multiple tables"). Reference types are always on
 * in wasmpool (there is no WP_FEATURE bit to turn them off), so those
 * assertions are skipped with that reason rather than failed.
 */
#include <string.h>

#include "spec.h"

#define ONLY(bits) (WP_FEATURES_ALL & ~(uint32_t)(bits))

static const wp_spec_profile profiles[] = {
    {.name = "core", .disabled_features = WP_FEATURES_ALL},
    {.name = "exceptions-legacy",
     .disabled_features = ONLY(WP_FEATURE_EXCEPTIONS | WP_FEATURE_TAIL_CALL),
     .flags = {"--enable-exceptions", "--enable-tail-call"}},
    {.name = "tail-call",
     .disabled_features = ONLY(WP_FEATURE_TAIL_CALL),
     .flags = {"--enable-tail-call"}},
    {.name = "memory64",
     .disabled_features = ONLY(WP_FEATURE_MEMORY64),
     .flags = {"--enable-memory64"}},
    {.name = "multi-memory",
     .disabled_features = ONLY(WP_FEATURE_MULTI_MEMORY),
     .flags = {"--enable-multi-memory"}},
    {.name = "extended-const",
     .disabled_features = ONLY(WP_FEATURE_EXTENDED_CONST),
     .flags = {"--enable-extended-const"}},
    {.name = "threads",
     .disabled_features = ONLY(WP_FEATURE_THREADS),
     .flags = {"--enable-threads"},
     .unenforceable = {"multiple tables"},
     .unenforceable_reason = "asserts the pre-reference-types one-table rule (threads/ predates "
                             "reference types, which wasmpool always has)"},
    /* Everything the engine has, for files outside the suite's layout (the
     * examples). Not --enable-all, which would also admit what wasm2c 1.0.36
     * cannot translate (GC, relaxed SIMD, function references). */
    {.name = "all",
     .disabled_features = 0,
     .flags = {"--enable-exceptions", "--enable-tail-call", "--enable-memory64",
               "--enable-multi-memory", "--enable-extended-const", "--enable-threads"}},
};

bool wp_spec_profile_unenforceable(const wp_spec_profile *profile, const char *text) {
  for (size_t i = 0; text != NULL && profile->unenforceable[i] != NULL; i++) {
    if (strcmp(profile->unenforceable[i], text) == 0)
      return true;
  }
  return false;
}

const wp_spec_profile *wp_spec_profile_find(const char *name) {
  if (name == NULL)
    return NULL;
  for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
    if (strcmp(profiles[i].name, name) == 0)
      return &profiles[i];
  }
  return NULL;
}

/* Copies the path component that ends just before end (exclusive) into
 * buf; returns its start, or NULL when there is none. */
static const char *component_before(const char *path, const char *end, char *buf, size_t len) {
  if (end == NULL || end <= path)
    return NULL;
  const char *start = end;
  while (start > path && start[-1] != '/')
    start--;
  size_t n = (size_t)(end - start);
  if (n == 0 || n >= len)
    return NULL;
  memcpy(buf, start, n);
  buf[n] = '\0';
  return start;
}

const wp_spec_profile *wp_spec_profile_for_path(const char *wast_path) {
  char dir[256], parent[256];
  const char *slash = strrchr(wast_path, '/');
  const char *dir_start = component_before(wast_path, slash, dir, sizeof dir);
  if (dir_start == NULL)
    return wp_spec_profile_find("all");
  const char *parent_start = dir_start > wast_path
                                 ? component_before(wast_path, dir_start - 1, parent, sizeof parent)
                                 : NULL;
  if (parent_start != NULL && strcmp(parent, "proposals") == 0) {
    /* "all" and "core" are not proposal names. */
    const wp_spec_profile *p = wp_spec_profile_find(dir);
    return p != NULL && strcmp(p->name, "all") != 0 && strcmp(p->name, "core") != 0 ? p : NULL;
  }
  if (strcmp(dir, "core") == 0)
    return wp_spec_profile_find("core");
  return wp_spec_profile_find("all");
}
