/* hello.c — WASI command: one line to stdout, one to stderr. */
#include <stdio.h>

int main(void) {
  printf("hello, world\n");
  fprintf(stderr, "to stderr\n");
  return 0;
}
