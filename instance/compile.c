/* compile.c — runs the compiler tools (wasm2c, cc) as child processes with
 * limits.
 *
 * No shell is involved: posix_spawnp (no fork of a daemon whose address
 * space holds every pooled slot) of util-linux's prlimit(1), which sets the
 * CPU and address-space limits on itself and execs the tool, so the tool
 * and its own children (cc1, as, ld) run under them from the first
 * instruction (posix_spawn cannot set rlimits, and prlimit(2) after the
 * spawn would race cc's fork of cc1). The child leads its own process group so that the
 * wall-clock kill also ends those children.
 * stderr is captured through a pipe for the error message; a child killed by
 * SIGXCPU/SIGKILL, or one that reports running out of memory under RLIMIT_AS,
 * is a limit failure (WP_ECOMPILE_LIMIT), anything else non-zero is a compile
 * failure (WP_ECOMPILE).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime_internal.h"

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

extern char **environ;

/* Starts argv with stdin/stdout on /dev/null, stderr into err_fd, in its own
 * process group. */
static int start_child(const char *const argv[], int err_fd, pid_t *pid) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  int rc = posix_spawnp(pid, argv[0], &actions, &attr, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc;
}

/* What a tool says when RLIMIT_AS stops it: an allocation failure, or the
 * dynamic loader unable to map a library at all. */
static bool mentions_out_of_memory(const char *text) {
  return strstr(text, "out of memory") || strstr(text, "memory exhausted") ||
         strstr(text, "Cannot allocate memory") || strstr(text, "std::bad_alloc") ||
         strstr(text, "failed to map segment");
}

int wp__spawn(const char *const argv[], const wp__spawn_limits *limits, char *stderr_buf,
              size_t stderr_cap, wp_error *err) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0)
    return wp__error(err, WP_ESYS, "%s: pipe: %s", argv[0], strerror(errno));
  /* The limits must be in place before the tool runs, or cc could fork
   * cc1 without them: util-linux's prlimit sets them on itself and execs
   * the tool (still no shell). */
  const char *full_argv[64];
  char cpu_arg[64], as_arg[64];
  size_t n = 0;
  if (limits->cpu_seconds || limits->memory_bytes) {
    full_argv[n++] = "prlimit";
    if (limits->cpu_seconds) {
      snprintf(cpu_arg, sizeof(cpu_arg), "--cpu=%llu:%llu", (unsigned long long)limits->cpu_seconds,
               (unsigned long long)limits->cpu_seconds + 1);
      full_argv[n++] = cpu_arg;
    }
    if (limits->memory_bytes) {
      snprintf(as_arg, sizeof(as_arg), "--as=%llu", (unsigned long long)limits->memory_bytes);
      full_argv[n++] = as_arg;
    }
    full_argv[n++] = "--";
  }
  for (size_t i = 0; argv[i] && n < 63; i++)
    full_argv[n++] = argv[i];
  full_argv[n] = NULL;
  pid_t pid;
  int spawn_rc = start_child(full_argv, pipe_fds[1], &pid);
  close(pipe_fds[1]);
  if (spawn_rc != 0) {
    close(pipe_fds[0]);
    return wp__error(err, WP_ESYS, "%s: cannot execute: %s", full_argv[0], strerror(spawn_rc));
  }

  size_t used = 0;
  bool killed_for_time = false, cancelled = false;
  uint64_t deadline = limits->wall_ms ? now_ms() + limits->wall_ms : 0;
  for (;;) {
    int timeout = -1;
    if (deadline) {
      uint64_t now = now_ms();
      timeout = now >= deadline ? 0 : (int)(deadline - now);
    }
    if (limits->cancel && (timeout < 0 || timeout > 100))
      timeout = 100;
    if (limits->cancel && atomic_load(limits->cancel)) {
      cancelled = true;
      kill(-pid, SIGKILL);
      break;
    }
    struct pollfd pfd = {.fd = pipe_fds[0], .events = POLLIN};
    int ready = poll(&pfd, 1, timeout);
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready == 0 && deadline && now_ms() >= deadline) {
      killed_for_time = true;
      kill(-pid, SIGKILL);
      break;
    }
    if (ready == 0)
      continue;
    char chunk[4096];
    ssize_t got = read(pipe_fds[0], chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      break;
    size_t keep = (size_t)got;
    if (stderr_cap > 0 && used + keep > stderr_cap - 1)
      keep = stderr_cap - 1 - used;
    if (stderr_cap > 0) {
      memcpy(stderr_buf + used, chunk, keep);
      used += keep;
    }
  }
  close(pipe_fds[0]);
  if (stderr_cap > 0)
    stderr_buf[used] = '\0';

  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return wp__error(err, WP_ESYS, "%s: waitpid: %s", argv[0], strerror(errno));
  }
  /* Reap what is left of the group (cc's children) after a kill. */
  if (killed_for_time || cancelled)
    kill(-pid, SIGKILL);
  if (cancelled)
    return wp__error(err, WP_ESHUTTING_DOWN, "%s: cancelled", argv[0]);
  const char *captured = stderr_cap > 0 ? stderr_buf : "";
  if (killed_for_time)
    return wp__error(err, WP_ECOMPILE_LIMIT, "%s: killed after the wall-clock limit of %llu ms",
                     argv[0], (unsigned long long)limits->wall_ms);
  bool succeeded = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!succeeded && limits->memory_bytes && mentions_out_of_memory(captured))
    return wp__error(err, WP_ECOMPILE_LIMIT, "%s: out of memory under the limit of %llu bytes: %s",
                     argv[0], (unsigned long long)limits->memory_bytes, captured);
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    if (sig == SIGXCPU || sig == SIGKILL)
      return wp__error(err, WP_ECOMPILE_LIMIT, "%s: killed by signal %d (CPU limit %llu s)",
                       argv[0], sig, (unsigned long long)limits->cpu_seconds);
    /* wasm2c and cc1 recurse over nested blocks: a valid but deeply nested
     * module makes them die of SIGSEGV on their stack limit. The compiler
     * ran out of a resource; the module is not at fault. */
    if (sig == SIGSEGV)
      return wp__error(err, WP_ECOMPILE_LIMIT, "%s: killed by signal %d (stack exhausted)", argv[0],
                       sig);
    return wp__error(err, WP_ECOMPILE, "%s: killed by signal %d: %s", argv[0], sig, captured);
  }
  int code = WEXITSTATUS(status);
  if (code == 0)
    return 0;
  /* cc reports a child (cc1) that died of SIGXCPU/SIGKILL as an internal
   * compiler error with the signal's name. */
  if (strstr(captured, "CPU time limit exceeded") || strstr(captured, "signal terminated program"))
    return wp__error(err, WP_ECOMPILE_LIMIT, "%s: a child was killed by a CPU or memory limit: %s",
                     argv[0], captured);
  return wp__error(err, WP_ECOMPILE, "%s: exit status %d: %s", argv[0], code, captured);
}
