/* config_toml.cpp — the only C++ in wasmpool: toml++ behind the C API of
 * config_toml.h.
 *
 * toml++ parses into its own node objects and reports syntax errors by
 * throwing toml::parse_error. This file catches everything it can throw and
 * copies the document into calloc'ed wp__toml_node trees, so no exception and
 * no C++ type ever reaches C. Build with exceptions on (toml++'s default):
 * the shared libtomlplusplus is built that way and the ABI depends on it.
 */
#include "config_toml.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

#include <toml++/toml.h>

extern "C" {
#include "wp_errno.h"
}

namespace {

char *copy_bytes(std::string_view bytes) {
  char *copy = static_cast<char *>(std::malloc(bytes.size() + 1));
  if (copy == nullptr)
    throw std::bad_alloc();
  if (!bytes.empty())
    std::memcpy(copy, bytes.data(), bytes.size());
  copy[bytes.size()] = '\0';
  return copy;
}

wp__toml_node *alloc_nodes(size_t count) {
  if (count == 0)
    return nullptr;
  auto *nodes = static_cast<wp__toml_node *>(std::calloc(count, sizeof(wp__toml_node)));
  if (nodes == nullptr)
    throw std::bad_alloc();
  return nodes;
}

void free_node_contents(wp__toml_node *node) {
  for (size_t i = 0; i < node->child_count; i++)
    free_node_contents(&node->children[i]);
  std::free(node->children);
  std::free(node->key);
  std::free(node->string);
}

void set_position(wp__toml_node *out, const toml::source_region &where) {
  out->line = where.begin.line;
  out->column = where.begin.column;
}

/* Fills *out (already zeroed, key and position set by the caller) from n. On
 * an exception *out may be half filled; free_node_contents() handles that
 * because every pointer is either NULL or owned. */
void copy_value(const toml::node &n, wp__toml_node *out) {
  switch (n.type()) {
  case toml::node_type::table: {
    const toml::table &table = *n.as_table();
    out->type = WP__TOML_TABLE;
    out->children = alloc_nodes(table.size());
    for (auto &&[key, value] : table) {
      wp__toml_node *child = &out->children[out->child_count++];
      child->key = copy_bytes(key.str());
      child->key_length = key.str().size();
      set_position(child, key.source());
      copy_value(value, child);
    }
    /* Source order, so the first problem a walker meets is the first in the
     * file. Keys toml++ has no position for sort last. */
    std::sort(out->children, out->children + out->child_count,
              [](const wp__toml_node &a, const wp__toml_node &b) {
                uint64_t pa = (uint64_t(a.line - 1u) << 32) | a.column; /* line 0 wraps: last */
                uint64_t pb = (uint64_t(b.line - 1u) << 32) | b.column;
                return pa < pb;
              });
    return;
  }
  case toml::node_type::array: {
    const toml::array &array = *n.as_array();
    out->type = WP__TOML_ARRAY;
    out->children = alloc_nodes(array.size());
    for (const toml::node &element : array) {
      wp__toml_node *child = &out->children[out->child_count++];
      set_position(child, element.source());
      copy_value(element, child);
    }
    return;
  }
  case toml::node_type::string: {
    std::string_view text = n.as_string()->get();
    out->type = WP__TOML_STRING;
    out->string = copy_bytes(text);
    out->string_length = text.size();
    return;
  }
  case toml::node_type::integer:
    out->type = WP__TOML_INTEGER;
    out->as.integer = n.as_integer()->get();
    return;
  case toml::node_type::floating_point:
    out->type = WP__TOML_FLOAT;
    out->as.floating = n.as_floating_point()->get();
    return;
  case toml::node_type::boolean:
    out->type = WP__TOML_BOOL;
    out->as.boolean = n.as_boolean()->get();
    return;
  default: out->type = WP__TOML_DATETIME; return;
  }
}

void write_error(char *err, size_t err_len, const char *name, const toml::source_position *at,
                 std::string_view what) {
  if (err == nullptr || err_len == 0)
    return;
  if (at != nullptr)
    std::snprintf(err, err_len, "%s:%u:%u: %.*s", name, unsigned(at->line), unsigned(at->column),
                  int(what.size()), what.data());
  else
    std::snprintf(err, err_len, "%s: %.*s", name, int(what.size()), what.data());
}

} // namespace

extern "C" int wp__toml_parse(const char *text, size_t length, const char *source_name,
                              wp__toml_node **out, char *err, size_t err_len) {
  *out = nullptr;
  const char *name = source_name != nullptr ? source_name : "<config>";
  wp__toml_node *root = nullptr;
  try {
    toml::table table = toml::parse(std::string_view(text, length), std::string_view(name));
    root = alloc_nodes(1);
    root->line = 1;
    root->column = 1;
    copy_value(table, root);
    *out = root;
    return 0;
  } catch (const toml::parse_error &e) {
    write_error(err, err_len, name, &e.source().begin, e.description());
    return WP_ECONFIG;
  } catch (const std::bad_alloc &) {
    write_error(err, err_len, name, nullptr, "out of memory while reading the config");
  } catch (...) {
    /* toml++ documents parse_error only; anything else is treated like a
     * failed allocation rather than let it unwind into C. */
    write_error(err, err_len, name, nullptr, "TOML parser failed");
  }
  wp__toml_free(root);
  return WP_ENOMEM;
}

extern "C" void wp__toml_free(wp__toml_node *root) {
  if (root == nullptr)
    return;
  free_node_contents(root);
  std::free(root);
}

extern "C" const char *wp__toml_type_name(wp__toml_type type) {
  switch (type) {
  case WP__TOML_TABLE: return "a table";
  case WP__TOML_ARRAY: return "an array";
  case WP__TOML_STRING: return "a string";
  case WP__TOML_INTEGER: return "an integer";
  case WP__TOML_FLOAT: return "a float";
  case WP__TOML_BOOL: return "a boolean";
  case WP__TOML_DATETIME: return "a date/time";
  }
  return "a value";
}
