/* snapshot.c — pre-initialised snapshots at deploy (docs/SNAPSHOTS.md).
 *
 * Wizer's idea, done inside the pool instead of by rewriting the module: an
 * init export runs once in a pooled instance; what it leaves becomes the
 * module's starting state:
 *   memory 0   its non-zero 4 KiB pages become the module's CoW image (the
 *              image replaces the one built from data segments, which the
 *              init instance started from), its size the initial size;
 *   globals    every defined mutable global's value, written into each new
 *              instance right after the generated instantiate (through the
 *              glue's global offsets).
 * The code does not change, so the compile cache is untouched.
 *
 * What cannot be carried faithfully is refused with WP_ESNAPSHOT: a trap,
 * timeout or proc_exit in init; a table init changed (its funcrefs point at
 * the init instance); a stdio fd init closed; a start function (it would run
 * again on top of the snapshot); data the generated code copies itself (it
 * would overwrite the snapshot); imported or several memories.
 *
 * Persisted form (the blob; little-endian, the host's):
 *   "WPSNAP01" u32 init_len, init bytes, u64 memory_bytes, u64 took_us,
 *   u32 global_count, per global: u8 carried, 16 value bytes,
 *   u32 run_count, per run: u64 offset, u64 length, bytes.
 * Loading builds the image from the runs in place (the blob stays owned by
 * the snapshot, so the image's source bytes outlive wp_image_create).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wasm-rt.h>

#include "module_internal.h"

static const char k_magic[8] = "WPSNAP01";
#define SNAPSHOT_PAGE 4096u

void wp__snapshot_free(wp__snapshot *snap) {
  if (!snap)
    return;
  free(snap->init);
  free(snap->global_mutable);
  free(snap->globals);
  free(snap->blob);
  free(snap);
}

static size_t global_bytes(uint8_t type) {
  switch (type) {
  case WP__I32:
  case WP__F32: return 4;
  case WP__I64:
  case WP__F64:
  case WP__EXTERNREF: return 8;
  case WP__V128: return 16;
  default: return 0; /* funcref: never carried (refused when mutable) */
  }
}

void wp__snapshot_apply_globals(const wp_module *mod, void *area) {
  const wp__snapshot *snap = mod->snapshot;
  const unsigned long *offsets = mod->glue->global_offsets;
  for (uint32_t i = 0; i < snap->global_count; i++) {
    if (!snap->global_mutable[i])
      continue;
    memcpy((uint8_t *)area + offsets[i], snap->globals[i],
           global_bytes(mod->info.globals[i].type.type));
  }
}

/* ---- The blob ------------------------------------------------------------ */

typedef struct blob_writer {
  uint8_t *bytes;
  size_t length, capacity;
  bool failed;
} blob_writer;

static void put(blob_writer *w, const void *bytes, size_t length) {
  if (w->failed)
    return;
  if (w->length + length > w->capacity) {
    size_t capacity = w->capacity ? w->capacity : 4096;
    while (capacity < w->length + length)
      capacity *= 2;
    uint8_t *grown = realloc(w->bytes, capacity);
    if (!grown) {
      w->failed = true;
      return;
    }
    w->bytes = grown;
    w->capacity = capacity;
  }
  memcpy(w->bytes + w->length, bytes, length);
  w->length += length;
}

static void put_u32(blob_writer *w, uint32_t v) {
  put(w, &v, sizeof(v));
}

static void put_u64(blob_writer *w, uint64_t v) {
  put(w, &v, sizeof(v));
}

typedef struct blob_reader {
  const uint8_t *bytes;
  size_t length, offset;
  bool failed;
} blob_reader;

static const uint8_t *take(blob_reader *r, size_t length) {
  if (r->failed || length > r->length - r->offset) {
    r->failed = true;
    return NULL;
  }
  const uint8_t *at = r->bytes + r->offset;
  r->offset += length;
  return at;
}

