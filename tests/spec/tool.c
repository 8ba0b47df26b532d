/* tool.c — the runner's contact with the outside: starting wast2json and
 * wat2wasm (posix_spawn of an absolute path, never a shell, so odd file
 * names cannot be interpreted), the private temp directory wast2json writes
 * into, and reading module files.
 *
 * The tools are wabt 1.0.36 from the Debian 13 tool root
 * (scripts/toolroot.sh). They need trixie's glibc, so they are started as
 * arguments of the root's own dynamic loader with the root's library
 * directory, the same command line CMake uses (WP_WAST2JSON_CMD).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spec.h"

extern char **environ;

int wp_spec_tool_init(wp_spec_tool *tool, const char *toolroot, const char *name) {
  int a = snprintf(tool->libpath, sizeof tool->libpath, "%s/usr/lib/x86_64-linux-gnu", toolroot);
  int b = snprintf(tool->loader, sizeof tool->loader, "%s/ld-linux-x86-64.so.2", tool->libpath);
  int c = snprintf(tool->program, sizeof tool->program, "%s/usr/bin/%s", toolroot, name);
  if (a < 0 || b < 0 || c < 0 || (size_t)a >= sizeof tool->libpath ||
      (size_t)b >= sizeof tool->loader || (size_t)c >= sizeof tool->program)
    return WP_EINVAL;
  return 0;
}

void wp_spec_tool_argv(const wp_spec_tool *tool, const char *argv[4]) {
  argv[0] = tool->loader;
  argv[1] = "--library-path";
  argv[2] = tool->libpath;
  argv[3] = tool->program;
}

int wp_spec_spawn(const char *const argv[], const char *stderr_path, int *exit_status) {
  posix_spawn_file_actions_t actions;
  if (posix_spawn_file_actions_init(&actions) != 0)
    return WP_ESYS;
  int rc = 0;
  if (posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) != 0 ||
      posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) != 0 ||
      posix_spawn_file_actions_addopen(&actions, 2, stderr_path ? stderr_path : "/dev/null",
                                       O_WRONLY | O_CREAT | O_TRUNC, 0600) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return WP_ESYS;
  }
  pid_t pid;
  /* posix_spawn's argv is char *const[] for historical reasons; it is not
   * written to. */
  if (posix_spawn(&pid, argv[0], &actions, NULL, (char *const *)argv, environ) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return WP_ESYS;
  }
  posix_spawn_file_actions_destroy(&actions);

  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return WP_ESYS;
  }
  if (WIFEXITED(status))
    *exit_status = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    *exit_status = 128 + WTERMSIG(status);
  else
    rc = WP_ESYS;
  return rc;
}

int wp_spec_tempdir_create(char *path, size_t path_len) {
  const char *base = getenv("TMPDIR");
  if (base == NULL || base[0] == '\0')
    base = "/tmp";
  int n = snprintf(path, path_len, "%s/wasmpool-spec-XXXXXX", base);
  if (n < 0 || (size_t)n >= path_len)
    return WP_EINVAL;
  if (mkdtemp(path) == NULL)
    return WP_ESYS;
  return 0;
}

int wp_spec_tempdir_remove(const char *path) {
  DIR *dir = opendir(path);
  if (dir == NULL)
    return WP_ESYS;
  int rc = 0;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) {
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
      continue;
    if (unlinkat(dirfd(dir), entry->d_name, 0) != 0)
      rc = WP_ESYS;
  }
  closedir(dir);
  if (rmdir(path) != 0)
    rc = WP_ESYS;
  return rc;
}

int wp_spec_read_file(const char *path, uint8_t **bytes, size_t *length) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return WP_EIO;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return WP_EIO;
  }
  size_t size = (size_t)st.st_size;
  /* malloc(0) may return NULL; an empty module file is legitimate input for
   * assert_malformed. */
  uint8_t *buf = malloc(size ? size : 1);
  if (buf == NULL) {
    close(fd);
    return WP_ENOMEM;
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = read(fd, buf + done, size - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      free(buf);
      close(fd);
      return WP_EIO;
    }
    done += (size_t)n;
  }
  close(fd);
  *bytes = buf;
  *length = size;
  return 0;
}
