/* test_command.c — command.c: classification of wast2json commands and the
 * fields each kind must carry. */
#include <criterion/criterion.h>
#include <string.h>

#include "spec.h"

static json_t *load(const char *text) {
  json_error_t err;
  json_t *obj = json_loads(text, JSON_ALLOW_NUL, &err);
  cr_assert_not_null(obj, "bad test JSON: %s", err.text);
  return obj;
}

static int parse(const char *text, wp_spec_command *cmd, json_t **keep) {
  *keep = load(text);
  char why[256];
  return wp_spec_command_parse(*keep, cmd, why, sizeof why);
}

Test(command, kind_names_round_trip) {
  const char *names[] = {"module",
                         "register",
                         "action",
                         "assert_return",
                         "assert_trap",
                         "assert_exhaustion",
                         "assert_invalid",
                         "assert_malformed",
                         "assert_unlinkable",
                         "assert_uninstantiable",
                         "assert_exception"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    wp_spec_kind kind = wp_spec_kind_parse(names[i]);
    cr_assert_neq(kind, WP_SPEC_UNKNOWN, "%s", names[i]);
    cr_assert_str_eq(wp_spec_kind_name(kind), names[i]);
  }
  cr_assert_eq(wp_spec_kind_parse("assert_return_canonical_nan"), WP_SPEC_UNKNOWN);
  cr_assert_eq(wp_spec_kind_parse(NULL), WP_SPEC_UNKNOWN);
}

Test(command, module_with_and_without_name) {
  json_t *obj;
  wp_spec_command cmd;
  cr_assert_eq(
      parse("{\"type\": \"module\", \"line\": 3, \"filename\": \"i32.0.wasm\"}", &cmd, &obj), 0);
  cr_assert_eq(cmd.kind, WP_SPEC_MODULE);
  cr_assert_eq(cmd.line, 3);
  cr_assert_str_eq(cmd.filename, "i32.0.wasm");
  cr_assert_null(cmd.name);
  json_decref(obj);
  cr_assert_eq(parse("{\"type\": \"module\", \"line\": 554, \"name\": \"$module1\", \"filename\": "
                     "\"elem.58.wasm\"}",
                     &cmd, &obj),
               0);
  cr_assert_str_eq(cmd.name, "$module1");
  json_decref(obj);
  /* A module without its file is an error, not a silent pass. */
  cr_assert_eq(parse("{\"type\": \"module\", \"line\": 1}", &cmd, &obj), WP_EINVAL);
  json_decref(obj);
}

Test(command, register_needs_as) {
  json_t *obj;
  wp_spec_command cmd;
  cr_assert_eq(parse("{\"type\": \"register\", \"line\": 21, \"as\": \"test\"}", &cmd, &obj), 0);
  cr_assert_eq(cmd.kind, WP_SPEC_REGISTER);
  cr_assert_str_eq(cmd.as, "test");
  cr_assert_null(cmd.name);
  json_decref(obj);
  cr_assert_eq(parse("{\"type\": \"register\", \"line\": 21}", &cmd, &obj), WP_EINVAL);
  json_decref(obj);
}

Test(command, assert_return_invoke) {
  json_t *obj;
  wp_spec_command cmd;
  cr_assert_eq(parse("{\"type\": \"assert_return\", \"line\": 39, \"action\": {\"type\": "
                     "\"invoke\", \"field\": \"add\", \"args\": [{\"type\": \"i32\", \"value\": "
                     "\"1\"}, {\"type\": \"i32\", \"value\": \"2\"}]}, \"expected\": [{\"type\": "
                     "\"i32\", \"value\": \"3\"}]}",
                     &cmd, &obj),
               0);
  cr_assert_eq(cmd.kind, WP_SPEC_ASSERT_RETURN);
  cr_assert(cmd.has_action);
  cr_assert_not(cmd.action_is_get);
  cr_assert_eq(cmd.field_length, 3);
  cr_assert_eq(memcmp(cmd.field, "add", 3), 0);
  cr_assert_null(cmd.action_module);
  cr_assert_eq(json_array_size(cmd.args), 2);
  cr_assert_eq(json_array_size(cmd.expected), 1);
  cr_assert(wp_spec_kind_uses_instance(cmd.kind));
  cr_assert_not(wp_spec_kind_has_module_file(cmd.kind));
  json_decref(obj);
}

Test(command, field_names_with_nul_bytes_keep_their_length) {
  json_t *obj;
  wp_spec_command cmd;
  cr_assert_eq(parse("{\"type\": \"action\", \"line\": 5, \"action\": {\"type\": \"invoke\", "
                     "\"field\": \"a\\u0000b\", \"args\": []}, \"expected\": []}",
                     &cmd, &obj),
               0);
  cr_assert_eq(cmd.field_length, 3);
  cr_assert_eq(memcmp(cmd.field, "a\0b", 3), 0);
  json_decref(obj);
}