static uint32_t take_u32(blob_reader *r) {
  uint32_t v = 0;
  const uint8_t *at = take(r, sizeof(v));
  if (at)
    memcpy(&v, at, sizeof(v));
  return v;
}

static uint64_t take_u64(blob_reader *r) {
  uint64_t v = 0;
  const uint8_t *at = take(r, sizeof(v));
  if (at)
    memcpy(&v, at, sizeof(v));
  return v;
}

/* Parses snap->blob: fills the snapshot and builds the image from the runs,
 * which stay inside the blob. */
static int parse_blob(const wp_module *mod, wp__snapshot *snap, wp_image **image, wp_error *err) {
  blob_reader r = {snap->blob, snap->blob_length, 0, false};
  const uint8_t *magic = take(&r, sizeof(k_magic));
  if (!magic || memcmp(magic, k_magic, sizeof(k_magic)) != 0)
    return wp__error(err, WP_ESNAPSHOT, "snapshot file: not a wasmpool snapshot");
  uint32_t init_len = take_u32(&r);
  const uint8_t *init = take(&r, init_len);
  snap->memory_bytes = take_u64(&r);
  snap->info.took_us = take_u64(&r);
  snap->global_count = take_u32(&r);
  if (r.failed || snap->global_count != mod->info.global_count || snap->memory_bytes % 65536 != 0)
    return wp__error(err, WP_ESNAPSHOT, "snapshot file: does not match the module");
  snap->init = malloc(init_len + 1);
  snap->global_mutable = calloc(snap->global_count + 1, 1);
  snap->globals = calloc(snap->global_count + 1, 16);
  if (!snap->init || !snap->global_mutable || !snap->globals)
    return wp__error(err, WP_ENOMEM, "out of memory");
  memcpy(snap->init, init, init_len);
  snap->init[init_len] = 0;
  for (uint32_t i = 0; i < snap->global_count && !r.failed; i++) {
    const uint8_t *carried = take(&r, 1);
    const uint8_t *value = take(&r, 16);
    if (!carried || !value)
      break;
    snap->global_mutable[i] = *carried;
    memcpy(snap->globals[i], value, 16);
    snap->info.globals += *carried;
  }
  uint32_t run_count = take_u32(&r);
  wp_image_segment *runs = calloc(run_count + 1, sizeof(*runs));
  if (!runs)
    return wp__error(err, WP_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < run_count && !r.failed; i++) {
    runs[i].offset = take_u64(&r);
    runs[i].length = take_u64(&r);
    runs[i].bytes = take(&r, runs[i].length);
    snap->info.bytes += runs[i].length;
  }
  if (r.failed || r.offset != r.length) {
    free(runs);
    return wp__error(err, WP_ESNAPSHOT, "snapshot file: truncated or corrupt");
  }
  int rc = wp_image_create(runs, run_count, snap->memory_bytes, image);
  free(runs);
  if (rc != 0)
    return wp__error(err, WP_ESNAPSHOT, "snapshot image: %s", wp_strerror(rc));
  snap->info.init = snap->init;
  snap->info.memory_bytes = snap->memory_bytes;
  snap->info.pages = snap->info.bytes / SNAPSHOT_PAGE;
  return 0;
}

/* Makes snap (its blob parsed) the module's starting state. */
static void install(wp_module *mod, wp__snapshot *snap, wp_image *image) {
  if (mod->image)
    wp_image_release(mod->image);
  mod->image = image;
  wp__snapshot_free(mod->snapshot);
  mod->snapshot = snap;
  mod->limits.image_bytes = image ? wp_image_bytes(image) : 0;
  mod->limits.initial_memory_bytes = snap->memory_bytes;
  for (uint32_t i = 0; i < mod->info.export_count; i++) {
    wp_export_info *x = &mod->exports[i];
    if (x->kind == WP_EXTERN_FUNC && strlen(snap->init) == x->name_length &&
        memcmp(x->name, snap->init, x->name_length) == 0)
      x->hidden = true;
  }
}

/* ---- Taking a snapshot --------------------------------------------------- */

/* What the module must be for its snapshot to be faithful, before any
 * guest code runs. */
