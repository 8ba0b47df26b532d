/* config.c — wasmpoold's TOML config: defaults, strict loading, dumping.
 *
 * Every key is one row of the keys[] table below: its table, its name, how its
 * value is read (kind), where it lands in wp_daemon_config, and its limits.
 * Loading walks the tree from config_toml.cpp and looks each key up in that
 * table; dumping walks the same table, so a key cannot be loadable without
 * being dumped (or the reverse). Defaults live in wp_config_default() and,
 * for [pool], in alloc/'s wp_pool_config_default(), so there is one source of
 * each default.
 *
 * Checks happen in three places, each reported as "FILE:LINE: KEY: ...":
 * per value while walking (type, range, syntax), across keys after the walk
 * (default_deadline <= max_deadline), and then wp_pool_config_check(), whose
 * "field: why" is mapped back to the config key that set the field.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/un.h>

#include "config_toml.h"
#include "instance.h"

/* A config file is a few kilobytes; refusing big ones keeps a wrong path
 * (a log file, a device) from being slurped into memory. */
#define CONFIG_MAX_FILE_BYTES (1u << 20)

#define KIB       (1ull << 10)
#define MIB       (1ull << 20)
#define GIB       (1ull << 30)
#define SECOND_MS 1000ull
#define MINUTE_MS (60 * SECOND_MS)
#define HOUR_MS   (60 * MINUTE_MS)
#define DAY_MS    (24 * HOUR_MS)

/* ---- The key table ------------------------------------------------------- */

typedef enum key_kind {
  KIND_U32,      /* integer */
  KIND_BOOL,     /* boolean */
  KIND_SIZE,     /* uint64_t bytes: integer or "4GiB" */
  KIND_DURATION, /* uint64_t ms: integer or "30s" */
  KIND_STRING,   /* char *, non-empty */
  KIND_CHOICE,   /* char *, one of choices[] */
  KIND_ENUM,     /* enum stored as its index in choices[] */
  KIND_MODE,     /* uint32_t permission bits written "0660" */
  KIND_UIDS,     /* allowed_uids + allowed_uid_count */
  KIND_LISTEN,   /* tcp_listen + tcp_host + tcp_port */
} key_kind;

enum {
  FLAG_OPTIONAL = 1 << 0,      /* KIND_STRING: "" means unset (NULL) */
  FLAG_ABSOLUTE = 1 << 1,      /* KIND_STRING: must start with '/' */
  FLAG_SOCKET_PATH = 1 << 2,   /* KIND_STRING: must fit in sun_path */
  FLAG_WHOLE_SECONDS = 1 << 3, /* KIND_DURATION: a multiple of 1s */
};

typedef enum table_id { TABLE_POOL, TABLE_SERVER, TABLE_RUNTIME, TABLE_LOG, TABLE_COUNT } table_id;

static const char *const table_names[TABLE_COUNT] = {"pool", "server", "runtime", "log"};

typedef struct key_desc {
  table_id table;
  const char *name;
  key_kind kind;
  size_t offset; /* into wp_daemon_config */
  uint64_t min, max;
  unsigned flags;
  const char *const *choices; /* KIND_CHOICE, KIND_ENUM: NULL-terminated */
} key_desc;

static const char *const opt_levels[] = {"-O0", "-O1", "-O2", "-O3", "-Os", NULL};
/* Order matches wp_log_level / wp_log_format. */
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
/* Order matches wp_keys_mode. */
static const char *const key_modes[] = {"off", "auto", "on", NULL};

#define AT(member) offsetof(wp_daemon_config, member)
#define U32_ALL    0, UINT32_MAX
#define U64_ALL    0, UINT64_MAX

