/* wasi.h — WASI preview1 ("wasi_snapshot_preview1") host functions, private
 * to instance/.
 *
 * One wp__wasi_ctx per instance holds what the guest sees of the outside
 * world: its args and environment, a stdin buffer, bounded stdout/stderr
 * capture, and the exit code. The struct is defined here so the instance can
 * embed it; init/free own everything it points to.
 *
 * Binding: the runtime resolves each import of "wasi_snapshot_preview1" with
 * wp__wasi_lookup() and checks the import's type against the entry's
 * params/results strings ("i" = i32, "I" = i64; results "" = none). Every
 * function takes the ctx first (wasm2c passes the imported module's instance
 * pointer there), then one uint32_t per i32 and one uint64_t per i64 param,
 * and returns a WASI errno (0 = success). Every name of the preview1 list is
 * in the table so wasi-libc programs link; those we do not implement answer
 * ENOSYS (52).
 *
 * Guest memory: every pointer and length the guest passes is checked against
 * the size of the memory set with wp__wasi_ctx_set_memory() using 64-bit
 * arithmetic; outside it the call answers EFAULT (21) and the host touches
 * nothing. Without a memory, anything that needs one answers EFAULT. These
 * functions never call a wasm_rt_* function; wasm-rt.h is included for the
 * memory type only.
 *
 * proc_exit records the code, then calls the exit hook, which must not return
 * (the runtime unwinds the guest, e.g. with siglongjmp). If no hook is set, or
 * it returns, proc_exit returns to the guest; wasi-libc follows the import
 * with `unreachable`, so the guest traps rather than running on.
 *
 * A ctx is used by one thread at a time (the thread running its instance).
 */
#ifndef WP_WASI_H
#define WP_WASI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wasm-rt.h>

#include "instance.h"

/* WASI errno values the host functions answer (wasi/api.h numbering). */
#define WP__WASI_ESUCCESS 0
#define WP__WASI_EBADF    8
#define WP__WASI_EFAULT   21
#define WP__WASI_EINVAL   28
#define WP__WASI_EIO      29
#define WP__WASI_ENOSYS   52
#define WP__WASI_ESPIPE   70

/* Output limit used when the config gives none (or 0). */
#define WP__WASI_DEFAULT_OUTPUT_LIMIT ((size_t)64 * 1024)
/* Longest single sleep of poll_oneoff unless the runtime sets another. */
#define WP__WASI_DEFAULT_MAX_SLEEP_NS ((uint64_t)1000 * 1000 * 1000)

/* A captured output stream. bytes grows on demand up to limit, so an idle
 * instance costs no buffer. */
typedef struct wp__wasi_output {
  uint8_t *bytes;
  size_t length;   /* bytes kept */
  size_t capacity; /* bytes allocated */
  size_t limit;    /* most bytes ever kept */
  bool truncated;  /* some bytes were dropped at the limit */
} wp__wasi_output;

/* Called by proc_exit after it recorded the code; must not return. */
typedef void (*wp__wasi_exit_hook)(void *arg, uint32_t code);

typedef struct wp__wasi_ctx {
  wasm_rt_memory_t *memory; /* the guest's exported "memory"; NULL: none */

  /* args and environment as NUL-terminated strings laid end to end, the
   * layout args_get/environ_get copy into the guest. */
  char *args_buf;
  uint32_t args_count, args_buf_size;
  char *env_buf;
  uint32_t env_count, env_buf_size;

  uint8_t *stdin_bytes;
  size_t stdin_length, stdin_offset;

  wp__wasi_output out, err;
  bool stdio_closed[3]; /* fd_close on 0..2 makes later use EBADF */

  bool exited;
  uint32_t exit_code;
  wp__wasi_exit_hook exit_hook;
  void *exit_hook_arg;

  /* poll_oneoff sleeps at most this long per call (a guest cannot hold a
   * worker for long); the runtime may lower it to the time left before the
   * deadline. When interrupt is set and becomes nonzero (e.g. from the
   * deadline timer's signal handler), a sleep in progress ends early. */
  uint64_t max_sleep_ns;
  volatile sig_atomic_t *interrupt;
} wp__wasi_ctx;

/* Copies args, env and stdin from cfg. NULL cfg: empty args/env/stdin and
 * 64 KiB output limits; a limit of 0 also means 64 KiB. argv/envp entries
 * must not be NULL. Returns 0, WP_EINVAL, WP_ENOMEM, or WP_ELIMIT when the
 * args or env do not fit the guest's 32-bit sizes. On failure nothing needs
 * freeing (free is still safe). */
int wp__wasi_ctx_init(wp__wasi_ctx *ctx, const wp_wasi_config *cfg);
void wp__wasi_ctx_free(wp__wasi_ctx *ctx);
void wp__wasi_ctx_set_memory(wp__wasi_ctx *ctx, wasm_rt_memory_t *memory);
void wp__wasi_ctx_set_exit_hook(wp__wasi_ctx *ctx, wp__wasi_exit_hook hook, void *arg);

/* Captured output so far; valid until the next guest write or free. Never
 * NULL (an empty stream gives a pointer to no bytes). */
