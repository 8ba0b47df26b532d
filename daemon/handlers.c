/* handlers.c — one function per endpoint of docs/API.md.
 *
 * Each handler runs on the loop that read the request and either answers at
 * once (listings, stats, health, releasing an instance: all memory-only and
 * short) or looks up what the request names, then runs the rest as a work
 * part and a finish part. Compiling a deploy and the fsyncs of a delete
 * always go to the pool (wp_exchange_submit); guest code (calls, runs,
 * instantiation with its start function) goes through
 * wp_exchange_run_guest, which runs it on this loop when the module's recent
 * runs were short and on the pool otherwise; work never seen that starts
 * from a fresh instance (WP_GUEST_RESTARTABLE) is tried on the loop first,
 * so its work part must leave nothing behind when it fails: it may run
 * twice. The work part writes only into its own exchange (result_code,
 * error, json, extra); the finish part, on the loop, turns that into the
 * answer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "daemon.h"
#include "log.h"

/* ---- JSON descriptions --------------------------------------------------- */

static json_t *name_json(const char *name, size_t len) {
  wp_buf text;
  wp_buf_init(&text);
  json_t *s = wp_name_text(&text, name, len) == 0 ? json_stringn(text.data, text.len) : NULL;
  wp_buf_free(&text);
  return s;
}

static json_t *types_json(const wp_valtype *types, uint32_t count) {
  json_t *array = json_array();
  for (uint32_t i = 0; array && i < count; i++)
    json_array_append_new(array, json_string(wp_valtype_name(types[i])));
  return array;
}

static json_t *export_json(const wp_export_info *e) {
  static const char *const kinds[] = {"function", "table", "memory", "global"};
  json_t *obj = json_object();
  if (!obj)
    return NULL;
  json_object_set_new(obj, "name", name_json(e->name, e->name_length));
  json_object_set_new(obj, "kind", json_string(kinds[e->kind]));
  if (e->kind == WP_EXTERN_FUNC) {
    json_object_set_new(obj, "params", types_json(e->params, e->param_count));
    json_object_set_new(obj, "results", types_json(e->results, e->result_count));
  } else if (e->kind == WP_EXTERN_GLOBAL) {
    json_object_set_new(obj, "type", json_string(wp_valtype_name(e->global_type)));
    json_object_set_new(obj, "mutable", json_boolean(e->global_mutable));
  }
  return obj;
}

static json_t *u64_or_null(uint64_t v, uint64_t none) {
  return v == none ? json_null() : json_integer((json_int_t)v);
}

static json_t *module_summary_json(const wp_module_meta *meta) {
  return json_pack("{s:s,s:s,s:I,s:I,s:i,s:s}", "name", meta->name, "sha256", meta->sha256, "size",
                   (json_int_t)meta->wasm_bytes, "deployed_at_ms", (json_int_t)meta->deployed_at_ms,
                   "tier", meta->tier, "tier_up", wp_tierup_state_name(meta->tierup));
}

