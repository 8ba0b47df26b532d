/* exit3.c — WASI command that ends through proc_exit(3) after flushing a line. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  printf("before exit\n");
  exit(3);
}
