/* wp_errno.h — the one table of wasmpool error codes.
 *
 * Every fallible call in wasmpool returns 0 or a negative WP_E* code. The
 * table below is the single source of the code's number, its stable name (the
 * "code" field of a JSON error, never renamed once shipped), the HTTP status
 * the API answers with, and a default message. Adding a failure class means
 * adding one line here; wp_err_name(), wp_strerror() and wp_err_http_status()
 * cannot drift from the enum because they are generated from the same table,
 * the way libuv does it with UV_ERRNO_MAP.
 *
 * Status choices: 4xx when the client can fix the request, 422 when the
 * module itself is unusable, 502 when the guest failed (the daemon is fine),
 * 503 when a resource is temporarily exhausted, 504 when a deadline passed.
 */
#ifndef WP_ERRNO_H
#define WP_ERRNO_H

/* XX(NAME, number, "stable_name", http_status, "default message") */
#define WP_ERRNO_MAP(XX)                                                                           \
  XX(INVAL, 1, "invalid_argument", 400, "invalid argument")                                        \
  XX(NOMEM, 2, "out_of_memory", 500, "out of memory")                                              \
  XX(SYS, 3, "system_error", 500, "system call failed")                                            \
  XX(CONFIG, 4, "invalid_config", 500, "invalid configuration")                                    \
  XX(POOL_EXHAUSTED, 5, "pool_exhausted", 503, "no free slot in the pool")                         \
  XX(LIMIT, 6, "limit_exceeded", 422, "request exceeds a configured limit")                        \
  XX(BAD_REQUEST, 7, "bad_request", 400, "malformed request")                                      \
  XX(PAYLOAD_TOO_LARGE, 8, "payload_too_large", 413, "request body too large")                     \
  XX(HEADERS_TOO_LARGE, 9, "headers_too_large", 431, "request headers too large")                  \
  XX(METHOD, 10, "method_not_allowed", 405, "method not allowed")                                  \
  XX(NOT_FOUND, 11, "not_found", 404, "no such route")                                             \
  XX(NO_MODULE, 12, "unknown_module", 404, "no such module")                                       \
  XX(NO_EXPORT, 13, "unknown_export", 404, "no such export")                                       \
  XX(NO_INSTANCE, 14, "unknown_instance", 404, "no such instance")                                 \
  XX(ARG_TYPE, 15, "argument_mismatch", 400, "arguments do not match the signature")               \
  XX(MALFORMED, 16, "malformed_module", 422, "malformed WebAssembly binary")                       \
  XX(INVALID_MODULE, 17, "invalid_module", 422, "invalid WebAssembly module")                      \
  XX(UNSUPPORTED, 18, "unsupported_module", 422, "module uses an unsupported feature")             \
  XX(UNLINKABLE, 19, "unlinkable_module", 422, "module imports what the host lacks")               \
  XX(COMPILE, 20, "compile_failed", 422, "compilation failed")                                     \
  XX(COMPILE_LIMIT, 21, "compile_limit", 422, "compiler exceeded its resource limits")             \
  XX(UNINSTANTIABLE, 22, "instantiation_failed", 422, "module failed to instantiate")              \
  XX(TRAP_OOB, 23, "trap_out_of_bounds", 502, "out of bounds memory access")                       \
  XX(TRAP_DIV_ZERO, 24, "trap_divide_by_zero", 502, "integer divide by zero")                      \
  XX(TRAP_INT_OVERFLOW, 25, "trap_integer_overflow", 502, "integer overflow")                      \
  XX(TRAP_CONVERSION, 26, "trap_invalid_conversion", 502, "invalid conversion to integer")         \
  XX(TRAP_UNREACHABLE, 27, "trap_unreachable", 502, "unreachable executed")                        \
  XX(TRAP_INDIRECT, 28, "trap_indirect_call", 502, "indirect call type mismatch or null")          \
  XX(TRAP_STACK, 29, "trap_stack_exhausted", 502, "call stack exhausted")                          \
  XX(TRAP_EXCEPTION, 30, "trap_uncaught_exception", 502, "uncaught exception")                     \
  XX(TRAP_TABLE_OOB, 31, "trap_table_out_of_bounds", 502, "out of bounds table access")            \
  XX(TIMEOUT, 32, "deadline_exceeded", 504, "deadline exceeded")                                   \
  XX(EXIT, 33, "guest_exit", 200, "guest called proc_exit")                                        \
  XX(QUEUE_FULL, 34, "queue_full", 503, "request queue full")                                      \
  XX(CONFLICT, 35, "conflict", 409, "resource already exists")                                     \
  XX(SHUTTING_DOWN, 36, "shutting_down", 503, "daemon is shutting down")                           \
  XX(FORBIDDEN, 37, "forbidden", 403, "peer not allowed")                                          \
  XX(IO, 38, "io_error", 500, "input/output error")                                                \
  XX(REQUEST_TIMEOUT, 39, "request_timeout", 408, "request not received in time")                  \
  XX(SNAPSHOT, 40, "snapshot_failed", 422, "module cannot be snapshotted faithfully")

typedef enum {
  WP_OK = 0,
#define WP__ERRNO_ENUM(name, num, str, status, msg) WP_E##name = -(num),
  WP_ERRNO_MAP(WP__ERRNO_ENUM)
#undef WP__ERRNO_ENUM
} wp_errno;

/* Stable machine-readable name of a code ("pool_exhausted"); "ok" for 0. */
static inline const char *wp_err_name(int code) {
  switch (code) {
  case 0: return "ok";
#define WP__ERRNO_NAME(name, num, str, status, msg)                                                \
  case -(num): return str;
    WP_ERRNO_MAP(WP__ERRNO_NAME)
#undef WP__ERRNO_NAME
  }
  return "unknown_error";
}

/* Default human-readable message of a code. */
static inline const char *wp_strerror(int code) {
  switch (code) {
  case 0: return "success";
#define WP__ERRNO_MSG(name, num, str, status, msg)                                                 \
  case -(num): return msg;
    WP_ERRNO_MAP(WP__ERRNO_MSG)
#undef WP__ERRNO_MSG
  }
  return "unknown error";
}

/* HTTP status the API answers a failure of this code with. */
static inline int wp_err_http_status(int code) {
  switch (code) {
  case 0: return 200;
#define WP__ERRNO_STATUS(name, num, str, status, msg)                                              \
  case -(num): return status;
    WP_ERRNO_MAP(WP__ERRNO_STATUS)
#undef WP__ERRNO_STATUS
  }
  return 500;
}

#endif /* WP_ERRNO_H */
