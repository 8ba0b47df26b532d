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
 *   slots        the registries that map a wasm_rt_memory_t / table to its
 *                pooled slot (runtime.c) so grow and free reach alloc/.
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
 * symbol from the executable). wp_glue_import: one per import, in import
 * order, after one self pointer (see glue.c for why); the generated code is
 * given a pointer to that block as the "instance" of every module it
 * imports from, and the glue's import forwarders index it. fn(env, args...) has the import's C
 * signature with a void * first; host is non-zero when fn is host code (deadline signals are
 * deferred while it runs). ptr is the global / memory / table of an import.
 * Values cross the trampolines as 64-bit raw slots (floats as bits, refs as
 * pointers). */
WP__GLUE_ABI(
    typedef struct wp_glue_host {
      unsigned abi_version;
      void (*trap)(int wasm_rt_trap_code);
      unsigned (*register_func_type)(unsigned params, unsigned results, const int *types);
      unsigned (*register_tag)(unsigned size);
      void (*load_exception)(unsigned tag, unsigned size, const void *values);
      void (*throw_exception)(void);
      void *(*get_unwind_target)(void);
      void (*set_unwind_target)(void *target);
      unsigned (*exception_tag)(void);
      unsigned (*exception_size)(void);
      void *(*exception)(void);
      void (*allocate_memory)(void *memory, unsigned initial_pages, unsigned max_pages);
      unsigned (*grow_memory)(void *memory, unsigned delta_pages);
      void (*free_memory)(void *memory);
      void (*allocate_table)(void *table, int externref, unsigned initial, unsigned max);
      unsigned (*grow_table)(void *table, int externref, unsigned delta, const void *init);
      void (*free_table)(void *table, int externref);
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
      void (*call)(void *instance, const unsigned long long *args, unsigned long long *results);
      void (*func)(void);
      void *(*get)(void *instance);
    } wp_glue_export;
    typedef struct wp_glue_module {
      unsigned abi_version;
      unsigned long instance_size;
      void (*bind)(const wp_glue_host *host);
      void (*init_module)(void);
      void (*instantiate)(void *instance, void *imports);
      void (*free_instance)(void *instance);
      unsigned export_count;
      const wp_glue_export *exports;
      unsigned import_count;
    } wp_glue_module;)

/* Bumped when the meaning (not the layout) of the ABI, or what glue.c
 * writes, changes: it is part of the cache key. */
#define WP__GLUE_ABI_VERSION 2u

/* wasm_rt_trap_t values (wasm-rt.h, wabt 1.0.32), mapped in runtime.c. */
enum {
  WP__RT_TRAP_NONE,
  WP__RT_TRAP_OOB,
  WP__RT_TRAP_INT_OVERFLOW,
  WP__RT_TRAP_DIV_BY_ZERO,
  WP__RT_TRAP_INVALID_CONVERSION,
  WP__RT_TRAP_UNREACHABLE,
  WP__RT_TRAP_CALL_INDIRECT,
  WP__RT_TRAP_UNCAUGHT_EXCEPTION,
  WP__RT_TRAP_EXHAUSTION,
};

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
} wp__spawn_limits;

/* Runs argv[0] (PATH lookup, no shell) with the limits, stdout to /dev/null,
 * stderr kept (up to stderr_cap - 1 bytes, NUL-terminated). Returns 0 when it
 * exited 0; WP_ECOMPILE_LIMIT when a limit killed it (or it ran out of
 * memory under RLIMIT_AS); WP_ECOMPILE when it failed otherwise; WP_ESYS when
 * it could not be started. err gets "<tool>: <reason>: <stderr>". */
int wp__spawn(const char *const argv[], const wp__spawn_limits *limits, char *stderr_buf,
              size_t stderr_cap, wp_error *err);

/* ---- Compile driver and cache (cache.c) ---------------------------------- */