static int check_module(const wp_module *mod, const char *init, wp_error *err) {
  const wp__module_info *info = &mod->info;
  const wp_export_info *x = wp_module_find_export(mod, init, strlen(init));
  if (!x || x->kind != WP_EXTERN_FUNC || !mod->glue->exports[x - mod->exports].call)
    return wp__error(err, WP_ESNAPSHOT, "snapshot: no function export named \"%s\"", init);
  if (x->param_count != 0 || x->result_count != 0)
    return wp__error(err, WP_ESNAPSHOT, "snapshot: init export \"%s\" must take and return nothing",
                     init);
  if (info->has_start)
    return wp__error(err, WP_ESNAPSHOT,
                     "snapshot: the module has a start function, which would run again on top "
                     "of the snapshot in every instance");
  if (info->imported_memories > 0 || info->memory_count > 1)
    return wp__error(err, WP_ESNAPSHOT,
                     "snapshot: only one memory, defined by the module, can be snapshotted");
  if (info->memory_count == 1 && info->memories[0].shared)
    return wp__error(err, WP_ESNAPSHOT,
                     "snapshot: a shared memory cannot be snapshotted (it outlives an instance)");
  if (info->data_segment_count > 0 && info->memory_count > 0 && !mod->image)
    return wp__error(err, WP_ESNAPSHOT,
                     "snapshot: the module's data segments are copied by its code at "
                     "instantiation and would overwrite the snapshot");
  if (info->global_count > 0 && mod->glue->global_count != info->global_count)
    return wp__error(err, WP_ESNAPSHOT,
                     "snapshot: the compiled code does not expose its globals' layout");
  for (uint32_t i = 0; i < info->global_count; i++) {
    if (info->globals[i].type.mutable_ && global_bytes(info->globals[i].type.type) == 0)
      return wp__error(err, WP_ESNAPSHOT,
                       "snapshot: mutable funcref global %u cannot be carried (it points "
                       "into the init instance)",
                       i + info->imported_globals);
  }
  return 0;
}

/* The tables' contents before init, to find a change after it. */
typedef struct table_copy {
  uint32_t size;
  void *elements;
} table_copy;

static int copy_tables(const wp_instance *inst, table_copy *copies) {
  for (uint32_t i = 0; i < inst->slots.table_count; i++) {
    const wp__table_binding *b = &inst->slots.tables[i];
    uint32_t size = b->externref ? ((wasm_rt_externref_table_t *)b->table)->size
                                 : ((wasm_rt_funcref_table_t *)b->table)->size;
    size_t bytes =
        (size_t)size * (b->externref ? sizeof(wasm_rt_externref_t) : sizeof(wasm_rt_funcref_t));
    copies[i].size = size;
    copies[i].elements = malloc(bytes + 1);
    if (!copies[i].elements)
      return WP_ENOMEM;
    memcpy(copies[i].elements, b->slot.elements, bytes);
  }
  return 0;
}

static int changed_table(const wp_instance *inst, const table_copy *copies) {
  for (uint32_t i = 0; i < inst->slots.table_count; i++) {
    const wp__table_binding *b = &inst->slots.tables[i];
    uint32_t size = b->externref ? ((wasm_rt_externref_table_t *)b->table)->size
                                 : ((wasm_rt_funcref_table_t *)b->table)->size;
    size_t bytes =
        (size_t)size * (b->externref ? sizeof(wasm_rt_externref_t) : sizeof(wasm_rt_funcref_t));
    if (size != copies[i].size || memcmp(copies[i].elements, b->slot.elements, bytes) != 0)
      return (int)i;
  }
  return -1;
}

static bool page_is_zero(const uint8_t *page) {
  static const uint8_t zeroes[SNAPSHOT_PAGE];
  return memcmp(page, zeroes, SNAPSHOT_PAGE) == 0;
}

