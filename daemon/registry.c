/* registry.c — deployed modules by name, persisted in module_dir (see
 * registry.h for the on-disk protocol and the locking story).
 *
 * In memory: an array of entries sorted by name under a rwlock; lookups are
 * a binary search with the read lock held just long enough to take a module
 * reference. On disk, per module:
 *
 *   NAME.wasm   the binary as deployed
 *   NAME.snap   its snapshot (instance/snapshot.c's blob), when it has one
 *   NAME.json   {"name":..,"sha256":..,"size":..,"deployed_at_ms":..,"max_memory":..,
 *                "init":<the snapshot's init export or null>,"prewarm":..}
 *
 * The manifest is written last and says whether NAME.snap belongs to the
 * module ("init"); a NAME.snap the manifest does not name is stale.
 *
 * Writers (deploy, remove) also hold disk_lock from the first file write to
 * the publication, so disk and memory change in the same order for
 * concurrent deploys of one name; the compile itself happens before, with no
 * lock held.
 */
#include "registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tierup.h"

typedef struct entry {
  wp_module *module; /* one reference held by the registry */
  wp_module_meta meta;
} entry;

struct wp_registry {
  wp_runtime *rt;
  char *dir_path;
  int dir_fd;
  int lock_fd;           /* LOCK_FILE, flock()ed for the registry's lifetime */
  pthread_rwlock_t lock; /* entries, count, cap */
  entry *entries;        /* sorted by meta.name */
  size_t count, cap;
  pthread_mutex_t disk_lock;     /* serializes writers: files then publication */
  wp_tierup *tierup;             /* NULL: tier-up off */
  uint64_t snapshot_deadline_ms; /* [runtime] snapshot_deadline */
  uint32_t prewarm_default;      /* [pool] prewarm */
  /* Compile counters (relaxed atomics: independent monotonic counts). */
  _Atomic uint64_t compiles[2], compile_us[2], tierups_done, tierups_failed;
};

static const char TMP_PREFIX[] = ".tmp.";
/* Holds an exclusive flock() while a registry (a daemon) uses module_dir,
 * and that daemon's pid for the message of the next one. Starts with '.',
 * so it is never taken for a module. */
static const char LOCK_FILE[] = ".wasmpoold.lock";

static int read_file(wp_registry *reg, const char *name, uint8_t **data, size_t *len);

static void set_err(wp_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(wp_error *err, int code, const char *fmt, ...) {
  if (!err)
    return;
  err->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int wp_make_dirs(const char *path) {
  char buf[4096];
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof buf)
    return -1;
  memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != '\0')
      continue;
    char saved = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
      return -1;
    buf[i] = saved;
  }
  return 0;
}

/* Takes module_dir's lock: two daemons on one directory would race on
 * every file in it. The kernel drops the lock when the holder dies, so a
 * kill -9 never leaves a stale one behind. */
static int lock_dir(int dir_fd, const char *module_dir, int *lock_fd, wp_error *err) {
  int fd = openat(dir_fd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    set_err(err, WP_EIO, "module_dir %s: cannot open %s: %s", module_dir, LOCK_FILE,
            strerror(errno));
    return WP_EIO;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int saved = errno;
    char text[32] = "";
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    text[strcspn(text, "\n")] = '\0';
    close(fd);
    if (saved == EWOULDBLOCK) {
      set_err(err, WP_ECONFLICT, "module_dir %s is in use by another wasmpoold (pid %s)",
              module_dir, text[0] ? text : "unknown");
      return WP_ECONFLICT;
    }
    set_err(err, WP_EIO, "module_dir %s: cannot lock %s: %s", module_dir, LOCK_FILE,
            strerror(saved));
    return WP_EIO;
  }
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
    wp_log_warn("registry_lock", "dir=%s error=\"cannot record the pid: %s\"", module_dir,
                strerror(errno));
  *lock_fd = fd;
  return 0;
}

int wp_registry_create(wp_runtime *rt, const char *module_dir, wp_registry **out, wp_error *err) {
  if (wp_make_dirs(module_dir) != 0) {
    set_err(err, WP_EIO, "module_dir %s: cannot create: %s", module_dir, strerror(errno));
    return WP_EIO;
  }
  int dir_fd = open(module_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    set_err(err, WP_EIO, "module_dir %s: cannot open: %s", module_dir, strerror(errno));
    return WP_EIO;
  }
  int lock_fd;
  int rc = lock_dir(dir_fd, module_dir, &lock_fd, err);
  if (rc) {
    close(dir_fd);
    return rc;
  }
  wp_registry *reg = calloc(1, sizeof *reg);
  char *dir_path = strdup(module_dir);
  if (!reg || !dir_path) {
    free(reg);
    free(dir_path);
    close(lock_fd);
    close(dir_fd);
    set_err(err, WP_ENOMEM, "out of memory");
    return WP_ENOMEM;
  }
  reg->rt = rt;
  reg->dir_path = dir_path;
  reg->dir_fd = dir_fd;
  reg->lock_fd = lock_fd;
  reg->snapshot_deadline_ms = 10000;
  pthread_rwlock_init(&reg->lock, NULL);
  pthread_mutex_init(&reg->disk_lock, NULL);
  *out = reg;
  return 0;
}

