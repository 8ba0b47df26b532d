/* bench_mix.c — mix documents (JSON) and the weighted choice of an entry.
 *
 * The parser is strict: an unknown key or a wrong type is an error naming the
 * entry and the key, because a typo in a load test's mix silently changes
 * what is measured.
 */
#include "bench_mix.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "wp_errno.h"

static const char *const kind_names[WP_BENCH_KIND_COUNT] = {"call", "run", "instantiate",
                                                            "instance_call"};

const char *wp_bench_kind_name(wp_bench_kind kind) {
  return (unsigned)kind < WP_BENCH_KIND_COUNT ? kind_names[kind] : "unknown";
}

static int fail(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t why_len, const char *fmt, ...) {
  if (why != NULL && why_len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
  }
  return WP_EINVAL;
}

void wp_bench_entry_free(wp_bench_entry *entry) {
  free(entry->name);
  free(entry->module);
  free(entry->export_name);
  json_decref(entry->args);
  free(entry->body);
  memset(entry, 0, sizeof(*entry));
}

void wp_bench_mix_destroy(wp_bench_mix *mix) {
  if (mix == NULL)
    return;
  for (size_t i = 0; i < mix->count; i++)
    wp_bench_entry_free(&mix->entries[i]);
  free(mix->entries);
  free(mix->cumulative);
  free(mix);
}

static int mix_alloc(size_t count, wp_bench_mix **out) {
  wp_bench_mix *mix = calloc(1, sizeof(*mix));
  if (mix == NULL)
    return WP_ENOMEM;
  mix->entries = calloc(count, sizeof(*mix->entries));
  mix->cumulative = calloc(count, sizeof(*mix->cumulative));
  if (mix->entries == NULL || mix->cumulative == NULL) {
    wp_bench_mix_destroy(mix);
    return WP_ENOMEM;
  }
  *out = mix;
  return 0;
}

static void mix_finish(wp_bench_mix *mix) {
  double sum = 0;
  for (size_t i = 0; i < mix->count; i++) {
    sum += mix->entries[i].weight;
    mix->cumulative[i] = sum;
  }
}

static char *default_label(const wp_bench_entry *e) {
  size_t len = strlen(e->module) + (e->export_name ? strlen(e->export_name) : 0) + 32;
  char *label = malloc(len);
  if (label == NULL)
    return NULL;
  if (e->export_name != NULL)
    snprintf(label, len, "%s %s/%s", wp_bench_kind_name(e->kind), e->module, e->export_name);
  else
    snprintf(label, len, "%s %s", wp_bench_kind_name(e->kind), e->module);
  return label;
}

int wp_bench_mix_single(wp_bench_entry *entry, wp_bench_mix **out) {
  *out = NULL;
  wp_bench_mix *mix;
  int rc = mix_alloc(1, &mix);
  if (rc < 0)
    return rc;
  mix->entries[0] = *entry;
  memset(entry, 0, sizeof(*entry));
  mix->count = 1;
  wp_bench_entry *e = &mix->entries[0];
  if (e->weight <= 0)
    e->weight = 1;
  if (e->name == NULL && (e->name = default_label(e)) == NULL) {
    wp_bench_mix_destroy(mix);
    return WP_ENOMEM;
  }
  mix_finish(mix);
  *out = mix;
  return 0;
}

static bool parse_kind(const char *text, wp_bench_kind *kind) {
  for (int i = 0; i < WP_BENCH_KIND_COUNT; i++) {
    if (strcmp(text, kind_names[i]) == 0) {
      *kind = (wp_bench_kind)i;
      return true;
    }
  }
  if (strcmp(text, "instance-call") == 0) {
    *kind = WP_BENCH_INSTANCE_CALL;
    return true;
  }
  return false;
}

/* run's argv: strings, or numbers written as the CLI would. */
static int run_args(json_t *array, json_t **out, size_t index, char *why, size_t why_len) {
  json_t *strings = json_array();
  if (strings == NULL)
    return WP_ENOMEM;
  size_t i;
  json_t *value;
  json_array_foreach(array, i, value) {
    json_t *text = NULL;
    if (json_is_string(value)) {
      text = json_stringn(json_string_value(value), json_string_length(value));
    } else if (json_is_integer(value)) {
      char buf[32];
      snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(value));
      text = json_string(buf);
    } else if (json_is_real(value)) {
      char buf[64];
      snprintf(buf, sizeof(buf), "%.17g", json_real_value(value));
      text = json_string(buf);
    } else {
      json_decref(strings);
      return fail(why, why_len,
                  "requests[%zu].args[%zu]: a run argument must be a string or number", index, i);
    }
    if (text == NULL || json_array_append_new(strings, text) < 0) {
      json_decref(strings);
      return WP_ENOMEM;
    }
  }
  *out = strings;
  return 0;
}

