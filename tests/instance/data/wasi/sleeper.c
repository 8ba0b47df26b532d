/* sleeper.c — WASI command that sleeps forever in 10 s naps (poll_oneoff),
 * printing a line first, to test that a deadline still ends it. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("sleeping\n");
  fflush(stdout);
  for (;;)
    sleep(10);
}
