/* upper.c — WASI filter: stdin to stdout, upper-cased, in small reads so
 * fd_read is called many times before EOF. */
#include <ctype.h>
#include <stdio.h>

int main(void) {
  char buf[7];
  size_t n;
  setvbuf(stdin, NULL, _IONBF, 0);
  while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
    for (size_t i = 0; i < n; i++)
      buf[i] = (char)toupper((unsigned char)buf[i]);
    fwrite(buf, 1, n, stdout);
  }
  return ferror(stdin) ? 1 : 0;
}
