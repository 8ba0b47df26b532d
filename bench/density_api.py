#!/usr/bin/env python3
"""density_api.py -- issue 14's density over the daemon's API: one wasmpoold
holding COUNT live instances of bench/density.wat (one data page, `memory 1
1`), each created with POST /v1/modules/NAME/instances and having written
one byte (its `touch` export), with the daemon's VmRSS and VmPTE read from
/proc before, at each step, and after every instance is deleted.

    bench/density_api.py [--build build] [--config configs/dense.toml]
                         [--counts 10000,50000,100000]

Starts its own daemon on a temporary socket and module directory, with the
given config plus `instance_idle_timeout = "0s"` (the run is longer than the
config's idle timeout) and a cache in the build tree. 100,000 live
instances need vm.max_map_count above its default (each holds 3 mappings);
bench/density_100k.sh raises it for the run. Stdlib only. Prints one line
per step: `engine=wasmpoold instances=N rss_kib=R pte_kib=P seconds=S`.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


def request(conn, method, path, body=None):
    conn.request(method, path, body=body)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status >= 300:
        raise RuntimeError("%s %s: %d %r" % (method, path, resp.status, data[:200]))
    return json.loads(data) if data else None


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def config_text(base, tmp, build):
    """The base config with the run's paths and no idle timeout: the TOML
    keys are replaced or added in their tables, so the base's comments and
    other keys stay as they are."""
    with open(base) as f:
        text = f.read()
    overrides = {
        "server": {"socket_path": os.path.join(tmp, "wp.sock"), "instance_idle_timeout": "0s"},
        "runtime": {"module_dir": os.path.join(tmp, "modules"),
                    "cache_dir": os.path.join(build, "bench", "density-cache")},
    }
    for table, keys in overrides.items():
        for key, value in keys.items():
            if not value.startswith('"'):
                value = '"%s"' % value
            line = "%s = %s" % (key, value)
            pattern = re.compile(r"^%s\s*=.*$" % re.escape(key), re.M)
            section = re.search(r"^\[%s\]\s*$" % table, text, re.M)
            if section is None:
                text += "\n[%s]\n%s\n" % (table, line)
                continue
            nxt = re.search(r"^\[", text[section.end():], re.M)
            end = section.end() + (nxt.start() if nxt else len(text) - section.end())
            body = text[section.end():end]
            if pattern.search(body):
                body = pattern.sub(line, body)
            else:
                body = "\n" + line + body
            text = text[:section.end()] + body + text[end:]
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "dense.toml"))
    ap.add_argument("--counts", default="10000,50000,100000")
    args = ap.parse_args()
    counts = sorted(int(c) for c in args.counts.split(","))
    build = os.path.abspath(args.build)
    wasm_path = os.path.join(build, "bench", "density.wasm")
    with open(wasm_path, "rb") as f:
        wasm = f.read()
    tmp = tempfile.mkdtemp(prefix="wp-density-")
    os.makedirs(os.path.join(tmp, "modules"))
    os.makedirs(os.path.join(build, "bench", "density-cache"), exist_ok=True)
    config = os.path.join(tmp, "wasmpool.toml")
    with open(config, "w") as f:
        f.write(config_text(args.config, tmp, build))
    log = open(os.path.join(tmp, "wasmpoold.log"), "w")
    daemon = subprocess.Popen([os.path.join(build, "bin", "wasmpoold"), "--config", config],
                              stdout=log, stderr=subprocess.STDOUT)
    sock = os.path.join(tmp, "wp.sock")
    status = 0
    try:
        for _ in range(300):
            if os.path.exists(sock) or daemon.poll() is not None:
                break
            time.sleep(0.1)
        if daemon.poll() is not None:
            log.flush()
            with open(log.name) as f:
                raise SystemExit("wasmpoold did not start:\n" + f.read())
        conn = UnixConnection(sock)
        request(conn, "PUT", "/v1/modules/density", wasm)

        def line(n, start, extra=""):
            print("engine=wasmpoold instances=%d rss_kib=%d pte_kib=%d seconds=%.1f%s" % (
                n, status_kib(daemon.pid, "VmRSS"), status_kib(daemon.pid, "VmPTE"),
                time.monotonic() - start, extra), flush=True)

        start = time.monotonic()
        line(0, start)
        ids = []
        try:
            for count in counts:
                while len(ids) < count:
                    ids.append(request(conn, "POST", "/v1/modules/density/instances")["id"])
                    request(conn, "POST", "/v1/instances/%s/call/touch" % ids[-1],
                            b'{"args":[0]}')
                line(len(ids), start)
        except Exception as e:  # how far it got is the result
            line(len(ids), start, ' stopped="%s"' % str(e).replace('"', "'"))
            status = 1
        t = time.monotonic()
        conn.request("GET", "/v1/instances")
        resp = conn.getresponse()
        listing = resp.read()
        print("list status=%d bytes=%d seconds=%.2f" % (resp.status, len(listing),
                                                         time.monotonic() - t), flush=True)
        for instance_id in ids:
            request(conn, "DELETE", "/v1/instances/%s" % instance_id)
        time.sleep(2)
        line(0, start, " after_delete=1")
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
