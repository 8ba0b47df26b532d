/* signals.c — where guest code runs and how it is stopped: guest stacks,
 * the fault handlers, and the trap unwind.
 *
 * Guest stack: every call into guest code runs on a stack this thread owns
 * (guest_stack_bytes, mmap'd once per thread, with a PROT_NONE guard at its
 * low end): no assembly, and the caller's own stack (main thread, libuv
 * worker, Criterion runner) never matters. A long-lived fiber on that stack
 * is started once with makecontext/setcontext and then entered and left with
 * _setjmp/_longjmp (no system call per call); sanitizer builds instead use a
 * fresh context per call (see switch_and_run). The generated code is compiled with
 * -fstack-clash-protection, so deep recursion and one huge frame alike fault on that guard. The
 * switch is announced to ASan (__sanitizer_{start,finish}_switch_fiber) in sanitizer builds.
 *
 * Traps: the entry on the guest stack sigsetjmp()s a per-call buffer; traps,
 * uncaught exceptions, proc_exit and the fault handlers siglongjmp() to it
 * with the WP_E* code, then control returns to the host. The buffer saves no
 * signal mask; after a handler unwound, run_entry unblocks its signals.
 *
 * Faults: SIGSEGV/SIGBUS at an address in this thread's guest-stack guard
 * while it runs guest code is stack exhaustion; in a registered guest memory
 * range (runtime.c) while in guest code and not in a host call it is an
 * out-of-bounds access. Anything else is a host bug: the default action is
 * restored and the signal re-raised, so the process dies with it. The
 * handlers run on a per-thread sigaltstack (the guest stack may be the one
 * that overflowed).
 *
 * Global state: the previous signal actions (to restore on uninstall) and
 * the thread-local pointer the handlers read; both exist because a signal
 * handler has no other way to find its context.
 */
/* The fiber switch _longjmp()s to a buffer on another stack, which
 * glibc's fortified longjmp would take for a corrupt jump. */
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "runtime_internal.h"

#include "wp_asan.h"
#ifdef WP_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#define STACK_GUARD_BYTES ((size_t)64 * 1024)
#define ALTSTACK_BYTES    ((size_t)256 * 1024)

static __thread wp__thread *tls_thread;
/* Signal dispositions are process-wide, so these are too: the handlers we
 * replaced, and the one runtime that installed ours. */
static struct sigaction g_old_segv, g_old_bus, g_old_timer;
static bool g_installed;
static struct wp_runtime *g_owner;

static size_t page_round(size_t bytes) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  return (bytes + page - 1) & ~(page - 1);
}

void wp__thread_free(wp__thread *t) {
  if (!t)
    return;
  wp__deadline_thread_exit(t);
  if (t->altstack) {
    stack_t ss = {.ss_flags = SS_DISABLE};
    if (tls_thread == t)
      sigaltstack(&ss, NULL);
    munmap(t->altstack, t->altstack_bytes);
  }
  if (t->stack_base)
    munmap(t->stack_base, t->stack_bytes + t->stack_guard);
  free(t->host_ctx);
  free(t->guest_ctx);
  if (tls_thread == t)
    tls_thread = NULL;
  free(t);
}

