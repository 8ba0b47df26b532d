/* wasi_poll.c — poll_oneoff for WASI preview1: what wasi-libc's sleep(),
 * nanosleep() and clock_nanosleep() turn into.
 *
 * Clock subscriptions sleep the calling worker until the earliest deadline,
 * but never longer than ctx->max_sleep_ns per call: a guest must not hold a
 * worker thread indefinitely, and the runtime's deadline only takes effect
 * once the host call returns. A capped sleep still reports the earliest
 * clock as fired (the guest sees a short sleep, not a hang).
 *
 * fd subscriptions never block: stdin is a buffer and the outputs always
 * accept, so they are answered at once (ready, or EBADF per event), and any
 * immediate answer means no sleep at all, as poll(2) would.
 *
 * Subscriptions are read twice (to find the deadline, then to answer), so
 * the guest's in/out arrays are never copied to the host.
 */
#include "wasi.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define SUBSCRIPTION_BYTES 48
#define EVENT_BYTES        32
#define EVENTTYPE_CLOCK    0
#define EVENTTYPE_FD_READ  1
#define EVENTTYPE_FD_WRITE 2
#define SUBCLOCK_ABSTIME   1
#define EVENT_FD_HANGUP    1
#define NS_PER_SEC         1000000000ull

static uint64_t now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t add_saturating(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The CLOCK_MONOTONIC time at which a clock subscription fires, or a WASI
 * errno. Realtime deadlines are converted once; a wall-clock step during the
 * sleep is not followed (the sleep is short anyway). CPU-time clocks cannot
 * be slept on, as with clock_nanosleep(2). */
static uint32_t clock_deadline(const uint8_t *sub, uint64_t mono_now, uint64_t *deadline) {
  uint32_t id = wp__wasi_load32(sub + 16);
  uint64_t timeout = wp__wasi_load64(sub + 24);
  bool absolute = (wp__wasi_load16(sub + 40) & SUBCLOCK_ABSTIME) != 0;

  if (id == 1) {
    *deadline = absolute ? timeout : add_saturating(mono_now, timeout);
    return WP__WASI_ESUCCESS;
  }
  if (id == 0) {
    if (absolute) {
      uint64_t real_now = now_ns(CLOCK_REALTIME);
      *deadline = add_saturating(mono_now, timeout > real_now ? timeout - real_now : 0);
    } else {
      *deadline = add_saturating(mono_now, timeout);
    }
    return WP__WASI_ESUCCESS;
  }
  return WP__WASI_EINVAL;
}

/* The answer to a non-clock subscription; every one is immediate. */
static void fd_event(const wp__wasi_ctx *ctx, uint8_t tag, const uint8_t *sub, uint16_t *error,
                     uint64_t *nbytes, uint16_t *flags) {
  uint32_t fd = wp__wasi_load32(sub + 16);
  bool open = fd < 3 && !ctx->stdio_closed[fd];

  *error = WP__WASI_ESUCCESS;
  *nbytes = 0;
  *flags = 0;
  if (tag == EVENTTYPE_FD_READ && fd == 0 && open) {
    *nbytes = ctx->stdin_length - ctx->stdin_offset;
    if (*nbytes == 0)
      *flags = EVENT_FD_HANGUP;
    return;
  }
  if (tag == EVENTTYPE_FD_WRITE && (fd == 1 || fd == 2) && open)
    return;
  *error = tag == EVENTTYPE_FD_READ || tag == EVENTTYPE_FD_WRITE ? WP__WASI_EBADF : WP__WASI_EINVAL;
}

static void store_event(uint8_t *event, uint64_t userdata, uint16_t error, uint8_t type,
                        uint64_t nbytes, uint16_t flags) {
  memset(event, 0, EVENT_BYTES);
  wp__wasi_store64(event, userdata);
  wp__wasi_store16(event + 8, error);
  event[10] = type;
  wp__wasi_store64(event + 16, nbytes);
  wp__wasi_store16(event + 24, flags);
}

/* Sleeps until CLOCK_MONOTONIC reaches target. A signal (the runtime's
 * deadline timer) resumes the sleep unless it raised ctx->interrupt; a flag
 * raised before the sleep began (during an earlier host call) counts too,
 * since no further signal would come to end it. */
static void sleep_until(const wp__wasi_ctx *ctx, uint64_t target) {
  struct timespec ts = {.tv_sec = (time_t)(target / NS_PER_SEC),
                        .tv_nsec = (long)(target % NS_PER_SEC)};
  if (ctx->interrupt && *ctx->interrupt)
    return;
  for (;;) {
    int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    if (rc != EINTR)
      return;
    if (ctx->interrupt && *ctx->interrupt)
      return;
  }
}

uint32_t wp__wasi_poll_oneoff(wp__wasi_ctx *ctx, uint32_t in, uint32_t out, uint32_t nsubscriptions,
                              uint32_t nevents_out) {
  const uint8_t *subs;
  uint8_t *events, *nevents;
  uint64_t start, after, earliest = UINT64_MAX, deadline;
  uint32_t i, earliest_index = UINT32_MAX, count = 0;
  bool immediate = false;

  if (nsubscriptions == 0)
    return WP__WASI_EINVAL;
  subs = wp__wasi_span(ctx, in, (uint64_t)nsubscriptions * SUBSCRIPTION_BYTES);
  events = wp__wasi_span(ctx, out, (uint64_t)nsubscriptions * EVENT_BYTES);
  nevents = wp__wasi_span(ctx, nevents_out, 4);
  if (!subs || !events || !nevents)
    return WP__WASI_EFAULT;

  /* Relative timeouts count from this one reading in both passes. */
  start = now_ns(CLOCK_MONOTONIC);
  for (i = 0; i < nsubscriptions; i++) {
    const uint8_t *sub = subs + (uint64_t)i * SUBSCRIPTION_BYTES;
    if (sub[8] != EVENTTYPE_CLOCK || clock_deadline(sub, start, &deadline)) {
      immediate = true;
      continue;
    }
    if (deadline < earliest) {
      earliest = deadline;
      earliest_index = i;
    }
  }
  if (!immediate && earliest > start) {
    uint64_t cap = add_saturating(start, ctx->max_sleep_ns);
    sleep_until(ctx, earliest < cap ? earliest : cap);
  }
  after = now_ns(CLOCK_MONOTONIC);

  for (i = 0; i < nsubscriptions; i++) {
    const uint8_t *sub = subs + (uint64_t)i * SUBSCRIPTION_BYTES;
    uint64_t userdata = wp__wasi_load64(sub);
    uint8_t tag = sub[8];
    uint16_t error, flags;
    uint64_t nbytes;

    if (tag != EVENTTYPE_CLOCK) {
      fd_event(ctx, tag, sub, &error, &nbytes, &flags);
      store_event(events + (uint64_t)count++ * EVENT_BYTES, userdata, error, tag, nbytes, flags);
      continue;
    }
    error = (uint16_t)clock_deadline(sub, start, &deadline);
    /* Without an immediate answer we slept for the earliest clock: it fires
     * even if the sleep was capped or cut short by an interrupt. */
    if (error || deadline <= after || (!immediate && i == earliest_index))
      store_event(events + (uint64_t)count++ * EVENT_BYTES, userdata, error, tag, 0, 0);
  }
  wp__wasi_store32(nevents, count);
  return WP__WASI_ESUCCESS;
}
