/* runtime_internal.h — private to instance/: the pieces of the execution core
 * that module.c, instance.c, linker.c and spectest.c share.
 *
 *   glue ABI     the structs a generated glue .so and the host exchange. They
 *                are declared once below inside WP__GLUE_ABI(...) so that the
 *                same text is compiled into the host and written into every
 *                generated glue file (glue.c emits wp__glue_abi_text); the
 *                text's hash is part of the cache key, so a change here can
 *                never load a stale artifact.
 *   threads      per-thread execution state: guest stack, trap jump buffer,
 *                host-call marks, deadline timer (signals.c, deadline.c).
 *   slots        the memory and table slots an instance owns, found from a
 *                descriptor's address by arithmetic (runtime.c).
 *   compile      process spawning with limits (compile.c), the artifact cache
 *                (cache.c), sha256 (sha256.c), glue generation (glue.c).
 */
#ifndef WP_INSTANCE_RUNTIME_INTERNAL_H
#define WP_INSTANCE_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "instance.h"
#include "reader.h"

/* ---- Glue ABI ------------------------------------------------------------ */

#define WP__GLUE_ABI(...)                                                                          \
  __VA_ARGS__                                                                                      \
  static const char wp__glue_abi_text[] = #__VA_ARGS__;

/* Types are spelled without stdint so the text stands alone in the glue.
 * wp_glue_host: the runtime functions the generated code calls (the glue
 * defines every wasm_rt_* symbol as a forwarder through it, so a .so needs no
 * symbol from the executable). Memory and table calls carry the runtime that
 * loaded the module (ctx, given once to bind): the generated code's
 * wasm_rt_* calls have no context argument, and this keeps the runtime out
 * of process-wide state.
 * wp_glue_import: one per import, in import order, after one self pointer
 * (see glue.c for why); the generated code is given a pointer to that block
 * as the "instance" of every module it imports from, and the glue's import
 * forwarders index it. fn(env, args...) has the import's C signature with a
 * void * first; host is non-zero when fn is host code (deadline signals are
 * deferred while it runs). ptr is the global / memory / table / tag of an
 * import.
 * wp_glue_module.global_offsets: the byte offset in the instance struct of
 * each defined global, in definition order (global_count of them; 0 when
 * glue.c could not match the generated struct): snapshots read and write
 * mutable globals through them (snapshot.c).
 * Values cross the trampolines in 16-byte cells (lo holds every scalar type,
 * floats as bits and references as pointers; a v128 fills lo and hi). */
WP__GLUE_ABI(
    typedef struct wp_glue_cell { unsigned long long lo, hi; } __attribute__((aligned(16)))
    wp_glue_cell;
    typedef struct wp_glue_host {
      unsigned abi_version;
      void (*trap)(int wasm_rt_trap_code);
      void (*load_exception)(const void *tag, unsigned size, const void *values);
      void (*throw_exception)(void);
      void *(*get_unwind_target)(void);
      void (*set_unwind_target)(void *target);
      const void *(*exception_tag)(void);
      unsigned (*exception_size)(void);
      void *(*exception)(void);
      void (*allocate_memory)(void *ctx, void *memory, unsigned long long initial_pages,
                              unsigned long long max_pages, int flags /* 1 is64, 2 shared */);
      unsigned long long (*grow_memory)(void *ctx, void *memory, unsigned long long delta_pages);
      void (*free_memory)(void *ctx, void *memory);
      void (*allocate_table)(void *ctx, void *table, int externref, unsigned initial, unsigned max);
      unsigned (*grow_table)(void *ctx, void *table, int externref, unsigned delta,
                             const void *init);
      void (*free_table)(void *ctx, void *table, int externref);
      void (*host_enter)(void);
      void (*host_leave)(void);
    } wp_glue_host;
    typedef struct wp_glue_import {
      void (*fn)(void);
      void *env;
      void *ptr;
      int host;
    } wp_glue_import;
    typedef struct wp_glue_export {
      const char *name;
      unsigned name_length;
      int kind;
      unsigned param_count, result_count;
      const unsigned char *types;
      void (*call)(void *instance, const wp_glue_cell *args, wp_glue_cell *results);
      void (*func)(void);
      void *(*get)(void *instance);
    } wp_glue_export;
    typedef struct wp_glue_module {
      unsigned abi_version;
      unsigned long instance_size;
      void (*bind)(const wp_glue_host *host, void *ctx);
      void (*instantiate)(void *instance, void *imports);
      void (*free_instance)(void *instance);
      unsigned export_count;
      const wp_glue_export *exports;
      unsigned import_count;
      unsigned global_count;
      const unsigned long *global_offsets;
    } wp_glue_module;)

