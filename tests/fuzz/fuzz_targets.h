/* fuzz_targets.h — the per-target checks shared by the libFuzzer entry
 * points (fuzz_reader.c, fuzz_args.c, built with clang) and the Criterion
 * replay test (test_regress.c, built in every configuration), so an input
 * that once crashed or broke a property is replayed through exactly the
 * code the fuzzer ran.
 *
 * Each check feeds one input to the code under test and verifies what its
 * header promises. It returns 0 when the input was handled correctly
 * (accepted or refused with a message), or -1 with `why` saying which
 * property broke; the fuzz entry points turn -1 into abort(). A memory error
 * is left for the sanitizers to report.
 */
#ifndef WP_FUZZ_TARGETS_H
#define WP_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* instance/reader.h: wp__module_read, and on success the derived queries,
 * wp__module_strip_active_data and a re-read of the stripped module. */
int wp_fuzz_reader(const uint8_t *data, size_t size, char *why, size_t why_len);

/* daemon/args.h: a call body as the daemon parses it ({"args":[...]}),
 * decoded against several signatures; each success is encoded back as a
 * result array, sent through JSON text and decoded to the same values. */
int wp_fuzz_args(const uint8_t *data, size_t size, char *why, size_t why_len);

#endif /* WP_FUZZ_TARGETS_H */
