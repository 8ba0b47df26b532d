#!/usr/bin/env python3
"""prewarm.py -- issue 13's "with prewarm=8, the first 8 concurrent requests
after a deploy have p50 within 1.3x of a warm request".

    bench/prewarm.py [--rounds 10] [--export sum|read] [--build build]
                     [--daemon-log] [--tierup off|on|wait]

One daemon. Each round deploys examples/bigdata.wasm (a 1 MiB image; its
`sum` export reads every byte of it, `read` one) under fresh names, once
with ?prewarm=8 and once without (the order alternates by round). On each
deploy: the first burst, 8 concurrent one-shot calls: the first requests
after the deploy; then the warm burst, 8 more on the same module. Both
bursts are set up alike: 8 connections opened beforehand, each one's
`GET /v1/health` answered (so it is accepted and settled on its loop), then
the 8 calls written back to back from one thread and their answers read
with a selector. A request's latency is from just before its bytes are
written to the end of its answer. (An earlier version used 8 Python
threads and http.client: about 1.5 ms of client per request, against a
daemon that answers in 20 us, and it measured the threads.)

Tier: a deploy answers with tier-0 code and tier-up swaps the tier-1 code in
when it is built (docs/DAEMON.md), even when that code is already in the
compile cache: with tier-up on the first burst can run tier 0 and the warm
one tier 1. So the default is --tierup off: every request runs the same
tier-0 code, and the prewarmed slots are the ones requests use. --tierup
wait measures at tier 1: it waits for the swap after each deploy, and the
swap brings a module with its own image, so the slots prewarmed for the
tier-0 module do not serve it. The tier each burst saw is printed.

--daemon-log: the daemon logs at debug and its own latency of each call
(first byte of the request to the answer queued, the `request` log line) is
reported beside the client's. The modules are deleted after each round.
"""
import argparse
import json
import os
import re
import selectors
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import wp_harness  # noqa: E402
from wp_harness import Daemon  # noqa: E402

CONCURRENT = 8


