/* cli.c — wasmpool, the command-line client of wasmpoold.
 *
 *   wasmpool [--socket PATH] COMMAND [ARGS...]
 *
 * Each command is one request (two for none) over proto's blocking client;
 * the daemon's JSON answers are turned into short human-readable lines, or
 * printed as indented JSON where the structure is the point (info, stats).
 * A failure prints the daemon's error code and message and exits 1; `run`
 * exits with the guest's exit code when it is 0..255, else with
 * EXIT_OUT_OF_RANGE. The socket is --socket, else
 * $WASMPOOL_SOCKET, else the daemon's default path.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "proto.h"

typedef struct command {
  const char *name;
  const char *usage;
  const char *help;
  int min_args, max_args; /* -1: no maximum */
  int (*run)(wp_client *client, int argc, char **argv);
} command;

static const command commands[];

static void die_oom(void) {
  fprintf(stderr, "wasmpool: out of memory\n");
  exit(1);
}

/* Sends one request; prints transport errors. 0 or -1. */
static int request(wp_client *client, const char *method, const char *path,
                   const wp_header *headers, size_t header_count, const void *body, size_t body_len,
                   wp_client_response *resp) {
  int rc = wp_client_request(client, method, path, headers, header_count, body, body_len, resp);
  if (rc) {
    const char *why = wp_client_error(client);
    fprintf(stderr, "wasmpool: %s %s: %s\n", method, path, why && why[0] ? why : wp_strerror(rc));
    return -1;
  }
  return 0;
}

/* For a non-2xx answer: prints the daemon's error and returns 1. */
static int check_status(const wp_client_response *resp) {
  if (resp->status >= 200 && resp->status < 300)
    return 0;
  wp_api_error err;
  wp_json_error_parse(resp->status, resp->body.data, resp->body.len, &err);
  fprintf(stderr, "wasmpool: %s (HTTP %d): %s\n", err.name, resp->status, err.message);
  return 1;
}

static json_t *body_json(const wp_client_response *resp) {
  json_t *value = NULL;
  char why[128];
  if (wp_json_load(resp->body.data, resp->body.len, &value, why, sizeof why) != 0) {
    fprintf(stderr, "wasmpool: the daemon answered something that is not JSON: %s\n", why);
    return NULL;
  }
  return value;
}

static void print_pretty(const json_t *value) {
  char *text = json_dumps(value, JSON_INDENT(2) | JSON_ENCODE_ANY);
  if (!text)
    die_oom();
  printf("%s\n", text);
  free(text);
}

/* "/v1/modules/<name>" + suffix, with name percent-encoded. */
static char *module_path(const char *name, const char *suffix) {
  wp_buf path;
  wp_buf_init(&path);
  if (wp_buf_append_str(&path, "/v1/modules/") || wp_percent_encode(&path, name, strlen(name)) ||
      (suffix && wp_buf_append_str(&path, suffix)))
    die_oom();
  return path.data;
}

static int read_all(FILE *f, wp_buf *out) {
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    if (wp_buf_append(out, chunk, n) != 0)
      return -1;
  return ferror(f) ? -1 : 0;
}

/* ---- Commands ------------------------------------------------------------ */

