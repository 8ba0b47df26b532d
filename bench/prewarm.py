#!/usr/bin/env python3
"""prewarm.py -- issue 13's "with prewarm=8, the first 8 concurrent requests
after a deploy have p50 within 1.3x of a warm request".

    bench/prewarm.py [--rounds 10] [--export sum|read] [--build build]

One daemon (tier-up on; the module's tier-1 code is built once and then
comes from the compile cache). Each round deploys examples/bigdata.wasm (a
1 MiB image; its `sum` export reads every byte of it, `read` one) under fresh names,
once with ?prewarm=8 and once without (the order alternates by round),
and on each deploy sends 8 concurrent one-shot calls of `sum` from 8
connections opened beforehand: those are the first requests after the
deploy. Then 8 more concurrent calls on the same module: warm slots. Each
request's latency is its client wall time. Prints the medians over all
rounds and the ratios; the modules are deleted after each round.
"""
import argparse
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import wp_harness  # noqa: E402
from wp_harness import Daemon  # noqa: E402

CONCURRENT = 8


def burst(d, module, export, args):
    """CONCURRENT calls of export at once; returns their latencies (s)."""
    conns = [d.connection(timeout=60) for _ in range(CONCURRENT)]
    for c in conns:
        c.connect()
    go = threading.Barrier(CONCURRENT)
    took = [None] * CONCURRENT

    def one(i):
        go.wait()
        t = time.monotonic()
        resp = d.request("POST", "/v1/modules/%s/call/%s" % (module, export), body={"args": args},
                         conn=conns[i], timeout=60)
        took[i] = time.monotonic() - t
        if resp.status != 200:
            raise SystemExit("%s failed: %r" % (export, resp))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in conns:
        c.close()
    return took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--export", choices=("sum", "read"), default="sum",
                    help="sum reads every page of the image; read(0) one page")
    args = ap.parse_args()
    call_args = [0] if args.export == "read" else []
    wp_harness.BIN_DIR = os.path.join(args.build, "bin")
    wp_harness.EXAMPLES = os.path.join(args.build, "examples")
    wp_harness.CACHE_DIR = os.path.join(args.build, "bench", "prewarm-cache")
    os.makedirs(wp_harness.CACHE_DIR, exist_ok=True)
    with open(os.path.join(wp_harness.EXAMPLES, "bigdata.wasm"), "rb") as f:
        wasm = f.read()
    d = Daemon(pool={"total_instances": 64, "max_unused_warm_slots": 64},
               log={"level": "warn"}).start()
    first = {"prewarm": [], "cold": []}
    warm = {"prewarm": [], "cold": []}
    prewarmed = []
    try:
        # Tier 1 once, so every later deploy of these bytes loads it.
        d.request("PUT", "/v1/modules/tierup", body=wasm, timeout=600)
        deadline = time.time() + 300
        while d.request("GET", "/v1/modules/tierup").json().get("tier") != 1:
            if time.time() > deadline:
                raise SystemExit("tier-up did not finish")
            time.sleep(0.2)
        d.request("DELETE", "/v1/modules/tierup")
        for r in range(args.rounds):
            kinds = ["prewarm", "cold"] if r % 2 == 0 else ["cold", "prewarm"]
            for kind in kinds:
                name = "%s%d" % (kind, r)
                query = "?prewarm=%d" % CONCURRENT if kind == "prewarm" else "?prewarm=0"
                resp = d.request("PUT", "/v1/modules/" + name + query, body=wasm, timeout=600)
                if resp.status not in (200, 201):
                    raise SystemExit("deploy failed: %r" % resp)
                if kind == "prewarm":
                    prewarmed.append(resp.json().get("prewarmed"))
                first[kind] += burst(d, name, args.export, call_args)
                warm[kind] += burst(d, name, args.export, call_args)
                d.request("DELETE", "/v1/modules/" + name)
    finally:
        d.cleanup()
    med = {k: statistics.median(v) * 1e6 for k, v in first.items()}
    wmed = statistics.median(warm["prewarm"] + warm["cold"]) * 1e6
    print("export=%s rounds=%d concurrent=%d prewarmed=%s" % (
        args.export, args.rounds, CONCURRENT, sorted(set(prewarmed))))
    print("| requests | p50 µs | ÷ warm |")
    print("|---|---:|---:|")
    print("| first %d after a deploy with prewarm=%d | %.0f | %.2f |" % (
        CONCURRENT, CONCURRENT, med["prewarm"], med["prewarm"] / wmed))
    print("| first %d after a deploy without prewarm | %.0f | %.2f |" % (
        CONCURRENT, med["cold"], med["cold"] / wmed))
    print("| %d more on the same module (warm slots) | %.0f | 1.00 |" % (CONCURRENT, wmed))


if __name__ == "__main__":
    main()
