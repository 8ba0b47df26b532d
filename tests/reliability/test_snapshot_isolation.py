"""test_snapshot_isolation.py -- issue 13: a reused slot of a snapshotted
module sees exactly the snapshot. snap_iso.wat's init leaves a patterned,
grown memory with a zero page inside and two set globals; each round plants
a random secret over all of memory (grown further) and the globals, then
releases the slot (a call that returns, one that traps after planting, or a
long-lived instance deleted by the client), and a fresh instance in the
same slot (one instance slot in the pool) scans: the snapshot's size,
pattern, hole and globals, and zeroes past it. The scanner is shown to see
a secret: scanning the planting instance itself reports findings.

Two configs: keep_resident 0 (every reset is madvise back to the image) and
keep_resident 512 KiB (the planted pages are restored by copying from the
image), and both with ?prewarm=1.
"""

import os
import random
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import wp_harness  # noqa: E402
from wp_harness import Daemon, wat2wasm  # noqa: E402

ROUNDS = 150
CONFIGS = {
    "madvise": {"total_instances": 1, "keep_resident": "0"},
    "keep_resident": {"total_instances": 1, "keep_resident": "512KiB"},
}


class SnapshotIsolation(unittest.TestCase):
    def run_config(self, name):
        d = Daemon(pool=CONFIGS[name], log={"level": "warn"}).start()
        try:
            with open(os.path.join(HERE, "snap_iso.wat")) as f:
                wasm = wat2wasm(f.read())
            resp = d.request("PUT", "/v1/modules/snapiso?prewarm=1", body=wasm)
            self.assertEqual(resp.status, 201, resp)
            self.assertIsNotNone(resp.json()["snapshot"], resp.json())
            self.assertEqual(resp.json()["prewarmed"], 1)
            conn = d.connection()
            rng = random.Random(13)

            def call(path, args):
                resp = d.request("POST", path, body={"args": args}, conn=conn)
                return resp

            self.assertEqual(call("/v1/modules/snapiso/call/scan", []).json(),
                             {"results": [0]}, "a fresh instance is the snapshot")
            for round_no in range(ROUNDS):
                secret = rng.randrange(1, 1 << 52)
                mode = round_no % 3
                if mode == 0:
                    resp = call("/v1/modules/snapiso/call/plant", [secret])
                    self.assertEqual(resp.status, 200, resp)
                elif mode == 1:
                    resp = call("/v1/modules/snapiso/call/plant_trap", [secret])
                    self.assertEqual(resp.error_code(), "trap_unreachable", resp)
                else:
                    resp = d.request("POST", "/v1/modules/snapiso/instances", conn=conn)
                    self.assertEqual(resp.status, 201, resp)
                    iid = resp.json()["id"]
                    self.assertEqual(call("/v1/instances/%s/call/plant" % iid, [secret]).status,
                                     200)
                    findings = call("/v1/instances/%s/call/scan" % iid, []).json()
                    self.assertGreater(findings["results"][0], 0, "the scanner sees a secret")
                    self.assertEqual(
                        d.request("DELETE", "/v1/instances/" + iid, conn=conn).status, 200)
                resp = call("/v1/modules/snapiso/call/scan", [])
                self.assertEqual(resp.json(), {"results": [0]},
                                 "round %d (mode %d): the reused slot is not the snapshot"
                                 % (round_no, mode))
            conn.close()
        finally:
            self.assertEqual(d.stop(), 0, d.read_log())
            d.cleanup()

    def test_madvise(self):
        self.run_config("madvise")

    def test_keep_resident(self):
        self.run_config("keep_resident")


if __name__ == "__main__":
    wp_harness.harness_main()