static json_t *module_json(wp_module *module, const wp_module_meta *meta) {
  json_t *obj = module_summary_json(meta);
  if (!obj)
    return NULL;
  json_object_set_new(obj, "cache_hit", json_boolean(meta->cache_hit));
  json_object_set_new(obj, "load_us", json_integer((json_int_t)meta->load_us));
  if (meta->tierup == WP_TIERUP_DONE)
    json_object_set_new(obj, "tier_up_us", json_integer((json_int_t)meta->tierup_us));
  json_t *exports = json_array();
  size_t n = wp_module_export_count(module);
  for (size_t i = 0; exports && i < n; i++) {
    const wp_export_info *e = wp_module_export(module, i);
    if (!e->hidden) /* a snapshot's init export is gone */
      json_array_append_new(exports, export_json(e));
  }
  json_object_set_new(obj, "exports", exports);
  wp_snapshot_info snap;
  json_object_set_new(obj, "snapshot",
                      wp_module_snapshot_info(module, &snap)
                          ? json_pack("{s:s,s:I,s:I,s:i,s:I,s:I}", "init", snap.init, "pages",
                                      (json_int_t)snap.pages, "bytes", (json_int_t)snap.bytes,
                                      "globals", (int)snap.globals, "took_us",
                                      (json_int_t)snap.took_us, "memory_bytes",
                                      (json_int_t)snap.memory_bytes)
                          : json_null());
  json_object_set_new(obj, "prewarm", json_integer((json_int_t)meta->prewarm));
  json_object_set_new(obj, "prewarmed", json_integer((json_int_t)meta->prewarmed));
  wp_module_limits lim;
  wp_module_get_limits(module, &lim);
  json_t *limits = json_object();
  if (limits) {
    json_object_set_new(limits, "initial_memory_bytes",
                        u64_or_null(lim.initial_memory_bytes, UINT64_MAX));
    json_object_set_new(limits, "maximum_memory_bytes",
                        u64_or_null(lim.maximum_memory_bytes, UINT64_MAX));
    json_object_set_new(limits, "initial_table_elements",
                        json_integer((json_int_t)lim.initial_table_elements));
    json_object_set_new(limits, "maximum_table_elements",
                        u64_or_null(lim.maximum_table_elements, UINT32_MAX));
    json_object_set_new(limits, "image_bytes", json_integer((json_int_t)lim.image_bytes));
    json_object_set_new(limits, "is_command", json_boolean(lim.is_command));
    json_object_set_new(limits, "is_reactor", json_boolean(lim.is_reactor));
    /* Where its memories live: 8 GiB guard-page slots, or small slots with
     * bounds-checked code; and the deploy's ?max_memory= cap. */
    json_object_set_new(limits, "memory_class",
                        json_string(lim.memory_class == WP_MEMORY_SMALL ? "small" : "guarded"));
    json_object_set_new(limits, "bounds_checked", json_boolean(lim.bounds_checked));
    json_object_set_new(limits, "max_memory",
                        meta->max_memory_bytes ? json_integer((json_int_t)meta->max_memory_bytes)
                                               : json_null());
  }
  json_object_set_new(obj, "limits", limits);
  return obj;
}

/* ---- Common steps -------------------------------------------------------- */

/* The module a request names, with a reference in x->module. Answers 404
 * itself and returns false when there is none. */
static bool lookup_module(wp_exchange *x) {
  wp_bytes name = x->route.module;
  if (wp_registry_get(x->daemon->registry, name.data, name.len, &x->module, NULL) == 0)
    return true;
  char why[WP_REGISTRY_NAME_MAX + 32];
  snprintf(why, sizeof why, "no module named %.*s", (int)name.len, name.data);
  wp_exchange_respond_error(x, WP_ENO_MODULE, why);
  return false;
}

/* The call's deadline: X-Wasmpool-Deadline-Ms header or ?deadline_ms=,
 * else runtime.default_deadline_ms; never above runtime.max_deadline_ms. */
static bool pick_deadline(wp_exchange *x) {
  const wp_config_runtime *rt = &x->daemon->cfg->runtime;
  x->deadline_ms = rt->default_deadline_ms;
  char text[32] = "";
  const wp_header *h = wp_request_header(x->req, "X-Wasmpool-Deadline-Ms");
  if (h && h->value_len < sizeof text) {
    memcpy(text, h->value, h->value_len);
    text[h->value_len] = '\0';
  } else {
    wp_query_iter it;
    wp_buf key, value;
    wp_buf_init(&key);
    wp_buf_init(&value);
    wp_query_iter_init(&it, x->req->query, x->req->query_len);
    while (wp_query_next(&it, &key, &value) == 1) {
      if (key.data && strcmp(key.data, "deadline_ms") == 0 && value.len < sizeof text)
        snprintf(text, sizeof text, "%s", value.data ? value.data : "");
    }
    wp_buf_free(&key);
    wp_buf_free(&value);
  }
  if (!text[0])
    return true;
  /* Digits only: strtoull alone would also take "+5", " 5" and "-5". */
  bool digits = strspn(text, "0123456789") == strlen(text);
  errno = 0;
  unsigned long long v = digits ? strtoull(text, NULL, 10) : 0;
  if (!digits || errno == ERANGE || v == 0) {
    wp_exchange_respond_error(x, WP_EBAD_REQUEST, "deadline must be a positive integer (ms)");
    return false;
  }
  if (rt->max_deadline_ms && v > rt->max_deadline_ms) {
    char why[96];
    snprintf(why, sizeof why, "deadline %llu ms is over runtime.max_deadline_ms (%llu)", v,
             (unsigned long long)rt->max_deadline_ms);
    wp_exchange_respond_error(x, WP_ELIMIT, why);
    return false;
  }
  x->deadline_ms = v;
  return true;
}

