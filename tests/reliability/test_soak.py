"""test_soak.py -- issue 6 item 1: a soak of healthy calls mixed with guests
that trap or run past their deadline, against one live wasmpoold.

Two drivers, both with exact accounting of every request by kind:

- test_pipelined_per_request: a Python client that pipelines requests of
  random kinds on a few connections and checks each answer, in order,
  against the status and error code of the kind it asked for.
- test_soak_bench: wasmpool-bench --mix --json for the bulk (>= 200,000
  requests by default). Per-kind accounting is double entry: each mix entry
  must have exactly its own count of expected answers, the error codes the
  client saw must equal, code by code, the entry counts of the kinds that
  produce them, and the daemon's own counters (traps by code, module_call
  answers by status) must move by exactly the same numbers.

Afterwards: the daemon answers, no slot is in use, and VmRSS after the run
is within 10% of VmRSS after a warm-up run of the same mix.

Run directly (CTest does this, see CMakeLists.txt):
    python3 test_soak.py --bin-dir BUILD/bin --examples BUILD/examples \
        --cache-dir DIR [--soak-requests N | --soak-seconds S]
scripts/soak.sh --minutes N runs the long variant (--soak-seconds).
"""

import json
import os
import random
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import wp_harness  # noqa: E402
from wp_harness import Daemon, split_responses, wat2wasm  # noqa: E402

SOAK_REQUESTS = 300000
SOAK_SECONDS = None  # the long variant: run for a time instead of a count
WALL_LIMIT_S = 90    # the default run must fit in this, or the test fails

# kind -> (export, args, deadline_ms, expected status, expected error code)
KINDS = {
    "ok": ("ok", [2, 3], None, 200, None),
    "oob": ("oob", [70000], None, 502, "trap_out_of_bounds"),
    "div0": ("div0", [1, 0], None, 502, "trap_divide_by_zero"),
    "unreachable": ("unreachable", [], None, 502, "trap_unreachable"),
    "stack": ("deep", [0], None, 502, "trap_stack_exhausted"),
    "indirect": ("bad_indirect", [], None, 502, "trap_indirect_call"),
    "spin": ("spin", [], 5, 504, "deadline_exceeded"),
}
# Relative weights: mostly healthy, every fault present, deadlines rare
# (each holds a worker for its 5 ms).
WEIGHTS = {"ok": 60, "oob": 6, "div0": 6, "unreachable": 6, "stack": 4,
           "indirect": 6, "spin": 0.3}


def soak_config():
    return {
        "pool": {"total_instances": 64},
        "server": {"workers": 2, "queue_depth": 256},
        # Stack exhaustion costs a walk down the whole guest stack: keep it
        # small so the stack-overflow kind costs about as much as the others.
        "runtime": {"guest_stack_size": "256KiB", "default_deadline": "5s"},
        "log": {"level": "warn"},
    }


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def mix_file(path):
    entries = []
    for kind, weight in WEIGHTS.items():
        export, args, deadline, status, _ = KINDS[kind]
        e = {"name": kind, "kind": "call", "module": "soak", "export": export,
             "args": args, "weight": weight, "expect": status}
        if deadline:
            e["deadline_ms"] = deadline
        entries.append(e)
    # Calls on long-lived instances, one of them trapping (the instance
    # survives a trap), and instantiate + release pairs.
    entries.append({"name": "inst_ok", "kind": "instance_call", "module": "soak",
                    "export": "ok", "args": [1, 1], "weight": 8, "expect": 200})
    entries.append({"name": "inst_div0", "kind": "instance_call", "module": "soak",
                    "export": "div0", "args": [1, 0], "weight": 2, "expect": 502})
    entries.append({"name": "instantiate", "kind": "instantiate", "module": "soak",
                    "weight": 4})
    # A WASI command (stdin in, stdout out) through the run endpoint.
    entries.append({"name": "run_hello", "kind": "run", "module": "hello", "body": "soak",
                    "weight": 4, "expect": 200})
    with open(path, "w") as f:
        json.dump({"requests": entries}, f)


