/* test_bench_args.c — every flag of wasmpool-bench, bad values, conflicts. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench_args.h"
#include "wp_errno.h"

static char err[1024];

/* parse("--a", "b", NULL) with argv[0] supplied. */
static int parse(wp_bench_opts *opts, ...) {
  char *argv[64];
  int argc = 0;
  argv[argc++] = "wasmpool-bench";
  va_list ap;
  va_start(ap, opts);
  char *word;
  while ((word = va_arg(ap, char *)) != NULL)
    argv[argc++] = word;
  va_end(ap);
  argv[argc] = NULL;
  return wp_bench_opts_parse(argc, argv, opts, err, sizeof(err));
}

#define EXPECT_FAIL(needle, ...)                                                                   \
  do {                                                                                             \
    wp_bench_opts o_;                                                                              \
    cr_assert_eq(parse(&o_, __VA_ARGS__, NULL), WP_EINVAL, "accepted; expected \"%s\"", needle);   \
    cr_assert(strstr(err, needle) != NULL, "message \"%s\" lacks \"%s\"", err, needle);            \
  } while (0)

Test(bench_args, defaults_with_a_call) {
  wp_bench_opts o;
  cr_assert_eq(parse(&o, "--call", "add", "add", "1", "-2", "0x10", "abc", NULL), 0, "%s", err);
  cr_assert_eq(o.connections, 1);
  cr_assert_eq(o.pipeline, 1);
  cr_assert_eq(o.rate, 0);
  cr_assert_eq(o.requests, 0);
  cr_assert_eq(o.duration_ns, 10000000000ull);
  cr_assert_eq(o.warmup_ns, 0);
  cr_assert_eq(o.timeout_ns, 30000000000ull);
  cr_assert_eq(o.seed, 1);
  cr_assert_null(o.socket_path);
  cr_assert_null(o.tcp_host);
  cr_assert_eq(o.mix->count, 1);
  const wp_bench_entry *e = &o.mix->entries[0];
  cr_assert_eq(e->kind, WP_BENCH_CALL);
  cr_assert_str_eq(e->module, "add");
  cr_assert_str_eq(e->export_name, "add");
  char *args = json_dumps(e->args, JSON_COMPACT);
  cr_assert_str_eq(args, "[1,-2,16,\"abc\"]");
  free(args);
  cr_assert_str_eq(o.workload_flag, "--call");
  wp_bench_opts_free(&o);
}

Test(bench_args, every_flag) {
  char body_path[] = "/tmp/wpb_args_bodyXXXXXX";
  int fd = mkstemp(body_path);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, "a\0b", 3), 3);
  close(fd);
  char body_flag[64];
  snprintf(body_flag, sizeof(body_flag), "@%s", body_path);
  wp_bench_opts o;
  cr_assert_eq(parse(&o, "--socket", "/tmp/x.sock", "-c", "8", "--pipeline=4", "--rate", "2500.5",
                     "-d", "1.5s", "--warmup", "250ms", "--timeout", "2s", "--seed", "42", "--run",
                     "hello", "one", "two words", "--body", body_flag, "--deadline", "50",
                     "--expect", "200", "--deploy", "hello=/tmp/hello.wasm", "--deploy",
                     "add=/tmp/add.wasm", "--json", "--plot", "/tmp/p.svg", "--no-progress", NULL),
               0, "%s", err);
  unlink(body_path);
  cr_assert_str_eq(o.socket_path, "/tmp/x.sock");
  cr_assert_eq(o.connections, 8);
  cr_assert_eq(o.pipeline, 4);
  cr_assert_float_eq(o.rate, 2500.5, 1e-9);
  cr_assert_eq(o.duration_ns, 1500000000ull);
  cr_assert_eq(o.warmup_ns, 250000000ull);
  cr_assert_eq(o.timeout_ns, 2000000000ull);
  cr_assert_eq(o.seed, 42);
  const wp_bench_entry *e = &o.mix->entries[0];
  cr_assert_eq(e->kind, WP_BENCH_RUN);
  cr_assert_str_eq(e->module, "hello");
  cr_assert_eq(json_array_size(e->args), 2);
  cr_assert_str_eq(json_string_value(json_array_get(e->args, 1)), "two words");
  cr_assert_eq(e->body_len, 3);
  cr_assert_eq(memcmp(e->body, "a\0b", 3), 0);
  cr_assert_eq(e->deadline_ms, 50);
  cr_assert_eq(e->expect_status, 200);
  cr_assert_eq(o.deploy_count, 2);
  cr_assert_str_eq(o.deploys[1].name, "add");
  cr_assert_str_eq(o.deploys[1].path, "/tmp/add.wasm");
  cr_assert(o.json);
  cr_assert_str_eq(o.plot_path, "/tmp/p.svg");
  cr_assert(o.no_progress);
  wp_bench_opts_free(&o);

  cr_assert_eq(parse(&o, "--tcp", "127.0.0.1:8080", "--connections", "3", "--requests", "500",
                     "--instantiate", "add", NULL),
               0, "%s", err);
  cr_assert_str_eq(o.tcp_host, "127.0.0.1");
  cr_assert_eq(o.tcp_port, 8080);
  cr_assert_eq(o.connections, 3);
  cr_assert_eq(o.requests, 500);
  cr_assert_eq(o.duration_ns, 0);
  cr_assert_eq(o.mix->entries[0].kind, WP_BENCH_INSTANTIATE);
  wp_bench_opts_free(&o);

  cr_assert_eq(parse(&o, "--tcp=localhost:9", "-n1000", "-c16", "--instance-call", "reactor", "get",
                     "--args", "[1, \"0x10\", 2.5]", NULL),
               0, "%s", err);
  cr_assert_str_eq(o.tcp_host, "127.0.0.1");
  cr_assert_eq(o.requests, 1000);
  cr_assert_eq(o.connections, 16);
  cr_assert_eq(o.mix->entries[0].kind, WP_BENCH_INSTANCE_CALL);
  cr_assert_eq(json_array_size(o.mix->entries[0].args), 3);
  wp_bench_opts_free(&o);

  /* A JSON array as the one argument word; "--" ends the words. */
  cr_assert_eq(parse(&o, "--call", "m", "e", "[1,2]", "--duration", "2m", NULL), 0, "%s", err);
  cr_assert_eq(json_array_size(o.mix->entries[0].args), 2);
  cr_assert_eq(o.duration_ns, 120000000000ull);
  wp_bench_opts_free(&o);
  cr_assert_eq(parse(&o, "--call", "m", "e", "-1.5", "--", "-n", "5", NULL), 0, "%s", err);
  cr_assert_eq(json_array_size(o.mix->entries[0].args), 1);
  cr_assert(json_is_real(json_array_get(o.mix->entries[0].args, 0)));
  cr_assert_eq(o.requests, 5, "-n after -- is still a flag");
  wp_bench_opts_free(&o);
  cr_assert_eq(parse(&o, "--help", NULL), 0);
  cr_assert(o.help);
  wp_bench_opts_free(&o);
}

