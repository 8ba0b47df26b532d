/* tierup.h — background tier-up of deployed modules (issue 10).
 *
 * A deploy answers as soon as its tier-0 code (tcc) loads. The registry
 * then hands the module's bytes here: a small pool of threads, at a lower
 * CPU priority (nice, inherited by the compiler children), builds the
 * tier-1 code (cc -O2 on split outputs) and reports back; the registry
 * swaps the published module atomically, so new instances use tier 1 and
 * running ones finish on tier 0. Request workers never compile tier 1.
 *
 * Thread safety: submit from any thread; done runs on a tier-up thread.
 */
#ifndef WP_DAEMON_TIERUP_H
#define WP_DAEMON_TIERUP_H

#include <stddef.h>
#include <stdint.h>

#include "instance.h"

typedef struct wp_tierup wp_tierup;

/* A finished tier-up: module is the tier-1 module (a reference the callee
 * takes over) or NULL with err set. duration_us covers the build. */
typedef void (*wp_tierup_done_cb)(void *ctx, const char *name, const char *sha256,
                                  wp_module *module, uint64_t duration_us, const wp_error *err);

/* threads: builds at once (>= 1); nice_delta: added to each thread's
 * priority (0..19). */
int wp_tierup_create(wp_runtime *rt, unsigned threads, int nice_delta, wp_tierup_done_cb done,
                     void *ctx, wp_tierup **out);
/* Stops: pending jobs are dropped, running compiles are cancelled
 * (wp_runtime_cancel_compiles), threads joined. */
void wp_tierup_destroy(wp_tierup *t);

/* Queues name's bytes (copied) for a tier-1 build. A later submit of the
 * same name replaces a pending one. WP_ENOMEM. */
int wp_tierup_submit(wp_tierup *t, const char *name, const char *sha256, const uint8_t *wasm,
                     size_t wasm_len, uint64_t max_memory_bytes);

/* Jobs queued or building now. */
uint32_t wp_tierup_in_flight(wp_tierup *t);

#endif /* WP_DAEMON_TIERUP_H */