static char *dup_string(json_t *value) {
  return strndup(json_string_value(value), json_string_length(value));
}

static int parse_entry(json_t *obj, size_t index, wp_bench_entry *e, char *why, size_t why_len) {
  if (!json_is_object(obj))
    return fail(why, why_len, "requests[%zu]: must be an object", index);
  e->weight = 1;
  json_t *kind = json_object_get(obj, "kind");
  if (!json_is_string(kind) || !parse_kind(json_string_value(kind), &e->kind))
    return fail(why, why_len,
                "requests[%zu].kind: must be one of call, run, instantiate, instance_call", index);
  const char *key;
  json_t *value;
  json_object_foreach(obj, key, value) {
    if (strcmp(key, "kind") == 0)
      continue;
    if (strcmp(key, "weight") == 0) {
      if (!json_is_number(value) || !(json_number_value(value) > 0) ||
          json_number_value(value) > 1e9)
        return fail(why, why_len, "requests[%zu].weight: must be a number in (0, 1e9]", index);
      e->weight = json_number_value(value);
    } else if (strcmp(key, "name") == 0) {
      if (!json_is_string(value))
        return fail(why, why_len, "requests[%zu].name: must be a string", index);
      if ((e->name = dup_string(value)) == NULL)
        return WP_ENOMEM;
    } else if (strcmp(key, "module") == 0) {
      if (!json_is_string(value) ||
          !wp_name_valid(json_string_value(value), json_string_length(value)))
        return fail(why, why_len,
                    "requests[%zu].module: must be a module name (1..128 of [A-Za-z0-9._-])",
                    index);
      if ((e->module = dup_string(value)) == NULL)
        return WP_ENOMEM;
    } else if (strcmp(key, "export") == 0) {
      if (!json_is_string(value) || memchr(json_string_value(value), 0, json_string_length(value)))
        return fail(why, why_len, "requests[%zu].export: must be a string without NUL", index);
      if ((e->export_name = dup_string(value)) == NULL)
        return WP_ENOMEM;
    } else if (strcmp(key, "args") == 0) {
      if (!json_is_array(value))
        return fail(why, why_len, "requests[%zu].args: must be an array", index);
      json_incref(value);
      e->args = value;
    } else if (strcmp(key, "body") == 0) {
      if (!json_is_string(value))
        return fail(why, why_len, "requests[%zu].body: must be a string", index);
      e->body_len = json_string_length(value);
      if ((e->body = malloc(e->body_len + 1)) == NULL)
        return WP_ENOMEM;
      memcpy(e->body, json_string_value(value), e->body_len + 1);
    } else if (strcmp(key, "expect") == 0) {
      if (!json_is_integer(value) || json_integer_value(value) < 100 ||
          json_integer_value(value) > 599)
        return fail(why, why_len, "requests[%zu].expect: must be an HTTP status 100..599", index);
      e->expect_status = (int)json_integer_value(value);
    } else if (strcmp(key, "deadline_ms") == 0) {
      if (!json_is_integer(value) || json_integer_value(value) < 1 ||
          json_integer_value(value) > 86400000)
        return fail(why, why_len, "requests[%zu].deadline_ms: must be an integer 1..86400000",
                    index);
      e->deadline_ms = (unsigned)json_integer_value(value);
    } else {
      return fail(why, why_len,
                  "requests[%zu]: unknown key \"%s\" (known: kind, weight, name, module, export, "
                  "args, body, expect, deadline_ms)",
                  index, key);
    }
  }
  if (e->module == NULL)
    return fail(why, why_len, "requests[%zu].module: missing", index);
  bool is_call = e->kind == WP_BENCH_CALL || e->kind == WP_BENCH_INSTANCE_CALL;
  if (is_call && e->export_name == NULL)
    return fail(why, why_len, "requests[%zu].export: missing (kind %s needs one)", index,
                wp_bench_kind_name(e->kind));
  if (!is_call && e->export_name != NULL)
    return fail(why, why_len, "requests[%zu].export: only call and instance_call take one", index);
  if (e->body != NULL && e->kind != WP_BENCH_RUN)
    return fail(why, why_len, "requests[%zu].body: only run takes a body", index);
  if (e->args != NULL && e->kind == WP_BENCH_INSTANTIATE)
    return fail(why, why_len, "requests[%zu].args: instantiate takes none", index);
  if (e->kind == WP_BENCH_RUN && e->args != NULL) {
    json_t *strings = NULL;
    int rc = run_args(e->args, &strings, index, why, why_len);
    if (rc < 0)
      return rc;
    json_decref(e->args);
    e->args = strings;
  }
  if (is_call && e->args == NULL && (e->args = json_array()) == NULL)
    return WP_ENOMEM;
  if (e->name == NULL && (e->name = default_label(e)) == NULL)
    return WP_ENOMEM;
  return 0;
}