/* Bumped when the meaning (not the layout) of the ABI, or what glue.c
 * writes, changes: it is part of the cache key. */
#define WP__GLUE_ABI_VERSION 5u

/* The one host table (runtime.c). */
extern const wp_glue_host wp__glue_host;

/* ---- sha256 -------------------------------------------------------------- */

typedef struct wp__sha256 {
  uint32_t state[8];
  uint64_t length;
  uint8_t block[64];
  size_t used;
} wp__sha256;

void wp__sha256_init(wp__sha256 *ctx);
void wp__sha256_update(wp__sha256 *ctx, const void *data, size_t length);
void wp__sha256_final(wp__sha256 *ctx, uint8_t digest[32]);
/* hex must have room for 65 bytes. */
void wp__sha256_hex(const void *data, size_t length, char hex[65]);

/* ---- Process spawning with limits (compile.c) ---------------------------- */

typedef struct wp__spawn_limits {
  uint64_t cpu_seconds;  /* RLIMIT_CPU; 0 = none */
  uint64_t memory_bytes; /* RLIMIT_AS; 0 = none */
  uint64_t wall_ms;      /* killed (whole process group) after this; 0 = none */
  /* When set and true, the child is killed within ~100 ms (shutdown does
   * not wait out a background compile). NULL: never. */
  const _Atomic bool *cancel;
} wp__spawn_limits;

/* Runs argv[0] (PATH lookup, no shell) with the limits, stdout to /dev/null,
 * stderr kept (up to stderr_cap - 1 bytes, NUL-terminated). Returns 0 when it
 * exited 0; WP_ECOMPILE_LIMIT when a limit killed it (or it ran out of
 * memory under RLIMIT_AS); WP_ECOMPILE when it failed otherwise; WP_ESYS when
 * it could not be started. err gets "<tool>: <reason>: <stderr>". */
int wp__spawn(const char *const argv[], const wp__spawn_limits *limits, char *stderr_buf,
              size_t stderr_cap, wp_error *err);

/* ---- Compile driver and cache (cache.c, build.c) ------------------------ */

/* One compiler tier: the program and what identifies its output. */
typedef struct wp__tier_tool {
  char path[4096];       /* resolved program */
  char identity_hex[65]; /* sha256 of engine, program, flags and glue ABI */
} wp__tier_tool;

typedef struct wp__compiler {
  char *cache_dir;
  char *toolroot;     /* the Debian 13 tool root */
  char loader[4200];  /* <root>/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 */
  char libpath[4200]; /* <root>/usr/lib/x86_64-linux-gnu */
  char include[4200]; /* <root>/usr/include: wasm-rt.h and simde/ */
  char *versions;     /* the root's VERSIONS file: "package version" lines */
  char *opt_level;
  char libtcc1[4096]; /* tcc's runtime archive (va_arg) */
  wp__tier_tool tiers[2];
  uint32_t jobs;
  wp__spawn_limits limits; /* the configured maximum of every child */
  _Atomic bool cancel;     /* wp_runtime_cancel_compiles() */
  /* Single flight: the cache keys being built now. A second load of the
   * same key waits for the first build instead of compiling it again. */
  pthread_mutex_t flight_lock;
  pthread_cond_t flight_done;
  struct wp__flight *flights;
} wp__compiler;

int wp__compiler_init(wp__compiler *cc, const wp_runtime_config *cfg, wp_error *err);
void wp__compiler_free(wp__compiler *cc);

/* What one build produces from: the bytes given to wasm2c (already stripped
 * of active data when the image holds it), the features it may use, and the
 * tier. */
typedef struct wp__build_request {
  const wp__module_info *info;
  const uint8_t *wasm;
  size_t length;
  uint32_t disabled_features;
  wp_tier tier;
  bool cache_only; /* WP_ENOT_FOUND instead of building on a miss */
  /* Compile with wasm2c's explicit bounds checks instead of relying on
   * guard pages (small slots); part of the cache key. */
  bool bounds_checks;
} wp__build_request;

/* The tier a request really builds at (SIMD forces tier 1). */
wp_tier wp__build_tier(const wp__build_request *req);

/* Produces the .so for a request: from the cache when key_hex names an
 * artifact there, else by building it (build.c), once for concurrent
 * requests of the same key. *so_path is malloc'd. */
int wp__compile(wp__compiler *cc, const wp__build_request *req, const char *key_hex, char **so_path,
                bool *cache_hit, wp_error *err);

