/* strsearch.c — Boyer-Moore-Horspool search for eight patterns in a 64 KiB
 * text over a 4-letter alphabet (DNA-like, so matches and near-matches are
 * common): byte loads, a skip table, unpredictable branches. Our own search
 * and our own byte compare, so no engine gets a different libc strstr/memmem
 * or a vectorised libc memcmp. */
#include "kernel.h"

#define TEXT_BYTES 65536
#define PATTERNS   8

static uint8_t text[TEXT_BYTES];

static int same_bytes(const uint8_t *a, const uint8_t *b, uint32_t length) {
  for (uint32_t i = 0; i < length; i++)
    if (a[i] != b[i])
      return 0;
  return 1;
}

static uint32_t horspool_count(const uint8_t *hay, uint32_t hay_len, const uint8_t *needle,
                               uint32_t needle_len) {
  uint32_t skip[256];
  for (int i = 0; i < 256; i++)
    skip[i] = needle_len;
  for (uint32_t i = 0; i + 1 < needle_len; i++)
    skip[needle[i]] = needle_len - 1 - i;
  uint32_t count = 0;
  uint32_t pos = 0;
  while (pos + needle_len <= hay_len) {
    uint8_t last = hay[pos + needle_len - 1];
    if (last == needle[needle_len - 1] && same_bytes(hay + pos, needle, needle_len - 1))
      count++;
    pos += skip[last];
  }
  return count;
}

uint32_t bench(uint32_t n) {
  static const char alphabet[4] = {'a', 'c', 'g', 't'};
  uint32_t seed = 7;
  for (uint32_t i = 0; i < TEXT_BYTES; i++)
    text[i] = (uint8_t)alphabet[kernel_xorshift32(&seed) & 3];
  uint32_t sum = 0;
  for (uint32_t rep = 0; rep < n; rep++) {
    for (int p = 0; p < PATTERNS; p++) {
      /* Patterns of 4..18 bytes taken from the text itself, so each occurs. */
      uint32_t len = 4 + (uint32_t)p * 2;
      uint32_t at = (rep * 977u + (uint32_t)p * 4099u) % (TEXT_BYTES - len);
      sum = sum * 31 + horspool_count(text, TEXT_BYTES, text + at, len);
    }
  }
  return sum;
}
