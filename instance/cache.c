/* cache.c — the compiler's identity and the on-disk artifact cache.
 *
 * An artifact is <cache_dir>/<key>.so where key = sha256(tier identity ||
 * sha256(the bytes given to wasm2c) || features). A tier's identity hashes
 * what can change its output: the tool root's package versions (wasm2c,
 * wasm-rt.h, SIMDe), the resolved path, size and mtime of its compiler, its
 * flags, and the glue ABI text and version. A miss builds in a private temp
 * directory under cache_dir (build.c) and publishes with rename(), which is
 * atomic, so concurrent deployers of the same bytes never see a partial .so
 * (the loser of the race overwrites with identical bytes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime_internal.h"

#ifndef WP_DEFAULT_TOOLROOT
#define WP_DEFAULT_TOOLROOT "/usr/lib/wasmpool/toolroot"
#endif

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

/* The whole of a small text file, NUL-terminated; NULL when unreadable. */
static char *read_text(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  char *text = calloc(1, 8192);
  size_t got = text ? fread(text, 1, 8191, f) : 0;
  fclose(f);
  if (text)
    text[got] = '\0';
  return text;
}

const char *wp_default_toolroot(void) {
  return WP_DEFAULT_TOOLROOT;
}

int wp_toolroot_versions(const char *toolroot, char *buf, size_t len) {
  char path[4200];
  snprintf(path, sizeof(path), "%.4000s/../VERSIONS", toolroot ? toolroot : WP_DEFAULT_TOOLROOT);
  char *text = read_text(path);
  if (!text || len == 0) {
    free(text);
    return WP_ECONFIG;
  }
  snprintf(buf, len, "%s", text);
  free(text);
  return 0;
}

size_t wp__toolroot_argv(const wp__compiler *cc, const char *program, char *program_path,
                         size_t program_path_len, const char **out) {
  snprintf(program_path, program_path_len, "%s/usr/bin/%s", cc->toolroot, program);
  out[0] = cc->loader;
  out[1] = "--library-path";
  out[2] = cc->libpath;
  out[3] = program_path;
  return 4;
}

/* Every proposal wasm2c 1.0.36 implements and we run; SIMD, bulk memory,
 * reference types and multi-value are on by default in wabt. */
static const struct {
  uint32_t bit;
  const char *flag;
} k_features[] = {
    {WP_FEATURE_EXCEPTIONS, "--enable-exceptions"},
    {WP_FEATURE_TAIL_CALL, "--enable-tail-call"},
    {WP_FEATURE_MEMORY64, "--enable-memory64"},
    {WP_FEATURE_MULTI_MEMORY, "--enable-multi-memory"},
    {WP_FEATURE_EXTENDED_CONST, "--enable-extended-const"},
    {WP_FEATURE_THREADS, "--enable-threads"},
};

size_t wp__feature_flags(uint32_t disabled_features, const char **out, size_t capacity) {
  size_t n = 0;
  for (size_t i = 0; i < sizeof(k_features) / sizeof(k_features[0]) && n + 1 < capacity; i++)
    if (!(disabled_features & k_features[i].bit))
      out[n++] = k_features[i].flag;
  out[n] = NULL;
  return n;
}

static int config_error(wp__compiler *cc, wp_error *err, const char *fmt, const char *arg) {
  int code = wp__error(err, WP_ECONFIG, fmt, arg);
  wp__compiler_free(cc);
  return code;
}

