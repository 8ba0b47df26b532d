/* test_log.c — the event log: levels filter, text and JSON lines are whole
 * lines, JSON escapes what it must, threads never interleave. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "wp_errno.h"

static int pipe_fds[2];

static void setup(void) {
  cr_assert_eq(pipe(pipe_fds), 0);
  wp_log_set_fd(pipe_fds[1]);
}

static void teardown(void) {
  wp_log_set_fd(2);
  wp_log_setup(WP_LOG_INFO, WP_LOG_TEXT);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

/* Reads everything written so far (the pipe is non-empty or empty). */
static size_t drain(char *buf, size_t cap) {
  close(pipe_fds[1]);
  size_t len = 0;
  ssize_t n;
  while (len + 1 < cap && (n = read(pipe_fds[0], buf + len, cap - 1 - len)) > 0)
    len += (size_t)n;
  buf[len] = '\0';
  pipe_fds[1] = dup(2); /* teardown closes something harmless */
  return len;
}

TestSuite(log, .init = setup, .fini = teardown);

Test(log, parse_names) {
  wp_log_level level;
  cr_assert_eq(wp_log_level_parse("warning", &level), 0);
  cr_assert_eq(level, WP_LOG_WARN);
  cr_assert_eq(wp_log_level_parse("DEBUG", &level), 0);
  cr_assert_eq(level, WP_LOG_DEBUG);
  cr_assert_eq(wp_log_level_parse("loud", &level), WP_EINVAL);
  wp_log_format format;
  cr_assert_eq(wp_log_format_parse("json", &format), 0);
  cr_assert_eq(format, WP_LOG_JSON);
  cr_assert_eq(wp_log_format_parse("xml", &format), WP_EINVAL);
}

Test(log, level_filters_and_text_is_one_line) {
  wp_log_setup(WP_LOG_WARN, WP_LOG_TEXT);
  wp_log_info("hidden", "x=%d", 1);
  wp_log_warn("shown", "a=%d\nb=%d", 1, 2);
  char buf[8192];
  drain(buf, sizeof buf);
  cr_assert_null(strstr(buf, "hidden"));
  cr_assert_not_null(strstr(buf, " warn shown a=1 b=2\n"), "got: %s", buf);
  cr_assert_eq(strchr(buf, '\n'), buf + strlen(buf) - 1, "exactly one line");
}

Test(log, json_escapes) {
  wp_log_setup(WP_LOG_DEBUG, WP_LOG_JSON);
  wp_log_debug("ev\"t", "quote\" back\\ nl\n ctl\x01");
  char buf[8192];
  drain(buf, sizeof buf);
  cr_assert_not_null(strstr(buf, "\"level\":\"debug\",\"event\":\"ev\\\"t\""), "got: %s", buf);
  cr_assert_not_null(strstr(buf, "\"msg\":\"quote\\\" back\\\\ nl\\n ctl\\u0001\"}\n"), "got: %s",
                     buf);
}

Test(log, long_lines_are_cut_but_stay_valid) {
  wp_log_setup(WP_LOG_INFO, WP_LOG_JSON);
  static char big[10000];
  memset(big, 'x', sizeof big - 1);
  wp_log_info("big", "%s", big);
  char buf[16384];
  size_t len = drain(buf, sizeof buf);
  cr_assert_lt(len, 4200);
  cr_assert_not_null(strstr(buf, "...\"}\n"), "cut JSON line ends properly");
}

static void *log_many(void *arg) {
  for (int i = 0; i < 200; i++)
    wp_log_info("thread", "id=%ld i=%d padding=%s", (long)(intptr_t)arg, i, "0123456789abcdef");
  return NULL;
}

Test(log, threads_do_not_interleave) {
  /* The pipe buffer (64 KiB) must hold everything: 4 * 200 short lines. */
  wp_log_setup(WP_LOG_INFO, WP_LOG_TEXT);
  pthread_t threads[4];
  for (long i = 0; i < 4; i++)
    pthread_create(&threads[i], NULL, log_many, (void *)(intptr_t)i);
  for (int i = 0; i < 4; i++)
    pthread_join(threads[i], NULL);
  static char buf[65536];
  drain(buf, sizeof buf);
  int lines = 0;
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    lines++;
    cr_assert_not_null(strstr(line, " info thread id="), "line: %s", line);
    cr_assert_not_null(strstr(line, "padding=0123456789abcdef"), "line: %s", line);
  }
  cr_assert_eq(lines, 800);
}
