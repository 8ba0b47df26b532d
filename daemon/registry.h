/* registry.h — deployed modules by name, persisted in module_dir.
 *
 * A deploy compiles (or hits the compile cache) without any lock held, then
 * writes NAME.wasm and NAME.json (the manifest) into module_dir, each through
 * a temp file + fsync + rename, then fsyncs the directory, and only then
 * publishes the module under its name. The manifest is the commit point: a
 * module is deployed on disk exactly when NAME.json exists. At start-up
 * wp_registry_reload() loads every manifested module again; wp_module_load()
 * recompiles only when its cache misses.
 *
 * Readers (every request that names a module) take a read lock for a lookup
 * and leave with their own module reference (wp_module_retain), so a delete
 * or a redeploy never pulls a module out from under a running instance: the
 * instance keeps its reference and the module is freed with the last one.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef WP_DAEMON_REGISTRY_H
#define WP_DAEMON_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "instance.h"
#include "proto.h"

/* Names follow proto's rule, wp_name_valid (proto.h): the one place it is
 * written. The file names in module_dir follow from them. */
#define WP_REGISTRY_NAME_MAX WP_NAME_MAX

/* Where a module's tier-up stands (issue 10): its tier-1 build in the
 * background after a tier-0 deploy. */
typedef enum wp_tierup_state {
  WP_TIERUP_NONE,    /* already tier 1 (SIMD, shared memory, cached) or tier-up off */
  WP_TIERUP_PENDING, /* queued or building */
  WP_TIERUP_DONE,    /* swapped to tier 1 */
  WP_TIERUP_FAILED,  /* stays on tier 0; the reason was logged */
} wp_tierup_state;

/* "none", "pending", "done", "failed". */
const char *wp_tierup_state_name(wp_tierup_state state);

typedef struct wp_module_meta {
  char name[WP_REGISTRY_NAME_MAX + 1];
  char sha256[65];        /* hex of the Wasm bytes */
  uint64_t wasm_bytes;    /* size of the binary */
  int64_t deployed_at_ms; /* Unix time of the deploy (kept across restarts) */
  bool cache_hit;         /* the last load found the compiled artifact cached */
  uint64_t load_us;       /* how long the last load took */
  int tier;               /* of the published code: 0 (tcc) or 1 (cc) */
  wp_tierup_state tierup;
  uint64_t tierup_us; /* how long the tier-1 build took (done) */
  /* The deploy's cap on each memory of every instance (0: the module's own
   * maximum): memory.grow past it returns -1. Persisted in the manifest. */
  uint64_t max_memory_bytes;
  /* Prewarm (docs/SNAPSHOTS.md): slots asked to hold the module's image
   * after the deploy (persisted), and how many did. */
  uint32_t prewarm;
  uint32_t prewarmed;
} wp_module_meta;

/* How a deploy treats the module beyond compiling it. */
typedef struct wp_deploy_options {
  uint64_t max_memory_bytes; /* cap on each memory (0: none) */
  /* The export a snapshot runs (docs/SNAPSHOTS.md). NULL: "wizer.initialize"
   * when the module exports it, else no snapshot; a named export that is
   * missing fails the deploy. */
  const char *init;
  bool no_snapshot; /* ?init=none */
  int64_t prewarm;  /* slots to warm; -1: the registry's default */
} wp_deploy_options;

/* Compiles so far, by tier, and tier-ups in flight (for /metrics). */
typedef struct wp_registry_compile_stats {
  uint64_t count[2];    /* loads that built code, by tier */
  uint64_t us_total[2]; /* their duration */
  uint32_t in_flight;   /* tier-ups queued or building */
  uint64_t tierups_done, tierups_failed;
} wp_registry_compile_stats;

typedef struct wp_registry wp_registry;

