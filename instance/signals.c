/* signals.c — where guest code runs and how it is stopped: guest stacks,
 * the fault handlers, and the trap unwind.
 *
 * Guest stack: every call into guest code runs on a stack this thread owns
 * (guest_stack_bytes, mmap'd once per thread, with a PROT_NONE guard at its
 * low end), entered with makecontext/setcontext: no assembly, and the
 * caller's own stack (main thread, libuv worker, Criterion runner) never
 * matters. The generated code is compiled with -fstack-clash-protection, so
 * deep recursion and one huge frame alike fault on that guard. The switch is
 * announced to ASan (__sanitizer_{start,finish}_switch_fiber) in sanitizer
 * builds.
 *
 * Traps: the entry on the guest stack sigsetjmp()s a per-call buffer; traps,
 * uncaught exceptions, proc_exit and the fault handlers siglongjmp() to it
 * with the WP_E* code, then the entry returns and uc_link resumes the host
 * context (whose signal mask getcontext saved, so a mask left by a handler
 * is restored there).
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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "runtime_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define WP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WP_ASAN 1
#endif
#endif
#ifdef WP_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#define STACK_GUARD_BYTES ((size_t)64 * 1024)
#define ALTSTACK_BYTES    ((size_t)256 * 1024)

static __thread wp__thread *tls_thread;
static struct sigaction g_old_segv, g_old_bus, g_old_timer;
static bool g_installed;

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
  tls_thread = t;
  /* The key's destructor frees this at thread exit. */
  pthread_setspecific(rt->thread_key, t);
  return t;
}

_Noreturn void wp__guest_unwind(int code) {
  wp__thread *t = tls_thread;
  siglongjmp(*t->trap_jb, -code);
}

static void guest_main(void) {
  wp__thread *t = tls_thread;
#ifdef WP_ASAN
  __sanitizer_finish_switch_fiber(NULL, &t->host_stack_bottom, &t->host_stack_size);
#endif
  sigjmp_buf jb;
  int code = sigsetjmp(jb, 0);
  if (code == 0) {
    t->trap_jb = &jb;
    t->unwind_target = &jb;
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
#ifdef WP_ASAN
  __sanitizer_start_switch_fiber(NULL, t->host_stack_bottom, t->host_stack_size);
#endif
  /* Returning resumes uc_link, the host context. */
}

int wp__guest_call(wp__thread *t, uint64_t deadline_ms, void (*entry)(void *arg), void *arg) {
  if (t->in_guest)
    return WP_EINVAL; /* no re-entry: host functions never call back into guests */
  ucontext_t *host = t->host_ctx, *guest = t->guest_ctx;
  t->entry = entry;
  t->entry_arg = arg;
  t->entry_result = 0;
  t->trap_detail[0] = '\0';
  t->timeout_pending = 0;
  if (getcontext(guest) != 0)
    return WP_ESYS;
  guest->uc_stack.ss_sp = t->stack_base + t->stack_guard;
  guest->uc_stack.ss_size = t->stack_bytes;
  guest->uc_link = host;
  makecontext(guest, guest_main, 0);
  if (deadline_ms) {
    int rc = wp__deadline_arm(t, deadline_ms);
    if (rc != 0)
      return rc;
  }
  /* getcontext + setcontext rather than swapcontext: the same switch, but
   * ASan intercepts only swapcontext (and warns on every call). The guest
   * entry returns through uc_link, which resumes getcontext a second time. */
  volatile bool entered = false;
  int rc = getcontext(host);
  if (rc == 0 && !entered) {
    entered = true;
#ifdef WP_ASAN
    __sanitizer_start_switch_fiber(&t->asan_fake_stack, t->stack_base + t->stack_guard,
                                   t->stack_bytes);
#endif
    setcontext(guest);
    rc = -1; /* setcontext returns only on failure */
  }
#ifdef WP_ASAN
  if (rc == 0)
    __sanitizer_finish_switch_fiber(t->asan_fake_stack, NULL, NULL);
#endif
  if (deadline_ms)
    wp__deadline_disarm(t);
  t->timeout_pending = 0;
  if (rc != 0)
    return WP_ESYS;
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
      siglongjmp(*t->trap_jb, -WP_ETRAP_STACK);
    }
    if (!t->in_host && wp__guard_contains(addr))
      siglongjmp(*t->trap_jb, -WP_ETRAP_OOB);
  }
  die_with(sig);
}

static void on_timer(int sig, siginfo_t *info, void *uctx) {
  (void)sig;
  (void)info;
  (void)uctx;
  wp__thread *t = tls_thread;
  if (!t || !t->deadline_armed)
    return;
  if (t->in_guest && !t->in_host) {
    t->deadline_armed = 0;
    siglongjmp(*t->trap_jb, -WP_ETIMEOUT);
  }
  /* In a host call, or not yet in the guest: taken when it returns. */
  t->timeout_pending = 1;
}

int wp__signals_install(struct wp_runtime *rt, wp_error *err) {
  (void)rt;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, wp__deadline_signal());
  if (sigaction(SIGSEGV, &sa, &g_old_segv) != 0 || sigaction(SIGBUS, &sa, &g_old_bus) != 0)
    return wp__error(err, WP_ESYS, "sigaction: %s", strerror(errno));
  sa.sa_sigaction = on_timer;
  sigemptyset(&sa.sa_mask);
  if (sigaction(wp__deadline_signal(), &sa, &g_old_timer) != 0)
    return wp__error(err, WP_ESYS, "sigaction: %s", strerror(errno));
  g_installed = true;
  return 0;
}

void wp__signals_uninstall(struct wp_runtime *rt) {
  if (tls_thread && tls_thread->rt == rt) {
    wp__thread *t = tls_thread;
    pthread_setspecific(rt->thread_key, NULL);
    wp__thread_free(t);
  }
  if (!g_installed)
    return;
  sigaction(SIGSEGV, &g_old_segv, NULL);
  sigaction(SIGBUS, &g_old_bus, NULL);
  sigaction(wp__deadline_signal(), &g_old_timer, NULL);
  g_installed = false;
}
