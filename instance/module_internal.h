/* module_internal.h — private to instance/: the layout of wp_module,
 * wp_instance and wp_linker, shared by module.c, instance.c, linker.c and
 * spectest.c.
 */
#ifndef WP_INSTANCE_MODULE_INTERNAL_H
#define WP_INSTANCE_MODULE_INTERNAL_H

#include "runtime_internal.h"
#include "wasi.h"

/* Where one import comes from. */
typedef enum wp__import_source {
  WP__SOURCE_WASI,
  WP__SOURCE_SPECTEST,
  WP__SOURCE_LINKER,
} wp__import_source;

struct wp_module {
  _Atomic int refs;
  wp_runtime *rt;
  wp__module_info info;
  void *dl;
  const wp_glue_module *glue;
  char hash[65];
  bool cache_hit;
  wp_tier tier;
  bool allow_spectest;
  wp_image *image;              /* NULL: no image (no data, or the code copies it) */
  wp_memory_class memory_class; /* slot class of every defined memory */
  bool bounds_checked;          /* built with explicit bounds checks */
  uint64_t memory_cap_bytes;    /* operator's cap on each memory (0: none) */
  wp_export_info *exports;
  wp_valtype *export_types; /* storage for every export's params/results */
  wp_module_limits limits;
  int32_t memory_export;         /* first exported memory, -1 if none */
  int32_t start_export;          /* _start, -1 if none */
  int32_t initialize_export;     /* _initialize, -1 if none */
  struct wp__snapshot *snapshot; /* NULL: none (snapshot.c) */
};

/* snapshot.c: the starting state a snapshot gives every instance. */
typedef struct wp__snapshot {
  char *init;
  uint64_t memory_bytes;   /* memory 0's initial size */
  uint32_t global_count;   /* defined globals, as the glue's offsets */
  uint8_t *global_mutable; /* per defined global: carried */
  uint8_t (*globals)[16];  /* per defined global: its value bytes */
  wp_snapshot_info info;
  uint8_t *blob; /* the persisted form; the image's bytes point into it */
  size_t blob_length;
} wp__snapshot;

void wp__snapshot_free(wp__snapshot *snap);
/* Writes the snapshot's globals into a freshly instantiated instance. */
void wp__snapshot_apply_globals(const wp_module *mod, void *area);

/* An instance owns its slots (Wasmtime's InstanceAllocator): the instance
 * area, then one memory slot per defined memory and one table slot per
 * defined table, all acquired before any guest code runs. The area starts
 * with a wp__area_header pointing at `slots`; the generated w2c_m struct
 * follows it. */
struct wp_instance {
  wp_runtime *rt;
  wp_module *mod;
  wp_instance_slot slot;
  bool has_slot;
  void *area;                /* the generated w2c_m, after the area header */
  void **import_block;       /* [self][imports...], given to the generated code */
  wp_glue_import *imports;   /* inside import_block */
  wp__slot_owner slots;      /* arrays allocated with the instance */
  uint64_t max_memory_bytes; /* cap on each memory (0: the module's maximum) */
  wp__wasi_ctx wasi;
  bool wasi_ready;
  bool instantiated;
  bool poisoned;
  /* Protection keys of the memories the guest may touch (bit 1 << pkey;
   * 0 without keys): run_guest opens only these (alloc.h). */
  uint32_t key_mask;
  bool kept; /* held by the runtime until it goes (wp_runtime.kept) */
  int exit_code;
};

/* spectest.c: the value of a spectest import for this runtime; false when
 * "spectest" has no such field of that kind and type. */
bool wp__spectest_resolve(wp_runtime *rt, const wp__module_info *info, const wp__import *imp,
                          wp_glue_import *out);
void wp__spectest_release(wp_runtime *rt);

/* linker.c: the export of a registered instance that satisfies imp. */
bool wp__linker_resolve(const struct wp_linker *linker, const wp__module_info *info,
                        const wp__import *imp, wp_glue_import *out);

/* instance.c: destroys the instances the runtime kept (runtime destroy). */
void wp__instances_release_kept(wp_runtime *rt);

/* module.c: the public type of a binary value type byte. */
wp_valtype wp__public_valtype(uint8_t type);

/* module.c: whether two function types are the same. */
bool wp__functype_equal(const wp__functype *a, const wp__functype *b);

#endif /* WP_INSTANCE_MODULE_INTERNAL_H */
