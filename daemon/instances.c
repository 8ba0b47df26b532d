/* instances.c — the table of long-lived instances (see instances.h for the
 * lifetime rules).
 *
 * Hash buckets, chained, under one mutex: ids are random, so their first 16
 * hex digits are already a good hash. The bucket array doubles when entries
 * outnumber buckets, so chains stay short at 100,000 live instances (a
 * fixed 4,096 gave chains of ~25 there). Lookups hold the mutex only to find
 * the entry and bump its count; guest code never runs under it.
 *
 * An entry is one allocation: the module name is stored at its length after
 * the struct (a fixed WP_REGISTRY_NAME_MAX + 1 array cost 129 bytes a live
 * instance whatever the name).
 */
#include "instances.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define MIN_BUCKETS 1024 /* a power of two; the array doubles from here */

struct wp_live_instance {
  char id[WP_INSTANCE_ID_LEN + 1];
  wp_instance *inst;
  wp_instance_table *table;
  atomic_int refs;
  pthread_mutex_t call_lock; /* one call at a time */
  atomic_bool filed;         /* in the table; cleared once, under table->lock */
  int64_t created_at_ms;
  atomic_uint_fast64_t last_used_ms; /* monotonic clock */
  atomic_uint_fast64_t calls;
  wp_live_instance *next; /* bucket chain, under table->lock */
  char module[];          /* NUL-terminated, as long as the name */
};

struct wp_instance_table {
  pthread_mutex_t lock;
  wp_live_instance **buckets; /* bucket_count chains, under lock */
  size_t bucket_count;        /* a power of two, >= MIN_BUCKETS */
  size_t count;
};

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Hash of an id (its first 16 hex digits); false when it is not a
 * well-formed id (then it cannot exist). */
static bool hash_of(const char *id, size_t len, uint64_t *hash) {
  if (len != WP_INSTANCE_ID_LEN)
    return false;
  uint64_t h = 0;
  for (size_t i = 0; i < len; i++) {
    int v = hex_value(id[i]);
    if (v < 0)
      return false;
    if (i < 16)
      h = (h << 4) | (uint64_t)v;
  }
  *hash = h;
  return true;
}

/* Bucket of a filed entry's id (always well formed). */
static size_t bucket_of_live(const wp_instance_table *table, const wp_live_instance *live) {
  uint64_t hash = 0;
  hash_of(live->id, WP_INSTANCE_ID_LEN, &hash);
  return (size_t)(hash & (table->bucket_count - 1));
}

int wp_instance_table_create(wp_instance_table **out) {
  wp_instance_table *table = calloc(1, sizeof *table);
  if (!table)
    return WP_ENOMEM;
  table->buckets = calloc(MIN_BUCKETS, sizeof *table->buckets);
  if (!table->buckets) {
    free(table);
    return WP_ENOMEM;
  }
  table->bucket_count = MIN_BUCKETS;
  pthread_mutex_init(&table->lock, NULL);
  *out = table;
  return 0;
}

/* Doubles the bucket array once entries outnumber buckets; table->lock held.
 * When the larger array cannot be allocated the table keeps its buckets
 * (longer chains, still correct). */
static void grow_locked(wp_instance_table *table) {
  if (table->count <= table->bucket_count)
    return;
  size_t new_count = table->bucket_count * 2;
  wp_live_instance **new_buckets = calloc(new_count, sizeof *new_buckets);
  if (!new_buckets)
    return;
  wp_live_instance **old_buckets = table->buckets;
  size_t old_count = table->bucket_count;
  table->buckets = new_buckets;
  table->bucket_count = new_count;
  for (size_t b = 0; b < old_count; b++) {
    wp_live_instance *live = old_buckets[b];
    while (live) {
      wp_live_instance *next = live->next;
      size_t nb = bucket_of_live(table, live);
      live->next = new_buckets[nb];
      new_buckets[nb] = live;
      live = next;
    }
  }
  free(old_buckets);
}

static void live_free(wp_live_instance *live) {
  wp_instance_destroy(live->inst);
  pthread_mutex_destroy(&live->call_lock);
  free(live);
}

void wp_live_instance_release(wp_live_instance *live) {
  if (atomic_fetch_sub(&live->refs, 1) == 1)
    live_free(live);
}

/* Unlinks live from its bucket; table->lock held. The caller then drops the
 * table's reference (outside the lock: it may destroy the instance). */
