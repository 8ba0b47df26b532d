/* decommit.c — the queue of released memory slots waiting for their reset.
 *
 * With decommit_batch_size 1 and no background thread, wp_memory_release()
 * resets the slot at once and this file is not involved. Otherwise a released
 * slot is marked busy in the index (so it can never be handed out before its
 * reset) and pushed here; once decommit_batch_size slots are pending, either
 * the releasing thread or the background thread takes the batch, resets each
 * slot (memory_pool.c) and returns them all to the index under one lock.
 * Batching moves the reset cost off the request (background) and amortises
 * the locking; each slot still costs one copy plus one madvise.
 *
 * A slot is in exactly one place: the index, this queue, or a batch being
 * reset (counted by in_flight). An acquire that finds the index empty while
 * slots are queued or in flight flushes and retries instead of failing, and
 * wp_pool_flush_decommits() waits for batches that others are resetting.
 */
#include <stdlib.h>

#include "alloc_internal.h"

static void *decommit_main(void *arg) {
  wp_pool *pool = arg;
  wp__decommit_queue *q = &pool->decommits;
  pthread_mutex_lock(&pool->memories.lock);
  while (!q->stop) {
    if (q->count >= pool->cfg.decommit_batch_size) {
      pthread_mutex_unlock(&pool->memories.lock);
      wp__decommit_run_batch(pool, pool->cfg.decommit_batch_size);
      pthread_mutex_lock(&pool->memories.lock);
      continue;
    }
    pthread_cond_wait(&q->wake, &pool->memories.lock);
  }
  pthread_mutex_unlock(&pool->memories.lock);
  return NULL;
}

int wp__decommit_init(wp_pool *pool) {
  wp__decommit_queue *q = &pool->decommits;
  q->head = WP__NO_SLOT;
  pthread_cond_init(&q->wake, NULL);
  pthread_cond_init(&q->drained, NULL);
  if (!pool->cfg.decommit_in_background)
    return 0;
  if (pthread_create(&q->thread, NULL, decommit_main, pool) != 0) {
    pthread_cond_destroy(&q->wake);
    pthread_cond_destroy(&q->drained);
    return WP_ESYS;
  }
  q->thread_running = true;
  return 0;
}

void wp__decommit_fini(wp_pool *pool) {
  wp__decommit_queue *q = &pool->decommits;
  if (q->thread_running) {
    pthread_mutex_lock(&pool->memories.lock);
    q->stop = true;
    pthread_cond_signal(&q->wake);
    pthread_mutex_unlock(&pool->memories.lock);
    pthread_join(q->thread, NULL);
    q->thread_running = false;
  }
  /* Pending slots need no reset: the whole reservation is about to go. */
  pthread_cond_destroy(&q->wake);
  pthread_cond_destroy(&q->drained);
}

bool wp__decommit_push_locked(wp_pool *pool, uint32_t s) {
  wp__decommit_queue *q = &pool->decommits;
  pool->memories.slots[s].pending_next = q->head;
  q->head = s;
  q->count++;
  if (q->count < pool->cfg.decommit_batch_size)
    return false;
  if (q->thread_running) {
    pthread_cond_signal(&q->wake);
    return false;
  }
  return true;
}

uint32_t wp__decommit_run_batch(wp_pool *pool, uint32_t max) {
  wp__decommit_queue *q = &pool->decommits;
  uint32_t batch[64];
  uint32_t total = 0;
  while (total < max) {
    uint32_t n = 0;
    pthread_mutex_lock(&pool->memories.lock);
    while (n < 64 && total + n < max && q->head != WP__NO_SLOT) {
      batch[n++] = q->head;
      q->head = pool->memories.slots[q->head].pending_next;
      q->count--;
    }
    q->in_flight += n;
    pthread_mutex_unlock(&pool->memories.lock);
    if (n == 0)
      break;
    for (uint32_t i = 0; i < n; i++)
      wp__memory_slot_reset(pool, batch[i]);
    wp__memory_slots_return(pool, batch, n);
    pthread_mutex_lock(&pool->memories.lock);
    q->in_flight -= n;
    if (q->in_flight == 0)
      pthread_cond_broadcast(&q->drained);
    pthread_mutex_unlock(&pool->memories.lock);
    total += n;
  }
  return total;
}

void wp_pool_flush_decommits(wp_pool *pool) {
  wp__decommit_queue *q = &pool->decommits;
  wp__decommit_run_batch(pool, UINT32_MAX);
  pthread_mutex_lock(&pool->memories.lock);
  while (q->in_flight > 0)
    pthread_cond_wait(&q->drained, &pool->memories.lock);
  pthread_mutex_unlock(&pool->memories.lock);
}
