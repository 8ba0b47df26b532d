/* test_instances.c — the long-lived instance table: unguessable ids,
 * lookups by id, removal while in use, poisoned instances, idle reaping. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_test_util.h"
#include "instances.h"

typedef struct fixture {
  wp_runtime *rt;
  wp_module *add, *trap;
} fixture;

static wp_module *load(wp_runtime *rt, const char *example) {
  size_t len;
  uint8_t *wasm = read_example(example, &len);
  wp_module_options opts = {0};
  wp_module *mod;
  wp_error err = {0};
  cr_assert_eq(wp_module_load(rt, wasm, len, &opts, &mod, &err), 0, "%s", err.message);
  free(wasm);
  return mod;
}

static wp_instance *instantiate(fixture *f, wp_module *mod) {
  wp_instance *inst;
  wp_error err = {0};
  cr_assert_eq(wp_instance_create(f->rt, mod, NULL, &inst, &err), 0, "%s", err.message);
  return inst;
}

static void fixture_init(fixture *f) {
  f->rt = test_runtime();
  f->add = load(f->rt, "add.wasm");
  f->trap = load(f->rt, "trap.wasm");
}

static void fixture_fini(fixture *f) {
  wp_module_release(f->add);
  wp_module_release(f->trap);
  wp_runtime_destroy(f->rt);
}

static bool is_hex_id(const char *id) {
  if (strlen(id) != WP_INSTANCE_ID_LEN)
    return false;
  return strspn(id, "0123456789abcdef") == WP_INSTANCE_ID_LEN;
}

Test(instances, add_get_call_remove) {
  fixture f;
  fixture_init(&f);
  wp_instance_table *table;
  cr_assert_eq(wp_instance_table_create(&table), 0);
  char a[WP_INSTANCE_ID_LEN + 1], b[WP_INSTANCE_ID_LEN + 1];
  cr_assert_eq(wp_instance_table_add(table, instantiate(&f, f.add), "add", a), 0);
  cr_assert_eq(wp_instance_table_add(table, instantiate(&f, f.add), "add", b), 0);
  cr_assert(is_hex_id(a) && is_hex_id(b));
  cr_assert_str_neq(a, b);
  cr_assert_eq(wp_instance_table_count(table), 2);

  wp_live_instance *live;
  cr_assert_eq(wp_instance_table_get(table, a, strlen(a), &live), 0);
  cr_assert_str_eq(wp_live_instance_id(live), a);
  cr_assert_str_eq(wp_live_instance_module(live), "add");
  wp_instance *inst = wp_live_instance_lock(live);
  cr_assert_not_null(inst);
  wp_val args[2] = {{.type = WP_I32, .of.i32 = 40}, {.type = WP_I32, .of.i32 = 2}};
  wp_val result;
  wp_error err = {0};
  cr_assert_eq(wp_instance_call(inst, "add", 3, args, 2, &result, 1, NULL, &err), 0);
  cr_assert_eq(result.of.i32, 42);
  wp_live_instance_unlock(live);

  /* Removed while we hold a reference: the next lock says so, and the
   * instance stays valid until we let go. */
  cr_assert_eq(wp_instance_table_remove(table, a, strlen(a)), 0);
  cr_assert_eq(wp_instance_table_remove(table, a, strlen(a)), WP_ENO_INSTANCE);
  cr_assert_null(wp_live_instance_lock(live));
  wp_live_instance_release(live);
  cr_assert_eq(wp_instance_table_get(table, a, strlen(a), &live), WP_ENO_INSTANCE);

  /* Not ids at all. */
  cr_assert_eq(wp_instance_table_get(table, "zz", 2, &live), WP_ENO_INSTANCE);
  char upper[WP_INSTANCE_ID_LEN + 1];
  memset(upper, 'G', WP_INSTANCE_ID_LEN);
  upper[WP_INSTANCE_ID_LEN] = 0;
  cr_assert_eq(wp_instance_table_get(table, upper, WP_INSTANCE_ID_LEN, &live), WP_ENO_INSTANCE);

  wp_instance_info *items;
  size_t count;
  bool more;
  cr_assert_eq(wp_instance_table_list(table, NULL, 0, &items, &count, &more), 0);
  cr_assert_eq(count, 1);
  cr_assert_not(more);
  cr_assert_str_eq(items[0].id, b);
  cr_assert_eq(items[0].calls, 0);
  free(items);
  wp_instance_table_destroy(table); /* releases b */
  fixture_fini(&f);
}

