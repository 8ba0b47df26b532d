"""test_api.py -- every endpoint of docs/API.md and every error class,
against one live wasmpoold (python http.client over AF_UNIX)."""

import os
import re

import wp_harness
from wp_harness import Daemon, harness_main, wat2wasm
import unittest

UNLINKABLE_WAT = """(module (import "env" "nope" (func)) (func (export "f")))"""


class Api(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # queue_depth above the 32 requests one connection may have
        # outstanding, so the deep pipeline test never sees queue_full.
        cls.d = Daemon(pool={"total_instances": 4}, server={"queue_depth": 64}).start()
        for name, example in [("add", "add.wasm"), ("fib", "fib.wasm"), ("trap", "trap.wasm"),
                              ("hello", "hello.wasm"), ("upper", "upper.wasm"),
                              ("reactor", "reactor.wasm")]:
            cls.d.deploy(name, example)

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        log = cls.d.read_log()
        cls.d.cleanup()
        assert status == 0, "exit status %r\n%s" % (status, log)

    # ---- modules ---------------------------------------------------------

    def test_deploy_describe_list_delete(self):
        d = self.d
        first = d.deploy("tmp-add", "add.wasm")
        self.assertEqual(first.status, 201)
        again = d.deploy("tmp-add", "add.wasm")
        self.assertEqual(again.status, 200, "redeploy replaces")
        info = d.request("GET", "/v1/modules/tmp-add")
        self.assertEqual(info.status, 200)
        body = info.json()
        self.assertEqual(body["name"], "tmp-add")
        self.assertEqual(body["size"], os.path.getsize(os.path.join(wp_harness.EXAMPLES,
                                                                    "add.wasm")))
        self.assertRegex(body["sha256"], "^[0-9a-f]{64}$")
        self.assertTrue(body["cache_hit"], "the second load of the same bytes hits the cache")
        self.assertEqual(body["exports"], [{"name": "add", "kind": "function",
                                            "params": ["i32", "i32"], "results": ["i32"]}])
        self.assertIn("image_bytes", body["limits"])
        names = [m["name"] for m in d.request("GET", "/v1/modules").json()["modules"]]
        self.assertIn("tmp-add", names)
        self.assertEqual(names, sorted(names))
        gone = d.request("DELETE", "/v1/modules/tmp-add")
        self.assertEqual(gone.status, 200)
        self.assertEqual(d.request("GET", "/v1/modules/tmp-add").error_code(), "unknown_module")
        self.assertEqual(d.request("DELETE", "/v1/modules/tmp-add").status, 404)

    def test_head_is_get_without_body(self):
        resp = self.d.request("HEAD", "/v1/modules/add")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, b"")
        # Errors to HEAD have no body either: the next answer on the same
        # connection must parse.
        out = self.d.raw(
            b"HEAD /v1/modules/nosuch HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, _, rest = out.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 404"), out)
        self.assertNotIn(b"Content-Length: 0", head)
        self.assertTrue(rest.startswith(b"HTTP/1.1 200"), out)

    def test_bad_modules(self):
        d = self.d
        resp = d.request("PUT", "/v1/modules/junk", body=b"\x00asm\x01\x00\x00\x00\xff\xff")
        self.assertEqual(resp.status, 422)
        self.assertIn(resp.error_code(), ("malformed_module", "invalid_module"))
        resp = d.request("PUT", "/v1/modules/junk", body=b"not wasm at all")
        self.assertEqual((resp.status, resp.error_code()), (422, "malformed_module"))
        resp = d.request("PUT", "/v1/modules/junk", body=wat2wasm(UNLINKABLE_WAT))
        self.assertEqual((resp.status, resp.error_code()), (422, "unlinkable_module"))
        self.assertIn("nope", resp.json()["error"]["message"])
        resp = d.request("PUT", "/v1/modules/junk", body=b"")
        self.assertEqual((resp.status, resp.error_code()), (400, "bad_request"))
        resp = d.request("PUT", "/v1/modules/.hidden", body=b"\x00asm\x01\x00\x00\x00")
        self.assertEqual(resp.status, 400)
        self.assertEqual(d.request("GET", "/v1/modules/junk").status, 404, "nothing registered")

    # ---- calls -----------------------------------------------------------

    def test_one_shot_call_and_typed_args(self):
        d = self.d
        self.assertEqual(d.call("add", "add", [2, 3]).json(), {"results": [5]})
        self.assertEqual(d.call("add", "add", [4294967295, 1]).json(), {"results": [0]})
        self.assertEqual(d.call("add", "add", ["0x7fffffff", 1]).json(),
                         {"results": [-2147483648]})
        self.assertEqual(d.call("fib", "fib_iter", [90]).json(),
                         {"results": ["2880067194370816120"]}, "i64 past 2^53 as a string")
        self.assertEqual(d.call("fib", "fib", [20]).json(), {"results": [6765]})

    def test_argument_errors(self):
        d = self.d
        resp = d.call("add", "add", [1])
        self.assertEqual((resp.status, resp.error_code()), (400, "argument_mismatch"))
        resp = d.call("add", "add", [1, "x"])
        self.assertEqual(resp.error_code(), "argument_mismatch")
        self.assertIn("argument 1", resp.json()["error"]["message"])
        resp = d.request("POST", "/v1/modules/add/call/add", body=b"{not json")
        self.assertEqual((resp.status, resp.error_code()), (400, "bad_request"))
        resp = d.request("POST", "/v1/modules/add/call/add", body=b'{"args": 5}')
        self.assertEqual(resp.status, 400)

    def test_unknown_things(self):
        d = self.d
        self.assertEqual(d.call("nosuch", "f", []).error_code(), "unknown_module")
        resp = d.call("add", "nosuch", [])
        self.assertEqual((resp.status, resp.error_code()), (404, "unknown_export"))
        resp = d.call("trap", "memory", [])
        self.assertEqual(resp.error_code(), "unknown_export", "a memory is not callable")
        # Issue 12 item 9: a name that is not UTF-8 is quoted as 0x + hex,
        # as promised in API.md (it used to come back as "??").
        resp = d.request("POST", "/v1/modules/add/call/a%FF%FEb", body={"args": []})
        self.assertEqual((resp.status, resp.error_code()), (404, "unknown_export"))
        self.assertIn("0x61fffe62", resp.json()["error"]["message"])
        resp = d.request("POST", "/v1/modules/add/call/caf%C3%A9", body={"args": []})
        self.assertIn("caf\u00e9", resp.json()["error"]["message"], "UTF-8 stays text")
        resp = d.request("GET", "/v2/nothing")
        self.assertEqual((resp.status, resp.error_code()), (404, "not_found"))
        resp = d.request("PATCH", "/v1/modules/add")
        self.assertEqual((resp.status, resp.error_code()), (405, "method_not_allowed"))
        self.assertIn("GET", resp.header("Allow"))

    def test_traps_each_kind_and_daemon_keeps_serving(self):
        d = self.d
        cases = [
            ("oob", [70000], "trap_out_of_bounds"),
            ("div0", [1, 0], "trap_divide_by_zero"),
            ("overflow", [-2147483648, -1], "trap_integer_overflow"),
            ("conversion", ["nan"], "trap_invalid_conversion"),
            ("unreachable", [], "trap_unreachable"),
            ("bad_indirect", [], "trap_indirect_call"),
            ("null_indirect", [], "trap_indirect_call"),
            # stack_overflow is left out: cc -O2 turns trap.wat's
            # `recurse(n + 1) + 1` into a loop, so it spins into the deadline
            # instead of exhausting the stack (an examples/instance matter).
        ]
        for export, args, code in cases:
            with self.subTest(export=export):
                resp = d.call("trap", export, args)
                self.assertEqual(resp.status, 502, resp)
                self.assertEqual(resp.error_code(), code)
        self.assertEqual(d.call("trap", "ok", []).json(), {"results": [42]})
        self.assertGreaterEqual(d.metric('wasmpool_traps_total{kind="trap_divide_by_zero"}'), 1)

    def test_deadline(self):
        d = self.d
        resp = d.call("trap", "spin", [], headers={"X-Wasmpool-Deadline-Ms": "100"})
        self.assertEqual((resp.status, resp.error_code()), (504, "deadline_exceeded"))
        resp = d.request("POST", "/v1/modules/trap/call/spin?deadline_ms=100", body={"args": []})
        self.assertEqual(resp.status, 504)
        resp = d.call("trap", "spin", [], headers={"X-Wasmpool-Deadline-Ms": "99999999"})
        self.assertEqual((resp.status, resp.error_code()), (422, "limit_exceeded"))
        self.assertEqual(d.call("add", "add", [1, 1]).json(), {"results": [2]})
        # Issue 12 item 9: only digits (strtoull alone took a sign and
        # leading blanks); '+' in a query is a space, %2B a plus.
        for query in ("%2B5", "+5", "%205", "5%20", "0x5", "", "18446744073709551616"):
            resp = d.request("POST", "/v1/modules/add/call/add?deadline_ms=" + query,
                             body={"args": [1, 1]})
            if query == "":
                self.assertEqual(resp.status, 200, "an empty value is no deadline")
                continue
            self.assertEqual((resp.status, resp.error_code()), (400, "bad_request"), query)
        resp = d.call("add", "add", [1, 1], headers={"X-Wasmpool-Deadline-Ms": "+5"})
        self.assertEqual((resp.status, resp.error_code()), (400, "bad_request"))

    # ---- instances -------------------------------------------------------

    def test_instance_lifecycle(self):
        d = self.d
        created = d.request("POST", "/v1/modules/reactor/instances")
        self.assertEqual(created.status, 201, created)
        inst = created.json()["id"]
        self.assertRegex(inst, "^[0-9a-f]{32}$")
        base = "/v1/instances/" + inst
        self.assertEqual(d.request("POST", base + "/call/initialized").json(), {"results": [1]})
        self.assertEqual(d.request("POST", base + "/call/bump").json(), {"results": [1]})
        self.assertEqual(d.request("POST", base + "/call/bump").json(), {"results": [2]},
                         "state persists across calls")
        listed = d.request("GET", "/v1/instances").json()["instances"]
        mine = [i for i in listed if i["id"] == inst]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["module"], "reactor")
        self.assertEqual(mine[0]["calls"], 3)
        self.assertEqual(d.request("DELETE", base).status, 200)
        self.assertEqual(d.request("POST", base + "/call/bump").error_code(), "unknown_instance")
        self.assertEqual(d.request("DELETE", base).status, 404)
        other = "0" * 32
        self.assertEqual(d.request("DELETE", "/v1/instances/" + other).status, 404)

    def test_trap_in_instance_then_it_still_works(self):
        d = self.d
        inst = d.request("POST", "/v1/modules/trap/instances").json()["id"]
        base = "/v1/instances/%s/call/" % inst
        self.assertEqual(d.request("POST", base + "div0", body={"args": [1, 0]}).status, 502)
        self.assertEqual(d.request("POST", base + "ok").json(), {"results": [42]})
        # A timed-out instance is poisoned and released.
        resp = d.request("POST", base + "spin", headers={"X-Wasmpool-Deadline-Ms": "50"})
        self.assertEqual(resp.status, 504)
        self.assertEqual(d.request("POST", base + "ok").error_code(), "unknown_instance")

    def test_module_deleted_with_live_instance(self):
        d = self.d
        d.deploy("doomed", "add.wasm")
        inst = d.request("POST", "/v1/modules/doomed/instances").json()["id"]
        self.assertEqual(d.request("DELETE", "/v1/modules/doomed").status, 200)
        resp = d.request("POST", "/v1/instances/%s/call/add" % inst, body={"args": [40, 2]})
        self.assertEqual(resp.json(), {"results": [42]}, "the instance keeps its module")
        d.request("DELETE", "/v1/instances/" + inst)

    def test_pool_exhausted(self):
        d = self.d
        ids = []
        try:
            while True:
                resp = d.request("POST", "/v1/modules/add/instances")
                if resp.status != 201:
                    break
                ids.append(resp.json()["id"])
                self.assertLessEqual(len(ids), 4)
            self.assertEqual((resp.status, resp.error_code()), (503, "pool_exhausted"))
            self.assertIsNotNone(resp.header("Retry-After"))
            self.assertEqual(d.call("add", "add", [1, 2]).status, 503)
        finally:
            for i in ids:
                d.request("DELETE", "/v1/instances/" + i)
        self.assertEqual(d.call("add", "add", [1, 2]).json(), {"results": [3]})

    # ---- run -------------------------------------------------------------

    def test_run(self):
        d = self.d
        resp = d.request("POST", "/v1/modules/hello/run")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, b"hello, world\n")
        self.assertEqual(resp.header("X-Wasmpool-Exit-Code"), "0")
        self.assertIsNotNone(resp.header("X-Wasmpool-Duration-Us"))
        resp = d.request("POST", "/v1/modules/upper/run", body=b"stdin Bytes\n" * 1000)
        self.assertEqual(resp.body, b"STDIN BYTES\n" * 1000)
        resp = d.request("POST", "/v1/modules/add/run")
        self.assertNotEqual(resp.status, 200, "a module without _start cannot run")

    # ---- stats, metrics, health -----------------------------------------

    def test_stats_metrics_health(self):
        d = self.d
        health = d.request("GET", "/v1/health")
        self.assertEqual(health.status, 200)
        self.assertEqual(health.json()["status"], "ok")
        stats = d.request("GET", "/v1/stats").json()
        for key in ("pool", "queue", "requests", "traps", "jemalloc", "instances", "modules"):
            self.assertIn(key, stats)
        self.assertEqual(stats["pool"]["instances"]["total"], 4)
        self.assertGreaterEqual(stats["modules"], 6)
        self.assertEqual(stats["queue"]["workers"], 2)
        self.assertIsNotNone(stats["jemalloc"], "wasmpoold runs on jemalloc")
        metrics = d.request("GET", "/metrics")
        self.assertTrue(metrics.header("Content-Type").startswith("text/plain"))
        text = metrics.body.decode()
        self.assertIn('wasmpool_requests_total{endpoint="health",status="200"}', text)
        self.assertIn('wasmpool_pool_slots_total{pool="instance"} 4', text)
        self.assertRegex(text, r"wasmpool_jemalloc_allocated_bytes [1-9]")
        self.assertRegex(text, r"wasmpool_jemalloc_resident_bytes [1-9]")
        self.assertIn('wasmpool_request_duration_seconds_bucket{endpoint="health",le="+Inf"}',
                      text)

    # ---- HTTP framing ----------------------------------------------------

    def test_keep_alive_reuses_one_connection(self):
        d = self.d
        conn = d.connection()
        try:
            for i in range(20):
                resp = d.request("POST", "/v1/modules/add/call/add", body={"args": [i, 1]},
                                 conn=conn)
                self.assertEqual(resp.json(), {"results": [i + 1]})
                self.assertEqual(resp.header("Connection"), "keep-alive")
        finally:
            conn.close()

    def test_pipelining_keeps_request_order(self):
        # The first request is slow (spins into its deadline), the others are
        # answered at once by the loop; answers must still come back in order.
        reqs = (b"POST /v1/modules/trap/call/spin HTTP/1.1\r\nHost: x\r\n"
                b"X-Wasmpool-Deadline-Ms: 300\r\nContent-Length: 0\r\n\r\n"
                b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
                b"POST /v1/modules/add/call/add HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\n"
                b'{"args":[7,8]}'
                b"GET /v1/modules/nosuch HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answers = wp_harness.split_responses(self.d.raw(reqs))
        self.assertEqual([a[0] for a in answers], [504, 200, 200, 404])
        self.assertIn(b"15", answers[2][2])

    def test_deep_pipeline_then_half_close(self):
        # More requests than the daemon keeps outstanding per connection (32),
        # then EOF from the client: every one is still answered, in order.
        import socket
        n = 50
        reqs = b"".join(b"POST /v1/modules/add/call/add HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                        for body in (b'{"args":[%d,1]}' % i for i in range(n)))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.d.socket)
        s.sendall(reqs)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        answers = wp_harness.split_responses(data)
        self.assertEqual(len(answers), n)
        for i, (status, _, body) in enumerate(answers):
            self.assertEqual((status, body), (200, b'{"results":[%d]}' % (i + 1)))

    def test_malformed_and_oversized_requests(self):
        d = self.d
        out = d.raw(b"BLAH\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out)
        self.assertIn(b"Connection: close", out)
        big_header = b"GET /v1/health HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
        out = d.raw(big_header)
        self.assertTrue(out.startswith(b"HTTP/1.1 431"), out[:100])

    def test_body_over_the_limit(self):
        # max_body_size is 64 MiB by default; this daemon is the small one.
        small = Daemon(server={"max_body_size": "64KiB"}).start()
        try:
            resp = small.request("PUT", "/v1/modules/big", body=b"\0" * (200 * 1024))
            self.assertEqual((resp.status, resp.error_code()), (413, "payload_too_large"))
            self.assertEqual(small.request("GET", "/v1/health").status, 200)
        finally:
            small.cleanup()

    def test_client_disconnect_mid_request(self):
        d = self.d
        before = d.request("GET", "/v1/stats").json()["connections"]
        # Half a request, then gone.
        import socket
        for payload in (b"POST /v1/modules/add/call/add HTTP/1.1\r\nContent-Len",
                        b"POST /v1/modules/add/call/add HTTP/1.1\r\nContent-Length: 100\r\n\r\n{",
                        b"POST /v1/modules/trap/call/spin HTTP/1.1\r\nContent-Length: 0\r\n"
                        b"X-Wasmpool-Deadline-Ms: 200\r\n\r\n"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(d.socket)
            s.sendall(payload)
            s.close()
        import time
        time.sleep(0.5)  # the spinning call's result arrives for a closed connection
        self.assertEqual(d.call("add", "add", [1, 2]).json(), {"results": [3]})
        # d.call's own connection closes asynchronously too (it may be seen
        # on the other loop after the stats request is answered).
        deadline = time.monotonic() + 5.0
        while True:
            after = d.request("GET", "/v1/stats").json()["connections"]
            if after == before or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(after, before, "closed connections are freed")


if __name__ == "__main__":
    harness_main()