static int cmd_deploy(wp_client *client, int argc, char **argv) {
  const char *name = argv[0], *file = argv[1];
  FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
  if (!f) {
    fprintf(stderr, "wasmpool: %s: %s\n", file, strerror(errno));
    return 1;
  }
  wp_buf wasm;
  wp_buf_init(&wasm);
  int rc = read_all(f, &wasm);
  if (f != stdin)
    fclose(f);
  if (rc) {
    fprintf(stderr, "wasmpool: %s: read failed\n", file);
    wp_buf_free(&wasm);
    return 1;
  }
  char *path = module_path(name, NULL);
  wp_header type = {"Content-Type", 12, "application/wasm", 16};
  wp_client_response resp = {0};
  rc = request(client, "PUT", path, &type, 1, wasm.data, wasm.len, &resp);
  free(path);
  wp_buf_free(&wasm);
  if (rc == 0 && (rc = check_status(&resp)) == 0) {
    json_t *body = body_json(&resp);
    if (!body) {
      rc = 1;
    } else {
      printf("%s %s: %lld bytes, %zu exports, sha256 %.16s..., compile cache %s, %.1f ms, "
             "tier %lld (tier-up %s)\n",
             resp.status == 201 ? "deployed" : "replaced", name,
             (long long)json_integer_value(json_object_get(body, "size")),
             json_array_size(json_object_get(body, "exports")),
             json_string_value(json_object_get(body, "sha256")),
             json_is_true(json_object_get(body, "cache_hit")) ? "hit" : "miss",
             (double)json_integer_value(json_object_get(body, "load_us")) / 1000.0,
             (long long)json_integer_value(json_object_get(body, "tier")),
             json_string_value(json_object_get(body, "tier_up"))
                 ? json_string_value(json_object_get(body, "tier_up"))
                 : "none");
      json_decref(body);
    }
  }
  wp_client_response_free(&resp);
  return rc ? 1 : 0;
}

static int cmd_ls(wp_client *client, int argc, char **argv) {
  wp_client_response resp = {0};
  int rc = request(client, "GET", "/v1/modules", NULL, 0, NULL, 0, &resp);
  if (rc == 0 && (rc = check_status(&resp)) == 0) {
    json_t *body = body_json(&resp);
    json_t *modules = json_object_get(body, "modules");
    size_t i;
    json_t *m;
    if (json_array_size(modules))
      printf("%-32s %10s  %-16s  %4s  %s\n", "NAME", "BYTES", "SHA256", "TIER", "TIER-UP");
    json_array_foreach(modules, i, m) {
      const char *tier_up = json_string_value(json_object_get(m, "tier_up"));
      printf("%-32s %10lld  %.16s  %4lld  %s\n", json_string_value(json_object_get(m, "name")),
             (long long)json_integer_value(json_object_get(m, "size")),
             json_string_value(json_object_get(m, "sha256")),
             (long long)json_integer_value(json_object_get(m, "tier")), tier_up ? tier_up : "none");
    }
    rc = body ? 0 : 1;
    json_decref(body);
  }
  wp_client_response_free(&resp);
  return rc ? 1 : 0;
}

/* GET path and print the JSON indented. */
static int get_pretty(wp_client *client, const char *path) {
  wp_client_response resp = {0};
  int rc = request(client, "GET", path, NULL, 0, NULL, 0, &resp);
  if (rc == 0 && (rc = check_status(&resp)) == 0) {
    json_t *body = body_json(&resp);
    if (body)
      print_pretty(body);
    rc = body ? 0 : 1;
    json_decref(body);
  }
  wp_client_response_free(&resp);
  return rc ? 1 : 0;
}

static int cmd_info(wp_client *client, int argc, char **argv) {
  char *path = module_path(argv[0], NULL);
  int rc = get_pretty(client, path);
  free(path);
  return rc;
}

static int cmd_stats(wp_client *client, int argc, char **argv) {
  return get_pretty(client, "/v1/stats");
}

static int cmd_rm(wp_client *client, int argc, char **argv) {
  char *path = module_path(argv[0], NULL);
  wp_client_response resp = {0};
  int rc = request(client, "DELETE", path, NULL, 0, NULL, 0, &resp);
  free(path);
  if (rc == 0 && (rc = check_status(&resp)) == 0)
    printf("removed %s\n", argv[0]);
  wp_client_response_free(&resp);
  return rc ? 1 : 0;
}

/* Prints results space-separated: numbers as JSON writes them, strings
 * (i64 past 2^53, "nan", bit patterns) without quotes. */
