/* runner.c — executes one .wast file through the public instance API.
 *
 * wast2json (1.0.36, from the tool root, with the --enable-* flags of the
 * file's profile) turns the file into a JSON command list plus one .wasm (or
 * .wat) per module in a private temp dir; each command then goes through the
 * same path the daemon uses: wp_module_load() (validate, refuse what the
 * engine cannot do, compile or hit the cache, build the image) with the
 * profile's disabled_features, and wp_instance_create() in pooled slots.
 *
 * Instances. Every "module" command makes a record that becomes the current
 * instance; "$name"d ones stay reachable by name. A record whose module the
 * engine refused as unsupported_module is SKIPPED and every command using it
 * is skipped with that reason (a failure with --strict); one that failed
 * otherwise is BROKEN and every command using it fails (a broken module is
 * never hidden as a skip). Every instance lives
 * until the end of its file, as in the reference interpreter: another
 * instance may hold references to its functions (through a registered
 * module's table, or the spectest table every importer shares), so none can
 * be released early. The pool is sized for that (const.wast has 402 modules).
 *
 * Poisoning. The API requires an instance that exhausted its stack or timed
 * out to be destroyed; the spec suite goes on calling the module after
 * assert_exhaustion (call.wast), so such an instance is re-instantiated from
 * the same module, which is counted in the per-file stats.
 *
 * Crashes. A command that kills the process (a host bug the suite is meant
 * to find) is reported by main.c with its line from opts->progress; the file
 * then runs again in a new child with that command in opts->crashed: every
 * command before it runs again (counted, not printed a second time) to
 * rebuild the state, the crashed one counts as failed without running, and
 * the file goes on after it.
 *
 * Failures print one line each: FAIL file:line kind field: expected / got.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

#define TEXT_ACCEPTED_REASON                                                                       \
  "text-format assert_malformed that wabt 1.0.36's wat2wasm accepts (a text parser check; "        \
  "wasmpool takes binaries only)"
#define TEXT_CRASH_REASON "text-format assert_malformed on which wat2wasm crashed"
#define CRASHED_REASON    "crashed the runner in an earlier run of this file"

typedef enum record_state { RECORD_READY, RECORD_SKIPPED, RECORD_BROKEN } record_state;

typedef struct record {
  char *name; /* "$name" or NULL */
  int line;   /* of the module command */
  record_state state;
  char why[600];    /* SKIPPED / BROKEN: what happened */
  char reason[160]; /* SKIPPED: the grouped skip reason */
  wp_module *module;
  wp_instance *instance;
  bool registered;
} record;

typedef struct file_run {
  const wp_spec_run_options *opts;
  const wp_spec_profile *profile;
  const char *file; /* display name: the .wast's base name */
  FILE *out;        /* opts->out, or /dev/null while commands run again quietly */
  bool quiet;
  char dir[4096];
  wp_spec_report *report;
  wp_spec_file_stats *stats;
  wp_linker *linker;
  size_t registered_count;
  record **records; /* creation order; destroyed in reverse */
  size_t record_count, record_capacity;
  wp_instance **retired; /* poisoned but registered: kept until the end */
  size_t retired_count, retired_capacity;
  record *current;
} file_run;

/* ---- Output -------------------------------------------------------------- */

/* Export names may hold any bytes; print them escaped. */
static void format_name(const char *name, size_t length, char *buf, size_t len) {
  size_t at = 0;
  for (size_t i = 0; i < length && at + 5 < len; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c >= 0x20 && c < 0x7f && c != '\\')
      buf[at++] = (char)c;
    else
      at += (size_t)snprintf(buf + at, len - at, "\\x%02x", c);
  }
  buf[at < len ? at : len - 1] = '\0';
}