typedef struct wp__compiler {
  char *cache_dir;
  char *wasm2c_path;
  char *cc_path;
  char *opt_level;
  wp__spawn_limits limits;
  char identity_hex[65]; /* sha256 of tools' identities, flags and the glue ABI */
} wp__compiler;

int wp__compiler_init(wp__compiler *cc, const wp_runtime_config *cfg, wp_error *err);
void wp__compiler_free(wp__compiler *cc);

/* Produces the .so for `wasm` (already stripped of active data when the image
 * holds it): from the cache when key_hex names an artifact there, else by
 * running wasm2c and cc. *so_path is malloc'd. */
int wp__compile(const wp__compiler *cc, const wp__module_info *info, const uint8_t *wasm,
                size_t length, const char *key_hex, char **so_path, bool *cache_hit, wp_error *err);

/* Runs wabt's validator (same features as wasm2c): 0 when valid,
 * WP_EINVALID_MODULE with its message when not, another code when it could
 * not run. Used to report an invalid module as invalid even when it also
 * has unknown imports (the spec's order: validation before linking). */
int wp__validate(const wp__compiler *cc, const uint8_t *wasm, size_t length, wp_error *err);

/* ---- Glue generation (glue.c) -------------------------------------------- */

/* The C name wasm2c gives a name: "Z_" + each byte kept if [A-Za-z0-9_]
 * except 'Z', else "Z%02X". Returns a malloc'd string or NULL. */
char *wp__mangle(const char *bytes, size_t length);

/* Writes the glue for a module compiled with `wasm2c -n m` whose output is
 * generated_c (the glue #includes it so one translation unit holds both). */
int wp__glue_write(const wp__module_info *info, const char *generated_c, const char *glue_path,
                   wp_error *err);

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
  uint32_t exc_tag, exc_size;
  uint8_t exc_values[256];

  /* The call in progress (signals.c runs it on the guest stack). */
  void (*entry)(void *arg);
  void *entry_arg;
  int entry_result;

  /* Instance being instantiated (allocate_memory takes its planned slots). */
  struct wp__instance_core *instantiating;

  bool timer_created;
  void *timer; /* timer_t */
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
int wp__deadline_signal(void);

/* ---- Slot registries (runtime.c) ----------------------------------------- */

/* Registers a guest memory range that faults as OOB while guest code runs. */
void wp__guard_register(uint32_t slot_index, uintptr_t lo, uintptr_t hi);
void wp__guard_unregister(uint32_t slot_index);
bool wp__guard_contains(uintptr_t addr);

/* A pooled memory with its wasm_rt_memory_t (memory is the address the
 * generated code holds; for defined memories it is inside the instance). */
typedef struct wp__memory_plan {
  const wp_image *image;
  uint64_t maximum_bytes;
} wp__memory_plan;

/* Acquires a memory slot for `memory` (a wasm_rt_memory_t *). */
int wp__memory_attach(struct wp_runtime *rt, void *memory, uint32_t initial_pages,
                      uint32_t max_pages, const wp_image *image);
int wp__table_attach(struct wp_runtime *rt, void *table, bool externref, uint32_t initial,
                     uint32_t max);
void wp__memory_detach(void *memory);
void wp__table_detach(void *table, bool externref);

/* ---- Runtime ------------------------------------------------------------- */

struct wp_runtime {
  wp_runtime_config cfg;
  wp_pool *pool;
  wp__compiler compiler;
  pthread_key_t thread_key;
  bool thread_key_created;
  /* The spec suite's "spectest" module, created on first import
   * (spectest.c); guarded by spectest_lock. */
  struct wp__spectest *spectest;
  pthread_mutex_t spectest_lock;
};

/* The instance state the runtime needs while instantiating. */
typedef struct wp__instance_core {
  const wp_image *image; /* for the module's memory 0 */
  int memories_attached;
} wp__instance_core;

#endif /* WP_INSTANCE_RUNTIME_INTERNAL_H */
