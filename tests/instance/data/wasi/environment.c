/* environment.c — WASI command that prints what the host gave it: args,
 * one variable, whether clocks, sleep and random work, and what opening a
 * file answers (there are no preopens). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  struct timespec before, after, pause = {0, 2000000};
  unsigned char random_bytes[32] = {0};
  int nonzero = 0;
  FILE *f;

  for (int i = 0; i < argc; i++)
    printf("argv[%d]=%s\n", i, argv[i]);
  printf("GREETING=%s\n", getenv("GREETING") ? getenv("GREETING") : "(unset)");

  clock_gettime(CLOCK_MONOTONIC, &before);
  nanosleep(&pause, NULL);
  clock_gettime(CLOCK_MONOTONIC, &after);
  long long slept_ns =
      (after.tv_sec - before.tv_sec) * 1000000000LL + (after.tv_nsec - before.tv_nsec);
  printf("slept>=2ms=%d\n", slept_ns >= 2000000);
  printf("realtime=%lld\n", (long long)time(NULL));

  if (getentropy(random_bytes, sizeof(random_bytes)) == 0)
    for (size_t i = 0; i < sizeof(random_bytes); i++)
      nonzero += random_bytes[i] != 0;
  printf("random_nonzero>=16=%d\n", nonzero >= 16);

  f = fopen("/etc/passwd", "r");
  printf("fopen=%s\n", f ? "opened" : "failed");
  return argc;
}