/* Parses {"args":[...]} into x->json (the args array). */
static bool parse_call_body(wp_exchange *x) {
  char why[256] = "";
  json_t *body = NULL;
  if (x->req->body_len > 0 &&
      wp_json_load(x->req->body, x->req->body_len, &body, why, sizeof why) != 0) {
    wp_exchange_respond_error(x, WP_EBAD_REQUEST, why[0] ? why : "body is not JSON");
    return false;
  }
  json_t *args = NULL;
  int rc = wp_json_call_args(body, &args, why, sizeof why);
  json_decref(body);
  if (rc) {
    wp_exchange_respond_error(x, rc, why[0] ? why : NULL);
    return false;
  }
  x->json = args;
  return true;
}

static void set_error(wp_exchange *x, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(wp_exchange *x, int code, const char *fmt, ...) {
  x->result_code = code;
  x->error.code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->error.message, sizeof x->error.message, fmt, ap);
  va_end(ap);
}

/* Worker: calls export route.export_name on inst with the args in x->json;
 * replaces x->json with {"results":[...]} on success. */
static void call_export(wp_exchange *x, wp_instance *inst) {
  wp_bytes name = x->route.export_name;
  const wp_export_info *e = wp_module_find_export(wp_instance_module(inst), name.data, name.len);
  if (!e || e->kind != WP_EXTERN_FUNC) {
    wp_buf shown; /* 0x + hex when the name is not UTF-8 (docs/API.md) */
    wp_buf_init(&shown);
    wp_name_text(&shown, name.data, name.len > 200 ? 200 : name.len);
    set_error(x, WP_ENO_EXPORT, e ? "export %.*s is not a function" : "no export named %.*s",
              (int)shown.len, shown.data ? shown.data : "");
    wp_buf_free(&shown);
    return;
  }
  wp_val stack_args[16], stack_results[16];
  wp_val *args = e->param_count <= 16 ? stack_args : calloc(e->param_count, sizeof *args);
  wp_val *results =
      e->result_count <= 16 ? stack_results : calloc(e->result_count, sizeof *results);
  if (!args || !results) {
    set_error(x, WP_ENOMEM, "out of memory");
    goto out;
  }
  char why[256];
  int rc = wp_args_from_json(x->json, e->params, e->param_count, args, why, sizeof why);
  if (rc) {
    set_error(x, WP_EARG_TYPE, "%s", why);
    goto out;
  }
  wp_call_options opts = {.deadline_ms = x->deadline_ms};
  wp_error err = {0};
  rc = wp_instance_call(inst, name.data, name.len, args, e->param_count, results, e->result_count,
                        &opts, &err);
  if (rc) {
    x->result_code = rc;
    x->error = err;
    if (!x->error.message[0])
      snprintf(x->error.message, sizeof x->error.message, "%s", wp_strerror(rc));
    goto out;
  }
  json_t *array = wp_results_to_json(results, e->result_count);
  json_decref(x->json);
  x->json = array ? json_pack("{s:o}", "results", array) : NULL;
  x->result_code = x->json ? 0 : WP_ENOMEM;
out:
  if (args != stack_args)
    free(args);
  if (results != stack_results)
    free(results);
}

/* Loop: answers a worker's outcome: x->json with status ok_status, or the
 * error (counted as a trap when it is one). */
static void finish_json(wp_exchange *x, int ok_status) {
  if (x->result_code) {
    wp_metrics_record_trap(x->daemon->metrics, x->result_code);
    wp_exchange_respond_error(x, x->result_code, x->error.message[0] ? x->error.message : NULL);
    return;
  }
  json_t *body = x->json;
  x->json = NULL;
  wp_exchange_respond_json(x, ok_status, body);
}

static void finish_200(wp_exchange *x) {
  finish_json(x, 200);
}

static void finish_201(wp_exchange *x) {
  finish_json(x, 201);
}

/* ---- Modules ------------------------------------------------------------- */

static void handle_module_list(wp_exchange *x) {
  wp_registry_item *items;
  size_t count;
  if (wp_registry_list(x->daemon->registry, &items, &count) != 0) {
    wp_exchange_respond_error(x, WP_ENOMEM, NULL);
    return;
  }
  json_t *list = json_array();
  for (size_t i = 0; list && i < count; i++)
    json_array_append_new(list, module_summary_json(&items[i].meta));
  wp_registry_list_free(items, count);
  wp_exchange_respond_json(x, 200, json_pack("{s:o}", "modules", list));
}

