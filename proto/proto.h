/* proto.h — the HTTP/1.1 API layer: the only public header of proto/.
 *
 * proto/ turns bytes into API requests and API answers into bytes, and knows
 * nothing about pools or WebAssembly. Its pieces, one file each:
 *
 *   buf.c            wp_buf, the growable byte buffer everything writes into
 *   http_request.c   incremental request parser (http-parser 2.9) with limits
 *   route.c          method + path -> endpoint and percent-decoded parameters
 *   http_response.c  status line, headers and body into a wp_buf; JSON errors
 *   json.c           jansson helpers shared by the daemon and the CLI
 *   cgi.c            the `run` endpoint's CGI/WAGI environment and argv
 *   client.c         blocking keep-alive HTTP/1.1 client (Unix socket / TCP)
 *
 * A daemon connection owns one wp_http_parser, feeds it every byte it reads,
 * pops complete requests in order, routes each with wp_route_match(), and
 * answers with wp_response_write() or wp_response_write_error(). The contract
 * of every endpoint (bodies, headers, statuses) is docs/API.md.
 *
 * Byte strings that come off the wire (paths, export names, header values)
 * carry a length: an export name may contain any byte, including NUL. Where a
 * buffer is also NUL-terminated the header says so; the terminator is never
 * counted in the length.
 *
 * Thread safety: no global state. Each object (parser, client, buffer) may be
 * used by one thread at a time; different objects by different threads.
 *
 * Errors: every fallible function returns 0 (or a documented count) or a
 * negative WP_E* code from wp_errno.h.
 */
#ifndef WP_PROTO_H
#define WP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "wp_errno.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Growable byte buffer (buf.c)                                              */

/* A caller-owned buffer. Zero-initialise (or wp_buf_init) before first use;
 * wp_buf_free releases it. data is always NUL-terminated once non-NULL (the
 * NUL is not counted in len), so text can be printed directly. */
typedef struct wp_buf {
  char *data;
  size_t len;
  size_t cap;
} wp_buf;

