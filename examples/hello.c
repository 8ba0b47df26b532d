/* hello.c — WASI command: writes "hello, world\n" to stdout and exits 0.
 * The end-to-end latency benchmark runs this through `POST .../run`. */
#include <stdio.h>

int main(void) {
  fputs("hello, world\n", stdout);
  return 0;
}