/* build.c: translates and compiles into dir/out.so. */
int wp__build(const wp__compiler *cc, const wp__build_request *req, const char *dir, wp_error *err);
/* Removes what wp__build wrote into dir, and dir. */
void wp__build_clean(const char *dir);

/* Runs the tool root's wasm-validate with the request's features: 0 when
 * valid, WP_EINVALID_MODULE with its message when not, another code when it
 * could not run. Used to report an invalid module as invalid even when it
 * also has unknown imports (the spec's order: validation before linking). */
int wp__validate(const wp__compiler *cc, const uint8_t *wasm, size_t length,
                 uint32_t disabled_features, wp_error *err);

/* The limits of one compiler child, scaled to the bytes it reads
 * (docs/CONFIG.md has the formula): a few seconds for small inputs, never
 * more than the configured maximum. */
wp__spawn_limits wp__scaled_limits(const wp__compiler *cc, double base_seconds,
                                   double seconds_per_mib, uint64_t input_bytes);

/* argv of a tool-root program: [loader, --library-path, libpath, program].
 * Fills out[0..3] and returns 4. */
size_t wp__toolroot_argv(const wp__compiler *cc, const char *program, char *program_path,
                         size_t program_path_len, const char **out);
/* The wasm2c / wasm-validate feature flags for disabled_features (NULL
 * terminated, static strings); returns how many. */
size_t wp__feature_flags(uint32_t disabled_features, const char **out, size_t capacity);

/* ---- Glue generation (glue.c) -------------------------------------------- */

/* The C name wasm2c 1.0.36 gives a Wasm name (module_name: the rules for
 * import module names, which double underscores). Returns a malloc'd
 * string or NULL. */
char *wp__mangle(const char *bytes, size_t length, bool module_name);

/* Writes the glue (glue_path) and the imported-tag definitions (tags_path)
 * for a module translated with `wasm2c -n m` whose header is generated_h. */
int wp__glue_write(const wp__module_info *info, const char *generated_h, const char *glue_path,
                   const char *tags_path, wp_error *err);

/* ---- Errors -------------------------------------------------------------- */

