/* fuzz_reader.c — libFuzzer entry point for the Wasm binary reader (instance/reader.h).
 *
 * The checks live in check_reader.c so that test_regress.c replays saved
 * inputs through the same code in the normal build; here a broken property
 * becomes abort(), which libFuzzer records as a crash. Built only with
 * clang and -DWASMPOOL_FUZZ=ON; scripts/fuzz.sh runs it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char why[512] = "";
  if (wp_fuzz_reader(data, size, why, sizeof why) != 0) {
    fprintf(stderr, "fuzz_reader: %s\n", why);
    abort();
  }
  return 0;
}