static const key_desc keys[] = {
    {TABLE_POOL, "total_instances", KIND_U32, AT(pool.total_instances), U32_ALL, 0, NULL},
    {TABLE_POOL, "memories_per_instance", KIND_U32, AT(pool.memories_per_instance), U32_ALL, 0,
     NULL},
    {TABLE_POOL, "tables_per_instance", KIND_U32, AT(pool.tables_per_instance), U32_ALL, 0, NULL},
    {TABLE_POOL, "max_memory_size", KIND_SIZE, AT(pool.max_memory_bytes), U64_ALL, 0, NULL},
    {TABLE_POOL, "guard_size", KIND_SIZE, AT(pool.guard_bytes), U64_ALL, 0, NULL},
    {TABLE_POOL, "guard_before", KIND_BOOL, AT(pool.guard_before), 0, 1, 0, NULL},
    {TABLE_POOL, "table_elements", KIND_U32, AT(pool.table_elements), U32_ALL, 0, NULL},
    {TABLE_POOL, "max_instance_size", KIND_SIZE, AT(pool.max_instance_bytes), U64_ALL, 0, NULL},
    {TABLE_POOL, "keep_resident", KIND_SIZE, AT(pool.keep_resident_bytes), U64_ALL, 0, NULL},
    {TABLE_POOL, "table_keep_resident", KIND_SIZE, AT(pool.table_keep_resident_bytes), U64_ALL, 0,
     NULL},
    {TABLE_POOL, "max_unused_warm_slots", KIND_U32, AT(pool.max_unused_warm_slots), U32_ALL, 0,
     NULL},
    {TABLE_POOL, "decommit_batch_size", KIND_U32, AT(pool.decommit_batch_size), U32_ALL, 0, NULL},
    {TABLE_POOL, "decommit_in_background", KIND_BOOL, AT(pool.decommit_in_background), 0, 1, 0,
     NULL},
    {TABLE_POOL, "max_committed_memory", KIND_SIZE, AT(pool.max_committed_bytes), 0, UINT64_MAX, 0,
     NULL},
    {TABLE_POOL, "guarded_memories", KIND_U32, AT(pool.guarded_memories), U32_ALL, 0, NULL},
    {TABLE_POOL, "small_memories", KIND_U32, AT(pool.small_memories), U32_ALL, 0, NULL},
    {TABLE_POOL, "small_memory_size", KIND_SIZE, AT(pool.small_memory_bytes), U64_ALL, 0, NULL},
    {TABLE_POOL, "prewarm", KIND_U32, AT(pool_prewarm), 0, 1u << 20, 0, NULL},
    {TABLE_POOL, "memory_protection_keys", KIND_ENUM, AT(pool.memory_protection_keys), 0, 0, 0,
     key_modes},
    {TABLE_POOL, "max_memory_protection_keys", KIND_U32, AT(pool.max_memory_protection_keys), 2, 15,
     0, NULL},

    {TABLE_SERVER, "socket_path", KIND_STRING, AT(server.socket_path), 0, 0, FLAG_SOCKET_PATH,
     NULL},
    {TABLE_SERVER, "socket_mode", KIND_MODE, AT(server.socket_mode), 0, 0777, 0, NULL},
    {TABLE_SERVER, "socket_owner", KIND_STRING, AT(server.socket_owner), 0, 0, FLAG_OPTIONAL, NULL},
    {TABLE_SERVER, "socket_group", KIND_STRING, AT(server.socket_group), 0, 0, FLAG_OPTIONAL, NULL},
    {TABLE_SERVER, "allowed_uids", KIND_UIDS, AT(server.allowed_uids), 0, UINT32_MAX - 1, 0, NULL},
    {TABLE_SERVER, "tcp_listen", KIND_LISTEN, AT(server.tcp_listen), 0, 0, 0, NULL},
    {TABLE_SERVER, "workers", KIND_U32, AT(server.workers), 0, 1024, 0, NULL},
    {TABLE_SERVER, "queue_depth", KIND_U32, AT(server.queue_depth), 1, 1u << 20, 0, NULL},
    {TABLE_SERVER, "max_connections", KIND_U32, AT(server.max_connections), 1, 1u << 20, 0, NULL},
    /* http-parser refuses heads over 80 KiB on its own (HTTP_MAX_HEADER_SIZE). */
    {TABLE_SERVER, "max_header_size", KIND_SIZE, AT(server.max_header_bytes), 1 * KIB, 64 * KIB, 0,
     NULL},
    {TABLE_SERVER, "max_body_size", KIND_SIZE, AT(server.max_body_bytes), 1, 4 * GIB, 0, NULL},
    {TABLE_SERVER, "header_timeout", KIND_DURATION, AT(server.header_timeout_ms), 1, HOUR_MS, 0,
     NULL},
    {TABLE_SERVER, "idle_timeout", KIND_DURATION, AT(server.idle_timeout_ms), 1, DAY_MS, 0, NULL},
    {TABLE_SERVER, "instance_idle_timeout", KIND_DURATION, AT(server.instance_idle_timeout_ms), 0,
     30 * DAY_MS, 0, NULL},
    {TABLE_SERVER, "shutdown_grace", KIND_DURATION, AT(server.shutdown_grace_ms), 0, HOUR_MS, 0,
     NULL},

    {TABLE_RUNTIME, "cache_dir", KIND_STRING, AT(runtime.cache_dir), 0, 0, FLAG_ABSOLUTE, NULL},
    {TABLE_RUNTIME, "module_dir", KIND_STRING, AT(runtime.module_dir), 0, 0, FLAG_ABSOLUTE, NULL},
    {TABLE_RUNTIME, "toolroot", KIND_STRING, AT(runtime.toolroot), 0, 0,
     FLAG_OPTIONAL | FLAG_ABSOLUTE, NULL},
    {TABLE_RUNTIME, "tcc", KIND_STRING, AT(runtime.tcc_path), 0, 0, 0, NULL},
    {TABLE_RUNTIME, "cc", KIND_STRING, AT(runtime.cc_path), 0, 0, 0, NULL},
    {TABLE_RUNTIME, "opt_level", KIND_CHOICE, AT(runtime.opt_level), 0, 0, 0, opt_levels},
    {TABLE_RUNTIME, "compile_cpu_time", KIND_DURATION, AT(runtime.compile_cpu_ms), SECOND_MS,
     HOUR_MS, FLAG_WHOLE_SECONDS, NULL},
    {TABLE_RUNTIME, "compile_memory", KIND_SIZE, AT(runtime.compile_memory_bytes), 64 * MIB,
     UINT64_MAX, 0, NULL},
    {TABLE_RUNTIME, "compile_timeout", KIND_DURATION, AT(runtime.compile_timeout_ms), SECOND_MS,
     DAY_MS, 0, NULL},
    {TABLE_RUNTIME, "guest_stack_size", KIND_SIZE, AT(runtime.guest_stack_bytes), 64 * KIB, GIB, 0,
     NULL},
    {TABLE_RUNTIME, "tierup_threads", KIND_U32, AT(runtime.tierup_threads), 0, 64, 0, NULL},
    {TABLE_RUNTIME, "compile_jobs", KIND_U32, AT(runtime.compile_jobs), 1, 16, 0, NULL},
    {TABLE_RUNTIME, "default_deadline", KIND_DURATION, AT(runtime.default_deadline_ms), 1, DAY_MS,
     0, NULL},
    {TABLE_RUNTIME, "max_deadline", KIND_DURATION, AT(runtime.max_deadline_ms), 1, DAY_MS, 0, NULL},
    {TABLE_RUNTIME, "snapshot_deadline", KIND_DURATION, AT(runtime.snapshot_deadline_ms), 1,
     HOUR_MS, 0, NULL},
    {TABLE_RUNTIME, "stdout_limit", KIND_SIZE, AT(runtime.stdout_limit_bytes), 0, GIB, 0, NULL},
    {TABLE_RUNTIME, "stderr_limit", KIND_SIZE, AT(runtime.stderr_limit_bytes), 0, GIB, 0, NULL},

    {TABLE_LOG, "level", KIND_ENUM, AT(log.level), 0, 0, 0, log_levels},
    {TABLE_LOG, "format", KIND_ENUM, AT(log.format), 0, 0, 0, log_formats},
};

#define KEY_COUNT (sizeof(keys) / sizeof(keys[0]))

/* alloc/ names pool fields after the struct (max_memory_bytes); the config
 * names them after what users write (max_memory_size). */
static const struct {
  const char *field, *key;
} pool_field_keys[] = {
    {"max_memory_bytes", "max_memory_size"},
    {"guard_bytes", "guard_size"},
    {"max_instance_bytes", "max_instance_size"},
    {"keep_resident_bytes", "keep_resident"},
    {"table_keep_resident_bytes", "table_keep_resident"},
    {"max_committed_bytes", "max_committed_memory"},
    {"small_memory_bytes", "small_memory_size"},
};

/* ---- Load state and errors ----------------------------------------------- */

typedef struct load_state {
  const char *source_name;
  char *err;
  size_t err_len;
  uint32_t key_line[KEY_COUNT];     /* 0: not in the file */
  uint32_t table_line[TABLE_COUNT]; /* 0: not in the file */
} load_state;

/* Keys from the file may hold anything TOML allows in a quoted key; keep the
 * message on one line and of bounded length. */
static void sanitize(const char *text, size_t length, char *buf, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < length && n + 4 < len; i++)
    buf[n++] = ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) ? '?' : text[i];
  if (length > 0 && n + 4 >= len && n < length) {
    memcpy(buf + n, "...", 3);
    n += 3;
  }
  buf[n] = '\0';
}

