/* chunked.c — a strict decoder of the chunked transfer coding.
 *
 * http-parser as Debian builds it skips the CRLF after chunk data without
 * looking at it and takes a bare LF for one, so "e\r\n{...}XY0\r\n\r\n" is
 * a valid body to it and a proxy that reads the same bytes differently can
 * smuggle a request past us. The request parser therefore tells
 * http-parser that a chunked message has no body and hands the bytes after
 * the head to this decoder, which accepts only RFC 9112's grammar:
 *
 *   chunk      = 1*16HEXDIG [ BWS ";" ext ] CRLF data CRLF
 *   last-chunk = 1*16"0"   [ BWS ";" ext ] CRLF
 *   trailers   = *( token ":" value CRLF ) CRLF
 *
 * It works one byte at a time except for chunk data, keeps no pointer into
 * the input, and stops at the first byte that breaks the grammar, so an
 * error is known as soon as its byte arrives (never by a timeout).
 */
#include <string.h>

#include "proto_internal.h"

enum {
  SIZE,     /* hex digits of a size line */
  SIZE_BWS, /* whitespace after the digits: only ';' may follow */
  EXT,      /* chunk extensions up to CR */
  SIZE_LF,  /* the LF of the size line */
  DATA,     /* c->size bytes of data */
  DATA_CR,  /* the CRLF after the data */
  DATA_LF,
  TRAILER_START, /* start of a trailer line or the final CRLF */
  TRAILER,       /* inside a trailer line */
  TRAILER_LF,
  END_LF, /* the LF of the final CRLF */
};

/* Longest chunk extension text of one size line: nobody needs more, and a
 * size line must not be a way around the header limit. */
#define MAX_EXT_BYTES 1024

void wp__chunked_init(wp__chunked *c, size_t max_body_bytes, size_t trailer_budget) {
  memset(c, 0, sizeof(*c));
  c->state = SIZE;
  c->max_body_bytes = max_body_bytes;
  c->trailer_budget = trailer_budget;
}

static size_t fail(wp__chunked *c, size_t at, int code, const char *message) {
  c->error = code;
  c->message = message;
  return at;
}

static int hex_value(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

static bool is_tchar(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Visible text, space, tab and obs-text: what an extension or a field value
 * may hold. */
static bool is_text(unsigned char ch) {
  return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

size_t wp__chunked_decode(wp__chunked *c, const char *data, size_t len, wp_buf *body) {
  size_t i = 0;
  while (i < len && !c->done && c->error == 0) {
    if (c->state == DATA) {
      size_t take = len - i;
      if (take > c->size)
        take = (size_t)c->size;
      if (wp_buf_append(body, data + i, take) != 0)
        return fail(c, i, WP_ENOMEM, "out of memory");
      i += take;
      c->size -= take;
      if (c->size == 0)
        c->state = DATA_CR;
      continue;
    }
    unsigned char ch = (unsigned char)data[i];
    if (c->state >= TRAILER_START && c->state <= TRAILER_LF) {
      if (c->trailer_budget == 0)
        return fail(c, i, WP_EHEADERS_TOO_LARGE, "request headers exceed the header size limit");
      c->trailer_budget--;
    }
    switch (c->state) {
    case SIZE: {
      int v = hex_value((char)ch);
      if (v >= 0) {
        if (++c->digits > 16)
          return fail(c, i, WP_EBAD_REQUEST, "invalid chunk size: more than 16 hex digits");
        c->size = c->size * 16 + (uint64_t)v;
      } else if (c->digits > 0 && (ch == ' ' || ch == '\t')) {
        c->state = SIZE_BWS;
      } else if (c->digits > 0 && ch == ';') {
        c->state = EXT;
      } else if (c->digits > 0 && ch == '\r') {
        c->state = SIZE_LF;
      } else {
        return fail(c, i, WP_EBAD_REQUEST, "invalid chunk size");
      }
      break;
    }
    case SIZE_BWS:
      if (ch == ';')
        c->state = EXT;
      else if (ch != ' ' && ch != '\t')
        return fail(c, i, WP_EBAD_REQUEST, "invalid chunk size");
      break;
    case EXT:
      if (ch == '\r')
        c->state = SIZE_LF;
      else if (!is_text(ch))
        return fail(c, i, WP_EBAD_REQUEST, "invalid character in a chunk extension");
      else if (++c->ext_bytes > MAX_EXT_BYTES)
        return fail(c, i, WP_EBAD_REQUEST, "chunk extension too long");
      break;
    case SIZE_LF:
      if (ch != '\n')
        return fail(c, i, WP_EBAD_REQUEST, "chunk size line not ended by CRLF");
      if (c->size == 0) {
        c->state = TRAILER_START;
      } else if (c->size > c->max_body_bytes - body->len) {
        return fail(c, i, WP_EPAYLOAD_TOO_LARGE, "request body exceeds the body size limit");
      } else {
        c->state = DATA;
      }
      c->digits = 0;
      c->ext_bytes = 0;
      break;
    case DATA_CR:
      if (ch != '\r')
        return fail(c, i, WP_EBAD_REQUEST, "chunk data not followed by CRLF");
      c->state = DATA_LF;
      break;
    case DATA_LF:
      if (ch != '\n')
        return fail(c, i, WP_EBAD_REQUEST, "chunk data not followed by CRLF");
      c->state = SIZE;
      break;
    case TRAILER_START:
      if (ch == '\r') {
        c->state = END_LF;
        break;
      }
      if (!is_tchar(ch))
        return fail(c, i, WP_EBAD_REQUEST, "invalid trailer field");
      c->colon_seen = false;
      c->state = TRAILER;
      break;
    case TRAILER:
      if (!c->colon_seen && ch == ':')
        c->colon_seen = true;
      else if (!c->colon_seen && !is_tchar(ch))
        return fail(c, i, WP_EBAD_REQUEST, "invalid trailer field");
      else if (c->colon_seen && ch == '\r')
        c->state = TRAILER_LF;
      else if (c->colon_seen && !is_text(ch))
        return fail(c, i, WP_EBAD_REQUEST, "invalid trailer field");
      break;
    case TRAILER_LF:
      if (ch != '\n')
        return fail(c, i, WP_EBAD_REQUEST, "trailer line not ended by CRLF");
      c->state = TRAILER_START;
      break;
    case END_LF:
      if (ch != '\n')
        return fail(c, i, WP_EBAD_REQUEST, "chunked body not ended by CRLF");
      c->done = true;
      break;
    }
    i++;
  }
  return i;
}
