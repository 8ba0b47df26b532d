/* wasi.c — the WASI preview1 context and the calls that are not about file
 * descriptors: args, environment, clocks, random, proc_exit, sched_yield,
 * plus the binding table the runtime resolves imports with.
 *
 * fd_* calls live in wasi_fd.c, poll_oneoff in wasi_poll.c, the ENOSYS
 * answers in wasi_enosys.c. wasi.h says how guest pointers are checked.
 */
#include "wasi.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- Context ---------------------------------------------------------------- */

/* Lays strings[0..count) end to end, each NUL-terminated, in a new buffer.
 * The guest sees the count and the total as u32, so both must fit. */
static int pack_strings(const char *const *strings, size_t count, char **buf_out,
                        uint32_t *count_out, uint32_t *size_out) {
  uint64_t total = 0;
  char *buf;
  size_t i, offset = 0;

  *buf_out = NULL;
  *count_out = 0;
  *size_out = 0;
  if (count == 0)
    return 0;
  if (!strings)
    return WP_EINVAL;
  if (count > UINT32_MAX)
    return WP_ELIMIT;
  for (i = 0; i < count; i++) {
    if (!strings[i])
      return WP_EINVAL;
    total += strlen(strings[i]) + 1;
    if (total > UINT32_MAX)
      return WP_ELIMIT;
  }
  buf = malloc(total);
  if (!buf)
    return WP_ENOMEM;
  for (i = 0; i < count; i++) {
    size_t length = strlen(strings[i]) + 1;
    memcpy(buf + offset, strings[i], length);
    offset += length;
  }
  *buf_out = buf;
  *count_out = (uint32_t)count;
  *size_out = (uint32_t)total;
  return 0;
}

int wp__wasi_ctx_init(wp__wasi_ctx *ctx, const wp_wasi_config *cfg) {
  int rc;

  memset(ctx, 0, sizeof(*ctx));
  ctx->out.limit = WP__WASI_DEFAULT_OUTPUT_LIMIT;
  ctx->err.limit = WP__WASI_DEFAULT_OUTPUT_LIMIT;
  ctx->max_sleep_ns = WP__WASI_DEFAULT_MAX_SLEEP_NS;
  if (!cfg)
    return 0;

  if (cfg->stdout_limit)
    ctx->out.limit = cfg->stdout_limit;
  if (cfg->stderr_limit)
    ctx->err.limit = cfg->stderr_limit;
  rc = pack_strings(cfg->argv, cfg->argc, &ctx->args_buf, &ctx->args_count, &ctx->args_buf_size);
  if (rc)
    goto fail;
  rc = pack_strings(cfg->envp, cfg->envc, &ctx->env_buf, &ctx->env_count, &ctx->env_buf_size);
  if (rc)
    goto fail;
  if (cfg->stdin_length) {
    if (!cfg->stdin_bytes) {
      rc = WP_EINVAL;
      goto fail;
    }
    ctx->stdin_bytes = malloc(cfg->stdin_length);
    if (!ctx->stdin_bytes) {
      rc = WP_ENOMEM;
      goto fail;
    }
    memcpy(ctx->stdin_bytes, cfg->stdin_bytes, cfg->stdin_length);
    ctx->stdin_length = cfg->stdin_length;
  }
  return 0;

fail:
  wp__wasi_ctx_free(ctx);
  return rc;
}

void wp__wasi_ctx_free(wp__wasi_ctx *ctx) {
  free(ctx->args_buf);
  free(ctx->env_buf);
  free(ctx->stdin_bytes);
  free(ctx->out.bytes);
  free(ctx->err.bytes);
  ctx->args_buf = NULL;
  ctx->env_buf = NULL;
  ctx->stdin_bytes = NULL;
  ctx->out.bytes = NULL;
  ctx->err.bytes = NULL;
  ctx->args_count = ctx->args_buf_size = 0;
  ctx->env_count = ctx->env_buf_size = 0;
  ctx->stdin_length = ctx->stdin_offset = 0;
  ctx->out.length = ctx->out.capacity = 0;
  ctx->err.length = ctx->err.capacity = 0;
  ctx->memory = NULL;
}