static void tier_identity(const wp__compiler *cc, wp__tier_tool *tool, const char *tier_name) {
  wp__sha256 ctx;
  wp__sha256_init(&ctx);
  wp__sha256_update(&ctx, tier_name, strlen(tier_name) + 1);
  wp__sha256_update(&ctx, cc->versions, strlen(cc->versions));
  hash_file_identity(&ctx, tool->path);
  if (strcmp(tier_name, "tier1") == 0)
    wp__sha256_update(&ctx, cc->opt_level, strlen(cc->opt_level) + 1);
  else
    hash_file_identity(&ctx, cc->libtcc1);
  unsigned version = WP__GLUE_ABI_VERSION;
  wp__sha256_update(&ctx, &version, sizeof(version));
  wp__sha256_update(&ctx, wp__glue_abi_text, sizeof(wp__glue_abi_text));
  uint8_t digest[32];
  wp__sha256_final(&ctx, digest);
  for (int i = 0; i < 32; i++)
    snprintf(tool->identity_hex + 2 * i, 3, "%02x", digest[i]);
}

/* A missing or unreadable tool root is a start-up error, not a crash at the
 * first deploy: every file a build needs is checked here. */
static int check_toolroot(wp__compiler *cc, wp_error *err) {
  if (strlen(cc->toolroot) > 4000)
    return wp__error(err, WP_ECONFIG, "toolroot: path too long");
  snprintf(cc->libpath, sizeof(cc->libpath), "%.4000s/usr/lib/x86_64-linux-gnu", cc->toolroot);
  snprintf(cc->loader, sizeof(cc->loader), "%.4000s/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
           cc->toolroot);
  snprintf(cc->include, sizeof(cc->include), "%.4000s/usr/include", cc->toolroot);
  char path[4300];
  static const char *const needed[] = {"/usr/bin/wasm2c", "/usr/bin/wasm-validate",
                                       "/usr/include/wasm-rt.h",
                                       "/usr/include/simde/wasm/simd128.h", NULL};
  if (access(cc->loader, X_OK) != 0)
    return wp__error(err, WP_ECONFIG,
                     "toolroot: %s has no loader %s (run scripts/bootstrap.sh): %s", cc->toolroot,
                     cc->loader, strerror(errno));
  for (size_t i = 0; needed[i]; i++) {
    snprintf(path, sizeof(path), "%s%s", cc->toolroot, needed[i]);
    if (access(path, R_OK) != 0)
      return wp__error(err, WP_ECONFIG, "toolroot: cannot read %s (run scripts/bootstrap.sh): %s",
                       path, strerror(errno));
  }
  snprintf(path, sizeof(path), "%s/../VERSIONS", cc->toolroot);
  cc->versions = read_text(path);
  if (!cc->versions || !strstr(cc->versions, "wabt "))
    return wp__error(err, WP_ECONFIG, "toolroot: %s does not list the wabt package", path);
  return 0;
}

