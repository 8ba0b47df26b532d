/* test_image.c — memfd images: layout, overlap order, limits, sealing. */
#include <fcntl.h>
#include <sys/mman.h>

#include "alloc_test_util.h"

/* The memfd is private to image.c; read it back through a slot. */
Test(image, layout_and_overlap) {
  test_image ti;
  test_image_make(&ti, 0x11, 20000);
  cr_assert_eq(ti.bytes, 20480, "rounded up to a page");
  cr_assert_eq(ti.expected[4096], (uint8_t)(0x11 + 1) | 1, "later segment wins");
  wp_pool_config cfg;
  test_config(&cfg, 1);
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {
      .image = ti.image, .initial_bytes = 64 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot mem;
  cr_assert_eq(wp_memory_acquire(pool, &req, &mem), 0);
  expect_contents(mem.base, mem.accessible_bytes, &ti, "image");
  wp_memory_release(pool, &mem);
  wp_pool_destroy(pool);
  test_image_free(&ti);
}

Test(image, ids_are_unique) {
  wp_image *a, *b;
  cr_assert_eq(wp_image_create(NULL, 0, 0, &a), 0);
  cr_assert_eq(wp_image_create(NULL, 0, 0, &b), 0);
  cr_assert_eq(wp_image_bytes(a), 0);
  cr_assert_neq(wp_image_id(a), wp_image_id(b));
  cr_assert_neq(wp_image_id(a), 0);
  wp_image_release(a);
  wp_image_release(b);
}

Test(image, segment_past_max_is_refused) {
  uint8_t bytes[10] = {1};
  wp_image_segment seg = {.offset = 65536 - 5, .bytes = bytes, .length = 10};
  wp_image *img = NULL;
  cr_assert_eq(wp_image_create(&seg, 1, 65536, &img), WP_EINVAL);
  cr_assert_null(img);
  seg.offset = UINT64_MAX - 3; /* offset + length overflows */
  cr_assert_eq(wp_image_create(&seg, 1, UINT64_MAX, &img), WP_EINVAL);
  seg.offset = 65536 - 10;
  cr_assert_eq(wp_image_create(&seg, 1, 65536, &img), 0);
  cr_assert_eq(wp_image_bytes(img), 65536);
  wp_image_release(img);
}

Test(image, retain_keeps_it_alive_and_sealed) {
  uint8_t bytes[100];
  memset(bytes, 9, sizeof(bytes));
  wp_image_segment seg = {.offset = 0, .bytes = bytes, .length = sizeof(bytes)};
  wp_image *img;
  cr_assert_eq(wp_image_create(&seg, 1, 1 << 20, &img), 0);
  wp_image_retain(img);
  wp_image_release(img);
  /* Still usable: a pool maps it. */
  wp_pool_config cfg;
  test_config(&cfg, 1);
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {.image = img, .initial_bytes = 64 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot mem;
  cr_assert_eq(wp_memory_acquire(pool, &req, &mem), 0);
  cr_assert_eq(mem.base[99], 9);
  cr_assert_eq(mem.base[100], 0);
  /* The slot holds its own reference: dropping ours keeps the mapping. */
  wp_image_release(img);
  mem.base[0] = 1;
  wp_memory_release(pool, &mem);
  cr_assert_eq(wp_memory_acquire(pool, &req, &mem), 0);
  cr_assert_eq(mem.base[0], 9, "reset from the image after the caller let it go");
  wp_memory_release(pool, &mem);
  wp_pool_destroy(pool);
}

Test(image, initial_smaller_than_image_is_refused) {
  test_image ti;
  test_image_make(&ti, 0x11, 200000);
  wp_pool_config cfg;
  test_config(&cfg, 1);
  wp_pool *pool = test_pool(&cfg);
  wp_memory_request req = {
      .image = ti.image, .initial_bytes = 64 * KIB, .maximum_bytes = UINT64_MAX};
  wp_memory_slot mem;
  cr_assert_eq(wp_memory_acquire(pool, &req, &mem), WP_EINVAL);
  wp_pool_destroy(pool);
  test_image_free(&ti);
}
