"""test_isolation.py -- issue 6 item 2: no byte of one instance is visible to
the next one in its slot.

Three probe modules come from iso.wat: two with different data segments
(so different images and artifacts), one of another shape (more memory
and table). A round plants a fresh random secret with
one of them -- all of memory after memory.grow, the mutable globals, every
table element plus a table.grow -- and releases the slot in one of four
ways (one-shot call that returns, one-shot call that traps after planting,
one interrupted by its deadline after planting, a long-lived instance
deleted by the client). Then fresh instances of the
same module and of another module scan everything in the guest
(iso.wat's scan) and report findings: any word that is not what a new
instance must hold. The pool has one instance slot, so every scan runs in
the slot the secret was just planted in.

The daemon runs with three configs: keep_resident 0 (every reset is
madvise), keep_resident 256 KiB (the planted 512 KiB are half memcpy/memset
restore, half madvise), and batched background resets over four slots.

The scanner is shown to see a secret: scanning the planting instance itself
(before it is released) must report findings.
"""

import os
import random
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import wp_harness  # noqa: E402
from wp_harness import Daemon, wat2wasm  # noqa: E402

PAGES = 7  # grown on top of the 1 initial page: 512 KiB planted and scanned
ROUNDS = None  # --isolation-rounds R: the long variant, R rounds per config
# name -> (data segment, initial memory pages, initial table size): iso_big
# has another shape, so a slot also goes from a larger memory and table to
# a smaller one and back.
MODULES = {"iso_a": (b"wasmpool-iso-A!!", 1, 16), "iso_b": (b"wasmpool-iso-B!!", 1, 16),
           "iso_big": (b"wasmpool-iso-BIG", 4, 40)}
ORDER = list(MODULES)

CONFIGS = {
    "madvise": ({"total_instances": 1, "keep_resident": "0", "table_keep_resident": "0"},
                2500),
    "keep_resident": ({"total_instances": 1, "keep_resident": "256KiB",
                       "table_keep_resident": "64KiB"}, 2500),
    "batched_background": ({"total_instances": 4, "keep_resident": "64KiB",
                            "decommit_batch_size": 4, "decommit_in_background": True}, 1200),
}


def module_wasm(tag, mem, tab):
    with open(os.path.join(HERE, "iso.wat")) as f:
        text = f.read().replace("@TAG@", tag.decode())
    return wat2wasm(text.replace("@MEM@", str(mem)).replace("@TAB@", str(tab)))


class Isolation(unittest.TestCase):
    reuses = {}

    @classmethod
    def tearDownClass(cls):
        print("\nisolation: slot reuses scanned per config %r, total %d" %
              (cls.reuses, sum(cls.reuses.values())), file=sys.stderr)

    def run_config(self, name):
        pool, rounds = CONFIGS[name]
        rounds = ROUNDS or rounds
        d = Daemon(pool=pool, server={"workers": 2}, log={"level": "warn"}).start()
        try:
            for mod, shape in MODULES.items():
                resp = d.request("PUT", "/v1/modules/" + mod, body=module_wasm(*shape))
                self.assertIn(resp.status, (200, 201), resp)
            tags = {m: [str(int.from_bytes(t[:8], "little")), str(int.from_bytes(t[8:], "little"))]
                    for m, (t, _, _) in MODULES.items()}
            conn = d.connection()
            rng = random.Random(hash(name) & 0xffff)
            scans = findings = 0

            def post(path, args, expect):
                resp = d.request("POST", path, body={"args": args}, conn=conn)
                self.assertEqual(resp.status, expect, (path, resp))
                return resp

            def scan(mod):
                resp = post("/v1/modules/%s/call/scan" % mod, [PAGES, *tags[mod]], 200)
                return resp.json()["results"][0]

            start = time.time()
            for i in range(rounds):
                secret = str(rng.randrange(1, 1 << 64))
                # Every (module, release path) pair every 12 rounds.
                mod = ORDER[i % 3]
                how = (i // 3) % 4
                if how == 0:
                    resp = post("/v1/modules/%s/call/plant" % mod, [secret, PAGES], 200)
                    self.assertEqual(resp.json(), {"results": [PAGES + MODULES[mod][1]]})
                elif how == 1:
                    resp = post("/v1/modules/%s/call/plant_trap" % mod, [secret, PAGES], 502)
                    self.assertEqual(resp.error_code(), "trap_unreachable")
                elif how == 3:
                    resp = d.request("POST", "/v1/modules/%s/call/plant_spin" % mod,
                                     body={"args": [secret, PAGES]}, conn=conn,
                                     headers={"X-Wasmpool-Deadline-Ms": "5"})
                    self.assertEqual((resp.status, resp.error_code()),
                                     (504, "deadline_exceeded"))
                else:
                    resp = d.request("POST", "/v1/modules/%s/instances" % mod, conn=conn)
                    self.assertEqual(resp.status, 201, resp)
                    inst = resp.json()["id"]
                    post("/v1/instances/%s/call/plant" % inst, [secret, PAGES], 200)
                    # The scanner sees a planted secret (it can fail).
                    resp = post("/v1/instances/%s/call/scan" % inst, [0, *tags[mod]], 200)
                    self.assertGreater(resp.json()["results"][0], 1000)
                    resp = d.request("DELETE", "/v1/instances/" + inst, conn=conn)
                    self.assertEqual(resp.status, 200, resp)
                other = ORDER[(i % 3 + 1 + (i // 9) % 2) % 3]
                for target in (mod, other) if i % 4 < 2 else (other, mod):
                    n = scan(target)
                    scans += 1
                    if n:
                        findings += 1
                        self.fail("%s: round %d: %s scanned %d findings after %s planted" %
                                  (name, i, target, n, mod))
            elapsed = time.time() - start
            conn.close()
            pool_stats = d.request("GET", "/v1/stats").json()["pool"]
            self.assertEqual(pool_stats["instances"]["in_use"], 0)
            self.reuses[name] = scans
            print("\nisolation[%s]: %d rounds, %d scans of reused slots, %d findings, %.1f s, "
                  "resets %s" % (name, rounds, scans, findings, elapsed,
                                 pool_stats.get("resets")), file=sys.stderr)
        finally:
            code = d.stop()
            log = d.read_log()
            d.cleanup()
        self.assertEqual(code, 0, log[-3000:])
        # A sanitizer build reports here (UBSan goes on after a report).
        self.assertNotIn("runtime error:", log)
        self.assertNotIn("Sanitizer", log)

    def test_isolation_madvise_reset(self):
        self.run_config("madvise")

    def test_isolation_keep_resident(self):
        self.run_config("keep_resident")

    def test_isolation_batched_background_reset(self):
        self.run_config("batched_background")

    def test_zz_total_reuses(self):
        # Runs last (alphabetical order): the three configs together scanned
        # at least 10,000 reused slots. Run alone (or after a filter), it
        # runs the configs that have not run yet itself, so it can never
        # pass on an empty tally.
        for name in CONFIGS:
            if name not in self.reuses:
                self.run_config(name)
        self.assertEqual(sorted(self.reuses), sorted(CONFIGS))
        if ROUNDS is None:
            self.assertGreaterEqual(sum(self.reuses.values()), 10000, self.reuses)
        else:
            self.assertGreater(min(self.reuses.values()), 0, self.reuses)


if __name__ == "__main__":
    if "--isolation-rounds" in sys.argv:
        i = sys.argv.index("--isolation-rounds")
        ROUNDS = int(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    wp_harness.harness_main()
