/* log.h — the daemon's event log: one line per event on stderr.
 *
 * Each line names a level, an event (a short stable word such as
 * "listening" or "request") and free-form detail, in text:
 *
 *   2026-11-22T01:35:01.123Z info listening path=/run/wasmpool.sock
 *
 * or in JSON, one object per line, for log shippers:
 *
 *   {"ts":"2026-11-22T01:35:01.123Z","level":"info","event":"listening","msg":"path=..."}
 *
 * The logger is process-wide: any thread (the loop, workers, signal-free
 * contexts) may log, and a line is formatted whole and written with one
 * write(2) so lines from different threads never interleave.
 */
#ifndef WP_DAEMON_LOG_H
#define WP_DAEMON_LOG_H

#include <stdbool.h>

/* wp_log_level and wp_log_format are declared in config.h (the [log] table
 * sets them); this header adds the sink. */
#include "config.h"

/* Parses "debug", "info", "warn"/"warning", "error"; WP_EINVAL otherwise. */
int wp_log_level_parse(const char *name, wp_log_level *out);
/* Parses "text", "json"; WP_EINVAL otherwise. */
int wp_log_format_parse(const char *name, wp_log_format *out);
const char *wp_log_level_name(wp_log_level level);

/* Sets the minimum level and format; may be called again (e.g. after the
 * config is read). Default: info, text, fd 2. */
void wp_log_setup(wp_log_level min_level, wp_log_format format);
/* Redirects output to another descriptor (tests); the logger never closes it. */
void wp_log_set_fd(int fd);
bool wp_log_enabled(wp_log_level level);

/* Logs one event. fmt/... give the detail (may be NULL). Lines longer than
 * 4 KiB are cut and end with "...". */
void wp_log(wp_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define wp_log_debug(event, ...) wp_log(WP_LOG_DEBUG, event, __VA_ARGS__)
#define wp_log_info(event, ...)  wp_log(WP_LOG_INFO, event, __VA_ARGS__)
#define wp_log_warn(event, ...)  wp_log(WP_LOG_WARN, event, __VA_ARGS__)
#define wp_log_error(event, ...) wp_log(WP_LOG_ERROR, event, __VA_ARGS__)

#endif /* WP_DAEMON_LOG_H */
