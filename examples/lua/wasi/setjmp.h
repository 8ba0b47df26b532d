/* setjmp.h — Debian 12's wasi-libc has no setjmp/longjmp. lua_wasi.h makes
 * Lua raise errors with abort() instead, so nothing here is used; the header
 * only has to exist for ldo.c's #include. */
#ifndef WP_EXAMPLES_LUA_SETJMP_H
#define WP_EXAMPLES_LUA_SETJMP_H
#endif
