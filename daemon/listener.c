/* listener.c — the listening sockets: the Unix socket (mode and owner from
 * the config; a stale socket file from a dead daemon is removed, a live
 * daemon makes start-up fail) and optionally TCP on loopback.
 */
#include "server_int.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* ---- Listening ----------------------------------------------------------- */

/* A socket file left by a daemon that died is removed; one a live daemon
 * answers on makes us refuse to start (two daemons on one path would steal
 * each other's clients); anything that is not a socket is left alone. */
int wp_server_check_socket(const char *path, char *why, size_t why_len) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    if (errno == ENOENT)
      return 0;
    snprintf(why, why_len, "%s: %s", path, strerror(errno));
    return WP_ESYS;
  }
  if (!S_ISSOCK(st.st_mode)) {
    snprintf(why, why_len, "%s exists and is not a socket; not removing it", path);
    return WP_ECONFLICT;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(why, why_len, "socket: %s", strerror(errno));
    return WP_ESYS;
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  int saved = errno;
  close(fd);
  if (rc == 0) {
    snprintf(why, why_len, "another daemon is listening on %s", path);
    return WP_ECONFLICT;
  }
  if (saved != ECONNREFUSED && saved != ENOENT) {
    snprintf(why, why_len, "%s: cannot tell whether it is stale: %s", path, strerror(saved));
    return WP_ESYS;
  }
  if (unlink(path) != 0 && errno != ENOENT) {
    snprintf(why, why_len, "%s: cannot remove stale socket: %s", path, strerror(errno));
    return WP_ESYS;
  }
  wp_log_info("stale_socket_removed", "path=%s", path);
  return 0;
}

static int chown_socket(const wp_config_server *cfg, char *why, size_t why_len) {
  if (!cfg->socket_owner && !cfg->socket_group)
    return 0;
  uid_t uid = (uid_t)-1;
  gid_t gid = (gid_t)-1;
  if (cfg->socket_owner) {
    struct passwd *pw = getpwnam(cfg->socket_owner);
    if (!pw) {
      snprintf(why, why_len, "server.socket_owner: no user named %s", cfg->socket_owner);
      return WP_ECONFIG;
    }
    uid = pw->pw_uid;
  }
  if (cfg->socket_group) {
    struct group *gr = getgrnam(cfg->socket_group);
    if (!gr) {
      snprintf(why, why_len, "server.socket_group: no group named %s", cfg->socket_group);
      return WP_ECONFIG;
    }
    gid = gr->gr_gid;
  }
  if (chown(cfg->socket_path, uid, gid) != 0) {
    snprintf(why, why_len, "chown %s: %s", cfg->socket_path, strerror(errno));
    return WP_ESYS;
  }
  return 0;
}

int wp__listen_unix(wp_server *server, char *why, size_t why_len) {
  wp_daemon *d = server->daemon;
  const wp_config_server *cfg = &d->cfg->server;
  struct sockaddr_un probe;
  if (strlen(cfg->socket_path) >= sizeof probe.sun_path) {
    snprintf(why, why_len, "server.socket_path: longer than %zu bytes", sizeof probe.sun_path - 1);
    return WP_ECONFIG;
  }
  int rc = wp_server_check_socket(cfg->socket_path, why, why_len);
  if (rc)
    return rc;
  uv_pipe_init(d->loop, &server->unix_listener.pipe, 0);
  server->unix_listener.handle.data = server;
  server->unix_open = true;
  server->open_handles++;
  /* Created owner-only, then widened to socket_mode: no window in which the
   * socket is more open than configured. Start-up is single-threaded here
   * as far as file creation goes (workers are idle). */
  mode_t old_mask = umask(0177);
  rc = uv_pipe_bind(&server->unix_listener.pipe, cfg->socket_path);
  umask(old_mask);
  if (rc != 0) {
    snprintf(why, why_len, "bind %s: %s", cfg->socket_path, uv_strerror(rc));
    return WP_ESYS;
  }
  server->socket_path = strdup(cfg->socket_path);
  if (chmod(cfg->socket_path, (mode_t)cfg->socket_mode) != 0) {
    snprintf(why, why_len, "chmod %s: %s", cfg->socket_path, strerror(errno));
    return WP_ESYS;
  }
  rc = chown_socket(cfg, why, why_len);
  if (rc)
    return rc;
  /* listen(2) here, not uv_listen: this loop does not accept, the shards
   * do, each polling a dup of the descriptor (shard.c). */
  if (uv_fileno(&server->unix_listener.handle, &server->unix_fd) != 0 ||
      listen(server->unix_fd, 511) != 0) {
    snprintf(why, why_len, "listen %s: %s", cfg->socket_path, strerror(errno));
    return WP_ESYS;
  }
  wp_log_info("listening", "socket=%s mode=%04o", cfg->socket_path, cfg->socket_mode);
  return 0;
}