/* Writes "FILE:LINE: KEY: message" (no ":LINE" when line is 0). */
static int report(load_state *st, uint32_t line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int report(load_state *st, uint32_t line, const char *key, const char *fmt, ...) {
  if (st->err == NULL || st->err_len == 0)
    return WP_ECONFIG;
  int n;
  if (line != 0)
    n = snprintf(st->err, st->err_len, "%s:%u: %s: ", st->source_name, line, key);
  else
    n = snprintf(st->err, st->err_len, "%s: %s: ", st->source_name, key);
  if (n >= 0 && (size_t)n < st->err_len) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->err + n, st->err_len - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return WP_ECONFIG;
}

static void dotted(const key_desc *k, char *buf, size_t len) {
  snprintf(buf, len, "%s.%s", table_names[k->table], k->name);
}

static uint32_t key_or_table_line(const load_state *st, size_t index) {
  return st->key_line[index] != 0 ? st->key_line[index] : st->table_line[keys[index].table];
}

static size_t key_index(const key_desc *k) {
  return (size_t)(k - keys);
}

/* ---- Reading one value --------------------------------------------------- */

static void *field(wp_daemon_config *cfg, const key_desc *k) {
  return (char *)cfg + k->offset;
}

static const void *cfield(const wp_daemon_config *cfg, const key_desc *k) {
  return (const char *)cfg + k->offset;
}

static int expect(load_state *st, const key_desc *k, const wp__toml_node *v, wp__toml_type type) {
  if (v->type == type)
    return 0;
  char key[96];
  dotted(k, key, sizeof(key));
  return report(st, v->line, key, "expected %s, got %s", wp__toml_type_name(type),
                wp__toml_type_name(v->type));
}

static int check_range(load_state *st, const key_desc *k, uint32_t line, uint64_t value,
                       void (*format)(uint64_t, char *, size_t)) {
  if (value >= k->min && value <= k->max)
    return 0;
  char key[96], got[32], bound[32];
  dotted(k, key, sizeof(key));
  bool low = value < k->min;
  if (format != NULL) {
    format(value, got, sizeof(got));
    format(low ? k->min : k->max, bound, sizeof(bound));
  } else {
    snprintf(got, sizeof(got), "%llu", (unsigned long long)value);
    snprintf(bound, sizeof(bound), "%llu", (unsigned long long)(low ? k->min : k->max));
  }
  return report(st, line, key, "must be at %s %s, got %s", low ? "least" : "most", bound, got);
}

/* Integer or "4GiB" / "30s", for KIND_SIZE and KIND_DURATION. */
static int read_scaled(load_state *st, const key_desc *k, const wp__toml_node *v, uint64_t *out) {
  bool is_size = k->kind == KIND_SIZE;
  char key[96];
  dotted(k, key, sizeof(key));
  if (v->type == WP__TOML_INTEGER) {
    if (v->as.integer < 0)
      return report(st, v->line, key, "must not be negative, got %lld", (long long)v->as.integer);
    *out = (uint64_t)v->as.integer;
    return 0;
  }
  if (v->type != WP__TOML_STRING) {
    return report(st, v->line, key,
                  is_size ? "expected a size (integer bytes or a string like \"4GiB\"), got %s"
                          : "expected a duration (integer milliseconds or a string like "
                            "\"30s\"), got %s",
                  wp__toml_type_name(v->type));
  }
  char shown[80];
  sanitize(v->string, v->string_length, shown, sizeof(shown));
  const char *why = "is not valid";
  int rc = strlen(v->string) != v->string_length
               ? WP_EINVAL
               : (is_size ? wp_parse_size(v->string, out, &why)
                          : wp_parse_duration_ms(v->string, out, &why));
  if (rc == 0)
    return 0;
  return report(st, v->line, key, "\"%s\" %s (%s)", shown, why,
                is_size ? "write bytes or a number with B, KiB, MiB, GiB, TiB, kB, MB, GB or TB"
                        : "write milliseconds or a number with ms, s, m or h");
}

static int read_string(load_state *st, const key_desc *k, const wp__toml_node *v, char **out) {
  int rc = expect(st, k, v, WP__TOML_STRING);
  if (rc != 0)
    return rc;
  char key[96];
  dotted(k, key, sizeof(key));
  if (strlen(v->string) != v->string_length)
    return report(st, v->line, key, "must not contain a NUL character");
  *out = NULL;
  if (v->string_length == 0 && (k->flags & FLAG_OPTIONAL))
    return 0;
  if (v->string_length == 0)
    return report(st, v->line, key, "must not be empty");
  if ((k->flags & FLAG_ABSOLUTE) && v->string[0] != '/')
    return report(st, v->line, key, "\"%s\" is not an absolute path", v->string);
  if ((k->flags & FLAG_SOCKET_PATH) &&
      v->string_length >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
    return report(st, v->line, key, "is %zu bytes long; a Unix socket path must be under %zu",
                  v->string_length, sizeof(((struct sockaddr_un *)NULL)->sun_path));
  }
  *out = strdup(v->string);
  return *out != NULL ? 0 : WP_ENOMEM;
}

static int choice_index(const char *const *choices, const char *text) {
  for (int i = 0; choices[i] != NULL; i++) {
    if (strcmp(choices[i], text) == 0)
      return i;
  }
  return -1;
}

static void list_choices(const char *const *choices, char *buf, size_t len) {
  size_t n = 0;
  buf[0] = '\0';
  for (int i = 0; choices[i] != NULL && n < len; i++)
    n += (size_t)snprintf(buf + n, len - n, "%s\"%s\"", i == 0 ? "" : ", ", choices[i]);
}

static int read_choice(load_state *st, const key_desc *k, const wp__toml_node *v, int *index) {
  int rc = expect(st, k, v, WP__TOML_STRING);
  if (rc != 0)
    return rc;
  *index = strlen(v->string) == v->string_length ? choice_index(k->choices, v->string) : -1;
  if (*index >= 0)
    return 0;
  char key[96], shown[80], allowed[128];
  dotted(k, key, sizeof(key));
  sanitize(v->string, v->string_length, shown, sizeof(shown));
  list_choices(k->choices, allowed, sizeof(allowed));
  return report(st, v->line, key, "\"%s\" is not one of %s", shown, allowed);
}

static int read_mode(load_state *st, const key_desc *k, const wp__toml_node *v, uint32_t *out) {
  char key[96];
  dotted(k, key, sizeof(key));
  if (v->type != WP__TOML_STRING) {
    return report(st, v->line, key, "expected a string of octal digits like \"0660\", got %s",
                  wp__toml_type_name(v->type));
  }
  char shown[80];
  sanitize(v->string, v->string_length, shown, sizeof(shown));
  uint32_t mode = 0;
  bool ok = v->string_length >= 1 && v->string_length <= 4;
  for (size_t i = 0; ok && i < v->string_length; i++) {
    ok = v->string[i] >= '0' && v->string[i] <= '7';
    mode = mode * 8 + (uint32_t)(v->string[i] - '0');
  }
  if (!ok)
    return report(st, v->line, key, "\"%s\" is not an octal mode like \"0660\"", shown);
  if (mode > k->max)
    return report(st, v->line, key, "\"%s\" sets bits beyond 0777", shown);
  *out = mode;
  return 0;
}

static int read_uids(load_state *st, const key_desc *k, const wp__toml_node *v,
                     wp_config_server *server) {
  int rc = expect(st, k, v, WP__TOML_ARRAY);
  if (rc != 0)
    return rc;
  uint32_t *uids = NULL;
  if (v->child_count > 0) {
    uids = calloc(v->child_count, sizeof(*uids));
    if (uids == NULL)
      return WP_ENOMEM;
  }
  for (size_t i = 0; i < v->child_count; i++) {
    const wp__toml_node *e = &v->children[i];
    char key[112];
    snprintf(key, sizeof(key), "%s.%s[%zu]", table_names[k->table], k->name, i);
    if (e->type != WP__TOML_INTEGER) {
      free(uids);
      return report(st, e->line, key, "expected an integer (a uid), got %s",
                    wp__toml_type_name(e->type));
    }
    if (e->as.integer < 0 || (uint64_t)e->as.integer > k->max) {
      free(uids);
      return report(st, e->line, key, "%lld is not a valid uid", (long long)e->as.integer);
    }
    uids[i] = (uint32_t)e->as.integer;
  }
  free(server->allowed_uids);
  server->allowed_uids = uids;
  server->allowed_uid_count = v->child_count;
  return 0;
}

/* "127.0.0.1:8080", "[::1]:8080" or "localhost:8080"; loopback only, since
 * the API has no authentication beyond the Unix socket's permissions. */
static int read_listen(load_state *st, const key_desc *k, const wp__toml_node *v,
                       wp_config_server *server) {
  char *text = NULL;
  int rc = read_string(
      st, &(key_desc){k->table, k->name, KIND_STRING, 0, 0, 0, FLAG_OPTIONAL, NULL}, v, &text);
  if (rc != 0)
    return rc;
  if (text == NULL) {
    free(server->tcp_listen);
    free(server->tcp_host);
    server->tcp_listen = server->tcp_host = NULL;
    server->tcp_port = 0;
    return 0;
  }
  char key[96], host[64];
  dotted(k, key, sizeof(key));
  const char *colon = strrchr(text, ':');
  const char *host_start = text;
  size_t host_len = colon != NULL ? (size_t)(colon - text) : 0;
  if (colon == NULL || colon[1] == '\0') {
    rc = report(st, v->line, key, "\"%s\" needs a port, like \"127.0.0.1:8080\"", text);
    goto out;
  }
  if (host_len >= 2 && host_start[0] == '[' && host_start[host_len - 1] == ']') {
    host_start++;
    host_len -= 2;
  }
  if (host_len == 0 || host_len >= sizeof(host)) {
    rc = report(st, v->line, key, "\"%s\" has no valid address before the port", text);
    goto out;
  }
  memcpy(host, host_start, host_len);
  host[host_len] = '\0';

  char *end = NULL;
  errno = 0;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (*end != '\0' || errno != 0 || port > 65535 || colon[1] < '0' || colon[1] > '9') {
    rc = report(st, v->line, key, "\"%s\" has an invalid port (0-65535)", text);
    goto out;
  }

  struct in_addr v4;
  struct in6_addr v6;
  bool loopback;
  if (strcmp(host, "localhost") == 0) {
    strcpy(host, "127.0.0.1");
    loopback = true;
  } else if (inet_pton(AF_INET, host, &v4) == 1) {
    loopback = (ntohl(v4.s_addr) >> 24) == 127;
  } else if (inet_pton(AF_INET6, host, &v6) == 1) {
    loopback = IN6_IS_ADDR_LOOPBACK(&v6);
  } else {
    rc = report(st, v->line, key, "\"%s\" is not an IP address and port", text);
    goto out;
  }
  if (!loopback) {
    rc = report(st, v->line, key,
                "\"%s\" is not a loopback address (only 127.0.0.0/8, [::1] and localhost)", text);
    goto out;
  }
  char *host_copy = strdup(host);
  if (host_copy == NULL) {
    rc = WP_ENOMEM;
    goto out;
  }
  free(server->tcp_listen);
  free(server->tcp_host);
  server->tcp_listen = text;
  server->tcp_host = host_copy;
  server->tcp_port = (uint16_t)port;
  return 0;
out:
  free(text);
  return rc;
}

static int read_value(load_state *st, const key_desc *k, const wp__toml_node *v,
                      wp_daemon_config *cfg) {
  void *dst = field(cfg, k);
  uint64_t value = 0;
  int index = 0;
  int rc;
  switch (k->kind) {
  case KIND_U32: {
    rc = expect(st, k, v, WP__TOML_INTEGER);
    if (rc != 0)
      return rc;
    if (v->as.integer < 0) {
      char key[96];
      dotted(k, key, sizeof(key));
      return report(st, v->line, key, "must not be negative, got %lld", (long long)v->as.integer);
    }
    rc = check_range(st, k, v->line, (uint64_t)v->as.integer, NULL);
    if (rc == 0)
      *(uint32_t *)dst = (uint32_t)v->as.integer;
    return rc;
  }
  case KIND_BOOL:
    rc = expect(st, k, v, WP__TOML_BOOL);
    if (rc == 0)
      *(bool *)dst = v->as.boolean;
    return rc;
  case KIND_SIZE:
  case KIND_DURATION: {
    rc = read_scaled(st, k, v, &value);
    if (rc != 0)
      return rc;
    rc = check_range(st, k, v->line, value,
                     k->kind == KIND_SIZE ? wp_format_size : wp_format_duration);
    if (rc != 0)
      return rc;
    if ((k->flags & FLAG_WHOLE_SECONDS) && value % SECOND_MS != 0) {
      char key[96], shown[32];
      dotted(k, key, sizeof(key));
      wp_format_duration(value, shown, sizeof(shown));
      return report(st, v->line, key, "%s is not a whole number of seconds", shown);
    }
    *(uint64_t *)dst = value;
    return 0;
  }
  case KIND_STRING: {
    char *copy = NULL;
    rc = read_string(st, k, v, &copy);
    if (rc != 0)
      return rc;
    free(*(char **)dst);
    *(char **)dst = copy;
    return 0;
  }
  case KIND_CHOICE: {
    rc = read_choice(st, k, v, &index);
    if (rc != 0)
      return rc;
    char *copy = strdup(k->choices[index]);
    if (copy == NULL)
      return WP_ENOMEM;
    free(*(char **)dst);
    *(char **)dst = copy;
    return 0;
  }
  case KIND_ENUM:
    rc = read_choice(st, k, v, &index);
    if (rc == 0)
      *(unsigned *)dst = (unsigned)index; /* enums of non-negative values are unsigned int */
    return rc;
  case KIND_MODE: return read_mode(st, k, v, (uint32_t *)dst);
  case KIND_UIDS: return read_uids(st, k, v, &cfg->server);
  case KIND_LISTEN: return read_listen(st, k, v, &cfg->server);
  }
  return WP_EINVAL;
}

/* ---- Walking the document ------------------------------------------------ */

static const key_desc *find_key(table_id table, const char *name, size_t length) {
  for (size_t i = 0; i < KEY_COUNT; i++) {
    if (keys[i].table == table && strlen(keys[i].name) == length &&
        memcmp(keys[i].name, name, length) == 0)
      return &keys[i];
  }
  return NULL;
}

static int find_table(const char *name, size_t length) {
  for (int t = 0; t < TABLE_COUNT; t++) {
    if (strlen(table_names[t]) == length && memcmp(table_names[t], name, length) == 0)
      return t;
  }
  return -1;
}

/* Edit distance of two short names, for "did you mean" hints; names longer
 * than 63 bytes are never close to a key. */
static size_t edit_distance(const char *a, size_t a_len, const char *b) {
  size_t b_len = strlen(b);
  if (a_len > 63 || b_len > 63)
    return SIZE_MAX;
  size_t row[64], next[64];
  for (size_t j = 0; j <= b_len; j++)
    row[j] = j;
  for (size_t i = 1; i <= a_len; i++) {
    next[0] = i;
    for (size_t j = 1; j <= b_len; j++) {
      size_t replace = row[j - 1] + (a[i - 1] != b[j - 1]);
      size_t remove = row[j] + 1, insert = next[j - 1] + 1;
      next[j] = replace < remove ? (replace < insert ? replace : insert)
                                 : (remove < insert ? remove : insert);
    }
    memcpy(row, next, (b_len + 1) * sizeof(row[0]));
  }
  return row[b_len];
}

/* A typo is at most two edits away, and fewer than a third of the name. */
static bool is_close(const char *name, size_t length, const char *candidate) {
  size_t d = edit_distance(name, length, candidate);
  return d <= 2 && d * 3 < length;
}

/* " (did you mean server.workers?)", " (workers belongs in [server])" or "". */
static void key_hint(int table, const char *name, size_t length, char *buf, size_t len) {
  buf[0] = '\0';
  for (size_t i = 0; i < KEY_COUNT; i++) {
    if ((int)keys[i].table != table && strlen(keys[i].name) == length &&
        memcmp(keys[i].name, name, length) == 0) {
      snprintf(buf, len, " (%s belongs in [%s])", keys[i].name, table_names[keys[i].table]);
      return;
    }
  }
  for (size_t i = 0; i < KEY_COUNT; i++) {
    if ((int)keys[i].table == table && is_close(name, length, keys[i].name)) {
      snprintf(buf, len, " (did you mean %s.%s?)", table_names[table], keys[i].name);
      return;
    }
  }
}

static int unknown_table(load_state *st, const wp__toml_node *node, const char *shown) {
  char hint[96];
  if (node->type != WP__TOML_TABLE) {
    key_hint(-1, node->key, node->key_length, hint, sizeof(hint));
    if (hint[0] != '\0')
      return report(st, node->line, shown, "unknown key%s", hint);
    return report(st, node->line, shown,
                  "unknown key (keys belong in [pool], [server], [runtime] or [log])");
  }
  for (int t = 0; t < TABLE_COUNT; t++) {
    if (is_close(node->key, node->key_length, table_names[t]))
      return report(st, node->line, shown, "unknown table (did you mean [%s]?)", table_names[t]);
  }
  return report(st, node->line, shown,
                "unknown table (the tables are [pool], [server], [runtime], [log])");
}

static int walk(load_state *st, const wp__toml_node *root, wp_daemon_config *cfg) {
  for (size_t i = 0; i < root->child_count; i++) {
    const wp__toml_node *table = &root->children[i];
    char shown[80];
    sanitize(table->key, table->key_length, shown, sizeof(shown));
    int t = find_table(table->key, table->key_length);
    if (t < 0)
      return unknown_table(st, table, shown);
    if (table->type != WP__TOML_TABLE) {
      return report(st, table->line, shown, "expected a table, got %s",
                    wp__toml_type_name(table->type));
    }
    /* A table made only by dotted keys ("pool.x = 1") has no header line;
     * its first key stands in for it. */
    st->table_line[t] = table->line != 0          ? table->line
                        : table->child_count != 0 ? table->children[0].line
                                                  : 0;
    for (size_t j = 0; j < table->child_count; j++) {
      const wp__toml_node *v = &table->children[j];
      const key_desc *k = find_key((table_id)t, v->key, v->key_length);
      if (k == NULL) {
        char key[200], name[80], hint[96];
        sanitize(v->key, v->key_length, name, sizeof(name));
        snprintf(key, sizeof(key), "%s.%s", table_names[t], name);
        key_hint(t, v->key, v->key_length, hint, sizeof(hint));
        return report(st, v->line, key, "unknown key%s", hint);
      }
      st->key_line[key_index(k)] = v->line;
      int rc = read_value(st, k, v, cfg);
      if (rc != 0)
        return rc;
    }
  }
  return 0;
}

/* ---- Checks across keys -------------------------------------------------- */

static int check_deadlines(load_state *st, const wp_daemon_config *cfg) {
  const wp_config_runtime *rt = &cfg->runtime;
  if (rt->default_deadline_ms <= rt->max_deadline_ms)
    return 0;
  const key_desc *def = find_key(TABLE_RUNTIME, "default_deadline", 16);
  const key_desc *max = find_key(TABLE_RUNTIME, "max_deadline", 12);
  char def_text[32], max_text[32];
  wp_format_duration(rt->default_deadline_ms, def_text, sizeof(def_text));
  wp_format_duration(rt->max_deadline_ms, max_text, sizeof(max_text));
  /* Blame the key the file set: that is the one the user has to change. */
  if (st->key_line[key_index(def)] != 0 || st->key_line[key_index(max)] == 0) {
    return report(st, key_or_table_line(st, key_index(def)), "runtime.default_deadline",
                  "%s exceeds runtime.max_deadline (%s)", def_text, max_text);
  }
  return report(st, key_or_table_line(st, key_index(max)), "runtime.max_deadline",
                "%s is below runtime.default_deadline (%s)", max_text, def_text);
}

static bool is_word_char(char c) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Copies alloc/'s message with struct member names (max_memory_bytes)
 * replaced by the config keys users write (max_memory_size). */
static void rename_fields(const char *why, char *buf, size_t len) {
  size_t n = 0;
  const char *p = why;
  while (*p != '\0' && n + 1 < len) {
    const char *replacement = NULL;
    size_t skip = 0;
    if (p == why || !is_word_char(p[-1])) {
      for (size_t i = 0; i < sizeof(pool_field_keys) / sizeof(pool_field_keys[0]); i++) {
        size_t flen = strlen(pool_field_keys[i].field);
        if (strncmp(p, pool_field_keys[i].field, flen) == 0 && !is_word_char(p[flen])) {
          replacement = pool_field_keys[i].key;
          skip = flen;
          break;
        }
      }
    }
    if (replacement == NULL) {
      buf[n++] = *p++;
      continue;
    }
    for (const char *r = replacement; *r != '\0' && n + 1 < len; r++)
      buf[n++] = *r;
    p += skip;
  }
  buf[n] = '\0';
}

static int check_pool(load_state *st, const wp_daemon_config *cfg) {
  char why[512] = "", renamed[640];
  /* Sized with the runtime's table elements, as wasmpoold will reserve. */
  wp_pool_config pool = cfg->pool;
  pool.table_element_bytes = WP_RUNTIME_TABLE_ELEMENT_BYTES;
  int rc = wp_pool_config_check(&pool, why, sizeof(why));
  if (rc == 0)
    return 0;
  /* why is "field: what is wrong"; field is a struct member name. */
  rename_fields(why, renamed, sizeof(renamed));
  const char *sep = strstr(renamed, ": ");
  const key_desc *k = NULL;
  if (sep != NULL)
    k = find_key(TABLE_POOL, renamed, (size_t)(sep - renamed));
  if (k == NULL)
    return report(st, st->table_line[TABLE_POOL], "pool", "%s", renamed);
  char key[96];
  dotted(k, key, sizeof(key));
  return report(st, key_or_table_line(st, key_index(k)), key, "%s", sep + 2);
}

/* ---- Host checks (--check-config) ---------------------------------------- */

/* Reports against a key by name, at the line that set it. */
static int report_key(load_state *st, table_id table, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int report_key(load_state *st, table_id table, const char *name, const char *fmt, ...) {
  const key_desc *k = find_key(table, name, strlen(name));
  char key[96], message[512];
  dotted(k, key, sizeof(key));
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof(message), fmt, ap);
  va_end(ap);
  return report(st, key_or_table_line(st, key_index(k)), key, "%s", message);
}

/* A directory the daemon creates when missing (mkdir -p): it must be one if
 * it exists, else its nearest existing ancestor must be one. */
static int check_dir(load_state *st, const char *name, const char *path) {
  char probe[4096];
  snprintf(probe, sizeof(probe), "%s", path);
  bool leaf = true;
  for (;;) {
    struct stat sb;
    if (stat(probe, &sb) == 0) {
      if (S_ISDIR(sb.st_mode))
        return 0;
      if (leaf)
        return report_key(st, TABLE_RUNTIME, name, "%s exists and is not a directory", path);
      return report_key(st, TABLE_RUNTIME, name, "cannot be created: %s is not a directory", probe);
    }
    if (errno != ENOENT && errno != ENOTDIR) /* ENOTDIR: an ancestor is a file */
      return report_key(st, TABLE_RUNTIME, name, "%s: %s", probe, strerror(errno));
    char *slash = strrchr(probe, '/');
    if (slash == NULL || slash == probe)
      return 0; /* up to "/" */
    *slash = '\0';
    leaf = false;
  }
}

/* A program run at deploy: a path, or a name searched on PATH (as the
 * compile driver does). */
static int check_program(load_state *st, const char *name, const char *program) {
  if (strchr(program, '/') != NULL) {
    if (access(program, X_OK) == 0)
      return 0;
    return report_key(st, TABLE_RUNTIME, name, "%s: %s (modules cannot be deployed)", program,
                      strerror(errno));
  }
  const char *path = getenv("PATH");
  if (path == NULL)
    path = "/usr/local/bin:/usr/bin:/bin";
  while (*path != '\0') {
    const char *end = strchr(path, ':');
    size_t dir_len = end != NULL ? (size_t)(end - path) : strlen(path);
    char candidate[4096];
    snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)dir_len, path, program);
    if (access(candidate, X_OK) == 0)
      return 0;
    path += dir_len + (end != NULL ? 1 : 0);
  }
  return report_key(st, TABLE_RUNTIME, name, "%s not found on PATH (modules cannot be deployed)",
                    program);
}

