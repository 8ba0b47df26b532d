/* tierup.c — the tier-up pool: a FIFO of module bytes and a few threads
 * that build them at tier 1 (see tierup.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tierup.h"

typedef struct job {
  char *name;
  char sha256[65];
  uint8_t *wasm;
  size_t wasm_len;
  uint64_t max_memory_bytes; /* the deploy's cap: part of how code is built */
  struct job *next;
} job;

struct wp_tierup {
  wp_runtime *rt;
  wp_tierup_done_cb done;
  void *ctx;
  int nice_delta;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  job *head, *tail;  /* pending (lock) */
  uint32_t building; /* (lock) */
  bool stop;         /* (lock) */
  pthread_t *threads;
  unsigned thread_count;
};

static void job_free(job *j) {
  if (!j)
    return;
  free(j->name);
  free(j->wasm);
  free(j);
}

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void build(wp_tierup *t, const job *j) {
  wp_module_options opts = {.tier = WP_TIER_OPTIMIZED, .max_memory_bytes = j->max_memory_bytes};
  wp_module *module = NULL;
  wp_error err = {0};
  uint64_t start = mono_us();
  int rc = wp_module_load(t->rt, j->wasm, j->wasm_len, &opts, &module, &err);
  if (rc != 0)
    module = NULL;
  t->done(t->ctx, j->name, j->sha256, module, mono_us() - start, rc != 0 ? &err : NULL);
}

static void *worker(void *arg) {
  wp_tierup *t = arg;
  /* Linux keeps a nice value per thread; the compilers this thread spawns
   * inherit it, so tier-1 builds yield the CPU to request workers. */
  setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), t->nice_delta);
  pthread_mutex_lock(&t->lock);
  for (;;) {
    while (!t->stop && !t->head)
      pthread_cond_wait(&t->wake, &t->lock);
    if (t->stop)
      break;
    job *j = t->head;
    t->head = j->next;
    if (!t->head)
      t->tail = NULL;
    t->building++;
    pthread_mutex_unlock(&t->lock);
    build(t, j);
    job_free(j);
    pthread_mutex_lock(&t->lock);
    t->building--;
  }
  pthread_mutex_unlock(&t->lock);
  return NULL;
}

int wp_tierup_create(wp_runtime *rt, unsigned threads, int nice_delta, wp_tierup_done_cb done,
                     void *ctx, wp_tierup **out) {
  wp_tierup *t = calloc(1, sizeof(*t));
  if (!t)
    return WP_ENOMEM;
  t->threads = calloc(threads ? threads : 1, sizeof(pthread_t));
  if (!t->threads) {
    free(t);
    return WP_ENOMEM;
  }
  t->rt = rt;
  t->done = done;
  t->ctx = ctx;
  t->nice_delta = nice_delta;
  pthread_mutex_init(&t->lock, NULL);
  pthread_cond_init(&t->wake, NULL);
  for (unsigned i = 0; i < (threads ? threads : 1); i++) {
    if (pthread_create(&t->threads[i], NULL, worker, t) != 0)
      break;
    t->thread_count++;
  }
  if (t->thread_count == 0) {
    wp_tierup_destroy(t);
    return WP_ESYS;
  }
  *out = t;
  return 0;
}

void wp_tierup_destroy(wp_tierup *t) {
  if (!t)
    return;
  pthread_mutex_lock(&t->lock);
  t->stop = true;
  pthread_cond_broadcast(&t->wake);
  pthread_mutex_unlock(&t->lock);
  /* A tier-1 compile of a large module takes minutes: kill it rather than
   * hold up shutdown (the cache keeps nothing half-built). */
  if (t->thread_count)
    wp_runtime_cancel_compiles(t->rt);
  for (unsigned i = 0; i < t->thread_count; i++)
    pthread_join(t->threads[i], NULL);
  while (t->head) {
    job *j = t->head;
    t->head = j->next;
    job_free(j);
  }
  pthread_cond_destroy(&t->wake);
  pthread_mutex_destroy(&t->lock);
  free(t->threads);
  free(t);
}

int wp_tierup_submit(wp_tierup *t, const char *name, const char *sha256, const uint8_t *wasm,
                     size_t wasm_len, uint64_t max_memory_bytes) {
  job *j = calloc(1, sizeof(*j));
  if (!j)
    return WP_ENOMEM;
  j->name = strdup(name);
  j->wasm = malloc(wasm_len ? wasm_len : 1);
  if (!j->name || !j->wasm) {
    job_free(j);
    return WP_ENOMEM;
  }
  memcpy(j->wasm, wasm, wasm_len);
  j->wasm_len = wasm_len;
  j->max_memory_bytes = max_memory_bytes;
  snprintf(j->sha256, sizeof(j->sha256), "%s", sha256);
  pthread_mutex_lock(&t->lock);
  /* A redeploy before the build started: only the newest bytes matter. */
  for (job **at = &t->head; *at; at = &(*at)->next) {
    if (strcmp((*at)->name, name) == 0) {
      job *old = *at;
      j->next = old->next;
      *at = j;
      if (t->tail == old)
        t->tail = j;
      pthread_mutex_unlock(&t->lock);
      job_free(old);
      return 0;
    }
  }
  if (t->tail)
    t->tail->next = j;
  else
    t->head = j;
  t->tail = j;
  pthread_cond_signal(&t->wake);
  pthread_mutex_unlock(&t->lock);
  return 0;
}

uint32_t wp_tierup_in_flight(wp_tierup *t) {
  uint32_t n = 0;
  pthread_mutex_lock(&t->lock);
  for (job *j = t->head; j; j = j->next)
    n++;
  n += t->building;
  pthread_mutex_unlock(&t->lock);
  return n;
}
