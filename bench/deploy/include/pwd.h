/* pwd.h — wasi-libc has no user database; sqlite3's shell.c includes this
 * header to find a home directory for ~/.sqliterc. No user, no home: the
 * shell then says it cannot read ~/.sqliterc (on stderr) and goes on.
 * Used only by bench/deploy.sh's wasm32-wasi builds. */
#ifndef WP_DEPLOY_PWD_H
#define WP_DEPLOY_PWD_H
#include <sys/types.h>
struct passwd {
  char *pw_name;
  char *pw_dir;
};
static inline struct passwd *getpwuid(uid_t uid) {
  (void)uid;
  return 0;
}
static inline uid_t getuid(void) { return 0; }
#endif
