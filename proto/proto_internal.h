/* proto_internal.h — helpers shared by the files of proto/, not public.
 *
 * HTTP names are ASCII and compared case-insensitively; strcasecmp would
 * follow the C locale, which a host program may have changed, so proto/
 * uses its own ASCII-only comparison.
 */
#ifndef WP_PROTO_INTERNAL_H
#define WP_PROTO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "proto.h"

static inline char wp__ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* a[0..alen) equals the NUL-terminated b, ignoring ASCII case. */
bool wp__ascii_ieq(const char *a, size_t alen, const char *b);

/* The header value holds token (comma-separated list, case-insensitive):
 * "Connection: keep-alive, Upgrade" has "upgrade". */
bool wp__header_has_token(const char *value, size_t len, const char *token);

/* Shared header-list lookup behind wp_header_find and the two wrappers. */
const wp_header *wp__header_find(const wp_header *headers, size_t count, const char *name);

#endif /* WP_PROTO_INTERNAL_H */