Test(bench_args, mix_file) {
  char path[] = "/tmp/wpb_args_mixXXXXXX";
  int fd = mkstemp(path);
  const char *doc = "{\"requests\":[{\"kind\":\"call\",\"module\":\"a\",\"export\":\"f\"},"
                    "{\"kind\":\"run\",\"module\":\"h\",\"weight\":3}]}";
  cr_assert_eq(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
  close(fd);
  wp_bench_opts o;
  cr_assert_eq(parse(&o, "--mix", path, NULL), 0, "%s", err);
  cr_assert_eq(o.mix->count, 2);
  cr_assert_str_eq(o.workload_flag, "--mix");
  wp_bench_opts_free(&o);
  EXPECT_FAIL("--deadline conflicts with --mix", "--mix", path, "--deadline", "5");
  EXPECT_FAIL("--expect conflicts with --mix", "--mix", path, "--expect", "502");
  unlink(path);
  EXPECT_FAIL("No such file", "--mix", path);
}

Test(bench_args, bad_values) {
  EXPECT_FAIL("unknown flag \"--frobnicate\"", "--frobnicate", "--call", "a", "b");
  EXPECT_FAIL("unknown flag \"-x\"", "-x", "--call", "a", "b");
  EXPECT_FAIL("-c: expected 1..10000", "-c", "0", "--call", "a", "b");
  EXPECT_FAIL("-c: expected 1..10000", "-c", "10001", "--call", "a", "b");
  EXPECT_FAIL("--connections: expected", "--connections", "four", "--call", "a", "b");
  EXPECT_FAIL("--pipeline: expected", "--pipeline", "0", "--call", "a", "b");
  EXPECT_FAIL("--pipeline: expected", "--pipeline", "2000", "--call", "a", "b");
  EXPECT_FAIL("--rate: expected", "--rate", "0", "--call", "a", "b");
  EXPECT_FAIL("--rate: expected", "--rate", "-5", "--call", "a", "b");
  EXPECT_FAIL("--rate: expected", "--rate", "fast", "--call", "a", "b");
  EXPECT_FAIL("--rate: expected", "--rate", "nan", "--call", "a", "b");
  EXPECT_FAIL("-n: expected", "-n", "0", "--call", "a", "b");
  EXPECT_FAIL("-n: expected", "-n", "-3", "--call", "a", "b");
  EXPECT_FAIL("-d: expected a duration", "-d", "10parsecs", "--call", "a", "b");
  EXPECT_FAIL("-d: expected a duration", "-d", "0s", "--call", "a", "b");
  EXPECT_FAIL("--warmup: expected", "--warmup", "soon", "--call", "a", "b");
  EXPECT_FAIL("--timeout: expected", "--timeout", "-1s", "--call", "a", "b");
  EXPECT_FAIL("--seed: expected", "--seed", "x", "--call", "a", "b");
  EXPECT_FAIL("--deadline: expected", "--deadline", "0", "--call", "a", "b");
  EXPECT_FAIL("--expect: expected", "--expect", "99", "--call", "a", "b");
  EXPECT_FAIL("--expect: expected", "--expect", "600", "--call", "a", "b");
  EXPECT_FAIL("--tcp: expected HOST:PORT", "--tcp", "8080", "--call", "a", "b");
  EXPECT_FAIL("not a loopback address", "--tcp", "10.0.0.1:80", "--call", "a", "b");
  EXPECT_FAIL("not an IPv4 address", "--tcp", "example.org:80", "--call", "a", "b");
  EXPECT_FAIL("port must be 1..65535", "--tcp", "127.0.0.1:70000", "--call", "a", "b");
  EXPECT_FAIL("--socket: path must be", "--socket", "", "--call", "a", "b");
  EXPECT_FAIL("missing value", "--call", "a", "b", "--rate");
  EXPECT_FAIL("--call: missing MODULE", "--call");
  EXPECT_FAIL("--call: missing EXPORT", "--call", "add");
  EXPECT_FAIL("is not a module name", "--call", "../etc", "f");
  EXPECT_FAIL("is not a module name", "--instantiate", ".hidden");
  EXPECT_FAIL("--args: expected a JSON array", "--call", "a", "b", "--args", "{\"x\":1}");
  EXPECT_FAIL("not a JSON array", "--call", "a", "b", "[1,");
  EXPECT_FAIL("--deploy: expected NAME=FILE", "--deploy", "add", "--call", "a", "b");
  EXPECT_FAIL("--deploy: \"b/c\" is not a module name", "--deploy", "b/c=x.wasm", "--call", "a",
              "b");
  EXPECT_FAIL("--json takes no value", "--json=yes", "--call", "a", "b");
  EXPECT_FAIL("unexpected word \"stray\"", "stray", "--call", "a", "b");
  EXPECT_FAIL("No such file", "--run", "h", "--body", "@/nonexistent/body");
  EXPECT_FAIL("--plot: missing FILE", "--plot=", "--call", "a", "b");
}

Test(bench_args, conflicts) {
  EXPECT_FAIL("no workload", "-c", "2");
  EXPECT_FAIL("--run conflicts with --call", "--call", "a", "b", "--run", "h");
  EXPECT_FAIL("--mix conflicts with --instantiate", "--instantiate", "a", "--mix", "m.json");
  EXPECT_FAIL("--instance-call conflicts with --run", "--run", "h", "--instance-call", "a", "b");
  EXPECT_FAIL("--socket and --tcp conflict", "--socket", "/s", "--tcp", "127.0.0.1:1", "--call",
              "a", "b");
  EXPECT_FAIL("-n and -d conflict", "-n", "5", "-d", "1s", "--call", "a", "b");
  EXPECT_FAIL("--body goes with --run only", "--call", "a", "b", "--body", "x");
  EXPECT_FAIL("--body goes with --run only", "--instantiate", "a", "--body", "x");
  EXPECT_FAIL("--args goes with --call", "--run", "h", "--args", "[1]");
  EXPECT_FAIL("--args conflicts with argument words", "--call", "a", "b", "1", "--args", "[2]");
  EXPECT_FAIL("--args given twice", "--call", "a", "b", "--args", "[1]", "--args", "[2]");
  EXPECT_FAIL("--body given twice", "--run", "h", "--body", "x", "--body", "y");
}

Test(bench_args, durations) {
  uint64_t ns;
  cr_assert_eq(wp_bench_parse_duration("10s", false, &ns), 0);
  cr_assert_eq(ns, 10000000000ull);
  cr_assert_eq(wp_bench_parse_duration("3", false, &ns), 0);
  cr_assert_eq(ns, 3000000000ull);
  cr_assert_eq(wp_bench_parse_duration("250us", false, &ns), 0);
  cr_assert_eq(ns, 250000ull);
  cr_assert_eq(wp_bench_parse_duration("1h", false, &ns), 0);
  cr_assert_eq(ns, 3600000000000ull);
  cr_assert_eq(wp_bench_parse_duration("0", true, &ns), 0);
  cr_assert_eq(ns, 0);
  cr_assert_eq(wp_bench_parse_duration("0", false, &ns), WP_EINVAL);
  cr_assert_eq(wp_bench_parse_duration("", true, &ns), WP_EINVAL);
  cr_assert_eq(wp_bench_parse_duration("5 s", true, &ns), WP_EINVAL);
  cr_assert_eq(wp_bench_parse_duration("1000000h", true, &ns), WP_EINVAL);
}

Test(bench_args, help_documents_every_flag) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  wp_bench_usage(f);
  fclose(f);
  const char *flags[] = {"--socket",        "--tcp",          "-c, --connections",
                         "--pipeline",      "--timeout",      "--rate",
                         "-n, --requests",  "-d, --duration", "--warmup",
                         "--seed",          "--call",         "--args",
                         "--run",           "--body",         "--instantiate",
                         "--instance-call", "--mix",          "--deadline",
                         "--expect",        "--deploy",       "--json",
                         "--plot",          "--no-progress",  "-h, --help"};
  for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
    cr_assert(strstr(text, flags[i]) != NULL, "--help does not mention %s", flags[i]);
  free(text);
}
