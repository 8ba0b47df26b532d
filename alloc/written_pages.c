/* written_pages.c — which pages of a memory slot its holder wrote, read from
 * /proc/self/pagemap.
 *
 * Every memory slot is a private mapping (the image's memfd, then anonymous
 * memory), so a page the guest wrote is a private anonymous page: a
 * copy-on-write copy of an image page, or an anonymous page past the image.
 * A page only read is either not present at all, a page-cache page of the
 * memfd (pagemap's "file-page" bit) or the shared zero page. So
 * present-and-not-file pages, plus swapped-out ones, cover every page that
 * may differ from what the slot held at acquire.
 *
 * A write fault always leaves an exclusively mapped anonymous page, so the
 * "exclusively mapped" bit tells the pages surely written from the others:
 * the zero page, and pages written before a fork shared them with a child.
 * Those are reported as unsure; the caller compares them with what they
 * should hold (cheap for the zero page) rather than trusting the bit, so
 * nothing here depends on the process never forking.
 *
 * Reading pagemap is a read of the page tables, not a change to them: unlike
 * madvise(MADV_DONTNEED) it sends no TLB shootdown to the other cores the
 * daemon's threads run on, which is what made a reset expensive
 * (docs/BENCHMARKS.md "Reset by written pages").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "alloc_internal.h"

#define PM_PRESENT   (1ull << 63)
#define PM_SWAPPED   (1ull << 62)
#define PM_FILE      (1ull << 61)
#define PM_EXCLUSIVE (1ull << 56)
/* Entries read per pread: 4 KiB of stack, 2 MiB of guest memory. */
#define PM_BATCH 512u

int wp__pagemap_open(void) {
  return open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

static wp__page_kind kind_of(uint64_t entry) {
  if (entry & PM_SWAPPED)
    return WP__PAGE_WRITTEN;
  if (!(entry & PM_PRESENT) || (entry & PM_FILE))
    return WP__PAGE_CLEAN;
  return (entry & PM_EXCLUSIVE) ? WP__PAGE_WRITTEN : WP__PAGE_UNSURE;
}

int wp__written_runs(int pagemap_fd, const uint8_t *base, uint64_t bytes, uint64_t page,
                     wp__page_run_fn visit, void *ctx) {
  uint64_t entries[PM_BATCH];
  uint64_t pages = bytes / page;
  uint64_t first = (uint64_t)(uintptr_t)base / page;
  uint64_t run_start = 0, run_pages = 0;
  wp__page_kind run_kind = WP__PAGE_CLEAN;
  for (uint64_t done = 0; done < pages;) {
    uint64_t want = pages - done < PM_BATCH ? pages - done : PM_BATCH;
    ssize_t got = pread(pagemap_fd, entries, want * sizeof(uint64_t),
                        (off_t)((first + done) * sizeof(uint64_t)));
    if (got != (ssize_t)(want * sizeof(uint64_t)))
      return WP_ESYS;
    for (uint64_t i = 0; i < want; i++) {
      wp__page_kind kind = kind_of(entries[i]);
      if (kind == run_kind && run_pages > 0) {
        run_pages++;
        continue;
      }
      if (run_pages > 0 && run_kind != WP__PAGE_CLEAN &&
          !visit(ctx, run_start * page, run_pages * page, run_kind))
        return 0;
      run_start = done + i;
      run_pages = 1;
      run_kind = kind;
    }
    done += want;
  }
  if (run_pages > 0 && run_kind != WP__PAGE_CLEAN)
    visit(ctx, run_start * page, run_pages * page, run_kind);
  return 0;
}