/* Writes the blob from the instance's state after init. */
static int write_blob(const wp_module *mod, const wp_instance *inst, const char *init,
                      uint64_t took_us, wp__snapshot *snap) {
  const wp__module_info *info = &mod->info;
  blob_writer w = {0};
  put(&w, k_magic, sizeof(k_magic));
  put_u32(&w, (uint32_t)strlen(init));
  put(&w, init, strlen(init));
  const uint8_t *base = NULL;
  uint64_t memory_bytes = 0;
  if (inst->slots.memory_count > 0) {
    const wasm_rt_memory_t *mem = inst->slots.memories[0].memory;
    base = mem->data;
    memory_bytes = mem->size;
  }
  put_u64(&w, memory_bytes);
  put_u64(&w, took_us);
  put_u32(&w, info->global_count);
  for (uint32_t i = 0; i < info->global_count; i++) {
    uint8_t carried = info->globals[i].type.mutable_;
    uint8_t value[16] = {0};
    if (carried)
      memcpy(value, (const uint8_t *)inst->area + mod->glue->global_offsets[i],
             global_bytes(info->globals[i].type.type));
    put(&w, &carried, 1);
    put(&w, value, 16);
  }
  /* Runs of non-zero pages: the count is patched in once known. */
  size_t count_at = w.length;
  uint32_t run_count = 0;
  put_u32(&w, 0);
  for (uint64_t at = 0; at < memory_bytes;) {
    if (page_is_zero(base + at)) {
      at += SNAPSHOT_PAGE;
      continue;
    }
    uint64_t end = at + SNAPSHOT_PAGE;
    while (end < memory_bytes && !page_is_zero(base + end))
      end += SNAPSHOT_PAGE;
    put_u64(&w, at);
    put_u64(&w, end - at);
    put(&w, base + at, end - at);
    run_count++;
    at = end;
  }
  if (w.failed) {
    free(w.bytes);
    return WP_ENOMEM;
  }
  memcpy(w.bytes + count_at, &run_count, sizeof(run_count));
  snap->blob = w.bytes;
  snap->blob_length = w.length;
  return 0;
}

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Runs init in inst and checks what it left; fills snap->blob. */
static int run_init(wp_module *mod, wp_instance *inst, const char *init, uint64_t deadline_ms,
                    uint64_t started_us, wp__snapshot *snap, wp_error *err) {
  table_copy *copies = calloc(inst->slots.table_count + 1, sizeof(*copies));
  if (!copies)
    return wp__error(err, WP_ENOMEM, "out of memory");
  int rc = copy_tables(inst, copies);
  if (rc != 0) {
    rc = wp__error(err, rc, "out of memory");
    goto done;
  }
  wp_call_options call = {.deadline_ms = deadline_ms};
  wp_error call_err = {0};
  rc = wp_instance_call(inst, init, strlen(init), NULL, 0, NULL, 0, &call, &call_err);
  if (rc != 0) {
    rc = wp__error(err, WP_ESNAPSHOT, "snapshot: init export \"%s\" failed (%s): %s", init,
                   wp_err_name(rc), call_err.message);
    goto done;
  }
  int table = changed_table(inst, copies);
  if (table >= 0) {
    rc = wp__error(err, WP_ESNAPSHOT,
                   "snapshot: init export \"%s\" changed table %u (its entries would point "
                   "into the init instance)",
                   init, (unsigned)table + mod->info.imported_tables);
    goto done;
  }
  for (int fd = 0; fd < 3; fd++) {
    if (inst->wasi.stdio_closed[fd]) {
      rc = wp__error(err, WP_ESNAPSHOT,
                     "snapshot: init export \"%s\" closed WASI fd %d, which every instance "
                     "starts with open",
                     init, fd);
      goto done;
    }
  }
  /* A non-null externref is a host pointer of the init instance's time. */
  for (uint32_t i = 0; i < mod->info.global_count; i++) {
    const wp__globaltype *gt = &mod->info.globals[i].type;
    void *ref = NULL;
    if (gt->mutable_ && gt->type == WP__EXTERNREF)
      memcpy(&ref, (const uint8_t *)inst->area + mod->glue->global_offsets[i], sizeof(ref));
    if (ref) {
      rc = wp__error(err, WP_ESNAPSHOT,
                     "snapshot: init export \"%s\" left a host reference in global %u", init,
                     i + mod->info.imported_globals);
      goto done;
    }
  }
  rc = write_blob(mod, inst, init, now_us() - started_us, snap);
  if (rc != 0)
    rc = wp__error(err, rc, "out of memory");
done:
  for (uint32_t i = 0; i < inst->slots.table_count; i++)
    free(copies[i].elements);
  free(copies);
  return rc;
}

