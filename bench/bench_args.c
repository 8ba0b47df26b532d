/* bench_args.c — wasmpool-bench's flags, their values and their conflicts.
 *
 * Flags take their value as the next word or after '=' (--rate=1000). The
 * call workloads take a variable number of argument words: every following
 * word up to the next one that looks like a flag ("-x" or "--x", but not a
 * negative number like "-5" or "-0.5"), or up to "--". A single word starting
 * with '[' is a JSON array of arguments, like --args.
 */
#include "bench_args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "wp_errno.h"

/* --body @FILE and deploy files are read whole; the daemon's default body
 * limit is 64 MiB, so a larger body could never be sent anyway. */
#define BODY_FILE_MAX ((size_t)64 << 20)

static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t err_len, const char *fmt, ...) {
  if (err != NULL && err_len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
  }
  return WP_EINVAL;
}

void wp_bench_usage(FILE *out) {
  fputs("usage: wasmpool-bench [CONNECTION] [LOAD] WORKLOAD [OUTPUT]\n"
        "\n"
        "Load-tests a running wasmpoold over its HTTP API and reports throughput,\n"
        "latency percentiles and errors.\n"
        "\n"
        "Connection:\n"
        "  --socket PATH        Unix socket of the daemon (default: $WASMPOOL_SOCKET,\n"
        "                       else the daemon's default path)\n"
        "  --tcp HOST:PORT      TCP instead, loopback only (127.0.0.0/8 or localhost)\n"
        "  -c, --connections N  keep-alive connections (1..10000, default 1)\n"
        "  --pipeline N         requests in flight per connection (1..1024, default 1)\n"
        "  --timeout DUR        give up on a response after DUR (default 30s); the\n"
        "                       connection is then reopened\n"
        "\n"
        "Load:\n"
        "  --rate R             open loop: R requests/s in total, latency measured from\n"
        "                       each request's intended send time (coordinated omission\n"
        "                       corrected). Without --rate: closed loop, as fast as\n"
        "                       responses come\n"
        "  -n, --requests N     stop after N measured requests\n"
        "  -d, --duration DUR   stop after DUR of measurement (default 10s)\n"
        "  --warmup DUR         run DUR first without measuring (default 0)\n"
        "  --seed N             seed of the --mix choice (default 1)\n"
        "\n"
        "Workload (exactly one):\n"
        "  --call MODULE EXPORT [ARGS...]\n"
        "                       one-shot call (instantiate, invoke, release); ARGS are\n"
        "                       typed like the CLI's (integer, real, else string)\n"
        "  --args JSON          the call's arguments as a JSON array, e.g. '[1,\"0x10\"]'\n"
        "  --run MODULE [ARGS...]\n"
        "                       one-shot WASI run; ARGS become argv[1..] (?arg=)\n"
        "  --body STRING|@FILE  stdin of --run (default empty)\n"
        "  --instantiate MODULE instantiate, then release the instance (one request\n"
        "                       counted per pair, latency of both)\n"
        "  --instance-call MODULE EXPORT [ARGS...]\n"
        "                       calls on long-lived instances: one per connection is\n"
        "                       created first and released at the end\n"
        "  --mix FILE           weighted mix from JSON (see docs/BENCH_TOOL.md)\n"
        "  --deadline MS        X-Wasmpool-Deadline-Ms on each request (not with --mix)\n"
        "  --expect STATUS      the status a response should have (default any 2xx;\n"
        "                       not with --mix)\n"
        "  --deploy NAME=FILE   deploy FILE as module NAME before starting (repeatable)\n"
        "\n"
        "Output:\n"
        "  --json               one JSON object on stdout instead of the text report\n"
        "  --plot FILE.svg      write a latency-by-percentile chart (SVG)\n"
        "  --no-progress        no live progress line (it is shown only on a terminal)\n"
        "  -h, --help           this help\n"
        "\n"
        "DUR: a number with a unit: us, ms, s, m (e.g. 500ms, 10s); a bare number is\n"
        "seconds. Exit status: 0 after a run, 1 when setup failed or no request\n"
        "succeeded, 2 on a usage error.\n",
        out);
}