int wp__compiler_init(wp__compiler *cc, const wp_runtime_config *cfg, wp_error *err) {
  memset(cc, 0, sizeof(*cc));
  cc->cache_dir = dup_or_default(cfg->cache_dir, "/tmp/wasmpool-cache");
  cc->toolroot = dup_or_default(cfg->toolroot, WP_DEFAULT_TOOLROOT);
  cc->opt_level = dup_or_default(cfg->opt_level, "-O2");
  cc->jobs = cfg->compile_jobs ? cfg->compile_jobs : 2;
  cc->limits.cpu_seconds = cfg->compile_cpu_seconds;
  cc->limits.memory_bytes = cfg->compile_memory_bytes;
  cc->limits.wall_ms = cfg->compile_wall_ms;
  atomic_init(&cc->cancel, false);
  cc->limits.cancel = &cc->cancel;
  pthread_mutex_init(&cc->flight_lock, NULL);
  pthread_cond_init(&cc->flight_done, NULL);
  if (!cc->cache_dir || !cc->toolroot || !cc->opt_level) {
    wp__compiler_free(cc);
    return wp__error(err, WP_ENOMEM, "out of memory");
  }
  int rc = check_toolroot(cc, err);
  if (rc != 0) {
    wp__compiler_free(cc);
    return rc;
  }
  struct stat st;
  if (mkdir(cc->cache_dir, 0700) != 0 && errno != EEXIST)
    return config_error(cc, err, "cache_dir: cannot create %s", cc->cache_dir);
  if (stat(cc->cache_dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return config_error(cc, err, "cache_dir: %s is not a directory", cc->cache_dir);
  const char *tcc = cfg->tcc_path && cfg->tcc_path[0] ? cfg->tcc_path : "tcc";
  const char *ccname = cfg->cc_path && cfg->cc_path[0] ? cfg->cc_path : "cc";
  if (!resolve_program(tcc, cc->tiers[WP_TIER_BASELINE].path, sizeof(cc->tiers[0].path)))
    return config_error(cc, err, "tcc: %s not found", tcc);
  if (!resolve_program(ccname, cc->tiers[WP_TIER_OPTIMIZED].path, sizeof(cc->tiers[1].path)))
    return config_error(cc, err, "cc: %s not found", ccname);
  snprintf(cc->libtcc1, sizeof(cc->libtcc1), "/usr/lib/x86_64-linux-gnu/tcc/libtcc1.a");
  if (access(cc->libtcc1, R_OK) != 0)
    return config_error(cc, err, "tcc: its runtime %s is missing", cc->libtcc1);
  tier_identity(cc, &cc->tiers[WP_TIER_BASELINE], "tier0");
  tier_identity(cc, &cc->tiers[WP_TIER_OPTIMIZED], "tier1");
  return 0;
}

void wp__compiler_free(wp__compiler *cc) {
  pthread_mutex_destroy(&cc->flight_lock);
  pthread_cond_destroy(&cc->flight_done);
  free(cc->cache_dir);
  free(cc->toolroot);
  free(cc->versions);
  free(cc->opt_level);
  memset(cc, 0, sizeof(*cc));
}

/* dir + "/" + name; false when it does not fit. */
static bool path_join(char *out, size_t out_len, const char *dir, const char *name) {
  int n = snprintf(out, out_len, "%s/%s", dir, name);
  return n >= 0 && (size_t)n < out_len;
}

int wp__validate(const wp__compiler *cc, const uint8_t *wasm, size_t length,
                 uint32_t disabled_features, wp_error *err) {
  char dir[4096], wasm_path[4200], program[4300];
  if (!path_join(dir, sizeof(dir), cc->cache_dir, "tmp.XXXXXX") || mkdtemp(dir) == NULL)
    return WP_EIO;
  int rc = WP_EIO;
  FILE *f = path_join(wasm_path, sizeof(wasm_path), dir, "m.wasm") ? fopen(wasm_path, "wb") : NULL;
  bool written = f && fwrite(wasm, 1, length, f) == length;
  if (f && fclose(f) != 0)
    written = false;
  if (written) {
    char captured[2048];
    const char *argv[16];
    size_t n = wp__toolroot_argv(cc, "wasm-validate", program, sizeof(program), argv);
    n += wp__feature_flags(disabled_features, argv + n, 10);
    argv[n++] = wasm_path;
    argv[n] = NULL;
    wp_error verr = {0};
    rc = wp__spawn(argv, &cc->limits, captured, sizeof(captured), &verr);
    if (rc == WP_ECOMPILE)
      rc = wp__error(err, WP_EINVALID_MODULE, "%s", verr.message);
  }
  wp__build_clean(dir);
  return rc;
}

/* One build in progress. */
typedef struct wp__flight {
  char key[65];
  struct wp__flight *next;
} wp__flight;

static wp__flight *find_flight(wp__compiler *cc, const char *key) {
  for (wp__flight *f = cc->flights; f; f = f->next)
    if (strcmp(f->key, key) == 0)
      return f;
  return NULL;
}

/* Waits while another thread builds key, then claims it (returns the
 * flight to land) unless the artifact appeared meanwhile (returns NULL and
 * sets *hit). */
static int claim_flight(wp__compiler *cc, const char *key, const char *path, wp__flight **out,
                        bool *hit) {
  *out = NULL;
  *hit = false;
  pthread_mutex_lock(&cc->flight_lock);
  while (find_flight(cc, key))
    pthread_cond_wait(&cc->flight_done, &cc->flight_lock);
  if (access(path, R_OK) == 0) {
    pthread_mutex_unlock(&cc->flight_lock);
    *hit = true;
    return 0;
  }
  wp__flight *f = calloc(1, sizeof(*f));
  if (!f) {
    pthread_mutex_unlock(&cc->flight_lock);
    return WP_ENOMEM;
  }
  snprintf(f->key, sizeof(f->key), "%s", key);
  f->next = cc->flights;
  cc->flights = f;
  pthread_mutex_unlock(&cc->flight_lock);
  *out = f;
  return 0;
}

static void land_flight(wp__compiler *cc, wp__flight *flight) {
  pthread_mutex_lock(&cc->flight_lock);
  for (wp__flight **at = &cc->flights; *at; at = &(*at)->next) {
    if (*at == flight) {
      *at = flight->next;
      break;
    }
  }
  pthread_cond_broadcast(&cc->flight_done);
  pthread_mutex_unlock(&cc->flight_lock);
  free(flight);
}

static int build_and_publish(const wp__compiler *cc, const wp__build_request *req, const char *path,
                             wp_error *err) {
  char dir[4096];
  if (!path_join(dir, sizeof(dir), cc->cache_dir, "tmp.XXXXXX") || mkdtemp(dir) == NULL)
    return wp__error(err, WP_EIO, "cannot create a build directory in %s: %s", cc->cache_dir,
                     strerror(errno));
  int rc = wp__build(cc, req, dir, err);
  if (rc == 0) {
    char built[4300];
    if (!path_join(built, sizeof(built), dir, "out.so") || rename(built, path) != 0)
      rc = wp__error(err, WP_EIO, "cannot publish %s: %s", path, strerror(errno));
  }
  wp__build_clean(dir);
  return rc;
}

int wp__compile(wp__compiler *cc, const wp__build_request *req, const char *key_hex, char **so_path,
                bool *cache_hit, wp_error *err) {
  size_t path_len = strlen(cc->cache_dir) + strlen(key_hex) + 8;
  char *path = malloc(path_len);
  if (!path)
    return wp__error(err, WP_ENOMEM, "out of memory");
  snprintf(path, path_len, "%s/%s.so", cc->cache_dir, key_hex);
  *cache_hit = access(path, R_OK) == 0;
  if (!*cache_hit && req->cache_only) {
    free(path);
    return wp__error(err, WP_ENOT_FOUND, "not in the compile cache");
  }
  wp__flight *flight = NULL;
  int rc = *cache_hit ? 0 : claim_flight(cc, key_hex, path, &flight, cache_hit);
  if (rc == 0 && flight) {
    rc = build_and_publish(cc, req, path, err);
    land_flight(cc, flight);
  } else if (rc != 0) {
    rc = wp__error(err, rc, "out of memory");
  }
  if (rc != 0) {
    free(path);
    return rc;
  }
  *so_path = path;
  return 0;
}

wp__spawn_limits wp__scaled_limits(const wp__compiler *cc, double base_seconds,
                                   double seconds_per_mib, uint64_t input_bytes) {
  wp__spawn_limits l = cc->limits;
  double cpu = base_seconds + seconds_per_mib * (double)input_bytes / (1024.0 * 1024.0);
  uint64_t cpu_seconds = (uint64_t)cpu + 1;
  if (l.cpu_seconds == 0 || cpu_seconds < l.cpu_seconds)
    l.cpu_seconds = cpu_seconds;
  /* Wall clock: three times the CPU allowance (a busy machine, or children
   * run in parallel), within the configured maximum. */
  uint64_t wall_ms = 3000 * l.cpu_seconds;
  if (l.wall_ms == 0 || wall_ms < l.wall_ms)
    l.wall_ms = wall_ms;
  return l;
}
