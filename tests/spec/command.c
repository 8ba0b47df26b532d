/* command.c — turns one element of wast2json's "commands" array into a
 * wp_spec_command, checking that every field its kind needs is present.
 *
 * wast2json (wabt 1.0.36) writes, per command:
 *   module                {line, filename, name?, module_type?}
 *   register              {line, as, name?}
 *   action / assert_return / assert_trap / assert_exhaustion / assert_exception
 *                         {line, action: {type: invoke|get, module?, field, args?},
 *                          expected: [...], text?}
 *   assert_invalid / assert_malformed / assert_unlinkable / assert_uninstantiable
 *                         {line, filename, module_type: binary|text, text}
 */
#include <string.h>

#include "spec.h"

static const char *const kind_names[] = {
    [WP_SPEC_MODULE] = "module",
    [WP_SPEC_REGISTER] = "register",
    [WP_SPEC_ACTION] = "action",
    [WP_SPEC_ASSERT_RETURN] = "assert_return",
    [WP_SPEC_ASSERT_TRAP] = "assert_trap",
    [WP_SPEC_ASSERT_EXHAUSTION] = "assert_exhaustion",
    [WP_SPEC_ASSERT_INVALID] = "assert_invalid",
    [WP_SPEC_ASSERT_MALFORMED] = "assert_malformed",
    [WP_SPEC_ASSERT_UNLINKABLE] = "assert_unlinkable",
    [WP_SPEC_ASSERT_UNINSTANTIABLE] = "assert_uninstantiable",
    [WP_SPEC_ASSERT_EXCEPTION] = "assert_exception",
    [WP_SPEC_UNKNOWN] = "unknown",
};

wp_spec_kind wp_spec_kind_parse(const char *type) {
  if (type == NULL)
    return WP_SPEC_UNKNOWN;
  for (int k = 0; k < WP_SPEC_UNKNOWN; k++) {
    if (strcmp(kind_names[k], type) == 0)
      return (wp_spec_kind)k;
  }
  return WP_SPEC_UNKNOWN;
}

const char *wp_spec_kind_name(wp_spec_kind kind) {
  if ((int)kind < 0 || kind > WP_SPEC_UNKNOWN)
    return "unknown";
  return kind_names[kind];
}

bool wp_spec_kind_uses_instance(wp_spec_kind kind) {
  return kind == WP_SPEC_REGISTER || kind == WP_SPEC_ACTION || kind == WP_SPEC_ASSERT_RETURN ||
         kind == WP_SPEC_ASSERT_TRAP || kind == WP_SPEC_ASSERT_EXHAUSTION ||
         kind == WP_SPEC_ASSERT_EXCEPTION;
}

bool wp_spec_kind_has_module_file(wp_spec_kind kind) {
  return kind == WP_SPEC_MODULE || kind == WP_SPEC_ASSERT_INVALID ||
         kind == WP_SPEC_ASSERT_MALFORMED || kind == WP_SPEC_ASSERT_UNLINKABLE ||
         kind == WP_SPEC_ASSERT_UNINSTANTIABLE;
}

/* Optional string member: NULL when absent; WP_EINVAL when not a string. */
static int optional_string(json_t *obj, const char *key, const char **out, char *why,
                           size_t why_len) {
  json_t *member = json_object_get(obj, key);
  *out = NULL;
  if (member == NULL)
    return 0;
  if (!json_is_string(member)) {
    snprintf(why, why_len, "\"%s\" is not a string", key);
    return WP_EINVAL;
  }
  *out = json_string_value(member);
  return 0;
}

static int required_string(json_t *obj, const char *key, const char **out, char *why,
                           size_t why_len) {
  int rc = optional_string(obj, key, out, why, why_len);
  if (rc != 0)
    return rc;
  if (*out == NULL) {
    snprintf(why, why_len, "missing \"%s\"", key);
    return WP_EINVAL;
  }
  return 0;
}

