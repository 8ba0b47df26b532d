/* sqlite_vfs.c — the operating-system layer of bench/deploy.sh's wasm32-wasi
 * sqlite3 (built with SQLITE_OS_OTHER=1).
 *
 * sqlite 3.40's os_unix.c needs POSIX advisory locks, fchown and friends,
 * which WASI does not have (3.41 added a WASI port). A wasmpool guest has no
 * file system anyway, so this VFS opens no files: databases live in memory
 * (":memory:", SQLITE_TEMP_STORE=3 for temporary tables), and the VFS only
 * supplies time, sleep and randomness. Randomness is a fixed sequence so
 * that a script's output is the same on every engine and every run. */
#include <string.h>
#include <time.h>

#include "sqlite3.h"

static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
                    int *out_flags) {
  (void)vfs;
  (void)name;
  (void)flags;
  (void)out_flags;
  file->pMethods = NULL;
  return SQLITE_CANTOPEN;
}

static int vfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
  (void)vfs;
  (void)name;
  (void)sync_dir;
  return SQLITE_OK;
}

static int vfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *result) {
  (void)vfs;
  (void)name;
  (void)flags;
  *result = 0;
  return SQLITE_OK;
}

static int vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int out_length, char *out) {
  (void)vfs;
  sqlite3_snprintf(out_length, out, "%s", name);
  return SQLITE_OK;
}

static int vfs_randomness(sqlite3_vfs *vfs, int length, char *out) {
  (void)vfs;
  for (int i = 0; i < length; i++)
    out[i] = (char)(i * 131 + 7);
  return length;
}

static int vfs_sleep(sqlite3_vfs *vfs, int microseconds) {
  (void)vfs;
  return microseconds;
}

/* Milliseconds since the Julian epoch, as sqlite wants. */
static int vfs_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
  (void)vfs;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  *out = 210866760000000LL + (sqlite3_int64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  return SQLITE_OK;
}

static int vfs_current_time(sqlite3_vfs *vfs, double *out) {
  sqlite3_int64 ms;
  vfs_current_time_int64(vfs, &ms);
  *out = (double)ms / 86400000.0;
  return SQLITE_OK;
}

static int vfs_last_error(sqlite3_vfs *vfs, int length, char *out) {
  (void)vfs;
  (void)length;
  (void)out;
  return 0;
}

static sqlite3_vfs memory_only_vfs = {
    .iVersion = 2,
    .szOsFile = sizeof(sqlite3_file),
    .mxPathname = 512,
    .zName = "memory-only",
    .xOpen = vfs_open,
    .xDelete = vfs_delete,
    .xAccess = vfs_access,
    .xFullPathname = vfs_full_pathname,
    .xRandomness = vfs_randomness,
    .xSleep = vfs_sleep,
    .xCurrentTime = vfs_current_time,
    .xGetLastError = vfs_last_error,
    .xCurrentTimeInt64 = vfs_current_time_int64,
};

int sqlite3_os_init(void) { return sqlite3_vfs_register(&memory_only_vfs, 1); }

int sqlite3_os_end(void) { return SQLITE_OK; }
