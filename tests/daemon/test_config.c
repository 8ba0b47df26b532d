/* test_config.c — the TOML config loader (daemon/config.c, config_toml.cpp):
 * defaults, the shipped configs/, every key, the exact "file:line: key: ..."
 * messages, TOML syntax errors, and dump -> load round trips. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "instance.h"

#define KIB (1ull << 10)
#define MIB (1ull << 20)
#define GIB (1ull << 30)

static int parse(const char *text, wp_daemon_config *cfg, char *err, size_t err_len) {
  return wp_config_parse(text, strlen(text), "t.toml", cfg, err, err_len);
}

/* Field-by-field, so padding and pointer identity do not matter. */
static void expect_equal(const wp_daemon_config *a, const wp_daemon_config *b) {
  const wp_pool_config *p = &a->pool, *q = &b->pool;
  cr_expect_eq(p->total_instances, q->total_instances);
  cr_expect_eq(p->memories_per_instance, q->memories_per_instance);
  cr_expect_eq(p->tables_per_instance, q->tables_per_instance);
  cr_expect_eq(p->max_memory_bytes, q->max_memory_bytes);
  cr_expect_eq(p->guard_bytes, q->guard_bytes);
  cr_expect_eq(p->guard_before, q->guard_before);
  cr_expect_eq(p->table_elements, q->table_elements);
  cr_expect_eq(p->table_element_bytes, q->table_element_bytes);
  cr_expect_eq(p->max_instance_bytes, q->max_instance_bytes);
  cr_expect_eq(p->keep_resident_bytes, q->keep_resident_bytes);
  cr_expect_eq(p->table_keep_resident_bytes, q->table_keep_resident_bytes);
  cr_expect_eq(p->max_unused_warm_slots, q->max_unused_warm_slots);
  cr_expect_eq(p->decommit_batch_size, q->decommit_batch_size);
  cr_expect_eq(p->decommit_in_background, q->decommit_in_background);
  cr_expect_eq(p->memory_protection_keys, q->memory_protection_keys);
  cr_expect_eq(p->max_memory_protection_keys, q->max_memory_protection_keys);

  const wp_config_server *s = &a->server, *t = &b->server;
#define STR_EQ(x, y) cr_expect_str_eq((x) ? (x) : "(null)", (y) ? (y) : "(null)", #x)
  STR_EQ(s->socket_path, t->socket_path);
  cr_expect_eq(s->socket_mode, t->socket_mode);
  STR_EQ(s->socket_owner, t->socket_owner);
  STR_EQ(s->socket_group, t->socket_group);
  cr_expect_eq(s->allowed_uid_count, t->allowed_uid_count);
  for (size_t i = 0; i < s->allowed_uid_count && i < t->allowed_uid_count; i++)
    cr_expect_eq(s->allowed_uids[i], t->allowed_uids[i]);
  STR_EQ(s->tcp_listen, t->tcp_listen);
  STR_EQ(s->tcp_host, t->tcp_host);
  cr_expect_eq(s->tcp_port, t->tcp_port);
  cr_expect_eq(s->workers, t->workers);
  cr_expect_eq(s->queue_depth, t->queue_depth);
  cr_expect_eq(s->max_connections, t->max_connections);
  cr_expect_eq(s->max_header_bytes, t->max_header_bytes);
  cr_expect_eq(s->max_body_bytes, t->max_body_bytes);
  cr_expect_eq(s->header_timeout_ms, t->header_timeout_ms);
  cr_expect_eq(s->idle_timeout_ms, t->idle_timeout_ms);
  cr_expect_eq(s->instance_idle_timeout_ms, t->instance_idle_timeout_ms);
  cr_expect_eq(s->shutdown_grace_ms, t->shutdown_grace_ms);

  const wp_config_runtime *r = &a->runtime, *u = &b->runtime;
  STR_EQ(r->cache_dir, u->cache_dir);
  STR_EQ(r->module_dir, u->module_dir);
  STR_EQ(r->toolroot, u->toolroot);
  STR_EQ(r->tcc_path, u->tcc_path);
  STR_EQ(r->cc_path, u->cc_path);
  STR_EQ(r->opt_level, u->opt_level);
  cr_expect_eq(r->compile_cpu_ms, u->compile_cpu_ms);
  cr_expect_eq(r->compile_memory_bytes, u->compile_memory_bytes);
  cr_expect_eq(r->compile_timeout_ms, u->compile_timeout_ms);
  cr_expect_eq(r->guest_stack_bytes, u->guest_stack_bytes);
  cr_expect_eq(r->default_deadline_ms, u->default_deadline_ms);
  cr_expect_eq(r->max_deadline_ms, u->max_deadline_ms);
  cr_expect_eq(r->stdout_limit_bytes, u->stdout_limit_bytes);
  cr_expect_eq(r->stderr_limit_bytes, u->stderr_limit_bytes);
#undef STR_EQ
  cr_expect_eq(a->log.level, b->log.level);
  cr_expect_eq(a->log.format, b->log.format);
}

static char *dump_to_string(const wp_daemon_config *cfg) {
  char *text = NULL;
  size_t length = 0;
  FILE *out = open_memstream(&text, &length);
  cr_assert_not_null(out);
  wp_config_dump(cfg, out);
  fclose(out);
  return text;
}