static void handle_module_get(wp_exchange *x) {
  wp_module_meta meta;
  wp_bytes name = x->route.module;
  if (wp_registry_get(x->daemon->registry, name.data, name.len, &x->module, &meta) != 0) {
    char why[WP_REGISTRY_NAME_MAX + 32];
    snprintf(why, sizeof why, "no module named %.*s", (int)name.len, name.data);
    wp_exchange_respond_error(x, WP_ENO_MODULE, why);
    return;
  }
  wp_exchange_respond_json(x, 200, module_json(x->module, &meta));
}

typedef struct deploy_result {
  bool replaced;
  wp_deploy_options opts; /* ?max_memory=, ?init=, ?prewarm= */
  char init[256];         /* opts.init points here when ?init= names an export */
  wp_module_meta meta;
} deploy_result;

/* A deploy's query, in one pass: ?max_memory=SIZE ("64MiB", or bytes: a
 * cap on each memory of every instance of the module), ?init=EXPORT (the
 * snapshot's init export) or ?init=none, and ?prewarm=N. Answers 400 itself
 * and returns false at the first malformed one. */
static bool pick_deploy_options(wp_exchange *x, deploy_result *r) {
  r->opts.max_memory_bytes = 0;
  r->opts.prewarm = -1;
  wp_query_iter it;
  wp_buf key, value;
  wp_buf_init(&key);
  wp_buf_init(&value);
  wp_query_iter_init(&it, x->req->query, x->req->query_len);
  bool ok = true;
  while (ok && wp_query_next(&it, &key, &value) == 1) {
    if (!key.data)
      continue;
    if (strcmp(key.data, "max_memory") == 0) {
      const char *why = NULL;
      uint64_t *cap = &r->opts.max_memory_bytes;
      if (!value.data || wp_parse_size(value.data, cap, &why) != 0 || *cap == 0) {
        char text[160];
        snprintf(text, sizeof text, "max_memory: %s", why ? why : "must be a size above 0");
        wp_exchange_respond_error(x, WP_EBAD_REQUEST, text);
        ok = false;
      }
    } else if (strcmp(key.data, "init") == 0) {
      if (!value.data || !value.data[0] || strlen(value.data) >= sizeof r->init) {
        wp_exchange_respond_error(x, WP_EBAD_REQUEST,
                                  "init: must name an export (under 256 bytes) or be none");
        ok = false;
      } else if (strcmp(value.data, "none") == 0) {
        r->opts.no_snapshot = true;
      } else {
        snprintf(r->init, sizeof r->init, "%s", value.data);
        r->opts.init = r->init;
      }
    } else if (strcmp(key.data, "prewarm") == 0) {
      char *end = NULL;
      unsigned long n = value.data ? strtoul(value.data, &end, 10) : 0;
      if (!value.data || !value.data[0] || *end || value.data[0] == '-' || n > (1u << 20)) {
        wp_exchange_respond_error(x, WP_EBAD_REQUEST, "prewarm: must be a count of slots");
        ok = false;
      } else {
        r->opts.prewarm = (int64_t)n;
      }
    }
  }
  wp_buf_free(&key);
  wp_buf_free(&value);
  return ok;
}

static void work_module_put(wp_exchange *x) {
  deploy_result *r = x->extra;
  wp_bytes name = x->route.module;
  x->result_code = wp_registry_deploy_with(x->daemon->registry, name.data, name.len,
                                           (const uint8_t *)x->req->body, x->req->body_len,
                                           &r->opts, &r->replaced, &r->meta, &x->error);
  if (x->result_code)
    return;
  wp_metrics_record_compile(x->daemon->metrics, r->meta.cache_hit, r->meta.load_us);
  if (wp_registry_get(x->daemon->registry, name.data, name.len, &x->module, &r->meta) == 0)
    x->json = module_json(x->module, &r->meta);
  else /* removed again in between: answer with what was deployed */
    x->json = module_summary_json(&r->meta);
}

