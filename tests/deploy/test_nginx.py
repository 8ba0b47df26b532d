"""test_nginx.py -- configs/nginx-wasmpool.conf in front of a real wasmpoold.

Starts wasmpoold with the shipped configs/wasmpoold.toml and an nginx with
the shipped site file, each with only its paths (socket, directories,
listen port, socket group) substituted, then drives the API over TCP through
nginx with http.client: deploy, one-shot call, WASI run, a long-lived
instance, client and upstream keep-alive, error answers passed through byte
for byte, nginx's own errors as API JSON, and the endpoints kept from
non-local clients (a client bound to 127.0.0.2 stands in for a remote one).

    python3 test_nginx.py --bin-dir BUILD/bin --examples BUILD/examples \
        --source-dir REPO --cache-dir DIR

Exits 77 (CTest SKIP_RETURN_CODE) when nginx is not installed.
"""

import argparse
import grp
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

# The integration harness owns the AF_UNIX http.client connection.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from wp_harness import UnixHTTPConnection  # noqa: E402

SKIP = 77
OPTS = None
# Debian puts nginx in /usr/sbin, which an ordinary user's PATH may lack.
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


def substitute(text, replacements, what):
    """Replaces each literal exactly once, so the file under test stays the
    shipped one: if a path moves in it, this fails instead of testing a
    config nobody ships."""
    for old, new in replacements:
        count = text.count(old)
        if count != 1:
            raise AssertionError("%s: expected %r once, found it %d times" % (what, old, count))
        text = text.replace(old, new)
    return text


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exchange(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


class Stack:
    """wasmpoold + nginx in one temporary directory."""

    def __init__(self):
        # nginx's workers run as nobody when the test runs as root: they
        # must be able to reach the socket, as www-data does in production,
        # so the directory is in /tmp (root's TMPDIR may be private).
        root = os.geteuid() == 0
        self.dir = tempfile.mkdtemp(prefix="wp-nginx-", dir="/tmp" if root else None)
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "wp.sock")
        self.port = free_port()
        self.daemon = None
        self.nginx = None
        if root:
            nobody = pwd.getpwnam("nobody")
            self.worker_user = nobody.pw_name
            self.worker_group = grp.getgrgid(nobody.pw_gid).gr_name
        else:
            self.worker_user = None
            self.worker_group = ""  # the socket keeps our own group

    def path(self, name):
        return os.path.join(self.dir, name)

    def start_daemon(self):
        with open(os.path.join(OPTS.source_dir, "configs", "wasmpoold.toml")) as f:
            shipped = f.read()
        config = substitute(shipped, [
            ('"/run/wasmpool/wasmpool.sock"', json.dumps(self.socket)),
            ('"www-data"', json.dumps(self.worker_group)),
            ('"/var/cache/wasmpool"', json.dumps(OPTS.cache_dir)),
            ('"/var/lib/wasmpool/modules"', json.dumps(self.path("modules"))),
        ], "configs/wasmpoold.toml")
        with open(self.path("wasmpoold.toml"), "w") as f:
            f.write(config)
        self.daemon_log = open(self.path("wasmpoold.log"), "wb")
        self.daemon = subprocess.Popen(
            [os.path.join(OPTS.bin_dir, "wasmpoold"), "--config", self.path("wasmpoold.toml")],
            stdout=self.daemon_log, stderr=subprocess.STDOUT)
        self.wait(lambda: self.direct("GET", "/v1/health")[0] == 200, self.daemon, "wasmpoold")

    def start_nginx(self):
        with open(os.path.join(OPTS.source_dir, "configs", "nginx-wasmpool.conf")) as f:
            shipped = f.read()
        site = substitute(shipped, [
            ("unix:/run/wasmpool/wasmpool.sock;", "unix:%s;" % self.socket),
            ("listen 127.0.0.1:8080;", "listen 127.0.0.1:%d;" % self.port),
        ], "configs/nginx-wasmpool.conf")
        with open(self.path("site.conf"), "w") as f:
            f.write(site)
        user = "user %s %s;\n" % (self.worker_user, self.worker_group) if self.worker_user else ""
        temp = "".join("    %s_temp_path %s;\n" % (kind, self.path("tmp-" + kind))
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(self.path("nginx.conf"), "w") as f:
            f.write(
                "%sworker_processes 1;\n"
                "error_log %s info;\n"
                "pid %s;\n"
                "events { worker_connections 128; }\n"
                "http {\n"
                "    access_log %s;\n%s"
                "    include %s;\n"
                "}\n" % (user, self.path("nginx-error.log"), self.path("nginx.pid"),
                         self.path("nginx-access.log"), temp, self.path("site.conf")))
        self.nginx_log = open(self.path("nginx.out"), "wb")
        self.nginx = subprocess.Popen(
            [NGINX, "-p", self.dir, "-c", self.path("nginx.conf"),
             "-e", self.path("nginx-error.log"), "-g", "daemon off;"],
            stdout=self.nginx_log, stderr=subprocess.STDOUT)
        self.wait(lambda: self.via_nginx("GET", "/v1/health")[0] == 200, self.nginx, "nginx")

    def wait(self, ready, proc, name, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                raise AssertionError("%s exited with %d\n%s" % (name, proc.returncode, self.logs()))
            try:
                if ready():
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("%s did not come up\n%s" % (name, self.logs()))

    def logs(self):
        out = []
        for name in ("wasmpoold.log", "nginx.out", "nginx-error.log"):
            try:
                with open(self.path(name), "rb") as f:
                    out.append("--- %s\n%s" % (name, f.read().decode(errors="replace")[-4000:]))
            except OSError:
                pass
        return "\n".join(out)

    def connection(self, source="127.0.0.1"):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                          source_address=(source, 0))

    def via_nginx(self, method, path, body=None, headers=None, source="127.0.0.1"):
        conn = self.connection(source)
        try:
            return exchange(conn, method, path, body, headers)
        finally:
            conn.close()

    def direct(self, method, path, body=None, headers=None):
        conn = UnixHTTPConnection(self.socket)
        try:
            return exchange(conn, method, path, body, headers)
        finally:
            conn.close()

    def stop_daemon(self):
        if self.daemon is None or self.daemon.poll() is not None:
            return self.daemon.returncode if self.daemon else None
        self.daemon.send_signal(signal.SIGTERM)
        try:
            return self.daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            self.daemon.wait()
            raise AssertionError("wasmpoold ignored SIGTERM\n" + self.logs())

    def cleanup(self):
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)
            try:
                self.nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        try:
            self.stop_daemon()
        finally:
            for f in ("daemon_log", "nginx_log"):
                if hasattr(self, f):
                    getattr(self, f).close()
            shutil.rmtree(self.dir, ignore_errors=True)


