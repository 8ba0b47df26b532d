/* fib.c — recursive Fibonacci: calls, branches and the stack, no memory.
 * One unit: fib(25 + i % 2). The depth is read from a volatile so the
 * compiler cannot hoist the pure call out of the loop. */
#include "kernel.h"

static volatile uint32_t fib_depth = 25;

static uint32_t fib(uint32_t k) {
  return k < 2 ? k : fib(k - 1) + fib(k - 2);
}

uint32_t bench(uint32_t n) {
  uint32_t sum = 0;
  for (uint32_t i = 0; i < n; i++)
    sum = sum * 31 + fib(fib_depth + (i & 1));
  return sum;
}