const char *wp_tierup_state_name(wp_tierup_state state) {
  switch (state) {
  case WP_TIERUP_NONE: return "none";
  case WP_TIERUP_PENDING: return "pending";
  case WP_TIERUP_DONE: return "done";
  case WP_TIERUP_FAILED: return "failed";
  }
  return "none";
}

void wp_registry_destroy(wp_registry *reg) {
  if (!reg)
    return;
  wp_tierup_destroy(reg->tierup);
  for (size_t i = 0; i < reg->count; i++)
    wp_module_release(reg->entries[i].module);
  free(reg->entries);
  pthread_rwlock_destroy(&reg->lock);
  pthread_mutex_destroy(&reg->disk_lock);
  close(reg->lock_fd); /* releases the flock */
  close(reg->dir_fd);
  free(reg->dir_path);
  free(reg);
}

/* Index of name, or where it would be inserted (with *found false). */
static size_t find_slot(const wp_registry *reg, const char *name, size_t len, bool *found) {
  size_t lo = 0, hi = reg->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const char *other = reg->entries[mid].meta.name;
    size_t other_len = strlen(other);
    int cmp = memcmp(other, name, other_len < len ? other_len : len);
    if (cmp == 0)
      cmp = other_len < len ? -1 : other_len > len ? 1 : 0;
    if (cmp == 0) {
      *found = true;
      return mid;
    }
    if (cmp < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = false;
  return lo;
}

/* Publishes (taking over the caller's module reference); returns the module
 * it replaced (to release outside the lock) or NULL. */
static int publish(wp_registry *reg, wp_module *module, const wp_module_meta *meta,
                   wp_module **replaced) {
  *replaced = NULL;
  pthread_rwlock_wrlock(&reg->lock);
  bool found;
  size_t at = find_slot(reg, meta->name, strlen(meta->name), &found);
  if (found) {
    *replaced = reg->entries[at].module;
    reg->entries[at].module = module;
    reg->entries[at].meta = *meta;
    pthread_rwlock_unlock(&reg->lock);
    return 0;
  }
  if (reg->count == reg->cap) {
    size_t cap = reg->cap ? reg->cap * 2 : 16;
    entry *grown = realloc(reg->entries, cap * sizeof *grown);
    if (!grown) {
      pthread_rwlock_unlock(&reg->lock);
      return WP_ENOMEM;
    }
    reg->entries = grown;
    reg->cap = cap;
  }
  memmove(&reg->entries[at + 1], &reg->entries[at], (reg->count - at) * sizeof(entry));
  reg->entries[at].module = module;
  reg->entries[at].meta = *meta;
  reg->count++;
  pthread_rwlock_unlock(&reg->lock);
  return 0;
}

/* Writes name in module_dir through a temp file + fsync + rename. The
 * directory itself is fsynced by the caller once all files are in place. */
static int write_file_atomic(wp_registry *reg, const char *name, const void *data, size_t len) {
  unsigned char rnd[6];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
    memset(rnd, 0, sizeof rnd);
  char tmp[WP_REGISTRY_NAME_MAX + 64];
  snprintf(tmp, sizeof tmp, "%s%s.%02x%02x%02x%02x%02x%02x", TMP_PREFIX, name, rnd[0], rnd[1],
           rnd[2], rnd[3], rnd[4], rnd[5]);
  int fd = openat(reg->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int saved = errno;
      close(fd);
      unlinkat(reg->dir_fd, tmp, 0);
      return -saved;
    }
    p += n;
    left -= (size_t)n;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    int saved = errno;
    unlinkat(reg->dir_fd, tmp, 0);
    return -saved;
  }
  if (renameat(reg->dir_fd, tmp, reg->dir_fd, name) != 0) {
    int saved = errno;
    unlinkat(reg->dir_fd, tmp, 0);
    return -saved;
  }
  return 0;
}