static void command_label(const wp_spec_command *cmd, char *buf, size_t len) {
  if (cmd->has_action) {
    char field[256];
    format_name(cmd->field, cmd->field_length, field, sizeof field);
    snprintf(buf, len, "%s %s \"%s\"", wp_spec_kind_name(cmd->kind),
             cmd->action_is_get ? "get" : "invoke", field);
  } else if (cmd->filename != NULL) {
    snprintf(buf, len, "%s %s", wp_spec_kind_name(cmd->kind), cmd->filename);
  } else {
    snprintf(buf, len, "%s", wp_spec_kind_name(cmd->kind));
  }
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
fail(file_run *fr, const wp_spec_command *cmd, const char *fmt, ...) {
  char label[320], detail[2048];
  command_label(cmd, label, sizeof label);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  /* Compiler output in an error is multi-line; keep one line per failure. */
  for (char *c = detail; *c; c++) {
    if (*c == '\n' || *c == '\r')
      *c = ' ';
  }
  if (!fr->quiet)
    fprintf(fr->out, "FAIL %s:%d %s: %s\n", fr->file, cmd->line, label, detail);
  wp_spec_report_fail(fr->report);
}

static int skip(file_run *fr, const wp_spec_command *cmd, const char *reason, const char *detail) {
  if (fr->opts->verbose && !fr->quiet) {
    char label[320];
    command_label(cmd, label, sizeof label);
    fprintf(fr->out, "SKIP %s:%d %s: %s%s%s\n", fr->file, cmd->line, label, reason,
            detail && detail[0] ? ": " : "", detail ? detail : "");
  }
  return wp_spec_report_skip(fr->report, reason);
}

static void pass(file_run *fr) {
  wp_spec_report_pass(fr->report);
}

/* The engine refused a feature (SIMD on the 1.0.32 engine, ...). Skipped
 * with the message's head as the grouped reason ("SIMD is not supported"),
 * unless --strict asks for 0 skips. */
static bool is_unsupported(int rc) {
  return rc == WP_EUNSUPPORTED;
}

static void unsupported_reason(const wp_error *err, char *buf, size_t len) {
  const char *message = err->message[0] ? err->message : wp_strerror(WP_EUNSUPPORTED);
  const char *paren = strstr(message, " (");
  int n = paren ? (int)(paren - message) : (int)strlen(message);
  snprintf(buf, len, "unsupported_module: %.*s", n, message);
}

/* Counts a refused module: a skip, or with --strict a failure. */
static void refused(file_run *fr, const wp_spec_command *cmd, const wp_error *err) {
  char reason[160];
  unsupported_reason(err, reason, sizeof reason);
  if (fr->opts->strict)
    fail(fr, cmd, "%s (--strict)", err->message);
  else
    skip(fr, cmd, reason, err->message);
}

static const char *err_text(const wp_error *err) {
  return err->message[0] ? err->message : wp_strerror(err->code);
}

/* ---- Records ------------------------------------------------------------- */

static void record_free_instance(record *rec) {
  if (rec->instance != NULL) {
    wp_instance_destroy(rec->instance);
    rec->instance = NULL;
  }
  if (rec->module != NULL) {
    wp_module_release(rec->module);
    rec->module = NULL;
  }
}

static record *record_new(file_run *fr, const wp_spec_command *cmd) {
  if (fr->record_count == fr->record_capacity) {
    size_t capacity = fr->record_capacity ? fr->record_capacity * 2 : 16;
    record **grown = realloc(fr->records, capacity * sizeof *grown);
    if (grown == NULL)
      return NULL;
    fr->records = grown;
    fr->record_capacity = capacity;
  }
  record *rec = calloc(1, sizeof *rec);
  if (rec == NULL)
    return NULL;
  if (cmd->name != NULL && (rec->name = strdup(cmd->name)) == NULL) {
    free(rec);
    return NULL;
  }
  rec->line = cmd->line;
  fr->records[fr->record_count++] = rec;
  fr->current = rec;
  return rec;
}

/* The record an action or register names, or the current one. NULL with a
 * failure counted when there is none. */
static record *record_find(file_run *fr, const wp_spec_command *cmd, const char *name) {
  if (name == NULL) {
    if (fr->current == NULL)
      fail(fr, cmd, "no module has been instantiated");
    return fr->current;
  }
  for (size_t i = fr->record_count; i-- > 0;) {
    record *rec = fr->records[i];
    if (rec->name != NULL && strcmp(rec->name, name) == 0)
      return rec;
  }
  fail(fr, cmd, "no module named %s", name);
  return NULL;
}

/* Whether commands may use rec; if not, counts the command as skipped
 * (SIMD) or failed (broken module). */
static bool record_usable(file_run *fr, const wp_spec_command *cmd, record *rec) {
  switch (rec->state) {
  case RECORD_READY:
    if (rec->instance != NULL)
      return true;
    fail(fr, cmd, "the module at line %d has no instance", rec->line);
    return false;
  case RECORD_SKIPPED: {
    char detail[64];
    snprintf(detail, sizeof detail, "uses the module at line %d", rec->line);
    if (fr->opts->strict)
      fail(fr, cmd, "the module at line %d was refused: %s", rec->line, rec->why);
    else
      skip(fr, cmd, rec->reason, detail);
    return false;
  }
  case RECORD_BROKEN:
    fail(fr, cmd, "the module at line %d did not instantiate: %s", rec->line, rec->why);
    return false;
  }
  return false;
}

static int retire(file_run *fr, wp_instance *inst) {
  if (fr->retired_count == fr->retired_capacity) {
    size_t capacity = fr->retired_capacity ? fr->retired_capacity * 2 : 4;
    wp_instance **grown = realloc(fr->retired, capacity * sizeof *grown);
    if (grown == NULL)
      return WP_ENOMEM;
    fr->retired = grown;
    fr->retired_capacity = capacity;
  }
  fr->retired[fr->retired_count++] = inst;
  return 0;
}

/* ---- Loading ------------------------------------------------------------- */

static int load_module(file_run *fr, const char *filename, wp_module **out, wp_error *err) {
  char path[8192];
  snprintf(path, sizeof path, "%s/%s", fr->dir, filename);
  uint8_t *bytes;
  size_t length;
  memset(err, 0, sizeof *err);
  int rc = wp_spec_read_file(path, &bytes, &length);
  if (rc != 0) {
    err->code = rc;
    snprintf(err->message, sizeof err->message, "cannot read %.400s", path);
    return rc;
  }
  wp_module_options options = {.allow_spectest = true,
                               .linker = fr->linker,
                               .disabled_features = fr->profile->disabled_features,
                               .tier = fr->opts->tier};
  rc = wp_module_load(fr->opts->runtime, bytes, length, &options, out, err);
  free(bytes);
  if (rc == 0) {
    fr->stats->modules_loaded++;
    if (wp_module_cache_hit(*out))
      fr->stats->cache_hits++;
  } else if (err->code == 0) {
    err->code = rc;
  }
  return rc;
}

static int instantiate(file_run *fr, wp_module *mod, wp_instance **out, wp_error *err) {
  wp_instance_options options = {
      .wasi = NULL, .linker = fr->linker, .deadline_ms = fr->opts->call_deadline_ms};
  memset(err, 0, sizeof *err);
  int rc = wp_instance_create(fr->opts->runtime, mod, &options, out, err);
  if (rc != 0 && err->code == 0)
    err->code = rc;
  return rc;
}

static void run_module(file_run *fr, const wp_spec_command *cmd) {
  record *rec = record_new(fr, cmd);
  if (rec == NULL) {
    fail(fr, cmd, "out of memory");
    return;
  }
  wp_error err;
  int rc = load_module(fr, cmd->filename, &rec->module, &err);
  if (rc != 0) {
    snprintf(rec->why, sizeof rec->why, "%s: %s", wp_err_name(rc), err_text(&err));
    if (is_unsupported(rc)) {
      rec->state = RECORD_SKIPPED;
      unsupported_reason(&err, rec->reason, sizeof rec->reason);
      refused(fr, cmd, &err);
      return;
    }
    rec->state = RECORD_BROKEN;
    fail(fr, cmd, "load failed: %s", rec->why);
    return;
  }
  rc = instantiate(fr, rec->module, &rec->instance, &err);
  if (rc != 0) {
    snprintf(rec->why, sizeof rec->why, "%s: %s", wp_err_name(rc), err_text(&err));
    rec->state = RECORD_BROKEN;
    fail(fr, cmd, "instantiation failed: %s", rec->why);
    return;
  }
  rec->state = RECORD_READY;
  pass(fr);
}

static void run_register(file_run *fr, const wp_spec_command *cmd) {
  record *rec = record_find(fr, cmd, cmd->name);
  if (rec == NULL || !record_usable(fr, cmd, rec))
    return;
  int rc = wp_linker_register(fr->linker, cmd->as, rec->instance);
  if (rc != 0) {
    fail(fr, cmd, "wp_linker_register(\"%s\") failed: %s", cmd->as, wp_err_name(rc));
    return;
  }
  if (!rec->registered) {
    rec->registered = true;
    fr->registered_count++;
  }
  pass(fr);
}

/* ---- Actions ------------------------------------------------------------- */

#define MAX_RESULTS 64

typedef struct outcome {
  int rc;
  wp_error err;
  wp_val results[MAX_RESULTS];
  size_t result_count;
} outcome;

static void format_results(const outcome *out, char *buf, size_t len) {
  size_t at = 0;
  buf[0] = '\0';
  if (out->result_count == 0)
    snprintf(buf, len, "no results");
  for (size_t i = 0; i < out->result_count && at < len; i++) {
    char one[96];
    wp_spec_val_format(&out->results[i], one, sizeof one);
    at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "", one);
  }
}