void wp_buf_init(wp_buf *buf);
void wp_buf_free(wp_buf *buf);
/* Forget the contents, keep the allocation (for reuse across requests). */
void wp_buf_reset(wp_buf *buf);
/* Make room for extra more bytes (+ the NUL). WP_ENOMEM. */
int wp_buf_reserve(wp_buf *buf, size_t extra);
int wp_buf_append(wp_buf *buf, const void *data, size_t len);
int wp_buf_append_str(wp_buf *buf, const char *str);
int wp_buf_appendf(wp_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first len bytes (consumed input), moving the rest to the front. */
void wp_buf_consume(wp_buf *buf, size_t len);

/* A borrowed byte string: points into someone else's memory. */
typedef struct wp_bytes {
  const char *data;
  size_t len;
} wp_bytes;

/* ------------------------------------------------------------------------ */
/* Methods and headers                                                       */

typedef enum wp_method {
  WP_METHOD_OTHER = 0, /* anything else; wp_request.method_name has it */
  WP_METHOD_GET,
  WP_METHOD_HEAD,
  WP_METHOD_POST,
  WP_METHOD_PUT,
  WP_METHOD_DELETE,
  WP_METHOD_OPTIONS,
  WP_METHOD_PATCH,
} wp_method;

/* Bit for a method in a set of methods (wp_route.allow). */
#define WP_METHOD_BIT(m) (1u << (unsigned)(m))

/* "GET", ...; "OTHER" for WP_METHOD_OTHER. */
const char *wp_method_name(wp_method method);

/* One header. In a parsed request or response both name and value are
 * NUL-terminated and owned by that request/response; in a header list handed
 * to the response writer or the client they are borrowed (and need not be
 * NUL-terminated). Values have leading/trailing whitespace removed. */
typedef struct wp_header {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} wp_header;

/* First header named name (ASCII case-insensitive), or NULL. */
const wp_header *wp_header_find(const wp_header *headers, size_t count, const char *name);

/* ------------------------------------------------------------------------ */
/* Request parser (http_request.c)                                           */

/* Limits of one connection's parser. Zero means the default. */
typedef struct wp_http_limits {
  /* Request line + headers, counted as the bytes of the request target,
   * header names and values plus 4 per header line. Over it: the request
   * fails with WP_EHEADERS_TOO_LARGE. Default 16 KiB. http-parser's own
   * compiled-in cap (80 KiB) also applies, with the same error. */
  size_t max_header_bytes;
  /* Body bytes after transfer decoding. A Content-Length over it fails the
   * request with WP_EPAYLOAD_TOO_LARGE as soon as the headers are parsed,
   * before any body byte is read; a chunked body fails as soon as the
   * decoded bytes pass it. Default 64 MiB. */
  size_t max_body_bytes;
} wp_http_limits;

#define WP_HTTP_DEFAULT_MAX_HEADER_BYTES ((size_t)16 * 1024)
#define WP_HTTP_DEFAULT_MAX_BODY_BYTES   ((size_t)64 * 1024 * 1024)

/* One complete request. Owned by whoever popped it; wp_request_destroy
 * frees it and everything it points to. */
typedef struct wp_request {
  wp_method method;
  const char *method_name; /* static string from http-parser: "GET", "MKCOL" */
  unsigned short http_major, http_minor;
  /* The request-target exactly as received (NUL-terminated). */
  const char *target;
  size_t target_len;
  /* Its path, still percent-encoded (NUL-terminated; "/" at least). The
   * router decodes segments. An absolute-form target ("http://h/p") is
   * reduced to its path. */
  const char *path;
  size_t path_len;
  /* The query string without the '?', still encoded (NUL-terminated; ""
   * when absent). See wp_query_next. */
  const char *query;
  size_t query_len;
  /* Header fields in arrival order; see wp_request_header. Trailers of a
   * chunked body count against the header limit but are dropped. */
  wp_header *headers;
  size_t header_count;
  /* Decoded body (Content-Length or chunked), NUL-terminated; body_len 0 and
   * body pointing at "" when there is none. */
  char *body;
  size_t body_len;
  /* Whether the connection stays open after this request's response:
   * HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
   * "Connection: keep-alive". Upgrade/CONNECT requests are never kept alive
   * (this server does not switch protocols). The daemon echoes it in its
   * response's Connection header and closes after writing when false. */
  bool keep_alive;
  /* "Expect: 100-continue" was sent (see wp_http_parser_take_continue). */
  bool expect_continue;
  /* The body came chunked. */
  bool chunked;
} wp_request;

void wp_request_destroy(wp_request *req);
/* First header named name (case-insensitive) or NULL. */
const wp_header *wp_request_header(const wp_request *req, const char *name);

/* One per connection. Pure: bytes in, requests or an error out; no I/O, no
 * clocks, so it can sit under a fuzzer. */
typedef struct wp_http_parser wp_http_parser;

/* limits may be NULL for the defaults. WP_ENOMEM. */
int wp_http_parser_create(const wp_http_limits *limits, wp_http_parser **out);
void wp_http_parser_destroy(wp_http_parser *parser);

/* Feed the next len bytes read from the connection, split anywhere. Every
 * complete request found is queued in order (pipelining). Returns 0, or the
 * connection's error once the bytes are known to be bad: WP_EBAD_REQUEST
 * (malformed; wp_http_parser_error_message says why), WP_EHEADERS_TOO_LARGE,
 * WP_EPAYLOAD_TOO_LARGE, WP_ENOMEM. The error is sticky: later feeds return
 * it again and ignore their bytes. Requests completed before the error stay
 * queued. Bytes after a request that is not kept alive are discarded. */
int wp_http_parser_feed(wp_http_parser *parser, const char *data, size_t len);

/* Pop the oldest complete request: returns 1 and sets *out (caller owns it),
 * 0 when none is complete yet, or, once every request before it has been
 * popped, the sticky error (a negative code; the daemon answers it with
 * wp_response_write_error and closes the connection). */
int wp_http_parser_next(wp_http_parser *parser, wp_request **out);

/* Requests queued and not yet popped (to stop reading when a client
 * pipelines too far ahead). */
size_t wp_http_parser_pending(const wp_http_parser *parser);

/* True once per request when the request being received sent
 * "Expect: 100-continue", its headers passed the limits and its body has not
 * fully arrived: the daemon then writes "HTTP/1.1 100 Continue\r\n\r\n". */
bool wp_http_parser_take_continue(wp_http_parser *parser);

/* True when some bytes of a not-yet-complete request have been fed (for the
 * header timeout, and to tell a clean EOF from one in mid-request). */
bool wp_http_parser_in_request(const wp_http_parser *parser);

/* Why the sticky error happened (http-parser's description for malformed
 * input, e.g. "invalid HTTP method"), "" when there is no error. Owned by
 * the parser. */
const char *wp_http_parser_error_message(const wp_http_parser *parser);

/* ------------------------------------------------------------------------ */
/* Router (route.c)                                                          */

/* Every row of docs/API.md. */
typedef enum wp_endpoint {
  WP_EP_NONE = 0,
  WP_EP_MODULE_LIST,     /* GET    /v1/modules */
  WP_EP_MODULE_PUT,      /* PUT    /v1/modules/{name}          body: wasm */
  WP_EP_MODULE_GET,      /* GET    /v1/modules/{name} */
  WP_EP_MODULE_DELETE,   /* DELETE /v1/modules/{name} */
  WP_EP_INSTANCE_CREATE, /* POST   /v1/modules/{name}/instances */
  WP_EP_MODULE_CALL,     /* POST   /v1/modules/{name}/call/{export} */
  WP_EP_MODULE_RUN,      /* POST   /v1/modules/{name}/run[/{path_info...}] */
  WP_EP_INSTANCE_LIST,   /* GET    /v1/instances */
  WP_EP_INSTANCE_CALL,   /* POST   /v1/instances/{id}/call/{export} */
  WP_EP_INSTANCE_DELETE, /* DELETE /v1/instances/{id} */
  WP_EP_STATS,           /* GET    /v1/stats */
  WP_EP_METRICS,         /* GET    /metrics */
  WP_EP_HEALTH,          /* GET    /v1/health */
  WP_EP_COUNT
} wp_endpoint;

/* "module_put", ... (for logs and metric labels); "none" for WP_EP_NONE. */
const char *wp_endpoint_name(wp_endpoint ep);

/* Module names and instance ids: 1..WP_NAME_MAX bytes of [A-Za-z0-9._-],
 * not starting with '.' (the daemon stores modules as files named after
 * them; this also rules out "." and ".."). Export names: any bytes, any length the header limit
 * allows, including empty (WebAssembly allows "" as an export name). */
#define WP_NAME_MAX  128
#define WP_NAME_RULE "1..128 bytes of [A-Za-z0-9._-], not starting with '.'"
bool wp_name_valid(const char *name, size_t len);

/* A routed request. Parameters are percent-decoded copies owned by the
 * route (NUL-terminated too, but export may hold NULs: use the lengths);
 * absent ones have data NULL and len 0. */
typedef struct wp_route {
  wp_endpoint endpoint;
  wp_bytes module;      /* {name} */
  wp_bytes instance;    /* {id} */
  wp_bytes export_name; /* {export} */
  /* WP_EP_MODULE_RUN only: the decoded rest of the path after ".../run",
   * for CGI's PATH_INFO: "" for ".../run", "/a/b" for ".../run/a/b". */
  wp_bytes path_info;
  /* The request was HEAD, routed like GET: answer with headers only
   * (wp_response.head_only). */
  bool head;
  /* After WP_EMETHOD: the methods the path accepts, as WP_METHOD_BIT()s
   * (HEAD is implied by GET). */
  unsigned allow;
  /* After a failure: a static sentence saying why, for the error message
   * ("module name must be 1..128 bytes of [A-Za-z0-9._-] ..."). */
  const char *why;
  char *storage; /* private: the decoded bytes */
} wp_route;

/* Route method + encoded path (wp_request.path). On failure out->endpoint is
 * WP_EP_NONE and:
 *   WP_ENOT_FOUND    no such path
 *   WP_EMETHOD       path known, method not: out->allow has the allowed ones
 *   WP_EBAD_REQUEST  bad %-escape, or a module name / instance id that breaks
 *                    the rule above
 *   WP_ENOMEM
 * Call wp_route_free afterwards in every case (it is safe on a zeroed or
 * failed route). */
int wp_route_match(wp_method method, const char *path, size_t path_len, wp_route *out);
void wp_route_free(wp_route *route);

/* "GET, HEAD, PUT, DELETE" for an Allow header, into out (appended). */
int wp_route_allow_header(unsigned allow, wp_buf *out);

/* Percent-decode src into out (appended). '+' is kept as '+' in paths
 * (plus_is_space false) and becomes ' ' in query strings (true).
 * WP_EBAD_REQUEST on a '%' not followed by two hex digits. */
int wp_percent_decode(wp_buf *out, const char *src, size_t len, bool plus_is_space);
/* Percent-encode one path segment (or query value): everything except
 * [A-Za-z0-9._~-] becomes %XX, so '/' and NUL survive the trip. Appended. */
int wp_percent_encode(wp_buf *out, const void *src, size_t len);

/* Iterate "a=1&b=2&arg=x" (wp_request.query). Each call decodes the next
 * key and value into the reset buffers key/value (a missing '=' gives an
 * empty value; empty pairs are skipped). Returns 1 for a pair, 0 at the end,
 * WP_EBAD_REQUEST for a bad escape. */
typedef struct wp_query_iter {
  const char *pos;
  const char *end;
} wp_query_iter;
void wp_query_iter_init(wp_query_iter *it, const char *query, size_t len);
int wp_query_next(wp_query_iter *it, wp_buf *key, wp_buf *value);

/* ------------------------------------------------------------------------ */
/* Response writer (http_response.c)                                         */

typedef struct wp_response {
  int status;               /* 200, 404, ... */
  const char *content_type; /* NULL: no Content-Type header */
  bool keep_alive;          /* Connection: keep-alive / close */
  bool head_only;           /* HEAD: Content-Length of the body, no body bytes */
  const wp_header *headers; /* extra headers, written in order; may be NULL */
  size_t header_count;
  const void *body; /* may be NULL when body_len is 0 */
  size_t body_len;
} wp_response;

/* Standard reason phrase ("Not Found"); "Unknown" for unknown statuses. */
const char *wp_http_reason(int status);

/* Append the status line and headers (Content-Type, Content-Length,
 * Connection, then the extra headers) and the blank line; then the body
 * unless head_only. The byte layout, for status 200 with type and body "hi":
 *   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
 *   "Connection: keep-alive\r\n\r\nhi"
 * WP_EINVAL for a status outside 100..999 or a header name/value holding
 * CR or LF (header injection); WP_ENOMEM. */
int wp_response_write(wp_buf *out, const wp_response *resp);
/* Only the head (what wp_response_write writes before the body), so a large
 * body can go out as a second write without a copy. */
int wp_response_write_head(wp_buf *out, const wp_response *resp);

/* A complete JSON error response for code (a negative WP_E*):
 *   status wp_err_http_status(code), Content-Type application/json,
 *   body {"error":{"code":"<wp_err_name>","message":"<message>"}}
 *   message NULL -> wp_strerror(code);
 *   "Retry-After: <retry_after_s>" for WP_EQUEUE_FULL, WP_EPOOL_EXHAUSTED
 *   and WP_ESHUTTING_DOWN (retry_after_s 0 -> 1);
 *   for WP_EMETHOD an "Allow" header from allow (WP_METHOD_BIT set).
 * keep_alive is written as given; the daemon passes false for errors that
 * leave the input stream unusable (the parser's sticky errors). */
int wp_response_write_error(wp_buf *out, int code, const char *message, bool keep_alive,
                            unsigned retry_after_s, unsigned allow);

/* ------------------------------------------------------------------------ */
/* JSON helpers (json.c)                                                     */

/* Compact encoding of value appended to out. WP_ENOMEM / WP_EINVAL. */
int wp_json_dump(wp_buf *out, const json_t *value);
/* Parse a whole body. WP_EBAD_REQUEST with "line L column C: why" in why
 * (may be NULL) on bad JSON. The caller json_decref()s *out. */
int wp_json_load(const char *data, size_t len, json_t **out, char *why, size_t why_len);

/* The JSON error body {"error":{"code":..,"message":..}} appended to out. */
int wp_json_error_body(wp_buf *out, int code, const char *message);

/* Appends a WebAssembly name (bytes on the wire) as text for a JSON answer
 * or an error message: the name itself when it is valid UTF-8 with no NUL,
 * else "0x" and the hex of its bytes, so no name is ever shown lossily.
 * WP_ENOMEM. */
int wp_name_text(wp_buf *out, const char *name, size_t len);

/* An error body as decoded by a client. */
typedef struct wp_api_error {
  int code;          /* WP_E* from the stable name; WP_ESYS if unknown */
  char name[64];     /* the stable name as sent */
  char message[512]; /* truncated if longer */
} wp_api_error;

/* Decode a response body; when it is not a JSON error, fall back to the
 * status: name "http_<status>", code from the status (WP_ENOT_FOUND for 404,
 * ...), message the body text. Always fills *out; returns 0. */
int wp_json_error_parse(int status, const char *body, size_t len, wp_api_error *out);

/* Reverse of wp_err_name: *code gets the WP_E* code of a stable name
 * ("pool_exhausted"), 0 for "ok". WP_EINVAL when the name is unknown. */
int wp_err_from_name(const char *name, int *code);

/* Request body of the call endpoints: {"args":[...]} (an empty body or a
 * missing "args" means no arguments). *args gets a NEW reference to the
 * array (json_decref it). WP_EBAD_REQUEST with why (may be NULL) when body
 * is not an object or "args" is not an array. Element typing against the
 * export's signature is the daemon's job. */
int wp_json_call_args(const json_t *body, json_t **args, char *why, size_t why_len);

/* The CLI's argument typing: each string becomes a JSON integer if it is
 * one (decimal, optional sign, or 0x hex; fits int64, or uint64 written as
 * its int64 bit pattern), else a JSON real if strtod reads all of it and the
 * value is finite, else a JSON string (so "nan", "inf" stay strings for the
 * daemon to interpret). Returns a new {"args":[...]} object, NULL when out
 * of memory. */
json_t *wp_json_args_from_strings(int argc, char **argv);

/* Base64 (RFC 4648, with padding), used for X-Wasmpool-Stderr. Appended.
 * decode: WP_EINVAL on bad input. */
int wp_base64_encode(wp_buf *out, const void *data, size_t len);
int wp_base64_decode(wp_buf *out, const char *text, size_t len);

/* ------------------------------------------------------------------------ */
/* The run endpoint's CGI/WAGI conventions (cgi.c) — see docs/API.md        */

/* Environment for a `run` request, as "KEY=VALUE\0" strings appended to
 * out; *count gets how many. REQUEST_METHOD, PATH_INFO ("/"), QUERY_STRING,
 * CONTENT_TYPE, CONTENT_LENGTH, SERVER_PROTOCOL, GATEWAY_INTERFACE,
 * SERVER_SOFTWARE, X_WASMPOOL_MODULE, then HTTP_<NAME> for each request header
 * (uppercased, '-' -> '_'; Content-Type/Length excluded, as CGI does;
 * headers whose value holds NUL are skipped). */
int wp_cgi_env(const wp_request *req, const wp_route *route, wp_buf *out, size_t *count);
/* argv for a `run` request: argv[0] = the module name, then each ?arg=
 * query value in order, decoded, as "VALUE\0" strings appended to out.
 * WP_EBAD_REQUEST on a bad escape or an argument holding NUL. */
int wp_cgi_args(const wp_request *req, const wp_route *route, wp_buf *out, size_t *count);

/* Response headers of the run endpoint. */
#define WP_HDR_EXIT_CODE    "X-Wasmpool-Exit-Code"
#define WP_HDR_STDERR       "X-Wasmpool-Stderr"
#define WP_HDR_STDERR_ENC   "X-Wasmpool-Stderr-Encoding"
#define WP_HDR_STDERR_TRUNC "X-Wasmpool-Stderr-Truncated"
#define WP_HDR_DURATION_US  "X-Wasmpool-Duration-Us"
/* At most this many stderr bytes go in X-Wasmpool-Stderr (before base64). */
#define WP_STDERR_HEADER_MAX 4096

/* ------------------------------------------------------------------------ */
/* Client (client.c)                                                         */

/* A blocking HTTP/1.1 client on one keep-alive connection, for the CLI, the
 * bench tool and the integration tests. It connects lazily and reconnects
 * when the server closed the connection; a request whose response had not
 * started when a reused connection turned out dead is resent once. */
typedef struct wp_client wp_client;

typedef struct wp_client_options {
  /* Exactly one of: a Unix socket path, or a TCP host (IPv4 literal, e.g.
   * "127.0.0.1") and port. */
  const char *unix_path;
  const char *tcp_host;
  uint16_t tcp_port;
  /* Connect and per-request (send + whole response) deadline, ms; 0 = none. */
  int timeout_ms;
  /* Largest response head / body accepted; 0 = 64 KiB / 1 GiB. */
  size_t max_header_bytes;
  size_t max_body_bytes;
} wp_client_options;

/* WP_EINVAL (bad options, path too long), WP_ENOMEM. Does not connect. */
int wp_client_create(const wp_client_options *opts, wp_client **out);
void wp_client_destroy(wp_client *client);

/* One response; wp_client_response_free releases it (it may be reused for
 * the next request without freeing in between). */
typedef struct wp_client_response {
  int status;
  unsigned short http_major, http_minor;
  wp_header *headers; /* NUL-terminated names and values, owned */
  size_t header_count;
  wp_buf body;        /* decoded body, NUL-terminated */
  bool keep_alive;    /* the server will keep the connection open */
  wp_buf storage;     /* private */
  size_t headers_cap; /* private */
} wp_client_response;

void wp_client_response_free(wp_client_response *resp);
const wp_header *wp_client_response_header(const wp_client_response *resp, const char *name);

/* Send one request and read its whole response (Content-Length, chunked, or
 * until close). path must already be percent-encoded (wp_percent_encode).
 * Content-Length is added by the client (also 0 for a bodiless POST/PUT);
 * Host is added when not in headers. Errors: WP_ESYS (connect/read/write,
 * message in wp_client_error), WP_ETIMEOUT, WP_EBAD_REQUEST (the server's
 * bytes are not HTTP), WP_EPAYLOAD_TOO_LARGE / WP_EHEADERS_TOO_LARGE (over
 * the client's limits), WP_ENOMEM. An HTTP error status is not an error
 * here: look at resp->status (and wp_json_error_parse). After an error the
 * connection is closed; the next request reconnects. A Unix socket whose
 * accept backlog is full is retried until the deadline (then WP_ETIMEOUT). */
int wp_client_request(wp_client *client, const char *method, const char *path,
                      const wp_header *headers, size_t header_count, const void *body,
                      size_t body_len, wp_client_response *resp);

/* The two halves of wp_client_request, to pipeline: send n requests, then
 * receive n responses in order. No resend on a dead connection here.
 * method_is_head tells recv not to expect a body. */
int wp_client_send(wp_client *client, const char *method, const char *path,
                   const wp_header *headers, size_t header_count, const void *body,
                   size_t body_len);
int wp_client_recv(wp_client *client, bool method_is_head, wp_client_response *resp);

/* Why the last call failed (with strerror text), "" if it did not. */
const char *wp_client_error(const wp_client *client);

#ifdef __cplusplus
}
#endif

#endif /* WP_PROTO_H */