def http_request(method, path, body=b""):
    return ("%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (method, path, len(body))).encode() + body


def response_end(data):
    """Length of the first complete response in data, or None."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", data[:head_end], re.I)
    end = head_end + 4 + (int(m.group(1)) if m else 0)
    return end if len(data) >= end else None


def exchange(socks, requests, timeout=60):
    """Writes requests[i] on socks[i], back to back, and reads one answer on
    each. Returns [(latency s, status)] in socket order."""
    sel = selectors.DefaultSelector()
    bufs = [b""] * len(socks)
    sent = [0.0] * len(socks)
    done = [None] * len(socks)
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    for i, s in enumerate(socks):
        sent[i] = time.perf_counter()
        s.sendall(requests[i])
    left = len(socks)
    deadline = time.monotonic() + timeout
    while left:
        if time.monotonic() > deadline:
            raise SystemExit("no answer within %d s" % timeout)
        for key, _ in sel.select(1.0):
            i = key.data
            chunk = key.fileobj.recv(65536)
            now = time.perf_counter()
            if not chunk:
                raise SystemExit("the daemon closed a connection")
            bufs[i] += chunk
            end = response_end(bufs[i])
            if end is not None and done[i] is None:
                status = int(bufs[i].split(b" ", 2)[1])
                done[i] = (now - sent[i], status, bufs[i][:end])
                sel.unregister(key.fileobj)
                left -= 1
    sel.close()
    return done


def burst(d, module, export, args):
    """CONCURRENT calls of export at once on fresh, settled connections;
    returns their latencies (s)."""
    socks = []
    for _ in range(CONCURRENT):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.socket)
        socks.append(s)
    health = http_request("GET", "/v1/health")
    for _, status, body in exchange(socks, [health] * CONCURRENT):
        if status != 200:
            raise SystemExit("health: %d %r" % (status, body))
    call = http_request("POST", "/v1/modules/%s/call/%s" % (module, export),
                        json.dumps({"args": args}).encode())
    answers = exchange(socks, [call] * CONCURRENT)
    for s in socks:
        s.close()
    for _, status, body in answers:
        if status != 200:
            raise SystemExit("%s failed: %d %r" % (export, status, body[-300:]))
    return [a[0] for a in answers]


def guest_runs(d):
    text = d.request("GET", "/metrics").body.decode()
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r'^wasmpool_guest_runs_total\{where="(\w+)"\} (\d+)$', text, re.M)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--export", choices=("sum", "read"), default="sum",
                    help="sum reads every page of the image; read(0) one page")
    ap.add_argument("--tierup", choices=("on", "off", "wait"), default="off",
                    help="off: every request runs the tier-0 code (see above); "
                    "wait: on, and the first burst waits for the swap to tier 1")
    ap.add_argument("--daemon-log", action="store_true",
                    help="also report the daemon's own latency of each call")
    args = ap.parse_args()
    call_args = [0] if args.export == "read" else []
    wp_harness.BIN_DIR = os.path.join(args.build, "bin")
    wp_harness.EXAMPLES = os.path.join(args.build, "examples")
    wp_harness.CACHE_DIR = os.path.join(args.build, "bench", "prewarm-cache")
    os.makedirs(wp_harness.CACHE_DIR, exist_ok=True)
    with open(os.path.join(wp_harness.EXAMPLES, "bigdata.wasm"), "rb") as f:
        wasm = f.read()
    d = Daemon(pool={"total_instances": 64, "max_unused_warm_slots": 64},
               runtime={"tierup_threads": 0 if args.tierup == "off" else 1},
               log={"level": "debug" if args.daemon_log else "warn"}).start()
    phases = [(k, p) for k in ("prewarm", "cold") for p in ("first", "warm")]
    client = {ph: [] for ph in phases}
    where = {ph: {} for ph in phases}
    tiers = {ph: set() for ph in phases}
    prewarmed = []
    try:
        if args.tierup != "off":
            # Tier 1 once, so that tier-up of these bytes is a cache hit.
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
                if args.tierup == "wait":
                    deadline = time.time() + 60
                    while d.request("GET", "/v1/modules/" + name).json()["tier"] != 1:
                        if time.time() > deadline:
                            raise SystemExit("tier-up of %s did not finish" % name)
                        time.sleep(0.01)
                for phase in ("first", "warm"):
                    before = guest_runs(d)
                    client[(kind, phase)] += burst(d, name, args.export, call_args)
                    after = guest_runs(d)
                    for k, v in after.items():
                        where[(kind, phase)][k] = where[(kind, phase)].get(k, 0) + v - before.get(k, 0)
                    tiers[(kind, phase)].add(d.request("GET", "/v1/modules/" + name).json()["tier"])
                d.request("DELETE", "/v1/modules/" + name)
        log = d.read_log() if args.daemon_log else ""
    finally:
        d.cleanup()

    daemon = {ph: [] for ph in phases}
    calls = {}
    for m in re.finditer(r"request method=POST path=/v1/modules/(\w+)/call/\w+ .*? us=(\d+)", log):
        calls.setdefault(m.group(1), []).append(int(m.group(2)))
    for name, us in calls.items():
        kind = "prewarm" if name.startswith("prewarm") else "cold"
        daemon[(kind, "first")] += us[:CONCURRENT]
        daemon[(kind, "warm")] += us[CONCURRENT:2 * CONCURRENT]

    def p50(xs):
        return statistics.median(xs) if xs else float("nan")

    warm_client = p50([t * 1e6 for k in ("prewarm", "cold") for t in client[(k, "warm")]])
    warm_daemon = p50(daemon[("prewarm", "warm")] + daemon[("cold", "warm")])
    print("export=%s rounds=%d concurrent=%d tierup=%s prewarmed=%s" % (
        args.export, args.rounds, CONCURRENT, args.tierup, sorted(set(prewarmed))))
    print("| requests | tier | ran on (loop/pool/cut) | client p50 µs | ÷ warm |%s" % (
        " daemon p50 µs | ÷ warm |" if args.daemon_log else ""))
    print("|---|---|---|---:|---:|%s" % ("---:|---:|" if args.daemon_log else ""))
    labels = {("prewarm", "first"): "first %d after a deploy with prewarm=%d" % (CONCURRENT, CONCURRENT),
              ("cold", "first"): "first %d after a deploy without prewarm" % CONCURRENT,
              ("prewarm", "warm"): "%d more (warm), prewarm deploys" % CONCURRENT,
              ("cold", "warm"): "%d more (warm), plain deploys" % CONCURRENT}
    for ph in [("prewarm", "first"), ("cold", "first"), ("prewarm", "warm"), ("cold", "warm")]:
        c = p50([t * 1e6 for t in client[ph]])
        w = where[ph]
        line = "| %s | %s | %d/%d/%d | %.0f | %.2f |" % (
            labels[ph], "/".join(str(t) for t in sorted(tiers[ph])), w.get("loop", 0),
            w.get("pool", 0), w.get("loop_cut", 0), c, c / warm_client)
        if args.daemon_log:
            s = p50(daemon[ph])
            line += " %.0f | %.2f |" % (s, s / warm_daemon)
        print(line)
    print("warm p50 (both kinds): client %.0f µs%s" % (
        warm_client, ", daemon %.0f µs" % warm_daemon if args.daemon_log else ""))


if __name__ == "__main__":
    main()