/* What keeps a config that parses from starting or deploying on this host:
 * the runtime's guard rule (instance/runtime.c refuses the pool at start-up;
 * repeated here so the message names the file and line), directories that
 * cannot be made, compilers that are not there. Only --check-config runs
 * these: they look at the machine, not the text. */
static int check_host(load_state *st, const wp_daemon_config *cfg) {
  if (wp_pool_guarded_memories(&cfg->pool) > 0 &&
      cfg->pool.max_memory_bytes + cfg->pool.guard_bytes < ((uint64_t)8 << 30))
    return report_key(st, TABLE_POOL, "guard_size",
                      "max_memory_size + guard_size must be at least 8 GiB (wasm2c's "
                      "guard-page bounds checks); the daemon would not start");
  /* Not the socket's directory: a service manager may make it just before
   * the daemon starts (systemd's RuntimeDirectory=); start-up checks it. */
  int rc = check_dir(st, "cache_dir", cfg->runtime.cache_dir);
  if (rc == 0)
    rc = check_dir(st, "module_dir", cfg->runtime.module_dir);
  if (rc == 0 && cfg->runtime.toolroot) {
    char wasm2c[4200];
    snprintf(wasm2c, sizeof(wasm2c), "%.4000s/usr/bin/wasm2c", cfg->runtime.toolroot);
    if (access(wasm2c, R_OK) != 0)
      rc = report_key(st, TABLE_RUNTIME, "toolroot",
                      "%s has no usr/bin/wasm2c (run scripts/toolroot.sh); modules cannot be "
                      "deployed",
                      cfg->runtime.toolroot);
  }
  if (rc == 0)
    rc = check_program(st, "tcc", cfg->runtime.tcc_path);
  if (rc == 0)
    rc = check_program(st, "cc", cfg->runtime.cc_path);
  return rc;
}

