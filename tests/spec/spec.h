/* spec.h — private header of the spec-suite runner (wasmpool-spec).
 *
 * The runner is split so that everything except the execution of commands can
 * be unit-tested without the runtime:
 *
 *   command.c  one wast2json command (a JSON object) -> wp_spec_command
 *   value.c    JSON values -> wp_val, expected results with NaN patterns,
 *              matching and printing
 *   report.c   pass / fail / skip counters and grouped skip reasons
 *   profile.c  per test directory: the features a .wast assumes
 *   tool.c     running the tool root's wast2json / wat2wasm through its
 *              loader (posix_spawn), temp dirs, files
 *   runner.c   executes one .wast file through instance/instance.h
 *   main.c     options, the runtime, per-file and total lines
 *
 * Only runner.c and main.c call into instance/; the others use instance.h for
 * the wp_val type alone.
 */
#ifndef WP_SPEC_H
#define WP_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "instance.h"

/* ---- Commands ------------------------------------------------------------ */

typedef enum wp_spec_kind {
  WP_SPEC_MODULE,
  WP_SPEC_REGISTER,
  WP_SPEC_ACTION,
  WP_SPEC_ASSERT_RETURN,
  WP_SPEC_ASSERT_TRAP,
  WP_SPEC_ASSERT_EXHAUSTION,
  WP_SPEC_ASSERT_INVALID,
  WP_SPEC_ASSERT_MALFORMED,
  WP_SPEC_ASSERT_UNLINKABLE,
  WP_SPEC_ASSERT_UNINSTANTIABLE,
  WP_SPEC_ASSERT_EXCEPTION, /* the call throws a Wasm exception nobody catches */
  WP_SPEC_UNKNOWN,
} wp_spec_kind;

/* "assert_return" -> WP_SPEC_ASSERT_RETURN; anything else -> WP_SPEC_UNKNOWN. */
wp_spec_kind wp_spec_kind_parse(const char *type);
const char *wp_spec_kind_name(wp_spec_kind kind);

/* One command. Every pointer borrows from the JSON object it was parsed from,
 * which must outlive the command. */
typedef struct wp_spec_command {
  wp_spec_kind kind;
  int line;
  const char *filename; /* module file, relative to the JSON's directory */
  bool text_module;     /* module_type "text": filename is a .wat to reject */
  const char *name;     /* module: "$name" or NULL; register: instance or NULL (current) */
  const char *as;       /* register: the import module name it becomes */
  const char *text;     /* expected failure message of assert_* ("" if none) */
  /* action / assert_return / assert_trap / assert_exhaustion / assert_exception */
  bool has_action;
  bool action_is_get;        /* "get" of a global instead of "invoke" */
  const char *action_module; /* "$name" or NULL for the current instance */
  const char *field;         /* export name; may hold any bytes, field_length is the truth */
  size_t field_length;
  json_t *args;     /* array of values (NULL for get) */
  json_t *expected; /* array of expected values */
} wp_spec_command;

/* Fills *out from one element of the "commands" array. Returns 0, or WP_EINVAL
 * with why set when a field the kind needs is missing or has the wrong type. */
int wp_spec_command_parse(json_t *obj, wp_spec_command *out, char *why, size_t why_len);

/* Whether the command reads or calls an instance (and so depends on a module
 * having been instantiated). */
bool wp_spec_kind_uses_instance(wp_spec_kind kind);
/* Whether the command carries its own module file (assert_invalid, ...). */
bool wp_spec_kind_has_module_file(wp_spec_kind kind);

/* ---- Values -------------------------------------------------------------- */

typedef enum wp_spec_pattern {
  WP_SPEC_EXACT,          /* bit-for-bit equal (floats included) */
  WP_SPEC_NAN_CANONICAL,  /* "nan:canonical": sign free, payload = quiet bit only */
  WP_SPEC_NAN_ARITHMETIC, /* "nan:arithmetic": sign free, quiet bit set */
  WP_SPEC_ANY_REF,        /* a non-null reference of the type (no value given) */
} wp_spec_pattern;

/* How a v128 constant was written: its lane shape. */
typedef enum wp_spec_lane {
  WP_SPEC_LANE_NONE, /* not a v128 */
  WP_SPEC_LANE_I8,
  WP_SPEC_LANE_I16,
  WP_SPEC_LANE_I32,
  WP_SPEC_LANE_I64,
  WP_SPEC_LANE_F32,
  WP_SPEC_LANE_F64,
} wp_spec_lane;

/* Lanes of a shape (16, 8, 4, 2); 0 for NONE. */
size_t wp_spec_lane_count(wp_spec_lane lane);
const char *wp_spec_lane_name(wp_spec_lane lane);

typedef struct wp_spec_expected {
  wp_val val;
  wp_spec_pattern pattern; /* scalars */
  /* v128: the shape it was written in, and per lane of an f32x4 / f64x2
   * the pattern (a NaN pattern applies to its lane only). */
  wp_spec_lane lane;
  wp_spec_pattern lane_patterns[4];
} wp_spec_expected;