static void print_results(const json_t *results) {
  size_t i;
  json_t *v;
  json_array_foreach(results, i, v) {
    if (i)
      putchar(' ');
    if (json_is_string(v)) {
      fputs(json_string_value(v), stdout);
    } else {
      char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
      if (!text)
        die_oom();
      fputs(text, stdout);
      free(text);
    }
  }
  putchar('\n');
}

static int cmd_call(wp_client *client, int argc, char **argv) {
  const char *name = argv[0], *export_name = argv[1];
  int first = 2;
  if (first < argc && strcmp(argv[first], "--") == 0)
    first++;
  json_t *body = wp_json_args_from_strings(argc - first, argv + first);
  if (!body)
    die_oom();
  wp_buf text, path;
  wp_buf_init(&text);
  wp_buf_init(&path);
  if (wp_json_dump(&text, body) || wp_buf_append_str(&path, "/v1/modules/") ||
      wp_percent_encode(&path, name, strlen(name)) || wp_buf_append_str(&path, "/call/") ||
      wp_percent_encode(&path, export_name, strlen(export_name)))
    die_oom();
  json_decref(body);
  wp_header type = {"Content-Type", 12, "application/json", 16};
  wp_client_response resp = {0};
  int rc = request(client, "POST", path.data, &type, 1, text.data, text.len, &resp);
  wp_buf_free(&text);
  wp_buf_free(&path);
  if (rc == 0 && (rc = check_status(&resp)) == 0) {
    json_t *answer = body_json(&resp);
    if (answer)
      print_results(json_object_get(answer, "results"));
    rc = answer ? 0 : 1;
    json_decref(answer);
  }
  wp_client_response_free(&resp);
  return rc ? 1 : 0;
}

/* A shell keeps only the low 8 bits of an exit status, so a guest's
 * proc_exit(256) passed through would read as success. Guest codes outside
 * 0..255 (the header carries the u32 of proc_exit, or something we cannot
 * read) exit with this instead: non-zero, like bash's "out of range". */
#define EXIT_OUT_OF_RANGE 255

static int exit_status_of(const wp_header *code) {
  if (!code)
    return 0;
  char text[32];
  if (code->value_len == 0 || code->value_len >= sizeof text)
    return EXIT_OUT_OF_RANGE;
  memcpy(text, code->value, code->value_len);
  text[code->value_len] = '\0';
  char *end;
  errno = 0;
  long long value = strtoll(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < 0 || value > 255)
    return EXIT_OUT_OF_RANGE;
  return (int)value;
}

static int cmd_run(wp_client *client, int argc, char **argv) {
  const char *name = argv[0];
  int first = 1;
  bool no_stdin = false;
  if (first < argc && (strcmp(argv[first], "-n") == 0 || strcmp(argv[first], "--no-stdin") == 0)) {
    no_stdin = true;
    first++;
  }
  if (first < argc && strcmp(argv[first], "--") == 0)
    first++;
  wp_buf path;
  wp_buf_init(&path);
  if (wp_buf_append_str(&path, "/v1/modules/") || wp_percent_encode(&path, name, strlen(name)) ||
      wp_buf_append_str(&path, "/run"))
    die_oom();
  for (int i = first; i < argc; i++) {
    if (wp_buf_append_str(&path, i == first ? "?arg=" : "&arg=") ||
        wp_percent_encode(&path, argv[i], strlen(argv[i])))
      die_oom();
  }
  wp_buf input;
  wp_buf_init(&input);
  /* A terminal on stdin means no input, not "wait for ^D"; -n is for
   * scripts whose stdin is a pipe that never closes. */
  if (!no_stdin && !isatty(STDIN_FILENO) && read_all(stdin, &input) != 0) {
    fprintf(stderr, "wasmpool: reading stdin failed\n");
    return 1;
  }
  wp_client_response resp = {0};
  int rc = request(client, "POST", path.data, NULL, 0, input.data, input.len, &resp);
  wp_buf_free(&path);
  wp_buf_free(&input);
  if (rc == 0 && (rc = check_status(&resp)) == 0) {
    if (resp.body.len) /* an empty body may have no buffer at all */
      fwrite(resp.body.data, 1, resp.body.len, stdout);
    fflush(stdout);
    const wp_header *err = wp_client_response_header(&resp, WP_HDR_STDERR);
    if (err) {
      wp_buf decoded;
      wp_buf_init(&decoded);
      if (wp_base64_decode(&decoded, err->value, err->value_len) == 0 && decoded.len)
        fwrite(decoded.data, 1, decoded.len, stderr);
      wp_buf_free(&decoded);
    }
    const wp_header *code = wp_client_response_header(&resp, WP_HDR_EXIT_CODE);
    rc = exit_status_of(code);
  }
  wp_client_response_free(&resp);
  return rc;
}

