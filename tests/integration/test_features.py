"""test_features.py -- modules that use what the wasm2c 1.0.36 engine brought
(SIMD, tail calls, a 64-bit memory, two memories, a shared memory) deploy and
answer over the socket, each at the tier it must build at, and what the
engine cannot run is refused naming the feature."""

import shutil
import tempfile

import wp_harness
from wp_harness import Daemon, harness_main, wat2wasm
import unittest

SHARED_WAT = """(module (memory (export "m") 1 2 shared)
  (func (export "bump") (param i32) (result i32)
    (i32.atomic.rmw.add (i32.const 0) (local.get 0))))"""

WAIT_WAT = """(module (memory 1 1 shared)
  (func (export "w") (param i32 i32 i64) (result i32)
    (memory.atomic.wait32 (local.get 0) (local.get 1) (local.get 2))))"""

V128_WAT = """(module (func (export "swap") (param v128) (result v128)
  (i8x16.shuffle 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0 (local.get 0) (local.get 0))))"""


class Features(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A compile cache of its own: a deploy of bytes whose tier-1 code is
        # cached loads that, and this test checks the tier each feature
        # builds at. No tier-up: nothing here waits for one.
        cls.cache = tempfile.mkdtemp(prefix="wp-features-cache-")
        cls.d = Daemon(pool={"total_instances": 8, "memories_per_instance": 2},
                       runtime={"cache_dir": cls.cache, "tierup_threads": 0}).start()

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        log = cls.d.read_log()
        cls.d.cleanup()
        shutil.rmtree(cls.cache, ignore_errors=True)
        assert status == 0, "exit status %r\n%s" % (status, log)

    def deploy(self, name, example, tier):
        resp = self.d.deploy(name, example)
        self.assertIn(resp.status, (200, 201), resp)
        info = self.d.request("GET", "/v1/modules/" + name).json()
        self.assertEqual(info["tier"], tier, "%s builds at tier %d" % (name, tier))

    def results(self, module, export, args):
        resp = self.d.call(module, export, args)
        self.assertEqual(resp.status, 200, resp)
        return resp.json()["results"]

    def test_simd(self):
        self.deploy("simd", "simd_sum.wasm", 1)  # tcc cannot compile SIMDe
        self.assertEqual(self.results("simd", "sum", [16]), [136])
        self.assertEqual(self.results("simd", "add_arrays", [16]), [1616])
        trap = self.d.call("simd", "sum", [16388])
        self.assertEqual(trap.error_code(), "trap_out_of_bounds")

    def test_v128_arguments_and_results(self):
        resp = self.d.request("PUT", "/v1/modules/v128", body=wat2wasm(V128_WAT))
        self.assertEqual(resp.status, 201, resp)
        given = "000102030405060708090a0b0c0d0e0f"
        self.assertEqual(self.results("v128", "swap", [given]),
                         ["0f0e0d0c0b0a09080706050403020100"])
        bad = self.d.call("v128", "swap", [5])
        self.assertEqual(bad.error_code(), "argument_mismatch")

    def test_tail_calls(self):
        self.deploy("tail", "tail_loop.wasm", 0)
        # A million-deep recursion only completes as a loop of tail calls.
        self.assertEqual(self.results("tail", "sum_to", [1000000]), [500000500000])
        self.assertEqual(self.results("tail", "even", [1000000]), [1])

    def test_memory64(self):
        self.deploy("mem64", "mem64.wasm", 0)
        self.assertEqual(self.results("mem64", "store_load", [65532, 7]), [7])
        self.assertEqual(self.results("mem64", "byte", [16]), [119])
        oob = self.d.call("mem64", "store_load", [4294967296, 1])
        self.assertEqual(oob.error_code(), "trap_out_of_bounds")

    def test_two_memories(self):
        self.deploy("twomem", "two_mem.wasm", 0)
        self.assertEqual(self.results("twomem", "roundtrip", [42]), [42])
        self.assertEqual(self.results("twomem", "sizes", []), [12])

    def test_shared_memory(self):
        resp = self.d.request("PUT", "/v1/modules/shared", body=wat2wasm(SHARED_WAT))
        self.assertEqual(resp.status, 201, resp)
        info = self.d.request("GET", "/v1/modules/shared").json()
        self.assertEqual(info["tier"], 1, "C11 atomics: tier 1")
        # One-shot calls get a fresh instance: the memory starts at zero.
        self.assertEqual(self.results("shared", "bump", [5]), [0])
        self.assertEqual(self.results("shared", "bump", [5]), [0])

    def test_what_the_engine_cannot_run_is_named(self):
        resp = self.d.request("PUT", "/v1/modules/wait", body=wat2wasm(WAIT_WAT))
        self.assertEqual(resp.status, 422, resp)
        self.assertEqual(resp.error_code(), "unsupported_module")
        self.assertIn("memory.atomic.wait", resp.json()["error"]["message"])


if __name__ == "__main__":
    harness_main()