wp__thread *wp__thread_get(struct wp_runtime *rt) {
  if (tls_thread)
    return tls_thread;
  if (!rt)
    return NULL;
  wp__thread *t = calloc(1, sizeof(*t));
  if (!t)
    return NULL;
  t->rt = rt;
  t->host_ctx = calloc(1, sizeof(ucontext_t));
  t->guest_ctx = calloc(1, sizeof(ucontext_t));
  t->stack_bytes = page_round(rt->cfg.guest_stack_bytes);
  t->stack_guard = STACK_GUARD_BYTES;
  t->altstack_bytes = ALTSTACK_BYTES;
  void *stack = mmap(NULL, t->stack_bytes + t->stack_guard, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  void *alt = mmap(NULL, t->altstack_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack != MAP_FAILED)
    t->stack_base = stack;
  if (alt != MAP_FAILED)
    t->altstack = alt;
  if (!t->host_ctx || !t->guest_ctx || !t->stack_base || !t->altstack ||
      mprotect(t->stack_base, t->stack_guard, PROT_NONE) != 0) {
    wp__thread_free(t);
    return NULL;
  }
  stack_t ss = {.ss_sp = t->altstack, .ss_size = t->altstack_bytes, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) {
    wp__thread_free(t);
    return NULL;
  }
  /* A thread started before the pool took its protection keys has them
   * denied; host code on it touches guest memory. */
  wp_pool_keys_host(rt->pool);
  tls_thread = t;
  /* The key's destructor frees this at thread exit. */
  pthread_setspecific(rt->thread_key, t);
  return t;
}

_Noreturn void wp__guest_unwind(int code) {
  wp__thread *t = tls_thread;
  siglongjmp(*t->trap_jb, -code);
}

/* Runs the current entry with its trap target; returns after the entry
 * returned or a trap unwound it. Not inlined: every call needs a fresh
 * frame for its sigsetjmp buffer. */
static __attribute__((noinline)) void run_entry(wp__thread *t) {
  sigjmp_buf jb;
  int code = sigsetjmp(jb, 0);
  if (code == 0) {
    t->trap_jb = &jb;
    t->unwind_target = NULL; /* an exception no try catches traps */
    t->in_host = 0;
    t->in_guest = 1;
    /* A deadline that passed before the guest started. */
    if (t->timeout_pending)
      siglongjmp(jb, -WP_ETIMEOUT);
    t->entry(t->entry_arg);
    t->entry_result = 0;
  } else {
    t->entry_result = -code;
  }
  t->in_guest = 0;
  t->in_host = 0;
  if (t->signal_unwound) {
    /* A handler unwound with its signal still blocked (the buffer saved no
     * mask, which keeps the common path free of syscalls). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGSEGV);
    sigaddset(&set, SIGBUS);
    sigaddset(&set, wp__deadline_signal());
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    t->signal_unwound = 0;
  }
}

#ifdef WP_ASAN
/* Sanitizer builds: a fresh context per call, entered with setcontext and
 * left through uc_link, every switch announced to ASan. */
static void guest_main(void) {
  wp__thread *t = tls_thread;
  __sanitizer_finish_switch_fiber(NULL, &t->host_stack_bottom, &t->host_stack_size);
  run_entry(t);
  __sanitizer_start_switch_fiber(NULL, t->host_stack_bottom, t->host_stack_size);
  /* Returning resumes uc_link, the host context. */
}

static int switch_and_run(wp__thread *t) {
  ucontext_t *host = t->host_ctx, *guest = t->guest_ctx;
  if (getcontext(guest) != 0)
    return WP_ESYS;
  guest->uc_stack.ss_sp = t->stack_base + t->stack_guard;
  guest->uc_stack.ss_size = t->stack_bytes;
  guest->uc_link = host;
  makecontext(guest, guest_main, 0);
  /* getcontext + setcontext rather than swapcontext: the same switch, but
   * ASan intercepts only swapcontext (and warns on every call). */
  volatile bool entered = false;
  int rc = getcontext(host);
  if (rc == 0 && !entered) {
    entered = true;
    __sanitizer_start_switch_fiber(&t->asan_fake_stack, t->stack_base + t->stack_guard,
                                   t->stack_bytes);
    setcontext(guest);
    return WP_ESYS; /* setcontext returns only on failure */
  }
  if (rc != 0)
    return WP_ESYS;
  __sanitizer_finish_switch_fiber(t->asan_fake_stack, NULL, NULL);
  return 0;
}
#else
/* Normal builds: the guest stack holds one long-lived fiber, started once
 * with makecontext/setcontext; after that host and fiber switch with
 * _setjmp/_longjmp, which save no signal mask, so a call costs no system
 * call (getcontext/setcontext cost two sigprocmask calls each way). */
static void fiber_main(void) {
  wp__thread *t = tls_thread;
  for (;;) {
    run_entry(t);
    if (_setjmp(t->fiber_jb) == 0)
      _longjmp(t->host_jb, 1);
  }
}

static int switch_and_run(wp__thread *t) {
  volatile int rc = 0;
  if (_setjmp(t->host_jb) == 0) {
    if (t->fiber_started)
      _longjmp(t->fiber_jb, 1);
    ucontext_t *guest = t->guest_ctx;
    if (getcontext(guest) != 0)
      return WP_ESYS;
    guest->uc_stack.ss_sp = t->stack_base + t->stack_guard;
    guest->uc_stack.ss_size = t->stack_bytes;
    guest->uc_link = NULL;
    makecontext(guest, fiber_main, 0);
    t->fiber_started = true;
    setcontext(guest);
    t->fiber_started = false; /* setcontext returns only on failure */
    rc = WP_ESYS;
  }
  return rc;
}
#endif

int wp__guest_call(wp__thread *t, uint64_t deadline_ms, void (*entry)(void *arg), void *arg) {
  if (t->in_guest)
    return WP_EINVAL; /* no re-entry: host functions never call back into guests */
  t->entry = entry;
  t->entry_arg = arg;
  t->entry_result = 0;
  t->trap_detail[0] = '\0';
  t->timeout_pending = 0;
  if (deadline_ms) {
    int rc = wp__deadline_arm(t, deadline_ms);
    if (rc != 0)
      return rc;
  }
  int rc = switch_and_run(t);
  if (deadline_ms)
    wp__deadline_disarm(t);
  t->timeout_pending = 0;
  if (rc != 0)
    return rc;
  return t->entry_result;
}

static void die_with(int sig) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, NULL);
  /* Pending until the handler returns; a real fault also repeats then. */
  raise(sig);
}

static void on_fault(int sig, siginfo_t *info, void *uctx) {
  (void)uctx;
  wp__thread *t = tls_thread;
  uintptr_t addr = (uintptr_t)info->si_addr;
  if (t && t->in_guest && info->si_code > 0) {
    uintptr_t guard_lo = (uintptr_t)t->stack_base;
    if (addr >= guard_lo && addr < guard_lo + t->stack_guard) {
      t->in_host = 0;
      t->signal_unwound = 1;
      siglongjmp(*t->trap_jb, -WP_ETRAP_STACK);
    }
    /* Every byte of the memory pool is a slot's inaccessible tail or a
     * guard: a guest fault there is out of bounds (O(1), no lock). */
    if (!t->in_host && wp_pool_memory_contains(t->rt->pool, (const void *)addr)) {
      t->signal_unwound = 1;
      siglongjmp(*t->trap_jb, -WP_ETRAP_OOB);
    }
  }
  die_with(sig);
}

static void on_timer(int sig, siginfo_t *info, void *uctx) {
  (void)sig;
  (void)info;
  (void)uctx;
  wp__thread *t = tls_thread;
  int saved_errno = errno; /* the timer_settime in there may set it */
  int fired = t && wp__deadline_fired(t);
  errno = saved_errno;
  if (!fired)
    return;
  if (t->in_guest && !t->in_host) {
    t->deadline_armed = 0;
    t->signal_unwound = 1;
    siglongjmp(*t->trap_jb, -WP_ETIMEOUT);
  }
  /* In a host call, or not yet in the guest: taken when it returns. */
  t->timeout_pending = 1;
}

int wp__signals_install(struct wp_runtime *rt, wp_error *err) {
  if (g_installed)
    return wp__error(err, WP_ECONFIG,
                     "a wp_runtime already exists in this process (its fault and deadline "
                     "handlers are process-wide)");
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, wp__deadline_signal());
  if (sigaction(SIGSEGV, &sa, &g_old_segv) != 0 || sigaction(SIGBUS, &sa, &g_old_bus) != 0)
    return wp__error(err, WP_ESYS, "sigaction: %s", strerror(errno));
  sa.sa_sigaction = on_timer;
  /* The timer outlives its call (deadline.c), so it may fire once in host
   * code that waits in read, write or waitpid: restart those instead of
   * handing them EINTR. (Sleeps and polls still return EINTR.) */
  sa.sa_flags |= SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(wp__deadline_signal(), &sa, &g_old_timer) != 0)
    return wp__error(err, WP_ESYS, "sigaction: %s", strerror(errno));
  g_installed = true;
  g_owner = rt;
  return 0;
}

void wp__signals_uninstall(struct wp_runtime *rt) {
  if (tls_thread && tls_thread->rt == rt) {
    wp__thread *t = tls_thread;
    pthread_setspecific(rt->thread_key, NULL);
    wp__thread_free(t);
  }
  if (!g_installed || g_owner != rt)
    return;
  sigaction(SIGSEGV, &g_old_segv, NULL);
  sigaction(SIGBUS, &g_old_bus, NULL);
  sigaction(wp__deadline_signal(), &g_old_timer, NULL);
  g_installed = false;
  g_owner = NULL;
}