static void finish_module_put(wp_exchange *x) {
  deploy_result *r = x->extra;
  wp_bytes name = x->route.module;
  if (x->result_code) {
    wp_log_info("deploy_failed", "module=%.*s code=%s error=\"%s\"", (int)name.len, name.data,
                wp_err_name(x->result_code), x->error.message);
    finish_json(x, 200);
    return;
  }
  wp_log_info("deployed",
              "module=%s bytes=%" PRIu64
              " sha256=%.16s tier=%d tier_up=%s cache=%s load_us=%" PRIu64 "%s",
              r->meta.name, r->meta.wasm_bytes, r->meta.sha256, r->meta.tier,
              wp_tierup_state_name(r->meta.tierup), r->meta.cache_hit ? "hit" : "miss",
              r->meta.load_us, r->replaced ? " replaced=true" : "");
  finish_json(x, r->replaced ? 200 : 201);
}

static void handle_module_put(wp_exchange *x) {
  /* The router already refused a bad name (proto's wp_name_valid). */
  if (x->req->body_len == 0) {
    wp_exchange_respond_error(x, WP_EBAD_REQUEST, "the body must be a WebAssembly binary");
    return;
  }
  x->extra = calloc(1, sizeof(deploy_result));
  if (!x->extra) {
    wp_exchange_respond_error(x, WP_ENOMEM, NULL);
    return;
  }
  deploy_result *r = x->extra;
  if (!pick_deploy_options(x, r))
    return;
  wp_exchange_submit(x, work_module_put, finish_module_put);
}

static void work_module_delete(wp_exchange *x) {
  wp_bytes name = x->route.module;
  x->result_code = wp_registry_remove(x->daemon->registry, name.data, name.len, &x->error);
  if (x->result_code == 0)
    x->json = json_pack("{s:s%}", "deleted", name.data, name.len);
}

static void finish_module_delete(wp_exchange *x) {
  if (x->result_code == 0)
    wp_log_info("module_deleted", "module=%.*s", (int)x->route.module.len, x->route.module.data);
  finish_json(x, 200);
}

static void handle_module_delete(wp_exchange *x) {
  wp_exchange_submit(x, work_module_delete, finish_module_delete);
}

/* ---- Instances ----------------------------------------------------------- */

static void work_instance_create(wp_exchange *x) {
  wp_instance_options opts = {.deadline_ms = x->deadline_ms};
  wp_instance *inst;
  x->result_code = wp_instance_create(x->daemon->rt, x->module, &opts, &inst, &x->error);
  if (x->result_code)
    return;
  char id[WP_INSTANCE_ID_LEN + 1];
  char module_name[WP_REGISTRY_NAME_MAX + 1];
  size_t len =
      x->route.module.len < WP_REGISTRY_NAME_MAX ? x->route.module.len : WP_REGISTRY_NAME_MAX;
  memcpy(module_name, x->route.module.data, len);
  module_name[len] = '\0';
  int rc = wp_instance_table_add(x->daemon->instances, inst, module_name, id);
  if (rc) {
    wp_instance_destroy(inst);
    set_error(x, rc, "cannot file the instance");
    return;
  }
  x->json = json_pack("{s:s,s:s}", "id", id, "module", module_name);
}

static void handle_instance_create(wp_exchange *x) {
  if (!lookup_module(x) || !pick_deadline(x))
    return;
  wp_exchange_run_guest(x, x->route.module.data, x->route.module.len, WP_GUEST_RESTARTABLE,
                        work_instance_create, finish_201);
}

/* GET /v1/instances[?limit=N&after=ID]: one page in id order (default
 * WP_INSTANCE_LIST_DEFAULT, at most WP_INSTANCE_LIST_MAX), with "next" the
 * cursor of the following page or null. A whole listing of 100,000 live
 * instances held a loop thread for about 2 s. */
