"""test_tierup.py -- background tier-up (issue 10): a deploy answers with
tier-0 code, the tier-1 build runs on its own thread and replaces the
published module atomically while calls keep arriving, a restart loads the
cached tier-1 code directly, and shutdown does not wait out a tier-1
compile. Each test uses its own compile cache, so nothing comes for free."""

import os
import sys
import tempfile
import threading
import time
import unittest

import wp_harness
from wp_harness import Daemon, harness_main, wat2wasm

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reliability"))
from test_abuse import huge_function  # noqa: E402


def wait_for(predicate, timeout, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


class TierUp(unittest.TestCase):
    def setUp(self):
        self.cache = tempfile.mkdtemp(prefix="wp-tierup-cache-")
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.cleanup()

    def daemon(self, workdir=None):
        d = Daemon(workdir=workdir, runtime={"cache_dir": self.cache})
        self.daemons.append(d)
        return d.start()

    def info(self, d, name):
        return d.request("GET", "/v1/modules/" + name).json()

    def test_swap_under_load_then_restart_loads_tier1(self):
        d = self.daemon()
        resp = d.deploy("fib", "fib.wasm")
        self.assertEqual(resp.status, 201, resp)
        body = resp.json()
        self.assertEqual(body["tier"], 0, "the deploy answers with tier-0 code")
        self.assertEqual(body["tier_up"], "pending")

        # Calls keep coming while the tier-1 build runs and the module is
        # swapped: every one answers, with the same result on both tiers.
        failures, answers = [], []
        stop = threading.Event()

        def caller():
            while not stop.is_set():
                r = d.call("fib", "fib", [20])
                if r.status != 200 or r.json() != {"results": [6765]}:
                    failures.append((r.status, r.body[:200]))
                answers.append(1)

        threads = [threading.Thread(target=caller) for _ in range(2)]
        for t in threads:
            t.start()
        done = wait_for(lambda: self.info(d, "fib")["tier_up"] == "done", 180)
        time.sleep(0.5)  # calls on the new code too
        stop.set()
        for t in threads:
            t.join()
        self.assertTrue(done, "tier-up finished: %s" % self.info(d, "fib"))
        info = self.info(d, "fib")
        self.assertEqual(info["tier"], 1)
        self.assertGreater(info["tier_up_us"], 0)
        self.assertEqual(failures, [])
        self.assertGreater(len(answers), 10)
        metrics = d.request("GET", "/metrics").body.decode()
        self.assertIn('wasmpool_code_builds_total{tier="1"} 1', metrics)
        self.assertIn('wasmpool_tierups_total{result="done"} 1', metrics)
        self.assertIn("wasmpool_compiles_in_flight 0", metrics)
        listed = d.request("GET", "/v1/modules").json()["modules"]
        self.assertEqual([(m["name"], m["tier"]) for m in listed], [("fib", 1)])
        self.assertRegex(d.read_log(), r"module_tier_up.*module=fib.*swapped=yes")

        # A redeploy of the same bytes finds the tier-1 code in the cache:
        # it answers at tier 1, no tier-up needed.
        resp = d.deploy("fib", "fib.wasm")
        self.assertIn(resp.status, (200, 201), resp)
        self.assertEqual((resp.json()["tier"], resp.json()["tier_up"]), (1, "none"))
        self.assertEqual(d.call("fib", "fib", [20]).json(), {"results": [6765]})

        # A restart finds the tier-1 code in the cache: no tier-up needed.
        self.assertEqual(d.stop(), 0)
        d2 = self.daemon(workdir=d.dir)
        info = self.info(d2, "fib")
        self.assertEqual((info["tier"], info["tier_up"]), (1, "none"))
        self.assertTrue(info["cache_hit"])
        self.assertEqual(d2.call("fib", "fib", [20]).json(), {"results": [6765]})

    def test_swap_warms_slots_for_the_tier1_image(self):
        # ?prewarm=2 warms two slots with the tier-0 module's image; the
        # tier-1 module has an image of its own, so the swap must warm slots
        # for it too, or the first call after the swap takes a cold slot.
        d = self.daemon()
        with open(os.path.join(wp_harness.EXAMPLES, "bigdata.wasm"), "rb") as f:
            wasm = f.read()
        resp = d.request("PUT", "/v1/modules/big?prewarm=2", body=wasm)
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.json()["tier"], 0)
        self.assertTrue(wait_for(lambda: self.info(d, "big")["tier_up"] == "done", 180),
                        self.info(d, "big"))

        def pool():
            return d.request("GET", "/v1/stats").json()["pool"]

        # The swap's prewarm runs just after the tier flips: wait for its maps.
        self.assertTrue(wait_for(lambda: pool()["image_maps"] >= 4, 10), pool())
        before = pool()
        resp = d.call("big", "read", [0])
        self.assertEqual(resp.status, 200, resp)
        after = pool()
        self.assertEqual(after["affinity_misses"], before["affinity_misses"],
                         "the first call after the swap found no warm slot: %r -> %r" %
                         (before, after))
        self.assertEqual(after["image_maps"], before["image_maps"])

    def test_shutdown_cancels_a_long_tier1_compile(self):
        d = self.daemon()
        # cc -O2 takes minutes on this one function; tcc takes about a second.
        start = time.monotonic()
        resp = d.request("PUT", "/v1/modules/huge", body=wat2wasm(huge_function(40000)),
                         timeout=120)
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.json()["tier"], 0)
        self.assertLess(time.monotonic() - start, 60, "tier 0 answers without waiting for cc")
        self.assertTrue(wait_for(lambda: "wasmpool_compiles_in_flight 1" in
                                 d.request("GET", "/metrics").body.decode(), 10))
        time.sleep(1)  # cc is running now
        stopped = time.monotonic()
        self.assertEqual(d.stop(timeout=30), 0)
        self.assertLess(time.monotonic() - stopped, 15, "the tier-1 compile was cancelled")


if __name__ == "__main__":
    harness_main()
