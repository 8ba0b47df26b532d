"""test_crash.py -- issue 6 item 3: kill -9 of wasmpoold during deploys and
under load, then a restart on the same config.

Each cycle: two deploy threads PUT versions of crash_mod.wat under a small
set of names (so redeploys of a name race too); some versions are new bytes
(wasm2c + cc run), most were compiled before (cache hit: the deploy is mostly
the registry's file writes). A load thread calls modules at the same time.
After a random delay the daemon gets SIGKILL. It is restarted on the same
config, and then:

- the socket comes back (the harness waits for /v1/health);
- every name whose deploy was acknowledged (200/201 received) is listed and
  its v() answers a version that may legitimately be there: the last
  acknowledged one, or one whose deploy was in flight or acknowledged after
  that one was sent;
- every listed module describes and calls (no half-written module is
  visible), no temporary file is left in the module directory, and the
  restart log has no registry_skip;
- a long-lived instance created before the kill is unknown_instance, and no
  slot is in use.
"""

import os
import random
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import wp_harness  # noqa: E402
from wp_harness import Daemon, wat2wasm  # noqa: E402

CYCLES = 10
NAMES = ["m%d" % i for i in range(8)]


def version_wasm(k):
    with open(os.path.join(HERE, "crash_mod.wat")) as f:
        return wat2wasm(f.read().replace("@K@", str(k)))


class Send:
    def __init__(self, name, k):
        self.name, self.k = name, k
        self.sent = time.monotonic()
        self.acked = None


class Crash(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(server={"workers": 2, "queue_depth": 64},
                        pool={"total_instances": 16}, log={"level": "info"})
        self.rng = random.Random()
        base = self.rng.randrange(1, 1 << 30)
        # Versions compiled once up front (cache hits later), and fresh ones.
        self.warm = {base + i: version_wasm(base + i) for i in range(4)}
        self.fresh = [base + 100 + i for i in range(CYCLES * 3)]

    def tearDown(self):
        code = self.d.stop()
        log = self.d.read_log()
        self.d.cleanup()
        self.assertEqual(code, 0, log[-3000:])
        # A sanitizer build reports here (UBSan goes on after a report).
        self.assertNotIn("runtime error:", log)
        self.assertNotIn("Sanitizer", log)

    def test_kill9_during_deploys_and_load(self):
        d = self.d
        d.start()
        for k, wasm in self.warm.items():
            resp = d.request("PUT", "/v1/modules/warm%d" % (k % 4), body=wasm)
            self.assertIn(resp.status, (200, 201), resp)
        sends = []  # every deploy ever sent, across cycles
        lock = threading.Lock()
        totals = {"acked": 0, "unacked": 0, "calls_ok": 0, "fresh": 0}

        for cycle in range(CYCLES):
            stop = threading.Event()

            def deployer(seed):
                rng = random.Random(seed)
                while not stop.is_set():
                    name = rng.choice(NAMES)
                    if rng.random() < 0.15 and self.fresh:
                        with lock:
                            k = self.fresh.pop() if self.fresh else None
                        if k is None:
                            continue
                        wasm = version_wasm(k)
                        totals["fresh"] += 1
                    else:
                        k = rng.choice(list(self.warm))
                        wasm = self.warm[k]
                    s = Send(name, k)
                    with lock:
                        sends.append(s)
                    try:
                        resp = d.request("PUT", "/v1/modules/" + name, body=wasm, timeout=30)
                    except Exception:  # OSError, http.client errors: the daemon died
                        return
                    if resp.status in (200, 201):
                        s.acked = time.monotonic()

            def loader():
                conn = d.connection(timeout=10)
                while not stop.is_set():
                    try:
                        name = "warm%d" % self.rng.randrange(4)
                        resp = d.request("POST", "/v1/modules/%s/call/add" % name,
                                         body={"args": [2, 3]}, conn=conn)
                        if resp.status == 200:
                            totals["calls_ok"] += 1
                    except Exception:  # OSError, http.client errors: the daemon died
                        return

            # A long-lived instance dies with the daemon: its id must not
            # come back to life (nor hold a slot) after the restart.
            resp = d.request("POST", "/v1/modules/warm0/instances")
            self.assertEqual(resp.status, 201, resp)
            doomed = resp.json()["id"]
            threads = [threading.Thread(target=deployer, args=(cycle * 10 + j,))
                       for j in range(2)] + [threading.Thread(target=loader)]
            for t in threads:
                t.start()
            time.sleep(self.rng.uniform(0.2, 2.5))
            d.proc.kill()
            d.proc.wait()
            d.log.close()
            stop.set()
            for t in threads:
                t.join(60)

            log_mark = len(d.read_log())
            d.start()  # waits until the socket answers /v1/health
            self.check_registry(d, sends, log_mark, cycle)
            resp = d.request("POST", "/v1/instances/%s/call/add" % doomed, body={"args": [1, 2]})
            self.assertEqual((resp.status, resp.error_code()), (404, "unknown_instance"))
            self.assertEqual(d.request("GET", "/v1/stats").json()["pool"]["instances"]["in_use"], 0)

        totals["acked"] = sum(1 for s in sends if s.acked)
        totals["unacked"] = sum(1 for s in sends if not s.acked)
        print("\ncrash: %d kill -9 cycles, deploys acked %d, in flight at kill %d, "
              "fresh compiles started %d, load calls answered %d" %
              (CYCLES, totals["acked"], totals["unacked"], totals["fresh"],
               totals["calls_ok"]), file=sys.stderr)
        self.assertGreater(totals["acked"], 0)

    def check_registry(self, d, sends, log_mark, cycle):
        listing = d.request("GET", "/v1/modules").json()["modules"]
        listed = {m["name"] for m in listing}
        for name in listed:
            resp = d.request("GET", "/v1/modules/" + name)
            self.assertEqual(resp.status, 200, (cycle, name, resp))
            resp = d.call(name, "add", [40, 2])
            self.assertEqual(resp.json(), {"results": [42]}, (cycle, name))
        for name in NAMES:
            mine = [s for s in sends if s.name == name]
            acked = [s for s in mine if s.acked]
            if not acked:
                continue
            self.assertIn(name, listed, "cycle %d: acknowledged deploy of %s lost" % (cycle, name))
            last = max(acked, key=lambda s: s.acked)
            allowed = {s.k for s in mine if s.acked is None or s.acked >= last.sent}
            got = d.call(name, "v", []).json()["results"][0]
            self.assertIn(got, allowed, "cycle %d: %s answers version %d, last acked %d" %
                          (cycle, name, got, last.k))
        module_dir = d.tables["runtime"]["module_dir"]
        leftovers = [f for f in os.listdir(module_dir) if f.startswith(".tmp.")]
        self.assertEqual(leftovers, [], "temporary files survive a restart")
        restart_log = d.read_log()[log_mark:]
        self.assertNotIn("registry_skip", restart_log)


if __name__ == "__main__":
    if "--crash-cycles" in sys.argv:
        i = sys.argv.index("--crash-cycles")
        CYCLES = int(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    wp_harness.harness_main()
