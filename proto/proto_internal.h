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
#include <stdint.h>

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

/* Strict chunked transfer decoding (chunked.c), RFC 9112 section 7.1:
 * http-parser as Debian builds it (HTTP_PARSER_STRICT=0) does not check the
 * CRLF after chunk data, which is how a request hidden in a body gets run.
 * Every line ends in CRLF; a size is 1..16 hex digits; extensions are
 * printable; trailers are "token: value" lines, counted, then dropped. */
typedef struct wp__chunked {
  int state;
  uint64_t size;    /* of the chunk being read; its bytes still due in DATA */
  unsigned digits;  /* of the size line */
  size_t ext_bytes; /* of the current size line's extensions */
  bool colon_seen;  /* in the current trailer line */
  size_t max_body_bytes;
  size_t trailer_budget; /* header bytes the trailers may still use */
  int error;             /* WP_E*, 0 while the body is good */
  const char *message;   /* static text of the error */
  bool done;             /* the final CRLF was read */
} wp__chunked;

void wp__chunked_init(wp__chunked *c, size_t max_body_bytes, size_t trailer_budget);
/* Decodes the bytes of data that belong to the body, appending the chunk
 * data to body. Returns how many bytes it consumed: all of them unless the
 * body ended (c->done) or an error was found (c->error), where it stops. */
size_t wp__chunked_decode(wp__chunked *c, const char *data, size_t len, wp_buf *body);

#endif /* WP_PROTO_INTERNAL_H */