/* Creates module_dir (mode 0700, parents too) when missing and takes an
 * exclusive flock() on its .wasmpoold.lock (holding this pid) until
 * wp_registry_destroy. The runtime is borrowed and must outlive the
 * registry. WP_ECONFLICT, with err naming the directory and the holder's
 * pid, when another registry (another daemon) holds it; WP_EIO with err
 * filled when the directory cannot be made, opened or locked. */
int wp_registry_create(wp_runtime *rt, const char *module_dir, wp_registry **out, wp_error *err);
/* Drops the registry's module references (instances may keep theirs);
 * stops tier-up first (a running tier-1 compile is cancelled). */
void wp_registry_destroy(wp_registry *reg);

/* Turns on background tier-up with `threads` builders at nice +10: every
 * tier-0 deploy (and reload) is followed by a tier-1 build that replaces
 * the published module when it loads. Call before wp_registry_reload. */
int wp_registry_start_tierup(wp_registry *reg, unsigned threads);

void wp_registry_compile_stats_get(wp_registry *reg, wp_registry_compile_stats *out);

/* Loads every module persisted in module_dir (blocking: call at start-up,
 * before serving). A module that fails to load is logged and skipped (its
 * files stay). Leftover temp files of an interrupted deploy are removed. */
void wp_registry_reload(wp_registry *reg, size_t *loaded, size_t *failed);

/* Compiles, persists and publishes a module under name, replacing any module
 * of that name (*replaced says so); max_memory_bytes caps each of its
 * memories (0: none). Slow: run it on a worker. WP_EBAD_REQUEST
 * for an invalid name; wp_module_load()'s errors (WP_EMALFORMED,
 * WP_EUNSUPPORTED, WP_EUNLINKABLE, WP_ECOMPILE...); WP_EIO when it cannot be
 * persisted (the module is then not deployed). meta may be NULL. */
int wp_registry_deploy(wp_registry *reg, const char *name, size_t name_len, const uint8_t *wasm,
                       size_t wasm_len, uint64_t max_memory_bytes, bool *replaced,
                       wp_module_meta *meta, wp_error *err);

/* Snapshot and prewarm defaults ([runtime] snapshot_deadline, [pool]
 * prewarm). Call before wp_registry_reload. */
void wp_registry_set_snapshot_defaults(wp_registry *reg, uint64_t deadline_ms, uint32_t prewarm);

/* wp_registry_deploy with options: a snapshot (WP_ESNAPSHOT when it cannot
 * be taken), persisted as NAME.snap with the module, and prewarmed slots. */
int wp_registry_deploy_with(wp_registry *reg, const char *name, size_t name_len,
                            const uint8_t *wasm, size_t wasm_len, const wp_deploy_options *opts,
                            bool *replaced, wp_module_meta *meta, wp_error *err);

/* Looks a module up: *module gets a new reference (wp_module_release it)
 * and meta (may be NULL) its description. WP_ENO_MODULE. */
int wp_registry_get(wp_registry *reg, const char *name, size_t name_len, wp_module **module,
                    wp_module_meta *meta);

/* Deletes its files, then unpublishes it: a transaction. WP_ENO_MODULE;
 * WP_EIO, with err naming the file that could not be removed, when the files
 * cannot be removed: the module then stays deployed, on disk (the manifest is
 * written back if it was already gone) and in memory. */
int wp_registry_remove(wp_registry *reg, const char *name, size_t name_len, wp_error *err);

/* A consistent snapshot of every module, sorted by name, each with its own
 * module reference. Free with wp_registry_list_free(). WP_ENOMEM. */
typedef struct wp_registry_item {
  wp_module *module;
  wp_module_meta meta;
} wp_registry_item;

int wp_registry_list(wp_registry *reg, wp_registry_item **items, size_t *count);
void wp_registry_list_free(wp_registry_item *items, size_t count);

size_t wp_registry_count(wp_registry *reg);

/* mkdir -p: creates path and its missing parents with mode 0700 (the
 * daemon's state is private by default). 0, or -1 with errno set. */
int wp_make_dirs(const char *path);

#endif /* WP_DAEMON_REGISTRY_H */