class Soak(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Under ASan every free goes through a quarantine of 256 MiB by
        # default, which fills over minutes and would read as RSS growth.
        # A small one still catches use-after-free of recent frees and
        # fills during the warm-up. (Ignored by a build without ASan.)
        opts = os.environ.get("ASAN_OPTIONS", "")
        if "quarantine_size_mb" not in opts:
            os.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=8"
        cls.d = Daemon(**soak_config()).start()
        with open(os.path.join(HERE, "soak.wat")) as f:
            cls.wasm = wat2wasm(f.read())
        resp = cls.d.request("PUT", "/v1/modules/soak", body=cls.wasm)
        assert resp.status in (200, 201), resp
        cls.d.deploy("hello", "hello.wasm")

    @classmethod
    def tearDownClass(cls):
        code = cls.d.stop()
        log = cls.d.read_log()
        cls.d.cleanup()
        assert code == 0, "wasmpoold exited with %r:\n%s" % (code, log[-4000:])
        # A sanitizer build reports here (UBSan goes on after a report).
        assert "runtime error:" not in log and "Sanitizer" not in log, log[-4000:]

    def stats(self):
        return self.d.request("GET", "/v1/stats").json()

    def assert_idle_pool(self):
        deadline = time.time() + 5
        while True:
            pool = self.stats()["pool"]
            busy = {k: pool[k]["in_use"] for k in ("instances", "memories", "tables")}
            if not any(busy.values()):
                return
            if time.time() > deadline:
                self.fail("slots left in use after the run: %r" % pool)
            time.sleep(0.1)

    # ---- per-request checking --------------------------------------------

    def test_pipelined_per_request(self):
        """Every answer, in order, has the status and code of its kind."""
        rng = random.Random(6)
        kinds = list(WEIGHTS)
        weights = [WEIGHTS[k] for k in kinds]
        total, counts = 0, {k: 0 for k in kinds}
        conns = []
        for _ in range(3):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(30)
            s.connect(self.d.socket)
            conns.append(s)
        batches = 120
        for b in range(batches):
            for s in conns:
                sent = rng.choices(kinds, weights, k=40)
                out = b""
                for kind in sent:
                    export, args, deadline, _, _ = KINDS[kind]
                    body = json.dumps({"args": args}).encode()
                    head = "POST /v1/modules/soak/call/%s HTTP/1.1\r\nHost: x\r\n" % export
                    if deadline:
                        head += "X-Wasmpool-Deadline-Ms: %d\r\n" % deadline
                    head += "Content-Length: %d\r\n\r\n" % len(body)
                    out += head.encode() + body
                s.sendall(out)
                data, answers = b"", []
                while len(answers) < len(sent):
                    chunk = s.recv(1 << 16)
                    self.assertTrue(chunk, "connection closed after %d answers" % len(answers))
                    data += chunk
                    answers = split_responses(data)
                self.assertEqual(len(answers), len(sent), "one answer per request")
                for kind, (status, headers, body) in zip(sent, answers):
                    _, _, _, want_status, want_code = KINDS[kind]
                    if want_code is None:
                        got = (status, json.loads(body))
                        self.assertEqual(got, (200, {"results": [5]}), kind)
                    else:
                        got = (status, json.loads(body)["error"]["code"])
                        self.assertEqual(got, (want_status, want_code), kind)
                    counts[kind] += 1
                    total += 1
        for s in conns:
            s.close()
        self.assertEqual(total, batches * 3 * 40)
        self.assertTrue(all(counts.values()), counts)
        self.assert_idle_pool()
        print("\npipelined: %d requests, by kind %r" % (total, counts), file=sys.stderr)

    # ---- the bulk: wasmpool-bench ----------------------------------------

    def bench(self, mix, limit_args):
        cmd = [os.path.join(wp_harness.BIN_DIR, "wasmpool-bench"), "--socket", self.d.socket,
               "--mix", mix, "-c", "4", "--pipeline", "8", "--timeout", "20s", "--json",
               "--seed", str(random.randrange(1 << 30)), *limit_args]
        timeout = (SOAK_SECONDS or WALL_LIMIT_S) + 120
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())
        return json.loads(proc.stdout)

    def daemon_counts(self):
        st = self.stats()
        call = st["requests"].get("module_call", {}).get("by_status", {})
        return {str(k): int(v) for k, v in call.items()}, dict(st["traps"])

    def test_soak_bench(self):
        d = self.d
        mix = os.path.join(d.dir, "soak-mix.json")
        mix_file(mix)
        warm = self.bench(mix, ["-n", "20000"])
        self.assertEqual(warm["expected"], warm["requests"], warm)
        self.assert_idle_pool()
        rss_warm = vm_rss_kib(d.proc.pid)
        call_before, traps_before = self.daemon_counts()

        start = time.time()
        limit = ["-d", "%ds" % SOAK_SECONDS] if SOAK_SECONDS else ["-n", str(SOAK_REQUESTS)]
        r = self.bench(mix, limit)
        wall = time.time() - start

        # Nothing lost on the wire, everything answered as expected.
        self.assertEqual(r["transport_errors"],
                         {"connect": 0, "closed": 0, "timeout": 0, "protocol": 0}, r)
        self.assertGreaterEqual(r["requests"], 200000)
        self.assertEqual(r["expected"], r["requests"])
        entries = {e["name"]: e for e in r["entries"]}
        self.assertEqual(sum(e["requests"] for e in entries.values()), r["requests"])
        for name, e in entries.items():
            self.assertEqual(e["expected"], e["requests"], name)
            self.assertGreater(e["requests"], 0, name)
        # Per-kind accounting: each error code came from exactly its kind.
        want_codes = {}
        for kind, (_, _, _, _, code) in KINDS.items():
            if code:
                want_codes[code] = want_codes.get(code, 0) + entries[kind]["requests"]
        want_codes["trap_divide_by_zero"] += entries["inst_div0"]["requests"]
        self.assertEqual(r["error_codes"], want_codes)
        n_inst = entries["instantiate"]["requests"]
        want_status = {
            "200": entries["ok"]["requests"] + entries["inst_ok"]["requests"] + n_inst
                   + entries["run_hello"]["requests"],
            "201": n_inst,
            "502": sum(entries[k]["requests"] for k in
                       ("oob", "div0", "unreachable", "stack", "indirect", "inst_div0")),
            "504": entries["spin"]["requests"],
        }
        self.assertEqual({k: v for k, v in r["status"].items() if v}, want_status)
        self.assertEqual(r["http_responses"], r["requests"] + n_inst,
                         "exactly one answer per request (two per instantiate pair)")

        # The daemon's side of the books moved by exactly the same amounts.
        call_after, traps_after = self.daemon_counts()
        call_delta = {k: call_after.get(k, 0) - call_before.get(k, 0) for k in call_after}
        call_delta = {k: v for k, v in call_delta.items() if v}
        want_call = {"200": entries["ok"]["requests"],
                     "502": sum(entries[k]["requests"] for k in
                                ("oob", "div0", "unreachable", "stack", "indirect")),
                     "504": entries["spin"]["requests"]}
        self.assertEqual(call_delta, want_call)
        trap_delta = {k: traps_after.get(k, 0) - traps_before.get(k, 0) for k in traps_after}
        trap_delta = {k: v for k, v in trap_delta.items() if v}
        self.assertEqual(trap_delta, want_codes)

        # The daemon still answers, holds no slot, and did not grow.
        self.assertEqual(d.call("soak", "ok", [20, 22]).json(), {"results": [42]})
        self.assertEqual(d.request("GET", "/v1/health").status, 200)
        self.assert_idle_pool()
        rss_after = vm_rss_kib(d.proc.pid)
        growth = (rss_after - rss_warm) / rss_warm
        print("\nsoak: %d requests in %.1f s (%.0f req/s, wall %.1f s); by entry %s; "
              "VmRSS after warm-up %d KiB, after run %d KiB (%+.1f%%)" %
              (r["requests"], r["elapsed_s"], r["throughput_rps"], wall,
               {k: e["requests"] for k, e in entries.items()}, rss_warm, rss_after,
               100 * growth), file=sys.stderr)
        # ASan's allocator keeps metadata for every freed chunk it has seen
        # beyond its (capped) quarantine: +10.5% was measured once under it
        # at -j2 beside the whole suite. The 10% bound is for the release
        # build; under the sanitizer 20% still catches a per-request leak.
        with open("/proc/%d/maps" % d.proc.pid) as f:
            bound = 0.20 if "libasan" in f.read() else 0.10
        self.assertLessEqual(abs(growth), bound, "VmRSS %d -> %d KiB" % (rss_warm, rss_after))
        if SOAK_SECONDS is None:
            self.assertLessEqual(wall, WALL_LIMIT_S, "the default soak must stay bounded")


def take_option(name, convert):
    if name in sys.argv:
        i = sys.argv.index(name)
        value = convert(sys.argv[i + 1])
        del sys.argv[i:i + 2]
        return value
    return None


if __name__ == "__main__":
    SOAK_REQUESTS = take_option("--soak-requests", int) or SOAK_REQUESTS
    SOAK_SECONDS = take_option("--soak-seconds", int)
    wp_harness.harness_main()