int wp_bench_parse_duration(const char *text, bool allow_zero, uint64_t *out_ns) {
  if (text == NULL || *text == '\0')
    return WP_EINVAL;
  char *end;
  errno = 0;
  double value = strtod(text, &end);
  if (end == text || errno != 0 || !isfinite(value) || value < 0)
    return WP_EINVAL;
  double scale;
  if (*end == '\0' || strcmp(end, "s") == 0)
    scale = 1e9;
  else if (strcmp(end, "ms") == 0)
    scale = 1e6;
  else if (strcmp(end, "us") == 0)
    scale = 1e3;
  else if (strcmp(end, "ns") == 0)
    scale = 1;
  else if (strcmp(end, "m") == 0)
    scale = 60e9;
  else if (strcmp(end, "h") == 0)
    scale = 3600e9;
  else
    return WP_EINVAL;
  double ns = value * scale;
  if (ns > 1e9 * 86400 * 7 || (!allow_zero && ns < 1))
    return WP_EINVAL;
  *out_ns = (uint64_t)ns;
  return 0;
}

static int parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out) {
  if (text == NULL || *text < '0' || *text > '9')
    return WP_EINVAL;
  char *end;
  errno = 0;
  unsigned long long value = strtoull(text, &end, 10);
  if (*end != '\0' || errno != 0 || value < min || value > max)
    return WP_EINVAL;
  *out = value;
  return 0;
}

/* "-5", "-0.5", ".5" are values; "-c", "--rate" are flags. */
static bool looks_like_flag(const char *word) {
  if (word[0] != '-' || word[1] == '\0')
    return false;
  char c = word[1];
  if ((c >= '0' && c <= '9') || c == '.')
    return false;
  return true;
}

static int read_file(const char *path, size_t max, char **data, size_t *len, char *err,
                     size_t err_len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return fail(err, err_len, "%s: %s", path, strerror(errno));
  wp_buf buf;
  wp_buf_init(&buf);
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    if (buf.len + n > max) {
      fclose(f);
      wp_buf_free(&buf);
      return fail(err, err_len, "%s: larger than %zu bytes", path, max);
    }
    if (wp_buf_append(&buf, chunk, n) < 0) {
      fclose(f);
      wp_buf_free(&buf);
      return WP_ENOMEM;
    }
  }
  bool bad = ferror(f);
  fclose(f);
  if (bad) {
    wp_buf_free(&buf);
    return fail(err, err_len, "%s: read error", path);
  }
  if (buf.data == NULL && wp_buf_reserve(&buf, 0) < 0)
    return WP_ENOMEM;
  *data = buf.data;
  *len = buf.len;
  return 0;
}

static int parse_tcp(const char *text, wp_bench_opts *opts, char *err, size_t err_len) {
  const char *colon = strrchr(text, ':');
  if (colon == NULL || colon == text)
    return fail(err, err_len, "--tcp: expected HOST:PORT, got \"%s\"", text);
  size_t host_len = (size_t)(colon - text);
  char host[64];
  if (host_len >= sizeof(host))
    return fail(err, err_len, "--tcp: host too long");
  memcpy(host, text, host_len);
  host[host_len] = '\0';
  if (strcmp(host, "localhost") == 0)
    strcpy(host, "127.0.0.1");
  struct in_addr addr;
  if (inet_pton(AF_INET, host, &addr) != 1)
    return fail(err, err_len, "--tcp: \"%s\" is not an IPv4 address or localhost", host);
  if ((ntohl(addr.s_addr) >> 24) != 127)
    return fail(err, err_len,
                "--tcp: %s is not a loopback address (only 127.0.0.0/8 and localhost)", host);
  uint64_t port;
  if (parse_uint(colon + 1, 1, 65535, &port) < 0)
    return fail(err, err_len, "--tcp: port must be 1..65535, got \"%s\"", colon + 1);
  free(opts->tcp_host);
  if ((opts->tcp_host = strdup(host)) == NULL)
    return WP_ENOMEM;
  opts->tcp_port = (uint16_t)port;
  return 0;
}

void wp_bench_opts_free(wp_bench_opts *opts) {
  free(opts->socket_path);
  free(opts->tcp_host);
  wp_bench_mix_destroy(opts->mix);
  for (size_t i = 0; i < opts->deploy_count; i++) {
    free(opts->deploys[i].name);
    free(opts->deploys[i].path);
  }
  free(opts->deploys);
  free(opts->plot_path);
  memset(opts, 0, sizeof(*opts));
}