Test(instances, poisoned_instance_is_unfiled) {
  fixture f;
  fixture_init(&f);
  wp_instance_table *table;
  cr_assert_eq(wp_instance_table_create(&table), 0);
  char id[WP_INSTANCE_ID_LEN + 1];
  cr_assert_eq(wp_instance_table_add(table, instantiate(&f, f.trap), "trap", id), 0);
  wp_live_instance *live;
  cr_assert_eq(wp_instance_table_get(table, id, strlen(id), &live), 0);
  wp_instance *inst = wp_live_instance_lock(live);
  wp_call_options opts = {.deadline_ms = 50};
  wp_val result;
  wp_error err = {0};
  cr_assert_eq(wp_instance_call(inst, "spin", 4, NULL, 0, &result, 1, &opts, &err), WP_ETIMEOUT);
  cr_assert(wp_instance_poisoned(inst));
  wp_live_instance_unlock(live);
  cr_assert_eq(wp_instance_table_count(table), 0);
  cr_assert_eq(wp_instance_table_get(table, id, strlen(id), &live) == 0, false);
  wp_live_instance_release(live);
  wp_instance_table_destroy(table);
  fixture_fini(&f);
}

Test(instances, idle_reaping_skips_instances_in_use) {
  fixture f;
  fixture_init(&f);
  wp_instance_table *table;
  cr_assert_eq(wp_instance_table_create(&table), 0);
  char idle[WP_INSTANCE_ID_LEN + 1], busy[WP_INSTANCE_ID_LEN + 1];
  cr_assert_eq(wp_instance_table_add(table, instantiate(&f, f.add), "add", idle), 0);
  cr_assert_eq(wp_instance_table_add(table, instantiate(&f, f.add), "add", busy), 0);
  wp_live_instance *held;
  cr_assert_eq(wp_instance_table_get(table, busy, strlen(busy), &held), 0);
  cr_assert_eq(wp_instance_table_reap_idle(table, 60000), 0, "nothing is that old");
  usleep(30000);
  cr_assert_eq(wp_instance_table_reap_idle(table, 20), 1);
  wp_live_instance *live;
  cr_assert_eq(wp_instance_table_get(table, idle, strlen(idle), &live), WP_ENO_INSTANCE);
  cr_assert_eq(wp_instance_table_count(table), 1);
  wp_live_instance_release(held);
  cr_assert_eq(wp_instance_table_reap_idle(table, 20), 1, "reaped once nobody holds it");
  cr_assert_eq(wp_instance_table_count(table), 0);
  wp_instance_table_destroy(table);
  fixture_fini(&f);
}

/* 5,000 entries (the bucket array doubles past 1,024, 2,048 and 4,096):
 * each id still finds its own entry with its module name, removal finds
 * them after the moves, and a name of the longest length is kept whole.
 * The entries hold no wp_instance (destroy takes NULL), so the pool's size
 * does not matter. */
Test(instances, table_grows_and_keeps_every_entry) {
  enum { N = 5000 };
  wp_instance_table *table;
  cr_assert_eq(wp_instance_table_create(&table), 0);
  static char ids[N][WP_INSTANCE_ID_LEN + 1];
  char long_name[WP_REGISTRY_NAME_MAX + 1];
  memset(long_name, 'm', WP_REGISTRY_NAME_MAX);
  long_name[WP_REGISTRY_NAME_MAX] = '\0';
  for (int i = 0; i < N; i++)
    cr_assert_eq(wp_instance_table_add(table, NULL, i % 2 ? "odd" : long_name, ids[i]), 0);
  cr_assert_eq(wp_instance_table_count(table), N);
  for (int i = 0; i < N; i++) {
    wp_live_instance *live;
    cr_assert_eq(wp_instance_table_get(table, ids[i], WP_INSTANCE_ID_LEN, &live), 0, "entry %d", i);
    cr_assert_str_eq(wp_live_instance_id(live), ids[i]);
    cr_assert_str_eq(wp_live_instance_module(live), i % 2 ? "odd" : long_name);
    wp_live_instance_release(live);
  }
  /* Paging in id order: pages of 1,000 (the last one short), each id once,
   * ascending across pages. */
  char after[WP_INSTANCE_ID_LEN + 1] = "";
  size_t seen = 0, pages = 0;
  bool more = true;
  while (more) {
    wp_instance_info *items;
    size_t count;
    cr_assert_eq(wp_instance_table_list(table, after, 1000, &items, &count, &more), 0);
    cr_assert(count == 1000 || (!more && count == N % 1000), "page of %zu", count);
    for (size_t i = 0; i < count; i++) {
      cr_assert_gt(strcmp(items[i].id, after), 0, "ascending, past the cursor");
      memcpy(after, items[i].id, sizeof after);
    }
    seen += count;
    pages++;
    free(items);
  }
  cr_assert_eq(seen, N);
  cr_assert_eq(pages, (N + 999) / 1000);
  for (int i = 0; i < N; i += 2)
    cr_assert_eq(wp_instance_table_remove(table, ids[i], WP_INSTANCE_ID_LEN), 0, "entry %d", i);
  cr_assert_eq(wp_instance_table_count(table), N / 2);
  wp_live_instance *live;
  cr_assert_eq(wp_instance_table_get(table, ids[0], WP_INSTANCE_ID_LEN, &live), WP_ENO_INSTANCE);
  cr_assert_eq(wp_instance_table_get(table, ids[1], WP_INSTANCE_ID_LEN, &live), 0);
  wp_live_instance_release(live);
  wp_instance_table_destroy(table);
}
