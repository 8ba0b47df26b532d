"""test_request_path.py -- issue 11, the request path with one loop per
worker thread:

  1  a guest that spins until its 1 s deadline, on two connections, does not
     hold up `hello` runs on a third: p99 <= 2 ms (DAEMON.md, "Head-of-line
     blocking")
  2  connections spread over the loops all get answers, the pipelined ones
     in order, and the daemon still drains and exits 0
  3  the run-time history is per export: a module's quick export does not
     let its spinning export run on the loop
  4  work a loop has never seen: a one-shot call is tried on the loop (the
     first requests after a deploy do not queue for the pool), a spinning
     one is cut there at the inline bound and runs again on the pool with
     its own deadline (the loop is held for the try, not the deadline); an
     instance call, which cannot be run again, goes to the pool
"""

import http.client
import os
import socket
import threading
import time
import unittest

from wp_harness import Daemon, UnixHTTPConnection, harness_main, split_responses


def sanitized(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


class RequestPath(unittest.TestCase):
    def test_spinning_guests_do_not_block_hello(self):
        d = Daemon(server={"workers": 2, "queue_depth": 16}, log={"level": "warn"}).start()
        try:
            d.deploy("hello", "hello.wasm")
            d.deploy("trap", "trap.wasm")
            stop = threading.Event()
            spins = []

            def spinner():
                conn = UnixHTTPConnection(d.socket, timeout=30)
                while not stop.is_set():
                    conn.request("POST", "/v1/modules/trap/call/spin", body=b'{"args":[]}',
                                 headers={"X-Wasmpool-Deadline-Ms": "1000"})
                    resp = conn.getresponse()
                    resp.read()
                    spins.append(resp.status)
                conn.close()

            threads = [threading.Thread(target=spinner) for _ in range(2)]
            for t in threads:
                t.start()
            time.sleep(0.3)  # both spin now
            conn = UnixHTTPConnection(d.socket, timeout=30)
            latencies = []
            end = time.time() + 3.0
            while time.time() < end:
                start = time.perf_counter()
                conn.request("POST", "/v1/modules/hello/run", body=b"")
                resp = conn.getresponse()
                body = resp.read()
                latencies.append(time.perf_counter() - start)
                self.assertEqual(resp.status, 200, body)
            conn.close()
            stop.set()
            for t in threads:
                t.join()
            self.assertTrue(spins and all(s == 504 for s in spins), spins)
            latencies.sort()
            p50 = latencies[len(latencies) // 2] * 1e3
            p99 = latencies[int(len(latencies) * 0.99)] * 1e3
            print("hello beside 2 spinning guests: n=%d p50=%.3f ms p99=%.3f ms"
                  % (len(latencies), p50, p99))
            # The sanitizer build runs everything several times slower.
            bound = 20.0 if sanitized(d.proc.pid) else 2.0
            self.assertLessEqual(p99, bound)
        finally:
            d.stop()
            d.cleanup()

    def test_many_connections_over_the_loops(self):
        d = Daemon(pool={"total_instances": 64}, server={"workers": 4, "queue_depth": 64},
                   log={"level": "warn"}).start()
        try:
            d.deploy("add", "add.wasm")
            socks = []
            for i in range(40):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(20)
                s.connect(d.socket)
                socks.append(s)
            req = (b"POST /v1/modules/add/call/add HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s")
            # One call first on each connection: each loop learns that add is
            # short (a call a loop has not seen is tried on the loop; were it
            # cut, it would run on the pool, whose queue holds 64).
            one = b'{"args":[0,0]}'
            for s in socks:
                s.sendall(req % (len(one), one))
                data = b""
                while len(split_responses(data)) < 1 or not data.endswith(b"}"):
                    data += s.recv(65536)
                self.assertEqual(split_responses(data)[0][0], 200, data)
            for i, s in enumerate(socks):
                batch = b""
                for j in range(5):
                    body = b'{"args":[%d,%d]}' % (i, j)
                    batch += req % (len(body), body)
                s.sendall(batch)
            for i, s in enumerate(socks):
                data = b""
                while len(split_responses(data)) < 5 or not data.endswith(b"}"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                answers = split_responses(data)
                self.assertEqual(len(answers), 5, data)
                for j, (status, _, body) in enumerate(answers):
                    self.assertEqual(status, 200)
                    self.assertIn(b"[%d]" % (i + j), body)
            for s in socks:
                s.close()
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()

    def test_quick_export_does_not_vouch_for_a_slow_one(self):
        # One loop: a guest running inline would hold every connection.
        d = Daemon(server={"workers": 1}, log={"level": "warn"}).start()
        try:
            d.deploy("trap", "trap.wasm")
            for _ in range(3):  # quick (traps at once): learnt as short
                self.assertEqual(d.call("trap", "div0", [1, 0]).status, 502)
            result = {}

            def spin():
                result["spin"] = d.call("trap", "spin", [],
                                        headers={"X-Wasmpool-Deadline-Ms": "800"})

            t = threading.Thread(target=spin)
            t.start()
            time.sleep(0.2)  # the spin runs now
            start = time.time()
            self.assertEqual(d.request("GET", "/v1/health").status, 200)
            waited = time.time() - start
            t.join()
            self.assertEqual(result["spin"].status, 504)
            self.assertLess(waited, 0.3, "health waited %.0f ms behind the spin" % (waited * 1e3))
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()

    def test_never_seen_work_is_tried_on_the_loop(self):
        # One loop and one pool thread: what runs inline holds everything.
        d = Daemon(server={"workers": 1}, log={"level": "warn"}).start()

        def runs():
            return {w: d.metric('wasmpool_guest_runs_total{where="%s"}' % w)
                    for w in ("loop", "pool", "loop_cut")}

        try:
            d.deploy("add", "add.wasm")
            d.deploy("trap", "trap.wasm")
            d.deploy("trap1", "trap.wasm")
            # A fresh module's first call runs on the loop, not the pool.
            before = runs()
            self.assertEqual(d.call("add", "add", [40, 2]).json(), {"results": [42]})
            after = runs()
            self.assertEqual((after["loop"] - before["loop"], after["pool"] - before["pool"],
                              after["loop_cut"] - before["loop_cut"]), (1, 0, 0))

            # A fresh spinning export: cut at the inline bound, then run on
            # the pool with the request's own deadline. The loop answers
            # health meanwhile.
            result = {}

            def spin():
                start = time.time()
                result["spin"] = d.call("trap", "spin", [],
                                        headers={"X-Wasmpool-Deadline-Ms": "1000"})
                result["took"] = time.time() - start

            before = runs()
            traps = d.metric('wasmpool_traps_total{kind="deadline_exceeded"}')
            t = threading.Thread(target=spin)
            t.start()
            worst = 0.0
            while t.is_alive():
                start = time.time()
                self.assertEqual(d.request("GET", "/v1/health").status, 200)
                worst = max(worst, time.time() - start)
                time.sleep(0.01)
            t.join()
            after = runs()
            resp = result["spin"]
            self.assertEqual(resp.status, 504, resp)
            self.assertEqual(resp.error_code(), "deadline_exceeded")
            self.assertIn("deadline of 1000 ms", resp.json()["error"]["message"])
            self.assertGreater(result["took"], 0.9, "the pool run had the full deadline")
            self.assertEqual((after["loop_cut"] - before["loop_cut"],
                              after["pool"] - before["pool"]), (1, 1))
            # The cut is not a trap the client saw: one deadline counted.
            self.assertEqual(d.metric('wasmpool_traps_total{kind="deadline_exceeded"}'),
                             traps + 1)
            bound = 0.5 if sanitized(d.proc.pid) else 0.2
            self.assertLess(worst, bound, "health waited %.0f ms behind the spin" % (worst * 1e3))
            # Learnt as long: the next one goes to the pool without a try.
            before = runs()
            self.assertEqual(d.call("trap", "spin", [],
                                    headers={"X-Wasmpool-Deadline-Ms": "50"}).status, 504)
            after = runs()
            self.assertEqual((after["loop_cut"] - before["loop_cut"],
                              after["pool"] - before["pool"]), (0, 1))

            # A deadline no longer than the try is the request's own: it is
            # answered from the loop, not run again.
            before = runs()
            resp = d.call("trap1", "spin", [], headers={"X-Wasmpool-Deadline-Ms": "1"})
            after = runs()
            self.assertEqual(resp.status, 504, resp)
            self.assertIn("deadline of 1 ms", resp.json()["error"]["message"])
            self.assertEqual((after["loop"] - before["loop"], after["pool"] - before["pool"],
                              after["loop_cut"] - before["loop_cut"]), (1, 0, 0))

            # An instance call changes its instance: never tried, the pool
            # runs the first one.
            inst = d.request("POST", "/v1/modules/add/instances").json()["id"]
            before = runs()
            resp = d.request("POST", "/v1/instances/%s/call/add" % inst, body={"args": [1, 2]})
            after = runs()
            self.assertEqual(resp.json(), {"results": [3]})
            self.assertEqual((after["loop"] - before["loop"], after["pool"] - before["pool"]),
                             (0, 1))
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()


if __name__ == "__main__":
    harness_main()