int wp_bench_mix_parse(const char *text, size_t len, wp_bench_mix **out, char *why,
                       size_t why_len) {
  *out = NULL;
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
  if (root == NULL)
    return fail(why, why_len, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
  json_t *list = root;
  if (json_is_object(root)) {
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
      if (strcmp(key, "requests") != 0) {
        /* key lives in root: format the message before letting root go. */
        int rc = fail(why, why_len, "unknown top-level key \"%s\" (expected \"requests\")", key);
        json_decref(root);
        return rc;
      }
    }
    list = json_object_get(root, "requests");
  }
  if (!json_is_array(list)) {
    json_decref(root);
    return fail(why, why_len, "expected {\"requests\": [...]} or an array of entries");
  }
  size_t count = json_array_size(list);
  if (count == 0 || count > WP_BENCH_MIX_MAX_ENTRIES) {
    json_decref(root);
    return fail(why, why_len, "a mix needs 1..%d entries, this one has %zu",
                WP_BENCH_MIX_MAX_ENTRIES, count);
  }
  wp_bench_mix *mix;
  int rc = mix_alloc(count, &mix);
  if (rc < 0) {
    json_decref(root);
    return rc;
  }
  for (size_t i = 0; i < count; i++) {
    mix->count = i + 1;
    rc = parse_entry(json_array_get(list, i), i, &mix->entries[i], why, why_len);
    if (rc < 0) {
      wp_bench_mix_destroy(mix);
      json_decref(root);
      return rc;
    }
  }
  json_decref(root);
  mix_finish(mix);
  *out = mix;
  return 0;
}

int wp_bench_mix_load(const char *path, wp_bench_mix **out, char *why, size_t why_len) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return fail(why, why_len, "%s: %s", path, strerror(errno));
  char *text = malloc(WP_BENCH_MIX_MAX_FILE + 1);
  if (text == NULL) {
    fclose(f);
    return WP_ENOMEM;
  }
  size_t len = fread(text, 1, WP_BENCH_MIX_MAX_FILE + 1, f);
  bool bad = ferror(f);
  fclose(f);
  if (bad || len > WP_BENCH_MIX_MAX_FILE) {
    free(text);
    return fail(why, why_len, "%s: %s", path, bad ? "read error" : "larger than 1 MiB");
  }
  char inner[256];
  int rc = wp_bench_mix_parse(text, len, out, inner, sizeof(inner));
  free(text);
  if (rc == WP_EINVAL)
    return fail(why, why_len, "%s: %s", path, inner);
  return rc;
}

size_t wp_bench_mix_pick(const wp_bench_mix *mix, double u) {
  double target = u * mix->cumulative[mix->count - 1];
  size_t lo = 0, hi = mix->count - 1;
  /* First i with cumulative[i] > target. */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (mix->cumulative[mid] > target)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

bool wp_bench_mix_has_kind(const wp_bench_mix *mix, wp_bench_kind kind) {
  for (size_t i = 0; i < mix->count; i++)
    if (mix->entries[i].kind == kind)
      return true;
  return false;
}

uint64_t wp_bench_rng_next(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

double wp_bench_rng_unit(uint64_t *state) {
  return (double)(wp_bench_rng_next(state) >> 11) * 0x1.0p-53;
}