static int persist(wp_registry *reg, const wp_module_meta *meta, const wp_module *module,
                   const uint8_t *wasm, size_t wasm_len, wp_error *err) {
  char file[WP_REGISTRY_NAME_MAX + 8];
  snprintf(file, sizeof file, "%s.wasm", meta->name);
  int rc = write_file_atomic(reg, file, wasm, wasm_len);
  if (rc) {
    set_err(err, WP_EIO, "%s/%s: %s", reg->dir_path, file, strerror(-rc));
    return WP_EIO;
  }
  size_t snap_len = 0;
  const uint8_t *snap = wp_module_snapshot_bytes(module, &snap_len);
  wp_snapshot_info snap_info;
  bool has_snapshot = wp_module_snapshot_info(module, &snap_info);
  snprintf(file, sizeof file, "%s.snap", meta->name);
  rc = snap ? write_file_atomic(reg, file, snap, snap_len) : 0;
  if (rc) {
    set_err(err, WP_EIO, "%s/%s: %s", reg->dir_path, file, strerror(-rc));
    return WP_EIO;
  }
  json_t *manifest =
      json_pack("{s:s,s:s,s:I,s:I,s:I,s:o,s:I}", "name", meta->name, "sha256", meta->sha256, "size",
                (json_int_t)meta->wasm_bytes, "deployed_at_ms", (json_int_t)meta->deployed_at_ms,
                "max_memory", (json_int_t)meta->max_memory_bytes, "init",
                has_snapshot ? json_string(snap_info.init) : json_null(), "prewarm",
                (json_int_t)meta->prewarm);
  char *text = manifest ? json_dumps(manifest, JSON_INDENT(2)) : NULL;
  json_decref(manifest);
  if (!text) {
    set_err(err, WP_ENOMEM, "out of memory");
    return WP_ENOMEM;
  }
  snprintf(file, sizeof file, "%s.json", meta->name);
  rc = write_file_atomic(reg, file, text, strlen(text));
  free(text);
  if (rc == 0 && fsync(reg->dir_fd) != 0)
    rc = -errno;
  if (rc) {
    set_err(err, WP_EIO, "%s/%s: %s", reg->dir_path, file, strerror(-rc));
    return WP_EIO;
  }
  /* A redeploy without a snapshot: the old one is stale (the manifest no
   * longer names it), so removing it can only fail harmlessly. */
  snprintf(file, sizeof file, "%s.snap", meta->name);
  if (!snap)
    unlinkat(reg->dir_fd, file, 0);
  return 0;
}

/* Takes the deploy's snapshot, if it asks for one (see wp_deploy_options). */
static int snapshot_module(wp_registry *reg, wp_module *module, const wp_deploy_options *opts,
                           wp_error *err) {
  if (opts->no_snapshot)
    return 0;
  const char *init = opts->init;
  if (!init) {
    if (!wp_module_find_export(module, WP_SNAPSHOT_DEFAULT_INIT, strlen(WP_SNAPSHOT_DEFAULT_INIT)))
      return 0;
    init = WP_SNAPSHOT_DEFAULT_INIT;
  }
  return wp_module_snapshot(module, init, reg->snapshot_deadline_ms, err);
}

/* Reads one byte of every page of the image in an instance's exported
 * memory: the slot's mapping then holds those page-cache pages, and a
 * release keeps them (a reset restores or drops written pages only), so
 * the next holder reads them without a fault. */
static void touch_image(wp_instance *inst, uint64_t image_bytes) {
  uint64_t size = 0;
  const volatile uint8_t *base = wp_instance_memory(inst, &size);
  if (!base)
    return;
  uint64_t end = image_bytes < size ? image_bytes : size;
  uint8_t sink = 0;
  for (uint64_t at = 0; at < end; at += 4096)
    sink ^= base[at];
  (void)sink;
}

/* Leaves up to count memory slots holding the module's image (and their
 * instance areas warm): instantiates them all at once, so each takes its
 * own slot, faults the image's pages in, then releases them; the allocator
 * keeps them warm for the module (affinity) like any released slot, under
 * max_unused_warm_slots. Returns how many slots were warmed. */
static uint32_t prewarm(wp_registry *reg, wp_module *module, uint32_t count) {
  if (count == 0)
    return 0;
  wp_instance **held = calloc(count, sizeof *held);
  if (!held)
    return 0;
  wp_module_limits limits;
  wp_module_get_limits(module, &limits);
  uint32_t warmed = 0;
  for (uint32_t i = 0; i < count; i++) {
    wp_error err = {0};
    if (wp_instance_create(reg->rt, module, NULL, &held[warmed], &err) != 0)
      break; /* the pool is full: warm what fitted */
    touch_image(held[warmed], limits.image_bytes);
    warmed++;
  }
  for (uint32_t i = 0; i < warmed; i++)
    wp_instance_destroy(held[i]);
  free(held);
  return warmed;
}