/* ---- Defaults ------------------------------------------------------------ */

Test(config, defaults_follow_the_environment) {
  setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  setenv("XDG_STATE_HOME", "/var/tmp/state", 1);
  wp_daemon_config cfg;
  wp_config_default(&cfg);
  cr_expect_str_eq(cfg.server.socket_path, "/run/user/1000/wasmpool.sock");
  cr_expect_str_eq(cfg.runtime.cache_dir, "/var/tmp/state/wasmpool/cache");
  cr_expect_str_eq(cfg.runtime.module_dir, "/var/tmp/state/wasmpool/modules");
  wp_config_free(&cfg);

  /* Relative values are ignored: a default must not depend on the cwd. */
  setenv("XDG_RUNTIME_DIR", "relative", 1);
  unsetenv("XDG_STATE_HOME");
  setenv("HOME", "/home/ann", 1);
  wp_config_default(&cfg);
  cr_expect_str_eq(cfg.server.socket_path, "/tmp/wasmpool.sock");
  cr_expect_str_eq(cfg.runtime.cache_dir, "/home/ann/.local/state/wasmpool/cache");
  wp_config_free(&cfg);

  /* 108 bytes of sun_path: a longer runtime dir falls back, for the CLI too. */
  char long_dir[120] = "/run/";
  memset(long_dir + 5, 'd', sizeof(long_dir) - 6);
  long_dir[sizeof(long_dir) - 1] = '\0';
  setenv("XDG_RUNTIME_DIR", long_dir, 1);
  char path[256];
  wp_config_default_socket_path(path, sizeof(path));
  cr_expect_str_eq(path, "/tmp/wasmpool.sock");
  setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  wp_config_default_socket_path(path, sizeof(path));
  cr_expect_str_eq(path, "/run/user/1000/wasmpool.sock");

  unsetenv("XDG_RUNTIME_DIR");
  unsetenv("HOME");
  wp_config_default(&cfg);
  cr_expect_str_eq(cfg.server.socket_path, "/tmp/wasmpool.sock");
  cr_expect_str_eq(cfg.runtime.module_dir, "/tmp/wasmpool-state/modules");
  wp_config_free(&cfg);
}

Test(config, documented_defaults) {
  wp_daemon_config cfg;
  wp_config_default(&cfg);
  wp_pool_config pool;
  wp_pool_config_default(&pool);
  cr_expect_eq(cfg.pool.total_instances, pool.total_instances);
  cr_expect_eq(cfg.pool.max_memory_bytes, pool.max_memory_bytes);
  cr_expect_eq(cfg.pool.guard_bytes, pool.guard_bytes);
  cr_expect_eq(cfg.pool.table_element_bytes, pool.table_element_bytes);
  cr_expect_eq(cfg.server.socket_mode, 0660);
  cr_expect_null(cfg.server.socket_owner);
  cr_expect_null(cfg.server.socket_group);
  cr_expect_eq(cfg.server.allowed_uid_count, 0);
  cr_expect_null(cfg.server.tcp_listen);
  cr_expect_eq(cfg.server.workers, 0);
  cr_expect_eq(cfg.server.queue_depth, 1024);
  cr_expect_eq(cfg.server.max_connections, 1024);
  cr_expect_eq(cfg.server.max_header_bytes, 16 * KIB);
  cr_expect_eq(cfg.server.max_body_bytes, 64 * MIB);
  cr_expect_eq(cfg.server.header_timeout_ms, 10000);
  cr_expect_eq(cfg.server.idle_timeout_ms, 60000);
  cr_expect_eq(cfg.server.instance_idle_timeout_ms, 300000);
  cr_expect_eq(cfg.server.shutdown_grace_ms, 10000);
  cr_expect_null(cfg.runtime.toolroot);
  cr_expect_str_eq(cfg.runtime.cc_path, "cc");
  cr_expect_str_eq(cfg.runtime.opt_level, "-O2");
  cr_expect_eq(cfg.runtime.compile_cpu_ms, 120000);
  cr_expect_eq(cfg.runtime.compile_memory_bytes, 4 * GIB);
  cr_expect_eq(cfg.runtime.compile_timeout_ms, 300000);
  cr_expect_eq(cfg.runtime.guest_stack_bytes, 8 * MIB);
  cr_expect_eq(cfg.runtime.default_deadline_ms, 10000);
  cr_expect_eq(cfg.runtime.max_deadline_ms, 60000);
  cr_expect_eq(cfg.runtime.stdout_limit_bytes, 1 * MIB);
  cr_expect_eq(cfg.runtime.stderr_limit_bytes, 64 * KIB);
  cr_expect_eq(cfg.log.level, WP_LOG_INFO);
  cr_expect_eq(cfg.log.format, WP_LOG_TEXT);
  cr_expect_eq(wp_pool_config_check(&cfg.pool, NULL, 0), 0, "the defaults must pass alloc/");
  wp_config_free(&cfg);
}

Test(config, empty_file_gives_the_defaults) {
  wp_daemon_config cfg, def;
  char err[512] = "";
  cr_assert_eq(parse("# nothing\n", &cfg, err, sizeof(err)), 0, "%s", err);
  wp_config_default(&def);
  expect_equal(&cfg, &def);
  wp_config_free(&cfg);
  wp_config_free(&def);
}

