/* config.h — wasmpoold's configuration: the struct every part of the daemon
 * reads its settings from, and the TOML loader that fills it. Private to
 * daemon/ (the daemon and the CLI).
 *
 * A config file has four tables, [pool], [server], [runtime] and [log]; every
 * key is optional and has the default that wp_config_default() sets (listed
 * with units and meaning in docs/CONFIG.md). Loading is strict: an unknown
 * table or key, a value of the wrong type or an impossible value fails with
 * one message
 *
 *     FILE:LINE: KEY: what is wrong          e.g.
 *     wasmpool.toml:7: pool.max_memory_size: "4GB5" has an unknown unit
 *
 * where KEY is dotted (table.key) and LINE is where the key was written (the
 * line of its table, or none, when the key was left at its default). After
 * every key is read the pool sizes go through wp_pool_config_check() and its
 * complaint is reported the same way, against the key that set the field.
 *
 * Sizes are integers (bytes) or strings like "4GiB"; durations are integers
 * (milliseconds) or strings like "30s" (size_parse.c has the grammar).
 *
 * A wp_daemon_config owns its strings: wp_config_free() releases them, and
 * every wp_config_* function that fills one frees nothing it did not set.
 */
#ifndef WP_DAEMON_CONFIG_H
#define WP_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alloc.h"
#include "wp_errno.h"

struct wp_runtime_config;

typedef enum wp_log_level {
  WP_LOG_DEBUG,
  WP_LOG_INFO,
  WP_LOG_WARN,
  WP_LOG_ERROR,
} wp_log_level;

typedef enum wp_log_format {
  WP_LOG_TEXT,
  WP_LOG_JSON,
} wp_log_format;

/* [server]: the listening sockets, connection limits and timeouts. */
typedef struct wp_config_server {
  char *socket_path;      /* Unix socket; default: see wp_config_default_socket_path() */
  uint32_t socket_mode;   /* permission bits of the socket file, default 0660 */
  char *socket_owner;     /* user name to chown the socket to; NULL: unchanged */
  char *socket_group;     /* group name to chown the socket to; NULL: unchanged */
  uint32_t *allowed_uids; /* peers (SO_PEERCRED) allowed to talk; none: no check */
  size_t allowed_uid_count;
  char *tcp_listen;     /* "127.0.0.1:8080" as written; NULL: no TCP listener */
  char *tcp_host;       /* its address part, "127.0.0.1" or "::1" */
  uint16_t tcp_port;    /* its port; 0 lets the kernel choose */
  uint32_t workers;     /* worker threads; 0 = one per online CPU */
  uint32_t queue_depth; /* jobs waiting for a worker before 503 */
  uint32_t max_connections;
  uint64_t max_header_bytes; /* request line + headers */
  uint64_t max_body_bytes;
  uint64_t header_timeout_ms;        /* to receive a full request head */
  uint64_t idle_timeout_ms;          /* keep-alive connection with no request */
  uint64_t instance_idle_timeout_ms; /* long-lived instance unused; 0 = never */
  uint64_t shutdown_grace_ms;        /* SIGTERM: wait this long for in-flight work */
} wp_config_server;

/* [runtime]: compiling modules, where they live, and limits on guest runs. */
typedef struct wp_config_runtime {
  char *cache_dir;  /* compiled artifacts (absolute) */
  char *module_dir; /* the persistent module registry (absolute) */
  char *toolroot;   /* Debian 13 tool root; "" = the one built in */
  char *tcc_path;   /* tier-0 compiler (searched on PATH) or path */
  char *cc_path;
  char *opt_level;               /* "-O0" "-O1" "-O2" "-O3" or "-Os" */
  uint64_t compile_cpu_ms;       /* RLIMIT_CPU of the compiler, whole seconds */
  uint64_t compile_memory_bytes; /* RLIMIT_AS of the compiler */
  uint64_t compile_timeout_ms;   /* wall clock; the compiler is killed after it */
  uint32_t tierup_threads;       /* background tier-1 builders; 0: tier-up off */
  uint32_t compile_jobs;         /* a tier-1 build's C files compiled at once */
  uint64_t guest_stack_bytes;
  uint64_t default_deadline_ms;  /* a call or run with no deadline of its own */
  uint64_t max_deadline_ms;      /* the longest deadline a request may ask for */
  uint64_t snapshot_deadline_ms; /* a snapshot's init export at deploy (default 10 s) */
  uint64_t stdout_limit_bytes;   /* captured stdout of a run; more is dropped */
  uint64_t stderr_limit_bytes;
} wp_config_runtime;

/* [log] */
typedef struct wp_config_log {
  wp_log_level level;
  wp_log_format format;
} wp_config_log;

