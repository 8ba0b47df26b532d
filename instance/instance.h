/* instance.h — modules and instances on wasm2c: the only public header of
 * instance/.
 *
 *   wp_runtime   process-wide: signal handlers, the slot pool, the compile
 *                cache directory and limits. One per process.
 *   wp_module    a deployed module: validated, compiled to a .so (or found in
 *                the cache), loaded, its data segments turned into a CoW image.
 *                Reference-counted; immutable; shared by every thread.
 *   wp_instance  one instantiation in pooled slots (instance area, memories,
 *                tables). Used by one thread at a time.
 *
 * Guest code runs on the calling thread. Traps, stack exhaustion and
 * deadlines come back as WP_ETRAP_* / WP_ETIMEOUT codes with a message in the
 * wp_error; the thread goes on. An instance that timed out (or overflowed
 * its stack inside a host call) must be destroyed (wp_instance_poisoned()
 * says so); after a stack overflow in guest code it stays usable, as after
 * any trap (the spec suite relies on this).
 *
 * Errors: 0 or a negative WP_E* code from wp_errno.h, with detail in a
 * caller-supplied wp_error when one is given.
 */
#ifndef WP_INSTANCE_H
#define WP_INSTANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "wp_errno.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error detail for the caller (and the HTTP answer). */
typedef struct wp_error {
  int code;          /* WP_E* */
  char message[512]; /* human-readable, says what and where */
} wp_error;

typedef enum wp_valtype {
  WP_I32,
  WP_I64,
  WP_F32,
  WP_F64,
  WP_FUNCREF,
  WP_EXTERNREF,
  WP_V128,
} wp_valtype;

/* A Wasm value. Floats are carried as bit patterns so NaN payloads survive. */
typedef struct wp_val {
  wp_valtype type;
  union {
    uint32_t i32;
    uint64_t i64;
    uint32_t f32_bits;
    uint64_t f64_bits;
    uint8_t v128[16]; /* lane bytes in Wasm (little-endian) order */
    void *ref;        /* NULL is the null reference. A funcref result carries
                         the function's code address (an identity, not callable
                         through this API); a non-null funcref argument is passed
                         as that address with no instance. */
  } of;
} wp_val;

/* "i32", ... Inline so code that uses these types without linking the
 * runtime (the spec runner's parser) shares the one table. */
static inline const char *wp_valtype_name(wp_valtype type) {
  switch (type) {
  case WP_I32: return "i32";
  case WP_I64: return "i64";
  case WP_F32: return "f32";
  case WP_F64: return "f64";
  case WP_FUNCREF: return "funcref";
  case WP_EXTERNREF: return "externref";
  case WP_V128: return "v128";
  }
  return "unknown";
}

/* ---- Runtime ------------------------------------------------------------- */

typedef struct wp_runtime_config {
  wp_pool_config pool;
  const char *cache_dir; /* compiled artifacts; created if missing */
  /* The Debian 13 tool root (scripts/toolroot.sh): wasm2c 1.0.36 and its
   * loader, wasm-rt.h, SIMDe. Default: the one this build was configured
   * with (WP_DEFAULT_TOOLROOT). */
  const char *toolroot;
  const char *cc_path;   /* optimising compiler (tier 1), default "cc" on PATH */
  const char *tcc_path;  /* fast compiler (tier 0), default "tcc" on PATH */
  const char *opt_level; /* tier 1's "-O2" by default */
  /* Limits on each compiler child process. */
  uint64_t compile_cpu_seconds;  /* RLIMIT_CPU, default 120 */
  uint64_t compile_memory_bytes; /* RLIMIT_AS, default 4 GiB */
  uint64_t compile_wall_ms;      /* killed after this, default 300000 */
  /* Tier 1 compiles this many of a module's split C files at once.
   * Default 2. */
  uint32_t compile_jobs;
  /* Stack given to guest code on each thread that runs it. Default 8 MiB. */
  uint64_t guest_stack_bytes;
} wp_runtime_config;

