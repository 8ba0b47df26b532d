/* wasi_enosys.c — the WASI preview1 calls wasmpool does not provide.
 *
 * They exist so that modules importing them (wasi-libc links several into
 * every program: path_open, fd_readdir, ...) still link; a guest that calls
 * one gets ENOSYS and can report it. There is no filesystem and there are no
 * sockets, by design: see DESIGN.md, "no filesystem unless configured".
 */
#include "wasi.h"

uint32_t wp__wasi_fd_advise(wp__wasi_ctx *ctx, uint32_t fd, uint64_t offset, uint64_t len,
                            uint32_t advice) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_fd_allocate(wp__wasi_ctx *ctx, uint32_t fd, uint64_t offset, uint64_t len) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_fd_datasync(wp__wasi_ctx *ctx, uint32_t fd) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_fd_fdstat_set_flags(wp__wasi_ctx *ctx, uint32_t fd, uint32_t flags) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_fd_fdstat_set_rights(wp__wasi_ctx *ctx, uint32_t fd, uint64_t base,
                                       uint64_t inheriting) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_fd_filestat_get(wp__wasi_ctx *ctx, uint32_t fd, uint32_t filestat_out) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_fd_filestat_set_size(wp__wasi_ctx *ctx, uint32_t fd, uint64_t size) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_fd_filestat_set_times(wp__wasi_ctx *ctx, uint32_t fd, uint64_t atim,
                                        uint64_t mtim, uint32_t fst_flags) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_fd_pread(wp__wasi_ctx *ctx, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                           uint64_t offset, uint32_t nread_out) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_fd_pwrite(wp__wasi_ctx *ctx, uint32_t fd, uint32_t iovs, uint32_t iovs_len,
                            uint64_t offset, uint32_t nwritten_out) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_fd_readdir(wp__wasi_ctx *ctx, uint32_t fd, uint32_t buf, uint32_t buf_len,
                             uint64_t cookie, uint32_t bufused_out) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_fd_renumber(wp__wasi_ctx *ctx, uint32_t fd, uint32_t to) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_fd_sync(wp__wasi_ctx *ctx, uint32_t fd) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_fd_tell(wp__wasi_ctx *ctx, uint32_t fd, uint32_t offset_out) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_path_create_directory(wp__wasi_ctx *ctx, uint32_t fd, uint32_t path,
                                        uint32_t path_len) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_path_filestat_get(wp__wasi_ctx *ctx, uint32_t fd, uint32_t flags, uint32_t path,
                                    uint32_t path_len, uint32_t filestat_out) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_path_filestat_set_times(wp__wasi_ctx *ctx, uint32_t fd, uint32_t flags,
                                          uint32_t path, uint32_t path_len, uint64_t atim,
                                          uint64_t mtim, uint32_t fst_flags) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_path_link(wp__wasi_ctx *ctx, uint32_t old_fd, uint32_t old_flags,
                            uint32_t old_path, uint32_t old_path_len, uint32_t new_fd,
                            uint32_t new_path, uint32_t new_path_len) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_path_open(wp__wasi_ctx *ctx, uint32_t fd, uint32_t dirflags, uint32_t path,
                            uint32_t path_len, uint32_t oflags, uint64_t rights_base,
                            uint64_t rights_inheriting, uint32_t fdflags, uint32_t fd_out) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_path_readlink(wp__wasi_ctx *ctx, uint32_t fd, uint32_t path, uint32_t path_len,
                                uint32_t buf, uint32_t buf_len, uint32_t bufused_out) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_path_remove_directory(wp__wasi_ctx *ctx, uint32_t fd, uint32_t path,
                                        uint32_t path_len) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_path_rename(wp__wasi_ctx *ctx, uint32_t fd, uint32_t old_path,
                              uint32_t old_path_len, uint32_t new_fd, uint32_t new_path,
                              uint32_t new_path_len) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_path_symlink(wp__wasi_ctx *ctx, uint32_t old_path, uint32_t old_path_len,
                               uint32_t fd, uint32_t new_path, uint32_t new_path_len) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_path_unlink_file(wp__wasi_ctx *ctx, uint32_t fd, uint32_t path,
                                   uint32_t path_len) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_proc_raise(wp__wasi_ctx *ctx, uint32_t sig) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_sock_accept(wp__wasi_ctx *ctx, uint32_t fd, uint32_t flags, uint32_t fd_out) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_sock_recv(wp__wasi_ctx *ctx, uint32_t fd, uint32_t ri_data, uint32_t ri_data_len,
                            uint32_t ri_flags, uint32_t datalen_out, uint32_t roflags_out) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_sock_send(wp__wasi_ctx *ctx, uint32_t fd, uint32_t si_data, uint32_t si_data_len,
                            uint32_t si_flags, uint32_t datalen_out) {
  return WP__WASI_ENOSYS;
}

uint32_t wp__wasi_sock_shutdown(wp__wasi_ctx *ctx, uint32_t fd, uint32_t how) {
  return WP__WASI_ENOSYS;
}