/* Follows the pages of GET /v1/instances ("next") to the end. */
static int cmd_instances(wp_client *client, int argc, char **argv) {
  char path[128] = "/v1/instances?limit=10000";
  bool header = false;
  for (;;) {
    wp_client_response resp = {0};
    int rc = request(client, "GET", path, NULL, 0, NULL, 0, &resp);
    if (rc == 0)
      rc = check_status(&resp);
    json_t *body = rc == 0 ? body_json(&resp) : NULL;
    wp_client_response_free(&resp);
    if (!body)
      return 1;
    json_t *list = json_object_get(body, "instances");
    size_t i;
    json_t *inst;
    if (json_array_size(list) && !header) {
      printf("%-32s  %-24s %8s %10s\n", "ID", "MODULE", "CALLS", "IDLE_MS");
      header = true;
    }
    json_array_foreach(list, i, inst) {
      printf("%-32s  %-24s %8lld %10lld\n", json_string_value(json_object_get(inst, "id")),
             json_string_value(json_object_get(inst, "module")),
             (long long)json_integer_value(json_object_get(inst, "calls")),
             (long long)json_integer_value(json_object_get(inst, "idle_ms")));
    }
    const char *next = json_string_value(json_object_get(body, "next"));
    bool more = next && strspn(next, "0123456789abcdef") == strlen(next) && strlen(next) <= 32;
    if (more)
      snprintf(path, sizeof path, "/v1/instances?limit=10000&after=%s", next);
    json_decref(body);
    if (!more)
      return 0;
  }
}

static int cmd_health(wp_client *client, int argc, char **argv) {
  wp_client_response resp = {0};
  int rc = request(client, "GET", "/v1/health", NULL, 0, NULL, 0, &resp);
  if (rc == 0 && (rc = check_status(&resp)) == 0) {
    json_t *body = body_json(&resp);
    printf("%s: uptime %lld ms, %lld modules, %lld instances\n",
           json_string_value(json_object_get(body, "status")),
           (long long)json_integer_value(json_object_get(body, "uptime_ms")),
           (long long)json_integer_value(json_object_get(body, "modules")),
           (long long)json_integer_value(json_object_get(body, "instances")));
    rc = body ? 0 : 1;
    json_decref(body);
  }
  wp_client_response_free(&resp);
  return rc ? 1 : 0;
}