/* One expected result of assert_return: a value, or with "either" any of
 * up to WP_SPEC_EITHER_MAX alternatives. */
#define WP_SPEC_EITHER_MAX 8
typedef struct wp_spec_result {
  size_t count; /* 1 unless "either" */
  wp_spec_expected options[WP_SPEC_EITHER_MAX];
} wp_spec_result;

/* Parses one argument value {"type": "i32", "value": "4294967295"}.
 * Integers and float bit patterns are unsigned decimal strings; references
 * are "null" or, for externref, a host number; a v128 is {"type": "v128",
 * "lane_type": "i8".."f64", "value": [one string per lane]}, stored in
 * of.v128 in little-endian lane order. WP_EINVAL for anything malformed. */
int wp_spec_value_parse(json_t *value, wp_val *out, char *why, size_t why_len);

/* Like wp_spec_value_parse, plus the NaN patterns (per lane in a v128) and
 * a missing value on a reference type (any non-null). */
int wp_spec_expected_parse(json_t *value, wp_spec_expected *out, char *why, size_t why_len);

bool wp_spec_expected_matches(const wp_spec_expected *expected, const wp_val *got);

/* An expected result: a value as above or {"type": "either", "values":
 * [...]}, which matches when any alternative does. */
int wp_spec_result_parse(json_t *value, wp_spec_result *out, char *why, size_t why_len);
bool wp_spec_result_matches(const wp_spec_result *result, const wp_val *got);

/* externref N of the spec suite travels as this opaque pointer; N + 1 so
 * that ref.extern 0 is not the null reference. */
void *wp_spec_extern_ref(uint64_t n);

/* "i32:42", "f32:0x7fc00000 (nan)", "externref:3", "funcref:null",
 * "v128:i32x4:1 2 3 4"... A v128 result is printed in the shape lane (the
 * expected value's, so both sides of a failure read alike). */
void wp_spec_val_format(const wp_val *val, char *buf, size_t len);
void wp_spec_val_format_lanes(const wp_val *val, wp_spec_lane lane, char *buf, size_t len);
void wp_spec_expected_format(const wp_spec_expected *expected, char *buf, size_t len);
/* "either(a | b)" or the single value. */
void wp_spec_result_format(const wp_spec_result *result, char *buf, size_t len);

/* Trap codes an assert_trap / assert_uninstantiable message accepts. wasm2c
 * reports memory and table bounds with one trap, and a null, out-of-range or
 * mistyped call_indirect with another, so some messages accept two codes.
 * Returns how many codes were written to codes (at most 4); 0 means the
 * message is unknown (the caller then accepts any trap and says so). */
size_t wp_spec_trap_codes(const char *text, int codes[4]);
bool wp_spec_is_trap_code(int code);

/* ---- Profiles ------------------------------------------------------------ */

/* What the files of one test directory assume, chosen the way wabt's own
 * spec-test driver does: core/ the default 2.0 + SIMD feature set,
 * proposals/<name>/ that proposal on. */
typedef struct wp_spec_profile {
  const char *name;           /* "core", "tail-call", ..., "all" */
  uint32_t disabled_features; /* wp_module_options.disabled_features */
  const char *flags[8];       /* wast2json / wat2wasm --enable-* flags, NULL-terminated */
  /* assert_invalid messages of rules the engine cannot turn on (NULL-
   * terminated): skipped with the reason below instead of run. */
  const char *unenforceable[2];
  const char *unenforceable_reason;
} wp_spec_profile;

/* Whether profile skips an assert_invalid with this message. */
bool wp_spec_profile_unenforceable(const wp_spec_profile *profile, const char *text);

/* By name ("core", a proposal directory, "all"); NULL if unknown. */
const wp_spec_profile *wp_spec_profile_find(const char *name);
/* For a .wast path: ".../core/x.wast" -> core, ".../proposals/<name>/x.wast"
 * -> that proposal (NULL when no profile has the name), any other
 * directory -> "all" (every feature the engine has; the examples). */
const wp_spec_profile *wp_spec_profile_for_path(const char *wast_path);

/* ---- Report -------------------------------------------------------------- */

typedef struct wp_spec_report wp_spec_report;

int wp_spec_report_create(wp_spec_report **out);
void wp_spec_report_destroy(wp_spec_report *report);

void wp_spec_report_pass(wp_spec_report *report);
/* Counts a failure; the caller prints its detail. */
void wp_spec_report_fail(wp_spec_report *report);
/* Counts a skip under reason (copied; grouped by exact text). */
int wp_spec_report_skip(wp_spec_report *report, const char *reason);
/* Adds every counter and reason of from into into. */
int wp_spec_report_merge(wp_spec_report *into, const wp_spec_report *from);

uint64_t wp_spec_report_passed(const wp_spec_report *report);
uint64_t wp_spec_report_failed(const wp_spec_report *report);
uint64_t wp_spec_report_skipped(const wp_spec_report *report);
size_t wp_spec_report_reason_count(const wp_spec_report *report);
/* The i-th reason in first-seen order and how many skips it holds. */
const char *wp_spec_report_reason(const wp_spec_report *report, size_t i, uint64_t *count);

