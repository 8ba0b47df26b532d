/* matmul.c — dense double-precision matrix multiply, C = A * B, 64 x 64.
 * One unit: one product; B is perturbed each time from the last result so
 * no repetition can be skipped. The checksum hashes C's bits, so it holds
 * only where every engine rounds exactly as IEEE 754 says (no FMA). */
#include <string.h>

#include "kernel.h"

#define DIM 64

static double mat_a[DIM][DIM], mat_b[DIM][DIM], mat_c[DIM][DIM];

uint32_t bench(uint32_t n) {
  uint32_t seed = 12345;
  for (int i = 0; i < DIM; i++)
    for (int j = 0; j < DIM; j++) {
      mat_a[i][j] = (double)(kernel_xorshift32(&seed) % 1000) / 1000.0;
      mat_b[i][j] = (double)(kernel_xorshift32(&seed) % 1000) / 1000.0;
    }
  uint32_t sum = 0;
  for (uint32_t rep = 0; rep < n; rep++) {
    for (int i = 0; i < DIM; i++)
      for (int j = 0; j < DIM; j++)
        mat_c[i][j] = 0.0;
    for (int i = 0; i < DIM; i++)
      for (int k = 0; k < DIM; k++) {
        double a = mat_a[i][k];
        for (int j = 0; j < DIM; j++)
          mat_c[i][j] += a * mat_b[k][j];
      }
    mat_b[rep % DIM][(rep * 7) % DIM] = mat_c[(rep * 3) % DIM][rep % DIM] / 64.0;
    uint64_t bits;
    memcpy(&bits, &mat_c[rep % DIM][(rep * 5) % DIM], sizeof bits);
    sum = sum * 31 + (uint32_t)(bits ^ (bits >> 32));
  }
  return sum;
}