int wp__listen_tcp(wp_server *server, char *why, size_t why_len) {
  wp_daemon *d = server->daemon;
  const wp_config_server *cfg = &d->cfg->server;
  if (!cfg->tcp_host)
    return 0;
  union {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_storage storage;
  } addr;
  if (uv_ip4_addr(cfg->tcp_host, cfg->tcp_port, &addr.in4) != 0 &&
      uv_ip6_addr(cfg->tcp_host, cfg->tcp_port, &addr.in6) != 0) {
    snprintf(why, why_len, "server.tcp_listen: bad address %s", cfg->tcp_host);
    return WP_ECONFIG;
  }
  uv_tcp_init(d->loop, &server->tcp_listener.tcp);
  server->tcp_listener.handle.data = server;
  server->tcp_open = true;
  server->open_handles++;
  int rc = uv_tcp_bind(&server->tcp_listener.tcp, &addr.sa, 0);
  /* libuv keeps a bind error (EADDRINUSE) for uv_listen to report; we
   * call listen(2) ourselves, so look at it here. */
  if (rc == 0)
    rc = server->tcp_listener.tcp.delayed_error;
  if (rc == 0)
    rc = uv_fileno(&server->tcp_listener.handle, &server->tcp_fd);
  if (rc == 0 && listen(server->tcp_fd, 511) != 0)
    rc = uv_translate_sys_error(errno);
  if (rc != 0) {
    snprintf(why, why_len, "server.tcp_listen %s: %s", cfg->tcp_listen, uv_strerror(rc));
    return WP_ESYS;
  }
  int len = sizeof addr;
  uv_tcp_getsockname(&server->tcp_listener.tcp, &addr.sa, &len);
  char host[64] = "?";
  int port = 0;
  if (addr.sa.sa_family == AF_INET) {
    uv_ip4_name(&addr.in4, host, sizeof host);
    port = ntohs(addr.in4.sin_port);
  } else {
    uv_ip6_name(&addr.in6, host, sizeof host);
    port = ntohs(addr.in6.sin6_port);
  }
  wp_log_info("listening", "tcp=%s:%d", host, port);
  const char *bracket_l = addr.sa.sa_family == AF_INET6 ? "[" : "";
  const char *bracket_r = addr.sa.sa_family == AF_INET6 ? "]" : "";
  char(*hosts)[80] = server->tcp_hosts;
  snprintf(hosts[0], sizeof hosts[0], "%s%s%s", bracket_l, host, bracket_r);
  snprintf(hosts[1], sizeof hosts[1], "%s%s%s:%d", bracket_l, host, bracket_r, port);
  snprintf(hosts[2], sizeof hosts[2], "localhost");
  snprintf(hosts[3], sizeof hosts[3], "localhost:%d", port);
  server->tcp_host_count = 4;
  if (cfg->allowed_uid_count)
    wp_log_warn("tcp_unchecked", "server.allowed_uids applies to the Unix socket only");
  return 0;
}
