/* image.c — copy-on-write memory images backed by one sealed memfd.
 *
 * At deploy the module's data segments are written once into a memfd the
 * size of the initialised part of memory (rounded up to a page), which is then
 * sealed so that nobody can change it under the slots mapping it. A slot
 * attaches it with one mmap(MAP_PRIVATE|MAP_FIXED): reads share the page
 * cache, the first write to a page copies it privately, and
 * madvise(MADV_DONTNEED) drops the private copies so the page reads as the
 * image again. The image also keeps one read-only shared view of the memfd:
 * it is the source when a reset restores keep-resident pages by copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc_internal.h"

/* Image ids must be unique across every pool of the process and never reused
 * (a reused id would let a slot claim affinity to a different image), so they
 * come from one process-wide counter. */
static atomic_uint_fast64_t next_image_id = 1;

static uint64_t round_up(uint64_t value, uint64_t page) {
  return (value + page - 1) / page * page;
}

static int write_all(int fd, const void *bytes, uint64_t length, uint64_t offset) {
  const uint8_t *at = bytes;
  while (length > 0) {
    ssize_t done = pwrite(fd, at, length, (off_t)offset);
    if (done < 0 && errno == EINTR)
      continue;
    if (done <= 0)
      return WP_ESYS;
    at += done;
    length -= (uint64_t)done;
    offset += (uint64_t)done;
  }
  return 0;
}

int wp_image_create(const wp_image_segment *segments, size_t segment_count, uint64_t max_bytes,
                    wp_image **out) {
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  uint64_t end = 0;
  *out = NULL;
  for (size_t i = 0; i < segment_count; i++) {
    const wp_image_segment *seg = &segments[i];
    if (seg->length > 0 && seg->bytes == NULL)
      return WP_EINVAL;
    if (seg->offset > max_bytes || seg->length > max_bytes - seg->offset)
      return WP_EINVAL;
    if (seg->length > 0 && seg->offset + seg->length > end)
      end = seg->offset + seg->length;
  }
  wp_image *image = calloc(1, sizeof(*image));
  if (image == NULL)
    return WP_ENOMEM;
  atomic_init(&image->refs, 1);
  image->id = atomic_fetch_add(&next_image_id, 1);
  image->bytes = round_up(end, page);
  image->fd = -1;
  if (image->bytes == 0) {
    *out = image;
    return 0;
  }
  int rc = WP_ESYS;
  image->fd = memfd_create("wasmpool-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (image->fd < 0)
    goto fail;
  if (ftruncate(image->fd, (off_t)image->bytes) != 0)
    goto fail;
  for (size_t i = 0; i < segment_count; i++) {
    if (segments[i].length == 0)
      continue;
    rc = write_all(image->fd, segments[i].bytes, segments[i].length, segments[i].offset);
    if (rc != 0)
      goto fail;
  }
  rc = WP_ESYS;
  if (fcntl(image->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    goto fail;
  void *view = mmap(NULL, image->bytes, PROT_READ, MAP_SHARED, image->fd, 0);
  if (view == MAP_FAILED)
    goto fail;
  image->view = view;
  *out = image;
  return 0;
fail:
  if (image->fd >= 0)
    close(image->fd);
  free(image);
  return rc;
}

void wp_image_retain(wp_image *image) {
  atomic_fetch_add_explicit(&image->refs, 1, memory_order_relaxed);
}

void wp_image_release(wp_image *image) {
  if (image == NULL)
    return;
  if (atomic_fetch_sub_explicit(&image->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (image->view != NULL)
    munmap((void *)image->view, image->bytes);
  if (image->fd >= 0)
    close(image->fd);
  free(image);
}

uint64_t wp_image_bytes(const wp_image *image) {
  return image->bytes;
}

uint64_t wp_image_id(const wp_image *image) {
  return image->id;
}
