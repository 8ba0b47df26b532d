/* wasi_fd.c — WASI preview1 calls on file descriptors.
 *
 * A guest has exactly three descriptors: 0 reads the stdin buffer given at
 * instantiation, 1 and 2 append to bounded captures. There are no preopens,
 * so wasi-libc's startup scan (fd_prestat_get from 3 up) stops at once.
 *
 * Scatter/gather calls check the iovec array, every buffer it names and the
 * out pointer before moving a byte, so a bad pointer leaves no partial effect.
 */
#include "wasi.h"

#include <stdlib.h>
#include <string.h>

#define WASI_RIGHTS_FD_READ           ((uint64_t)1 << 1)
#define WASI_RIGHTS_FD_WRITE          ((uint64_t)1 << 6)
#define WASI_RIGHTS_POLL_FD_READWRITE ((uint64_t)1 << 27)
/* Captured streams are not terminals: reporting "unknown" (not a character
 * device) makes wasi-libc buffer stdout fully, so a guest's output reaches
 * us in a few large fd_write calls instead of one per line. */
#define WASI_FILETYPE_UNKNOWN 0
#define IOVEC_BYTES           8
#define FDSTAT_BYTES          24

static bool stdio_open(const wp__wasi_ctx *ctx, uint32_t fd) {
  return fd < 3 && !ctx->stdio_closed[fd];
}

/* Checks every iovec of iovs[0..count) and sums their lengths. The sum is the
 * u32 the guest gets back, so a sum past 2^32 - 1 (overlapping buffers can
 * do that) is EINVAL, as writev answers for a sum past SSIZE_MAX. */
static uint32_t check_iovecs(const wp__wasi_ctx *ctx, uint32_t iovs, uint32_t count,
                             uint64_t *total_out) {
  const uint8_t *array = wp__wasi_span(ctx, iovs, (uint64_t)count * IOVEC_BYTES);
  uint64_t total = 0;
  uint32_t i;

  if (!array)
    return WP__WASI_EFAULT;
  for (i = 0; i < count; i++) {
    const uint8_t *iov = array + (uint64_t)i * IOVEC_BYTES;
    uint32_t buf = wp__wasi_load32(iov), length = wp__wasi_load32(iov + 4);
    if (!wp__wasi_span(ctx, buf, length))
      return WP__WASI_EFAULT;
    total += length;
  }
  if (total > UINT32_MAX)
    return WP__WASI_EINVAL;
  *total_out = total;
  return WP__WASI_ESUCCESS;
}

/* Keeps what fits under the stream's limit; the rest is dropped and flagged.
 * The buffer grows geometrically so a chatty guest costs O(log n) reallocs;
 * if growing fails the bytes are dropped as if the limit were reached. */
static void output_append(wp__wasi_output *out, const uint8_t *bytes, size_t length) {
  size_t room = out->limit > out->length ? out->limit - out->length : 0;
  size_t keep = length < room ? length : room;

  if (keep < length)
    out->truncated = true;
  if (keep == 0)
    return;
  if (out->length + keep > out->capacity) {
    size_t capacity = out->capacity ? out->capacity * 2 : 4096;
    uint8_t *grown;
    if (capacity < out->length + keep)
      capacity = out->length + keep;
    if (capacity > out->limit)
      capacity = out->limit;
    grown = realloc(out->bytes, capacity);
    if (!grown) {
      out->truncated = true;
      return;
    }
    out->bytes = grown;
    out->capacity = capacity;
  }
  memcpy(out->bytes + out->length, bytes, keep);
  out->length += keep;
}

uint32_t wp__wasi_fd_write(wp__wasi_ctx *ctx, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                           uint32_t nwritten_out) {
  wp__wasi_output *out;
  uint8_t *nwritten;
  uint64_t total;
  uint32_t rc, i;

  if (fd != 1 && fd != 2)
    return WP__WASI_EBADF;
  if (!stdio_open(ctx, fd))
    return WP__WASI_EBADF;
  out = fd == 1 ? &ctx->out : &ctx->err;
  rc = check_iovecs(ctx, iovs, iovs_len, &total);
  if (rc)
    return rc;
  nwritten = wp__wasi_span(ctx, nwritten_out, 4);
  if (!nwritten)
    return WP__WASI_EFAULT;
  for (i = 0; i < iovs_len; i++) {
    const uint8_t *iov = ctx->memory->data + iovs + (uint64_t)i * IOVEC_BYTES;
    uint32_t buf = wp__wasi_load32(iov), length = wp__wasi_load32(iov + 4);
    output_append(out, wp__wasi_span(ctx, buf, length), length);
  }
  /* The guest sees a full write even when bytes were dropped: a program
   * that retried short writes would otherwise spin at the limit. */
  wp__wasi_store32(nwritten, (uint32_t)total);
  return WP__WASI_ESUCCESS;
}