static const command commands[] = {
    {"deploy", "deploy NAME FILE", "Compile FILE (a .wasm; - for stdin) and register it as NAME.",
     2, 2, cmd_deploy},
    {"ls", "ls", "List deployed modules.", 0, 0, cmd_ls},
    {"info", "info NAME", "Describe a module: exports with signatures, limits, image size.", 1, 1,
     cmd_info},
    {"rm", "rm NAME", "Remove a module (live instances of it keep running).", 1, 1, cmd_rm},
    {"call", "call NAME EXPORT [--] [ARGS...]",
     "Instantiate NAME, call EXPORT with ARGS, print the results, release.\n"
     "ARGS are integers (decimal or 0x hex), decimals, or strings such as nan,\n"
     "inf, -inf; they are typed against the export's signature by the daemon.",
     2, -1, cmd_call},
    {"run", "run NAME [-n] [-- ARGS...]",
     "Run a WASI command: stdin is the guest's stdin (read to its end before the\n"
     "request is sent; not read when it is a terminal), its stdout and stderr are\n"
     "written here, and wasmpool exits with the guest's exit code (0..255; a code\n"
     "of 256 or more, which a shell would read modulo 256, exits 255).\n"
     "  -n, --no-stdin   send no input (for scripts whose stdin never closes)",
     1, -1, cmd_run},
    {"instances", "instances", "List live long-lived instances.", 0, 0, cmd_instances},
    {"stats", "stats", "Print the daemon's statistics (JSON).", 0, 0, cmd_stats},
    {"health", "health", "Check that the daemon answers; exit 0 if it does.", 0, 0, cmd_health},
    {NULL, NULL, NULL, 0, 0, NULL},
};

static void usage(FILE *out) {
  fprintf(out, "usage: wasmpool [--socket PATH] COMMAND [ARGS...]\n\ncommands:\n");
  for (const command *c = commands; c->name; c++)
    fprintf(out, "  %s\n", c->usage);
  fprintf(out,
          "\n  wasmpool COMMAND --help   help for one command\n"
          "\nThe socket is --socket PATH, else $WASMPOOL_SOCKET, else the daemon's default.\n");
}

static void command_usage(const command *c, FILE *out) {
  fprintf(out, "usage: wasmpool [--socket PATH] %s\n\n%s\n", c->usage, c->help);
}

int main(int argc, char **argv) {
  const char *socket_path = getenv("WASMPOOL_SOCKET");
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    }
    if (strcmp(argv[i], "--version") == 0) {
      printf("wasmpool %s\n", WASMPOOL_VERSION);
      return 0;
    }
    if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
      socket_path = argv[++i];
    } else if (strncmp(argv[i], "--socket=", 9) == 0) {
      socket_path = argv[i] + 9;
    } else {
      fprintf(stderr, "wasmpool: unknown option %s\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return 2;
  }
  const char *name = argv[i++];
  if (strcmp(name, "help") == 0) {
    if (i < argc) {
      for (const command *c = commands; c->name; c++) {
        if (strcmp(c->name, argv[i]) == 0) {
          command_usage(c, stdout);
          return 0;
        }
      }
    }
    usage(stdout);
    return 0;
  }
  const command *cmd = NULL;
  for (const command *c = commands; c->name; c++)
    if (strcmp(c->name, name) == 0)
      cmd = c;
  if (!cmd) {
    fprintf(stderr, "wasmpool: unknown command '%s'\n", name);
    usage(stderr);
    return 2;
  }
  int nargs = argc - i;
  if (nargs > 0 && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
    command_usage(cmd, stdout);
    return 0;
  }
  /* "--" separators do not count as arguments. */
  int counted = nargs;
  for (int k = i; k < argc; k++)
    if (strcmp(argv[k], "--") == 0) {
      counted--;
      break;
    }
  if (counted < cmd->min_args || (cmd->max_args >= 0 && counted > cmd->max_args)) {
    command_usage(cmd, stderr);
    return 2;
  }

  char default_path[4096];
  if (!socket_path || !socket_path[0]) {
    wp_config_default_socket_path(default_path, sizeof default_path);
    socket_path = default_path;
  }
  /* Compiles can take minutes; calls have the daemon's deadlines. */
  wp_client_options opts = {.unix_path = socket_path, .timeout_ms = 0};
  wp_client *client;
  if (wp_client_create(&opts, &client) != 0) {
    fprintf(stderr, "wasmpool: bad socket path %s\n", socket_path);
    return 1;
  }
  int status = cmd->run(client, nargs, argv + i);
  wp_client_destroy(client);
  return status;
}