def read_example(name):
    with open(os.path.join(OPTS.examples, name), "rb") as f:
        return f.read()


class NginxSite(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack()
        try:
            cls.stack.start_daemon()
            cls.stack.start_nginx()
            for name in ("add", "upper", "trap"):
                status, _, body = cls.stack.via_nginx(
                    "PUT", "/v1/modules/" + name, body=read_example(name + ".wasm"),
                    headers={"Content-Type": "application/wasm"})
                if status not in (200, 201):
                    raise AssertionError("deploy %s through nginx: %d %r" % (name, status, body))
        except BaseException:
            print(cls.stack.logs(), file=sys.stderr)
            cls.stack.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.stack.cleanup()

    def fail_with_logs(self, msg):
        self.fail(msg + "\n" + self.stack.logs())

    def test_deployed_module_is_described(self):
        status, headers, body = self.stack.via_nginx("GET", "/v1/modules/add")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["content-type"], "application/json")
        exports = {e["name"]: e for e in json.loads(body)["exports"]}
        self.assertEqual(exports["add"]["params"], ["i32", "i32"])

    def test_calls_and_runs_share_one_client_connection(self):
        conn = self.stack.connection()
        try:
            port = None
            for i in range(20):
                status, _, body = exchange(conn, "POST", "/v1/modules/add/call/add",
                                           body=json.dumps({"args": [i, 1000]}))
                self.assertEqual(status, 200, body)
                self.assertEqual(json.loads(body), {"results": [i + 1000]})
                local = conn.sock.getsockname()[1]
                self.assertTrue(port is None or local == port,
                                "request %d went out on a new connection" % i)
                port = local
            status, headers, body = exchange(conn, "POST", "/v1/modules/upper/run",
                                             body=b"through nginx\n")
            self.assertEqual(status, 200, body)
            self.assertEqual(body, b"THROUGH NGINX\n")
            self.assertEqual(headers.get("x-wasmpool-exit-code"), "0")
            self.assertIn("x-wasmpool-duration-us", headers)
            self.assertEqual(conn.sock.getsockname()[1], port)
        finally:
            conn.close()

    def test_upstream_connections_are_kept_alive(self):
        # With keepalive, proxy_http_version 1.1 and an empty Connection
        # header, nginx keeps its connection to the socket open after the
        # answer; without any of them it closes it, and the daemon's
        # connection gauge falls back to 1 (the connection asking).
        for i in range(10):
            status, _, body = self.stack.via_nginx("POST", "/v1/modules/add/call/add",
                                                   body=json.dumps({"args": [i, i]}))
            self.assertEqual(status, 200, body)
        deadline = time.time() + 2
        while True:
            status, _, body = self.stack.direct("GET", "/v1/stats")
            self.assertEqual(status, 200, body)
            connections = json.loads(body)["connections"]
            if connections >= 2 or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertGreaterEqual(connections, 2, "no idle upstream connection left open by nginx")
        # One worker process, sequential requests: one cached connection
        # serves them all.
        self.assertLessEqual(connections, 3)

    def test_long_lived_instance(self):
        conn = self.stack.connection()
        try:
            status, _, body = exchange(conn, "POST", "/v1/modules/add/instances")
            self.assertEqual(status, 201, body)
            instance = json.loads(body)["id"]
            status, _, body = exchange(conn, "POST", "/v1/instances/%s/call/add" % instance,
                                       body=json.dumps({"args": [40, 2]}))
            self.assertEqual((status, json.loads(body)), (200, {"results": [42]}))
            status, _, body = exchange(conn, "DELETE", "/v1/instances/" + instance)
            self.assertEqual((status, json.loads(body)), (200, {"deleted": instance}))
        finally:
            conn.close()

    def assert_same_answer(self, method, path, body, status, code):
        proxied = self.stack.via_nginx(method, path, body=body)
        direct = self.stack.direct(method, path, body=body)
        self.assertEqual(proxied[0], status, proxied[2])
        self.assertEqual(direct[0], status, direct[2])
        self.assertEqual(proxied[2], direct[2], "nginx changed the error body")
        self.assertEqual(proxied[1]["content-type"], direct[1]["content-type"])
        self.assertEqual(json.loads(proxied[2])["error"]["code"], code)

    def test_daemon_errors_pass_through_unchanged(self):
        self.assert_same_answer("POST", "/v1/modules/add/call/nope", b"{}", 404, "unknown_export")
        self.assert_same_answer("POST", "/v1/modules/add/call/add", b'{"args":["x",1]}', 400,
                                "argument_mismatch")
        # A guest trap is a 502 from the daemon: it must not be mistaken for
        # nginx's own 502 (error_page) and replaced.
        self.assert_same_answer("POST", "/v1/modules/trap/call/div0", b'{"args":[1,0]}', 502,
                                "trap_divide_by_zero")

    def test_body_over_the_limit_is_refused_as_json(self):
        conn = self.stack.connection()
        try:
            conn.putrequest("PUT", "/v1/modules/huge")
            conn.putheader("Content-Length", str(64 * 1024 * 1024 + 1))
            conn.endheaders()
            resp = conn.getresponse()
            body = resp.read()
            self.assertEqual(resp.status, 413, body)
            self.assertEqual(resp.getheader("Content-Type"), "application/json")
            self.assertEqual(json.loads(body)["error"]["code"], "payload_too_large")
        finally:
            conn.close()

    def test_remote_clients_get_only_the_public_endpoints(self):
        remote = "127.0.0.2"
        allowed = [
            ("GET", "/v1/health", None, 200),
            ("GET", "/v1/modules", None, 200),
            ("GET", "/v1/modules/add", None, 200),
            ("POST", "/v1/modules/add/call/add", b'{"args":[1,2]}', 200),
            ("POST", "/v1/modules/upper/run?arg=x", b"abc", 200),
            ("POST", "/v1/modules/upper/run/some/path", b"abc", 200),
        ]
        for method, path, body, status in allowed:
            got = self.stack.via_nginx(method, path, body=body, source=remote)
            self.assertEqual(got[0], status, "%s %s from %s: %r" % (method, path, remote, got[2]))
        denied = [
            ("PUT", "/v1/modules/evil", read_example("add.wasm")),
            ("DELETE", "/v1/modules/add", None),
            ("POST", "/v1/modules/add/instances", None),
            ("GET", "/v1/instances", None),
            ("GET", "/v1/stats", None),
            ("GET", "/metrics", None),
            # Encoded slashes: nginx's decoded $uri reads this as a one-shot
            # call, the daemon (which splits before decoding) as an
            # instantiation; the rules must see what the daemon sees.
            ("POST", "/v1/modules/x%2Fcall%2Fy/instances", None),
            ("GET", "/v1/%73tats", None),
        ]
        for method, path, body in denied:
            status, headers, data = self.stack.via_nginx(method, path, body=body, source=remote)
            self.assertEqual(status, 403, "%s %s from %s: %r" % (method, path, remote, data))
            self.assertEqual(headers["content-type"], "application/json")
            self.assertEqual(json.loads(data)["error"]["code"], "forbidden")
        # The module survived the refused DELETE; local clients see stats.
        self.assertEqual(self.stack.via_nginx("GET", "/v1/modules/add")[0], 200)
        self.assertEqual(self.stack.via_nginx("GET", "/v1/stats")[0], 200)

    def test_zz_daemon_gone_gives_json_502(self):
        # Runs last (unittest sorts by name): stops the daemon.
        self.assertEqual(self.stack.stop_daemon(), 0, self.stack.logs())
        status, headers, body = self.stack.via_nginx("GET", "/v1/health")
        self.assertEqual(status, 502, body)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(json.loads(body)["error"]["code"], "upstream_unavailable")


def main():
    global OPTS
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--examples", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--cache-dir", required=True)
    OPTS, rest = parser.parse_known_args()
    if NGINX is None:
        print("SKIP: nginx is not installed (Debian package nginx)")
        return SKIP
    os.makedirs(OPTS.cache_dir, exist_ok=True)
    prog = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    result = prog.result
    failed = len(result.failures) + len(result.errors)
    print("%d passed, %d failed" % (max(result.testsRun - failed, 0), failed))
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