Test(command, get_with_module_name) {
  json_t *obj;
  wp_spec_command cmd;
  cr_assert_eq(parse("{\"type\": \"assert_return\", \"line\": 9, \"action\": {\"type\": \"get\", "
                     "\"module\": \"$M\", \"field\": \"g\"}, \"expected\": [{\"type\": \"i32\", "
                     "\"value\": \"1\"}]}",
                     &cmd, &obj),
               0);
  cr_assert(cmd.action_is_get);
  cr_assert_str_eq(cmd.action_module, "$M");
  cr_assert_null(cmd.args);
  json_decref(obj);
}

Test(command, trap_and_exhaustion_carry_text) {
  json_t *obj;
  wp_spec_command cmd;
  cr_assert_eq(
      parse("{\"type\": \"assert_trap\", \"line\": 7, \"action\": {\"type\": \"invoke\", "
            "\"field\": \"f\", \"args\": []}, \"text\": \"unreachable\", \"expected\": []}",
            &cmd, &obj),
      0);
  cr_assert_eq(cmd.kind, WP_SPEC_ASSERT_TRAP);
  cr_assert_str_eq(cmd.text, "unreachable");
  json_decref(obj);
  cr_assert_eq(parse("{\"type\": \"assert_exhaustion\", \"line\": 337, \"action\": {\"type\": "
                     "\"invoke\", \"field\": \"runaway\", \"args\": []}, \"text\": \"call stack "
                     "exhausted\", \"expected\": []}",
                     &cmd, &obj),
               0);
  cr_assert_eq(cmd.kind, WP_SPEC_ASSERT_EXHAUSTION);
  json_decref(obj);
  /* An action without args on invoke is malformed input. */
  cr_assert_eq(parse("{\"type\": \"assert_trap\", \"line\": 7, \"action\": {\"type\": \"invoke\", "
                     "\"field\": \"f\"}, \"text\": \"x\"}",
                     &cmd, &obj),
               WP_EINVAL);
  json_decref(obj);
}

Test(command, module_assertions_binary_and_text) {
  json_t *obj;
  wp_spec_command cmd;
  cr_assert_eq(parse("{\"type\": \"assert_malformed\", \"line\": 12, \"filename\": \"a.1.wat\", "
                     "\"text\": \"unknown operator\", \"module_type\": \"text\"}",
                     &cmd, &obj),
               0);
  cr_assert_eq(cmd.kind, WP_SPEC_ASSERT_MALFORMED);
  cr_assert(cmd.text_module);
  cr_assert(wp_spec_kind_has_module_file(cmd.kind));
  cr_assert_not(wp_spec_kind_uses_instance(cmd.kind));
  json_decref(obj);
  cr_assert_eq(parse("{\"type\": \"assert_invalid\", \"line\": 12, \"filename\": \"a.2.wasm\", "
                     "\"text\": \"type mismatch\", \"module_type\": \"binary\"}",
                     &cmd, &obj),
               0);
  cr_assert_not(cmd.text_module);
  cr_assert_str_eq(cmd.text, "type mismatch");
  json_decref(obj);
  cr_assert_eq(parse("{\"type\": \"assert_unlinkable\", \"line\": 12, \"filename\": \"a.3.wasm\", "
                     "\"text\": \"unknown import\", \"module_type\": \"quoted\"}",
                     &cmd, &obj),
               WP_EINVAL);
  json_decref(obj);
}

Test(command, unknown_type_is_an_error) {
  json_t *obj;
  wp_spec_command cmd;
  cr_assert_eq(parse("{\"type\": \"assert_soon\", \"line\": 1}", &cmd, &obj), WP_EINVAL);
  cr_assert_eq(cmd.kind, WP_SPEC_UNKNOWN);
  json_decref(obj);
  cr_assert_eq(parse("[1, 2]", &cmd, &obj), WP_EINVAL);
  json_decref(obj);
}

Test(command, assert_exception_is_an_action_without_text) {
  json_t *obj;
  wp_spec_command cmd;
  cr_assert_eq(parse("{\"type\": \"assert_exception\", \"line\": 77, \"action\": {\"type\": "
                     "\"invoke\", \"field\": \"catch-rethrow-1\", \"args\": [{\"type\": "
                     "\"i32\", \"value\": \"0\"}]}, \"expected\": [{\"type\": \"i32\"}]}",
                     &cmd, &obj),
               0);
  cr_assert_eq(cmd.kind, WP_SPEC_ASSERT_EXCEPTION);
  cr_assert(cmd.has_action);
  cr_assert_str_eq(cmd.text, "");
  cr_assert_eq(json_array_size(cmd.args), 1);
  cr_assert(wp_spec_kind_uses_instance(cmd.kind));
  cr_assert_not(wp_spec_kind_has_module_file(cmd.kind));
  json_decref(obj);
  /* Like every action kind, it needs an action. */
  cr_assert_eq(parse("{\"type\": \"assert_exception\", \"line\": 3}", &cmd, &obj), WP_EINVAL);
  json_decref(obj);
}
