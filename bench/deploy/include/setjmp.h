/* setjmp.h — Debian 12's wasi-libc has no setjmp/longjmp (Wasm needs the
 * exception-handling proposal for them). lua_wasi.h makes Lua raise errors
 * with abort() instead, so nothing here is used; the header only has to
 * exist for ldo.c's #include. Used only by bench/deploy.sh. */
#ifndef WP_DEPLOY_SETJMP_H
#define WP_DEPLOY_SETJMP_H
#endif
