/* work_queue.h — worker threads fed from the libuv loop through a bounded
 * queue.
 *
 * Guest code and compiles may run for seconds; the loop must never wait on
 * them. The loop submits a job (work runs on a worker, done runs back on the
 * loop thread, woken with uv_async_send). The queue holds at most `capacity`
 * jobs waiting for a worker: past that, submit fails at once with
 * WP_EQUEUE_FULL so the caller answers 503 instead of piling up requests.
 *
 * Jobs are intrusive: the caller embeds a wp_job in its own request struct
 * and owns its memory until done has run.
 *
 * Several loops may submit (wasmpoold runs one loop per thread): a job's
 * done runs on the loop of the wp_work_home it was submitted with (the
 * queue's own home, on the loop given to create, for wp_work_queue_submit).
 *
 * Threading: submit, submit_to, stop, outstanding and get_stats from any
 * thread; create and destroy from the thread of the queue's loop; a home's
 * create and close from the thread of its loop.
 */
#ifndef WP_DAEMON_WORK_QUEUE_H
#define WP_DAEMON_WORK_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct wp_job wp_job;
typedef void (*wp_job_cb)(wp_job *job);

typedef struct wp_work_home wp_work_home;

struct wp_job {
  wp_job_cb work;      /* on a worker thread */
  wp_job_cb done;      /* on the home's loop thread after work returned */
  wp_job *next_;       /* owned by the queue while the job is in it */
  wp_work_home *home_; /* set by submit */
};

typedef struct wp_work_queue wp_work_queue;

typedef struct wp_work_queue_stats {
  uint32_t workers;
  uint32_t busy;      /* workers running a job now */
  size_t waiting;     /* jobs queued, not yet picked up */
  size_t capacity;    /* most jobs that may wait */
  uint64_t completed; /* jobs whose work finished */
  uint64_t rejected;  /* submits refused because the queue was full */
} wp_work_queue_stats;

/* Starts `workers` threads (0: one per online CPU) with stacks of stack_bytes
 * (0: the libc default). */
int wp_work_queue_create(uv_loop_t *loop, uint32_t workers, size_t capacity, size_t stack_bytes,
                         wp_work_queue **out);

/* Queues a job. WP_EQUEUE_FULL when `capacity` jobs already wait,
 * WP_ESHUTTING_DOWN after wp_work_queue_stop(). On error the job is not
 * queued and done will not run. */
int wp_work_queue_submit(wp_work_queue *queue, wp_job *job);

/* Where done callbacks of jobs submitted with it run: an async handle on
 * loop. */
int wp_work_home_create(wp_work_queue *queue, uv_loop_t *loop, wp_work_home **out);
/* Runs the done callbacks that are ready and closes the handle (freed by the
 * loop's close callback). Jobs of this home still running must not exist. */
void wp_work_home_close(wp_work_home *home);
/* As wp_work_queue_submit, with done on home's loop. */
int wp_work_queue_submit_to(wp_work_queue *queue, wp_work_home *home, wp_job *job);

/* Refuses new jobs; queued and running ones still run and complete. */
void wp_work_queue_stop(wp_work_queue *queue);

/* Jobs submitted and whose done has not run yet. */
size_t wp_work_queue_outstanding(const wp_work_queue *queue);

void wp_work_queue_get_stats(wp_work_queue *queue, wp_work_queue_stats *out);

/* Stops, waits for every queued and running job, runs their done callbacks,
 * joins the threads and closes the async handle; the memory is freed when the
 * loop runs the close callback (run the loop once more after this). */
void wp_work_queue_destroy(wp_work_queue *queue);

#endif /* WP_DAEMON_WORK_QUEUE_H */