void wp_runtime_config_default(wp_runtime_config *cfg);

/* Bytes of one table element (sizeof(wasm_rt_funcref_t)): what the runtime
 * sets pool.table_element_bytes to, for sizing a pool before creating it. */
#define WP_RUNTIME_TABLE_ELEMENT_BYTES 32u

typedef struct wp_runtime wp_runtime;

/* Installs the signal handlers and reserves the pool. */
int wp_runtime_create(const wp_runtime_config *cfg, wp_runtime **out, wp_error *err);
void wp_runtime_destroy(wp_runtime *rt);
wp_pool *wp_runtime_pool(wp_runtime *rt);

/* ---- Modules ------------------------------------------------------------- */

typedef struct wp_module wp_module;

/* Proposals beyond the 2.0 core (SIMD, bulk memory, reference types,
 * multi-value, ... are always on). A module that uses a feature its options
 * disable is invalid, as in an engine without it. */
enum wp_feature {
  WP_FEATURE_EXCEPTIONS = 1u << 0,     /* legacy exception handling (try/catch/delegate) */
  WP_FEATURE_TAIL_CALL = 1u << 1,      /* return_call, return_call_indirect */
  WP_FEATURE_MEMORY64 = 1u << 2,       /* 64-bit memories (explicit bounds checks) */
  WP_FEATURE_MULTI_MEMORY = 1u << 3,   /* more than one memory */
  WP_FEATURE_EXTENDED_CONST = 1u << 4, /* i32/i64 add, sub, mul in constant expressions */
  WP_FEATURE_THREADS = 1u << 5,        /* atomics (on unshared memories) */
};
#define WP_FEATURES_ALL                                                                            \
  (WP_FEATURE_EXCEPTIONS | WP_FEATURE_TAIL_CALL | WP_FEATURE_MEMORY64 | WP_FEATURE_MULTI_MEMORY |  \
   WP_FEATURE_EXTENDED_CONST | WP_FEATURE_THREADS)

/* How a module's code is compiled. Tier 0 (tcc) answers within seconds
 * even for megabytes of Wasm; tier 1 (cc -O2 on split outputs) runs guest
 * code several times faster. Modules that use SIMD always build at tier 1
 * (tcc cannot compile SIMDe). */
typedef enum wp_tier {
  WP_TIER_BASELINE = 0,
  WP_TIER_OPTIMIZED = 1,
} wp_tier;

typedef struct wp_module_options {
  /* Let the module import from the spec suite's "spectest" module and from
   * modules registered with wp_linker_register(). Off for the daemon. */
  bool allow_spectest;
  const struct wp_linker *linker; /* NULL: WASI preview1 only */
  /* WP_FEATURE_* bits to turn off; 0 (the default) enables every feature
   * the engine supports. The spec runner turns off what a test directory
   * does not assume. */
  uint32_t disabled_features;
  wp_tier tier; /* requested; wp_module_tier() says what was built */
  /* Load only if the code is already in the compile cache (WP_ENOT_FOUND
   * otherwise): a restart looks for tier-1 code this way before it falls
   * back to building tier 0. */
  bool cache_only;
  /* Operator's cap on each memory of the module, bytes (0: none): growth
   * past it returns -1. A cap that fits the pool's small slots lets a
   * module that declares a larger maximum (or none) run in one. */
  uint64_t max_memory_bytes;
} wp_module_options;

/* Validates, refuses unsupported features (SIMD) and unknown imports,
 * compiles or hits the cache, loads, builds the memory image. */
int wp_module_load(wp_runtime *rt, const uint8_t *wasm, size_t length,
                   const wp_module_options *opts, wp_module **out, wp_error *err);
void wp_module_retain(wp_module *mod);
void wp_module_release(wp_module *mod);

/* True when the artifact came from the cache (the last load of this module). */
bool wp_module_cache_hit(const wp_module *mod);
/* Hex sha256 of the Wasm bytes (the cache key's first part). */
const char *wp_module_hash(const wp_module *mod);
/* The tier the loaded code was built at. */
wp_tier wp_module_tier(const wp_module *mod);
/* The tool root's package versions ("wabt 1.0.36+dfsg..., libc6 ..."),
 * one line each; part of every cache key. */