/* State gathered while walking argv, turned into opts->mix at the end. */
typedef struct parse_state {
  wp_bench_entry entry; /* the single workload */
  const char *workload; /* its flag, NULL until one is seen */
  const char *mix_path;
  json_t *args_json;    /* --args, or the '[' word */
  bool positional_args; /* argument words were given */
  char *body;
  size_t body_len;
  bool have_body;
  bool have_duration, have_requests, have_deadline, have_expect, have_args_flag;
  unsigned deadline_ms;
  int expect_status;
} parse_state;

static void state_free(parse_state *st) {
  wp_bench_entry_free(&st->entry);
  json_decref(st->args_json);
  free(st->body);
}

static int set_workload(parse_state *st, const char *flag, char *err, size_t err_len) {
  if (st->workload != NULL)
    return fail(err, err_len, "%s conflicts with %s: give exactly one workload", flag,
                st->workload);
  st->workload = flag;
  return 0;
}

/* Words after --call MODULE EXPORT / --run MODULE / --instance-call ...:
 * appended to st->entry.args (CLI typing for calls, strings for run). */
static int take_arg_words(int argc, char **argv, int *i, parse_state *st, bool as_strings,
                          char *err, size_t err_len) {
  int first = *i + 1;
  int last = first;
  while (last < argc && !looks_like_flag(argv[last]))
    last++;
  int count = last - first;
  bool end_marker = last < argc && strcmp(argv[last], "--") == 0;
  *i = end_marker ? last : last - 1;
  if (count == 0)
    return 0;
  if (!as_strings && count == 1 && argv[first][0] == '[') {
    json_error_t jerr;
    json_t *array = json_loads(argv[first], 0, &jerr);
    if (!json_is_array(array)) {
      json_decref(array);
      return fail(err, err_len, "%s: arguments \"%s\" are not a JSON array: %s", st->workload,
                  argv[first], jerr.text);
    }
    st->args_json = array;
    return 0;
  }
  st->positional_args = true;
  json_t *array;
  if (as_strings) {
    array = json_array();
    for (int k = first; array != NULL && k < last; k++)
      if (json_array_append_new(array, json_string(argv[k])) < 0) {
        json_decref(array);
        array = NULL;
      }
  } else {
    json_t *wrapped = wp_json_args_from_strings(count, argv + first);
    array = wrapped ? json_incref(json_object_get(wrapped, "args")) : NULL;
    json_decref(wrapped);
  }
  if (array == NULL)
    return fail(err, err_len, "%s: arguments are not valid UTF-8 or out of memory", st->workload);
  st->entry.args = array;
  return 0;
}

static int take_module(int argc, char **argv, int *i, const char *flag, char **out, char *err,
                       size_t err_len) {
  if (*i + 1 >= argc || looks_like_flag(argv[*i + 1]))
    return fail(err, err_len, "%s: missing MODULE", flag);
  const char *name = argv[++*i];
  if (!wp_name_valid(name, strlen(name)))
    return fail(err, err_len,
                "%s: \"%s\" is not a module name (1..128 bytes of [A-Za-z0-9._-], not starting "
                "with '.')",
                flag, name);
  if ((*out = strdup(name)) == NULL)
    return WP_ENOMEM;
  return 0;
}

static int take_export(int argc, char **argv, int *i, const char *flag, char **out, char *err,
                       size_t err_len) {
  if (*i + 1 >= argc || looks_like_flag(argv[*i + 1]))
    return fail(err, err_len, "%s: missing EXPORT after MODULE", flag);
  if ((*out = strdup(argv[++*i])) == NULL)
    return WP_ENOMEM;
  return 0;
}

/* The flag's value: after '=' or the next word. */
static int flag_value(int argc, char **argv, int *i, const char *flag, const char *inline_value,
                      const char **out, char *err, size_t err_len) {
  if (inline_value != NULL) {
    *out = inline_value;
    return 0;
  }
  if (*i + 1 >= argc)
    return fail(err, err_len, "%s: missing value", flag);
  *out = argv[++*i];
  return 0;
}