/* "N passed, N failed, N skipped" (no newline). */
void wp_spec_report_format(const wp_spec_report *report, char *buf, size_t len);
/* Serialises counters and reasons as text lines, and adds what
 * wp_spec_report_write produced to a report (merging). The runner uses this
 * to carry a file's results out of the child process that ran it. Returns
 * WP_EINVAL on input it did not write. */
int wp_spec_report_write(const wp_spec_report *report, FILE *out);
int wp_spec_report_read(wp_spec_report *into, FILE *in);

/* One "  skipped N: reason" line per reason. */
void wp_spec_report_print_reasons(const wp_spec_report *report, FILE *out);

/* ---- Running a file (runner.c; needs the runtime) ------------------------ */

typedef struct wp_spec_run_options {
  wp_runtime *runtime;
  const char *toolroot;           /* Debian 13 tool root (wast2json, wat2wasm) */
  const wp_spec_profile *profile; /* NULL: chosen per file by its directory */
  bool verbose;                   /* print every skip and every pass of a module */
  bool keep_temp;                 /* leave wast2json's output directory in place */
  bool trace;                     /* print each command before running it */
  bool strict;                    /* an unsupported-feature refusal fails, not skips */
  wp_tier tier;                   /* tier modules are built at (SIMD: always 1) */
  uint64_t call_deadline_ms;      /* per invocation and instantiation; 0 = none */
  FILE *out;                      /* where FAIL / SKIP lines go */
  /* Crash recovery (main.c). The commands at the indices in crashed killed
   * an earlier child: each counts as failed without running (its FAIL line
   * was printed then). Commands before quiet_before were printed by an
   * earlier child: they run again, to rebuild the state, and are counted but
   * print nothing. progress, when set, is written before each command
   * (shared memory, so it outlives a child that dies). */
  const size_t *crashed;
  size_t crashed_count;
  int crash_at_line; /* testing the recovery: abort() at the command on this line */
  size_t quiet_before;
  struct wp_spec_progress *progress;
} wp_spec_run_options;

/* Where a run was: the command it had started and its line. */
typedef struct wp_spec_progress {
  size_t command; /* index into "commands"; SIZE_MAX before the first */
  int line;
  char label[320]; /* "assert_return invoke \"f\"" */
  /* The child's wast2json directory ("" when none), which a child killed by
   * a signal cannot remove itself. */
  char tempdir[4096];
} wp_spec_progress;

/* Statistics beyond the report's counters, for the per-file line. */
typedef struct wp_spec_file_stats {
  uint64_t modules_loaded; /* wp_module_load calls that succeeded */
  uint64_t cache_hits;     /* of those, artifacts found in the cache */
  uint64_t text_checked;   /* text assert_malformed rejected by wat2wasm */
  uint64_t reinstantiated; /* instances replaced after a poisoning trap */
} wp_spec_file_stats;

/* Runs every command of one .wast file, counting into report. Problems with
 * the file itself (wast2json fails, bad JSON) count as one failure. Returns 0
 * unless memory ran out. */
int wp_spec_run_file(const wp_spec_run_options *opts, const char *wast_path, wp_spec_report *report,
                     wp_spec_file_stats *stats);

/* ---- Tools --------------------------------------------------------------- */

/* The command line of a tool in the Debian 13 root, run through the root's
 * own loader: {root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2,
 * "--library-path", root/usr/lib/x86_64-linux-gnu, root/usr/bin/<tool>}.
 * argv has room for at least 4 entries; the paths go into storage
 * (3 * 4096 bytes) owned by the caller. Returns WP_EINVAL if they do not fit. */
typedef struct wp_spec_tool {
  char loader[4096], libpath[4096], program[4096];
} wp_spec_tool;
int wp_spec_tool_init(wp_spec_tool *tool, const char *toolroot, const char *name);
/* Fills argv[0..3] from tool; the caller appends its arguments. */
void wp_spec_tool_argv(const wp_spec_tool *tool, const char *argv[4]);

/* Runs argv[0] (a path, no PATH search, no shell) with stdin from /dev/null,
 * stdout to /dev/null and stderr to stderr_path (or /dev/null when NULL).
 * *exit_status is the exit code, or 128 + signal. Returns WP_ESYS if it could
 * not be started. */
int wp_spec_spawn(const char *const argv[], const char *stderr_path, int *exit_status);

/* A fresh private directory under $TMPDIR (or /tmp); path has room for 4096. */
int wp_spec_tempdir_create(char *path, size_t path_len);
/* Removes the directory and every file directly in it (wast2json's output is
 * flat). */
int wp_spec_tempdir_remove(const char *path);

/* Reads a whole file into a malloc'd buffer. */
int wp_spec_read_file(const char *path, uint8_t **bytes, size_t *length);

#endif /* WP_SPEC_H */
