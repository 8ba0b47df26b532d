#!/usr/bin/env python3
"""snapshot.py — the measurements of bench/snapshot.sh (read its header for
what and why). Stdlib only.

    snapshot.py --root REPO --bin BUILD/bin --examples BUILD/examples
                --wizer PATH --work DIR --lua-version V [--doc FILE]
                [--quick] [--wizer-only] [--rounds N] [--deploy-rounds N]

Every daemon it starts is its own: a temporary directory with a socket,
module directory and compile cache, removed afterwards. Exit status 3: the
daemon has no snapshot at deploy (and --wizer-only was not given).
"""
import argparse
import hashlib
import http.client
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BEGIN = "<!-- snapshot:begin -->"
END = "<!-- snapshot:end -->"
NO_SNAPSHOT = 3
SLOW = {"X-Wasmpool-Deadline-Ms": "60000"}  # lazy init at tier 0 takes seconds


def log(msg):
    print("[snapshot %s] %s" % (time.strftime("%H:%M:%S", time.gmtime()), msg),
          file=sys.stderr, flush=True)


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=600)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(600)
        self.sock.connect(self.unix_path)


class Daemon:
    """A wasmpoold of our own on an empty cache and module directory."""

    def __init__(self, bin_dir, tierup, cache_dir=None):
        self.dir = tempfile.mkdtemp(prefix="wp-snapshot-")
        self.socket = os.path.join(self.dir, "wp.sock")
        self.cache = cache_dir or os.path.join(self.dir, "cache")
        config = os.path.join(self.dir, "wasmpoold.toml")
        with open(config, "w") as f:
            f.write("# Written by bench/snapshot.sh.\n"
                    "[pool]\ntotal_instances = 16\n"
                    "[server]\nsocket_path = \"%s\"\n"
                    "[runtime]\ncache_dir = \"%s\"\nmodule_dir = \"%s\"\ntierup_threads = %d\n"
                    "[log]\nlevel = \"warn\"\n"
                    % (self.socket, self.cache, os.path.join(self.dir, "modules"),
                       1 if tierup else 0))
        self.log_path = os.path.join(self.dir, "wasmpoold.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([os.path.join(bin_dir, "wasmpoold"), "--config", config],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("snapshot.py: wasmpoold did not start:\n" + self.read_log())
            time.sleep(0.05)
        self.conn = UnixConnection(self.socket)
        self.conn.connect()

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def request(self, method, path, body=None, headers=None):
        """Returns (status, body bytes, headers, seconds of wall time)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        start = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        took = time.perf_counter() - start
        return resp.status, data, dict(resp.getheaders()), took

    def deploy(self, name, wasm):
        status, body, _, took = self.request("PUT", "/v1/modules/" + name, body=wasm)
        if status not in (200, 201):
            raise SystemExit("snapshot.py: deploy of %s failed: %d %s" % (name, status, body[:500]))
        return json.loads(body), took

    def info(self, name):
        status, body, _, _ = self.request("GET", "/v1/modules/" + name)
        if status != 200:
            raise SystemExit("snapshot.py: GET module %s: %d %s" % (name, status, body[:300]))
        return json.loads(body)

    def stop(self):
        self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def exports(info):
    return {e["name"] for e in info.get("exports", [])}


def snapshot_shown(info):
    """Whether the daemon snapshotted lua.wasm at deploy: the init export is
    gone (not callable after a snapshot) or the description names a
    snapshot. Today's daemon keeps wizer.initialize as a plain export."""
    if "wizer.initialize" not in exports(info):
        return True
    return any_snapshot_key(info)


def any_snapshot_key(value):
    """A key naming a snapshot, with a value that is not null, false, 0 or
    empty, anywhere in the description."""
    if isinstance(value, dict):
        return any(("snapshot" in k.lower() and bool(v)) or any_snapshot_key(v)
                   for k, v in value.items())
    if isinstance(value, list):
        return any(any_snapshot_key(v) for v in value)
    return False


def run_wizer(wizer, src, out):
    start = time.perf_counter()
    proc = subprocess.run([wizer, "--allow-wasi", "-o", out, src], capture_output=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit("snapshot.py: wizer failed:\n" + proc.stderr.decode(errors="replace"))
    return took


def median(values):
    return statistics.median(values) if values else None


def fmt_us(seconds):
    if seconds is None:
        return "pending"
    us = seconds * 1e6
    return "%.0f µs" % us if us < 10000 else "%.1f ms" % (us / 1000)


def fmt_s(seconds):
    return "pending" if seconds is None else "%.2f s" % seconds


def ratio(a, b):
    return "pending" if a is None or b is None or b == 0 else "%.1f×" % (a / b)


def wait_tier1(d, names, timeout):
    end = time.monotonic() + timeout
    while True:
        states = {n: d.info(n) for n in names}
        if all(s.get("tier") == 1 for s in states.values()):
            return {n: 1 for n in names}
        if time.monotonic() > end or any(s.get("tier_up") == "failed" for s in states.values()):
            return {n: s.get("tier") for n, s in states.items()}
        time.sleep(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--examples", required=True)
    ap.add_argument("--wizer", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--lua-version", default="?")
    ap.add_argument("--doc")
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--wizer-only", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--deploy-rounds", type=int)
    opts = ap.parse_args()
    rounds = opts.rounds or (5 if opts.quick else 30)
    deploy_rounds = opts.deploy_rounds or (1 if opts.quick else 5)

    lua_path = os.path.join(opts.examples, "lua.wasm")
    lazy_path = os.path.join(opts.examples, "lua_nosnap.wasm")
    for p in (lua_path, lazy_path):
        if not os.path.exists(p):
            raise SystemExit("snapshot.py: %s is missing (scripts/debsrc.sh lua5.4, configure, build)" % p)
    with open(lua_path, "rb") as f:
        lua_wasm = f.read()
    with open(lazy_path, "rb") as f:
        lazy_wasm = f.read()

    run_dir = os.path.join(opts.work, "run-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    os.makedirs(run_dir, exist_ok=True)
    wizer_out = os.path.join(run_dir, "lua.wizer.wasm")
    results = {"meta": {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                     if l.startswith("model name")), platform.processor()),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "load_start": open("/proc/loadavg").read().split()[:3],
        "wizer": subprocess.run([opts.wizer, "--version"], capture_output=True,
                                text=True).stdout.strip(),
        "lua": "Debian lua5.4 " + opts.lua_version,
        "lua_wasm_bytes": len(lua_wasm),
        "rounds": rounds, "deploy_rounds": deploy_rounds,
        "mode": "quick" if opts.quick else "full",
        "wizer_only": opts.wizer_only,
    }}

    # ---- Wizer's output (also the module of (a) and (b)) ----------------------------
    log("wizer --allow-wasi %s" % lua_path)
    run_wizer(opts.wizer, lua_path, wizer_out)
    with open(wizer_out, "rb") as f:
        wizer_wasm = f.read()
    results["meta"]["wizer_out_bytes"] = len(wizer_wasm)
    results["meta"]["wizer_out_sha256"] = hashlib.sha256(wizer_wasm).hexdigest()

    # ---- (a) + (b): one daemon, tier-up on, all modules at tier 1 ----------------------
    d = Daemon(opts.bin, tierup=True)
    try:
        log("deploying lua_nosnap.wasm, Wizer's output and lua.wasm")
        d.deploy("lazy", lazy_wasm)
        # The floor: the smallest call there is, on the same connection and
        # in the same rounds (under load even this takes milliseconds).
        with open(os.path.join(opts.examples, "add.wasm"), "rb") as f:
            d.deploy("add", f.read())
        info_w, _ = d.deploy("wizer", wizer_wasm)
        info_s, _ = d.deploy("snap", lua_wasm)
        has_snapshot = snapshot_shown(info_s)
        results["meta"]["daemon_snapshot"] = has_snapshot
        results["meta"]["wizer_out_image_bytes"] = info_w["limits"]["image_bytes"]
        if has_snapshot:
            results["meta"]["snap_image_bytes"] = info_s["limits"].get("image_bytes")
        if not has_snapshot and not opts.wizer_only:
            d.stop()
            print("snapshot.sh: this wasmpoold has no snapshot at deploy yet (issue 13): a "
                  "deploy of lua.wasm still exports wizer.initialize and names no snapshot.\n"
                  "Run `bench/snapshot.sh --wizer-only` for the parts that need none.",
                  file=sys.stderr)
            return NO_SNAPSHOT
        modules = ["snap", "wizer", "lazy"] if has_snapshot else ["wizer", "lazy"]
        log("waiting for tier-1 code of %s" % ", ".join(modules))
        tiers = wait_tier1(d, modules + ["add"], timeout=600)
        results["meta"]["tiers"] = tiers

        # (b) byte-identical answers.
        inputs = [0, 1, 2, 7, 42, 99, 250, 1000, 2047, 4095, 4999, 5000, 5001, 65535, 123456,
                  -1, -5, -4999, 2**31 - 1, -2**31] + list(range(300, 5000, 700))
        run_bodies = [b"", b"7", b"0 1 2 3 4 5 6 7 8 9", b"4999 5000 123456789 999999999999",
                      " ".join(str(n) for n in range(0, 5000, 97)).encode()]
        answers = {m: [] for m in modules}
        for m in modules:
            for n in inputs:
                status, body, _, _ = d.request("POST", "/v1/modules/%s/call/handle" % m,
                                               body={"args": [n]}, headers=SLOW)
                answers[m].append((status, body))
            for b in run_bodies:
                status, body, hdr, _ = d.request("POST", "/v1/modules/%s/run" % m, body=b,
                                                 headers=SLOW)
                answers[m].append((status, body))
        ref = answers["lazy"]
        results["identical"] = {
            "requests": len(ref),
            "all_200": {m: all(s == 200 for s, _ in answers[m]) for m in modules},
            "wizer_vs_lazy": sum(a == b for a, b in zip(answers["wizer"], ref)),
        }
        if has_snapshot:
            results["identical"]["snap_vs_wizer"] = sum(
                a == b for a, b in zip(answers["snap"], answers["wizer"]))
            results["identical"]["snap_vs_lazy"] = sum(
                a == b for a, b in zip(answers["snap"], ref))

        # (a) latency, interleaved: each round calls every module once, in an
        # order that rotates, with a different n per round.
        log("(a) %d rounds of handle(n) on %s" % (rounds, ", ".join(modules)))
        timed = modules + ["add"]
        lat = {m: [] for m in timed}
        for r in range(rounds):
            order = timed[r % len(timed):] + timed[:r % len(timed)]
            for m in order:
                call = ("/v1/modules/add/call/add", [r, 37]) if m == "add" else (
                    "/v1/modules/%s/call/handle" % m, [r * 37])
                status, body, _, took = d.request("POST", call[0], body={"args": call[1]},
                                                  headers=SLOW)
                if status != 200:
                    raise SystemExit("snapshot.py: %s handle: %d %s" % (m, status, body))
                lat[m].append(took)
        results["latency_s"] = lat
    finally:
        if d.proc.poll() is None:
            d.stop()

    # ---- (c) deploy time, cold and warm -----------------------------------------------
    log("(c) %d rounds of deploy: ours (snapshot) and wizer + plain deploy" % deploy_rounds)
    dep = {"ours_cold": [], "ours_warm": [], "wizer_run": [], "wizer_put_cold": [],
           "wizer_put_warm": [], "wizer_run_warm": []}

    def ours():
        dd = Daemon(opts.bin, tierup=False)
        try:
            info, took = dd.deploy("lua", lua_wasm)
            if not snapshot_shown(info):
                raise SystemExit("snapshot.py: lua.wasm deployed without a snapshot")
            dep["ours_cold"].append(took)
            _, took = dd.deploy("lua2", lua_wasm)
            dep["ours_warm"].append(took)
        finally:
            dd.stop()

    def theirs():
        out = os.path.join(run_dir, "lua.wizer.round.wasm")
        dep["wizer_run"].append(run_wizer(opts.wizer, lua_path, out))
        with open(out, "rb") as f:
            wasm = f.read()
        dd = Daemon(opts.bin, tierup=False)
        try:
            _, took = dd.deploy("lua", wasm)
            dep["wizer_put_cold"].append(took)
            dep["wizer_run_warm"].append(run_wizer(opts.wizer, lua_path, out))
            with open(out, "rb") as f:
                again = f.read()
            results["meta"]["wizer_deterministic"] = again == wasm
            _, took = dd.deploy("lua2", again)
            dep["wizer_put_warm"].append(took)
        finally:
            dd.stop()

    for r in range(deploy_rounds):
        steps = [theirs] if not has_snapshot else ([ours, theirs] if r % 2 == 0 else [theirs, ours])
        for step in steps:
            step()
    results["deploy_s"] = dep
    results["meta"]["load_end"] = open("/proc/loadavg").read().split()[:3]
    results["meta"]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(os.path.join(run_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    log("results: %s" % os.path.join(run_dir, "results.json"))

    report = render(results, has_snapshot, opts)
    print(report)
    if opts.doc and not opts.no_doc:
        write_doc(opts.doc, report)
        log("wrote the snapshot section of %s" % opts.doc)
    return 0


def render(res, has_snapshot, opts):
    m = res["meta"]
    lat = {k: median(v) for k, v in res["latency_s"].items()}
    snap = lat.get("snap")
    dep = {k: median(v) for k, v in res["deploy_s"].items()}
    wz_cold = (dep["wizer_run"] + dep["wizer_put_cold"]) if dep["wizer_run"] is not None else None
    wz_warm = (dep["wizer_run_warm"] + dep["wizer_put_warm"]) if dep["wizer_put_warm"] is not None else None
    ident = res["identical"]
    n = ident["requests"]
    cmd = "bench/snapshot.sh" + (" --quick" if opts.quick else "") + (
        " --wizer-only" if opts.wizer_only else "")
    lines = [BEGIN, "## Interpreter snapshots: Lua and Wizer (issue 13)", "",
             "Generated by `%s` (run %s – %s, %s, %d CPUs, load %s → %s; %s rounds of requests, "
             "%s of deploys, %s mode). Raw figures: `build/snapshot/run-*/results.json`."
             % (cmd, m["started"], m["finished"], m["cpu"], m["cpus"], " ".join(m["load_start"]),
                " ".join(m["load_end"]), m["rounds"], m["deploy_rounds"], m["mode"]), "",
             "Guest: `examples/lua` (%s, %d-byte `lua.wasm`); %s; Wizer's output %d bytes "
             "(image %d bytes), byte-identical on every Wizer run: %s. Tiers while measuring "
             "latency: %s."
             % (m["lua"], m["lua_wasm_bytes"], m["wizer"], m["wizer_out_bytes"],
                m["wizer_out_image_bytes"], m.get("wizer_deterministic", "?"),
                ", ".join("%s %s" % kv for kv in sorted(m["tiers"].items()))), ""]
    if not has_snapshot:
        lines += ["**Our snapshot columns are pending**: this run's daemon had no snapshot at "
                  "deploy yet (issue 13 item 1 is on another branch), so only lazy init and "
                  "Wizer's output were measured.", ""]
    lines += ["### (a) Per-request latency, `call/handle`, median (client wall time, one "
              "keep-alive connection)", "",
              "| module | median | lazy init ÷ this |", "|---|---|---|",
              "| `lua.wasm`, our snapshot at deploy | %s | %s |" % (fmt_us(snap), ratio(lat["lazy"], snap)),
              "| Wizer's output, plain deploy | %s | %s |" % (fmt_us(lat["wizer"]), ratio(lat["lazy"], lat["wizer"])),
              "| `lua_nosnap.wasm`, plain deploy (lazy init in each request) | %s | 1.0× |" % fmt_us(lat["lazy"]),
              "| floor: `add.wasm`'s `add(i32, i32)` in the same rounds | %s | — |" % fmt_us(lat["add"]),
              "", "Target: ≥ 10× faster with the snapshot than without.", "",
              "### (b) Byte-identical answers (%d requests: %d `call/handle`, the rest WASI runs)"
              % (n, n - 5), "",
              "| pair | identical |", "|---|---|",
              "| our snapshot vs Wizer's output | %s |" % (
                  "%d / %d" % (ident["snap_vs_wizer"], n) if has_snapshot else "pending"),
              "| our snapshot vs lazy init | %s |" % (
                  "%d / %d" % (ident["snap_vs_lazy"], n) if has_snapshot else "pending"),
              "| Wizer's output vs lazy init | %d / %d |" % (ident["wizer_vs_lazy"], n), "",
              "### (c) Deploy time, median (PUT to answer; tier-up off)", "",
              "| | cold (empty compile cache) | warm (compile cache hit) |", "|---|---|---|",
              "| ours: PUT `lua.wasm` (compile, init, snapshot) | %s | %s |"
              % (fmt_s(dep["ours_cold"]), fmt_s(dep["ours_warm"])),
              "| `wizer --allow-wasi` | %s | %s |" % (fmt_s(dep["wizer_run"]), fmt_s(dep["wizer_run_warm"])),
              "| plain PUT of Wizer's output | %s | %s |" % (fmt_s(dep["wizer_put_cold"]), fmt_s(dep["wizer_put_warm"])),
              "| Wizer + plain PUT | %s | %s |" % (fmt_s(wz_cold), fmt_s(wz_warm)),
              "", "Target: ours no longer than Wizer + plain deploy.", END]
    return "\n".join(lines) + "\n"


def write_doc(path, report):
    with open(path) as f:
        text = f.read()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END + "\n", 1) if END + "\n" in rest else rest.split(END, 1)
        text = head + report + tail
    else:
        text = text.rstrip("\n") + "\n\n" + report
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
