/* deadline.c — per-thread deadline timers.
 *
 * Each thread that runs guest code with a deadline gets one POSIX timer
 * (CLOCK_MONOTONIC) that signals that very thread (SIGEV_THREAD_ID), created
 * on first use and deleted when the thread's state is freed. The signal
 * handler (signals.c) unwinds the guest if it is in guest code and not in a
 * host call; otherwise it marks the timeout pending, and the host call's
 * return takes it. After an expiry the timer repeats every RETRY_NS, so a
 * signal that arrived in a window where it could only be marked is never
 * the last chance.
 *
 * Arming and stopping the timer around every call cost two timer_settime
 * calls per guest call, four per one-shot run (instantiate, then _start):
 * most of the system calls left on the request path. So the timer is lazy:
 * a call that ends leaves it running, and the next call reprograms it only
 * when it must fire earlier than it is set to. When it fires, the handler
 * looks at the clock: before the running call's deadline it reprograms the
 * timer for that deadline; with no call running it stops it. A thread that
 * serves calls back to back thus pays one timer_settime per deadline
 * period, not two per call, and an idle thread gets at most one signal.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime_internal.h"

#define RETRY_NS (5 * 1000 * 1000)
#define NS_PER_S 1000000000ull

int wp__deadline_signal(void) {
  return SIGRTMIN + 3;
}

static uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe */
  return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int ensure_timer(wp__thread *t) {
  if (t->timer_created)
    return 0;
  struct sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = wp__deadline_signal();
  sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0)
    return WP_ESYS;
  t->timer = timer;
  t->timer_created = true;
  return 0;
}

/* Programs the timer to fire at expiry_ns (absolute), then every RETRY_NS;
 * 0 stops it. Async-signal-safe (timer_settime is). */
static int program(wp__thread *t, uint64_t expiry_ns) {
  struct itimerspec spec;
  memset(&spec, 0, sizeof(spec));
  if (expiry_ns) {
    spec.it_value.tv_sec = (time_t)(expiry_ns / NS_PER_S);
    spec.it_value.tv_nsec = (long)(expiry_ns % NS_PER_S);
    spec.it_interval.tv_nsec = RETRY_NS;
  }
  atomic_store_explicit(&t->timer_expiry_ns, expiry_ns, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  if (timer_settime((timer_t)t->timer, TIMER_ABSTIME, &spec, NULL) != 0)
    return WP_ESYS;
  return 0;
}

int wp__deadline_arm(wp__thread *t, uint64_t deadline_ms) {
  int rc = ensure_timer(t);
  if (rc != 0)
    return rc;
  uint64_t now = monotonic_ns();
  uint64_t deadline = now + deadline_ms * 1000000ull;
  t->timeout_pending = 0;
  /* The deadline is in place before the handler may see the call armed; a
   * signal from here on finds both and reprograms the timer itself. */
  atomic_store_explicit(&t->deadline_ns, deadline, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  t->deadline_armed = 1;
  atomic_signal_fence(memory_order_seq_cst);
  uint64_t expiry = atomic_load_explicit(&t->timer_expiry_ns, memory_order_relaxed);
  /* Set to fire by the deadline and not yet past: it fires early at worst,
   * and the handler moves it then. Stopped, later than the deadline, or in
   * its RETRY_NS repeats after an expiry: set it now. */
  if (expiry != 0 && expiry > now && expiry <= deadline)
    return 0;
  if (program(t, deadline) != 0) {
    t->deadline_armed = 0;
    return WP_ESYS;
  }
  return 0;
}

void wp__deadline_disarm(wp__thread *t) {
  /* The timer keeps running; when it fires with no call armed the handler
   * stops it (wp__deadline_fired). */
  t->deadline_armed = 0;
}

int wp__deadline_fired(wp__thread *t) {
  if (!t->timer_created)
    return 0;
  if (!t->deadline_armed) {
    program(t, 0);
    return 0;
  }
  uint64_t deadline = atomic_load_explicit(&t->deadline_ns, memory_order_relaxed);
  if (monotonic_ns() < deadline) {
    program(t, deadline); /* left over from an earlier call, or early */
    return 0;
  }
  return 1;
}

void wp__deadline_thread_exit(wp__thread *t) {
  if (!t->timer_created)
    return;
  t->deadline_armed = 0;
  timer_delete((timer_t)t->timer);
  t->timer_created = false;
  atomic_store_explicit(&t->timer_expiry_ns, 0, memory_order_relaxed);
}