/* Sets err (if not NULL) and returns code. */
int wp__error(wp_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- Per-thread execution (signals.c, deadline.c, runtime.c) ------------- */

struct wp__instance_core;

typedef struct wp__thread {
  /* Guest stack: [stack_base, stack_base + guard) is PROT_NONE. */
  uint8_t *stack_base;
  size_t stack_bytes, stack_guard;
  uint8_t *altstack;
  size_t altstack_bytes;
  void *host_ctx, *guest_ctx; /* ucontext_t, allocated with the stack */
  jmp_buf host_jb, fiber_jb;  /* fiber switch (signals.c) */
  bool fiber_started;
  volatile sig_atomic_t signal_unwound; /* a handler unwound with its signal blocked */
  void *asan_fake_stack;
  const void *host_stack_bottom;
  size_t host_stack_size;

  /* Trap target of the running call; valid while in_guest. */
  sigjmp_buf *trap_jb;
  void *unwind_target;
  volatile sig_atomic_t in_guest;
  volatile sig_atomic_t in_host;         /* depth of host calls from the guest */
  volatile sig_atomic_t timeout_pending; /* deadline passed during a host call */
  volatile sig_atomic_t deadline_armed;
  int exit_code;         /* proc_exit value for WP_EEXIT */
  char trap_detail[128]; /* extra message of the last trap */

  /* Exception being thrown (wasm_rt_load_exception). */
  const void *exc_tag;
  uint32_t exc_size;
  uint8_t exc_values[256];

  /* The call in progress (signals.c runs it on the guest stack). */
  void (*entry)(void *arg);
  void *entry_arg;
  int entry_result;

  bool timer_created;
  void *timer; /* timer_t */
  /* Deadline of the call in progress (CLOCK_MONOTONIC ns), and the expiry
   * the timer is programmed for (0: stopped). The timer is left running
   * after a call and reprogrammed only when it fires or a call needs an
   * earlier expiry (deadline.c). Written by this thread and its own signal
   * handler only: lock-free atomics order the two. */
  _Atomic uint64_t deadline_ns;
  _Atomic uint64_t timer_expiry_ns;
  struct wp_runtime *rt;
} wp__thread;

/* This thread's state, created on first use (NULL only on ENOMEM). */
wp__thread *wp__thread_get(struct wp_runtime *rt);

/* Runs entry(arg) on this thread's guest stack with traps and the deadline
 * armed. Returns 0 or the trap / timeout / exit code (the message detail is
 * in t->trap_detail). */
int wp__guest_call(wp__thread *t, uint64_t deadline_ms, void (*entry)(void *arg), void *arg);

/* Unwinds the running guest call with a WP_E* code. */
_Noreturn void wp__guest_unwind(int code);

int wp__signals_install(struct wp_runtime *rt, wp_error *err);
void wp__signals_uninstall(struct wp_runtime *rt);

/* deadline.c */
int wp__deadline_arm(wp__thread *t, uint64_t deadline_ms);
void wp__deadline_disarm(wp__thread *t);
void wp__deadline_thread_exit(wp__thread *t);
/* The timer fired: 1 when the running call's deadline has passed; 0 when it
 * fired early or after the call (it has been reprogrammed or stopped).
 * Async-signal-safe. */
int wp__deadline_fired(wp__thread *t);
int wp__deadline_signal(void);

/* ---- Slots an instance owns (runtime.c, instance.c, spectest.c) -------- */

/* A pooled memory or table and the wasm_rt_* descriptor the generated code
 * holds for it (NULL until the generated instantiate binds it). */
typedef struct wp__memory_binding {
  void *memory;               /* wasm_rt_memory_t *, or wasm_rt_shared_memory_t * when shared */
  wp_memory_class slot_class; /* set before wp__memory_plan (default guarded) */
  wp_memory_slot slot;
  bool held;
  bool shared; /* grow takes the descriptor's mem_lock */
} wp__memory_binding;

typedef struct wp__table_binding {
  void *table; /* wasm_rt_funcref_table_t * or wasm_rt_externref_table_t * */
  bool externref;
  wp_table_slot slot;
  bool held;
} wp__table_binding;

/* The slots of one instance, acquired before any guest code runs, in the
 * order the generated code allocates them (definition order). */
typedef struct wp__slot_owner {
  wp__memory_binding *memories;
  uint32_t memory_count, memories_bound;
  wp__table_binding *tables;
  uint32_t table_count, tables_bound;
} wp__slot_owner;

/* The first bytes of every instance area: its owner. The generated instance
 * struct follows at WP__AREA_HEADER_BYTES, so any descriptor inside it leads
 * back to its owner by address arithmetic (wp_pool_instance_area_of). */
typedef struct wp__area_header {
  wp__slot_owner *owner;
} wp__area_header;
#define WP__AREA_HEADER_BYTES 64u

/* Acquires the slot of a memory binding: initial bytes accessible (the image,
 * when given, mapped), growable up to max_bytes (UINT64_MAX: no maximum);
 * from the protection-key stripe of pkey when it is not 0. */
int wp__memory_plan(struct wp_runtime *rt, wp__memory_binding *b, uint64_t initial_bytes,
                    uint64_t max_bytes, const wp_image *image, int pkey);
int wp__table_plan(struct wp_runtime *rt, wp__table_binding *b, bool externref, uint32_t initial,
                   uint32_t max);
/* Fills a wasm_rt_memory_t (or, shared, a wasm_rt_shared_memory_t, whose
 * lock it initialises) / table descriptor from its planned slot. */
void wp__memory_bind(wp__memory_binding *b, void *memory, uint64_t max_pages, bool is64,
                     bool shared);
void wp__table_bind(wp__table_binding *b, void *table, uint32_t max);
/* Releases every slot the owner holds (their reset follows in alloc/). */
void wp__owner_release(struct wp_runtime *rt, wp__slot_owner *owner);

/* ---- Runtime ------------------------------------------------------------- */

struct wp_runtime {
  wp_runtime_config cfg;
  wp_pool *pool;
  wp__compiler compiler;
  pthread_key_t thread_key;
  bool thread_key_created;
  /* The spec suite's "spectest" module, created on first import
   * (spectest.c); guarded by spectest_lock. Its memory and table are not in
   * an instance area, so lookups by address fall back to this owner. */
  struct wp__spectest *spectest;
  wp__slot_owner *spectest_owner;
  /* Instances that stored functions into a table they imported: those
   * funcrefs point at their code and instance, which the exporter's table
   * keeps reachable (the spec: they stay callable even when instantiation
   * failed), so they are kept until the runtime goes. Guarded by
   * spectest_lock. Only linked modules (the spec runner) import tables. */
  struct wp_instance **kept;
  size_t kept_count, kept_capacity;
  pthread_mutex_t spectest_lock;
};

#endif /* WP_INSTANCE_RUNTIME_INTERNAL_H */
