/* config_toml.h — the C face of the one C++ file (config_toml.cpp) that wraps
 * toml++. Private to daemon/.
 *
 * The config loader needs three things from a TOML parser: the values, their
 * types, and where each key was written (for "file:line: key: ..." errors).
 * Rather than expose toml++'s object model to C, the shim copies a parsed
 * document into a plain tree of wp__toml_node that C walks and frees. The copy
 * is small (config files are a few hundred lines) and it keeps every C++
 * exception on the C++ side of the boundary.
 *
 * Children of a table are sorted by where their key appears in the source, so
 * a walker that stops at the first problem reports the earliest one in the
 * file rather than the alphabetically first (toml++ keeps tables in a map).
 */
#ifndef WP_DAEMON_CONFIG_TOML_H
#define WP_DAEMON_CONFIG_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum wp__toml_type {
  WP__TOML_TABLE,
  WP__TOML_ARRAY,
  WP__TOML_STRING,
  WP__TOML_INTEGER,
  WP__TOML_FLOAT,
  WP__TOML_BOOL,
  WP__TOML_DATETIME, /* date, time or date-time: kept as a type only */
} wp__toml_type;

typedef struct wp__toml_node wp__toml_node;

struct wp__toml_node {
  wp__toml_type type;
  /* Key in the parent table, NUL-terminated; NULL for the root and for array
   * elements. key_length is the truth (a quoted key may hold "\u0000"). */
  char *key;
  size_t key_length;
  /* 1-based position of the key (of the value for array elements and the
   * root); 0 when toml++ did not record one. */
  uint32_t line, column;
  union {
    int64_t integer;
    double floating;
    bool boolean;
  } as;
  /* WP__TOML_STRING: NUL-terminated copy; string_length is the truth. */
  char *string;
  size_t string_length;
  /* WP__TOML_TABLE (in source order) and WP__TOML_ARRAY (in order). */
  wp__toml_node *children;
  size_t child_count;
};

/* Parses a whole document. source_name is only used in error messages. On a
 * syntax error returns WP_ECONFIG and writes "source_name:LINE:COLUMN: what
 * toml++ says" into err; WP_ENOMEM if a copy fails. *out (a root table) is
 * freed with wp__toml_free(). text need not be NUL-terminated. */
int wp__toml_parse(const char *text, size_t length, const char *source_name, wp__toml_node **out,
                   char *err, size_t err_len);

void wp__toml_free(wp__toml_node *root);

/* "a table", "an integer", ...: for "expected X, got Y" messages. */
const char *wp__toml_type_name(wp__toml_type type);

#ifdef __cplusplus
}
#endif
#endif /* WP_DAEMON_CONFIG_TOML_H */