void wp__wasi_ctx_set_memory(wp__wasi_ctx *ctx, wasm_rt_memory_t *memory) {
  ctx->memory = memory;
}

void wp__wasi_ctx_set_exit_hook(wp__wasi_ctx *ctx, wp__wasi_exit_hook hook, void *arg) {
  ctx->exit_hook = hook;
  ctx->exit_hook_arg = arg;
}

/* Returned for a stream nothing was written to, so callers may pass the
 * pointer to memcpy/fwrite with length 0 (NULL there is undefined). */
static const uint8_t empty_output[1];

const uint8_t *wp__wasi_stdout(const wp__wasi_ctx *ctx, size_t *length, bool *truncated) {
  if (length)
    *length = ctx->out.length;
  if (truncated)
    *truncated = ctx->out.truncated;
  return ctx->out.bytes ? ctx->out.bytes : empty_output;
}

const uint8_t *wp__wasi_stderr(const wp__wasi_ctx *ctx, size_t *length, bool *truncated) {
  if (length)
    *length = ctx->err.length;
  if (truncated)
    *truncated = ctx->err.truncated;
  return ctx->err.bytes ? ctx->err.bytes : empty_output;
}

bool wp__wasi_exited(const wp__wasi_ctx *ctx, uint32_t *code) {
  if (code)
    *code = ctx->exit_code;
  return ctx->exited;
}

/* ---- args and environment --------------------------------------------------- */

/* Writes a pointer per string into ptrs[] and the strings into buf, the
 * layout wasi-libc's __wasilibc_populate_* expects. Both ranges are checked
 * before either is written. */
static uint32_t copy_strings(wp__wasi_ctx *ctx, const char *strings, uint32_t count, uint32_t size,
                             uint32_t ptrs, uint32_t buf) {
  uint8_t *ptr_bytes = wp__wasi_span(ctx, ptrs, (uint64_t)count * 4);
  uint8_t *buf_bytes = wp__wasi_span(ctx, buf, size);
  uint32_t i, offset = 0;

  if (!ptr_bytes || !buf_bytes)
    return WP__WASI_EFAULT;
  for (i = 0; i < count; i++) {
    wp__wasi_store32(ptr_bytes + (uint64_t)i * 4, buf + offset);
    offset += (uint32_t)strlen(strings + offset) + 1;
  }
  if (size)
    memcpy(buf_bytes, strings, size);
  return WP__WASI_ESUCCESS;
}

static uint32_t store_sizes(wp__wasi_ctx *ctx, uint32_t count, uint32_t size, uint32_t count_out,
                            uint32_t size_out) {
  uint8_t *count_bytes = wp__wasi_span(ctx, count_out, 4);
  uint8_t *size_bytes = wp__wasi_span(ctx, size_out, 4);

  if (!count_bytes || !size_bytes)
    return WP__WASI_EFAULT;
  wp__wasi_store32(count_bytes, count);
  wp__wasi_store32(size_bytes, size);
  return WP__WASI_ESUCCESS;
}

uint32_t wp__wasi_args_get(wp__wasi_ctx *ctx, uint32_t argv, uint32_t argv_buf) {
  return copy_strings(ctx, ctx->args_buf, ctx->args_count, ctx->args_buf_size, argv, argv_buf);
}

uint32_t wp__wasi_args_sizes_get(wp__wasi_ctx *ctx, uint32_t argc_out, uint32_t buf_size_out) {
  return store_sizes(ctx, ctx->args_count, ctx->args_buf_size, argc_out, buf_size_out);
}

uint32_t wp__wasi_environ_get(wp__wasi_ctx *ctx, uint32_t environ, uint32_t environ_buf) {
  return copy_strings(ctx, ctx->env_buf, ctx->env_count, ctx->env_buf_size, environ, environ_buf);
}