const uint8_t *wp__wasi_stdout(const wp__wasi_ctx *ctx, size_t *length, bool *truncated);
const uint8_t *wp__wasi_stderr(const wp__wasi_ctx *ctx, size_t *length, bool *truncated);
/* True once the guest called proc_exit; *code (if not NULL) gets its code. */
bool wp__wasi_exited(const wp__wasi_ctx *ctx, uint32_t *code);

/* ---- Binding table -------------------------------------------------------- */

typedef struct wp__wasi_func {
  const char *name;    /* import field name in "wasi_snapshot_preview1" */
  const char *params;  /* "i" = i32, "I" = i64, in order, after the ctx */
  const char *results; /* "i" or "" (proc_exit) */
  void (*fn)(void);    /* cast to its real signature before calling */
} wp__wasi_func;

extern const wp__wasi_func wp__wasi_funcs[];
extern const size_t wp__wasi_func_count;

/* The entry named name[0..length), or NULL. */
const wp__wasi_func *wp__wasi_lookup(const char *name, size_t length);

/* ---- Host functions (implemented) ----------------------------------------- */

uint32_t wp__wasi_args_get(wp__wasi_ctx *ctx, uint32_t argv, uint32_t argv_buf);
uint32_t wp__wasi_args_sizes_get(wp__wasi_ctx *ctx, uint32_t argc_out, uint32_t buf_size_out);
uint32_t wp__wasi_environ_get(wp__wasi_ctx *ctx, uint32_t environ, uint32_t environ_buf);
uint32_t wp__wasi_environ_sizes_get(wp__wasi_ctx *ctx, uint32_t count_out, uint32_t buf_size_out);
uint32_t wp__wasi_clock_res_get(wp__wasi_ctx *ctx, uint32_t id, uint32_t res_out);
uint32_t wp__wasi_clock_time_get(wp__wasi_ctx *ctx, uint32_t id, uint64_t precision,
                                 uint32_t time_out);
uint32_t wp__wasi_random_get(wp__wasi_ctx *ctx, uint32_t buf, uint32_t buf_len);
void wp__wasi_proc_exit(wp__wasi_ctx *ctx, uint32_t code);
uint32_t wp__wasi_sched_yield(wp__wasi_ctx *ctx);
uint32_t wp__wasi_poll_oneoff(wp__wasi_ctx *ctx, uint32_t in, uint32_t out, uint32_t nsubscriptions,
                              uint32_t nevents_out);
uint32_t wp__wasi_fd_write(wp__wasi_ctx *ctx, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                           uint32_t nwritten_out);
uint32_t wp__wasi_fd_read(wp__wasi_ctx *ctx, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                          uint32_t nread_out);
uint32_t wp__wasi_fd_fdstat_get(wp__wasi_ctx *ctx, uint32_t fd, uint32_t fdstat_out);
uint32_t wp__wasi_fd_close(wp__wasi_ctx *ctx, uint32_t fd);
uint32_t wp__wasi_fd_seek(wp__wasi_ctx *ctx, uint32_t fd, uint64_t offset, uint32_t whence,
                          uint32_t newoffset_out);
uint32_t wp__wasi_fd_prestat_get(wp__wasi_ctx *ctx, uint32_t fd, uint32_t prestat_out);
uint32_t wp__wasi_fd_prestat_dir_name(wp__wasi_ctx *ctx, uint32_t fd, uint32_t path,
                                      uint32_t path_len);

/* ---- Host functions answering ENOSYS --------------------------------------- */

uint32_t wp__wasi_fd_advise(wp__wasi_ctx *ctx, uint32_t fd, uint64_t offset, uint64_t len,
                            uint32_t advice);
uint32_t wp__wasi_fd_allocate(wp__wasi_ctx *ctx, uint32_t fd, uint64_t offset, uint64_t len);
uint32_t wp__wasi_fd_datasync(wp__wasi_ctx *ctx, uint32_t fd);
uint32_t wp__wasi_fd_fdstat_set_flags(wp__wasi_ctx *ctx, uint32_t fd, uint32_t flags);
uint32_t wp__wasi_fd_fdstat_set_rights(wp__wasi_ctx *ctx, uint32_t fd, uint64_t base,
                                       uint64_t inheriting);
uint32_t wp__wasi_fd_filestat_get(wp__wasi_ctx *ctx, uint32_t fd, uint32_t filestat_out);
uint32_t wp__wasi_fd_filestat_set_size(wp__wasi_ctx *ctx, uint32_t fd, uint64_t size);
uint32_t wp__wasi_fd_filestat_set_times(wp__wasi_ctx *ctx, uint32_t fd, uint64_t atim,
                                        uint64_t mtim, uint32_t fst_flags);
uint32_t wp__wasi_fd_pread(wp__wasi_ctx *ctx, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                           uint64_t offset, uint32_t nread_out);
uint32_t wp__wasi_fd_pwrite(wp__wasi_ctx *ctx, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                            uint64_t offset, uint32_t nwritten_out);
uint32_t wp__wasi_fd_readdir(wp__wasi_ctx *ctx, uint32_t fd, uint32_t buf, uint32_t buf_len,
                             uint64_t cookie, uint32_t bufused_out);
