/* test_regress.c — replays every saved fuzz input (tests/fuzz/regress/<target>
 * and the seed corpora) through a fuzz target's entry point in the normal
 * build, so a crash or broken property the fuzzer once found stays fixed
 * without clang or libFuzzer.
 *
 * Compiled once per target (tests/fuzz/CMakeLists.txt) with
 *   WP_FUZZ_TARGET  the target's name, for messages;
 *   WP_FUZZ_DIRS    the directories to replay, ':'-separated;
 *   WP_FUZZ_CHECK   a check from fuzz_targets.h, or, for the targets whose
 *                   checks live in LLVMFuzzerTestOneInput itself (proto's
 *                   HTTP target, the config target), WP_FUZZ_LLVM defined
 *                   and that file linked in: a failure there is an abort(),
 *                   which Criterion reports as a crash of this test.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_targets.h"

#ifdef WP_FUZZ_LLVM
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_check(const uint8_t *data, size_t size, char *why, size_t why_len) {
  snprintf(why, why_len, "LLVMFuzzerTestOneInput returned non-zero");
  return LLVMFuzzerTestOneInput(data, size);
}
#else
static int run_check(const uint8_t *data, size_t size, char *why, size_t why_len) {
  return WP_FUZZ_CHECK(data, size, why, why_len);
}
#endif

static int read_file(const char *path, uint8_t **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 4096;
      uint8_t *bigger = realloc(buf, cap);
      if (!bigger) {
        free(buf);
        fclose(f);
        return -1;
      }
      buf = bigger;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0)
      break;
  }
  int failed = ferror(f);
  fclose(f);
  if (failed) {
    free(buf);
    return -1;
  }
  *data = buf;
  *size = len;
  return 0;
}

/* Replays every regular file of dir (not recursive); returns how many. */
static size_t replay_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return 0; /* a target may have no regressions yet */
  size_t replayed = 0;
  struct dirent *entry;
  while ((entry = readdir(d)) != NULL) {
    if (entry->d_name[0] == '.')
      continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
      continue;
    uint8_t *data = NULL;
    size_t size = 0;
    cr_assert_eq(read_file(path, &data, &size), 0, "cannot read %s", path);
    char why[512] = "";
    int rc = run_check(data, size, why, sizeof why);
    cr_expect_eq(rc, 0, "%s: %s: %s", WP_FUZZ_TARGET, path, why);
    free(data);
    replayed++;
  }
  closedir(d);
  return replayed;
}

Test(fuzz_regress, replays_corpus_and_regressions) {
  char dirs[] = WP_FUZZ_DIRS;
  size_t replayed = 0;
  for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
    replayed += replay_dir(dir);
  /* A missing corpus would make this test pass vacuously. */
  cr_assert_geq(replayed, 3, "%s: only %zu inputs found in %s", WP_FUZZ_TARGET, replayed,
                WP_FUZZ_DIRS);
}