/* ---- Defaults ------------------------------------------------------------ */

static char *xstrdup(const char *s) {
  char *copy = strdup(s);
  if (copy == NULL) {
    /* wp_config_default() cannot fail by contract (it runs once at start-up
     * with a handful of short strings); running out here is not recoverable. */
    fputs("wasmpoold: out of memory while setting config defaults\n", stderr);
    abort();
  }
  return copy;
}

static bool env_absolute(const char *name, const char **value) {
  const char *v = getenv(name);
  if (v == NULL || v[0] != '/')
    return false;
  *value = v;
  return true;
}

void wp_config_default_socket_path(char *buf, size_t len) {
  const char *dir;
  /* A $XDG_RUNTIME_DIR too long for sun_path would give a default bind()
   * refuses; the fixed fallback is better than one that can never work. The
   * CLI calls this too, so the daemon and the CLI fall back together. */
  if (env_absolute("XDG_RUNTIME_DIR", &dir) &&
      strlen(dir) + sizeof("/wasmpool.sock") <= sizeof(((struct sockaddr_un *)NULL)->sun_path))
    snprintf(buf, len, "%s/wasmpool.sock", dir);
  else
    snprintf(buf, len, "/tmp/wasmpool.sock");
}

void wp_config_default_state_dir(char *buf, size_t len) {
  const char *dir;
  if (env_absolute("XDG_STATE_HOME", &dir))
    snprintf(buf, len, "%s/wasmpool", dir);
  else if (env_absolute("HOME", &dir))
    snprintf(buf, len, "%s/.local/state/wasmpool", dir);
  else
    snprintf(buf, len, "/tmp/wasmpool-state");
}