uint32_t wp__wasi_environ_sizes_get(wp__wasi_ctx *ctx, uint32_t count_out, uint32_t buf_size_out) {
  return store_sizes(ctx, ctx->env_count, ctx->env_buf_size, count_out, buf_size_out);
}

/* ---- Clocks ------------------------------------------------------------------ */

static int clock_for(uint32_t id, clockid_t *out) {
  switch (id) {
  case 0: *out = CLOCK_REALTIME; return 0;
  case 1: *out = CLOCK_MONOTONIC; return 0;
  case 2: *out = CLOCK_PROCESS_CPUTIME_ID; return 0;
  case 3: *out = CLOCK_THREAD_CPUTIME_ID; return 0;
  }
  return -1;
}

uint32_t wp__wasi_clock_res_get(wp__wasi_ctx *ctx, uint32_t id, uint32_t res_out) {
  clockid_t clock;
  struct timespec ts;
  uint8_t *out = wp__wasi_span(ctx, res_out, 8);

  if (clock_for(id, &clock))
    return WP__WASI_EINVAL;
  if (!out)
    return WP__WASI_EFAULT;
  if (clock_getres(clock, &ts))
    return WP__WASI_EIO;
  wp__wasi_store64(out, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
  return WP__WASI_ESUCCESS;
}

uint32_t wp__wasi_clock_time_get(wp__wasi_ctx *ctx, uint32_t id, uint64_t precision,
                                 uint32_t time_out) {
  clockid_t clock;
  struct timespec ts;
  uint8_t *out = wp__wasi_span(ctx, time_out, 8);

  if (clock_for(id, &clock))
    return WP__WASI_EINVAL;
  if (!out)
    return WP__WASI_EFAULT;
  if (clock_gettime(clock, &ts))
    return WP__WASI_EIO;
  wp__wasi_store64(out, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
  return WP__WASI_ESUCCESS;
}

/* ---- random, proc_exit, sched_yield ------------------------------------------ */

uint32_t wp__wasi_random_get(wp__wasi_ctx *ctx, uint32_t buf, uint32_t buf_len) {
  uint8_t *bytes = wp__wasi_span(ctx, buf, buf_len);
  size_t filled = 0;

  if (!bytes)
    return WP__WASI_EFAULT;
  /* getrandom returns at most 32 MiB per call and may be cut short by a
   * signal (the deadline timer), so loop until the buffer is full. */
  while (filled < buf_len) {
    ssize_t got = getrandom(bytes + filled, buf_len - filled, 0);
    if (got < 0) {
      if (errno == EINTR)
        continue;
      return WP__WASI_EIO;
    }
    filled += (size_t)got;
  }
  return WP__WASI_ESUCCESS;
}

void wp__wasi_proc_exit(wp__wasi_ctx *ctx, uint32_t code) {
  ctx->exited = true;
  ctx->exit_code = code;
  if (ctx->exit_hook)
    ctx->exit_hook(ctx->exit_hook_arg, code);
}

uint32_t wp__wasi_sched_yield(wp__wasi_ctx *ctx) {
  sched_yield();
  return WP__WASI_ESUCCESS;
}

/* ---- Binding table ------------------------------------------------------------ */

#define WP__WASI_ENTRY(name, params, results)                                                      \
  { #name, params, results, (void (*)(void))wp__wasi_##name }

/* Every import of wasi_snapshot_preview1, with the wasm types wasi-libc's
 * import declarations lower to (checked against a linked wasi-libc module
 * by the tests). Sorted by name. */
const wp__wasi_func wp__wasi_funcs[] = {
    WP__WASI_ENTRY(args_get, "ii", "i"),
    WP__WASI_ENTRY(args_sizes_get, "ii", "i"),
    WP__WASI_ENTRY(clock_res_get, "ii", "i"),
    WP__WASI_ENTRY(clock_time_get, "iIi", "i"),
    WP__WASI_ENTRY(environ_get, "ii", "i"),
    WP__WASI_ENTRY(environ_sizes_get, "ii", "i"),
    WP__WASI_ENTRY(fd_advise, "iIIi", "i"),
    WP__WASI_ENTRY(fd_allocate, "iII", "i"),
    WP__WASI_ENTRY(fd_close, "i", "i"),
    WP__WASI_ENTRY(fd_datasync, "i", "i"),
    WP__WASI_ENTRY(fd_fdstat_get, "ii", "i"),
    WP__WASI_ENTRY(fd_fdstat_set_flags, "ii", "i"),
    WP__WASI_ENTRY(fd_fdstat_set_rights, "iII", "i"),
    WP__WASI_ENTRY(fd_filestat_get, "ii", "i"),
    WP__WASI_ENTRY(fd_filestat_set_size, "iI", "i"),
    WP__WASI_ENTRY(fd_filestat_set_times, "iIIi", "i"),
    WP__WASI_ENTRY(fd_pread, "iiiIi", "i"),
    WP__WASI_ENTRY(fd_prestat_dir_name, "iii", "i"),
    WP__WASI_ENTRY(fd_prestat_get, "ii", "i"),
    WP__WASI_ENTRY(fd_pwrite, "iiiIi", "i"),
    WP__WASI_ENTRY(fd_read, "iiii", "i"),
    WP__WASI_ENTRY(fd_readdir, "iiiIi", "i"),
    WP__WASI_ENTRY(fd_renumber, "ii", "i"),
    WP__WASI_ENTRY(fd_seek, "iIii", "i"),
    WP__WASI_ENTRY(fd_sync, "i", "i"),
    WP__WASI_ENTRY(fd_tell, "ii", "i"),
    WP__WASI_ENTRY(fd_write, "iiii", "i"),
    WP__WASI_ENTRY(path_create_directory, "iii", "i"),
    WP__WASI_ENTRY(path_filestat_get, "iiiii", "i"),
    WP__WASI_ENTRY(path_filestat_set_times, "iiiiIIi", "i"),
    WP__WASI_ENTRY(path_link, "iiiiiii", "i"),
    WP__WASI_ENTRY(path_open, "iiiiiIIii", "i"),
    WP__WASI_ENTRY(path_readlink, "iiiiii", "i"),
    WP__WASI_ENTRY(path_remove_directory, "iii", "i"),
    WP__WASI_ENTRY(path_rename, "iiiiii", "i"),
    WP__WASI_ENTRY(path_symlink, "iiiii", "i"),
    WP__WASI_ENTRY(path_unlink_file, "iii", "i"),
    WP__WASI_ENTRY(poll_oneoff, "iiii", "i"),
    WP__WASI_ENTRY(proc_exit, "i", ""),
    WP__WASI_ENTRY(proc_raise, "i", "i"),
    WP__WASI_ENTRY(random_get, "ii", "i"),
    WP__WASI_ENTRY(sched_yield, "", "i"),
    WP__WASI_ENTRY(sock_accept, "iii", "i"),
    WP__WASI_ENTRY(sock_recv, "iiiiii", "i"),
    WP__WASI_ENTRY(sock_send, "iiiii", "i"),
    WP__WASI_ENTRY(sock_shutdown, "ii", "i"),
};

const size_t wp__wasi_func_count = sizeof(wp__wasi_funcs) / sizeof(wp__wasi_funcs[0]);

const wp__wasi_func *wp__wasi_lookup(const char *name, size_t length) {
  size_t i;

  if (!name)
    return NULL;
  /* Binding happens once per module load; a scan of 46 names is cheap and
   * handles names with embedded NULs (they just never match). */
  for (i = 0; i < wp__wasi_func_count; i++) {
    const char *candidate = wp__wasi_funcs[i].name;
    if (strlen(candidate) == length && memcmp(candidate, name, length) == 0)
      return &wp__wasi_funcs[i];
  }
  return NULL;
}