void wp_registry_set_snapshot_defaults(wp_registry *reg, uint64_t deadline_ms, uint32_t prewarm) {
  reg->snapshot_deadline_ms = deadline_ms;
  reg->prewarm_default = prewarm;
}

static void count_compile(wp_registry *reg, const wp_module *module, uint64_t us) {
  if (wp_module_cache_hit(module))
    return;
  int tier = wp_module_tier(module) == WP_TIER_OPTIMIZED ? 1 : 0;
  atomic_fetch_add_explicit(&reg->compiles[tier], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&reg->compile_us[tier], us, memory_order_relaxed);
}

/* Loads at tier 0, except when the module's tier-1 code is already cached
 * (prefer_cached_tier1: a restart, or a deploy of bytes built before):
 * that loads directly, so a redeploy serves optimised code (and its
 * prewarmed slots hold the image that code uses) from its first request. */
static int load_module(wp_registry *reg, const uint8_t *wasm, size_t wasm_len, wp_module **module,
                       wp_module_meta *meta, bool prefer_cached_tier1, wp_error *err) {
  wp_module_options opts = {
      .allow_spectest = false, .linker = NULL, .max_memory_bytes = meta->max_memory_bytes};
  uint64_t start = mono_us();
  int rc = WP_ENOT_FOUND;
  if (prefer_cached_tier1) {
    wp_module_options cached = {
        .tier = WP_TIER_OPTIMIZED, .cache_only = true, .max_memory_bytes = meta->max_memory_bytes};
    rc = wp_module_load(reg->rt, wasm, wasm_len, &cached, module, NULL);
  }
  if (rc != 0)
    rc = wp_module_load(reg->rt, wasm, wasm_len, &opts, module, err);
  if (rc)
    return rc;
  meta->load_us = mono_us() - start;
  count_compile(reg, *module, meta->load_us);
  meta->cache_hit = wp_module_cache_hit(*module);
  meta->wasm_bytes = wasm_len;
  meta->tier = wp_module_tier(*module) == WP_TIER_OPTIMIZED ? 1 : 0;
  meta->tierup = meta->tier == 0 && reg->tierup ? WP_TIERUP_PENDING : WP_TIERUP_NONE;
  snprintf(meta->sha256, sizeof meta->sha256, "%s", wp_module_hash(*module));
  return 0;
}

/* After publishing tier-0 code: queue its tier-1 build. */
static void queue_tierup(wp_registry *reg, const wp_module_meta *meta, const uint8_t *wasm,
                         size_t wasm_len) {
  if (meta->tierup != WP_TIERUP_PENDING)
    return;
  if (wp_tierup_submit(reg->tierup, meta->name, meta->sha256, wasm, wasm_len,
                       meta->max_memory_bytes) != 0)
    wp_log_warn("tierup_skip", "module=%s error=\"out of memory\"", meta->name);
}

/* A tier-1 module replaces tier-0 code with the same starting state: the
 * published module's snapshot is loaded into it before the swap. */
static int carry_snapshot(wp_registry *reg, const char *name, const char *sha256,
                          wp_module *module) {
  wp_module *published = NULL;
  wp_module_meta meta;
  if (wp_registry_get(reg, name, strlen(name), &published, &meta) != 0)
    return 0; /* deleted meanwhile: the swap will not happen */
  int rc = 0;
  size_t len = 0;
  const uint8_t *bytes = wp_module_snapshot_bytes(published, &len);
  if (bytes && strcmp(meta.sha256, sha256) == 0) {
    wp_error err = {0};
    rc = wp_module_snapshot_load(module, bytes, len, &err);
    if (rc)
      wp_log_warn("snapshot_tier_up", "module=%s error=\"%s\"", name, err.message);
  }
  wp_module_release(published);
  return rc;
}

static void set_prewarmed(wp_registry *reg, wp_module *module, wp_module_meta *meta);

/* A tier-up finished (on a tier-up thread): swap the published module when
 * it is still the same bytes (a redeploy or delete meanwhile wins). */