static int parse_flag(int argc, char **argv, int *i, wp_bench_opts *opts, parse_state *st,
                      char *err, size_t err_len) {
  const char *word = argv[*i];
  char flag[64];
  const char *inline_value = NULL;
  const char *eq = word[1] == '-' ? strchr(word, '=') : NULL;
  size_t flag_len = eq ? (size_t)(eq - word) : strlen(word);
  if (flag_len >= sizeof(flag))
    return fail(err, err_len, "unknown flag \"%.60s...\" (see --help)", word);
  memcpy(flag, word, flag_len);
  flag[flag_len] = '\0';
  if (eq != NULL)
    inline_value = eq + 1;
  /* Short flags with the value attached: -c8, -n1000, -d5s. */
  if (word[1] != '-' && word[1] != '\0' && word[2] != '\0') {
    flag[2] = '\0';
    inline_value = word + 2;
  }
  const char *value = NULL;
  uint64_t number;
  int rc;

#define VALUE()                                                                                    \
  do {                                                                                             \
    if ((rc = flag_value(argc, argv, i, flag, inline_value, &value, err, err_len)) < 0)            \
      return rc;                                                                                   \
  } while (0)
#define NO_VALUE()                                                                                 \
  do {                                                                                             \
    if (inline_value != NULL)                                                                      \
      return fail(err, err_len, "%s takes no value", flag);                                        \
  } while (0)

  if (strcmp(flag, "-h") == 0 || strcmp(flag, "--help") == 0) {
    NO_VALUE();
    opts->help = true;
  } else if (strcmp(flag, "--socket") == 0) {
    VALUE();
    if (*value == '\0' || strlen(value) >= 108)
      return fail(err, err_len, "--socket: path must be 1..107 bytes");
    free(opts->socket_path);
    if ((opts->socket_path = strdup(value)) == NULL)
      return WP_ENOMEM;
  } else if (strcmp(flag, "--tcp") == 0) {
    VALUE();
    return parse_tcp(value, opts, err, err_len);
  } else if (strcmp(flag, "-c") == 0 || strcmp(flag, "--connections") == 0) {
    VALUE();
    if (parse_uint(value, 1, 10000, &number) < 0)
      return fail(err, err_len, "%s: expected 1..10000 connections, got \"%s\"", flag, value);
    opts->connections = (unsigned)number;
  } else if (strcmp(flag, "--pipeline") == 0) {
    VALUE();
    if (parse_uint(value, 1, 1024, &number) < 0)
      return fail(err, err_len, "--pipeline: expected a depth 1..1024, got \"%s\"", value);
    opts->pipeline = (unsigned)number;
  } else if (strcmp(flag, "--rate") == 0) {
    VALUE();
    char *end;
    errno = 0;
    double rate = strtod(value, &end);
    if (end == value || *end != '\0' || errno != 0 || !(rate > 0) || rate > 1e7)
      return fail(err, err_len, "--rate: expected requests/s in (0, 1e7], got \"%s\"", value);
    opts->rate = rate;
  } else if (strcmp(flag, "-n") == 0 || strcmp(flag, "--requests") == 0) {
    VALUE();
    if (parse_uint(value, 1, UINT64_C(1) << 40, &number) < 0)
      return fail(err, err_len, "%s: expected a positive request count, got \"%s\"", flag, value);
    opts->requests = number;
    st->have_requests = true;
  } else if (strcmp(flag, "-d") == 0 || strcmp(flag, "--duration") == 0) {
    VALUE();
    if (wp_bench_parse_duration(value, false, &opts->duration_ns) < 0)
      return fail(err, err_len, "%s: expected a duration like 10s or 500ms, got \"%s\"", flag,
                  value);
    st->have_duration = true;
  } else if (strcmp(flag, "--warmup") == 0) {
    VALUE();
    if (wp_bench_parse_duration(value, true, &opts->warmup_ns) < 0)
      return fail(err, err_len, "--warmup: expected a duration like 2s, got \"%s\"", value);
  } else if (strcmp(flag, "--timeout") == 0) {
    VALUE();
    if (wp_bench_parse_duration(value, false, &opts->timeout_ns) < 0)
      return fail(err, err_len, "--timeout: expected a duration like 30s, got \"%s\"", value);
  } else if (strcmp(flag, "--seed") == 0) {
    VALUE();
    if (parse_uint(value, 0, UINT64_MAX, &opts->seed) < 0)
      return fail(err, err_len, "--seed: expected an unsigned integer, got \"%s\"", value);
  } else if (strcmp(flag, "--call") == 0 || strcmp(flag, "--instance-call") == 0) {
    NO_VALUE();
    const char *name = strcmp(flag, "--call") == 0 ? "--call" : "--instance-call";
    if ((rc = set_workload(st, name, err, err_len)) < 0)
      return rc;
    st->entry.kind = name[2] == 'c' ? WP_BENCH_CALL : WP_BENCH_INSTANCE_CALL;
    if ((rc = take_module(argc, argv, i, name, &st->entry.module, err, err_len)) < 0 ||
        (rc = take_export(argc, argv, i, name, &st->entry.export_name, err, err_len)) < 0)
      return rc;
    return take_arg_words(argc, argv, i, st, false, err, err_len);
  } else if (strcmp(flag, "--run") == 0) {
    NO_VALUE();
    if ((rc = set_workload(st, "--run", err, err_len)) < 0)
      return rc;
    st->entry.kind = WP_BENCH_RUN;
    if ((rc = take_module(argc, argv, i, "--run", &st->entry.module, err, err_len)) < 0)
      return rc;
    return take_arg_words(argc, argv, i, st, true, err, err_len);
  } else if (strcmp(flag, "--instantiate") == 0) {
    VALUE();
    if ((rc = set_workload(st, "--instantiate", err, err_len)) < 0)
      return rc;
    st->entry.kind = WP_BENCH_INSTANTIATE;
    if (!wp_name_valid(value, strlen(value)))
      return fail(err, err_len, "--instantiate: \"%s\" is not a module name", value);
    if ((st->entry.module = strdup(value)) == NULL)
      return WP_ENOMEM;
  } else if (strcmp(flag, "--mix") == 0) {
    VALUE();
    if ((rc = set_workload(st, "--mix", err, err_len)) < 0)
      return rc;
    st->mix_path = value;
  } else if (strcmp(flag, "--args") == 0) {
    VALUE();
    if (st->have_args_flag)
      return fail(err, err_len, "--args given twice");
    st->have_args_flag = true;
    json_error_t jerr;
    json_t *array = json_loads(value, 0, &jerr);
    if (!json_is_array(array)) {
      json_decref(array);
      return fail(err, err_len, "--args: expected a JSON array like [1,2], got \"%s\"", value);
    }
    json_decref(st->args_json);
    st->args_json = array;
  } else if (strcmp(flag, "--body") == 0) {
    VALUE();
    if (st->have_body)
      return fail(err, err_len, "--body given twice");
    st->have_body = true;
    if (value[0] == '@')
      return read_file(value + 1, BODY_FILE_MAX, &st->body, &st->body_len, err, err_len);
    st->body_len = strlen(value);
    if ((st->body = strdup(value)) == NULL)
      return WP_ENOMEM;
  } else if (strcmp(flag, "--deadline") == 0) {
    VALUE();
    if (parse_uint(value, 1, 86400000, &number) < 0)
      return fail(err, err_len, "--deadline: expected milliseconds 1..86400000, got \"%s\"", value);
    st->deadline_ms = (unsigned)number;
    st->have_deadline = true;
  } else if (strcmp(flag, "--expect") == 0) {
    VALUE();
    if (parse_uint(value, 100, 599, &number) < 0)
      return fail(err, err_len, "--expect: expected an HTTP status 100..599, got \"%s\"", value);
    st->expect_status = (int)number;
    st->have_expect = true;
  } else if (strcmp(flag, "--deploy") == 0) {
    VALUE();
    const char *sep = strchr(value, '=');
    if (sep == NULL || sep == value || sep[1] == '\0')
      return fail(err, err_len, "--deploy: expected NAME=FILE, got \"%s\"", value);
    if (!wp_name_valid(value, (size_t)(sep - value)))
      return fail(err, err_len, "--deploy: \"%.*s\" is not a module name", (int)(sep - value),
                  value);
    wp_bench_deploy *grown =
        realloc(opts->deploys, (opts->deploy_count + 1) * sizeof(*opts->deploys));
    if (grown == NULL)
      return WP_ENOMEM;
    opts->deploys = grown;
    wp_bench_deploy *d = &opts->deploys[opts->deploy_count];
    d->name = strndup(value, (size_t)(sep - value));
    d->path = strdup(sep + 1);
    opts->deploy_count++;
    if (d->name == NULL || d->path == NULL)
      return WP_ENOMEM;
  } else if (strcmp(flag, "--json") == 0) {
    NO_VALUE();
    opts->json = true;
  } else if (strcmp(flag, "--plot") == 0) {
    VALUE();
    if (*value == '\0')
      return fail(err, err_len, "--plot: missing FILE");
    free(opts->plot_path);
    if ((opts->plot_path = strdup(value)) == NULL)
      return WP_ENOMEM;
  } else if (strcmp(flag, "--no-progress") == 0) {
    NO_VALUE();
    opts->no_progress = true;
  } else {
    return fail(err, err_len, "unknown flag \"%s\" (see --help)", word);
  }
#undef VALUE
#undef NO_VALUE
  return 0;
}

