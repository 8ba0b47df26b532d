/* sort.c — sorting 20,000 32-bit keys with our own quicksort (median of
 * three, insertion sort below 16): branchy compares and swaps. Our own so
 * every engine sorts with the same code rather than its libc's qsort. */
#include "kernel.h"

#define KEYS 20000

static uint32_t keys[KEYS];

static void insertion_sort(uint32_t *a, int lo, int hi) {
  for (int i = lo + 1; i <= hi; i++) {
    uint32_t v = a[i];
    int j = i - 1;
    while (j >= lo && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

static void swap(uint32_t *a, int i, int j) {
  uint32_t t = a[i];
  a[i] = a[j];
  a[j] = t;
}

static void quicksort(uint32_t *a, int lo, int hi) {
  while (hi - lo >= 16) {
    int mid = lo + (hi - lo) / 2;
    if (a[mid] < a[lo])
      swap(a, mid, lo);
    if (a[hi] < a[lo])
      swap(a, hi, lo);
    if (a[hi] < a[mid])
      swap(a, hi, mid);
    uint32_t pivot = a[mid];
    int i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot)
        i++;
      while (a[j] > pivot)
        j--;
      if (i <= j)
        swap(a, i++, j--);
    }
    /* Recurse into the smaller side so the stack stays O(log n). */
    if (j - lo < hi - i) {
      quicksort(a, lo, j);
      lo = i;
    } else {
      quicksort(a, i, hi);
      hi = j;
    }
  }
  insertion_sort(a, lo, hi);
}

uint32_t bench(uint32_t n) {
  uint32_t sum = 0;
  for (uint32_t rep = 0; rep < n; rep++) {
    uint32_t seed = 2463534242u + rep;
    for (int i = 0; i < KEYS; i++)
      keys[i] = kernel_xorshift32(&seed);
    quicksort(keys, 0, KEYS - 1);
    sum = sum * 31 + keys[rep % KEYS] + keys[KEYS / 2];
  }
  return sum;
}
