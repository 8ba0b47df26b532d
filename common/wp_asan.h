/* wp_asan.h — WP_ASAN is defined when AddressSanitizer instruments this
 * file (GCC says so with __SANITIZE_ADDRESS__, clang with __has_feature):
 * code that switches stacks or maps its own memory tells ASan about it. */
#ifndef WP_ASAN_H
#define WP_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define WP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WP_ASAN 1
#endif
#endif

#endif /* WP_ASAN_H */