static void unfile_locked(wp_instance_table *table, wp_live_instance *live) {
  size_t b = bucket_of_live(table, live);
  for (wp_live_instance **p = &table->buckets[b]; *p; p = &(*p)->next) {
    if (*p == live) {
      *p = live->next;
      live->next = NULL;
      atomic_store(&live->filed, false);
      table->count--;
      return;
    }
  }
}

void wp_instance_table_destroy(wp_instance_table *table) {
  if (!table)
    return;
  for (size_t b = 0; b < table->bucket_count; b++) {
    wp_live_instance *live = table->buckets[b];
    while (live) {
      wp_live_instance *next = live->next;
      atomic_store(&live->filed, false);
      wp_live_instance_release(live);
      live = next;
    }
  }
  pthread_mutex_destroy(&table->lock);
  free(table->buckets);
  free(table);
}

int wp_instance_table_add(wp_instance_table *table, wp_instance *inst, const char *module_name,
                          char id[WP_INSTANCE_ID_LEN + 1]) {
  size_t name_len = strnlen(module_name, WP_REGISTRY_NAME_MAX);
  wp_live_instance *live = calloc(1, sizeof *live + name_len + 1);
  if (!live)
    return WP_ENOMEM;
  unsigned char rnd[WP_INSTANCE_ID_LEN / 2];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
    free(live);
    return WP_ESYS;
  }
  for (size_t i = 0; i < sizeof rnd; i++)
    snprintf(&live->id[2 * i], 3, "%02x", rnd[i]);
  memcpy(live->module, module_name, name_len);
  live->module[name_len] = '\0';
  live->inst = inst;
  live->table = table;
  atomic_init(&live->refs, 1);
  pthread_mutex_init(&live->call_lock, NULL);
  atomic_init(&live->filed, true);
  live->created_at_ms = wall_ms();
  atomic_init(&live->last_used_ms, mono_ms());
  atomic_init(&live->calls, 0);

  pthread_mutex_lock(&table->lock);
  size_t b = bucket_of_live(table, live);
  live->next = table->buckets[b];
  table->buckets[b] = live;
  table->count++;
  grow_locked(table);
  pthread_mutex_unlock(&table->lock);
  memcpy(id, live->id, WP_INSTANCE_ID_LEN + 1);
  return 0;
}

static wp_live_instance *find_locked(wp_instance_table *table, const char *id, size_t id_len) {
  uint64_t hash;
  if (!hash_of(id, id_len, &hash))
    return NULL;
  size_t b = (size_t)(hash & (table->bucket_count - 1));
  for (wp_live_instance *live = table->buckets[b]; live; live = live->next)
    if (memcmp(live->id, id, WP_INSTANCE_ID_LEN) == 0)
      return live;
  return NULL;
}

int wp_instance_table_get(wp_instance_table *table, const char *id, size_t id_len,
                          wp_live_instance **out) {
  pthread_mutex_lock(&table->lock);
  wp_live_instance *live = find_locked(table, id, id_len);
  if (live)
    atomic_fetch_add(&live->refs, 1);
  pthread_mutex_unlock(&table->lock);
  if (!live)
    return WP_ENO_INSTANCE;
  *out = live;
  return 0;
}

int wp_instance_table_remove(wp_instance_table *table, const char *id, size_t id_len) {
  pthread_mutex_lock(&table->lock);
  wp_live_instance *live = find_locked(table, id, id_len);
  if (live)
    unfile_locked(table, live);
  pthread_mutex_unlock(&table->lock);
  if (!live)
    return WP_ENO_INSTANCE;
  wp_live_instance_release(live);
  return 0;
}

wp_instance *wp_live_instance_lock(wp_live_instance *live) {
  pthread_mutex_lock(&live->call_lock);
  if (!atomic_load(&live->filed)) {
    pthread_mutex_unlock(&live->call_lock);
    return NULL;
  }
  return live->inst;
}

void wp_live_instance_unlock(wp_live_instance *live) {
  atomic_store(&live->last_used_ms, mono_ms());
  atomic_fetch_add(&live->calls, 1);
  bool drop = false;
  if (wp_instance_poisoned(live->inst)) {
    wp_instance_table *table = live->table;
    pthread_mutex_lock(&table->lock);
    if (atomic_load(&live->filed)) {
      unfile_locked(table, live);
      drop = true;
    }
    pthread_mutex_unlock(&table->lock);
  }
  pthread_mutex_unlock(&live->call_lock);
  if (drop)
    wp_live_instance_release(live); /* the table's reference; the caller holds one */
}