/* Conflicts and the workload, once every flag is known. */
static int finish(wp_bench_opts *opts, parse_state *st, char *err, size_t err_len) {
  if (opts->socket_path != NULL && opts->tcp_host != NULL)
    return fail(err, err_len, "--socket and --tcp conflict: give one transport");
  if (st->have_requests && st->have_duration)
    return fail(err, err_len, "-n and -d conflict: bound the run by count or by time");
  if (!st->have_requests && !st->have_duration)
    opts->duration_ns = UINT64_C(10) * 1000000000;
  if (st->workload == NULL)
    return fail(err, err_len,
                "no workload: give one of --call, --run, --instantiate, --instance-call, --mix");
  bool is_mix = strcmp(st->workload, "--mix") == 0;
  wp_bench_kind kind = st->entry.kind;
  bool is_call = !is_mix && (kind == WP_BENCH_CALL || kind == WP_BENCH_INSTANCE_CALL);
  if (st->have_body && (is_mix || kind != WP_BENCH_RUN))
    return fail(err, err_len, "--body goes with --run only (a mix entry has its own \"body\")");
  if (st->args_json != NULL && !is_call)
    return fail(err, err_len, "--args goes with --call or --instance-call only");
  if (st->have_args_flag && st->positional_args)
    return fail(err, err_len, "--args conflicts with argument words after %s", st->workload);
  if (is_mix && (st->have_deadline || st->have_expect))
    return fail(err, err_len, "--%s conflicts with --mix: set it per entry in the mix file",
                st->have_deadline ? "deadline" : "expect");
  opts->workload_flag = st->workload;
  int rc;
  if (is_mix) {
    char why[512];
    rc = wp_bench_mix_load(st->mix_path, &opts->mix, why, sizeof(why));
    if (rc == WP_EINVAL)
      return fail(err, err_len, "--mix %s", why);
    return rc;
  }
  wp_bench_entry *e = &st->entry;
  if (st->args_json != NULL) {
    json_decref(e->args);
    e->args = st->args_json;
    st->args_json = NULL;
  }
  if (is_call && e->args == NULL && (e->args = json_array()) == NULL)
    return WP_ENOMEM;
  if (st->have_body) {
    e->body = st->body;
    e->body_len = st->body_len;
    st->body = NULL;
  }
  e->deadline_ms = st->deadline_ms;
  e->expect_status = st->expect_status;
  e->weight = 1;
  return wp_bench_mix_single(e, &opts->mix);
}

int wp_bench_opts_parse(int argc, char **argv, wp_bench_opts *opts, char *err, size_t err_len) {
  memset(opts, 0, sizeof(*opts));
  opts->connections = 1;
  opts->pipeline = 1;
  opts->timeout_ns = UINT64_C(30) * 1000000000;
  opts->seed = 1;
  if (err != NULL && err_len > 0)
    err[0] = '\0';
  parse_state st;
  memset(&st, 0, sizeof(st));
  int rc = 0;
  for (int i = 1; i < argc && rc == 0; i++) {
    if (!looks_like_flag(argv[i])) {
      rc = fail(err, err_len, "unexpected word \"%s\" (arguments follow --call, --run, ...)",
                argv[i]);
      break;
    }
    rc = parse_flag(argc, argv, &i, opts, &st, err, err_len);
  }
  if (rc == 0 && opts->help) {
    state_free(&st);
    return 0;
  }
  if (rc == 0)
    rc = finish(opts, &st, err, err_len);
  state_free(&st);
  if (rc < 0) {
    if (rc == WP_ENOMEM && err != NULL && err_len > 0 && err[0] == '\0')
      snprintf(err, err_len, "out of memory");
    wp_bench_opts_free(opts);
  }
  return rc;
}
