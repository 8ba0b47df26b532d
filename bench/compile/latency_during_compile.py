#!/usr/bin/env python3
"""latency_during_compile.py -- issue 10's "requests to other modules keep
their latency while compiles run": hello runs on one connection, timed one
by one, first with the daemon idle, then while a 100,000-function module is
deployed (tier 0 on a worker) and tiered up (tier 1 in the background),
interleaved over several rounds; prints p50/p99 of each phase and the ratio
of p99s (target <= 3).

    bench/compile/latency_during_compile.py [--rounds 3] [--functions 100000]
        [--window 600] [--build build]

--window bounds the timed phase of each round (seconds from the deploy):
tier 1 of a 100,000-function module runs for tens of minutes on a 2-core
machine, and the load it puts on the machine is the same all along.

Each round uses a fresh daemon and compile cache, so the hostile module is
really compiled; the hello module is compiled once per round before timing.
"""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import wp_harness  # noqa: E402
from wp_harness import Daemon  # noqa: E402


def many_functions(n):
    """A module of n tiny exported-by-table functions (the issue's hostile
    upload): all reachable, so no compiler drops them."""
    funcs = "\n".join("(func $f%d (param i32) (result i32) (i32.add (local.get 0) (i32.const %d)))"
                      % (i, i) for i in range(n))
    elems = " ".join("$f%d" % i for i in range(n))
    return ("(module (table %d funcref) (elem (i32.const 0) %s)\n%s\n"
            "(func (export \"call\") (param i32) (result i32)"
            " (call_indirect (param i32) (result i32) (i32.const 1) (local.get 0))))"
            % (n, elems, funcs))


def time_runs(d, seconds, out):
    conn = d.connection(timeout=30)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        resp = d.request("POST", "/v1/modules/hello/run", body=b"", conn=conn, timeout=30)
        out.append(time.monotonic() - t)
        if resp.status != 200:
            raise SystemExit("hello failed: %r" % resp)
    conn.close()


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--functions", type=int, default=100000)
    ap.add_argument("--window", type=float, default=600)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    wp_harness.BIN_DIR = os.path.join(args.build, "bin")
    wp_harness.EXAMPLES = os.path.join(args.build, "examples")
    wasm = wp_harness.wat2wasm(many_functions(args.functions))
    print("hostile module: %d functions, %d KiB of wasm" % (args.functions, len(wasm) // 1024))
    idle_p99, busy_p99, rows = [], [], []
    for r in range(args.rounds):
        cache = tempfile.mkdtemp(prefix="wp-bench-cache-")
        d = Daemon(runtime={"cache_dir": cache}, log={"level": "warn"}).start()
        try:
            d.deploy("hello", "hello.wasm")
            idle = []
            time_runs(d, 5, idle)
            busy, result = [], {}

            def deploy():
                t = time.monotonic()
                resp = d.request("PUT", "/v1/modules/many", body=wasm, timeout=600)
                result["deploy_s"] = time.monotonic() - t
                result["status"] = resp.status
            th = threading.Thread(target=deploy)
            th.start()
            time.sleep(0.05)
            start = time.monotonic()
            while th.is_alive() or d.request("GET", "/v1/modules/many").json().get(
                    "tier_up") == "pending":
                time_runs(d, 2, busy)
                if time.monotonic() - start > args.window:
                    break
            th.join()
            info = d.request("GET", "/v1/modules/many").json()
            rows.append((r, len(idle), pct(idle, .5), pct(idle, .99), len(busy), pct(busy, .5),
                         pct(busy, .99), result.get("deploy_s", 0), info.get("tier"),
                         info.get("tier_up_us", 0) / 1e6, time.monotonic() - start,
                         info.get("tier_up")))
            idle_p99.append(pct(idle, .99))
            busy_p99.append(pct(busy, .99))
        finally:
            d.cleanup()
    print("round  idle n  idle p50 ms  idle p99 ms  busy n  busy p50 ms  busy p99 ms  "
          "deploy s  tier  tier-up s  timed s  tier-up state")
    for row in rows:
        print("%5d  %6d  %11.2f  %11.2f  %6d  %11.2f  %11.2f  %8.1f  %4s  %9.1f  %7.0f  %s" % (
            row[0], row[1], 1000 * row[2], 1000 * row[3], row[4], 1000 * row[5], 1000 * row[6],
            row[7], row[8], row[9], row[10], row[11]))
    ratio = statistics.median(busy_p99) / statistics.median(idle_p99)
    print("median p99: idle %.2f ms, during compile %.2f ms, ratio %.2f (target <= 3)" % (
        1000 * statistics.median(idle_p99), 1000 * statistics.median(busy_p99), ratio))


if __name__ == "__main__":
    main()
