/* test_buf.c — the growable buffer (proto/buf.c) and the header lookup. */
#include <criterion/criterion.h>
#include <string.h>

#include "proto.h"

Test(buf, append_grow_consume) {
  wp_buf b;
  wp_buf_init(&b);
  cr_assert_null(b.data);
  for (int i = 0; i < 1000; i++)
    cr_assert_eq(wp_buf_appendf(&b, "%03d,", i), 0);
  cr_assert_eq(b.len, 4000);
  cr_assert_eq(b.data[b.len], '\0');
  cr_assert_eq(strncmp(b.data + 3996, "999,", 4), 0);
  wp_buf_consume(&b, 3996);
  cr_assert_str_eq(b.data, "999,");
  wp_buf_consume(&b, 100);
  cr_assert_eq(b.len, 0);
  cr_assert_str_eq(b.data, "");
  /* A formatted string longer than the on-stack attempt. */
  char big[1000];
  memset(big, 'q', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  cr_assert_eq(wp_buf_appendf(&b, "<%s>", big), 0);
  cr_assert_eq(b.len, 1001);
  cr_assert_eq(b.data[1000], '>');
  cr_assert_eq(b.data[1001], '\0');
  wp_buf_append(&b, "\0x", 2);
  cr_assert_eq(b.len, 1003);
  wp_buf_reset(&b);
  cr_assert_eq(b.len, 0);
  cr_assert_neq(b.cap, 0);
  wp_buf_free(&b);
  cr_assert_null(b.data);
  cr_assert_eq(wp_buf_reserve(&b, SIZE_MAX), WP_ENOMEM);
}

Test(buf, header_find_is_case_insensitive) {
  wp_header h[] = {{"Content-Type", 12, "a", 1}, {"X-Y", 3, "b", 1}, {"x-y", 3, "c", 1}};
  cr_assert_eq(wp_header_find(h, 3, "content-type"), &h[0]);
  cr_assert_eq(wp_header_find(h, 3, "X-y"), &h[1]);
  cr_assert_null(wp_header_find(h, 3, "X-"));
  cr_assert_null(wp_header_find(h, 3, "X-Yz"));
  cr_assert_null(wp_header_find(h, 0, "X-Y"));
}
