/* deadline.c — per-thread deadline timers.
 *
 * Each thread that runs guest code with a deadline gets one POSIX timer
 * (CLOCK_MONOTONIC) that signals that very thread (SIGEV_THREAD_ID), created
 * on first use and deleted when the thread's state is freed. The signal
 * handler (signals.c) unwinds the guest if it is in guest code and not in a
 * host call; otherwise it marks the timeout pending, and the host call's
 * return takes it. After the first expiry the timer repeats every
 * RETRY_NS, so a signal that arrived in a window where it could only be
 * marked is never the last chance.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime_internal.h"

#define RETRY_NS (5 * 1000 * 1000)

int wp__deadline_signal(void) {
  return SIGRTMIN + 3;
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

int wp__deadline_arm(wp__thread *t, uint64_t deadline_ms) {
  int rc = ensure_timer(t);
  if (rc != 0)
    return rc;
  struct itimerspec spec;
  memset(&spec, 0, sizeof(spec));
  spec.it_value.tv_sec = (time_t)(deadline_ms / 1000);
  spec.it_value.tv_nsec = (long)(deadline_ms % 1000) * 1000000;
  spec.it_interval.tv_nsec = RETRY_NS;
  t->timeout_pending = 0;
  t->deadline_armed = 1;
  if (timer_settime((timer_t)t->timer, 0, &spec, NULL) != 0) {
    t->deadline_armed = 0;
    return WP_ESYS;
  }
  return 0;
}

void wp__deadline_disarm(wp__thread *t) {
  t->deadline_armed = 0;
  if (!t->timer_created)
    return;
  struct itimerspec off;
  memset(&off, 0, sizeof(off));
  timer_settime((timer_t)t->timer, 0, &off, NULL);
}

void wp__deadline_thread_exit(wp__thread *t) {
  if (!t->timer_created)
    return;
  t->deadline_armed = 0;
  timer_delete((timer_t)t->timer);
  t->timer_created = false;
}
