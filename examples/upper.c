/* upper.c — WASI command: a filter that copies stdin to stdout with ASCII
 * letters upper-cased; other bytes (UTF-8 included) pass through unchanged.
 * Exits 0 at end of input, 1 if a read or write fails. */
#include <stdio.h>

int main(void) {
  unsigned char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
    for (size_t i = 0; i < n; i++) {
      if (buf[i] >= 'a' && buf[i] <= 'z')
        buf[i] = (unsigned char)(buf[i] - 'a' + 'A');
    }
    if (fwrite(buf, 1, n, stdout) != n)
      return 1;
  }
  if (ferror(stdin) || fflush(stdout) != 0)
    return 1;
  return 0;
}
