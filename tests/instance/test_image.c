/* test_image.c — active data segments become a copy-on-write image that the
 * generated code never copies again: a 4 MiB segment leaves the fresh
 * instance's memory with under 64 KiB of private dirty pages (and of
 * anonymous, i.e. copied, pages even after every byte was read), the bytes
 * are all there, and guest writes (only) make private copies. */
#include "data/runtime/helpers.h"

#define SEGMENT_BYTES ((size_t)4 << 20)

/* Sum of one smaps field ("Private_Dirty", "Anonymous") over every mapping
 * that overlaps [lo, hi). Anonymous is the measure of copies: a page the
 * generated code (or the guest) wrote through the MAP_PRIVATE image becomes
 * an anonymous page. Private_Dirty alone would also count the image's own
 * memfd pages once read, since shmem page-cache pages are always dirty. */
static uint64_t smaps_field(uintptr_t lo, uintptr_t hi, const char *field) {
  FILE *f = fopen("/proc/self/smaps", "r");
  cr_assert_not_null(f);
  char line[512];
  bool in_range = false;
  uint64_t total_kb = 0;
  int mappings = 0;
  while (fgets(line, sizeof(line), f)) {
    unsigned long start, end;
    char perms[8];
    /* Mapping headers: "start-end perms offset dev inode path". */
    if (sscanf(line, "%lx-%lx %7s ", &start, &end, perms) == 3 && strlen(perms) == 4) {
      in_range = start < hi && end > lo;
      mappings += in_range;
      continue;
    }
    unsigned long kb;
    size_t field_len = strlen(field);
    if (in_range && strncmp(line, field, field_len) == 0 && line[field_len] == ':' &&
        sscanf(line + field_len + 1, "%lu kB", &kb) == 1)
      total_kb += kb;
  }
  fclose(f);
  cr_assert(mappings > 0, "no mapping of [%lx, %lx) in smaps", (unsigned long)lo,
            (unsigned long)hi);
  return total_kb * 1024;
}

static char *big_data_wat(void) {
  size_t cap = SEGMENT_BYTES + 1024;
  char *wat = malloc(cap);
  size_t n = (size_t)snprintf(wat, cap,
                              "(module (memory (export \"memory\") 80)\n"
                              "  (func (export \"load8\") (param i32) (result i32)\n"
                              "    local.get 0 i32.load8_u)\n"
                              "  (func (export \"touch\") (param i32) (local i32)\n"
                              "    (loop (i32.store8 (i32.mul (local.get 1) (i32.const 4096))\n"
                              "                      (i32.const 33))\n"
                              "      (local.set 1 (i32.add (local.get 1) (i32.const 1)))\n"
                              "      (br_if 0 (i32.lt_u (local.get 1) (local.get 0)))))\n"
                              "  (data (i32.const 0) \"");
  for (size_t i = 0; i < SEGMENT_BYTES; i++)
    wat[n++] = (char)('a' + (i * 7 + i / 4096) % 26);
  snprintf(wat + n, cap - n, "\"))");
  return wat;
}

static uint8_t expected_byte(size_t i) {
  return (uint8_t)('a' + (i * 7 + i / 4096) % 26);
}

TestSuite(image, .fini = wpt_cleanup);

Test(image, four_mib_segment_is_not_copied) {
  wp_runtime *rt = wpt_runtime();
  char *wat = big_data_wat();
  wp_module *mod = wpt_load(rt, wat);
  free(wat);
  wp_module_limits limits;
  wp_module_get_limits(mod, &limits);
  cr_assert_geq(limits.image_bytes, SEGMENT_BYTES);

  for (int round = 0; round < 2; round++) {
    wp_instance *inst = wpt_instantiate(rt, mod);
    uint64_t size;
    uint8_t *mem = wp_instance_memory(inst, &size);
    cr_assert_eq(size, 80 * 65536);
    uintptr_t lo = (uintptr_t)mem, hi = lo + SEGMENT_BYTES;
    /* A reused slot (round 1) holds alloc's keep_resident_bytes restored by
     * memcpy on release (64 KiB by default): that is alloc's choice to keep
     * hot pages resident, not a copy by the generated code. */
    uint64_t allowed =
        round == 0 ? 64 * 1024 - 1 : wp_pool_get_config(wp_runtime_pool(rt))->keep_resident_bytes;
    uint64_t dirty = smaps_field(lo, hi, "Private_Dirty");
    cr_assert_leq(dirty, allowed, "round %d: %llu private dirty bytes before any write", round,
                  (unsigned long long)dirty);
    uint64_t anon = smaps_field(lo, hi, "Anonymous");
    cr_assert_leq(anon, allowed, "round %d: %llu anonymous bytes before any write", round,
                  (unsigned long long)anon);

    /* Every byte is there (reading through the guest and the host). */
    wp_error err = {0};
    for (size_t off = 0; off < SEGMENT_BYTES; off += 65521) {
      uint32_t r = 0;
      wp_val a = wpt_i32((uint32_t)off);
      cr_assert_eq(wpt_call_i32(inst, "load8", &a, 1, &r, &err), 0);
      cr_assert_eq(r, expected_byte(off), "byte %zu", off);
    }
    cr_assert_eq(mem[SEGMENT_BYTES - 1], expected_byte(SEGMENT_BYTES - 1));
    cr_assert_eq(mem[SEGMENT_BYTES], 0);
    uint64_t anon_after_reads = smaps_field(lo, hi, "Anonymous");
    cr_assert_leq(anon_after_reads, allowed, "round %d: %llu anonymous bytes after reads", round,
                  (unsigned long long)anon_after_reads);

    /* Writes dirty exactly the pages written: the measure can see them. */
    wp_val a = wpt_i32(64);
    cr_assert_eq(wp_instance_call(inst, "touch", 5, &a, 1, NULL, 0, NULL, &err), 0, "%s",
                 err.message);
    cr_assert_geq(smaps_field(lo, hi, "Anonymous"), 64 * 4096);
    cr_assert_eq(mem[4096], 33);
    wp_instance_destroy(inst);
  }
  /* A new instance after the writes sees the pristine image again. */
  wp_instance *inst = wpt_instantiate(rt, mod);
  uint64_t size;
  uint8_t *mem = wp_instance_memory(inst, &size);
  cr_assert_eq(mem[4096], expected_byte(4096));
  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}

/* A segment placed by an imported global cannot be an image: the generated
 * code copies it at instantiation, and the result is the same. */
Test(image, non_imageable_segments_still_load) {
  wp_runtime *rt = wpt_runtime();
  wp_module_options opts = {.allow_spectest = true};
  wp_module *mod = wpt_load_opts(rt,
                                 "(module (import \"spectest\" \"global_i32\" (global $g i32))\n"
                                 "  (memory (export \"memory\") 1)\n"
                                 "  (data (global.get $g) \"xyz\")\n"
                                 "  (data (i32.const 8) \"ab\"))",
                                 &opts);
  wp_module_limits limits;
  wp_module_get_limits(mod, &limits);
  cr_assert_eq(limits.image_bytes, 0);
  wp_instance *inst = wpt_instantiate(rt, mod);
  uint64_t size;
  uint8_t *mem = wp_instance_memory(inst, &size);
  cr_assert(memcmp(mem + 666, "xyz", 3) == 0);
  cr_assert(memcmp(mem + 8, "ab", 2) == 0);
  wp_instance_destroy(inst);
  wp_module_release(mod);
  wp_runtime_destroy(rt);
}