void wp_config_default(wp_daemon_config *out) {
  memset(out, 0, sizeof(*out));
  wp_pool_config_default(&out->pool);

  char path[4096];
  wp_config_default_socket_path(path, sizeof(path));
  wp_config_server *server = &out->server;
  server->socket_path = xstrdup(path);
  server->socket_mode = 0660;
  server->workers = 0;
  server->queue_depth = 1024;
  server->max_connections = 1024;
  server->max_header_bytes = 16 * KIB;
  server->max_body_bytes = 64 * MIB;
  server->header_timeout_ms = 10 * SECOND_MS;
  server->idle_timeout_ms = 60 * SECOND_MS;
  server->instance_idle_timeout_ms = 5 * MINUTE_MS;
  server->shutdown_grace_ms = 10 * SECOND_MS;

  wp_config_runtime *rt = &out->runtime;
  char state[4096 - 16];
  wp_config_default_state_dir(state, sizeof(state));
  snprintf(path, sizeof(path), "%s/cache", state);
  rt->cache_dir = xstrdup(path);
  snprintf(path, sizeof(path), "%s/modules", state);
  rt->module_dir = xstrdup(path);
  rt->toolroot = NULL; /* the tool root the build was configured with */
  rt->tcc_path = xstrdup("tcc");
  rt->cc_path = xstrdup("cc");
  rt->opt_level = xstrdup("-O2");
  rt->compile_cpu_ms = 120 * SECOND_MS;
  rt->compile_memory_bytes = 4 * GIB;
  rt->tierup_threads = 1;
  rt->compile_jobs = 2;
  rt->compile_timeout_ms = 5 * MINUTE_MS;
  rt->guest_stack_bytes = 8 * MIB;
  rt->default_deadline_ms = 10 * SECOND_MS;
  rt->max_deadline_ms = 60 * SECOND_MS;
  rt->snapshot_deadline_ms = 10 * SECOND_MS;
  rt->stdout_limit_bytes = 1 * MIB;
  rt->stderr_limit_bytes = 64 * KIB;

  out->log.level = WP_LOG_INFO;
  out->log.format = WP_LOG_TEXT;
}

