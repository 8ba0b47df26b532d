/* cache.c — the compile driver and its on-disk artifact cache.
 *
 * An artifact is <cache_dir>/<key>.so where key = sha256(compiler identity ||
 * sha256(the bytes given to wasm2c)). The compiler identity hashes what can
 * change the output: the resolved paths, sizes and mtimes of wasm2c, cc and
 * wasm-rt.h, the flags, and the glue ABI text and version. A miss compiles in
 * a private temp directory under cache_dir and publishes with rename(), which
 * is atomic, so concurrent deployers of the same bytes never see a partial
 * .so (the loser of the race overwrites with identical bytes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime_internal.h"

/* Flags for the generated code. -fstack-clash-protection makes a frame larger
 * than the guard probe page by page, so it faults on the guard instead of
 * jumping over it; hidden visibility + -Bsymbolic keep every symbol of one
 * module inside its .so (only wp_glue_descriptor is exported).
 * -fsignaling-nans stops GCC folding x - 0.0, x * 1.0, -1.0 * x... to x or
 * -x, which would return a signalling NaN unquieted (the spec wants an
 * arithmetic NaN). */
static const char *const k_cc_flags[] = {"-fPIC",
                                         "-shared",
                                         "-fvisibility=hidden",
                                         "-fstack-clash-protection",
                                         "-fsignaling-nans",
                                         "-fno-strict-aliasing",
                                         "-DNDEBUG",
                                         "-w",
                                         "-Wl,-Bsymbolic",
                                         NULL};
static const char *const k_wasm2c_flags[] = {"--enable-exceptions", NULL};

static char *dup_or_default(const char *value, const char *fallback) {
  return strdup(value && value[0] ? value : fallback);
}

/* Resolves a program name on PATH (as execvp would). */
static bool resolve_program(const char *name, char *out, size_t out_len) {
  if (strchr(name, '/')) {
    snprintf(out, out_len, "%s", name);
    return access(out, X_OK) == 0;
  }
  const char *path = getenv("PATH");
  if (!path)
    path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t dir_len = end ? (size_t)(end - path) : strlen(path);
    snprintf(out, out_len, "%.*s/%s", (int)dir_len, path, name);
    if (access(out, X_OK) == 0)
      return true;
    path += dir_len + (end ? 1 : 0);
  }
  return false;
}