static void handle_instance_list(wp_exchange *x) {
  char after[WP_INSTANCE_ID_LEN + 1] = "";
  size_t limit = WP_INSTANCE_LIST_DEFAULT;
  bool ok = true;
  wp_query_iter it;
  wp_buf key, value;
  wp_buf_init(&key);
  wp_buf_init(&value);
  wp_query_iter_init(&it, x->req->query, x->req->query_len);
  while (ok && wp_query_next(&it, &key, &value) == 1) {
    const char *v = value.data ? value.data : "";
    if (key.data && strcmp(key.data, "after") == 0) {
      snprintf(after, sizeof after, "%s", v);
    } else if (key.data && strcmp(key.data, "limit") == 0) {
      char *end;
      errno = 0;
      unsigned long long n = strtoull(v, &end, 10);
      ok = v[0] >= '0' && v[0] <= '9' && !*end && errno == 0 && n >= 1 && n <= WP_INSTANCE_LIST_MAX;
      limit = (size_t)n;
    }
  }
  wp_buf_free(&key);
  wp_buf_free(&value);
  if (!ok) {
    wp_exchange_respond_error(x, WP_EBAD_REQUEST, "limit must be an integer from 1 to 10000");
    return;
  }
  wp_instance_info *items;
  size_t count;
  bool more;
  if (wp_instance_table_list(x->daemon->instances, after, limit, &items, &count, &more) != 0) {
    wp_exchange_respond_error(x, WP_ENOMEM, NULL);
    return;
  }
  json_t *list = json_array();
  for (size_t i = 0; list && i < count; i++)
    json_array_append_new(
        list, json_pack("{s:s,s:s,s:I,s:I,s:I}", "id", items[i].id, "module", items[i].module,
                        "created_at_ms", (json_int_t)items[i].created_at_ms, "idle_ms",
                        (json_int_t)items[i].idle_ms, "calls", (json_int_t)items[i].calls));
  json_t *next = more && count ? json_string(items[count - 1].id) : json_null();
  free(items);
  wp_exchange_respond_json(x, 200, json_pack("{s:o,s:o}", "instances", list, "next", next));
}

static void work_instance_call(wp_exchange *x) {
  wp_instance *inst = wp_live_instance_lock(x->live);
  if (!inst) {
    set_error(x, WP_ENO_INSTANCE, "instance %s was released", wp_live_instance_id(x->live));
    return;
  }
  call_export(x, inst);
  wp_live_instance_unlock(x->live);
}

static void handle_instance_call(wp_exchange *x) {
  wp_bytes id = x->route.instance;
  if (wp_instance_table_get(x->daemon->instances, id.data, id.len, &x->live) != 0) {
    wp_exchange_respond_error(x, WP_ENO_INSTANCE, "no such instance");
    return;
  }
  if (!pick_deadline(x) || !parse_call_body(x))
    return;
  const char *module = wp_live_instance_module(x->live);
  /* Not restartable: a call cut short has changed the instance. */
  wp_exchange_run_guest(x, module, strlen(module), 0, work_instance_call, finish_200);
}

static void handle_instance_delete(wp_exchange *x) {
  wp_bytes id = x->route.instance;
  if (wp_instance_table_remove(x->daemon->instances, id.data, id.len) != 0) {
    wp_exchange_respond_error(x, WP_ENO_INSTANCE, "no such instance");
    return;
  }
  wp_exchange_respond_json(x, 200, json_pack("{s:s%}", "deleted", id.data, id.len));
}

/* ---- One-shot call and run ----------------------------------------------- */

static void work_module_call(wp_exchange *x) {
  wp_instance_options opts = {.deadline_ms = x->deadline_ms};
  wp_instance *inst;
  x->result_code = wp_instance_create(x->daemon->rt, x->module, &opts, &inst, &x->error);
  if (x->result_code)
    return;
  call_export(x, inst);
  wp_instance_destroy(inst);
}

static void handle_module_call(wp_exchange *x) {
  if (!lookup_module(x) || !pick_deadline(x) || !parse_call_body(x))
    return;
  wp_exchange_run_guest(x, x->route.module.data, x->route.module.len, WP_GUEST_RESTARTABLE,
                        work_module_call, finish_200);
}

typedef struct run_state {
  /* Loop -> worker: the WASI environment (pointers into the bufs). */
  wp_buf env_storage, argv_storage;
  const char **envp, **argv;
  size_t envc, argc;
  /* Worker -> loop. */
  int exit_code;
  uint8_t *out;
  size_t out_len;
  bool out_truncated;
  uint8_t *err;
  size_t err_len;
  bool err_truncated;
  uint64_t duration_us;
} run_state;

static void run_state_free(void *extra) {
  run_state *r = extra;
  wp_buf_free(&r->env_storage);
  wp_buf_free(&r->argv_storage);
  free(r->envp);
  free(r->argv);
  free(r->out);
  free(r->err);
}

/* "A\0B\0" -> {"A", "B"}. */
static const char **split_strings(const wp_buf *storage, size_t count) {
  const char **out = calloc(count + 1, sizeof *out);
  if (!out)
    return NULL;
  const char *p = storage->data;
  for (size_t i = 0; i < count; i++) {
    out[i] = p;
    p += strlen(p) + 1;
  }
  return out;
}