/* ---- The shipped configs ------------------------------------------------- */

static void load_shipped(const char *name, wp_daemon_config *cfg) {
  char path[1024], err[512] = "";
  snprintf(path, sizeof(path), "%s/configs/%s", WP_SOURCE_DIR, name);
  int rc = wp_config_load(path, cfg, err, sizeof(err));
  cr_assert_eq(rc, 0, "%s: rc %d: %s", name, rc, err);
}

/* The runtime compiles with wasm2c's guard-page bounds checks and refuses
 * slots under 8 GiB (instance/runtime.c); a shipped config must start. */
static void expect_guard_page_layout(const wp_daemon_config *cfg) {
  cr_expect_geq(cfg->pool.max_memory_bytes + cfg->pool.guard_bytes, 8 * GIB);
  /* Only address space is reserved; it must fit the 47-bit user half. */
  uint64_t reserved = (uint64_t)wp_pool_guarded_memories(&cfg->pool) *
                          (cfg->pool.max_memory_bytes + cfg->pool.guard_bytes) +
                      (uint64_t)cfg->pool.small_memories * cfg->pool.small_memory_bytes;
  cr_expect_lt(reserved, 100ull << 40);
}

Test(config, default_toml_loads) {
  wp_daemon_config cfg;
  load_shipped("default.toml", &cfg);
  cr_expect_eq(cfg.pool.total_instances, 1000);
  cr_expect_eq(cfg.pool.max_memory_bytes, 4 * GIB);
  cr_expect_eq(cfg.pool.guard_bytes, 4 * GIB);
  expect_guard_page_layout(&cfg);
  wp_config_free(&cfg);
}

Test(config, dense_toml_loads) {
  wp_daemon_config cfg;
  load_shipped("dense.toml", &cfg);
  cr_expect_eq(cfg.pool.total_instances, 100000);
  cr_expect_geq(cfg.pool.small_memories, 100000, "every instance can have a small memory");
  cr_expect_lt(wp_pool_guarded_memories(&cfg.pool), 16000, "8 GiB slots for a few");
  cr_expect_leq(cfg.pool.keep_resident_bytes, 16 * KIB);
  expect_guard_page_layout(&cfg);
  wp_config_free(&cfg);
}

Test(config, large_toml_loads) {
  wp_daemon_config cfg;
  load_shipped("large.toml", &cfg);
  cr_expect_eq(cfg.pool.max_memory_bytes, 4 * GIB);
  cr_expect_gt(cfg.pool.guard_bytes, 4 * GIB);
  cr_expect_lt(cfg.pool.total_instances, 1000);
  expect_guard_page_layout(&cfg);
  wp_config_free(&cfg);
}

/* ---- Every key ----------------------------------------------------------- */

static const char every_key[] = "[pool]\n"
                                "total_instances = 7\n"
                                "memories_per_instance = 2\n"
                                "tables_per_instance = 3\n"
                                "max_memory_size = \"64MiB\"\n"
                                "guard_size = 65536\n"
                                "guard_before = false\n"
                                "table_elements = 500\n"
                                "max_instance_size = \"2MiB\"\n"
                                "keep_resident = \"8KiB\"\n"
                                "table_keep_resident = \"4KiB\"\n"
                                "max_unused_warm_slots = 5\n"
                                "decommit_batch_size = 16\n"
                                "decommit_in_background = true\n"
                                "max_committed_memory = \"1GiB\"\n"
                                "memory_protection_keys = \"auto\"\n"
                                "max_memory_protection_keys = 3\n"
                                "[server]\n"
                                "socket_path = \"/tmp/a \\\"b\\\"\\\\c.sock\"\n"
                                "socket_mode = \"600\"\n"
                                "socket_owner = \"wasm\"\n"
                                "socket_group = \"www-data\"\n"
                                "allowed_uids = [0, 1000, 4294967294]\n"
                                "tcp_listen = \"[::1]:8080\"\n"
                                "workers = 3\n"
                                "queue_depth = 10\n"
                                "max_connections = 20\n"
                                "max_header_size = \"8KiB\"\n"
                                "max_body_size = \"1.5MiB\"\n"
                                "header_timeout = \"1500ms\"\n"
                                "idle_timeout = 2000\n"
                                "instance_idle_timeout = 0\n"
                                "shutdown_grace = \"2m\"\n"
                                "[runtime]\n"
                                "cache_dir = \"/var/cache/wp\"\n"
                                "module_dir = \"/var/lib/wp/modules\"\n"
                                "toolroot = \"/opt/wp/toolroot\"\n"
                                "cc = \"clang\"\n"
                                "opt_level = \"-O3\"\n"
                                "compile_cpu_time = \"30s\"\n"
                                "compile_memory = \"2GiB\"\n"
                                "compile_timeout = \"1m\"\n"
                                "guest_stack_size = \"1MiB\"\n"
                                "default_deadline = \"250ms\"\n"
                                "max_deadline = \"1h\"\n"
                                "stdout_limit = 0\n"
                                "stderr_limit = \"1KB\"\n"
                                "[log]\n"
                                "level = \"debug\"\n"
                                "format = \"json\"\n";

