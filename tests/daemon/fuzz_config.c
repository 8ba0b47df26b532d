/* fuzz_config.c — libFuzzer target for the config loader: arbitrary bytes go
 * through toml++ (config_toml.cpp) and the strict key walk (config.c). Any
 * input must give 0 or WP_ECONFIG with a message, never a crash, a leak or a
 * sanitizer report; a successful load must dump to TOML that loads again.
 *
 * Build (clang only): cmake -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
 *   -DWASMPOOL_SANITIZE=ON -DWASMPOOL_FUZZ=ON, then run
 *   build/tests/fuzz_config -max_total_time=60 configs/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  wp_daemon_config cfg;
  char err[512];
  int rc = wp_config_parse((const char *)data, size, "fuzz.toml", &cfg, err, sizeof(err));
  if (rc != 0) {
    if (rc != WP_ECONFIG && rc != WP_ENOMEM)
      abort();
    if (err[0] == '\0')
      abort(); /* every refusal explains itself */
    return 0;
  }
  char *text = NULL;
  size_t length = 0;
  FILE *out = open_memstream(&text, &length);
  if (out == NULL)
    abort();
  wp_config_dump(&cfg, out);
  fclose(out);
  wp_daemon_config again;
  if (wp_config_parse(text, length, "dump.toml", &again, err, sizeof(err)) != 0)
    abort(); /* --check-config output must always load */
  wp_config_free(&again);
  free(text);
  wp_config_free(&cfg);
  return 0;
}