uint32_t wp__wasi_fd_read(wp__wasi_ctx *ctx, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                          uint32_t nread_out) {
  uint8_t *nread;
  uint64_t total, copied = 0;
  uint32_t rc, i;

  if (fd != 0 || !stdio_open(ctx, fd))
    return WP__WASI_EBADF;
  rc = check_iovecs(ctx, iovs, iovs_len, &total);
  if (rc)
    return rc;
  nread = wp__wasi_span(ctx, nread_out, 4);
  if (!nread)
    return WP__WASI_EFAULT;
  for (i = 0; i < iovs_len && ctx->stdin_offset < ctx->stdin_length; i++) {
    const uint8_t *iov = ctx->memory->data + iovs + (uint64_t)i * IOVEC_BYTES;
    uint32_t buf = wp__wasi_load32(iov), length = wp__wasi_load32(iov + 4);
    size_t left = ctx->stdin_length - ctx->stdin_offset;
    size_t take = length < left ? length : left;
    /* Checked again: a buffer may overlap the iovec array, so this read can
     * have rewritten the iovecs after check_iovecs saw them. */
    uint8_t *dest = wp__wasi_span(ctx, buf, length);
    if (!dest)
      return WP__WASI_EFAULT;
    memcpy(dest, ctx->stdin_bytes + ctx->stdin_offset, take);
    ctx->stdin_offset += take;
    copied += take;
  }
  wp__wasi_store32(nread, (uint32_t)copied);
  return WP__WASI_ESUCCESS;
}

uint32_t wp__wasi_fd_fdstat_get(wp__wasi_ctx *ctx, uint32_t fd, uint32_t fdstat_out) {
  uint8_t *stat;
  uint64_t rights;

  if (!stdio_open(ctx, fd))
    return WP__WASI_EBADF;
  stat = wp__wasi_span(ctx, fdstat_out, FDSTAT_BYTES);
  if (!stat)
    return WP__WASI_EFAULT;
  rights = (fd == 0 ? WASI_RIGHTS_FD_READ : WASI_RIGHTS_FD_WRITE) | WASI_RIGHTS_POLL_FD_READWRITE;
  memset(stat, 0, FDSTAT_BYTES);
  stat[0] = WASI_FILETYPE_UNKNOWN;
  wp__wasi_store16(stat + 2, 0); /* fdflags: none (not append, not nonblock) */
  wp__wasi_store64(stat + 8, rights);
  wp__wasi_store64(stat + 16, 0); /* nothing to inherit: there is no path_open */
  return WP__WASI_ESUCCESS;
}

uint32_t wp__wasi_fd_close(wp__wasi_ctx *ctx, uint32_t fd) {
  if (!stdio_open(ctx, fd))
    return WP__WASI_EBADF;
  ctx->stdio_closed[fd] = true;
  return WP__WASI_ESUCCESS;
}

uint32_t wp__wasi_fd_seek(wp__wasi_ctx *ctx, uint32_t fd, uint64_t offset, uint32_t whence,
                          uint32_t newoffset_out) {
  if (!stdio_open(ctx, fd))
    return WP__WASI_EBADF;
  return WP__WASI_ESPIPE;
}

uint32_t wp__wasi_fd_prestat_get(wp__wasi_ctx *ctx, uint32_t fd, uint32_t prestat_out) {
  return WP__WASI_EBADF;
}

uint32_t wp__wasi_fd_prestat_dir_name(wp__wasi_ctx *ctx, uint32_t fd, uint32_t path,
                                      uint32_t path_len) {
  return WP__WASI_EBADF;
}