static int parse_action(json_t *obj, wp_spec_command *out, char *why, size_t why_len) {
  json_t *action = json_object_get(obj, "action");
  if (!json_is_object(action)) {
    snprintf(why, why_len, "missing \"action\" object");
    return WP_EINVAL;
  }
  const char *type;
  int rc = required_string(action, "type", &type, why, why_len);
  if (rc != 0)
    return rc;
  if (strcmp(type, "invoke") == 0) {
    out->action_is_get = false;
  } else if (strcmp(type, "get") == 0) {
    out->action_is_get = true;
  } else {
    snprintf(why, why_len, "unknown action type \"%s\"", type);
    return WP_EINVAL;
  }
  json_t *field = json_object_get(action, "field");
  if (!json_is_string(field)) {
    snprintf(why, why_len, "action has no \"field\" string");
    return WP_EINVAL;
  }
  /* json_string_length, not strlen: export names may contain NUL bytes. */
  out->field = json_string_value(field);
  out->field_length = json_string_length(field);
  rc = optional_string(action, "module", &out->action_module, why, why_len);
  if (rc != 0)
    return rc;
  out->args = json_object_get(action, "args");
  if (out->action_is_get) {
    out->args = NULL;
  } else if (!json_is_array(out->args)) {
    snprintf(why, why_len, "invoke has no \"args\" array");
    return WP_EINVAL;
  }
  out->expected = json_object_get(obj, "expected");
  if (out->expected != NULL && !json_is_array(out->expected)) {
    snprintf(why, why_len, "\"expected\" is not an array");
    return WP_EINVAL;
  }
  out->has_action = true;
  return 0;
}

int wp_spec_command_parse(json_t *obj, wp_spec_command *out, char *why, size_t why_len) {
  memset(out, 0, sizeof *out);
  out->kind = WP_SPEC_UNKNOWN;
  out->text = "";
  if (!json_is_object(obj)) {
    snprintf(why, why_len, "command is not an object");
    return WP_EINVAL;
  }
  json_t *line = json_object_get(obj, "line");
  if (json_is_integer(line))
    out->line = (int)json_integer_value(line);

  const char *type;
  int rc = required_string(obj, "type", &type, why, why_len);
  if (rc != 0)
    return rc;
  out->kind = wp_spec_kind_parse(type);
  if (out->kind == WP_SPEC_UNKNOWN) {
    snprintf(why, why_len, "unknown command type \"%s\"", type);
    return WP_EINVAL;
  }

  const char *text = NULL;
  if ((rc = optional_string(obj, "text", &text, why, why_len)) != 0)
    return rc;
  if (text != NULL)
    out->text = text;

  switch (out->kind) {
  case WP_SPEC_MODULE:
    if ((rc = optional_string(obj, "name", &out->name, why, why_len)) != 0)
      return rc;
    return required_string(obj, "filename", &out->filename, why, why_len);
  case WP_SPEC_REGISTER:
    if ((rc = optional_string(obj, "name", &out->name, why, why_len)) != 0)
      return rc;
    return required_string(obj, "as", &out->as, why, why_len);
  case WP_SPEC_ACTION:
  case WP_SPEC_ASSERT_RETURN:
  case WP_SPEC_ASSERT_TRAP:
  case WP_SPEC_ASSERT_EXHAUSTION:
  case WP_SPEC_ASSERT_EXCEPTION: return parse_action(obj, out, why, why_len);
  case WP_SPEC_ASSERT_INVALID:
  case WP_SPEC_ASSERT_MALFORMED:
  case WP_SPEC_ASSERT_UNLINKABLE:
  case WP_SPEC_ASSERT_UNINSTANTIABLE: {
    if ((rc = required_string(obj, "filename", &out->filename, why, why_len)) != 0)
      return rc;
    const char *module_type = NULL;
    if ((rc = optional_string(obj, "module_type", &module_type, why, why_len)) != 0)
      return rc;
    if (module_type == NULL || strcmp(module_type, "binary") == 0) {
      out->text_module = false;
    } else if (strcmp(module_type, "text") == 0) {
      out->text_module = true;
    } else {
      snprintf(why, why_len, "unknown module_type \"%s\"", module_type);
      return WP_EINVAL;
    }
    return 0;
  }
  case WP_SPEC_UNKNOWN: break;
  }
  return WP_EINVAL;
}