static void tierup_done(void *ctx, const char *name, const char *sha256, wp_module *module,
                        uint64_t duration_us, const wp_error *err) {
  wp_registry *reg = ctx;
  wp_module *old = NULL;
  bool swapped = false;
  /* Counted before publishing: once swapped in, a concurrent redeploy may
   * release the module, and a stale one is released below. */
  if (module)
    count_compile(reg, module, duration_us);
  if (module && carry_snapshot(reg, name, sha256, module) != 0) {
    wp_module_release(module);
    module = NULL;
    static const wp_error snap_err = {WP_ESNAPSHOT, "cannot carry the snapshot to tier 1"};
    err = &snap_err;
  }
  wp_module_meta meta;
  pthread_rwlock_wrlock(&reg->lock);
  bool found;
  size_t at = find_slot(reg, name, strlen(name), &found);
  if (found && strcmp(reg->entries[at].meta.sha256, sha256) == 0 &&
      reg->entries[at].meta.tier == 0) {
    if (module) {
      old = reg->entries[at].module;
      reg->entries[at].module = module;
      reg->entries[at].meta.tier = 1;
      reg->entries[at].meta.tierup = WP_TIERUP_DONE;
      reg->entries[at].meta.tierup_us = duration_us;
      meta = reg->entries[at].meta;
      wp_module_retain(module); /* for prewarm: a redeploy may replace it now */
      swapped = true;
    } else {
      reg->entries[at].meta.tierup = WP_TIERUP_FAILED;
    }
  }
  pthread_rwlock_unlock(&reg->lock);
  if (module && !swapped)
    old = module; /* stale: the name moved on */
  if (old)
    wp_module_release(old);
  if (swapped) {
    /* The new code has its own image: slots prewarmed for the tier-0
     * module do not match it, so warm as many for this one. */
    set_prewarmed(reg, module, &meta);
    wp_module_release(module);
  }
  if (module) {
    atomic_fetch_add_explicit(&reg->tierups_done, 1, memory_order_relaxed);
    wp_log_info("module_tier_up", "module=%s sha256=%.16s tier=1 swapped=%s build_us=%llu", name,
                sha256, swapped ? "yes" : "no (redeployed or deleted)",
                (unsigned long long)duration_us);
  } else {
    atomic_fetch_add_explicit(&reg->tierups_failed, 1, memory_order_relaxed);
    wp_log_warn("module_tier_up_failed", "module=%s sha256=%s code=%s error=\"%s\"", name, sha256,
                wp_err_name(err ? err->code : WP_ECOMPILE), err ? err->message : "");
  }
}

int wp_registry_start_tierup(wp_registry *reg, unsigned threads) {
  if (threads == 0 || reg->tierup)
    return 0;
  return wp_tierup_create(reg->rt, threads, 10, tierup_done, reg, &reg->tierup);
}

void wp_registry_compile_stats_get(wp_registry *reg, wp_registry_compile_stats *out) {
  memset(out, 0, sizeof(*out));
  for (int t = 0; t < 2; t++) {
    out->count[t] = atomic_load_explicit(&reg->compiles[t], memory_order_relaxed);
    out->us_total[t] = atomic_load_explicit(&reg->compile_us[t], memory_order_relaxed);
  }
  out->tierups_done = atomic_load_explicit(&reg->tierups_done, memory_order_relaxed);
  out->tierups_failed = atomic_load_explicit(&reg->tierups_failed, memory_order_relaxed);
  out->in_flight = reg->tierup ? wp_tierup_in_flight(reg->tierup) : 0;
}

/* Warms the published module's slots and records how many in its entry
 * (the module may have been replaced meanwhile: then nothing is recorded). */
static void set_prewarmed(wp_registry *reg, wp_module *module, wp_module_meta *meta) {
  if (meta->prewarm == 0)
    return;
  meta->prewarmed = prewarm(reg, module, meta->prewarm);
  pthread_rwlock_wrlock(&reg->lock);
  bool found;
  size_t at = find_slot(reg, meta->name, strlen(meta->name), &found);
  if (found && reg->entries[at].module == module)
    reg->entries[at].meta.prewarmed = meta->prewarmed;
  pthread_rwlock_unlock(&reg->lock);
}

int wp_registry_deploy(wp_registry *reg, const char *name, size_t name_len, const uint8_t *wasm,
                       size_t wasm_len, uint64_t max_memory_bytes, bool *replaced,
                       wp_module_meta *meta_out, wp_error *err) {
  wp_deploy_options opts = {.max_memory_bytes = max_memory_bytes, .prewarm = -1};
  return wp_registry_deploy_with(reg, name, name_len, wasm, wasm_len, &opts, replaced, meta_out,
                                 err);
}