void wp_config_free(wp_daemon_config *cfg) {
  if (cfg == NULL)
    return;
  free(cfg->server.socket_path);
  free(cfg->server.socket_owner);
  free(cfg->server.socket_group);
  free(cfg->server.allowed_uids);
  free(cfg->server.tcp_listen);
  free(cfg->server.tcp_host);
  free(cfg->runtime.cache_dir);
  free(cfg->runtime.module_dir);
  free(cfg->runtime.toolroot);
  free(cfg->runtime.tcc_path);
  free(cfg->runtime.cc_path);
  free(cfg->runtime.opt_level);
  memset(cfg, 0, sizeof(*cfg));
}

/* ---- Loading ------------------------------------------------------------- */

static int check_host(load_state *st, const wp_daemon_config *cfg);

static int parse_text(const char *text, size_t length, const char *source_name,
                      wp_daemon_config *out, char *err, size_t err_len, bool host) {
  load_state st = {.source_name = source_name != NULL ? source_name : "<config>",
                   .err = err,
                   .err_len = err_len};
  memset(out, 0, sizeof(*out));
  if (err != NULL && err_len > 0)
    err[0] = '\0';

  wp__toml_node *root = NULL;
  int rc = wp__toml_parse(text, length, st.source_name, &root, err, err_len);
  if (rc != 0)
    return rc;

  wp_daemon_config cfg;
  wp_config_default(&cfg);
  rc = walk(&st, root, &cfg);
  wp__toml_free(root);
  if (rc == 0)
    rc = check_deadlines(&st, &cfg);
  if (rc == 0)
    rc = check_pool(&st, &cfg);
  if (rc == 0 && host)
    rc = check_host(&st, &cfg);
  if (rc != 0) {
    if (rc == WP_ENOMEM && err != NULL && err_len > 0)
      snprintf(err, err_len, "%s: out of memory while reading the config", st.source_name);
    wp_config_free(&cfg);
    return rc;
  }
  *out = cfg;
  return 0;
}

int wp_config_parse(const char *text, size_t length, const char *source_name, wp_daemon_config *out,
                    char *err, size_t err_len) {
  return parse_text(text, length, source_name, out, err, err_len, false);
}

static int file_error(char *err, size_t err_len, const char *path, int rc, const char *what) {
  if (err != NULL && err_len > 0)
    snprintf(err, err_len, "%s: %s", path, what);
  return rc;
}

static int load_file(const char *path, wp_daemon_config *out, char *err, size_t err_len,
                     bool host) {
  memset(out, 0, sizeof(*out));
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return file_error(err, err_len, path, WP_EIO, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    fclose(f);
    return file_error(err, err_len, path, WP_EIO, "not a regular file");
  }
  if (sb.st_size > CONFIG_MAX_FILE_BYTES) {
    fclose(f);
    return file_error(err, err_len, path, WP_ECONFIG, "larger than 1 MiB; not a config file?");
  }
  size_t size = (size_t)sb.st_size;
  char *text = malloc(size + 1);
  if (text == NULL) {
    fclose(f);
    return file_error(err, err_len, path, WP_ENOMEM, "out of memory");
  }
  size_t got = fread(text, 1, size, f);
  bool failed = ferror(f) != 0;
  int saved = errno;
  fclose(f);
  if (failed) {
    free(text);
    return file_error(err, err_len, path, WP_EIO, strerror(saved));
  }
  int rc = parse_text(text, got, path, out, err, err_len, host);
  free(text);
  return rc;
}

int wp_config_load(const char *path, wp_daemon_config *out, char *err, size_t err_len) {
  return load_file(path, out, err, err_len, false);
}

int wp_config_check_file(const char *path, wp_daemon_config *out, char *err, size_t err_len) {
  return load_file(path, out, err, err_len, true);
}

int wp_config_socket_dir_check(const char *socket_path, char *why, size_t why_len) {
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s", socket_path);
  char *slash = strrchr(dir, '/');
  if (slash == NULL)
    snprintf(dir, sizeof(dir), ".");
  else if (slash == dir)
    dir[1] = '\0';
  else
    *slash = '\0';
  struct stat sb;
  if (stat(dir, &sb) != 0) {
    snprintf(why, why_len, "the directory of %s, %s, %s", socket_path, dir,
             errno == ENOENT ? "does not exist" : strerror(errno));
    return WP_ECONFIG;
  }
  if (!S_ISDIR(sb.st_mode)) {
    snprintf(why, why_len, "the directory of %s, %s, is not a directory", socket_path, dir);
    return WP_ECONFIG;
  }
  return 0;
}

