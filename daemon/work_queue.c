/* work_queue.c — a fixed set of worker threads behind a bounded FIFO.
 *
 * Two kinds of list, each under its own mutex:
 *   pending  jobs waiting for a worker (at most `capacity` of them);
 *   finished one per home (a loop that submits): jobs whose work ran,
 *            waiting for that loop to call done.
 * A worker pops from pending, runs work without any lock held, pushes to
 * its job's home and pokes that loop with uv_async_send (coalescing is fine:
 * the loop drains the whole finished list on each wake-up).
 *
 * Submit signals the condition variable only when a worker sleeps on it and
 * was not already woken for an earlier job, and after unlocking: signalling
 * under the lock made the woken worker block at once on the mutex the loop
 * still held (a futex wait and wake more per request). A worker that is
 * awake always looks at pending before it sleeps, so no job waits for a
 * signal it did not get.
 *
 * Why not uv_queue_work: libuv's pool is shared with its own fs/dns work,
 * sized by an environment variable, and its queue is unbounded, so it can
 * neither say "full" nor keep guest code from starving file operations.
 */
#include "work_queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wp_errno.h"

struct wp_work_home {
  uv_async_t wakeup; /* workers -> loop: finished list is non-empty */
  wp_work_queue *queue;
  pthread_mutex_t lock;
  wp_job *finished_head, *finished_tail;
};

struct wp_work_queue {
  uv_loop_t *loop;
  wp_work_home home; /* for wp_work_queue_submit */
  pthread_t *threads;
  uint32_t thread_count;
  size_t capacity;

  pthread_mutex_t lock; /* guards pending, waiting, busy, idle, exiting, counters */
  pthread_cond_t has_work;
  wp_job *pending_head, *pending_tail;
  size_t waiting;
  uint32_t busy;
  uint32_t idle;      /* workers in pthread_cond_wait */
  uint32_t signalled; /* of those, signalled and not yet awake */
  bool exiting;       /* workers leave once pending is empty */
  uint64_t completed;
  uint64_t rejected;

  /* Any thread: several loops submit. */
  atomic_bool stopped;
  atomic_size_t outstanding;
};

/* The pool runs the long work (compiles, guests that ran long before) at
 * the lowest priority, so that a loop woken by a request gets a core at once
 * instead of waiting for a spinning guest's time slice to end (DAEMON.md,
 * "Head-of-line blocking"). The compilers a deploy spawns inherit it: on a
 * busy machine deploys yield to requests. */
#define POOL_NICE 19

static void *worker_main(void *arg) {
  wp_work_queue *queue = arg;
  /* Linux: nice values are per thread. Failing is harmless. */
  (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), POOL_NICE);
  pthread_mutex_lock(&queue->lock);
  for (;;) {
    while (!queue->pending_head && !queue->exiting) {
      queue->idle++;
      pthread_cond_wait(&queue->has_work, &queue->lock);
      queue->idle--;
      if (queue->signalled)
        queue->signalled--;
    }
    wp_job *job = queue->pending_head;
    if (!job)
      break; /* exiting and nothing left */
    queue->pending_head = job->next_;
    if (!queue->pending_head)
      queue->pending_tail = NULL;
    queue->waiting--;
    queue->busy++;
    pthread_mutex_unlock(&queue->lock);

    job->work(job);
    job->next_ = NULL;

    wp_work_home *home = job->home_;
    pthread_mutex_lock(&home->lock);
    if (home->finished_tail)
      home->finished_tail->next_ = job;
    else
      home->finished_head = job;
    home->finished_tail = job;
    pthread_mutex_unlock(&home->lock);
    uv_async_send(&home->wakeup);

    pthread_mutex_lock(&queue->lock);
    queue->busy--;
    queue->completed++;
  }
  pthread_mutex_unlock(&queue->lock);
  return NULL;
}

static void run_finished(wp_work_home *home) {
  pthread_mutex_lock(&home->lock);
  wp_job *job = home->finished_head;
  home->finished_head = home->finished_tail = NULL;
  pthread_mutex_unlock(&home->lock);
  while (job) {
    wp_job *next = job->next_; /* done may free the job */
    atomic_fetch_sub(&home->queue->outstanding, 1);
    job->done(job);
    job = next;
  }
}

static void on_wakeup(uv_async_t *handle) {
  run_finished(handle->data);
}

static int home_init(wp_work_home *home, wp_work_queue *queue, uv_loop_t *loop) {
  home->queue = queue;
  pthread_mutex_init(&home->lock, NULL);
  if (uv_async_init(loop, &home->wakeup, on_wakeup) != 0) {
    pthread_mutex_destroy(&home->lock);
    return WP_ESYS;
  }
  home->wakeup.data = home;
  return 0;
}

