/* test_work_queue.c — jobs run off the loop thread, done runs on it, a full
 * queue says so at once, destroy drains what was queued. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "work_queue.h"
#include "wp_errno.h"

typedef struct test_job {
  wp_job job;
  pthread_t loop_thread;
  pthread_t ran_on;
  sem_t *gate; /* work waits on it when set */
  int *done_count;
  bool done_on_loop;
} test_job;

static void job_work(wp_job *job) {
  test_job *t = (test_job *)job;
  t->ran_on = pthread_self();
  if (t->gate)
    sem_wait(t->gate);
}

static void job_done(wp_job *job) {
  test_job *t = (test_job *)job;
  t->done_on_loop = pthread_equal(pthread_self(), t->loop_thread);
  (*t->done_count)++;
}

static void init_job(test_job *t, int *done_count, sem_t *gate) {
  memset(t, 0, sizeof *t);
  t->job.work = job_work;
  t->job.done = job_done;
  t->loop_thread = pthread_self();
  t->done_count = done_count;
  t->gate = gate;
}

static void run_until(uv_loop_t *loop, int *count, int want) {
  for (int i = 0; i < 2000 && *count < want; i++)
    uv_run(loop, UV_RUN_ONCE);
}

Test(work_queue, runs_on_workers_and_completes_on_loop) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  wp_work_queue *queue;
  cr_assert_eq(wp_work_queue_create(&loop, 2, 64, 0, &queue), 0);
  test_job jobs[50];
  int done = 0;
  for (int i = 0; i < 50; i++) {
    init_job(&jobs[i], &done, NULL);
    cr_assert_eq(wp_work_queue_submit(queue, &jobs[i].job), 0);
  }
  run_until(&loop, &done, 50);
  cr_assert_eq(done, 50);
  for (int i = 0; i < 50; i++) {
    cr_assert(!pthread_equal(jobs[i].ran_on, pthread_self()), "work ran on a worker");
    cr_assert(jobs[i].done_on_loop, "done ran on the loop thread");
  }
  wp_work_queue_stats stats;
  wp_work_queue_get_stats(queue, &stats);
  cr_assert_eq(stats.workers, 2);
  cr_assert_eq(stats.completed, 50);
  cr_assert_eq(wp_work_queue_outstanding(queue), 0);
  wp_work_queue_destroy(queue);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(work_queue, full_queue_is_refused_at_once) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  wp_work_queue *queue;
  cr_assert_eq(wp_work_queue_create(&loop, 1, 2, 0, &queue), 0);
  sem_t gate;
  sem_init(&gate, 0, 0);
  int done = 0;
  test_job jobs[4];
  for (int i = 0; i < 4; i++)
    init_job(&jobs[i], &done, &gate);
  /* One runs (blocked on the gate), two wait: the queue is then full. */
  cr_assert_eq(wp_work_queue_submit(queue, &jobs[0].job), 0);
  wp_work_queue_stats stats;
  for (int i = 0; i < 1000; i++) {
    wp_work_queue_get_stats(queue, &stats);
    if (stats.busy == 1)
      break;
    usleep(1000);
  }
  cr_assert_eq(stats.busy, 1);
  cr_assert_eq(wp_work_queue_submit(queue, &jobs[1].job), 0);
  cr_assert_eq(wp_work_queue_submit(queue, &jobs[2].job), 0);
  cr_assert_eq(wp_work_queue_submit(queue, &jobs[3].job), WP_EQUEUE_FULL);
  wp_work_queue_get_stats(queue, &stats);
  cr_assert_eq(stats.waiting, 2);
  cr_assert_eq(stats.rejected, 1);
  for (int i = 0; i < 3; i++)
    sem_post(&gate);
  run_until(&loop, &done, 3);
  cr_assert_eq(done, 3);
  /* Room again. */
  jobs[3].gate = NULL;
  cr_assert_eq(wp_work_queue_submit(queue, &jobs[3].job), 0);
  run_until(&loop, &done, 4);
  cr_assert_eq(done, 4);
  wp_work_queue_destroy(queue);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
  sem_destroy(&gate);
}

Test(work_queue, stop_refuses_and_destroy_drains) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  wp_work_queue *queue;
  cr_assert_eq(wp_work_queue_create(&loop, 2, 16, 256 * 1024, &queue), 0);
  int done = 0;
  test_job jobs[9];
  for (int i = 0; i < 9; i++)
    init_job(&jobs[i], &done, NULL);
  for (int i = 0; i < 8; i++)
    cr_assert_eq(wp_work_queue_submit(queue, &jobs[i].job), 0);
  wp_work_queue_stop(queue);
  cr_assert_eq(wp_work_queue_submit(queue, &jobs[8].job), WP_ESHUTTING_DOWN);
  /* No loop iteration yet: destroy itself must deliver every done. */
  wp_work_queue_destroy(queue);
  cr_assert_eq(done, 8);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(work_queue, zero_capacity_is_invalid) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  wp_work_queue *queue;
  cr_assert_eq(wp_work_queue_create(&loop, 1, 0, 0, &queue), WP_EINVAL);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