Test(config, every_key_is_read) {
  wp_daemon_config cfg;
  char err[512] = "";
  cr_assert_eq(parse(every_key, &cfg, err, sizeof(err)), 0, "%s", err);
  cr_expect_eq(cfg.pool.total_instances, 7);
  cr_expect_eq(cfg.pool.memories_per_instance, 2);
  cr_expect_eq(cfg.pool.tables_per_instance, 3);
  cr_expect_eq(cfg.pool.max_memory_bytes, 64 * MIB);
  cr_expect_eq(cfg.pool.guard_bytes, 65536);
  cr_expect_eq(cfg.pool.guard_before, false);
  cr_expect_eq(cfg.pool.table_elements, 500);
  cr_expect_eq(cfg.pool.max_instance_bytes, 2 * MIB);
  cr_expect_eq(cfg.pool.max_committed_bytes, 1024 * MIB);
  cr_expect_eq(cfg.pool.keep_resident_bytes, 8 * KIB);
  cr_expect_eq(cfg.pool.table_keep_resident_bytes, 4 * KIB);
  cr_expect_eq(cfg.pool.max_unused_warm_slots, 5);
  cr_expect_eq(cfg.pool.decommit_batch_size, 16);
  cr_expect_eq(cfg.pool.decommit_in_background, true);
  cr_expect_eq(cfg.pool.memory_protection_keys, WP_KEYS_AUTO);
  cr_expect_eq(cfg.pool.max_memory_protection_keys, 3);
  cr_expect_str_eq(cfg.server.socket_path, "/tmp/a \"b\"\\c.sock");
  cr_expect_eq(cfg.server.socket_mode, 0600);
  cr_expect_str_eq(cfg.server.socket_owner, "wasm");
  cr_expect_str_eq(cfg.server.socket_group, "www-data");
  cr_assert_eq(cfg.server.allowed_uid_count, 3);
  cr_expect_eq(cfg.server.allowed_uids[0], 0);
  cr_expect_eq(cfg.server.allowed_uids[1], 1000);
  cr_expect_eq(cfg.server.allowed_uids[2], 4294967294u);
  cr_expect_str_eq(cfg.server.tcp_listen, "[::1]:8080");
  cr_expect_str_eq(cfg.server.tcp_host, "::1");
  cr_expect_eq(cfg.server.tcp_port, 8080);
  cr_expect_eq(cfg.server.workers, 3);
  cr_expect_eq(cfg.server.queue_depth, 10);
  cr_expect_eq(cfg.server.max_connections, 20);
  cr_expect_eq(cfg.server.max_header_bytes, 8 * KIB);
  cr_expect_eq(cfg.server.max_body_bytes, MIB + MIB / 2);
  cr_expect_eq(cfg.server.header_timeout_ms, 1500);
  cr_expect_eq(cfg.server.idle_timeout_ms, 2000);
  cr_expect_eq(cfg.server.instance_idle_timeout_ms, 0);
  cr_expect_eq(cfg.server.shutdown_grace_ms, 120000);
  cr_expect_str_eq(cfg.runtime.cache_dir, "/var/cache/wp");
  cr_expect_str_eq(cfg.runtime.module_dir, "/var/lib/wp/modules");
  cr_expect_str_eq(cfg.runtime.toolroot, "/opt/wp/toolroot");
  cr_expect_str_eq(cfg.runtime.cc_path, "clang");
  cr_expect_str_eq(cfg.runtime.opt_level, "-O3");
  cr_expect_eq(cfg.runtime.compile_cpu_ms, 30000);
  cr_expect_eq(cfg.runtime.compile_memory_bytes, 2 * GIB);
  cr_expect_eq(cfg.runtime.compile_timeout_ms, 60000);
  cr_expect_eq(cfg.runtime.guest_stack_bytes, MIB);
  cr_expect_eq(cfg.runtime.default_deadline_ms, 250);
  cr_expect_eq(cfg.runtime.max_deadline_ms, 3600000);
  cr_expect_eq(cfg.runtime.stdout_limit_bytes, 0);
  cr_expect_eq(cfg.runtime.stderr_limit_bytes, 1000);
  cr_expect_eq(cfg.log.level, WP_LOG_DEBUG);
  cr_expect_eq(cfg.log.format, WP_LOG_JSON);
  wp_config_free(&cfg);
}

Test(config, optional_strings_can_be_emptied_and_listeners_parsed) {
  wp_daemon_config cfg;
  char err[512] = "";
  cr_assert_eq(parse("[server]\nsocket_owner = \"\"\ntcp_listen = \"localhost:0\"\n"
                     "allowed_uids = []\n",
                     &cfg, err, sizeof(err)),
               0, "%s", err);
  cr_expect_null(cfg.server.socket_owner);
  cr_expect_str_eq(cfg.server.tcp_host, "127.0.0.1");
  cr_expect_eq(cfg.server.tcp_port, 0);
  cr_expect_eq(cfg.server.allowed_uid_count, 0);
  wp_config_free(&cfg);

  cr_assert_eq(parse("[server]\ntcp_listen = \"127.1.2.3:65535\"\n", &cfg, err, sizeof(err)), 0,
               "%s", err);
  cr_expect_str_eq(cfg.server.tcp_host, "127.1.2.3");
  cr_expect_eq(cfg.server.tcp_port, 65535);
  wp_config_free(&cfg);
}