const char *wp_runtime_engine_versions(const wp_runtime *rt);
/* The tool root a runtime uses when its config names none (this build's). */
const char *wp_default_toolroot(void);
/* The "package version" lines of toolroot's VERSIONS file (NULL: the
 * default root) into buf, NUL-terminated; WP_ECONFIG when it cannot be
 * read. For `wasmpoold --version` without starting a runtime. */
int wp_toolroot_versions(const char *toolroot, char *buf, size_t len);

/* Kills every compiler child now running or started later (they fail with
 * WP_ESHUTTING_DOWN): shutdown does not wait out a background compile. */
void wp_runtime_cancel_compiles(wp_runtime *rt);

typedef enum wp_extern_kind {
  WP_EXTERN_FUNC,
  WP_EXTERN_TABLE,
  WP_EXTERN_MEMORY,
  WP_EXTERN_GLOBAL
} wp_extern_kind;

typedef struct wp_export_info {
  const char *name; /* NUL-terminated copy; name_length is the truth */
  size_t name_length;
  wp_extern_kind kind;
  uint32_t param_count, result_count; /* functions */
  const wp_valtype *params, *results;
  wp_valtype global_type; /* globals */
  bool global_mutable;
  bool hidden; /* a snapshot's init export: neither listed nor callable */
} wp_export_info;

size_t wp_module_export_count(const wp_module *mod);
const wp_export_info *wp_module_export(const wp_module *mod, size_t i);
const wp_export_info *wp_module_find_export(const wp_module *mod, const char *name, size_t length);

typedef struct wp_module_limits {
  uint64_t initial_memory_bytes, maximum_memory_bytes; /* UINT64_MAX: none */
  uint32_t initial_table_elements, maximum_table_elements;
  uint64_t image_bytes; /* bytes of the CoW image (0: no data) */
  bool is_command;      /* exports _start */
  bool is_reactor;      /* exports _initialize */
  /* Chosen at deploy: the slot class of the module's memories, and whether
   * its code checks every memory access itself (always true for small
   * slots; guard-page code never runs in one). */
  wp_memory_class memory_class;
  bool bounds_checked;
  uint64_t memory_cap_bytes; /* the operator's cap (0: none) */
} wp_module_limits;

void wp_module_get_limits(const wp_module *mod, wp_module_limits *out);

/* ---- Snapshots (snapshot.c, docs/SNAPSHOTS.md) --------------------------- */

/* The export a module names for pre-initialisation, as Wizer does. */
#define WP_SNAPSHOT_DEFAULT_INIT "wizer.initialize"

typedef struct wp_snapshot_info {
  const char *init;      /* the export that ran */
  uint64_t memory_bytes; /* memory 0's size after init: every instance's initial size */
  uint64_t pages;        /* non-zero 4 KiB pages in the image */
  uint64_t bytes;        /* bytes of those pages */
  uint32_t globals;      /* mutable globals carried */
  uint64_t took_us;      /* wall time of the snapshot at deploy */
} wp_snapshot_info;

/* Runs the export init (() -> ()) once in a pooled instance, with a
 * deadline (0: none), and makes what it leaves the module's starting state:
 * memory 0 (its non-zero pages become the CoW image, its size the initial
 * size) and every defined mutable global. The export is hidden afterwards,
 * and _initialize (which ran first) does not run again. Call at deploy,
 * before the module is shared. WP_ESNAPSHOT with the reason for what cannot
 * be carried faithfully (a trap or timeout in init, a table it changed, a
 * stdio fd it closed, a start function, data the code copies itself, more
 * than one memory, no such () -> () export, ...). */
int wp_module_snapshot(wp_module *mod, const char *init, uint64_t deadline_ms, wp_error *err);
/* False when the module has no snapshot. */
bool wp_module_snapshot_info(const wp_module *mod, wp_snapshot_info *out);
/* The snapshot as a self-contained byte string (the file a registry keeps
 * next to the module): valid while the module lives. NULL: no snapshot. */
