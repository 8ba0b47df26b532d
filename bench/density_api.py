#!/usr/bin/env python3
"""density_api.py — N live instances held by one wasmpoold, created over its
API (issue 14): the daemon's resident memory per live instance.

    bench/density_api.py [--build build] [--count 100000] [--step 10000]
                         [--config configs/dense.toml] [--keep-map-count]

Starts build/bin/wasmpoold on a temporary socket with --config (module, cache
and socket paths and the log level replaced; the idle timeout off so nothing
is reaped while the run lasts), deploys build/bench/density.wasm (one data
page, `memory 1 1`: a small slot, bounds-checked code) and over one
keep-alive AF_UNIX connection creates COUNT instances
(POST /v1/modules/density/instances), each followed by one call of its
`touch` export, which writes one byte. Every STEP instances, and at the end,
prints the daemon's VmRSS and VmPTE (/proc/PID/status), its kernel mappings
(/proc/PID/maps) and jemalloc's figures from GET /v1/stats. Then times
GET /v1/instances (one page) and releases every instance.

vm.max_map_count: each live instance holds 3 mappings, so 100,000 need more
than the default 65,530. When the sysctl is below 4 per instance (+ 10,000)
the script raises it for the run and sets it back to the value it found when
it ends (it must run as root then); --keep-map-count leaves it alone.

Output: one `key=value` line per reading, stdlib only.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "compare"))
from daemon_density import UnixConnection, request  # noqa: E402

MAP_COUNT = "/proc/sys/vm/max_map_count"


def proc_status(pid):
    """VmRSS and VmPTE in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key = line.split(":")[0]
            if key in ("VmRSS", "VmPTE"):
                out[key] = int(line.split()[1]) * 1024
    return out


def map_count(pid):
    with open(f"/proc/{pid}/maps") as maps:
        return sum(1 for _ in maps)


def daemon_config(template, workdir):
    """The template with this run's paths; each replaced key must be there."""
    with open(template) as f:
        text = f.read()
    sock = os.path.join(workdir, "wasmpool.sock")
    replace = [
        ('instance_idle_timeout = "1m"', 'instance_idle_timeout = "0s"'),
        ("[server]\n", f'[server]\nsocket_path = "{sock}"\n'),
        ("[runtime]\n", f'[runtime]\ncache_dir = "{workdir}/cache"\n'
                        f'module_dir = "{workdir}/modules"\n'),
    ]
    for old, new in replace:
        if old not in text:
            raise SystemExit(f"{template}: expected `{old.strip()}` in it")
        text = text.replace(old, new, 1)
    text += '\n[log]\nlevel = "warn"\n'
    path = os.path.join(workdir, "wasmpoold.toml")
    with open(path, "w") as f:
        f.write(text)
    return path, sock


def wait_socket(path, proc):
    for _ in range(300):
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            raise SystemExit(f"wasmpoold exited with {proc.returncode} before listening")
        time.sleep(0.1)
    raise SystemExit("wasmpoold did not listen within 30 s")


def reading(pid, conn, live, started):
    st = proc_status(pid)
    stats = request(conn, "GET", "/v1/stats")
    jem = stats.get("jemalloc") or {}
    line = (f"live={live} vmrss_bytes={st.get('VmRSS', 0)} vmpte_bytes={st.get('VmPTE', 0)} "
            f"maps={map_count(pid)} jemalloc_allocated={jem.get('allocated')} "
            f"jemalloc_resident={jem.get('resident')} jemalloc_metadata={jem.get('metadata')} "
            f"elapsed_s={time.monotonic() - started:.1f} "
            f"loadavg={os.getloadavg()[0]:.2f}")
    print(line, flush=True)
    return st


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--config", default=os.path.join(root, "configs", "dense.toml"))
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--step", type=int, default=10000)
    ap.add_argument("--keep-map-count", action="store_true")
    args = ap.parse_args()

    wasm_path = os.path.join(args.build, "bench", "density.wasm")
    with open(wasm_path, "rb") as f:
        wasm = f.read()
    old_map_count = None
    need = 4 * args.count + 10000
    with open(MAP_COUNT) as f:
        current = int(f.read())
    if current < need and not args.keep_map_count:
        old_map_count = current
        with open(MAP_COUNT, "w") as f:  # restored in the finally below
            f.write(str(need))
        print(f"vm.max_map_count={need} (was {current}, restored at the end)", flush=True)

    workdir = tempfile.mkdtemp(prefix="wp-density-api-")
    proc = None
    status = 0
    try:
        config, sock = daemon_config(args.config, workdir)
        proc = subprocess.Popen([os.path.join(args.build, "bin", "wasmpoold"), "--config", config],
                                stdout=open(os.path.join(workdir, "wasmpoold.log"), "w"),
                                stderr=subprocess.STDOUT)
        wait_socket(sock, proc)
        conn = UnixConnection(sock)
        started = time.monotonic()
        request(conn, "PUT", "/v1/modules/density", wasm)
        info = request(conn, "GET", "/v1/modules/density")
        print(f"module={json.dumps(info, sort_keys=True)}", flush=True)
        base = reading(proc.pid, conn, 0, started)
        ids = []
        last = base
        try:
            while len(ids) < args.count:
                created = request(conn, "POST", "/v1/modules/density/instances")
                ids.append(created["id"])
                request(conn, "POST", f"/v1/instances/{created['id']}/call/touch",
                        '{"args":[0]}')
                if len(ids) % args.step == 0 or len(ids) == args.count:
                    last = reading(proc.pid, conn, len(ids), started)
        except Exception as e:  # say how far it got
            print(f"stopped_at={len(ids)} error=\"{e}\"", flush=True)
            last = reading(proc.pid, conn, len(ids), started)
            status = 1
        if ids:
            per = (last["VmRSS"] - base["VmRSS"]) / len(ids)
            pte = (last["VmPTE"] - base["VmPTE"]) / len(ids)
            print(f"summary live={len(ids)} vmrss_mib={last['VmRSS'] / 2**20:.0f} "
                  f"per_instance_rss_kib={per / 1024:.2f} per_instance_pte_kib={pte / 1024:.2f}",
                  flush=True)
        t0 = time.monotonic()
        page = request(conn, "GET", "/v1/instances")
        listed = len(page["instances"])
        print(f"list_instances listed={listed} next={page.get('next')!r} "
              f"seconds={time.monotonic() - t0:.3f}", flush=True)
        t0 = time.monotonic()
        for instance_id in ids:
            request(conn, "DELETE", f"/v1/instances/{instance_id}")
        print(f"deleted={len(ids)} seconds={time.monotonic() - t0:.1f}", flush=True)
        reading(proc.pid, conn, 0, started)
        conn.close()
    finally:
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if old_map_count is not None:
            with open(MAP_COUNT, "w") as f:
                f.write(str(old_map_count))
        shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