static void format_outcome(const outcome *out, char *buf, size_t len) {
  if (out->rc == 0) {
    format_results(out, buf, len);
    return;
  }
  snprintf(buf, len, "%s (%s)", wp_err_name(out->rc), err_text(&out->err));
}

/* Replaces an instance the API says must be destroyed. */
static void replace_poisoned(file_run *fr, const wp_spec_command *cmd, record *rec) {
  if (rec->instance == NULL || !wp_instance_poisoned(rec->instance))
    return;
  fr->stats->reinstantiated++;
  if (rec->registered) {
    /* The linker still refers to it; keep it alive, unused, until the end. */
    if (retire(fr, rec->instance) != 0)
      wp_instance_destroy(rec->instance);
  } else {
    wp_instance_destroy(rec->instance);
  }
  rec->instance = NULL;
  wp_error err;
  int rc = instantiate(fr, rec->module, &rec->instance, &err);
  if (rc != 0) {
    rec->state = RECORD_BROKEN;
    snprintf(rec->why, sizeof rec->why, "re-instantiation after line %d failed: %s: %s", cmd->line,
             wp_err_name(rc), err_text(&err));
  }
}

/* Performs the action of cmd. Returns 0 when it could be attempted (the
 * outcome, trap or not, is in *out); otherwise the command has already been
 * counted (skip or failure) and the caller must not count it again. */
