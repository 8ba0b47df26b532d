/* bench_setup.h — what wasmpool-bench does before and after the measured
 * run, over proto/'s blocking client: check the daemon answers, deploy the
 * --deploy modules, create the long-lived instances of instance-call
 * entries (one per connection and entry) and release them at the end.
 */
#ifndef WP_BENCH_SETUP_H
#define WP_BENCH_SETUP_H

#include <stddef.h>

#include "bench_args.h"
#include "proto.h"

/* A client on the run's transport. WP_EINVAL / WP_ENOMEM. */
int wp_bench_setup_client(const wp_bench_opts *opts, const char *socket_path, wp_client **out);
/* GET /v1/health; then each --deploy. Messages in err. */
int wp_bench_setup_prepare(wp_client *client, const wp_bench_opts *opts, char *err, size_t err_len);
/* Instances for instance_call entries: *ids_out gets connections *
 * mix->count slots, NULL where no instance is needed (or NULL itself when
 * the mix has no instance calls). On failure the ones created are released. */
int wp_bench_setup_instances(wp_client *client, const wp_bench_opts *opts, char ***ids_out,
                             char *err, size_t err_len);
/* Release and free what wp_bench_setup_instances made. Returns how many
 * releases failed (the daemon's idle timeout frees those). */
size_t wp_bench_setup_release(wp_client *client, const wp_bench_opts *opts, char **ids);

#endif /* WP_BENCH_SETUP_H */
