/* test_cache.c — the artifact cache: sha256 against the FIPS vectors, a
 * second load of the same bytes is a hit (also from a new runtime), other
 * bytes or other flags are a miss. */
#include "data/runtime/helpers.h"
#include "runtime_internal.h"

TestSuite(cache, .fini = wpt_cleanup);

Test(cache, sha256_vectors) {
  char hex[65];
  wp__sha256_hex("", 0, hex);
  cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  wp__sha256_hex("abc", 3, hex);
  cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  wp__sha256_hex(two_blocks, strlen(two_blocks), hex);
  cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  /* Incremental updates across block boundaries give the same digest. */
  char *million = malloc(1000000);
  memset(million, 'a', 1000000);
  wp__sha256 ctx;
  wp__sha256_init(&ctx);
  for (size_t off = 0; off < 1000000; off += 777)
    wp__sha256_update(&ctx, million + off, off + 777 > 1000000 ? 1000000 - off : 777);
  uint8_t digest[32];
  wp__sha256_final(&ctx, digest);
  cr_assert_eq(digest[0], 0xcd);
  cr_assert_eq(digest[1], 0xc7);
  cr_assert_eq(digest[31], 0xd0);
  free(million);
}

static const char k_mod[] = "(module (func (export \"f\") (result i32) i32.const 77))";

Test(cache, second_load_hits) {
  wp_runtime *rt = wpt_runtime();
  wp_module *a = wpt_load(rt, k_mod);
  cr_assert_not(wp_module_cache_hit(a));
  wp_module *b = wpt_load(rt, k_mod);
  cr_assert(wp_module_cache_hit(b));
  cr_assert_str_eq(wp_module_hash(a), wp_module_hash(b));
  cr_assert_eq(strlen(wp_module_hash(a)), 64);
  /* Both work, side by side. */
  wp_instance *ia = wpt_instantiate(rt, a), *ib = wpt_instantiate(rt, b);
  uint32_t r = 0;
  wp_error err = {0};
  cr_assert_eq(wpt_call_i32(ib, "f", NULL, 0, &r, &err), 0);
  cr_assert_eq(r, 77);
  wp_instance_destroy(ia);
  wp_instance_destroy(ib);
  /* A different module misses. */
  wp_module *c = wpt_load(rt, "(module (func (export \"f\") (result i32) i32.const 78))");
  cr_assert_not(wp_module_cache_hit(c));
  wp_module_release(a);
  wp_module_release(b);
  wp_module_release(c);
  wp_runtime_destroy(rt);

  /* A new runtime (as after a restart) on the same directory hits. */
  rt = wpt_runtime();
  a = wpt_load(rt, k_mod);
  cr_assert(wp_module_cache_hit(a));
  wp_module_release(a);
  wp_runtime_destroy(rt);
}

Test(cache, flags_are_part_of_the_key) {
  const wp_module_options tier1 = {.tier = WP_TIER_OPTIMIZED};
  wp_runtime *rt = wpt_runtime();
  wp_module *a = wpt_load_opts(rt, k_mod, &tier1);
  wp_module_release(a);
  wp_runtime_destroy(rt);
  wp_runtime_config cfg;
  wpt_config(&cfg);
  cfg.opt_level = "-O2";
  rt = wpt_runtime_with(&cfg);
  a = wpt_load_opts(rt, k_mod, &tier1);
  cr_assert_not(wp_module_cache_hit(a));
  cr_assert_eq(wp_module_tier(a), WP_TIER_OPTIMIZED);
  wp_module_release(a);
  /* The tier is part of the key too: the same bytes at tier 0 build anew. */
  a = wpt_load(rt, k_mod);
  cr_assert_not(wp_module_cache_hit(a));
  cr_assert_eq(wp_module_tier(a), WP_TIER_BASELINE);
  wp_module_release(a);
  wp_runtime_destroy(rt);
}
