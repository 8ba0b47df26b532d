/* instances.h — long-lived instances, addressed by an unguessable id.
 *
 * POST /v1/modules/{name}/instances creates one; calls address it by id
 * until DELETE /v1/instances/{id} or the idle timeout releases it. Ids are
 * 128 random bits from getrandom() in hex: knowing one id tells nothing about
 * another, so a client can only reach instances it was told about.
 *
 * Lifetime: the table holds one reference to each live entry; every user
 * (a queued or running call) holds another. Removing an entry (DELETE, idle
 * timeout, a call that poisoned the instance) drops the table's reference;
 * the wp_instance is destroyed, and its slots released, with the last
 * reference, so a call in progress always finishes on a valid instance.
 *
 * One call at a time per instance: wp_live_instance_lock() takes the
 * instance's mutex (a second call waits on its worker).
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef WP_DAEMON_INSTANCES_H
#define WP_DAEMON_INSTANCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "instance.h"
#include "registry.h"

#define WP_INSTANCE_ID_LEN 32 /* hex digits of a 128-bit id */

typedef struct wp_instance_table wp_instance_table;
typedef struct wp_live_instance wp_live_instance;

int wp_instance_table_create(wp_instance_table **out);
/* Drops every entry (their instances die with their last reference). */
void wp_instance_table_destroy(wp_instance_table *table);

/* Takes ownership of inst and files it under a fresh id (written to id, NUL
 * terminated). module_name is copied. WP_ENOMEM, WP_ESYS (no randomness). */
int wp_instance_table_add(wp_instance_table *table, wp_instance *inst, const char *module_name,
                          char id[WP_INSTANCE_ID_LEN + 1]);

/* Finds an entry and takes a reference to it. WP_ENO_INSTANCE. */
int wp_instance_table_get(wp_instance_table *table, const char *id, size_t id_len,
                          wp_live_instance **out);
void wp_live_instance_release(wp_live_instance *live);

/* Unfiles an entry. WP_ENO_INSTANCE when no such id (or already removed). */
int wp_instance_table_remove(wp_instance_table *table, const char *id, size_t id_len);

/* For the call: waits for the instance's mutex. Returns the instance, or
 * NULL when the entry was removed meanwhile (answer unknown_instance). */
wp_instance *wp_live_instance_lock(wp_live_instance *live);
/* After the call: marks it used now; a poisoned instance (timeout, stack
 * exhaustion) is unfiled so nobody calls it again. */
void wp_live_instance_unlock(wp_live_instance *live);
const char *wp_live_instance_id(const wp_live_instance *live);
const char *wp_live_instance_module(const wp_live_instance *live);

/* Unfiles every entry unused for idle_ms or longer and not in use right now.
 * Returns how many. */
size_t wp_instance_table_reap_idle(wp_instance_table *table, uint64_t idle_ms);

size_t wp_instance_table_count(wp_instance_table *table);

typedef struct wp_instance_info {
  char id[WP_INSTANCE_ID_LEN + 1];
  char module[WP_REGISTRY_NAME_MAX + 1];
  int64_t created_at_ms; /* Unix time */
  uint64_t idle_ms;      /* since the last call ended (or creation) */
  uint64_t calls;
} wp_instance_info;

/* One page of a listing in id order: the (at most limit) entries whose id
 * sorts after `after` (NULL or "": from the start), ascending. *more says
 * whether entries remain past the page (ask again with after = the last
 * id). limit 0 means WP_INSTANCE_LIST_MAX. The table's lock is held for one
 * pass over the entries (O(entries x log limit)); the page is built outside
 * it. free() *items. WP_ENOMEM. */
#define WP_INSTANCE_LIST_DEFAULT 1000
#define WP_INSTANCE_LIST_MAX     10000
int wp_instance_table_list(wp_instance_table *table, const char *after, size_t limit,
                           wp_instance_info **items, size_t *count, bool *more);

#endif /* WP_DAEMON_INSTANCES_H */