int wp_registry_deploy_with(wp_registry *reg, const char *name, size_t name_len,
                            const uint8_t *wasm, size_t wasm_len, const wp_deploy_options *opts,
                            bool *replaced, wp_module_meta *meta_out, wp_error *err) {
  *replaced = false;
  uint64_t max_memory_bytes = opts->max_memory_bytes;
  if (!wp_name_valid(name, name_len)) {
    set_err(err, WP_EBAD_REQUEST, "module name must be %s", WP_NAME_RULE);
    return WP_EBAD_REQUEST;
  }
  wp_module_meta meta;
  memset(&meta, 0, sizeof meta);
  memcpy(meta.name, name, name_len);
  meta.max_memory_bytes = max_memory_bytes;
  wp_module *module;
  meta.prewarm = opts->prewarm >= 0 ? (uint32_t)opts->prewarm : reg->prewarm_default;
  int rc = load_module(reg, wasm, wasm_len, &module, &meta, true, err);
  if (rc)
    return rc;
  /* Before publishing: the module is not shared yet. */
  rc = snapshot_module(reg, module, opts, err);
  if (rc) {
    wp_module_release(module);
    return rc;
  }
  meta.deployed_at_ms = now_ms();

  pthread_mutex_lock(&reg->disk_lock);
  rc = persist(reg, &meta, module, wasm, wasm_len, err);
  wp_module *old = NULL;
  if (rc == 0) {
    rc = publish(reg, module, &meta, &old);
    if (rc)
      set_err(err, rc, "out of memory");
    else
      wp_module_retain(module); /* for prewarm: a redeploy may replace it now */
  }
  pthread_mutex_unlock(&reg->disk_lock);
  if (rc) {
    wp_module_release(module);
    return rc;
  }
  if (old) {
    *replaced = true;
    wp_module_release(old);
  }
  set_prewarmed(reg, module, &meta);
  wp_module_release(module);
  queue_tierup(reg, &meta, wasm, wasm_len);
  if (meta_out)
    *meta_out = meta;
  return 0;
}

int wp_registry_get(wp_registry *reg, const char *name, size_t name_len, wp_module **module,
                    wp_module_meta *meta) {
  pthread_rwlock_rdlock(&reg->lock);
  bool found;
  size_t at = find_slot(reg, name, name_len, &found);
  if (!found) {
    pthread_rwlock_unlock(&reg->lock);
    return WP_ENO_MODULE;
  }
  wp_module_retain(reg->entries[at].module);
  *module = reg->entries[at].module;
  if (meta)
    *meta = reg->entries[at].meta;
  pthread_rwlock_unlock(&reg->lock);
  return 0;
}

/* Removes one entry by name if it still holds module (a redeploy may have
 * replaced it meanwhile; disk_lock makes that impossible today, the check
 * keeps the function honest). Returns whether it forgot it. */
static bool forget(wp_registry *reg, const char *name, size_t name_len, wp_module *module) {
  pthread_rwlock_wrlock(&reg->lock);
  bool found;
  size_t at = find_slot(reg, name, name_len, &found);
  if (found && reg->entries[at].module == module) {
    memmove(&reg->entries[at], &reg->entries[at + 1], (reg->count - at - 1) * sizeof(entry));
    reg->count--;
  } else {
    found = false;
  }
  pthread_rwlock_unlock(&reg->lock);
  return found;
}

/* A delete is a transaction: the files go first, and only then the module is
 * forgotten, so a failure leaves the module deployed both on disk and in
 * memory. The manifest (the commit point) is unlinked first; if the binary
 * then cannot be removed, the manifest is written back from the bytes read
 * before, and the error names the file that failed. */
int wp_registry_remove(wp_registry *reg, const char *name, size_t name_len, wp_error *err) {
  pthread_mutex_lock(&reg->disk_lock);
  wp_module *module;
  int rc = wp_registry_get(reg, name, name_len, &module, NULL);
  if (rc) {
    pthread_mutex_unlock(&reg->disk_lock);
    set_err(err, WP_ENO_MODULE, "no module named %.*s", (int)name_len, name);
    return WP_ENO_MODULE;
  }
  char json_file[WP_REGISTRY_NAME_MAX + 8], wasm_file[WP_REGISTRY_NAME_MAX + 8];
  snprintf(json_file, sizeof json_file, "%.*s.json", (int)name_len, name);
  snprintf(wasm_file, sizeof wasm_file, "%.*s.wasm", (int)name_len, name);

  uint8_t *manifest = NULL;
  size_t manifest_len = 0;
  const char *failed = NULL;
  rc = read_file(reg, json_file, &manifest, &manifest_len);
  if (rc == -ENOENT) /* deployed in memory only (files removed by hand) */
    rc = 0;
  if (rc == 0 && manifest && unlinkat(reg->dir_fd, json_file, 0) != 0 && errno != ENOENT)
    rc = -errno;
  if (rc)
    failed = json_file;
  if (!failed && unlinkat(reg->dir_fd, wasm_file, 0) != 0 && errno != ENOENT) {
    rc = -errno;
    failed = wasm_file;
    int back = manifest ? write_file_atomic(reg, json_file, manifest, manifest_len) : 0;
    if (back != 0)
      wp_log_error("registry_rollback", "module=%.*s file=%s/%s error=\"%s\"", (int)name_len, name,
                   reg->dir_path, json_file, strerror(-back));
  }
  free(manifest);
  if (!failed) { /* never read without the manifest: a leftover is harmless */
    char snap_file[WP_REGISTRY_NAME_MAX + 8];
    snprintf(snap_file, sizeof snap_file, "%.*s.snap", (int)name_len, name);
    unlinkat(reg->dir_fd, snap_file, 0);
  }
  if (failed) {
    pthread_mutex_unlock(&reg->disk_lock);
    wp_module_release(module);
    set_err(err, WP_EIO, "%s/%s: %s", reg->dir_path, failed, strerror(-rc));
    return WP_EIO;
  }
  /* Both files are gone: the delete has happened. A failed directory fsync
   * only means it may not survive a power cut; say so, do not undo it. */
  if (fsync(reg->dir_fd) != 0)
    wp_log_warn("registry_fsync", "dir=%s error=\"%s\"", reg->dir_path, strerror(errno));
  bool forgot = forget(reg, name, name_len, module);
  pthread_mutex_unlock(&reg->disk_lock);
  wp_module_release(module);
  if (forgot)
    wp_module_release(module); /* the registry's own reference */
  return 0;
}