static uint8_t *copy_bytes(const uint8_t *src, size_t len) {
  uint8_t *out = malloc(len ? len : 1);
  if (out && len)
    memcpy(out, src, len);
  return out;
}

static void work_module_run(wp_exchange *x) {
  run_state *r = x->extra;
  const wp_config_runtime *cfg = &x->daemon->cfg->runtime;
  wp_wasi_config wasi = {
      .argv = r->argv,
      .argc = r->argc,
      .envp = r->envp,
      .envc = r->envc,
      .stdin_bytes = (const uint8_t *)x->req->body,
      .stdin_length = x->req->body_len,
      .stdout_limit = cfg->stdout_limit_bytes,
      .stderr_limit = cfg->stderr_limit_bytes,
  };
  wp_instance_options opts = {.wasi = &wasi, .deadline_ms = x->deadline_ms};
  uint64_t start = wp_now_us();
  wp_instance *inst;
  x->result_code = wp_instance_create(x->daemon->rt, x->module, &opts, &inst, &x->error);
  if (x->result_code)
    return;
  wp_call_options call = {.deadline_ms = x->deadline_ms};
  x->result_code = wp_instance_run(inst, &call, &r->exit_code, &x->error);
  r->duration_us = wp_now_us() - start;
  if (x->result_code == 0) {
    size_t len;
    const uint8_t *bytes = wp_instance_stdout(inst, &len, &r->out_truncated);
    r->out = copy_bytes(bytes, len);
    r->out_len = len;
    bytes = wp_instance_stderr(inst, &len, &r->err_truncated);
    r->err = copy_bytes(bytes, len);
    r->err_len = len;
    if (!r->out || !r->err)
      set_error(x, WP_ENOMEM, "out of memory");
  }
  wp_instance_destroy(inst);
}

static void finish_module_run(wp_exchange *x) {
  run_state *r = x->extra;
  if (x->result_code) {
    finish_json(x, 200);
    return;
  }
  char exit_text[16], duration_text[24];
  snprintf(exit_text, sizeof exit_text, "%d", r->exit_code);
  snprintf(duration_text, sizeof duration_text, "%" PRIu64, r->duration_us);
  wp_buf stderr_b64;
  wp_buf_init(&stderr_b64);
  size_t err_shown = r->err_len < WP_STDERR_HEADER_MAX ? r->err_len : WP_STDERR_HEADER_MAX;
  wp_base64_encode(&stderr_b64, r->err, err_shown);
  bool err_truncated = r->err_truncated || err_shown < r->err_len;
  wp_header headers[6];
  size_t n = 0;
  headers[n++] =
      (wp_header){WP_HDR_EXIT_CODE, strlen(WP_HDR_EXIT_CODE), exit_text, strlen(exit_text)};
  headers[n++] = (wp_header){WP_HDR_DURATION_US, strlen(WP_HDR_DURATION_US), duration_text,
                             strlen(duration_text)};
  if (err_shown) {
    headers[n++] =
        (wp_header){WP_HDR_STDERR, strlen(WP_HDR_STDERR), stderr_b64.data, stderr_b64.len};
    headers[n++] = (wp_header){WP_HDR_STDERR_ENC, strlen(WP_HDR_STDERR_ENC), "base64", 6};
  }
  if (err_truncated)
    headers[n++] = (wp_header){WP_HDR_STDERR_TRUNC, strlen(WP_HDR_STDERR_TRUNC), "true", 4};
  if (r->out_truncated)
    headers[n++] = (wp_header){"X-Wasmpool-Stdout-Truncated", 27, "true", 4};
  wp_exchange_respond(x, 200, "application/octet-stream", headers, n, r->out, r->out_len);
  wp_buf_free(&stderr_b64);
}

