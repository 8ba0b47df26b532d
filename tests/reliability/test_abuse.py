"""test_abuse.py -- issue 6 item 5, the cases tests/integration does not
already cover (it has: header/idle timeouts for one client, max_connections,
body over the limit, full queue, a basic pool_exhausted).

- Deploys that would exhaust the compiler -- one huge function, deeply nested
  blocks -- with the compile limits set low: 422 compile_limit, the module is
  not registered, and a client calling another module meanwhile is served
  throughout (every call 200).
- Slow clients that trickle a request head, or a body, one byte at a time:
  each is cut off with 408 once header_timeout has passed since its first
  byte, while a normal client keeps its usual latency.
- A pool held full by long-lived instances: new instances, one-shot calls
  and runs get 503 pool_exhausted (with Retry-After) while calls on the live
  instances keep working; a released slot is usable at once.
"""

import os
import socket
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import wp_harness  # noqa: E402
from wp_harness import Daemon, wat2wasm  # noqa: E402

ADD = """(module (func (export "add") (param i32 i32) (result i32)
  (i32.add (local.get 0) (local.get 1))))"""


def huge_function(statements):
    """One function of `statements` dependent arithmetic steps: wasm2c turns
    it into one enormous C function, which cc -O2 optimises for a long time."""
    body = []
    for i in range(statements):
        body.append("(local.set 1 (i32.add (i32.mul (local.get 1) (i32.const %d)) "
                    "(i32.xor (local.get 0) (local.get 1))))" % (i * 2654435761 % 1000003))
        if i % 7 == 0:
            body.append("(if (i32.lt_u (local.get 1) (i32.const %d)) (then "
                        "(local.set 0 (i32.add (local.get 0) (i32.const 1)))))" % i)
    return ("(module (func (export \"f\") (param i32) (result i32) (local i32)\n%s\n"
            "(local.get 1)))" % "\n".join(body))


def leb(n):
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def deep_nesting(depth):
    """A binary (wat2wasm itself overflows its stack on such text) with one
    function (i32) -> i32 whose body is `depth` nested blocks, each with a
    br_if, around local.get 0."""
    body = b"\x00"  # no locals
    for i in range(depth):
        body += b"\x02\x40" + b"\x20\x00\x0d" + leb(i % 3)  # block; local.get 0; br_if
    body += b"\x0b" * depth + b"\x20\x00\x0b"  # ends; local.get 0; end
    code = leb(1) + leb(len(body)) + body

    def section(sid, payload):
        return bytes([sid]) + leb(len(payload)) + payload

    return (b"\x00asm\x01\x00\x00\x00"
            + section(1, b"\x01\x60\x01\x7f\x01\x7f")       # type (i32) -> i32
            + section(3, b"\x01\x00")                           # func 0: type 0
            + section(7, b"\x01\x01f\x00\x00")                 # export "f" func 0
            + section(10, code))


class Calls:
    """A client calling add in a loop on its own connection, timing each."""

    def __init__(self, d, period=0.0):
        self.d, self.period = d, period
        self.latencies, self.bad = [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        conn = self.d.connection(timeout=10)
        while not self.stop.is_set():
            t = time.monotonic()
            resp = self.d.request("POST", "/v1/modules/add/call/add",
                                  body={"args": [2, 3]}, conn=conn)
            self.latencies.append(time.monotonic() - t)
            if resp.status != 200 or resp.json() != {"results": [5]}:
                self.bad.append(resp)
            if self.period:
                time.sleep(self.period)
        conn.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)

    def quantile(self, q):
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, int(q * len(lat)))]


