"""test_snapshot.py -- snapshots at deploy and prewarm (issue 13 items 1
and 2, docs/SNAPSHOTS.md): a module exporting wizer.initialize answers from
the state init left (memory and mutable globals), the init export is gone,
the snapshot survives a restart (NAME.snap), ?init= names another export,
?init=none disables it, a trapping init is refused with 422
snapshot_failed, and ?prewarm=N shows the slots it warmed."""

import os
import time
import unittest

from wp_harness import Daemon, harness_main, uncached, wat2wasm

# init counts from 1 to 1000 into memory (sum at 1024) and sets $ready;
# every call reads what init left and bumps a global once.
SNAP_WAT = """
(module
  (memory (export "memory") 1)
  (global $ready (mut i32) (i32.const 0))
  (global $calls (mut i32) (i32.const 100))
  (func $init
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (i32.store (i32.const 1024) (i32.add (i32.load (i32.const 1024)) (local.get $i)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
    (global.set $ready (i32.const 7)))
  (export "wizer.initialize" (func $init))
  (export "setup" (func $init))
  (func (export "sum") (result i32) (i32.load (i32.const 1024)))
  (func (export "ready") (result i32) (global.get $ready))
  (func (export "bump") (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (global.get $calls))
  (func (export "scribble") (i32.store (i32.const 1024) (i32.const -1))))
"""

TRAP_WAT = """
(module (memory 1) (func (export "wizer.initialize") unreachable)
  (func (export "f") (result i32) (i32.const 1)))
"""


class Snapshot(unittest.TestCase):
    def setUp(self):
        self.d = Daemon().start()
        self.wasm = wat2wasm(SNAP_WAT)

    def tearDown(self):
        self.d.cleanup()

    def put(self, name, wasm, query=""):
        return self.d.request("PUT", "/v1/modules/" + name + query, body=wasm)

    def result(self, name, export):
        resp = self.d.call(name, export, [])
        self.assertEqual(resp.status, 200, resp)
        return resp.json()["results"][0]

    def info(self, name):
        return self.d.request("GET", "/v1/modules/" + name).json()

    def test_deploy_answers_from_the_snapshot_and_hides_init(self):
        resp = self.put("s", self.wasm)
        self.assertEqual(resp.status, 201, resp)
        snap = resp.json()["snapshot"]
        self.assertIsNotNone(snap, resp.json())
        self.assertEqual(snap["init"], "wizer.initialize")
        self.assertEqual(snap["globals"], 2)
        self.assertEqual(snap["pages"], 1)
        self.assertGreater(snap["took_us"], 0)
        names = [e["name"] for e in resp.json()["exports"]]
        self.assertNotIn("wizer.initialize", names)
        self.assertIn("setup", names)
        for _ in range(3):
            self.assertEqual(self.result("s", "sum"), 500500)
            self.assertEqual(self.result("s", "ready"), 7)
            self.assertEqual(self.result("s", "bump"), 101, "each call starts from the snapshot")
            self.d.call("s", "scribble", [])
        resp = self.d.call("s", "wizer.initialize", [])
        self.assertEqual((resp.status, resp.error_code()), (404, "unknown_export"))

    def test_tier_up_keeps_the_snapshot(self):
        # Bytes no other test built: a deploy of cached bytes loads tier 1
        # at once, and this test is about the tier-up.
        self.assertEqual(self.put("s", uncached(self.wasm)).status, 201)
        end = time.monotonic() + 120
        while self.info("s")["tier_up"] == "pending" and time.monotonic() < end:
            time.sleep(0.2)
        info = self.info("s")
        self.assertEqual((info["tier"], info["tier_up"]), (1, "done"), info)
        self.assertIsNotNone(info["snapshot"])
        self.assertNotIn("wizer.initialize", [e["name"] for e in info["exports"]])
        self.assertEqual(self.result("s", "sum"), 500500)
        self.assertEqual(self.result("s", "ready"), 7)
        self.assertEqual(self.result("s", "bump"), 101)

    def test_restart_keeps_the_snapshot(self):
        self.assertEqual(self.put("s", self.wasm).status, 201)
        modules = os.path.join(self.d.dir, "modules")
        self.assertTrue(os.path.exists(os.path.join(modules, "s.snap")))
        before = self.info("s")["snapshot"]
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        after = self.info("s")["snapshot"]
        self.assertEqual(after["init"], before["init"])
        self.assertEqual(after["pages"], before["pages"])
        self.assertEqual(after["took_us"], before["took_us"], "loaded, not taken again")
        self.assertEqual(self.result("s", "sum"), 500500)
        self.assertEqual(self.result("s", "ready"), 7)
        self.assertNotIn("snapshot_reload", self.d.read_log())

    def test_init_names_another_export(self):
        resp = self.put("s", self.wasm, "?init=setup")
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.json()["snapshot"]["init"], "setup")
        names = [e["name"] for e in resp.json()["exports"]]
        self.assertNotIn("setup", names)
        self.assertIn("wizer.initialize", names)
        self.assertEqual(self.result("s", "sum"), 500500)
        resp = self.put("t", self.wasm, "?init=nope")
        self.assertEqual((resp.status, resp.error_code()), (422, "snapshot_failed"))
        self.assertIn("nope", resp.json()["error"]["message"])

    def test_init_none_deploys_plainly(self):
        resp = self.put("s", self.wasm, "?init=none")
        self.assertEqual(resp.status, 201, resp)
        self.assertIsNone(resp.json()["snapshot"])
        self.assertEqual(self.result("s", "sum"), 0)
        self.assertEqual(self.result("s", "ready"), 0)
        self.assertFalse(os.path.exists(os.path.join(self.d.dir, "modules", "s.snap")))
        # A redeploy with a snapshot, then without: the stale file goes.
        self.assertEqual(self.put("s", self.wasm).status, 200)
        self.assertTrue(os.path.exists(os.path.join(self.d.dir, "modules", "s.snap")))
        self.assertEqual(self.put("s", self.wasm, "?init=none").status, 200)
        self.assertFalse(os.path.exists(os.path.join(self.d.dir, "modules", "s.snap")))

    def test_trapping_init_is_refused(self):
        resp = self.put("bad", wat2wasm(TRAP_WAT))
        self.assertEqual((resp.status, resp.error_code()), (422, "snapshot_failed"), resp)
        self.assertIn("unreachable", resp.json()["error"]["message"])
        self.assertEqual(self.d.request("GET", "/v1/modules/bad").status, 404)
        # The same module deploys without a snapshot when asked.
        self.assertEqual(self.put("bad", wat2wasm(TRAP_WAT), "?init=none").status, 201)

    def test_prewarm_shows_prewarmed_slots(self):
        resp = self.put("s", self.wasm, "?prewarm=4")
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.json()["prewarm"], 4)
        self.assertEqual(resp.json()["prewarmed"], 4)
        self.assertEqual(self.info("s")["prewarmed"], 4)
        self.assertEqual(self.result("s", "sum"), 500500)
        resp = self.put("p", self.wasm, "?prewarm=x")
        self.assertEqual((resp.status, resp.error_code()), (400, "bad_request"))
        # Never more than the pool has (total_instances = 8).
        resp = self.put("q", self.wasm, "?prewarm=50")
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.json()["prewarmed"], 8)


if __name__ == "__main__":
    harness_main()
