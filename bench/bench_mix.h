/* bench_mix.h — what wasmpool-bench sends: workload entries and their mix.
 *
 * Every workload is a mix. A single-workload flag (--call, --run,
 * --instantiate, --instance-call) makes a mix of one entry; --mix FILE reads
 * several from JSON (format in docs/BENCH_TOOL.md):
 *
 *   {"requests": [
 *     {"weight": 8, "kind": "call", "module": "add", "export": "add", "args": [1, 2]},
 *     {"weight": 1, "kind": "run", "module": "hello", "body": "world"},
 *     {"weight": 1, "kind": "call", "module": "trap", "export": "div0",
 *      "args": [1, 0], "expect": 502}]}
 *
 * Entries are picked at random in proportion to their weights with a seeded
 * generator, so a run can be repeated exactly.
 */
#ifndef WP_BENCH_MIX_H
#define WP_BENCH_MIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef enum wp_bench_kind {
  WP_BENCH_CALL = 0,      /* POST /v1/modules/{m}/call/{e}: one-shot call */
  WP_BENCH_RUN,           /* POST /v1/modules/{m}/run: one-shot WASI command */
  WP_BENCH_INSTANTIATE,   /* POST /v1/modules/{m}/instances, then DELETE it */
  WP_BENCH_INSTANCE_CALL, /* POST /v1/instances/{id}/call/{e} on a per-connection instance */
  WP_BENCH_KIND_COUNT
} wp_bench_kind;

/* "call", "run", "instantiate", "instance_call". */
const char *wp_bench_kind_name(wp_bench_kind kind);

/* Largest mix file and number of entries accepted. */
#define WP_BENCH_MIX_MAX_ENTRIES 64
#define WP_BENCH_MIX_MAX_FILE    ((size_t)1 << 20)

typedef struct wp_bench_entry {
  char *name; /* label in reports; defaults to "kind module[/export]" */
  wp_bench_kind kind;
  char *module;
  char *export_name; /* call kinds only, else NULL */
  /* call kinds: JSON array of arguments (owned reference); run: array of
   * strings for argv (?arg=...); instantiate: NULL. */
  json_t *args;
  char *body; /* run: stdin bytes (may hold NUL); else NULL */
  size_t body_len;
  double weight;        /* > 0 */
  int expect_status;    /* 0: any 2xx counts as expected */
  unsigned deadline_ms; /* 0: no X-Wasmpool-Deadline-Ms header */
} wp_bench_entry;

typedef struct wp_bench_mix {
  wp_bench_entry *entries;
  size_t count;
  double *cumulative; /* cumulative[i] = sum of weights 0..i */
} wp_bench_mix;

/* Parse a mix document. why gets "requests[2].export: missing" on error.
 * WP_EINVAL (bad document), WP_ENOMEM. */
int wp_bench_mix_parse(const char *text, size_t len, wp_bench_mix **out, char *why, size_t why_len);
/* Read and parse a file (at most WP_BENCH_MIX_MAX_FILE bytes). */
int wp_bench_mix_load(const char *path, wp_bench_mix **out, char *why, size_t why_len);
/* A mix of one entry; takes ownership of *entry's members (entry is then
 * zeroed). */
int wp_bench_mix_single(wp_bench_entry *entry, wp_bench_mix **out);
void wp_bench_mix_destroy(wp_bench_mix *mix);
void wp_bench_entry_free(wp_bench_entry *entry);

/* The entry for a uniform u in [0, 1): entry i with probability
 * weight[i] / total. */
size_t wp_bench_mix_pick(const wp_bench_mix *mix, double u);

/* Whether any entry needs per-connection instances. */
bool wp_bench_mix_has_kind(const wp_bench_mix *mix, wp_bench_kind kind);

/* splitmix64: small, fast and good enough to pick entries. */
uint64_t wp_bench_rng_next(uint64_t *state);
/* Uniform in [0, 1) with 53 random bits. */
double wp_bench_rng_unit(uint64_t *state);

#endif /* WP_BENCH_MIX_H */