/* ---- Errors: the exact message, with the line ----------------------------- */

typedef struct error_case {
  const char *text;
  const char *message;
} error_case;

static void expect_errors(const error_case *cases, size_t count) {
  for (size_t i = 0; i < count; i++) {
    wp_daemon_config cfg;
    char err[512] = "";
    int rc = parse(cases[i].text, &cfg, err, sizeof(err));
    cr_expect_eq(rc, WP_ECONFIG, "case %zu: rc %d for:\n%s", i, rc, cases[i].text);
    cr_expect_str_eq(err, cases[i].message, "case %zu:\n got  %s\n want %s", i, err,
                     cases[i].message);
    /* A failed load leaves nothing to free (and freeing is harmless). */
    cr_expect_null(cfg.server.socket_path, "case %zu", i);
    wp_config_free(&cfg);
  }
}

Test(config, unknown_keys_and_tables) {
  static const error_case cases[] = {
      {"[pool]\ntotal_instances = 5\nmax_memory_sise = 1\n",
       "t.toml:3: pool.max_memory_sise: unknown key (did you mean pool.max_memory_size?)"},
      {"# c\n\n[poool]\nx = 1\n", "t.toml:3: poool: unknown table (did you mean [pool]?)"},
      {"workers = 4\n", "t.toml:1: workers: unknown key (workers belongs in [server])"},
      {"[server]\nworkers = 1\n[server.extra]\na = 1\n", "t.toml:3: server.extra: unknown key"},
      {"[log]\nlevel = \"info\"\n[pool]\ntable_element_bytes = 8\n",
       "t.toml:4: pool.table_element_bytes: unknown key"},
      /* The earliest problem in the file wins, not the alphabetically first. */
      {"[runtime]\nzzz = 1\naaa = 2\n", "t.toml:2: runtime.zzz: unknown key"},
      {"[server]\n\"bad\\nkey\" = 1\n", "t.toml:2: server.bad?key: unknown key"},
      {"[pool]\nworkers = 2\n",
       "t.toml:2: pool.workers: unknown key (workers belongs in [server])"},
      {"[cache]\nsize = 1\n",
       "t.toml:1: cache: unknown table (the tables are [pool], [server], [runtime], [log])"},
      {"debug = true\n",
       "t.toml:1: debug: unknown key (keys belong in [pool], [server], [runtime] or [log])"},
      {"[sever]\n", "t.toml:1: sever: unknown table (did you mean [server]?)"},
  };
  expect_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(config, wrong_types) {
  static const error_case cases[] = {
      {"[server]\nworkers = \"4\"\n",
       "t.toml:2: server.workers: expected an integer, got a string"},
      {"[pool]\nguard_before = 1\n",
       "t.toml:2: pool.guard_before: expected a boolean, got an integer"},
      {"[pool]\n\nguard_size = 1.5\n",
       "t.toml:3: pool.guard_size: expected a size (integer bytes or a string like \"4GiB\"), got "
       "a float"},
      {"[server]\nidle_timeout = true\n",
       "t.toml:2: server.idle_timeout: expected a duration (integer milliseconds or a string like "
       "\"30s\"), got a boolean"},
      {"pool = 5\n", "t.toml:1: pool: expected a table, got an integer"},
      {"[[pool]]\ntotal_instances = 1\n", "t.toml:1: pool: expected a table, got an array"},
      {"[runtime]\ncache_dir = [\"/a\"]\n",
       "t.toml:2: runtime.cache_dir: expected a string, got an array"},
      {"[server]\nallowed_uids = 1000\n",
       "t.toml:2: server.allowed_uids: expected an array, got an integer"},
      {"[server]\nallowed_uids = [\n  1000,\n  \"root\",\n]\n",
       "t.toml:4: server.allowed_uids[1]: expected an integer (a uid), got a string"},
      {"[server]\nsocket_mode = 0o660\n",
       "t.toml:2: server.socket_mode: expected a string of octal digits like \"0660\", got an "
       "integer"},
      {"[log]\nformat = 1979-05-27\n", "t.toml:2: log.format: expected a string, got a date/time"},
  };
  expect_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(config, bad_values) {
  static const error_case cases[] = {
      {"[pool]\nmax_memory_size = \"4GB5\"\n",
       "t.toml:2: pool.max_memory_size: \"4GB5\" has an unknown unit (write bytes or a number "
       "with B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)"},
      {"[pool]\nguard_size = \"0.1KiB\"\n",
       "t.toml:2: pool.guard_size: \"0.1KiB\" is not a whole number of bytes (write bytes or a "
       "number with B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)"},
      {"[server]\nheader_timeout = \"10\"\n",
       "t.toml:2: server.header_timeout: \"10\" needs a unit (write milliseconds or a number with "
       "ms, s, m or h)"},
      {"[pool]\nguard_size = -1\n", "t.toml:2: pool.guard_size: must not be negative, got -1"},
      {"[pool]\ntotal_instances = -5\n",
       "t.toml:2: pool.total_instances: must not be negative, got -5"},
      {"[pool]\ntotal_instances = 4294967296\n",
       "t.toml:2: pool.total_instances: must be at most 4294967295, got 4294967296"},
      {"[server]\nworkers = 5000\n", "t.toml:2: server.workers: must be at most 1024, got 5000"},
      {"[server]\nqueue_depth = 0\n", "t.toml:2: server.queue_depth: must be at least 1, got 0"},
      {"[server]\nmax_header_size = \"1MiB\"\n",
       "t.toml:2: server.max_header_size: must be at most 64KiB, got 1MiB"},
      {"[server]\nheader_timeout = 0\n",
       "t.toml:2: server.header_timeout: must be at least 1ms, got 0ms"},
      {"[runtime]\ncompile_cpu_time = 1500\n",
       "t.toml:2: runtime.compile_cpu_time: 1500ms is not a whole number of seconds"},
      {"[server]\nsocket_mode = \"0999\"\n",
       "t.toml:2: server.socket_mode: \"0999\" is not an octal mode like \"0660\""},
      {"[server]\nsocket_mode = \"4755\"\n",
       "t.toml:2: server.socket_mode: \"4755\" sets bits beyond 0777"},
      {"[server]\nsocket_path = \"\"\n", "t.toml:2: server.socket_path: must not be empty"},
      {"[server]\nsocket_path = \"/tmp/"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaaaaaaaa.sock\"\n",
       "t.toml:2: server.socket_path: is 114 bytes long; a Unix socket path must be under 108"},
      {"[server]\nsocket_path = \"a\\u0000b\"\n",
       "t.toml:2: server.socket_path: must not contain a NUL character"},
      {"[runtime]\ncache_dir = \"cache\"\n",
       "t.toml:2: runtime.cache_dir: \"cache\" is not an absolute path"},
      {"[runtime]\nopt_level = \"-O2 -fplugin=x\"\n",
       "t.toml:2: runtime.opt_level: \"-O2 -fplugin=x\" is not one of \"-O0\", \"-O1\", \"-O2\", "
       "\"-O3\", \"-Os\""},
      {"[log]\nlevel = \"loud\"\n",
       "t.toml:2: log.level: \"loud\" is not one of \"debug\", \"info\", \"warn\", \"error\""},
      {"[server]\nallowed_uids = [-1]\n",
       "t.toml:2: server.allowed_uids[0]: -1 is not a valid uid"},
      {"[server]\nallowed_uids = [4294967295]\n",
       "t.toml:2: server.allowed_uids[0]: 4294967295 is not a valid uid"},
      {"[server]\ntcp_listen = \"0.0.0.0:80\"\n",
       "t.toml:2: server.tcp_listen: \"0.0.0.0:80\" is not a loopback address (only 127.0.0.0/8, "
       "[::1] and localhost)"},
      {"[server]\ntcp_listen = \"[::]:80\"\n",
       "t.toml:2: server.tcp_listen: \"[::]:80\" is not a loopback address (only 127.0.0.0/8, "
       "[::1] and localhost)"},
      {"[server]\ntcp_listen = \"127.0.0.1\"\n",
       "t.toml:2: server.tcp_listen: \"127.0.0.1\" needs a port, like \"127.0.0.1:8080\""},
      {"[server]\ntcp_listen = \"127.0.0.1:65536\"\n",
       "t.toml:2: server.tcp_listen: \"127.0.0.1:65536\" has an invalid port (0-65535)"},
      {"[server]\ntcp_listen = \"127.0.0.1:-1\"\n",
       "t.toml:2: server.tcp_listen: \"127.0.0.1:-1\" has an invalid port (0-65535)"},
      {"[server]\ntcp_listen = \"example.com:80\"\n",
       "t.toml:2: server.tcp_listen: \"example.com:80\" is not an IP address and port"},
  };
  expect_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(config, checks_across_keys) {
  static const error_case cases[] = {
      {"[runtime]\ndefault_deadline = \"2m\"\n",
       "t.toml:2: runtime.default_deadline: 2m exceeds runtime.max_deadline (1m)"},
      {"[runtime]\nstdout_limit = 1\nmax_deadline = \"2s\"\n",
       "t.toml:3: runtime.max_deadline: 2s is below runtime.default_deadline (10s)"},
  };
  expect_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(config, pool_check_failures_name_the_key_and_line) {
  char page_msg[256];
  long page = sysconf(_SC_PAGESIZE);
  snprintf(page_msg, sizeof(page_msg),
           "t.toml:3: pool.max_memory_size: must be a multiple of the page size (%ld)", page);
  const error_case cases[] = {
      {"[pool]\ntotal_instances = 2\nmax_memory_size = 4097\n", page_msg},
      {"\n[pool]\ntotal_instances = 0\n", "t.toml:3: pool.total_instances: must be at least 1"},
      /* A dotted key makes the table; its line stands for the table. */
      {"# x\npool.decommit_batch_size = 0\n",
       "t.toml:2: pool.decommit_batch_size: must be at least 1"},
      /* keep_resident was left at its default (64 KiB): blame it at [pool]'s
       * line, with alloc/'s field names turned into config keys. */
      {"[log]\nlevel = \"warn\"\n[pool]\nguard_size = 0\nmax_memory_size = \"32KiB\"\n",
       "t.toml:3: pool.keep_resident: larger than max_memory_size"},
  };
  expect_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(config, toml_syntax_errors_report_line_and_column) {
  static const error_case cases[] = {
      {"[pool]\ntotal_instances = = 5\n",
       "t.toml:2:19: Error while parsing value: could not determine value type"},
      {"[pool]\ntotal_instances = 1\ntotal_instances = 2\n",
       "t.toml:3:19: Error while parsing key-value pair: cannot redefine existing integer "
       "'total_instances'"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    wp_daemon_config cfg;
    char err[512] = "";
    int rc = parse(cases[i].text, &cfg, err, sizeof(err));
    cr_expect_eq(rc, WP_ECONFIG);
    /* toml++ owns the wording; the position format is ours. */
    cr_expect(strncmp(err, cases[i].message, 10) == 0, "case %zu: %s", i, err);
    cr_expect_str_eq(err, cases[i].message, "case %zu (toml++ wording may differ): %s", i, err);
  }
}

Test(config, load_reports_the_file_name) {
  wp_daemon_config cfg;
  char err[512] = "";
  char path[1024];
  snprintf(path, sizeof(path), "%s/tests/daemon/fixtures/unknown_key.toml", WP_SOURCE_DIR);
  cr_assert_eq(wp_config_load(path, &cfg, err, sizeof(err)), WP_ECONFIG, "%s", err);
  char want[1100];
  snprintf(want, sizeof(want), "%s:5: server.wokers: unknown key (did you mean server.workers?)",
           path);
  cr_expect_str_eq(err, want);

  snprintf(path, sizeof(path), "%s/tests/daemon/fixtures/syntax_error.toml", WP_SOURCE_DIR);
  cr_assert_eq(wp_config_load(path, &cfg, err, sizeof(err)), WP_ECONFIG, "%s", err);
  snprintf(want, sizeof(want), "%s:4:", path);
  cr_expect(strncmp(err, want, strlen(want)) == 0, "want \"%s...\", got \"%s\"", want, err);

  cr_expect_eq(wp_config_load("/nonexistent/wasmpool.toml", &cfg, err, sizeof(err)), WP_EIO);
  cr_expect_str_eq(err, "/nonexistent/wasmpool.toml: No such file or directory");
  cr_expect_eq(wp_config_load("/tmp", &cfg, err, sizeof(err)), WP_EIO);
  cr_expect_str_eq(err, "/tmp: not a regular file");
}

Test(config, error_buffer_is_optional_and_truncation_is_safe) {
  wp_daemon_config cfg;
  cr_expect_eq(parse("[pool]\nx = 1\n", &cfg, NULL, 0), WP_ECONFIG);
  char small[8];
  cr_expect_eq(parse("[pool]\nx = 1\n", &cfg, small, sizeof(small)), WP_ECONFIG);
  cr_expect_str_eq(small, "t.toml:");
  cr_expect_eq(parse("x = = 1\n", &cfg, small, sizeof(small)), WP_ECONFIG);
  cr_expect_str_eq(small, "t.toml:");
}

/* ---- Dump and reload ----------------------------------------------------- */

static void expect_round_trip(const wp_daemon_config *cfg) {
  char *text = dump_to_string(cfg);
  wp_daemon_config back;
  char err[512] = "";
  int rc = parse(text, &back, err, sizeof(err));
  cr_assert_eq(rc, 0, "%s\n--- dump was:\n%s", err, text);
  expect_equal(cfg, &back);
  char *again = dump_to_string(&back);
  cr_expect_str_eq(again, text);
  free(again);
  free(text);
  wp_config_free(&back);
}

Test(config, dump_reloads_to_an_equal_config) {
  wp_daemon_config cfg;
  char err[512] = "";
  cr_assert_eq(parse(every_key, &cfg, err, sizeof(err)), 0, "%s", err);
  expect_round_trip(&cfg);
  wp_config_free(&cfg);

  wp_config_default(&cfg);
  expect_round_trip(&cfg);
  wp_config_free(&cfg);
}

Test(config, dump_has_every_key) {
  wp_daemon_config cfg;
  wp_config_default(&cfg);
  char *text = dump_to_string(&cfg);
  static const char *const expected[] = {"\n[pool]\n",
                                         "\ntotal_instances = 1000\n",
                                         "\nmax_memory_size = \"4GiB\"\n",
                                         "\nguard_before = true\n",
                                         "\n[server]\n",
                                         "\nsocket_mode = \"0660\"\n",
                                         "\nallowed_uids = []\n",
                                         "\ntcp_listen = \"\"\n",
                                         "\nidle_timeout = \"1m\"\n",
                                         "\n[runtime]\n",
                                         "\nopt_level = \"-O2\"\n",
                                         "\ncompile_cpu_time = \"2m\"\n",
                                         "\n[log]\n",
                                         "\nlevel = \"info\"\n",
                                         "\nformat = \"text\"\n"};
  for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
    cr_expect_not_null(strstr(text, expected[i]), "missing %s in:\n%s", expected[i], text);
  /* Every line is a comment, a table header, a "key = value" or empty:
   * count the keys. 20 pool + 15 server + 17 runtime + 2 log. */
  size_t keys = 0;
  for (const char *p = text; (p = strstr(p, " = ")) != NULL; p += 3)
    keys++;
  cr_expect_eq(keys, 54, "%zu keys in:\n%s", keys, text);
  free(text);
  wp_config_free(&cfg);
}

/* ---- Helpers for the daemon ---------------------------------------------- */

Test(config, socket_override) {
  wp_daemon_config cfg;
  wp_config_default(&cfg);
  char err[256] = "";
  cr_expect_eq(wp_config_set_socket_path(&cfg, "run/x.sock", err, sizeof(err)), 0, "%s", err);
  cr_expect_str_eq(cfg.server.socket_path, "run/x.sock");
  char long_path[200];
  memset(long_path, 'a', sizeof(long_path) - 1);
  long_path[sizeof(long_path) - 1] = '\0';
  cr_expect_eq(wp_config_set_socket_path(&cfg, long_path, err, sizeof(err)), WP_ECONFIG);
  cr_expect_str_eq(err, "--socket: server.socket_path: is 199 bytes long; a Unix socket path "
                        "must be under 108");
  cr_expect_str_eq(cfg.server.socket_path, "run/x.sock", "a refused override changes nothing");
  cr_expect_eq(wp_config_set_socket_path(&cfg, "", err, sizeof(err)), WP_ECONFIG);
  wp_config_free(&cfg);
}

Test(config, fills_the_runtime_config) {
  wp_daemon_config cfg;
  char err[512] = "";
  cr_assert_eq(parse(every_key, &cfg, err, sizeof(err)), 0, "%s", err);
  wp_runtime_config rt;
  memset(&rt, 0, sizeof(rt));
  rt.pool.table_element_bytes = 16; /* the embedder's, kept */
  wp_config_to_runtime(&cfg, &rt);
  cr_expect_eq(rt.pool.total_instances, 7);
  cr_expect_eq(rt.pool.max_memory_bytes, 64 * MIB);
  cr_expect_eq(rt.pool.table_element_bytes, 16);
  cr_expect_eq(rt.cache_dir, cfg.runtime.cache_dir);
  cr_expect_str_eq(rt.toolroot, "/opt/wp/toolroot");
  cr_expect_str_eq(rt.cc_path, "clang");
  cr_expect_str_eq(rt.opt_level, "-O3");
  cr_expect_eq(rt.compile_cpu_seconds, 30);
  cr_expect_eq(rt.compile_memory_bytes, 2 * GIB);
  cr_expect_eq(rt.compile_wall_ms, 60000);
  cr_expect_eq(rt.guest_stack_bytes, MIB);
  wp_config_free(&cfg);
}

/* The pools' address space is computed when the file is read: a config
 * that cannot be reserved fails there, naming the key and the figures. */
Test(config, unreservable_pools_name_the_key_and_figures) {
  wp_daemon_config cfg;
  char err[1024] = "";
  int rc = parse("[pool]\nmax_memory_size = \"4GiB\"\ntotal_instances = 20000\n", &cfg, err,
                 sizeof(err));
  cr_assert_eq(rc, WP_ECONFIG);
  cr_assert(strncmp(err, "t.toml:3: pool.total_instances: the pools need 156.", 51) == 0, "%s",
            err);
  cr_assert(strstr(err, "20000 x (4 GiB + 4 GiB guard)") != NULL, "%s", err);
  rc = parse("[pool]\ntotal_instances = 20000\nguarded_memories = 100\nsmall_memories = 20000\n",
             &cfg, err, sizeof(err));
  cr_assert_eq(rc, 0, "%s", err);
  wp_config_free(&cfg);
}

/* True when /proc/cpuinfo lists the pku flag (protection keys). */
static bool cpu_has_pku(void) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[4096];
  bool found = false;
  while (f && !found && fgets(line, sizeof(line), f))
    found = strncmp(line, "flags", 5) == 0 && strstr(line, " pku") != NULL;
  if (f)
    fclose(f);
  return found;
}

Test(config, memory_protection_keys) {
  wp_daemon_config cfg;
  char err[512] = "";
  cr_assert_eq(parse("[pool]\nmemory_protection_keys = \"auto\"\nmax_memory_protection_keys = 4\n",
                     &cfg, err, sizeof(err)),
               0, "%s", err);
  cr_expect_eq(cfg.pool.memory_protection_keys, WP_KEYS_AUTO);
  cr_expect_eq(cfg.pool.max_memory_protection_keys, 4);
  wp_config_free(&cfg);
  const error_case cases[] = {
      {"[pool]\nmemory_protection_keys = \"maybe\"\n",
       "t.toml:2: pool.memory_protection_keys: \"maybe\" is not one of \"off\", \"auto\", \"on\""},
      {"[pool]\nmax_memory_protection_keys = 16\n",
       "t.toml:2: pool.max_memory_protection_keys: must be at most 15, got 16"},
  };
  expect_errors(cases, sizeof(cases) / sizeof(cases[0]));
  /* "on" needs the hardware: refused where there is none, said so. */
  int rc = parse("[pool]\nmemory_protection_keys = \"on\"\n", &cfg, err, sizeof(err));
  if (cpu_has_pku()) {
    cr_expect_eq(rc, 0, "%s", err);
    wp_config_free(&cfg);
  } else {
    cr_expect_eq(rc, WP_ECONFIG);
    cr_expect(strstr(err, "t.toml:2: pool.memory_protection_keys: \"on\" but this CPU") == err,
              "%s", err);
  }
}
