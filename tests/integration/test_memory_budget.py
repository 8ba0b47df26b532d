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


if __name__ == "__main__":
    harness_main()