int wp_registry_list(wp_registry *reg, wp_registry_item **items, size_t *count) {
  pthread_rwlock_rdlock(&reg->lock);
  wp_registry_item *out = calloc(reg->count ? reg->count : 1, sizeof *out);
  if (!out) {
    pthread_rwlock_unlock(&reg->lock);
    return WP_ENOMEM;
  }
  for (size_t i = 0; i < reg->count; i++) {
    wp_module_retain(reg->entries[i].module);
    out[i].module = reg->entries[i].module;
    out[i].meta = reg->entries[i].meta;
  }
  *count = reg->count;
  pthread_rwlock_unlock(&reg->lock);
  *items = out;
  return 0;
}

void wp_registry_list_free(wp_registry_item *items, size_t count) {
  for (size_t i = 0; i < count; i++)
    wp_module_release(items[i].module);
  free(items);
}

size_t wp_registry_count(wp_registry *reg) {
  pthread_rwlock_rdlock(&reg->lock);
  size_t count = reg->count;
  pthread_rwlock_unlock(&reg->lock);
  return count;
}

/* Reads a whole file of module_dir into a malloc'd buffer. */
static int read_file(wp_registry *reg, const char *name, uint8_t **data, size_t *len) {
  int fd = openat(reg->dir_fd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int saved = errno;
    close(fd);
    return -saved;
  }
  uint8_t *buf = malloc((size_t)st.st_size + 1);
  if (!buf) {
    close(fd);
    return -ENOMEM;
  }
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  buf[got] = 0;
  *data = buf;
  *len = got;
  return 0;
}

/* Gives a reloaded module the snapshot its manifest names: NAME.snap, or,
 * when that is missing or does not fit, a new run of init (it is the same
 * code, so the same state; logged). err->code is set on failure. */
static int restore_snapshot(wp_registry *reg, wp_module *module, const char *name, const char *init,
                            wp_error *err) {
  char snap_file[WP_REGISTRY_NAME_MAX + 8];
  snprintf(snap_file, sizeof snap_file, "%s.snap", name);
  uint8_t *bytes = NULL;
  size_t len = 0;
  int rc = read_file(reg, snap_file, &bytes, &len);
  if (rc == 0) {
    rc = wp_module_snapshot_load(module, bytes, len, err);
    free(bytes);
    if (rc == 0)
      return 0;
    wp_log_warn("snapshot_reload", "module=%s file=%s error=\"%s\" action=\"run %s again\"", name,
                snap_file, err->message, init);
  } else {
    wp_log_warn("snapshot_reload", "module=%s file=%s error=\"%s\" action=\"run %s again\"", name,
                snap_file, strerror(-rc), init);
  }
  rc = wp_module_snapshot(module, init, reg->snapshot_deadline_ms, err);
  if (rc)
    err->code = rc;
  return rc;
}

