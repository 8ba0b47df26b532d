/* spec.h — private header of the spec-suite runner (wasmpool-spec).
 *
 * The runner is split so that everything except the execution of commands can
 * be unit-tested without the runtime:
 *
 *   command.c  one wast2json command (a JSON object) -> wp_spec_command
 *   value.c    JSON values -> wp_val, expected results with NaN patterns,
 *              matching and printing
 *   report.c   pass / fail / skip counters and grouped skip reasons
 *   tool.c     running wast2json / wat2wasm (posix_spawn), temp dirs, files
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
  /* action / assert_return / assert_trap / assert_exhaustion */
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

typedef struct wp_spec_expected {
  wp_val val;
  wp_spec_pattern pattern;
} wp_spec_expected;

/* Parses one argument value {"type": "i32", "value": "4294967295"}.
 * Integers and float bit patterns are unsigned decimal strings; references
 * are "null" or, for externref, a host number. Returns WP_EUNSUPPORTED for
 * v128 (why says SIMD), WP_EINVAL for anything malformed. */
int wp_spec_value_parse(json_t *value, wp_val *out, char *why, size_t why_len);

/* Like wp_spec_value_parse, plus the NaN patterns and a missing value on a
 * reference type (any non-null). */
int wp_spec_expected_parse(json_t *value, wp_spec_expected *out, char *why, size_t why_len);

bool wp_spec_expected_matches(const wp_spec_expected *expected, const wp_val *got);

/* externref N of the spec suite travels as this opaque pointer; N + 1 so
 * that ref.extern 0 is not the null reference. */
void *wp_spec_extern_ref(uint64_t n);

/* "i32:42", "f32:0x7fc00000 (nan)", "externref:3", "funcref:null"... */
void wp_spec_val_format(const wp_val *val, char *buf, size_t len);
void wp_spec_expected_format(const wp_spec_expected *expected, char *buf, size_t len);

/* Trap codes an assert_trap / assert_uninstantiable message accepts. wasm2c
 * reports memory and table bounds with one trap, and a null, out-of-range or
 * mistyped call_indirect with another, so some messages accept two codes.
 * Returns how many codes were written to codes (at most 4); 0 means the
 * message is unknown (the caller then accepts any trap and says so). */
size_t wp_spec_trap_codes(const char *text, int codes[4]);
bool wp_spec_is_trap_code(int code);

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
  const char *wast2json_path; /* absolute path of wast2json */
  const char *wat2wasm_path;  /* absolute path of wat2wasm (text assert_malformed) */
  bool verbose;               /* print every skip and every pass of a module */
  bool keep_temp;             /* leave wast2json's output directory in place */
  bool trace;                 /* print each command before running it */
  uint64_t call_deadline_ms;  /* per invocation and instantiation; 0 = none */
  FILE *out;                  /* where FAIL / SKIP lines go */
} wp_spec_run_options;

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
