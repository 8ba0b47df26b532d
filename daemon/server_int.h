/* server_int.h — private to the connection layer (listener.c, connection.c,
 * exchange.c, server.c): the structs they share and the calls between them.
 *
 * One way through: listener.c accepts a connection; connection.c reads and
 * parses it and makes one exchange per request; exchange.c routes it and
 * calls the handler (handlers.c), whose respond call formats the answer and
 * gives it back to connection.c, which writes answers in request order.
 * server.c starts and stops all of it.
 */
#ifndef WP_DAEMON_SERVER_INT_H
#define WP_DAEMON_SERVER_INT_H

#include "daemon.h"

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
  bool is_unix;
  wp_http_parser *parser;
  /* Read and not yet fed to the parser: points into the server's read
   * buffer during on_read, into held (owned) after it. */
  const char *input;
  size_t input_len;
  char *held;
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
  wp_conn *prev, *next; /* server's list */
};

typedef struct write_req {
  uv_write_t req;
  wp_buf data;
  wp_conn *conn;
} write_req;

struct wp_server {
  wp_daemon *daemon;
  stream_handle unix_listener;
  stream_handle tcp_listener;
  bool unix_open, tcp_open;
  char *socket_path; /* unlinked at shutdown */
  /* Host header values the TCP listener accepts (DNS rebinding defence):
   * its address and "localhost", each bare and with the bound port. */
  char tcp_hosts[4][80];
  size_t tcp_host_count;
  uv_timer_t reaper; /* idle long-lived instances */
  uv_timer_t grace;  /* shutdown deadline */
  bool reaper_running;
  int open_handles; /* handles of the server itself (timers, listeners) */
  wp_conn *conns;
  uint64_t conn_count;
  bool draining;
  bool drained_called;
  wp_server_drained_cb drained;
  /* One read buffer for every connection: read callbacks feed the parser
   * synchronously, so the bytes never outlive the callback, and thousands
   * of mostly idle keep-alive connections cost no buffer each. */
  char read_buffer[READ_BUFFER_BYTES];
};

/* connection.c */
void wp__conn_accept(uv_stream_t *listener, int status); /* uv_connection_cb */
void wp__conn_close(wp_conn *conn);
/* Writes the answered exchanges at the head of the FIFO; reads on. */
void wp__conn_flush(wp_conn *conn);

/* exchange.c */
wp_exchange *wp__exchange_new(wp_conn *conn, wp_request *req);
void wp__exchange_free(wp_exchange *x);
/* TCP checks, route, then the handler: every request goes through here. */
void wp__exchange_dispatch(wp_exchange *x);

/* server.c */
void wp__server_handle_closed(uv_handle_t *handle);
void wp__server_check_drained(wp_server *server);

/* listener.c */
int wp__listen_unix(wp_server *server, char *why, size_t why_len);
int wp__listen_tcp(wp_server *server, char *why, size_t why_len);

#endif /* WP_DAEMON_SERVER_INT_H */
