/* lua_wasi.h — forced into every Lua 5.4 file (-include) of the
 * examples/lua guest (wasm32-wasi, Debian 12's clang and wasi-libc).
 *
 * Errors: Lua raises them with longjmp, which Debian 12's wasi-libc does not
 * have (WebAssembly needs the exception-handling proposal for it). So a
 * raised Lua error, including one that pcall would catch, calls abort(),
 * which is `unreachable` in WebAssembly: the request traps
 * (502 trap_unreachable) and the daemon throws the instance away. app.lua is
 * written not to raise.
 *
 * Seed: Lua seeds its string hashes from time() and addresses. A fixed seed
 * makes table layout, and so any output that depends on it, the same in
 * every instance whether the state was built at deploy (snapshot, Wizer) or
 * in the request.
 *
 * l_signalT: the type of the hook flags lua_sethook may set from a signal
 * handler. WASI has no signals; a plain int keeps <signal.h> (and its
 * emulation library) out.
 *
 * l_randomizePivot: table.sort re-randomises its pivot from clock() and
 * time() when a sort degenerates. WASI has no process clock; a constant
 * keeps sorting deterministic too (it stays O(n log n) on ordinary input,
 * only an adversarial one can make it quadratic). */
#ifndef WP_EXAMPLES_LUA_WASI_H
#define WP_EXAMPLES_LUA_WASI_H
#include <stdlib.h>
#define LUAI_THROW(L, c) abort()
#define LUAI_TRY(L, c, a)                                                                          \
  { a }
#define luai_jmpbuf        int
#define luai_makeseed(L)   0x2545f491u
#define l_signalT          int
#define l_randomizePivot() 0x9e3779b9u
#endif
