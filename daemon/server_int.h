/* server_int.h — private to the connection layer (listener.c, connection.c,
 * exchange.c, server.c): the structs they share and the calls between them.
 *
 * One way through: listener.c accepts a connection; connection.c reads and
 * parses it and makes one exchange per request; exchange.c routes it and
 * calls the handler (handlers.c), whose respond call formats the answer and
 * gives it back to connection.c, which writes answers in request order.
 * shard.c runs one libuv loop per thread: each accepts from the shared
 * listening sockets, owns the connections it accepted and runs their
 * requests to completion on its thread. server.c (on the main loop) starts
 * and stops all of it.
 *
 * Threading: a connection, its exchanges and everything in a shard except
 * the command flags belong to the shard's thread. wp_server's fields are
 * written before the shards start and read-only after, except the atomics.
 */
#ifndef WP_DAEMON_SERVER_INT_H
#define WP_DAEMON_SERVER_INT_H

#include <pthread.h>
#include <stddef.h>

#include "daemon.h"
#include "iobuf.h"

/* Requests of one connection parsed and not yet answered; past it reading
 * pauses, so one client cannot queue unbounded work by pipelining. */
#define MAX_PIPELINE 32
/* Also the most a connection holds unparsed while it is at its limit. */
#define READ_BUFFER_BYTES 16384
/* Bytes handed to the parser at once: 512 bytes hold at most 28 minimal
 * requests, so a connection at its limit has at most that many parsed ahead. */
#define FEED_SLICE_BYTES 512
/* Answer bytes queued (beyond what the kernel took) for a client that does
 * not read them; past it the daemon stops reading its requests. Zero: once
 * the socket buffer is full the client is not keeping up, and a client that
 * only sends cannot make the daemon buffer answers at all. It pauses
 * reading, it does not cap an answer: one large answer still goes. */
#define MAX_WRITE_BACKLOG ((size_t)0)
/* Guest work runs on the loop that read the request only for modules whose
 * last run took at most this long; the rest go to the pool (DAEMON.md,
 * "Head-of-line blocking"). */
#define WP_INLINE_RUN_US 1000
/* Restartable guest work this loop has no run time for is tried on the loop
 * with this deadline (each guest entry: instantiation, then the call), and
 * run again on the pool when it is cut. */
#define WP_INLINE_TRY_MS (WP_INLINE_RUN_US / 1000)
/* A connection's batch of pipelined requests ends after this much time,
 * so its inline runs cannot hold the loop's other connections longer. */
#define WP_INLINE_TURN_US 2000

typedef struct wp__shard wp__shard;

typedef union stream_handle {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_pipe_t pipe;
  uv_tcp_t tcp;
} stream_handle;

struct wp_conn {
  stream_handle h; /* first: handle->data also works as a cast */
  uv_timer_t timer;
  wp_server *server;
  wp__shard *shard; /* the loop that owns it */
  bool is_unix;
  wp_http_parser *parser;
  /* Read and not yet fed to the parser: points into the server's read
   * buffer during on_read, into held (owned) after it. */
  const char *input;
  size_t input_len;
  char *held;
  size_t held_map; /* held's mapping length; 0: it came from malloc */
  /* Answers ready to go out together: the answers of one batch of pipelined
   * requests leave in one write (one syscall, one write request). */
  wp_buf outbox;
  wp_exchange *head, *tail;
  size_t exchange_count;
  uint64_t pending_body_bytes; /* bodies of the exchanges not yet answered */
  int open_handles;            /* 2 until both closes completed */
  bool closing;                /* uv_close called */
  bool reading;
  bool input_done;          /* a parse error or a response closing it: read no more */
  bool eof;                 /* the client half-closed: answer what came, then close */
  bool shutting_down;       /* uv_shutdown queued: close after the writes */
  bool request_timer_armed; /* the header timeout of the current request runs */
  bool processing;          /* inside conn_process_input (no recursion) */
  bool had_request;         /* a request was parsed: idle_timeout, not the first-byte one */
  unsigned writes_pending;
  wp_conn *prev, *next; /* shard's list */
};

/* Recent guest run times of the work one shard served (endpoint, module,
 * export), to decide what may run on the loop (see wp__shard_last_run).
 * Direct mapped by that key's hash; a collision forgets the older entry,
 * and work not in the table is treated as never seen: tried on the loop
 * under WP_INLINE_TRY_MS when it can be run again, else run on the pool. */
#define RUN_HISTORY_SLOTS 256
typedef struct run_history {
  uint64_t key[RUN_HISTORY_SLOTS]; /* 0: empty */
  uint32_t last_us[RUN_HISTORY_SLOTS];
} run_history;