static void hash_file_identity(wp__sha256 *ctx, const char *path) {
  char resolved[4096];
  struct stat st;
  memset(&st, 0, sizeof(st));
  if (realpath(path, resolved) == NULL)
    snprintf(resolved, sizeof(resolved), "%s", path);
  stat(resolved, &st);
  char line[4300];
  int n = snprintf(line, sizeof(line), "%s|%lld|%lld.%09ld\n", resolved, (long long)st.st_size,
                   (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  wp__sha256_update(ctx, line, (size_t)n);
}

int wp__compiler_init(wp__compiler *cc, const wp_runtime_config *cfg, wp_error *err) {
  memset(cc, 0, sizeof(*cc));
  cc->cache_dir = dup_or_default(cfg->cache_dir, "/tmp/wasmpool-cache");
  cc->wasm2c_path = dup_or_default(cfg->wasm2c_path, "wasm2c");
  cc->cc_path = dup_or_default(cfg->cc_path, "cc");
  cc->opt_level = dup_or_default(cfg->opt_level, "-O2");
  cc->limits.cpu_seconds = cfg->compile_cpu_seconds;
  cc->limits.memory_bytes = cfg->compile_memory_bytes;
  cc->limits.wall_ms = cfg->compile_wall_ms;
  if (!cc->cache_dir || !cc->wasm2c_path || !cc->cc_path || !cc->opt_level) {
    wp__compiler_free(cc);
    return wp__error(err, WP_ENOMEM, "out of memory");
  }
  if (mkdir(cc->cache_dir, 0700) != 0 && errno != EEXIST) {
    int code = wp__error(err, WP_ECONFIG, "cache_dir: cannot create %s: %s", cc->cache_dir,
                         strerror(errno));
    wp__compiler_free(cc);
    return code;
  }
  char wasm2c[4096], ccbin[4096];
  if (!resolve_program(cc->wasm2c_path, wasm2c, sizeof(wasm2c))) {
    int code = wp__error(err, WP_ECONFIG, "wasm2c_path: %s not found", cc->wasm2c_path);
    wp__compiler_free(cc);
    return code;
  }
  if (!resolve_program(cc->cc_path, ccbin, sizeof(ccbin))) {
    int code = wp__error(err, WP_ECONFIG, "cc_path: %s not found", cc->cc_path);
    wp__compiler_free(cc);
    return code;
  }
  wp__sha256 ctx;
  wp__sha256_init(&ctx);
  hash_file_identity(&ctx, wasm2c);
  hash_file_identity(&ctx, ccbin);
  hash_file_identity(&ctx, "/usr/include/wasm-rt.h");
  wp__sha256_update(&ctx, cc->opt_level, strlen(cc->opt_level));
  for (size_t i = 0; k_cc_flags[i]; i++)
    wp__sha256_update(&ctx, k_cc_flags[i], strlen(k_cc_flags[i]) + 1);
  for (size_t i = 0; k_wasm2c_flags[i]; i++)
    wp__sha256_update(&ctx, k_wasm2c_flags[i], strlen(k_wasm2c_flags[i]) + 1);
  unsigned version = WP__GLUE_ABI_VERSION;
  wp__sha256_update(&ctx, &version, sizeof(version));
  wp__sha256_update(&ctx, wp__glue_abi_text, sizeof(wp__glue_abi_text));
  uint8_t digest[32];
  wp__sha256_final(&ctx, digest);
  for (int i = 0; i < 32; i++)
    snprintf(cc->identity_hex + 2 * i, 3, "%02x", digest[i]);
  return 0;
}

void wp__compiler_free(wp__compiler *cc) {
  free(cc->cache_dir);
  free(cc->wasm2c_path);
  free(cc->cc_path);
  free(cc->opt_level);
  memset(cc, 0, sizeof(*cc));
}

/* dir + "/" + name; false when it does not fit. */
static bool path_join(char *out, size_t out_len, const char *dir, const char *name) {
  int n = snprintf(out, out_len, "%s/%s", dir, name);
  return n >= 0 && (size_t)n < out_len;
}

static int write_file(const char *path, const uint8_t *bytes, size_t length) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  while (length > 0) {
    ssize_t put = write(fd, bytes, length);
    if (put < 0 && errno == EINTR)
      continue;
    if (put <= 0) {
      close(fd);
      return -1;
    }
    bytes += put;
    length -= (size_t)put;
  }
  return close(fd);
}

static void remove_dir(const char *dir) {
  static const char *const names[] = {"m.wasm", "m.c", "m.h", "glue.c", "out.so", NULL};
  char path[4200];
  for (size_t i = 0; names[i]; i++) {
    if (path_join(path, sizeof(path), dir, names[i]))
      unlink(path);
  }
  rmdir(dir);
}

static int compile_into(const wp__compiler *cc, const wp__module_info *info, const uint8_t *wasm,
                        size_t length, const char *dir, wp_error *err) {
  char wasm_path[4200], c_path[4200], glue_path[4200], so_path[4200];
  if (!path_join(wasm_path, sizeof(wasm_path), dir, "m.wasm") ||
      !path_join(c_path, sizeof(c_path), dir, "m.c") ||
      !path_join(glue_path, sizeof(glue_path), dir, "glue.c") ||
      !path_join(so_path, sizeof(so_path), dir, "out.so"))
    return wp__error(err, WP_ECONFIG, "cache_dir: path too long");
  if (write_file(wasm_path, wasm, length) != 0)
    return wp__error(err, WP_EIO, "cannot write %s: %s", wasm_path, strerror(errno));

  char *captured = malloc(8192);
  if (!captured)
    return wp__error(err, WP_ENOMEM, "out of memory");
  const char *w2c_argv[16];
  size_t n = 0;
  w2c_argv[n++] = cc->wasm2c_path;
  for (size_t i = 0; k_wasm2c_flags[i]; i++)
    w2c_argv[n++] = k_wasm2c_flags[i];
  w2c_argv[n++] = wasm_path;
  w2c_argv[n++] = "-n";
  w2c_argv[n++] = "m";
  w2c_argv[n++] = "-o";
  w2c_argv[n++] = c_path;
  w2c_argv[n] = NULL;
  int rc = wp__spawn(w2c_argv, &cc->limits, captured, 8192, err);
  if (rc == WP_ECOMPILE && err && !strstr(err->message, "killed by signal")) {
    /* wasm2c validates: its complaint means the module is invalid (a crash
     * is not a verdict on the module). */
    err->code = WP_EINVALID_MODULE;
    rc = WP_EINVALID_MODULE;
  }
  if (rc != 0) {
    free(captured);
    return rc;
  }
  rc = wp__glue_write(info, "m.c", glue_path, err);
  if (rc != 0) {
    free(captured);
    return rc;
  }
  const char *cc_argv[24];
  n = 0;
  cc_argv[n++] = cc->cc_path;
  cc_argv[n++] = cc->opt_level;
  for (size_t i = 0; k_cc_flags[i]; i++)
    cc_argv[n++] = k_cc_flags[i];
  cc_argv[n++] = "-o";
  cc_argv[n++] = so_path;
  cc_argv[n++] = glue_path;
  cc_argv[n++] = "-lm";
  cc_argv[n] = NULL;
  rc = wp__spawn(cc_argv, &cc->limits, captured, 8192, err);
  free(captured);
  return rc;
}

int wp__validate(const wp__compiler *cc, const uint8_t *wasm, size_t length, wp_error *err) {
  char dir[4096], wasm_path[4200];
  if (!path_join(dir, sizeof(dir), cc->cache_dir, "tmp.XXXXXX") || mkdtemp(dir) == NULL)
    return WP_EIO;
  int rc = WP_EIO;
  if (path_join(wasm_path, sizeof(wasm_path), dir, "m.wasm") &&
      write_file(wasm_path, wasm, length) == 0) {
    char captured[2048];
    const char *argv[] = {"wasm-validate", k_wasm2c_flags[0], wasm_path, NULL};
    wp_error verr = {0};
    rc = wp__spawn(argv, &cc->limits, captured, sizeof(captured), &verr);
    if (rc == WP_ECOMPILE)
      rc = wp__error(err, WP_EINVALID_MODULE, "%s", verr.message);
  }
  remove_dir(dir);
  return rc;
}

int wp__compile(const wp__compiler *cc, const wp__module_info *info, const uint8_t *wasm,
                size_t length, const char *key_hex, char **so_path, bool *cache_hit,
                wp_error *err) {
  size_t path_len = strlen(cc->cache_dir) + strlen(key_hex) + 8;
  char *path = malloc(path_len);
  if (!path)
    return wp__error(err, WP_ENOMEM, "out of memory");
  snprintf(path, path_len, "%s/%s.so", cc->cache_dir, key_hex);
  if (access(path, R_OK) == 0) {
    *so_path = path;
    *cache_hit = true;
    return 0;
  }
  char dir[4096];
  if (!path_join(dir, sizeof(dir), cc->cache_dir, "tmp.XXXXXX") || mkdtemp(dir) == NULL) {
    free(path);
    return wp__error(err, WP_EIO, "cannot create a build directory in %s: %s", cc->cache_dir,
                     strerror(errno));
  }
  int rc = compile_into(cc, info, wasm, length, dir, err);
  if (rc == 0) {
    char built[4300];
    if (!path_join(built, sizeof(built), dir, "out.so") || rename(built, path) != 0)
      rc = wp__error(err, WP_EIO, "cannot publish %s: %s", path, strerror(errno));
  }
  remove_dir(dir);
  if (rc != 0) {
    free(path);
    return rc;
  }
  *so_path = path;
  *cache_hit = false;
  return 0;
}