class Abuse(unittest.TestCase):
    def start(self, **tables):
        tables.setdefault("log", {"level": "warn"})
        d = Daemon(**tables).start()
        self.addCleanup(self.finish, d)
        resp = d.request("PUT", "/v1/modules/add", body=wat2wasm(ADD))
        self.assertIn(resp.status, (200, 201), resp)
        return d

    def finish(self, d):
        code = d.stop()
        log = d.read_log()
        d.cleanup()
        self.assertEqual(code, 0, log[-3000:])
        # A sanitizer build reports here (UBSan goes on after a report).
        self.assertNotIn("runtime error:", log)
        self.assertNotIn("Sanitizer", log)

    # ---- compiler exhaustion --------------------------------------------

    def test_compile_limits(self):
        # The CPU limit is the one under test; the wall-clock one is loose so
        # that a busy machine (the sanitizer build beside other tests) does
        # not turn tcc's 40,000-instruction compile into a timeout.
        d = self.start(server={"workers": 2},
                       runtime={"compile_cpu_time": "1s", "compile_timeout": "10s",
                                "compile_memory": "256MiB"})
        # A 40,000-instruction function used to exhaust cc's CPU limit; tier 0
        # (tcc) now compiles it within the same limits, so it deploys.
        resp = d.request("PUT", "/v1/modules/huge", body=wat2wasm(huge_function(40000)),
                         timeout=60)
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(d.request("DELETE", "/v1/modules/huge").status, 200)
        cases = {"nested": deep_nesting(20000)}
        with Calls(d, period=0.002) as calls:
            for name, wasm in cases.items():
                start = time.monotonic()
                resp = d.request("PUT", "/v1/modules/" + name, body=wasm, timeout=60)
                took = time.monotonic() - start
                self.assertEqual((resp.status, resp.error_code()), (422, "compile_limit"),
                                 (name, resp))
                self.assertLess(took, 10, "%s: the limits stopped the compiler" % name)
                self.assertEqual(d.request("GET", "/v1/modules/" + name).status, 404)
                print("\ncompile limit: %s (%d KiB of wasm) refused in %.2f s: %s" %
                      (name, len(wasm) // 1024, took, resp.json()["error"]["message"][:120]),
                      file=sys.stderr)
        self.assertEqual(calls.bad, [])
        # The nesting limit now answers within milliseconds, so few calls overlap.
        self.assertGreater(len(calls.latencies), 0)
        print("compile limit: %d calls meanwhile, p50 %.2f ms, p99 %.2f ms, max %.2f ms" %
              (len(calls.latencies), 1000 * calls.quantile(0.5), 1000 * calls.quantile(0.99),
               1000 * max(calls.latencies)), file=sys.stderr)
        self.assertEqual([m["name"] for m in d.request("GET", "/v1/modules").json()["modules"]],
                         ["add"])
        self.assertEqual(d.call("add", "add", [40, 2]).json(), {"results": [42]})

    # ---- slow clients ----------------------------------------------------

    def test_slow_clients_cut_off_others_served(self):
        d = self.start(server={"header_timeout": "2s", "max_connections": 64})
        head = b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nX-Pad: slowly\r\n\r\n"
        body_req = (b"POST /v1/modules/add/call/add HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: 40\r\n\r\n")
        results = []

        def slow(kind, interval):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(d.socket)
            start = time.monotonic()
            sent = 0
            answer = b""
            try:
                if kind == "body":  # the head at once, then a trickled body
                    s.sendall(body_req)
                    data = b'{"args":[2,3]}' + b" " * 26
                else:
                    data = head
                for byte in data:
                    s.sendall(bytes([byte]))
                    sent += 1
                    s.settimeout(interval)
                    try:
                        answer = s.recv(4096)
                        break  # answered (or closed) mid-trickle
                    except socket.timeout:
                        pass
                s.settimeout(5)
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
            except OSError:
                pass
            results.append((kind, time.monotonic() - start, sent, answer))
            s.close()

        with Calls(d, period=0.001) as calls:
            time.sleep(0.5)
            baseline = list(calls.latencies)
            threads = [threading.Thread(target=slow, args=("head" if i % 2 else "body", 1.0))
                       for i in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        self.assertEqual(len(results), 20)
        for kind, took, sent, answer in results:
            self.assertTrue(answer.startswith(b"HTTP/1.1 408"), (kind, answer))
            self.assertIn(b"Connection: close", answer)
            self.assertGreaterEqual(took, 1.9, kind)
            self.assertLess(took, 4.0, "%s: cut off at header_timeout, not later" % kind)
            self.assertLess(sent, 5, kind)
        self.assertEqual(calls.bad, [])
        during = sorted(calls.latencies[len(baseline):])
        p99 = during[int(0.99 * (len(during) - 1))]
        print("\nslow clients: 20 trickling 1 byte/s cut off with 408 after %.2f-%.2f s; "
              "%d calls meanwhile, p50 %.2f ms, p99 %.2f ms (before: p50 %.2f ms)" %
              (min(r[1] for r in results), max(r[1] for r in results), len(during),
               1000 * during[len(during) // 2], 1000 * p99,
               1000 * sorted(baseline)[len(baseline) // 2]), file=sys.stderr)
        self.assertGreater(len(during), 200, "the normal client kept going")
        self.assertLess(p99, 0.1, "normal client latency while slow clients hang on")
        # Only the stats request's own connection is left. The calling
        # client's close reaches the daemon asynchronously (it may sit on
        # the other loop), so allow it a moment to be seen.
        deadline = time.monotonic() + 2.0
        while True:
            open_now = d.request("GET", "/v1/stats").json()["connections"]
            if open_now == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(open_now, 1)

    # ---- a pool held full ------------------------------------------------

    def test_full_pool_keeps_live_instances_working(self):
        d = self.start(pool={"total_instances": 4}, server={"workers": 2})
        ids = []
        for _ in range(4):
            resp = d.request("POST", "/v1/modules/add/instances")
            self.assertEqual(resp.status, 201, resp)
            ids.append(resp.json()["id"])
        refused, served, wrong = [], [], []

        def new_instances():
            for _ in range(200):
                for method, path in (("POST", "/v1/modules/add/instances"),
                                     ("POST", "/v1/modules/add/call/add"),
                                     ("POST", "/v1/modules/add/run")):
                    resp = d.request(method, path, body={"args": [1, 2]})
                    if resp.status == 503 and resp.error_code() == "pool_exhausted" \
                            and resp.header("Retry-After"):
                        refused.append(path)
                    else:
                        wrong.append(resp)

        def live_calls(inst):
            conn = d.connection()
            for i in range(300):
                resp = d.request("POST", "/v1/instances/%s/call/add" % inst,
                                 body={"args": [i, 1]}, conn=conn)
                if resp.status == 200 and resp.json() == {"results": [i + 1]}:
                    served.append(inst)
                else:
                    wrong.append(resp)
            conn.close()

        threads = [threading.Thread(target=new_instances) for _ in range(2)]
        threads += [threading.Thread(target=live_calls, args=(i,)) for i in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(wrong, [])
        self.assertEqual(len(refused), 2 * 200 * 3)
        self.assertEqual(len(served), 4 * 300)
        # One slot back: usable at once.
        self.assertEqual(d.request("DELETE", "/v1/instances/" + ids.pop()).status, 200)
        self.assertEqual(d.call("add", "add", [40, 2]).json(), {"results": [42]})
        for i in ids:
            self.assertEqual(d.request("DELETE", "/v1/instances/" + i).status, 200)
        pool = d.request("GET", "/v1/stats").json()["pool"]
        self.assertEqual(pool["instances"]["in_use"], 0)
        print("\nfull pool: %d refusals with pool_exhausted, %d calls on live instances "
              "served" % (len(refused), len(served)), file=sys.stderr)


if __name__ == "__main__":
    wp_harness.harness_main()