/* Loads one module from its manifest file name ("NAME.json"). */
static int reload_one(wp_registry *reg, const char *manifest_file) {
  size_t stem_len = strlen(manifest_file) - 5;
  char name[WP_REGISTRY_NAME_MAX + 1];
  if (!wp_name_valid(manifest_file, stem_len)) {
    wp_log_warn("registry_skip", "file=%s reason=\"not a module name\"", manifest_file);
    return WP_EINVAL;
  }
  memcpy(name, manifest_file, stem_len);
  name[stem_len] = '\0';

  uint8_t *text;
  size_t text_len;
  int rc = read_file(reg, manifest_file, &text, &text_len);
  if (rc) {
    wp_log_error("registry_skip", "module=%s file=%s error=\"%s\"", name, manifest_file,
                 strerror(-rc));
    return WP_EIO;
  }
  json_error_t jerr;
  json_t *manifest = json_loadb((const char *)text, text_len, 0, &jerr);
  free(text);
  const char *manifest_name = json_string_value(json_object_get(manifest, "name"));
  if (!manifest || !manifest_name || strcmp(manifest_name, name) != 0) {
    wp_log_error("registry_skip", "module=%s file=%s error=\"bad manifest\"", name, manifest_file);
    json_decref(manifest);
    return WP_EIO;
  }
  wp_module_meta meta;
  memset(&meta, 0, sizeof meta);
  snprintf(meta.name, sizeof meta.name, "%s", name);
  meta.deployed_at_ms = json_integer_value(json_object_get(manifest, "deployed_at_ms"));
  meta.max_memory_bytes = (uint64_t)json_integer_value(json_object_get(manifest, "max_memory"));
  meta.prewarm = (uint32_t)json_integer_value(json_object_get(manifest, "prewarm"));
  char init[256] = "";
  const char *init_text = json_string_value(json_object_get(manifest, "init"));
  if (init_text)
    snprintf(init, sizeof init, "%s", init_text);
  char want_sha[65];
  snprintf(want_sha, sizeof want_sha, "%s",
           json_string_value(json_object_get(manifest, "sha256"))
               ? json_string_value(json_object_get(manifest, "sha256"))
               : "");
  json_decref(manifest);

  char wasm_file[WP_REGISTRY_NAME_MAX + 8];
  snprintf(wasm_file, sizeof wasm_file, "%s.wasm", name);
  uint8_t *wasm;
  size_t wasm_len;
  rc = read_file(reg, wasm_file, &wasm, &wasm_len);
  if (rc) {
    wp_log_error("registry_skip", "module=%s file=%s error=\"%s\"", name, wasm_file, strerror(-rc));
    return WP_EIO;
  }
  wp_module *module;
  wp_error err = {0};
  rc = load_module(reg, wasm, wasm_len, &module, &meta, true, &err);
  if (rc) {
    free(wasm);
    wp_log_error("registry_skip", "module=%s code=%s error=\"%s\"", name, wp_err_name(rc),
                 err.message);
    return rc;
  }
  if (init[0] && restore_snapshot(reg, module, name, init, &err) != 0) {
    free(wasm);
    wp_module_release(module);
    wp_log_error("registry_skip", "module=%s code=%s error=\"%s\"", name, wp_err_name(err.code),
                 err.message);
    return err.code;
  }
  /* A crash between the two renames of a redeploy leaves the new binary
   * with the old manifest; the binary is what was deployed last. */
  if (strcmp(want_sha, meta.sha256) != 0)
    wp_log_warn("registry_manifest_stale", "module=%s manifest_sha256=%s wasm_sha256=%s", name,
                want_sha, meta.sha256);
  wp_module *old;
  rc = publish(reg, module, &meta, &old);
  if (rc) {
    free(wasm);
    wp_module_release(module);
    return rc;
  }
  if (old)
    wp_module_release(old);
  set_prewarmed(reg, module, &meta); /* start-up: nothing can replace it yet */
  queue_tierup(reg, &meta, wasm, wasm_len);
  free(wasm);
  wp_log_info("module_loaded", "module=%s bytes=%llu cache=%s tier=%d load_us=%llu", name,
              (unsigned long long)meta.wasm_bytes, meta.cache_hit ? "hit" : "miss", meta.tier,
              (unsigned long long)meta.load_us);
  return 0;
}

void wp_registry_reload(wp_registry *reg, size_t *loaded, size_t *failed) {
  *loaded = *failed = 0;
  int fd = dup(reg->dir_fd);
  DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
  if (!dir) {
    if (fd >= 0)
      close(fd);
    wp_log_error("registry_reload", "dir=%s error=\"%s\"", reg->dir_path, strerror(errno));
    return;
  }
  rewinddir(dir);
  struct dirent *de;
  while ((de = readdir(dir)) != NULL) {
    const char *file = de->d_name;
    size_t len = strlen(file);
    if (strncmp(file, TMP_PREFIX, sizeof TMP_PREFIX - 1) == 0) {
      /* An interrupted deploy: never acknowledged, never renamed. */
      unlinkat(reg->dir_fd, file, 0);
      continue;
    }
    if (file[0] == '.' || len <= 5 || strcmp(file + len - 5, ".json") != 0)
      continue;
    if (reload_one(reg, file) == 0)
      (*loaded)++;
    else
      (*failed)++;
  }
  closedir(dir);
}