/* Work that finishes only once `want` jobs run at the same time (or after
 * two seconds, noting that they did not). */
typedef struct rendezvous_job {
  wp_job job;
  atomic_int *running;
  int want;
  bool met;
  int *done_count;
} rendezvous_job;

static void rendezvous_work(wp_job *job) {
  rendezvous_job *r = (rendezvous_job *)job;
  atomic_fetch_add(r->running, 1);
  for (int i = 0; i < 2000 && atomic_load(r->running) < r->want; i++)
    usleep(1000);
  r->met = atomic_load(r->running) >= r->want;
}

static void rendezvous_done(wp_job *job) {
  rendezvous_job *r = (rendezvous_job *)job;
  (*r->done_count)++;
}

/* Submit wakes as many sleeping workers as jobs arrive, not just one: the
 * count of workers already signalled must not hold back the others. */
Test(work_queue, a_burst_wakes_every_sleeping_worker, .timeout = 20) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  wp_work_queue *queue;
  cr_assert_eq(wp_work_queue_create(&loop, 4, 16, 0, &queue), 0);
  usleep(20000); /* the workers reach their wait */
  atomic_int running = 0;
  int done = 0;
  rendezvous_job jobs[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (rendezvous_job){.job = {.work = rendezvous_work, .done = rendezvous_done},
                               .running = &running,
                               .want = 4,
                               .done_count = &done};
    cr_assert_eq(wp_work_queue_submit(queue, &jobs[i].job), 0);
  }
  run_until(&loop, &done, 4);
  cr_assert_eq(done, 4);
  for (int i = 0; i < 4; i++)
    cr_assert(jobs[i].met, "job %d never ran beside the three others", i);
  wp_work_queue_destroy(queue);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

/* One job at a time, each submitted once the last one's done ran (a
 * keep-alive client): every submit finds the workers asleep or going to
 * sleep, and none may be left waiting for a signal (the test would hang). */
Test(work_queue, one_at_a_time_never_strands_a_job, .timeout = 20) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  wp_work_queue *queue;
  cr_assert_eq(wp_work_queue_create(&loop, 2, 4, 0, &queue), 0);
  int done = 0;
  test_job job;
  for (int i = 0; i < 2000; i++) {
    init_job(&job, &done, NULL);
    cr_assert_eq(wp_work_queue_submit(queue, &job.job), 0);
    while (done < i + 1)
      uv_run(&loop, UV_RUN_ONCE);
  }
  cr_assert_eq(done, 2000);
  /* The worker counts a job just after handing it back. */
  wp_work_queue_stats stats;
  for (int i = 0; i < 1000; i++) {
    wp_work_queue_get_stats(queue, &stats);
    if (stats.completed == 2000)
      break;
    usleep(1000);
  }
  cr_assert_eq(stats.completed, 2000);
  wp_work_queue_destroy(queue);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

/* A second loop on its own thread (wasmpoold runs one per worker thread)
 * submits with its own home: done runs on that thread, not on the queue's
 * loop, and outstanding counts it until then. */
typedef struct other_loop {
  wp_work_queue *queue;
  test_job jobs[20];
  int done;
  int failed_rc; /* first failing call; asserts stay on the test's thread */
  bool all_on_loop;
  bool loop_closed;
} other_loop;

static void *other_loop_main(void *arg) {
  other_loop *o = arg;
  uv_loop_t loop;
  uv_loop_init(&loop);
  wp_work_home *home;
  o->failed_rc = wp_work_home_create(o->queue, &loop, &home);
  if (o->failed_rc)
    return NULL;
  for (int i = 0; i < 20 && !o->failed_rc; i++) {
    init_job(&o->jobs[i], &o->done, NULL); /* loop_thread: this thread */
    o->failed_rc = wp_work_queue_submit_to(o->queue, home, &o->jobs[i].job);
  }
  run_until(&loop, &o->done, 20);
  o->all_on_loop = true;
  for (int i = 0; i < 20; i++)
    o->all_on_loop = o->all_on_loop && o->jobs[i].done_on_loop;
  wp_work_home_close(home);
  uv_run(&loop, UV_RUN_DEFAULT);
  o->loop_closed = uv_loop_close(&loop) == 0;
  return NULL;
}

Test(work_queue, done_runs_on_the_submitting_loop, .timeout = 20) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  wp_work_queue *queue;
  cr_assert_eq(wp_work_queue_create(&loop, 2, 64, 0, &queue), 0);
  other_loop o = {.queue = queue};
  pthread_t thread;
  cr_assert_eq(pthread_create(&thread, NULL, other_loop_main, &o), 0);
  pthread_join(thread, NULL);
  cr_assert_eq(o.failed_rc, 0);
  cr_assert(o.loop_closed, "the home's handle was left open");
  cr_assert_eq(o.done, 20);
  cr_assert(o.all_on_loop, "a done callback ran off its home's loop");
  cr_assert_eq(wp_work_queue_outstanding(queue), 0);
  wp_work_queue_destroy(queue);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
}
