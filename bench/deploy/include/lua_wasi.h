/* lua_wasi.h — forced into every Lua 5.4 file (-include) by bench/deploy.sh
 * for its wasm32-wasi build.
 *
 * Lua raises errors with longjmp, which Debian 12's wasi-libc lacks, so a
 * Lua error (also one pcall would catch) aborts the program: the benchmark
 * scripts raise none. os.tmpname has no temporary directory to use. */
#ifndef WP_DEPLOY_LUA_WASI_H
#define WP_DEPLOY_LUA_WASI_H
#include <stdlib.h>
#define LUAI_THROW(L, c) abort()
#define LUAI_TRY(L, c, a) \
  { a }
#define luai_jmpbuf int
#define LUA_TMPNAMBUFSIZE 32
#define lua_tmpnam(b, e) \
  {                      \
    (void)(b);           \
    e = 1;               \
  }
#endif