static void handle_module_run(wp_exchange *x) {
  if (!lookup_module(x) || !pick_deadline(x))
    return;
  run_state *r = calloc(1, sizeof *r);
  if (!r) {
    wp_exchange_respond_error(x, WP_ENOMEM, NULL);
    return;
  }
  x->extra = r;
  x->extra_free = run_state_free;
  wp_buf_init(&r->env_storage);
  wp_buf_init(&r->argv_storage);
  int rc = wp_cgi_env(x->req, &x->route, &r->env_storage, &r->envc);
  if (rc == 0)
    rc = wp_cgi_args(x->req, &x->route, &r->argv_storage, &r->argc);
  if (rc == 0) {
    r->envp = split_strings(&r->env_storage, r->envc);
    r->argv = split_strings(&r->argv_storage, r->argc);
    if (!r->envp || !r->argv)
      rc = WP_ENOMEM;
  }
  if (rc) {
    wp_exchange_respond_error(x, rc, rc == WP_EBAD_REQUEST ? "bad ?arg= value" : NULL);
    return;
  }
  wp_exchange_run_guest(x, x->route.module.data, x->route.module.len, WP_GUEST_RESTARTABLE,
                        work_module_run, finish_module_run);
}

/* ---- Stats, metrics, health ---------------------------------------------- */

static void sample_gauges(wp_daemon *d, wp_metrics_gauges *g) {
  memset(g, 0, sizeof *g);
  wp_pool_get_stats(wp_runtime_pool(d->rt), &g->pool);
  wp_work_queue_stats q;
  wp_work_queue_get_stats(d->queue, &q);
  g->workers = q.workers;
  g->workers_busy = q.busy;
  g->queue_waiting = q.waiting;
  g->queue_capacity = q.capacity;
  g->queue_rejected = q.rejected;
  g->connections = wp_server_connection_count(d);
  g->live_instances = wp_instance_table_count(d->instances);
  g->modules = wp_registry_count(d->registry);
  g->jemalloc_ok =
      wp_jemalloc_stats(&g->jemalloc_allocated, &g->jemalloc_resident, &g->jemalloc_metadata) == 0;
  g->uptime_ms = wp_now_us() / 1000 - d->started_ms;
  wp_registry_compile_stats cs;
  wp_registry_compile_stats_get(d->registry, &cs);
  for (int t = 0; t < 2; t++) {
    g->builds[t] = cs.count[t];
    g->build_us[t] = cs.us_total[t];
  }
  g->tierups_in_flight = cs.in_flight;
  g->tierups_done = cs.tierups_done;
  g->tierups_failed = cs.tierups_failed;
}

static void handle_stats(wp_exchange *x) {
  wp_metrics_gauges g;
  sample_gauges(x->daemon, &g);
  wp_exchange_respond_json(x, 200, wp_metrics_to_json(x->daemon->metrics, &g));
}

static void handle_metrics(wp_exchange *x) {
  wp_metrics_gauges g;
  sample_gauges(x->daemon, &g);
  char *text;
  size_t len;
  if (wp_metrics_render_prometheus(x->daemon->metrics, &g, &text, &len) != 0) {
    wp_exchange_respond_error(x, WP_ENOMEM, NULL);
    return;
  }
  wp_exchange_respond(x, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, 0, text, len);
  free(text);
}

static void handle_health(wp_exchange *x) {
  wp_daemon *d = x->daemon;
  wp_exchange_respond_json(x, 200,
                           json_pack("{s:s,s:I,s:I,s:I}", "status", "ok", "uptime_ms",
                                     (json_int_t)(wp_now_us() / 1000 - d->started_ms), "modules",
                                     (json_int_t)wp_registry_count(d->registry), "instances",
                                     (json_int_t)wp_instance_table_count(d->instances)));
}

void wp_handle(wp_exchange *x) {
  switch (x->route.endpoint) {
  case WP_EP_MODULE_LIST: handle_module_list(x); return;
  case WP_EP_MODULE_PUT: handle_module_put(x); return;
  case WP_EP_MODULE_GET: handle_module_get(x); return;
  case WP_EP_MODULE_DELETE: handle_module_delete(x); return;
  case WP_EP_INSTANCE_CREATE: handle_instance_create(x); return;
  case WP_EP_MODULE_CALL: handle_module_call(x); return;
  case WP_EP_MODULE_RUN: handle_module_run(x); return;
  case WP_EP_INSTANCE_LIST: handle_instance_list(x); return;
  case WP_EP_INSTANCE_CALL: handle_instance_call(x); return;
  case WP_EP_INSTANCE_DELETE: handle_instance_delete(x); return;
  case WP_EP_STATS: handle_stats(x); return;
  case WP_EP_METRICS: handle_metrics(x); return;
  case WP_EP_HEALTH: handle_health(x); return;
  case WP_EP_NONE:
  case WP_EP_COUNT: break;
  }
  wp_exchange_respond_error(x, WP_ENOT_FOUND, NULL);
}