struct wp__shard {
  wp_server *server;
  unsigned index;
  uv_loop_t loop;
  pthread_t thread;
  bool thread_started;
  /* main loop -> shard: set a flag, then uv_async_send(&command). */
  uv_async_t command;
  atomic_bool cmd_drain, cmd_close_all, cmd_stop;
  /* Accepted sockets another shard handed over (balancing, shard.c). */
  pthread_mutex_t inbox_lock;
  struct handed_fd {
    int fd;
    bool is_unix;
  } * inbox; /* owned, inbox_len of inbox_cap used */
  size_t inbox_len, inbox_cap;
  bool draining; /* cmd_drain seen: accepts no more */
  /* The listening sockets, each a dup() of the server's, polled by this
   * loop (EPOLLEXCLUSIVE where the kernel has it: one sleeping loop wakes
   * per connection). */
  uv_poll_t unix_poll, tcp_poll;
  int unix_fd, tcp_fd; /* -1: none */
  wp_work_home *home;  /* pool jobs of this shard's exchanges finish here */
  wp_conn *conns;
  atomic_uint_fast64_t conn_count; /* written by this shard, read by others */
  run_history runs;
  /* One read buffer for every connection of the loop: read callbacks feed
   * the parser synchronously, so the bytes never outlive the callback, and
   * thousands of mostly idle keep-alive connections cost no buffer each. */
  char read_buffer[READ_BUFFER_BYTES];
  /* Blocks for what lagging connections keep (connection.c, iobuf.c). */
  wp_iobuf_cache iobufs;
};

/* The connection side of an exchange; handlers see only pub. */
typedef struct wp__exchange {
  wp_job job;        /* first: the pool's job is the exchange */
  wp_exchange pub;   /* what handlers see */
  wp_conn *conn;     /* NULL once the client went away: the answer is dropped */
  wp__shard *shard;  /* the loop that read it and answers it */
  wp_exchange *next; /* the connection's FIFO, in request order */
  uint64_t start_us; /* for the latency histogram */
  int status;
  bool keep_alive;
  bool answered;  /* respond was called; out holds the bytes */
  bool in_worker; /* submitted, its done callback has not run yet */
  /* Set by the loop when the client left while the job waited: a pool
   * thread that has not started it skips the work. */
  atomic_bool cancelled;
  wp_buf out; /* the serialized response */
  void (*work)(wp_exchange *x);
  void (*finish)(wp_exchange *x); /* on the loop after the work */
  /* Guest work: what its run time is learnt for (0: not guest work), and
   * that time when it ran on the pool. */
  uint64_t run_key;
  uint64_t run_us;
} wp__exchange;

/* A handler's exchange to its connection side. */
#define WP__X(x) ((wp__exchange *)((char *)(x)-offsetof(wp__exchange, pub)))

/* A write the socket did not take at once, with a copy of its bytes. From
 * wp_iobuf_alloc: iobuf.c says why. */
typedef struct write_req {
  uv_write_t req;
  wp_conn *conn;
  size_t map_len; /* the request's mapping length; 0: it came from malloc */
  char bytes[];
} write_req;

struct wp_server {
  wp_daemon *daemon;
  /* Bound and listening (listen(2), not uv_listen: the shards accept). */
  stream_handle unix_listener;
  stream_handle tcp_listener;
  bool unix_open, tcp_open;
  int unix_fd, tcp_fd; /* their descriptors, -1 when absent */
  char *socket_path;   /* unlinked at shutdown */
  /* Host header values the TCP listener accepts (DNS rebinding defence):
   * its address and "localhost", each bare and with the bound port. */
  char tcp_hosts[4][80];
  size_t tcp_host_count;
  uv_timer_t reaper; /* idle long-lived instances */
  uv_timer_t grace;  /* shutdown deadline */
  bool reaper_running;
  int open_handles;                /* handles of the server itself (timers, listeners) */
  atomic_uint_fast64_t conn_count; /* over every shard: max_connections */
  atomic_bool draining;
  bool drained_called;
  wp_server_drained_cb drained;
  wp__shard **shards;
  unsigned shard_count;
};

/* connection.c */
/* Takes an accepted socket (nonblocking) into the shard. */
void wp__conn_start(wp__shard *shard, int fd, bool is_unix);
void wp__conn_close(wp_conn *conn);
/* Writes the answered exchanges at the head of the FIFO; reads on. */
void wp__conn_flush(wp_conn *conn);

/* exchange.c */
wp_exchange *wp__exchange_new(wp_conn *conn, wp_request *req);
void wp__exchange_free(wp_exchange *x);
/* TCP checks, route, then the handler: every request goes through here. */
void wp__exchange_dispatch(wp_exchange *x);

/* shard.c */
int wp__shards_start(wp_server *server, unsigned count, char *why, size_t why_len);
void wp__shards_command(wp_server *server, atomic_bool *(*flag)(wp__shard *));
void wp__shards_join(wp_server *server);
/* The run time this loop last recorded for guest work (item 2 of issue 11);
 * false when it has none. */
bool wp__shard_last_run(const wp__shard *shard, uint64_t key, uint32_t *us);
void wp__shard_record_run(wp__shard *shard, uint64_t key, uint64_t us);

/* server.c */
void wp__server_handle_closed(uv_handle_t *handle);
void wp__server_check_drained(wp_server *server);

/* listener.c */
int wp__listen_unix(wp_server *server, char *why, size_t why_len);
int wp__listen_tcp(wp_server *server, char *why, size_t why_len);

#endif /* WP_DAEMON_SERVER_INT_H */
