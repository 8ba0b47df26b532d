/* helpers.h — shared by the tests/instance/test_*.c files of the execution
 * core: a runtime with a small pool and a private cache directory, and Wasm
 * fixtures compiled from WAT text with wat2wasm (run with posix_spawnp, no
 * shell) into a temp directory.
 */
#ifndef WP_TEST_RUNTIME_HELPERS_H
#define WP_TEST_RUNTIME_HELPERS_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "instance.h"

extern char **environ;

static char wpt_dir[256];

/* A fresh temp dir holding the cache and the fixtures of one test. */
static inline const char *wpt_tempdir(void) {
  if (!wpt_dir[0]) {
    snprintf(wpt_dir, sizeof(wpt_dir), "/tmp/wp-rt-test.XXXXXX");
    cr_assert_not_null(mkdtemp(wpt_dir));
  }
  return wpt_dir;
}

static inline void wpt_rmtree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *e;
  char path[1024];
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    if (n < 0 || (size_t)n >= sizeof(path))
      continue;
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
      wpt_rmtree(path);
    else
      unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

static inline void wpt_cleanup(void) {
  if (wpt_dir[0])
    wpt_rmtree(wpt_dir);
  wpt_dir[0] = '\0';
}

static inline void wpt_config(wp_runtime_config *cfg) {
  wp_runtime_config_default(cfg);
  static char cache[300];
  snprintf(cache, sizeof(cache), "%s/cache", wpt_tempdir());
  cfg->cache_dir = cache;
  cfg->pool.total_instances = 8;
  cfg->pool.max_memory_bytes = (uint64_t)1 << 30;
  cfg->pool.guard_bytes = (uint64_t)7 << 30;
  cfg->pool.max_unused_warm_slots = 4;
  cfg->guest_stack_bytes = (uint64_t)1 << 20;
  cfg->opt_level = "-O1";
}

static inline wp_runtime *wpt_runtime_with(const wp_runtime_config *cfg) {
  wp_runtime *rt = NULL;
  wp_error err = {0};
  int rc = wp_runtime_create(cfg, &rt, &err);
  cr_assert_eq(rc, 0, "wp_runtime_create: %s", err.message);
  return rt;
}

static inline wp_runtime *wpt_runtime(void) {
  wp_runtime_config cfg;
  wpt_config(&cfg);
  return wpt_runtime_with(&cfg);
}

/* Runs a program of the Debian 13 tool root through its own loader (as
 * instance/ does); returns its exit status. args ends with NULL. */
static inline int wpt_toolroot_run(const char *program, const char *const *args) {
  char loader[700], libpath[600], path[600];
  snprintf(libpath, sizeof(libpath), "%s/usr/lib/x86_64-linux-gnu", WP_TEST_TOOLROOT);
  snprintf(loader, sizeof(loader), "%s/ld-linux-x86-64.so.2", libpath);
  snprintf(path, sizeof(path), "%s/usr/bin/%s", WP_TEST_TOOLROOT, program);
  const char *argv[24] = {loader, "--library-path", libpath, path};
  size_t n = 4;
  for (size_t i = 0; args[i] && n < 23; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  pid_t pid;
  cr_assert_eq(posix_spawn(&pid, loader, NULL, NULL, (char *const *)argv, environ), 0);
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  return status;
}

/* Compiles WAT text to Wasm bytes (malloc'd). */
static inline uint8_t *wpt_wat(const char *wat, size_t *length) {
  static int counter;
  char wat_path[400], wasm_path[400];
  snprintf(wat_path, sizeof(wat_path), "%s/f%d.wat", wpt_tempdir(), counter);
  snprintf(wasm_path, sizeof(wasm_path), "%s/f%d.wasm", wpt_tempdir(), counter);
  counter++;
  FILE *f = fopen(wat_path, "w");
  cr_assert_not_null(f);
  fputs(wat, f);
  fclose(f);
  /* What the engine runs; not --enable-all (function references would
   * type plain funcref code differently). */
  const char *args[] = {"--enable-exceptions",
                        "--enable-tail-call",
                        "--enable-memory64",
                        "--enable-multi-memory",
                        "--enable-threads",
                        "--enable-extended-const",
                        "--enable-relaxed-simd",
                        wat_path,
                        "-o",
                        wasm_path,
                        NULL};
  int status = wpt_toolroot_run("wat2wasm", args);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "wat2wasm failed on %s", wat_path);
  f = fopen(wasm_path, "rb");
  cr_assert_not_null(f);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *bytes = malloc((size_t)size + 1);
  cr_assert_eq(fread(bytes, 1, (size_t)size, f), (size_t)size);
  fclose(f);
  *length = (size_t)size;
  return bytes;
}

static inline wp_module *wpt_load_opts(wp_runtime *rt, const char *wat,
                                       const wp_module_options *opts) {
  size_t length;
  uint8_t *wasm = wpt_wat(wat, &length);
  wp_module *mod = NULL;
  wp_error err = {0};
  int rc = wp_module_load(rt, wasm, length, opts, &mod, &err);
  free(wasm);
  cr_assert_eq(rc, 0, "wp_module_load: %s (%s)", err.message, wp_err_name(rc));
  return mod;
}

static inline wp_module *wpt_load(wp_runtime *rt, const char *wat) {
  return wpt_load_opts(rt, wat, NULL);
}

static inline wp_instance *wpt_instantiate(wp_runtime *rt, wp_module *mod) {
  wp_instance *inst = NULL;
  wp_error err = {0};
  int rc = wp_instance_create(rt, mod, NULL, &inst, &err);
  cr_assert_eq(rc, 0, "wp_instance_create: %s (%s)", err.message, wp_err_name(rc));
  return inst;
}

static inline wp_val wpt_i32(uint32_t v) {
  wp_val x = {.type = WP_I32};
  x.of.i32 = v;
  return x;
}

static inline wp_val wpt_i64(uint64_t v) {
  wp_val x = {.type = WP_I64};
  x.of.i64 = v;
  return x;
}

/* Calls name(args) expecting one i32 result; returns the call's code. */
static inline int wpt_call_i32(wp_instance *inst, const char *name, const wp_val *args, size_t n,
                               uint32_t *out, wp_error *err) {
  wp_val res[1];
  int rc = wp_instance_call(inst, name, strlen(name), args, n, res, 1, NULL, err);
  if (rc == 0 && out)
    *out = res[0].of.i32;
  return rc;
}

#endif /* WP_TEST_RUNTIME_HELPERS_H */