static void on_home_closed(uv_handle_t *handle) {
  wp_work_home *home = handle->data;
  pthread_mutex_destroy(&home->lock);
  free(home);
}

int wp_work_home_create(wp_work_queue *queue, uv_loop_t *loop, wp_work_home **out) {
  wp_work_home *home = calloc(1, sizeof *home);
  if (!home)
    return WP_ENOMEM;
  int rc = home_init(home, queue, loop);
  if (rc) {
    free(home);
    return rc;
  }
  *out = home;
  return 0;
}

void wp_work_home_close(wp_work_home *home) {
  run_finished(home);
  uv_close((uv_handle_t *)&home->wakeup, on_home_closed);
}

int wp_work_queue_create(uv_loop_t *loop, uint32_t workers, size_t capacity, size_t stack_bytes,
                         wp_work_queue **out) {
  if (workers == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    workers = cpus > 0 ? (uint32_t)cpus : 1;
  }
  if (capacity == 0)
    return WP_EINVAL;
  wp_work_queue *queue = calloc(1, sizeof *queue);
  if (!queue)
    return WP_ENOMEM;
  queue->threads = calloc(workers, sizeof *queue->threads);
  if (!queue->threads) {
    free(queue);
    return WP_ENOMEM;
  }
  queue->loop = loop;
  queue->capacity = capacity;
  pthread_mutex_init(&queue->lock, NULL);
  pthread_cond_init(&queue->has_work, NULL);
  if (home_init(&queue->home, queue, loop) != 0) {
    free(queue->threads);
    free(queue);
    return WP_ESYS;
  }

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (stack_bytes)
    pthread_attr_setstacksize(&attr, stack_bytes);
  for (uint32_t i = 0; i < workers; i++) {
    if (pthread_create(&queue->threads[i], &attr, worker_main, queue) != 0) {
      pthread_attr_destroy(&attr);
      queue->thread_count = i;
      wp_work_queue_destroy(queue);
      return WP_ESYS;
    }
    queue->thread_count = i + 1;
  }
  pthread_attr_destroy(&attr);
  *out = queue;
  return 0;
}

int wp_work_queue_submit(wp_work_queue *queue, wp_job *job) {
  return wp_work_queue_submit_to(queue, &queue->home, job);
}

int wp_work_queue_submit_to(wp_work_queue *queue, wp_work_home *home, wp_job *job) {
  if (atomic_load(&queue->stopped))
    return WP_ESHUTTING_DOWN;
  job->next_ = NULL;
  job->home_ = home;
  /* Counted before a worker can finish it (and its home decrement it). */
  atomic_fetch_add(&queue->outstanding, 1);
  pthread_mutex_lock(&queue->lock);
  if (queue->waiting >= queue->capacity) {
    queue->rejected++;
    pthread_mutex_unlock(&queue->lock);
    atomic_fetch_sub(&queue->outstanding, 1);
    return WP_EQUEUE_FULL;
  }
  if (queue->pending_tail)
    queue->pending_tail->next_ = job;
  else
    queue->pending_head = job;
  queue->pending_tail = job;
  queue->waiting++;
  bool wake = queue->idle > queue->signalled;
  if (wake)
    queue->signalled++;
  pthread_mutex_unlock(&queue->lock);
  if (wake)
    pthread_cond_signal(&queue->has_work);
  return 0;
}

void wp_work_queue_stop(wp_work_queue *queue) {
  atomic_store(&queue->stopped, true);
}

size_t wp_work_queue_outstanding(const wp_work_queue *queue) {
  return atomic_load(&((wp_work_queue *)queue)->outstanding);
}

void wp_work_queue_get_stats(wp_work_queue *queue, wp_work_queue_stats *out) {
  pthread_mutex_lock(&queue->lock);
  out->workers = queue->thread_count;
  out->busy = queue->busy;
  out->waiting = queue->waiting;
  out->capacity = queue->capacity;
  out->completed = queue->completed;
  out->rejected = queue->rejected;
  pthread_mutex_unlock(&queue->lock);
}

static void on_closed(uv_handle_t *handle) {
  wp_work_queue *queue = ((wp_work_home *)handle->data)->queue;
  pthread_mutex_destroy(&queue->lock);
  pthread_mutex_destroy(&queue->home.lock);
  pthread_cond_destroy(&queue->has_work);
  free(queue->threads);
  free(queue);
}

void wp_work_queue_destroy(wp_work_queue *queue) {
  atomic_store(&queue->stopped, true);
  pthread_mutex_lock(&queue->lock);
  queue->exiting = true;
  pthread_cond_broadcast(&queue->has_work);
  pthread_mutex_unlock(&queue->lock);
  for (uint32_t i = 0; i < queue->thread_count; i++)
    pthread_join(queue->threads[i], NULL);
  run_finished(&queue->home);
  uv_close((uv_handle_t *)&queue->home.wakeup, on_closed);
}