static int perform(file_run *fr, const wp_spec_command *cmd, outcome *out) {
  memset(out, 0, sizeof *out);
  record *rec = record_find(fr, cmd, cmd->action_module);
  if (rec == NULL || !record_usable(fr, cmd, rec))
    return -1;

  char why[256];
  if (cmd->action_is_get) {
    out->rc = wp_instance_get_global(rec->instance, cmd->field, cmd->field_length, &out->results[0],
                                     &out->err);
    out->result_count = out->rc == 0 ? 1 : 0;
    return 0;
  }

  const wp_export_info *info =
      wp_module_find_export(wp_instance_module(rec->instance), cmd->field, cmd->field_length);
  if (info == NULL || info->kind != WP_EXTERN_FUNC) {
    fail(fr, cmd, info == NULL ? "no such export" : "export is not a function");
    return -1;
  }
  if (info->result_count > MAX_RESULTS) {
    fail(fr, cmd, "%" PRIu32 " results: the runner handles at most %d", info->result_count,
         MAX_RESULTS);
    return -1;
  }
  size_t arg_count = json_array_size(cmd->args);
  wp_val *args = calloc(arg_count ? arg_count : 1, sizeof *args);
  if (args == NULL) {
    fail(fr, cmd, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < arg_count; i++) {
    int rc = wp_spec_value_parse(json_array_get(cmd->args, i), &args[i], why, sizeof why);
    if (rc != 0) {
      free(args);
      fail(fr, cmd, "argument %zu: %s", i, why);
      return -1;
    }
  }
  wp_call_options call = {.deadline_ms = fr->opts->call_deadline_ms};
  out->rc = wp_instance_call(rec->instance, cmd->field, cmd->field_length, args, arg_count,
                             out->results, info->result_count, &call, &out->err);
  free(args);
  out->result_count = out->rc == 0 ? info->result_count : 0;
  replace_poisoned(fr, cmd, rec);
  return 0;
}

static void run_action(file_run *fr, const wp_spec_command *cmd) {
  outcome out;
  if (perform(fr, cmd, &out) != 0)
    return;
  if (out.rc != 0) {
    fail(fr, cmd, "expected success, got %s (%s)", wp_err_name(out.rc), err_text(&out.err));
    return;
  }
  pass(fr);
}

static void run_assert_return(file_run *fr, const wp_spec_command *cmd) {
  /* Expectations first: a malformed one fails before any call. */
  size_t expected_count = json_array_size(cmd->expected);
  char why[256];
  if (expected_count > MAX_RESULTS) {
    fail(fr, cmd, "%zu expected results: the runner handles at most %d", expected_count,
         MAX_RESULTS);
    return;
  }
  wp_spec_result *expected = calloc(expected_count ? expected_count : 1, sizeof *expected);
  if (expected == NULL) {
    fail(fr, cmd, "out of memory");
    return;
  }
  for (size_t i = 0; i < expected_count; i++) {
    if (wp_spec_result_parse(json_array_get(cmd->expected, i), &expected[i], why, sizeof why) !=
        0) {
      fail(fr, cmd, "expected result %zu: %s", i, why);
      free(expected);
      return;
    }
  }

  outcome out;
  if (perform(fr, cmd, &out) != 0) {
    free(expected);
    return;
  }
  char got[1024], want[1024];
  if (out.rc != 0) {
    format_outcome(&out, got, sizeof got);
    fail(fr, cmd, "expected results, got %s", got);
  } else if (out.result_count != expected_count) {
    format_results(&out, got, sizeof got);
    fail(fr, cmd, "expected %zu results, got %zu: %s", expected_count, out.result_count, got);
  } else {
    for (size_t i = 0; i < expected_count; i++) {
      if (!wp_spec_result_matches(&expected[i], &out.results[i])) {
        wp_spec_result_format(&expected[i], want, sizeof want);
        /* A v128 printed in the expected value's lane shape. */
        wp_spec_val_format_lanes(&out.results[i], expected[i].options[0].lane, got, sizeof got);
        fail(fr, cmd, "result %zu: expected %s, got %s", i, want, got);
        free(expected);
        return;
      }
    }
    pass(fr);
  }
  free(expected);
}

/* assert_exception: the call must end in a Wasm exception that no handler
 * caught (the API reports it as trap_uncaught_exception). */
static void run_assert_exception(file_run *fr, const wp_spec_command *cmd) {
  outcome out;
  if (perform(fr, cmd, &out) != 0)
    return;
  if (out.rc != WP_ETRAP_EXCEPTION) {
    char got[1024];
    format_outcome(&out, got, sizeof got);
    fail(fr, cmd, "expected an uncaught exception, got %s", got);
    return;
  }
  pass(fr);
}

/* Whether rc is a trap the message text accepts. Unknown messages accept
 * any trap (none occur in the suite; the verbose mode would show them). */
static bool trap_matches(const char *text, int rc) {
  int codes[4];
  size_t n = wp_spec_trap_codes(text, codes);
  if (n == 0)
    return wp_spec_is_trap_code(rc);
  for (size_t i = 0; i < n; i++) {
    if (codes[i] == rc)
      return true;
  }
  return false;
}

static void run_assert_trap(file_run *fr, const wp_spec_command *cmd, int wanted_code) {
  outcome out;
  if (perform(fr, cmd, &out) != 0)
    return;
  char got[1024];
  format_outcome(&out, got, sizeof got);
  bool ok = wanted_code != 0 ? out.rc == wanted_code : trap_matches(cmd->text, out.rc);
  if (!ok) {
    fail(fr, cmd, "expected trap \"%s\", got %s", cmd->text, got);
    return;
  }
  pass(fr);
}

/* ---- Module assertions --------------------------------------------------- */

/* A text module (wast2json writes it as .wat): the assertion is about the
 * text format, which wasmpool never parses, so it is checked against the
 * text parser of the toolchain, wat2wasm, which must reject it. */
static void run_text_module(file_run *fr, const wp_spec_command *cmd) {
  char path[8192];
  snprintf(path, sizeof path, "%s/%s", fr->dir, cmd->filename);
  wp_spec_tool wat2wasm;
  const char *argv[16];
  if (wp_spec_tool_init(&wat2wasm, fr->opts->toolroot, "wat2wasm") != 0) {
    fail(fr, cmd, "tool root path too long");
    return;
  }
  wp_spec_tool_argv(&wat2wasm, argv);
  size_t n = 4;
  for (size_t i = 0; fr->profile->flags[i] != NULL; i++)
    argv[n++] = fr->profile->flags[i];
  argv[n++] = "--output=/dev/null";
  argv[n++] = path;
  argv[n] = NULL;
  int status;
  if (wp_spec_spawn(argv, NULL, &status) != 0) {
    fail(fr, cmd, "cannot run %s", wat2wasm.program);
    return;
  }
  if (status == 0) {
    skip(fr, cmd, TEXT_ACCEPTED_REASON, cmd->text);
    return;
  }
  if (status >= 128) {
    skip(fr, cmd, TEXT_CRASH_REASON, cmd->text);
    return;
  }
  fr->stats->text_checked++;
  pass(fr);
}

static void run_assert_invalid(file_run *fr, const wp_spec_command *cmd) {
  if (cmd->kind == WP_SPEC_ASSERT_INVALID &&
      wp_spec_profile_unenforceable(fr->profile, cmd->text)) {
    skip(fr, cmd, fr->profile->unenforceable_reason, cmd->text);
    return;
  }
  if (cmd->text_module) {
    run_text_module(fr, cmd);
    return;
  }
  wp_module *mod = NULL;
  wp_error err;
  int rc = load_module(fr, cmd->filename, &mod, &err);
  if (rc == 0) {
    wp_module_release(mod);
    fail(fr, cmd, "module loaded; expected it to be refused (\"%s\")", cmd->text);
    return;
  }
  if (is_unsupported(rc)) {
    refused(fr, cmd, &err);
    return;
  }
  if (rc != WP_EMALFORMED && rc != WP_EINVALID_MODULE) {
    fail(fr, cmd, "expected malformed_module or invalid_module (\"%s\"), got %s: %s", cmd->text,
         wp_err_name(rc), err_text(&err));
    return;
  }
  pass(fr);
}

static void run_assert_unlinkable(file_run *fr, const wp_spec_command *cmd) {
  wp_module *mod = NULL;
  wp_error err;
  int rc = load_module(fr, cmd->filename, &mod, &err);
  if (rc == 0) {
    wp_instance *inst = NULL;
    rc = instantiate(fr, mod, &inst, &err);
    if (inst != NULL && rc == 0)
      wp_instance_destroy(inst);
    wp_module_release(mod);
  }
  if (rc == WP_EUNLINKABLE) {
    pass(fr);
    return;
  }
  if (is_unsupported(rc)) {
    refused(fr, cmd, &err);
    return;
  }
  if (rc == 0)
    fail(fr, cmd, "module linked and instantiated; expected unlinkable (\"%s\")", cmd->text);
  else
    fail(fr, cmd, "expected unlinkable_module (\"%s\"), got %s: %s", cmd->text, wp_err_name(rc),
         err_text(&err));
}

static void run_assert_uninstantiable(file_run *fr, const wp_spec_command *cmd) {
  wp_module *mod = NULL;
  wp_error err;
  int rc = load_module(fr, cmd->filename, &mod, &err);
  if (rc != 0) {
    if (is_unsupported(rc)) {
      refused(fr, cmd, &err);
      return;
    }
    fail(fr, cmd,
         "expected the module to load and its instantiation to trap (\"%s\"), load "
         "failed: %s: %s",
         cmd->text, wp_err_name(rc), err_text(&err));
    return;
  }
  wp_instance *inst = NULL;
  rc = instantiate(fr, mod, &inst, &err);
  if (rc == 0) {
    wp_instance_destroy(inst);
    wp_module_release(mod);
    fail(fr, cmd, "instantiation succeeded; expected \"%s\"", cmd->text);
    return;
  }
  wp_module_release(mod);
  if (rc != WP_EUNINSTANTIABLE && !trap_matches(cmd->text, rc)) {
    fail(fr, cmd, "expected trap \"%s\" at instantiation, got %s: %s", cmd->text, wp_err_name(rc),
         err_text(&err));
    return;
  }
  pass(fr);
}

/* ---- The file ------------------------------------------------------------ */

static void run_command(file_run *fr, const wp_spec_command *cmd) {
  switch (cmd->kind) {
  case WP_SPEC_MODULE: run_module(fr, cmd); return;
  case WP_SPEC_REGISTER: run_register(fr, cmd); return;
  case WP_SPEC_ACTION: run_action(fr, cmd); return;
  case WP_SPEC_ASSERT_RETURN: run_assert_return(fr, cmd); return;
  case WP_SPEC_ASSERT_TRAP: run_assert_trap(fr, cmd, 0); return;
  case WP_SPEC_ASSERT_EXHAUSTION: run_assert_trap(fr, cmd, WP_ETRAP_STACK); return;
  case WP_SPEC_ASSERT_INVALID:
  case WP_SPEC_ASSERT_MALFORMED: run_assert_invalid(fr, cmd); return;
  case WP_SPEC_ASSERT_UNLINKABLE: run_assert_unlinkable(fr, cmd); return;
  case WP_SPEC_ASSERT_UNINSTANTIABLE: run_assert_uninstantiable(fr, cmd); return;
  case WP_SPEC_ASSERT_EXCEPTION: run_assert_exception(fr, cmd); return;
  case WP_SPEC_UNKNOWN: break;
  }
  fail(fr, cmd, "unknown command");
}

/* Length of a file name without its extension ("data.wast" -> 4). */
static int stem_length(const char *file) {
  const char *dot = strrchr(file, '.');
  return (int)(dot ? (size_t)(dot - file) : strlen(file));
}

/* Runs wast2json into fr->dir and loads its JSON. NULL (failure counted)
 * when either step fails. */
static json_t *convert(file_run *fr, const char *wast_path) {
  char json_path[8192], err_path[8192];
  /* wast2json names module files after the JSON: data.json -> data.3.wasm. */
  snprintf(json_path, sizeof json_path, "%s/%.*s.json", fr->dir, stem_length(fr->file), fr->file);
  snprintf(err_path, sizeof err_path, "%s/wast2json.stderr", fr->dir);
  wp_spec_tool wast2json;
  const char *argv[16];
  wp_spec_command whole = {.kind = WP_SPEC_UNKNOWN, .line = 0};
  if (wp_spec_tool_init(&wast2json, fr->opts->toolroot, "wast2json") != 0) {
    fail(fr, &whole, "tool root path too long");
    return NULL;
  }
  wp_spec_tool_argv(&wast2json, argv);
  size_t n = 4;
  for (size_t i = 0; fr->profile->flags[i] != NULL; i++)
    argv[n++] = fr->profile->flags[i];
  argv[n++] = wast_path;
  argv[n++] = "-o";
  argv[n++] = json_path;
  argv[n] = NULL;
  int status;
  if (wp_spec_spawn(argv, err_path, &status) != 0) {
    fail(fr, &whole, "cannot run %s through %s", wast2json.program, wast2json.loader);
    return NULL;
  }
  if (status != 0) {
    char message[1024] = "";
    FILE *f = fopen(err_path, "r");
    if (f != NULL) {
      size_t n = fread(message, 1, sizeof message - 1, f);
      message[n] = '\0';
      fclose(f);
    }
    fail(fr, &whole, "wast2json %s exited with %d: %s", fr->profile->name, status, message);
    return NULL;
  }
  json_error_t jerr;
  /* JSON_ALLOW_NUL: export names in the suite may contain U+0000. */
  json_t *root = json_load_file(json_path, JSON_ALLOW_NUL, &jerr);
  if (root == NULL) {
    fail(fr, &whole, "bad JSON from wast2json: %s at line %d", jerr.text, jerr.line);
    return NULL;
  }
  return root;
}

static void file_run_cleanup(file_run *fr) {
  /* The linker refers to instances, and importers to their exporters:
   * linker first, then instances newest first. */
  if (fr->linker != NULL)
    wp_linker_destroy(fr->linker);
  for (size_t i = fr->record_count; i-- > 0;) {
    record_free_instance(fr->records[i]);
    free(fr->records[i]->name);
    free(fr->records[i]);
  }
  for (size_t i = fr->retired_count; i-- > 0;)
    wp_instance_destroy(fr->retired[i]);
  free(fr->retired);
  free(fr->records);
}

static bool crashed_before(const wp_spec_run_options *opts, size_t index) {
  for (size_t i = 0; i < opts->crashed_count; i++) {
    if (opts->crashed[i] == index)
      return true;
  }
  return false;
}

/* A command that crashed an earlier child: counted as failed (main.c has
 * printed it) without running it again. A module that crashed leaves a
 * broken record, so the commands that would have used it fail too instead of
 * running against the previous module. */
static void run_crashed(file_run *fr, const wp_spec_command *cmd) {
  wp_spec_report_fail(fr->report);
  if (cmd->kind != WP_SPEC_MODULE)
    return;
  record *rec = record_new(fr, cmd);
  if (rec != NULL) {
    rec->state = RECORD_BROKEN;
    snprintf(rec->why, sizeof rec->why, "%s", CRASHED_REASON);
  }
}

int wp_spec_run_file(const wp_spec_run_options *opts, const char *wast_path, wp_spec_report *report,
                     wp_spec_file_stats *stats) {
  file_run fr = {.opts = opts, .report = report, .stats = stats, .out = opts->out};
  memset(stats, 0, sizeof *stats);
  const char *slash = strrchr(wast_path, '/');
  fr.file = slash ? slash + 1 : wast_path;
  wp_spec_command whole = {.kind = WP_SPEC_UNKNOWN, .line = 0};

  fr.profile = opts->profile ? opts->profile : wp_spec_profile_for_path(wast_path);
  if (fr.profile == NULL) {
    fail(&fr, &whole,
         "no feature profile for the directory of %s (a proposal wasmpool-spec does "
         "not know; see docs/SPEC.md)",
         wast_path);
    return 0;
  }
  if (wp_spec_tempdir_create(fr.dir, sizeof fr.dir) != 0) {
    fail(&fr, &whole, "cannot create a temp directory");
    return 0;
  }
  if (opts->progress != NULL)
    snprintf(opts->progress->tempdir, sizeof opts->progress->tempdir, "%s", fr.dir);
  FILE *devnull = fopen("/dev/null", "w");
  int rc = wp_linker_create(&fr.linker);
  if (rc != 0) {
    fail(&fr, &whole, "wp_linker_create failed: %s", wp_err_name(rc));
    fr.linker = NULL;
  }
  json_t *root = fr.linker ? convert(&fr, wast_path) : NULL;
  json_t *commands = root ? json_object_get(root, "commands") : NULL;
  if (root != NULL && !json_is_array(commands))
    fail(&fr, &whole, "wast2json output has no \"commands\" array");

  size_t i;
  json_t *item;
  json_array_foreach(commands, i, item) {
    wp_spec_command cmd;
    char why[256];
    /* Commands an earlier child already printed run again quietly. */
    fr.quiet = i < opts->quiet_before && devnull != NULL;
    fr.out = fr.quiet ? devnull : opts->out;
    if (wp_spec_command_parse(item, &cmd, why, sizeof why) != 0) {
      fail(&fr, &cmd, "bad command #%zu: %s", i, why);
      continue;
    }
    if (opts->progress != NULL) {
      opts->progress->command = i;
      opts->progress->line = cmd.line;
      command_label(&cmd, opts->progress->label, sizeof opts->progress->label);
    }
    if (opts->trace && !fr.quiet) {
      char label[320];
      command_label(&cmd, label, sizeof label);
      fprintf(opts->out, "RUN %s:%d %s\n", fr.file, cmd.line, label);
      fflush(opts->out);
    }
    if (crashed_before(opts, i)) {
      run_crashed(&fr, &cmd);
      continue;
    }
    if (opts->crash_at_line != 0 && cmd.line == opts->crash_at_line)
      abort(); /* --crash-at-line: a stand-in for a runtime crash */
    run_command(&fr, &cmd);
  }
  fr.out = opts->out;
  if (opts->progress != NULL)
    opts->progress->command = SIZE_MAX;
  json_decref(root);
  file_run_cleanup(&fr);
  if (devnull != NULL)
    fclose(devnull);
  if (opts->keep_temp)
    fprintf(opts->out, "kept %s\n", fr.dir);
  else
    wp_spec_tempdir_remove(fr.dir);
  if (opts->progress != NULL)
    opts->progress->tempdir[0] = '\0';
  return 0;
}
