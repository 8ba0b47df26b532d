"""test_memory_budget.py -- issue 12 item 4: [pool] max_committed_memory caps
the guest linear memory committed across every live instance. memory.grow
past it returns -1 to the guest (the spec lets a grow fail); an
instantiation past it is refused with 422 limit_exceeded; /metrics and
/v1/stats report the committed bytes, the budget and the refusals."""

import unittest

import wp_harness
from wp_harness import Daemon, harness_main

# One 64 KiB page to start; grow(n) returns memory.grow's answer.
GROWER = """
(module
  (memory (export "memory") 1)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "pages") (result i32) (memory.size)))
"""
BUDGET = 1024 * 1024  # 16 pages


class MemoryBudget(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(pool={"max_committed_memory": "1MiB"})
        cls.d.start()
        resp = cls.d.request("PUT", "/v1/modules/grower", body=wp_harness.wat2wasm(GROWER))
        assert resp.status in (200, 201), resp

    @classmethod
    def tearDownClass(cls):
        code = cls.d.stop()
        log = cls.d.read_log()
        cls.d.cleanup()
        assert code == 0, log[-3000:]

    def new_instance(self):
        resp = self.d.request("POST", "/v1/modules/grower/instances")
        self.assertEqual(resp.status, 201, resp.body)
        return resp.json()["id"]

    def call(self, inst, export, args):
        resp = self.d.request("POST", "/v1/instances/%s/call/%s" % (inst, export),
                              body={"args": args})
        self.assertEqual(resp.status, 200, resp.body)
        return resp.json()["results"][0]

    def test_grow_fails_past_the_budget_and_instantiation_is_refused(self):
        d = self.d
        a = self.new_instance()
        self.assertEqual(self.call(a, "grow", [100]), -1, "6.4 MiB does not fit in 1 MiB")
        self.assertEqual(self.call(a, "pages", []), 1, "a refused grow changes nothing")
        self.assertEqual(self.call(a, "grow", [15]), 1, "up to the budget it grows")
        stats = d.request("GET", "/v1/stats").json()["pool"]["memory_budget"]
        self.assertEqual(stats["committed_bytes"], BUDGET)
        self.assertEqual(stats["max_committed_bytes"], BUDGET)
        resp = d.request("POST", "/v1/modules/grower/instances")
        self.assertEqual((resp.status, resp.error_code()), (422, "limit_exceeded"), resp.body)
        self.assertEqual(d.metric("wasmpool_pool_committed_memory_bytes"), BUDGET)
        self.assertEqual(d.metric("wasmpool_pool_max_committed_memory_bytes"), BUDGET)
        self.assertGreaterEqual(d.metric("wasmpool_pool_memory_budget_refusals_total"), 2)
        self.assertEqual(d.request("DELETE", "/v1/instances/" + a).status, 200)
        # Released bytes are free again.
        b = self.new_instance()
        self.assertEqual(self.call(b, "grow", [15]), 1)
        self.assertEqual(d.request("DELETE", "/v1/instances/" + b).status, 200)
        self.assertEqual(d.metric("wasmpool_pool_committed_memory_bytes"), 0)


class ModuleMaxMemory(unittest.TestCase):
    """The per-module cap: PUT ...?max_memory=SIZE caps each memory of every
    instance of the module; memory.grow past it returns -1; it is part of
    the module's description and survives a restart."""

    def test_cap_is_enforced_described_and_persisted(self):
        d = Daemon()
        self.addCleanup(d.cleanup)
        d.start()
        wasm = wp_harness.wat2wasm(GROWER)
        bad = d.request("PUT", "/v1/modules/capped?max_memory=lots", body=wasm)
        self.assertEqual((bad.status, bad.error_code()), (400, "bad_request"))
        self.assertIn("max_memory", bad.json()["error"]["message"])
        resp = d.request("PUT", "/v1/modules/capped?max_memory=128KiB", body=wasm)
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.json()["limits"]["max_memory"], 128 * 1024)

        def grow(n):
            return d.call("capped", "grow", [n]).json()["results"][0]

        self.assertEqual(grow(1), 1, "1 -> 2 pages: within 128 KiB")
        self.assertEqual(grow(2), -1, "1 -> 3 pages: past the cap")
        # Uncapped, the same bytes grow freely.
        self.assertEqual(d.request("PUT", "/v1/modules/free", body=wasm).status, 201)
        self.assertEqual(d.call("free", "grow", [2]).json()["results"], [1])
        self.assertEqual(d.stop(), 0)
        d.start()
        info = d.request("GET", "/v1/modules/capped").json()
        self.assertEqual(info["limits"]["max_memory"], 128 * 1024, "persisted in the manifest")
        self.assertEqual(grow(2), -1)


if __name__ == "__main__":
    harness_main()
