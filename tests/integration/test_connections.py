"""test_connections.py -- the connection-level items of issue 12, each a
regression test that failed before its fix:

  1  a client that pipelines and never reads holds bounded memory
  5  the TCP listener checks Host and wants a non-form Content-Type
  6  a connection that never sends a byte is closed after header_timeout
  8  requests arriving during the shutdown grace period get 503 shutting_down
  9  the router's precise reason reaches the client
"""

import errno
import http.client
import json
import os
import re
import resource
import signal
import socket
import time
import unittest

from wp_harness import Daemon, harness_main, split_responses

HEALTH = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def sanitized(pid):
    """ASan's quarantine keeps freed memory resident (256 MiB by default):
    RSS bounds mean nothing in the sanitizer build."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Connections(unittest.TestCase):
    def setUp(self):
        self.daemons = []

    def tearDown(self):
        bad = []
        for d in self.daemons:
            status = d.stop()
            if status not in (0, None):
                bad.append((status, d.read_log()[-3000:]))
            d.cleanup()
        self.assertEqual(bad, [])

    def daemon(self, **tables):
        d = Daemon(**tables)
        self.daemons.append(d)
        return d

    def timed_health(self, d):
        start = time.time()
        resp = d.request("GET", "/v1/health", timeout=5)
        self.assertEqual(resp.status, 200)
        return time.time() - start

    # ---- item 1 ----------------------------------------------------------

    def test_thousand_pipelining_clients_that_never_read(self):
        conns = 1000
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < conns + 200:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, conns + 1200), hard))
        d = self.daemon(server={"max_connections": conns + 100}).start()
        # Start: a daemon that has once held 1,000 ordinary connections (the
        # loop's fd table and the allocator's metadata grow with the fd
        # numbers once; the flood must not leave more than that) and has
        # answered the /v1/stats the end asks for (its first answer alone
        # adds ~0.1 MiB: code and jemalloc's statistics).
        plain = []
        for _ in range(conns):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(d.socket)
            s.sendall(HEALTH)
            plain.append(s)
        for s in plain:
            s.settimeout(10)
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"))
            s.close()
        self.assertEqual(d.request("GET", "/v1/stats").status, 200)
        for _ in range(10):
            self.timed_health(d)
            time.sleep(0.2)
        start_kib = rss_kib(d.proc.pid)
        limit_kib = 256 * 1024
        if sanitized(d.proc.pid):
            limit_kib = 1 << 40  # the other checks still run
        socks = []
        for _ in range(conns):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
            s.connect(d.socket)
            s.setblocking(False)
            socks.append(s)
        chunk = HEALTH * (65536 // len(HEALTH))
        peak_kib = 0
        try:
            deadline = time.time() + 30
            while time.time() < deadline:
                sent_any = False
                for s in socks:
                    try:
                        if s.send(chunk) > 0:
                            sent_any = True
                    except BlockingIOError:
                        pass
                peak_kib = max(peak_kib, rss_kib(d.proc.pid))
                # Fail early (before the fix this reached gigabytes).
                self.assertLess(peak_kib, limit_kib, "RSS %d KiB" % peak_kib)
                if not sent_any:
                    break
            # The daemon answers what the socket buffers let it (~1,400
            # answers a connection), then stops reading them: wait until it
            # has absorbed that and is idle, watching RSS meanwhile.
            deadline = time.time() + 60
            last = cpu_ticks(d.proc.pid)
            while time.time() < deadline:
                time.sleep(0.3)
                peak_kib = max(peak_kib, rss_kib(d.proc.pid))
                now = cpu_ticks(d.proc.pid)
                if now - last <= 1:
                    break
                last = now
            self.assertLess(peak_kib, limit_kib, "RSS %d KiB" % peak_kib)
            worst = max(self.timed_health(d) for _ in range(10))
            self.assertLess(worst, 0.050, "health took %.1f ms" % (worst * 1000))
        finally:
            for s in socks:
                s.close()
        # Every close seen: the stats request's is the one connection left
        # (asked again, the previous request's close may not be seen yet).
        deadline = time.time() + 30
        while True:
            open_conns = d.request("GET", "/v1/stats").json()["connections"]
            if open_conns <= 1 or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(open_conns, 1)
        # Back within 10% of where it started once they are gone (issue 12).
        # Measured on the shared 2-core machine: +88 to +212 KiB on a 5.8 MiB
        # start (+1.5% to +3.6%, 17 runs), most of it jemalloc's descriptors
        # of the slabs the flood's small allocations had (base memory, never
        # unmapped) and the radix-tree pages that mapped them; a second flood
        # reuses them. The bytes a stalled connection keeps (~20 KiB: its
        # unparsed input, its queued answers) live in mappings of their own
        # (daemon/iobuf.c) and go back whole; in jemalloc they left +460 to
        # +528 KiB (+7.8% to +9.1%, 6 runs). The bound is ~580 KiB: leaking
        # the unparsed input at close (16 MiB) fails.
        # jemalloc hands freed pages back over its decay time (1 s, main.c),
        # so this waits until RSS is within the bound and has stopped falling.
        asan = sanitized(d.proc.pid)
        samples = [rss_kib(d.proc.pid)]
        deadline = time.time() + (0 if asan else 20)
        while time.time() < deadline:
            if len(samples) > 5 and samples[-1] <= start_kib * 1.10 and samples[-1] >= samples[-6]:
                break
            d.request("GET", "/v1/health")  # allocator activity lets it purge
            time.sleep(0.2)
            samples.append(rss_kib(d.proc.pid))
        now_kib = samples[-1]
        print("1,000 pipelining clients: RSS start %d KiB, peak %d KiB, after close %d KiB "
              "(%+.1f%%%s)" % (start_kib, peak_kib, now_kib, 100.0 * (now_kib / start_kib - 1),
                              ", not checked under the sanitizer" if asan else ""))
        if not asan:
            self.assertLessEqual(now_kib, start_kib * 1.10,
                                 "RSS %d KiB after close, %d KiB at start (peak %d)" %
                                 (now_kib, start_kib, peak_kib))

    # ---- item 6 ----------------------------------------------------------

    def test_silent_connections_time_out_before_the_first_byte(self):
        # idle_timeout stays long: a connection that never sent anything is
        # held by header_timeout, counted from accept.
        d = self.daemon(server={"header_timeout": "300ms", "idle_timeout": "60s",
                                "max_connections": 4}).start()
        held = []
        for _ in range(4):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(d.socket)
            s.settimeout(5)
            held.append(s)
        start = time.time()
        for s in held:
            self.assertEqual(s.recv(100), b"", "closed without a word")
        self.assertLess(time.time() - start, 2.0)
        for s in held:
            s.close()
        self.assertEqual(d.request("GET", "/v1/health").status, 200)
        # A kept-alive connection after its first answer still has idle_timeout.
        conn = d.connection()
        self.assertEqual(d.request("GET", "/v1/health", conn=conn).status, 200)
        time.sleep(0.8)
        self.assertEqual(d.request("GET", "/v1/health", conn=conn).status, 200)
        conn.close()

    # ---- item 8 ----------------------------------------------------------

    def test_pipelined_request_during_grace_gets_503(self):
        d = self.daemon(server={"workers": 1, "shutdown_grace": "5s"}).start()
        d.deploy("trap", "trap.wasm")
        spin = (b"POST /v1/modules/trap/call/spin HTTP/1.1\r\nHost: x\r\n"
                b"X-Wasmpool-Deadline-Ms: 600\r\nContent-Length: 0\r\n\r\n")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.socket)
        s.settimeout(10)
        s.sendall(spin)
        time.sleep(0.15)
        d.proc.send_signal(signal.SIGTERM)
        time.sleep(0.15)
        s.sendall(HEALTH + HEALTH)  # arrive during the grace period
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        s.close()
        answers = split_responses(out)
        self.assertEqual([a[0] for a in answers], [504, 503], out)
        self.assertEqual(json.loads(answers[1][2])["error"]["code"], "shutting_down")
        self.assertEqual(answers[1][1].get("connection"), "close")
        self.assertEqual(d.proc.wait(10), 0)

    # ---- item 9 ----------------------------------------------------------

    def test_router_reason_reaches_the_client(self):
        d = self.daemon().start()
        resp = d.request("PUT", "/v1/modules/.hidden", body=b"\0asm\1\0\0\0")
        self.assertEqual((resp.status, resp.error_code()), (400, "bad_request"))
        self.assertIn("module name must be", resp.json()["error"]["message"])
        resp = d.request("GET", "/v1/modules/a%zz")
        self.assertIn("percent-escape", resp.json()["error"]["message"])
        resp = d.request("POST", "/v1/instances/..%2f/call/x", body=b"{}")
        self.assertIn("instance id must be", resp.json()["error"]["message"])
        resp = d.request("PATCH", "/v1/modules")
        self.assertEqual(resp.status, 405)
        self.assertIn("method not allowed", resp.json()["error"]["message"])

    # ---- item 5 ----------------------------------------------------------

    def tcp_port(self, d):
        for line in d.read_log().splitlines():
            m = re.search(r"tcp=127\.0\.0\.1:(\d+)", line)
            if m:
                return int(m.group(1))
        self.fail("no tcp listening line:\n" + d.read_log())

    def tcp(self, port, method, path, body=None, headers=None, host=None):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            if host is not None:
                conn.putheader("Host", host)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, data
        finally:
            conn.close()

    def test_tcp_host_allow_list_and_content_type(self):
        d = self.daemon(server={"tcp_listen": "127.0.0.1:0"}).start()
        d.deploy("add", "add.wasm")
        port = self.tcp_port(d)
        local = "127.0.0.1:%d" % port
        body = b'{"args":[40,2]}'
        json_type = {"Content-Type": "application/json"}
        # Allowed hosts.
        for host in (local, "127.0.0.1", "localhost", "localhost:%d" % port):
            status, data = self.tcp(port, "POST", "/v1/modules/add/call/add", body,
                                    json_type, host=host)
            self.assertEqual((status, json.loads(data)), (200, {"results": [42]}), host)
        # DNS rebinding: a foreign name, or none at all.
        for host in ("attacker.example", "attacker.example:%d" % port, None, ""):
            status, data = self.tcp(port, "GET", "/v1/modules", host=host)
            self.assertEqual(status, 403, host)
            self.assertIn(b"Host", data)
        status, _ = self.tcp(port, "DELETE", "/v1/modules/add", host="evil.test")
        self.assertEqual(status, 403)
        # Cross-site form posts: no Content-Type, or a CORS-safelisted one.
        for ctype in (None, "text/plain", "text/plain;charset=UTF-8",
                      "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
            headers = {"Content-Type": ctype} if ctype else {}
            status, data = self.tcp(port, "POST", "/v1/modules/add/call/add", body, headers,
                                    host=local)
            self.assertEqual(status, 403, ctype)
            self.assertIn(b"Content-Type", data)
        # The Unix socket checks neither (file permissions guard it).
        resp = d.request("POST", "/v1/modules/add/call/add", body=body,
                         headers={"Host": "anything", "Content-Type": "text/plain"})
        self.assertEqual(resp.json(), {"results": [42]})


if __name__ == "__main__":
    harness_main()