int wp_module_snapshot(wp_module *mod, const char *init, uint64_t deadline_ms, wp_error *err) {
  uint64_t started_us = now_us();
  int rc = check_module(mod, init, err);
  if (rc != 0)
    return rc;
  wp__snapshot *snap = calloc(1, sizeof(*snap));
  if (!snap)
    return wp__error(err, WP_ENOMEM, "out of memory");
  wp_instance *inst = NULL;
  wp_instance_options opts = {.deadline_ms = deadline_ms};
  wp_error inst_err = {0};
  rc = wp_instance_create(mod->rt, mod, &opts, &inst, &inst_err);
  if (rc != 0) {
    wp__snapshot_free(snap);
    if (rc == WP_EPOOL_EXHAUSTED || rc == WP_ENOMEM)
      return wp__error(err, rc, "snapshot: %s", inst_err.message);
    return wp__error(err, WP_ESNAPSHOT, "snapshot: instantiation failed (%s): %s", wp_err_name(rc),
                     inst_err.message);
  }
  rc = run_init(mod, inst, init, deadline_ms, started_us, snap, err);
  wp_instance_destroy(inst);
  if (rc != 0) {
    wp__snapshot_free(snap);
    return rc;
  }
  wp_image *image = NULL;
  rc = parse_blob(mod, snap, &image, err);
  if (rc != 0) {
    wp__snapshot_free(snap);
    return rc;
  }
  install(mod, snap, image);
  return 0;
}

int wp_module_snapshot_load(wp_module *mod, const uint8_t *bytes, size_t length, wp_error *err) {
  if (mod->info.has_start || mod->info.memory_count > 1 || mod->info.imported_memories > 0 ||
      (mod->info.global_count > 0 && mod->glue->global_count != mod->info.global_count))
    return wp__error(err, WP_ESNAPSHOT, "snapshot file: the module cannot hold a snapshot");
  wp__snapshot *snap = calloc(1, sizeof(*snap));
  if (!snap)
    return wp__error(err, WP_ENOMEM, "out of memory");
  snap->blob = malloc(length + 1);
  if (!snap->blob) {
    free(snap);
    return wp__error(err, WP_ENOMEM, "out of memory");
  }
  memcpy(snap->blob, bytes, length);
  snap->blob_length = length;
  wp_image *image = NULL;
  int rc = parse_blob(mod, snap, &image, err);
  if (rc == 0 && !wp_module_find_export(mod, snap->init, strlen(snap->init)))
    rc = wp__error(err, WP_ESNAPSHOT, "snapshot file: the module has no export \"%s\"", snap->init);
  if (rc == 0 && mod->info.memory_count == 0 && snap->memory_bytes != 0)
    rc = wp__error(err, WP_ESNAPSHOT, "snapshot file: does not match the module");
  if (rc != 0) {
    if (image)
      wp_image_release(image);
    wp__snapshot_free(snap);
    return rc;
  }
  install(mod, snap, image);
  return 0;
}

bool wp_module_snapshot_info(const wp_module *mod, wp_snapshot_info *out) {
  if (!mod->snapshot)
    return false;
  *out = mod->snapshot->info;
  return true;
}

const uint8_t *wp_module_snapshot_bytes(const wp_module *mod, size_t *length) {
  if (!mod->snapshot)
    return NULL;
  *length = mod->snapshot->blob_length;
  return mod->snapshot->blob;
}