uint32_t wp__wasi_fd_renumber(wp__wasi_ctx *ctx, uint32_t fd, uint32_t to);
uint32_t wp__wasi_fd_sync(wp__wasi_ctx *ctx, uint32_t fd);
uint32_t wp__wasi_fd_tell(wp__wasi_ctx *ctx, uint32_t fd, uint32_t offset_out);
uint32_t wp__wasi_path_create_directory(wp__wasi_ctx *ctx, uint32_t fd, uint32_t path,
                                        uint32_t path_len);
uint32_t wp__wasi_path_filestat_get(wp__wasi_ctx *ctx, uint32_t fd, uint32_t flags, uint32_t path,
                                    uint32_t path_len, uint32_t filestat_out);
uint32_t wp__wasi_path_filestat_set_times(wp__wasi_ctx *ctx, uint32_t fd, uint32_t flags,
                                          uint32_t path, uint32_t path_len, uint64_t atim,
                                          uint64_t mtim, uint32_t fst_flags);
uint32_t wp__wasi_path_link(wp__wasi_ctx *ctx, uint32_t old_fd, uint32_t old_flags,
                            uint32_t old_path, uint32_t old_path_len, uint32_t new_fd,
                            uint32_t new_path, uint32_t new_path_len);
uint32_t wp__wasi_path_open(wp__wasi_ctx *ctx, uint32_t fd, uint32_t dirflags, uint32_t path,
                            uint32_t path_len, uint32_t oflags, uint64_t rights_base,
                            uint64_t rights_inheriting, uint32_t fdflags, uint32_t fd_out);
uint32_t wp__wasi_path_readlink(wp__wasi_ctx *ctx, uint32_t fd, uint32_t path, uint32_t path_len,
                                uint32_t buf, uint32_t buf_len, uint32_t bufused_out);
uint32_t wp__wasi_path_remove_directory(wp__wasi_ctx *ctx, uint32_t fd, uint32_t path,
                                        uint32_t path_len);
uint32_t wp__wasi_path_rename(wp__wasi_ctx *ctx, uint32_t fd, uint32_t old_path,
                              uint32_t old_path_len, uint32_t new_fd, uint32_t new_path,
                              uint32_t new_path_len);
uint32_t wp__wasi_path_symlink(wp__wasi_ctx *ctx, uint32_t old_path, uint32_t old_path_len,
                               uint32_t fd, uint32_t new_path, uint32_t new_path_len);
uint32_t wp__wasi_path_unlink_file(wp__wasi_ctx *ctx, uint32_t fd, uint32_t path,
                                   uint32_t path_len);
uint32_t wp__wasi_proc_raise(wp__wasi_ctx *ctx, uint32_t sig);
uint32_t wp__wasi_sock_accept(wp__wasi_ctx *ctx, uint32_t fd, uint32_t flags, uint32_t fd_out);
uint32_t wp__wasi_sock_recv(wp__wasi_ctx *ctx, uint32_t fd, uint32_t ri_data, uint32_t ri_data_len,
                            uint32_t ri_flags, uint32_t datalen_out, uint32_t roflags_out);
uint32_t wp__wasi_sock_send(wp__wasi_ctx *ctx, uint32_t fd, uint32_t si_data, uint32_t si_data_len,
                            uint32_t si_flags, uint32_t datalen_out);
uint32_t wp__wasi_sock_shutdown(wp__wasi_ctx *ctx, uint32_t fd, uint32_t how);

/* ---- Guest memory access, shared by the wasi*.c files ---------------------- */

/* Bytes of guest memory the host may touch (wasm-rt 1.0.36's size is
 * 64-bit, so a full 4 GiB memory is its size too). */
static inline uint64_t wp__wasi_memory_bytes(const wp__wasi_ctx *ctx) {
  if (!ctx->memory || !ctx->memory->data)
    return 0;
  return ctx->memory->size;
}

/* Host address of guest [ptr, ptr + length), or NULL when any byte of it is
 * outside the memory (or there is none). length is 64-bit so a product such
 * as count * 8 cannot wrap before the check. */
static inline uint8_t *wp__wasi_span(const wp__wasi_ctx *ctx, uint32_t ptr, uint64_t length) {
  uint64_t bytes = wp__wasi_memory_bytes(ctx);
  if (!ctx->memory || !ctx->memory->data)
    return NULL;
  if ((uint64_t)ptr > bytes || length > bytes - ptr)
    return NULL;
  return ctx->memory->data + ptr;
}

/* Little-endian loads and stores at host addresses already checked. */
static inline uint16_t wp__wasi_load16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t wp__wasi_load32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t wp__wasi_load64(const uint8_t *p) {
  return (uint64_t)wp__wasi_load32(p) | (uint64_t)wp__wasi_load32(p + 4) << 32;
}
static inline void wp__wasi_store16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void wp__wasi_store32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
static inline void wp__wasi_store64(uint8_t *p, uint64_t v) {
  wp__wasi_store32(p, (uint32_t)v);
  wp__wasi_store32(p + 4, (uint32_t)(v >> 32));
}

#endif /* WP_WASI_H */
