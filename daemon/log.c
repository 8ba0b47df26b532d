/* log.c — one line per event on stderr, text or JSON (see log.h).
 *
 * Every line is formatted into a stack buffer first and handed to the kernel
 * with a single write(2) under a mutex, so lines from the loop thread and the
 * workers never interleave and no line is ever half-written by us.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "wp_errno.h"

enum { LINE_MAX_BYTES = 4096 };

/* Process-wide on purpose: every thread logs through one sink, configured once
 * from the config file; atomics because workers read them while main() may
 * still be applying the config. */
static atomic_int log_min_level = WP_LOG_INFO;
static atomic_int log_format = WP_LOG_TEXT;
static atomic_int log_fd = 2;
static pthread_mutex_t log_write_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int wp_log_level_parse(const char *name, wp_log_level *out) {
  if (strcasecmp(name, "warning") == 0) {
    *out = WP_LOG_WARN;
    return 0;
  }
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(name, level_names[i]) == 0) {
      *out = (wp_log_level)i;
      return 0;
    }
  }
  return WP_EINVAL;
}

int wp_log_format_parse(const char *name, wp_log_format *out) {
  if (strcasecmp(name, "text") == 0) {
    *out = WP_LOG_TEXT;
    return 0;
  }
  if (strcasecmp(name, "json") == 0) {
    *out = WP_LOG_JSON;
    return 0;
  }
  return WP_EINVAL;
}

const char *wp_log_level_name(wp_log_level level) {
  if ((int)level < 0 || level > WP_LOG_ERROR)
    return "unknown";
  return level_names[level];
}

void wp_log_setup(wp_log_level min_level, wp_log_format format) {
  atomic_store(&log_min_level, (int)min_level);
  atomic_store(&log_format, (int)format);
}

void wp_log_set_fd(int fd) {
  atomic_store(&log_fd, fd);
}

bool wp_log_enabled(wp_log_level level) {
  return (int)level >= atomic_load(&log_min_level);
}

/* Appends src to buf[*len..cap) escaped as JSON string content; stops (and
 * reports false) when it does not fit. */
static bool append_json_escaped(char *buf, size_t *len, size_t cap, const char *src) {
  for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
    char esc[8];
    size_t n;
    switch (*p) {
    case '"': n = (size_t)snprintf(esc, sizeof esc, "\\\""); break;
    case '\\': n = (size_t)snprintf(esc, sizeof esc, "\\\\"); break;
    case '\n': n = (size_t)snprintf(esc, sizeof esc, "\\n"); break;
    case '\r': n = (size_t)snprintf(esc, sizeof esc, "\\r"); break;
    case '\t': n = (size_t)snprintf(esc, sizeof esc, "\\t"); break;
    default:
      if (*p < 0x20)
        n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p);
      else {
        esc[0] = (char)*p;
        n = 1;
      }
    }
    if (*len + n >= cap)
      return false;
    memcpy(buf + *len, esc, n);
    *len += n;
  }
  return true;
}

/* Text lines stay one line even when the detail carries a newline. */
static void append_text_flat(char *buf, size_t *len, size_t cap, const char *src) {
  for (const char *p = src; *p && *len + 1 < cap; p++)
    buf[(*len)++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
}

static void append_str(char *buf, size_t *len, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (*len + n >= cap)
    n = cap - 1 - *len;
  memcpy(buf + *len, src, n);
  *len += n;
}

void wp_log(wp_log_level level, const char *event, const char *fmt, ...) {
  if (!wp_log_enabled(level))
    return;

  char detail[LINE_MAX_BYTES];
  detail[0] = '\0';
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
  }

  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  char ts[96];
  snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);

  /* Room is kept for the closing "...\"}\n" so a cut line is still valid. */
  char line[LINE_MAX_BYTES + 64];
  size_t cap = LINE_MAX_BYTES;
  size_t len = 0;
  bool complete = true;
  if (atomic_load(&log_format) == WP_LOG_JSON) {
    append_str(line, &len, cap, "{\"ts\":\"");
    append_str(line, &len, cap, ts);
    append_str(line, &len, cap, "\",\"level\":\"");
    append_str(line, &len, cap, wp_log_level_name(level));
    append_str(line, &len, cap, "\",\"event\":\"");
    complete = append_json_escaped(line, &len, cap, event ? event : "");
    if (complete) {
      append_str(line, &len, cap, "\",\"msg\":\"");
      complete = append_json_escaped(line, &len, cap, detail);
    }
    if (!complete)
      append_str(line, &len, sizeof line, "...");
    append_str(line, &len, sizeof line, "\"}\n");
  } else {
    append_str(line, &len, cap, ts);
    append_str(line, &len, cap, " ");
    append_str(line, &len, cap, wp_log_level_name(level));
    append_str(line, &len, cap, " ");
    append_text_flat(line, &len, cap, event ? event : "");
    if (detail[0]) {
      append_str(line, &len, cap, " ");
      append_text_flat(line, &len, cap, detail);
    }
    if (len + 1 >= cap)
      append_str(line, &len, sizeof line, "...");
    append_str(line, &len, sizeof line, "\n");
  }

  int fd = atomic_load(&log_fd);
  pthread_mutex_lock(&log_write_lock);
  const char *p = line;
  size_t left = len;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* nowhere to report a failing log sink */
    p += n;
    left -= (size_t)n;
  }
  pthread_mutex_unlock(&log_write_lock);
}
