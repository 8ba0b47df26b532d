/* compile.c — runs the compiler tools (wasm2c, cc) as child processes with
 * limits.
 *
 * No shell is involved: fork, then in the child only async-signal-safe calls
 * (setpgid, setrlimit, dup2, execvp) because the parent is multi-threaded.
 * posix_spawn cannot set rlimits, hence fork. The child leads its own process
 * group so that the wall-clock kill also ends cc's own children (cc1, as, ld).
 * stderr is captured through a pipe for the error message; a child killed by
 * SIGXCPU/SIGKILL, or one that reports running out of memory under RLIMIT_AS,
 * is a limit failure (WP_ECOMPILE_LIMIT), anything else non-zero is a compile
 * failure (WP_ECOMPILE).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

static void child_exec(const char *const argv[], const wp__spawn_limits *limits, int err_fd) {
  setpgid(0, 0);
  if (limits->cpu_seconds) {
    struct rlimit cpu = {limits->cpu_seconds, limits->cpu_seconds + 1};
    setrlimit(RLIMIT_CPU, &cpu);
  }
  if (limits->memory_bytes) {
    struct rlimit as = {limits->memory_bytes, limits->memory_bytes};
    setrlimit(RLIMIT_AS, &as);
  }
  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    dup2(null_fd, 0);
    dup2(null_fd, 1);
  }
  dup2(err_fd, 2);
  execvp(argv[0], (char *const *)argv);
  static const char msg[] = "exec failed\n";
  if (write(2, msg, sizeof(msg) - 1) < 0) {
    /* nothing left to report to */
  }
  _exit(127);
}

static bool mentions_out_of_memory(const char *text) {
  return strstr(text, "out of memory") || strstr(text, "memory exhausted") ||
         strstr(text, "Cannot allocate memory") || strstr(text, "std::bad_alloc");
}

int wp__spawn(const char *const argv[], const wp__spawn_limits *limits, char *stderr_buf,
              size_t stderr_cap, wp_error *err) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0)
    return wp__error(err, WP_ESYS, "%s: pipe: %s", argv[0], strerror(errno));
  pid_t pid = fork();
  if (pid < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return wp__error(err, WP_ESYS, "%s: fork: %s", argv[0], strerror(errno));
  }
  if (pid == 0)
    child_exec(argv, limits, pipe_fds[1]);
  close(pipe_fds[1]);
  /* Set from the parent too so the kill below cannot race the child's own
   * setpgid. */
  setpgid(pid, pid);

  size_t used = 0;
  bool killed_for_time = false;
  uint64_t deadline = limits->wall_ms ? now_ms() + limits->wall_ms : 0;
  for (;;) {
    int timeout = -1;
    if (deadline) {
      uint64_t now = now_ms();
      timeout = now >= deadline ? 0 : (int)(deadline - now);
    }
    struct pollfd pfd = {.fd = pipe_fds[0], .events = POLLIN};
    int ready = poll(&pfd, 1, timeout);
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready == 0) {
      killed_for_time = true;
      kill(-pid, SIGKILL);
      break;
    }
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
  if (killed_for_time)
    kill(-pid, SIGKILL);
  const char *captured = stderr_cap > 0 ? stderr_buf : "";
  if (killed_for_time)
    return wp__error(err, WP_ECOMPILE_LIMIT, "%s: killed after the wall-clock limit of %llu ms",
                     argv[0], (unsigned long long)limits->wall_ms);
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
  if (code == 127 && strstr(captured, "exec failed"))
    return wp__error(err, WP_ESYS, "%s: cannot execute", argv[0]);
  if (limits->memory_bytes && mentions_out_of_memory(captured))
    return wp__error(err, WP_ECOMPILE_LIMIT, "%s: out of memory under the limit of %llu bytes: %s",
                     argv[0], (unsigned long long)limits->memory_bytes, captured);
  /* cc reports a child (cc1) that died of SIGXCPU/SIGKILL as an internal
   * compiler error with the signal's name. */
  if (strstr(captured, "CPU time limit exceeded") || strstr(captured, "signal terminated program"))
    return wp__error(err, WP_ECOMPILE_LIMIT, "%s: a child hit the CPU limit: %s", argv[0],
                     captured);
  return wp__error(err, WP_ECOMPILE, "%s: exit status %d: %s", argv[0], code, captured);
}