int wp_config_set_socket_path(wp_daemon_config *cfg, const char *path, char *err, size_t err_len) {
  const key_desc *k = find_key(TABLE_SERVER, "socket_path", 11);
  load_state st = {.source_name = "--socket", .err = err, .err_len = err_len};
  wp__toml_node v = {
      .type = WP__TOML_STRING, .string = (char *)path, .string_length = strlen(path)};
  char *copy = NULL;
  int rc = read_string(&st, k, &v, &copy);
  if (rc != 0) {
    /* read_string wrote "--socket: server.socket_path: ..."; that is clear
     * enough, the flag and the key it overrides. */
    return rc;
  }
  free(cfg->server.socket_path);
  cfg->server.socket_path = copy;
  return 0;
}

void wp_config_to_runtime(const wp_daemon_config *cfg, struct wp_runtime_config *rt) {
  /* Keep the embedder's element size: it is sizeof(wasm_rt_funcref_t), not
   * a user setting. */
  uint32_t element_bytes = rt->pool.table_element_bytes;
  rt->pool = cfg->pool;
  if (element_bytes != 0)
    rt->pool.table_element_bytes = element_bytes;
  rt->cache_dir = cfg->runtime.cache_dir;
  rt->toolroot = cfg->runtime.toolroot;
  rt->tcc_path = cfg->runtime.tcc_path;
  rt->cc_path = cfg->runtime.cc_path;
  rt->opt_level = cfg->runtime.opt_level;
  rt->compile_cpu_seconds = cfg->runtime.compile_cpu_ms / SECOND_MS;
  rt->compile_memory_bytes = cfg->runtime.compile_memory_bytes;
  rt->compile_jobs = cfg->runtime.compile_jobs;
  rt->compile_wall_ms = cfg->runtime.compile_timeout_ms;
  rt->guest_stack_bytes = cfg->runtime.guest_stack_bytes;
}

/* ---- Dumping ------------------------------------------------------------- */

/* A TOML basic string: quotes, backslashes and control characters escaped. */
static void dump_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)(s != NULL ? s : ""); *p != '\0'; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(out, "\\%c", *p);
    else if (*p < 0x20 || *p == 0x7f)
      fprintf(out, "\\u%04X", *p);
    else
      fputc(*p, out);
  }
  fputc('"', out);
}

static void dump_value(FILE *out, const wp_daemon_config *cfg, const key_desc *k) {
  const void *src = cfield(cfg, k);
  char text[64];
  switch (k->kind) {
  case KIND_U32: fprintf(out, "%u", *(const uint32_t *)src); return;
  case KIND_BOOL: fputs(*(const bool *)src ? "true" : "false", out); return;
  case KIND_SIZE:
    wp_format_size(*(const uint64_t *)src, text, sizeof(text));
    dump_string(out, text);
    return;
  case KIND_DURATION:
    wp_format_duration(*(const uint64_t *)src, text, sizeof(text));
    dump_string(out, text);
    return;
  case KIND_STRING:
  case KIND_CHOICE:
  case KIND_LISTEN: dump_string(out, *(char *const *)src); return;
  case KIND_ENUM: dump_string(out, k->choices[*(const unsigned *)src]); return;
  case KIND_MODE:
    snprintf(text, sizeof(text), "%04o", *(const uint32_t *)src);
    dump_string(out, text);
    return;
  case KIND_UIDS:
    fputc('[', out);
    for (size_t i = 0; i < cfg->server.allowed_uid_count; i++)
      fprintf(out, "%s%u", i == 0 ? "" : ", ", cfg->server.allowed_uids[i]);
    fputc(']', out);
    return;
  }
}

void wp_config_dump(const wp_daemon_config *cfg, FILE *out) {
  fputs("# wasmpoold effective configuration (docs/CONFIG.md describes every key)\n", out);
  for (int t = 0; t < TABLE_COUNT; t++) {
    fprintf(out, "\n[%s]\n", table_names[t]);
    for (size_t i = 0; i < KEY_COUNT; i++) {
      if (keys[i].table != (table_id)t)
        continue;
      fprintf(out, "%s = ", keys[i].name);
      dump_value(out, cfg, &keys[i]);
      fputc('\n', out);
    }
  }
}

/* Address-space figures to one decimal in the largest binary unit. */
static void approx_size(uint64_t bytes, char *buf, size_t len) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = (double)bytes;
  size_t u = 0;
  while (value >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
    value /= 1024;
    u++;
  }
  snprintf(buf, len, "%.1f %s", value, units[u]);
}

void wp_config_dump_sizing(const wp_daemon_config *cfg, FILE *out) {
  wp_pool_config pool = cfg->pool;
  pool.table_element_bytes = WP_RUNTIME_TABLE_ELEMENT_BYTES;
  wp_pool_sizing sz;
  char why[512] = "";
  bool fits = wp_pool_sizing_compute(&pool, &sz, why, sizeof(why)) == 0;
  char a[32], b[32], c[32], d[32], total[32], avail[32];
  approx_size(sz.guarded_reserved, a, sizeof(a));
  approx_size(sz.small_reserved, b, sizeof(b));
  approx_size(sz.table_reserved, c, sizeof(c));
  approx_size(sz.instance_reserved, d, sizeof(d));
  approx_size(sz.total_reserved, total, sizeof(total));
  approx_size(sz.available_bytes, avail, sizeof(avail));
  char stripes[160] = "";
  if (sz.key_stripes > 1) {
    char stride[32];
    approx_size(sz.guarded_stride, stride, sizeof(stride));
    snprintf(stripes, sizeof(stripes),
             " [striped over %u protection keys: slots %s apart, + the last one's guard]",
             sz.key_stripes, stride);
  } else if (pool.memory_protection_keys != WP_KEYS_OFF) {
    snprintf(stripes, sizeof(stripes), " [memory_protection_keys: none on this machine]");
  }
  fprintf(out,
          "\n# address space reserved at start-up (no RAM until used):\n"
          "#   guarded memories  %u x (max_memory_size + guard_size)%s%s = %s\n"
          "#   small memories    %u x small_memory_size = %s\n"
          "#   tables            %u x table_elements x %u bytes = %s\n"
          "#   instance areas    %u x max_instance_size = %s\n"
          "#   total %s of %s available to this process%s\n",
          wp_pool_guarded_memories(&pool), pool.guard_before ? " + guard_size" : "", stripes, a,
          pool.small_memories, b, pool.total_instances * pool.tables_per_instance,
          pool.table_element_bytes, c, pool.total_instances, d, total, avail,
          fits ? "" : " (does not fit)");
  if (sz.mapped_memory_cap != UINT32_MAX)
    fprintf(out,
            "#   vm.max_map_count lets %u memory slots hold mappings at once (in use, warm or "
            "resetting); past that, acquires answer pool_exhausted%s\n",
            sz.mapped_memory_cap,
            sz.mapped_memory_cap < wp_pool_guarded_memories(&pool) + pool.small_memories
                ? " (fewer than the pools hold: raise it with sysctl vm.max_map_count for dense "
                  "pools)"
                : "");
}