typedef struct wp_daemon_config {
  /* [pool]; table_element_bytes is the embedder's (instance/) business and
   * keeps wp_pool_config_default()'s value. */
  wp_pool_config pool;
  /* [pool] prewarm: slots a deploy leaves holding the module's image
   * (docs/SNAPSHOTS.md); per deploy ?prewarm=N. Default 0. Kept out of
   * wp_pool_config: it is the registry's business, not alloc/'s. */
  uint32_t pool_prewarm;
  wp_config_server server;
  wp_config_runtime runtime;
  wp_config_log log;
} wp_daemon_config;

/* Fills every default; paths come from the environment as documented in
 * wp_config_default_socket_path() and wp_config_default_state_dir(). Aborts
 * the process only if the few default strings cannot be allocated. */
void wp_config_default(wp_daemon_config *out);

/* Reads and validates a config file into *out (defaults for what it does not
 * say). 0, or WP_ECONFIG with "FILE:LINE: KEY: what is wrong" in err (or
 * "FILE:LINE:COLUMN: ..." for a TOML syntax error), WP_EIO when the file
 * cannot be read, WP_ENOMEM. On failure *out holds nothing to free. */
int wp_config_load(const char *path, wp_daemon_config *out, char *err, size_t err_len);

/* wp_config_load, then what `wasmpoold --check-config` adds: the checks
 * that look at this machine. A config that would not start (pool.guard_size
 * too small for the guard-page bounds checks) or could not deploy
 * (runtime.cache_dir or module_dir not a directory and not creatable,
 * runtime.wasm2c or runtime.cc not found) fails with the same
 * "FILE:LINE: KEY: what is wrong" message and WP_ECONFIG. */
int wp_config_check_file(const char *path, wp_daemon_config *out, char *err, size_t err_len);

/* The same from text in memory (the fuzz target's entry point); source_name
 * stands for FILE in messages. text need not be NUL-terminated. */
int wp_config_parse(const char *text, size_t length, const char *source_name, wp_daemon_config *out,
                    char *err, size_t err_len);

/* Prints the effective config as TOML that wp_config_load() reads back to an
 * equal config: every table and every key, sizes and durations in the
 * largest exact unit. For `wasmpoold --check-config`. */
void wp_config_dump(const wp_daemon_config *cfg, FILE *out);
/* Prints, as TOML comments, the address space the pools will reserve, pool
 * by pool, and what this process may reserve (wp_pool_sizing_compute). */
void wp_config_dump_sizing(const wp_daemon_config *cfg, FILE *out);

void wp_config_free(wp_daemon_config *cfg);

/* The directory a Unix socket will be bound in exists and is one. 0, or
 * WP_ECONFIG with why saying which (libuv's bind reports a missing
 * directory as "permission denied", which sends an operator the wrong way). */
int wp_config_socket_dir_check(const char *socket_path, char *why, size_t why_len);

/* `--socket PATH`: replaces server.socket_path after the same checks the file
 * gets. WP_ECONFIG with "--socket: what is wrong" in err. */
int wp_config_set_socket_path(wp_daemon_config *cfg, const char *path, char *err, size_t err_len);

/* Overwrites the fields of a wp_runtime_config (instance.h) that the config
 * controls: the pool, cache_dir, wasm2c/cc paths, opt_level, compiler limits
 * and guest stack. Call wp_runtime_config_default() on it first so fields
 * added later keep their defaults. The strings are borrowed from cfg, which
 * must outlive rt. */
void wp_config_to_runtime(const wp_daemon_config *cfg, struct wp_runtime_config *rt);

/* The default socket path: $XDG_RUNTIME_DIR/wasmpool.sock when that variable
 * is set to an absolute path short enough for sun_path, else
 * /tmp/wasmpool.sock. The CLI uses it too, so
 * both ends agree without a config file. Writes a NUL-terminated path
 * (truncated to len). */
void wp_config_default_socket_path(char *buf, size_t len);

/* The directory under which cache_dir ("cache") and module_dir ("modules")
 * default: $XDG_STATE_HOME/wasmpool, else $HOME/.local/state/wasmpool, else
 * /tmp/wasmpool-state (absolute values only). */
void wp_config_default_state_dir(char *buf, size_t len);

/* ---- Sizes and durations (size_parse.c) ---------------------------------- */

/* "4GiB" -> bytes. 0, WP_EINVAL (not a size) or WP_ELIMIT (over UINT64_MAX);
 * on failure *why is a static phrase: "has an unknown unit", ... */
int wp_parse_size(const char *text, uint64_t *out, const char **why);
/* "30s" -> milliseconds; a unit (ms s m h) is required. As wp_parse_size(). */
int wp_parse_duration_ms(const char *text, uint64_t *out, const char **why);
/* The reverse, in the largest binary unit that is exact: "4GiB", "4097B". */
void wp_format_size(uint64_t bytes, char *buf, size_t len);
/* "2m", "30s", "1500ms". */
void wp_format_duration(uint64_t ms, char *buf, size_t len);

#endif /* WP_DAEMON_CONFIG_H */