const uint8_t *wp_module_snapshot_bytes(const wp_module *mod, size_t *length);
/* Installs a snapshot saved by wp_module_snapshot_bytes() for the same
 * module (a restart). Copies bytes. WP_ESNAPSHOT when they do not fit it. */
int wp_module_snapshot_load(wp_module *mod, const uint8_t *bytes, size_t length, wp_error *err);

/* ---- Linking (spec suite) ------------------------------------------------ */

/* Named instances whose exports other modules may import ("register"). */
typedef struct wp_linker wp_linker;
int wp_linker_create(wp_linker **out);
void wp_linker_destroy(wp_linker *linker);
struct wp_instance;
int wp_linker_register(wp_linker *linker, const char *name, struct wp_instance *inst);

/* ---- Instances ----------------------------------------------------------- */

typedef struct wp_instance wp_instance;

/* WASI preview1 environment of one instance (copied at instantiation). */
typedef struct wp_wasi_config {
  const char *const *argv;
  size_t argc;
  const char *const *envp;
  size_t envc; /* "KEY=value" */
  const uint8_t *stdin_bytes;
  size_t stdin_length;
  size_t stdout_limit, stderr_limit; /* bytes kept; more is dropped and flagged */
} wp_wasi_config;

typedef struct wp_instance_options {
  const wp_wasi_config *wasi; /* NULL: empty args/env/stdin, 64 KiB outputs */
  const wp_linker *linker;    /* imports from registered instances */
  uint64_t deadline_ms;       /* for instantiation (start function); 0 = none */
  /* Cap on each memory of the instance, bytes: memory.grow past it returns
   * -1, a larger initial size fails the instantiation. 0 = the module's
   * own maximum (and the slot size). */
  uint64_t max_memory_bytes;
} wp_instance_options;

/* Acquires slots, maps the image, runs the start function (and a reactor's
 * _initialize). WP_EPOOL_EXHAUSTED when a pool is full. */
int wp_instance_create(wp_runtime *rt, wp_module *mod, const wp_instance_options *opts,
                       wp_instance **out, wp_error *err);
/* Releases every slot (their reset follows) and the module reference. */
void wp_instance_destroy(wp_instance *inst);
wp_module *wp_instance_module(const wp_instance *inst);
/* True after a timeout (or a stack overflow inside a host call): only
 * destroy is allowed. */
bool wp_instance_poisoned(const wp_instance *inst);

typedef struct wp_call_options {
  uint64_t deadline_ms; /* 0 = none */
} wp_call_options;

/* Calls an exported function. args must match the signature exactly
 * (WP_EARG_TYPE otherwise); results has room for result_count values. */
int wp_instance_call(wp_instance *inst, const char *export_name, size_t name_length,
                     const wp_val *args, size_t arg_count, wp_val *results, size_t result_capacity,
                     const wp_call_options *opts, wp_error *err);

/* Reads an exported global. */
int wp_instance_get_global(wp_instance *inst, const char *export_name, size_t name_length,
                           wp_val *out, wp_error *err);

/* Runs a WASI command's _start. exit_code is 0 if _start returned, else the
 * proc_exit value. A trap is reported as for wp_instance_call. */
int wp_instance_run(wp_instance *inst, const wp_call_options *opts, int *exit_code, wp_error *err);

/* Captured WASI output so far; truncated is set when the limit dropped bytes. */
const uint8_t *wp_instance_stdout(const wp_instance *inst, size_t *length, bool *truncated);
const uint8_t *wp_instance_stderr(const wp_instance *inst, size_t *length, bool *truncated);

/* The instance's exported memory 0 for tests and tools (NULL if none). */
uint8_t *wp_instance_memory(wp_instance *inst, uint64_t *size_bytes);

#ifdef __cplusplus
}
#endif
#endif /* WP_INSTANCE_H */