const char *wp_live_instance_id(const wp_live_instance *live) {
  return live->id;
}

const char *wp_live_instance_module(const wp_live_instance *live) {
  return live->module;
}

size_t wp_instance_table_reap_idle(wp_instance_table *table, uint64_t idle_ms) {
  uint64_t now = mono_ms();
  wp_live_instance *reaped = NULL;
  size_t n = 0;
  pthread_mutex_lock(&table->lock);
  for (size_t b = 0; b < table->bucket_count; b++) {
    wp_live_instance *live = table->buckets[b];
    while (live) {
      wp_live_instance *next = live->next;
      /* refs == 1: only the table holds it, so no call is queued or running
       * (gets take their reference under this lock). */
      if (atomic_load(&live->refs) == 1 && now - atomic_load(&live->last_used_ms) >= idle_ms) {
        unfile_locked(table, live);
        live->next = reaped;
        reaped = live;
        n++;
      }
      live = next;
    }
  }
  pthread_mutex_unlock(&table->lock);
  while (reaped) {
    wp_live_instance *next = reaped->next;
    wp_live_instance_release(reaped);
    reaped = next;
  }
  return n;
}

size_t wp_instance_table_count(wp_instance_table *table) {
  pthread_mutex_lock(&table->lock);
  size_t n = table->count;
  pthread_mutex_unlock(&table->lock);
  return n;
}

/* A max-heap on id of the page being selected: heap[0] is the largest id
 * kept, the one to drop when a smaller one turns up. */
static int id_cmp(const wp_instance_info *a, const wp_instance_info *b) {
  return memcmp(a->id, b->id, WP_INSTANCE_ID_LEN);
}

static void heap_sift_down(wp_instance_info *heap, size_t n, size_t i) {
  for (;;) {
    size_t largest = i, l = 2 * i + 1, r = l + 1;
    if (l < n && id_cmp(&heap[l], &heap[largest]) > 0)
      largest = l;
    if (r < n && id_cmp(&heap[r], &heap[largest]) > 0)
      largest = r;
    if (largest == i)
      return;
    wp_instance_info tmp = heap[i];
    heap[i] = heap[largest];
    heap[largest] = tmp;
    i = largest;
  }
}

static void heap_sift_up(wp_instance_info *heap, size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (id_cmp(&heap[i], &heap[parent]) <= 0)
      return;
    wp_instance_info tmp = heap[i];
    heap[i] = heap[parent];
    heap[parent] = tmp;
    i = parent;
  }
}

static int info_cmp(const void *a, const void *b) {
  return id_cmp(a, b);
}

static void fill_info(wp_instance_info *info, const wp_live_instance *live, uint64_t now) {
  memcpy(info->id, live->id, sizeof info->id);
  snprintf(info->module, sizeof info->module, "%s", live->module);
  info->created_at_ms = live->created_at_ms;
  uint64_t last = atomic_load(&live->last_used_ms);
  info->idle_ms = now > last ? now - last : 0;
  info->calls = atomic_load(&live->calls);
}

int wp_instance_table_list(wp_instance_table *table, const char *after, size_t limit,
                           wp_instance_info **items, size_t *count, bool *more) {
  if (limit == 0 || limit > WP_INSTANCE_LIST_MAX)
    limit = WP_INSTANCE_LIST_MAX;
  bool from_start = !after || !after[0];
  /* One slot past the page: filling it says that more entries remain. */
  wp_instance_info *heap = calloc(limit + 1, sizeof *heap);
  if (!heap)
    return WP_ENOMEM;
  uint64_t now = mono_ms();
  size_t n = 0;
  bool over = false;
  pthread_mutex_lock(&table->lock);
  for (size_t b = 0; b < table->bucket_count; b++) {
    for (wp_live_instance *live = table->buckets[b]; live; live = live->next) {
      if (!from_start && strncmp(live->id, after, WP_INSTANCE_ID_LEN) <= 0)
        continue;
      if (n < limit) {
        fill_info(&heap[n], live, now);
        heap_sift_up(heap, n++);
        continue;
      }
      over = true;
      if (memcmp(live->id, heap[0].id, WP_INSTANCE_ID_LEN) >= 0)
        continue;
      fill_info(&heap[0], live, now);
      heap_sift_down(heap, n, 0);
    }
  }
  pthread_mutex_unlock(&table->lock);
  qsort(heap, n, sizeof *heap, info_cmp);
  *items = heap;
  *count = n;
  *more = over;
  return 0;
}
