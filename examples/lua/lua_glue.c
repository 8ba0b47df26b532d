/* lua_glue.c — the examples/lua guest: Lua 5.4 (Debian's lua5.4 source,
 * fetched by scripts/debsrc.sh, never committed) serving requests from the
 * state that app.lua builds.
 *
 * Exports:
 *   wizer.initialize  () -> ()   creates the lua_State, opens base, coroutine,
 *                                table, string, math and utf8, and runs
 *                                app.lua (embedded at build time). Run once at
 *                                deploy by a snapshotting host or by Wizer, its
 *                                memory and globals become every instance's
 *                                start state. Compiled with
 *                                -DWP_LUA_INIT_EXPORT=lua_init for
 *                                lua_nosnap.wasm: the same code under a name no
 *                                host runs by itself.
 *   handle(i32) -> i32           app.lua's handle(n): a checksum of request
 *                                n's JSON line.
 *   served() -> i32              how many handle calls this instance served.
 *   _start                       WASI entry: stdin holds request numbers,
 *                                stdout gets app.lua's respond(stdin).
 *
 * Every request export starts with app_init(), which does nothing when the
 * state exists (it came with the snapshot) and otherwise runs the whole
 * start-up first (lazy init). So a module deployed without snapshot answers
 * the same, paying the start-up in each request: that is what the benchmark
 * compares.
 *
 * Linked with -nostartfiles (no crt1: no _start or _initialize of wasi-libc's),
 * so nothing runs before an export; app_init() runs the C constructors itself,
 * the way Wizer's WIZER_INIT does.
 *
 * A Lua error aborts (wasi/lua_wasi.h): a trap for the request, never a
 * half-built state, since a trapped instance is discarded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#include "app_lua.h" /* generated from app.lua: wp_app_lua, wp_app_lua_size */

#ifndef WP_LUA_INIT_EXPORT
#define WP_LUA_INIT_EXPORT "wizer.initialize"
#endif

/* Synthesised by wasm-ld: runs the C constructors (wasi-libc's among them). */
void __wasm_call_ctors(void);

/* The interpreter. NULL until app_init() has run in this instance, or in the
 * instance whose memory the snapshot holds. Guest-global by nature: one
 * instance, one interpreter. */
static lua_State *app_state;

/* Only libraries WASI can back: no io, os (os.execute, io.popen, tmpname),
 * package (dynamic loading) or debug. */
static const luaL_Reg app_libs[] = {
    {LUA_GNAME, luaopen_base},
    {LUA_COLIBNAME, luaopen_coroutine},
    {LUA_TABLIBNAME, luaopen_table},
    {LUA_STRLIBNAME, luaopen_string},
    {LUA_MATHLIBNAME, luaopen_math},
    {LUA_UTF8LIBNAME, luaopen_utf8},
    {NULL, NULL},
};

static lua_State *app_init(void) {
  if (app_state)
    return app_state;
  __wasm_call_ctors();
  lua_State *L = luaL_newstate();
  if (!L)
    abort();
  for (const luaL_Reg *lib = app_libs; lib->func; lib++) {
    luaL_requiref(L, lib->name, lib->func, 1);
    lua_pop(L, 1);
  }
  /* A syntax error or a runtime error in app.lua aborts (no longjmp). */
  if (luaL_loadbufferx(L, wp_app_lua, wp_app_lua_size, "=app.lua", "t") != LUA_OK)
    abort();
  lua_call(L, 0, 0);
  app_state = L;
  return L;
}

__attribute__((export_name(WP_LUA_INIT_EXPORT))) void wp_lua_initialize(void) {
  app_init();
}

__attribute__((export_name("handle"))) int32_t wp_lua_handle(int32_t n) {
  lua_State *L = app_init();
  lua_getglobal(L, "handle");
  lua_pushinteger(L, n);
  lua_call(L, 1, 1);
  int32_t result = (int32_t)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return result;
}

__attribute__((export_name("served"))) int32_t wp_lua_served(void) {
  lua_State *L = app_init();
  lua_getglobal(L, "count");
  lua_call(L, 0, 1);
  int32_t result = (int32_t)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return result;
}

__attribute__((export_name("_start"))) void wp_lua_start(void) {
  lua_State *L = app_init();
  luaL_Buffer body;
  luaL_buffinit(L, &body);
  for (;;) {
    char *chunk = luaL_prepbuffer(&body);
    size_t got = fread(chunk, 1, LUAL_BUFFERSIZE, stdin);
    luaL_addsize(&body, got);
    if (got < LUAL_BUFFERSIZE)
      break;
  }
  luaL_pushresult(&body);
  lua_getglobal(L, "respond");
  lua_insert(L, -2);
  lua_call(L, 1, 1);
  size_t length = 0;
  const char *out = lua_tolstring(L, -1, &length);
  fwrite(out, 1, length, stdout);
  fflush(stdout);
  lua_pop(L, 1);
}
