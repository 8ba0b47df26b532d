/* bench_setup.c — deploys and long-lived instances around the measured run.
 *
 * These requests are few and not timed, so they use proto/'s blocking
 * client rather than the event loop.
 */
#include "bench_setup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_http.h"
#include "wp_errno.h"

/* Deploys compile with wasm2c + cc: allow minutes. */
#define SETUP_TIMEOUT_MS (5 * 60 * 1000)

int wp_bench_setup_client(const wp_bench_opts *opts, const char *socket_path, wp_client **out) {
  wp_client_options copts;
  memset(&copts, 0, sizeof(copts));
  if (opts->tcp_host != NULL) {
    copts.tcp_host = opts->tcp_host;
    copts.tcp_port = opts->tcp_port;
  } else {
    copts.unix_path = socket_path;
  }
  copts.timeout_ms = SETUP_TIMEOUT_MS;
  return wp_client_create(&copts, out);
}

static void api_message(const wp_client_response *resp, char *buf, size_t len) {
  wp_api_error api;
  wp_json_error_parse(resp->status, resp->body.data, resp->body.len, &api);
  snprintf(buf, len, "%d %s: %s", resp->status, api.name, api.message);
}

static int read_whole(const char *path, wp_buf *out, char *err, size_t err_len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    snprintf(err, err_len, "--deploy: %s: %s", path, strerror(errno));
    return WP_EINVAL;
  }
  char chunk[65536];
  size_t n;
  int rc = 0;
  while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    rc = wp_buf_append(out, chunk, n);
  if (rc == 0 && ferror(f)) {
    snprintf(err, err_len, "--deploy: %s: read error", path);
    rc = WP_EIO;
  }
  fclose(f);
  return rc;
}

int wp_bench_setup_prepare(wp_client *client, const wp_bench_opts *opts, char *err,
                           size_t err_len) {
  wp_client_response resp;
  memset(&resp, 0, sizeof(resp));
  int rc = wp_client_request(client, "GET", "/v1/health", NULL, 0, NULL, 0, &resp);
  if (rc < 0) {
    snprintf(err, err_len, "cannot reach the daemon: %s", wp_client_error(client));
    wp_client_response_free(&resp);
    return rc;
  }
  if (resp.status != 200) {
    char msg[600];
    api_message(&resp, msg, sizeof(msg));
    snprintf(err, err_len, "daemon not healthy: %s", msg);
    wp_client_response_free(&resp);
    return WP_ESYS;
  }
  for (size_t i = 0; i < opts->deploy_count; i++) {
    const wp_bench_deploy *d = &opts->deploys[i];
    wp_buf wasm, path;
    wp_buf_init(&wasm);
    wp_buf_init(&path);
    rc = read_whole(d->path, &wasm, err, err_len);
    if (rc == 0)
      rc = wp_buf_append_str(&path, "/v1/modules/");
    if (rc == 0)
      rc = wp_percent_encode(&path, d->name, strlen(d->name));
    const wp_header type = {"Content-Type", 12, "application/wasm", 16};
    if (rc == 0) {
      rc = wp_client_request(client, "PUT", path.data, &type, 1, wasm.data, wasm.len, &resp);
      if (rc < 0)
        snprintf(err, err_len, "deploy %s: %s", d->name, wp_client_error(client));
      else if (resp.status != 200 && resp.status != 201) {
        char msg[600];
        api_message(&resp, msg, sizeof(msg));
        snprintf(err, err_len, "deploy %s from %s: %s", d->name, d->path, msg);
        rc = WP_ESYS;
      }
    } else if (rc == WP_ENOMEM) {
      snprintf(err, err_len, "out of memory");
    }
    wp_buf_free(&wasm);
    wp_buf_free(&path);
    if (rc < 0)
      break;
  }
  wp_client_response_free(&resp);
  return rc;
}

int wp_bench_setup_instances(wp_client *client, const wp_bench_opts *opts, char ***ids_out,
                             char *err, size_t err_len) {
  *ids_out = NULL;
  const wp_bench_mix *mix = opts->mix;
  if (!wp_bench_mix_has_kind(mix, WP_BENCH_INSTANCE_CALL))
    return 0;
  size_t slots = (size_t)opts->connections * mix->count;
  char **ids = calloc(slots, sizeof(*ids));
  if (ids == NULL)
    return WP_ENOMEM;
  wp_client_response resp;
  memset(&resp, 0, sizeof(resp));
  int rc = 0;
  for (size_t s = 0; rc == 0 && s < slots; s++) {
    const wp_bench_entry *e = &mix->entries[s % mix->count];
    if (e->kind != WP_BENCH_INSTANCE_CALL)
      continue;
    wp_buf path;
    wp_buf_init(&path);
    rc = wp_buf_append_str(&path, "/v1/modules/");
    if (rc == 0)
      rc = wp_percent_encode(&path, e->module, strlen(e->module));
    if (rc == 0)
      rc = wp_buf_append_str(&path, "/instances");
    if (rc == 0)
      rc = wp_client_request(client, "POST", path.data, NULL, 0, NULL, 0, &resp);
    wp_buf_free(&path);
    if (rc < 0) {
      snprintf(err, err_len, "create instance of %s: %s", e->module, wp_client_error(client));
      break;
    }
    if (resp.status != 201) {
      char msg[600];
      api_message(&resp, msg, sizeof(msg));
      snprintf(err, err_len, "create instance of %s: %s", e->module, msg);
      rc = WP_ESYS;
      break;
    }
    char id[WP_NAME_MAX + 1];
    if (wp_bench_parse_instance_id(resp.body.data, resp.body.len, id, sizeof(id)) < 0) {
      snprintf(err, err_len, "create instance of %s: no id in the answer", e->module);
      rc = WP_ESYS;
      break;
    }
    if ((ids[s] = strdup(id)) == NULL)
      rc = WP_ENOMEM;
  }
  wp_client_response_free(&resp);
  if (rc < 0) {
    wp_bench_setup_release(client, opts, ids);
    return rc;
  }
  *ids_out = ids;
  return 0;
}

size_t wp_bench_setup_release(wp_client *client, const wp_bench_opts *opts, char **ids) {
  if (ids == NULL)
    return 0;
  size_t slots = (size_t)opts->connections * opts->mix->count;
  size_t failed = 0;
  wp_client_response resp;
  memset(&resp, 0, sizeof(resp));
  for (size_t s = 0; s < slots; s++) {
    if (ids[s] == NULL)
      continue;
    wp_buf path;
    wp_buf_init(&path);
    int rc = wp_buf_append_str(&path, "/v1/instances/");
    if (rc == 0)
      rc = wp_percent_encode(&path, ids[s], strlen(ids[s]));
    if (rc == 0)
      rc = wp_client_request(client, "DELETE", path.data, NULL, 0, NULL, 0, &resp);
    if (rc < 0 || resp.status != 200)
      failed++;
    wp_buf_free(&path);
    free(ids[s]);
  }
  wp_client_response_free(&resp);
  free(ids);
  return failed;
}
