/* wasi_stubs.c — POSIX calls wasi-libc does not provide and the Debian
 * programs bench/deploy.sh builds still reference (sqlite3's shell, Lua's
 * io/os libraries, bzip2's file mode): each fails with ENOSYS, as on a
 * system without them. None is reached on the benchmarks' stdin-to-stdout
 * paths. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

int chmod(const char *path, mode_t mode) {
  (void)path;
  (void)mode;
  errno = ENOSYS;
  return -1;
}

int fchmod(int fd, mode_t mode) {
  (void)fd;
  (void)mode;
  errno = ENOSYS;
  return -1;
}

int fchown(int fd, uid_t owner, gid_t group) {
  (void)fd;
  (void)owner;
  (void)group;
  errno = ENOSYS;
  return -1;
}

FILE *tmpfile(void) {
  errno = ENOSYS;
  return NULL;
}

/* system(NULL) asks whether a shell exists: none. */
int system(const char *command) {
  errno = ENOSYS;
  return command ? -1 : 0;
}
