"""wp_harness.py -- start a real wasmpoold on a temporary socket and talk to it.

Shared by the integration tests (stdlib only). Each test module calls
harness_main() under `if __name__ == "__main__"`; CTest runs it as

    python3 test_x.py --bin-dir BUILD/bin --examples BUILD/examples --cache-dir DIR

The compile cache directory is shared between test files so that each module
is compiled by wasm2c + cc once per build tree, not once per daemon start.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BIN_DIR = None
EXAMPLES = None
CACHE_DIR = None


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over AF_UNIX (keep-alive like any HTTPConnection)."""

    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def error_code(self):
        return self.json()["error"]["code"]

    def __repr__(self):
        return "Response(%d, %r)" % (self.status, self.body[:300])


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


class Daemon:
    """One wasmpoold with its own socket, module dir and config."""

    def __init__(self, workdir=None, **tables):
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="wp-it-")
        self.socket = os.path.join(self.dir, "wp.sock")
        self.tables = {
            "pool": {"total_instances": 8},
            "server": {"socket_path": self.socket, "workers": 2, "queue_depth": 16},
            "runtime": {
                "cache_dir": CACHE_DIR,
                "module_dir": os.path.join(self.dir, "modules"),
            },
            "log": {"level": "debug"},
        }
        for table, keys in tables.items():
            self.tables.setdefault(table, {}).update(keys)
        self.config = os.path.join(self.dir, "wasmpool.toml")
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.proc = None

    def write_config(self):
        with open(self.config, "w") as f:
            for table, keys in self.tables.items():
                f.write("[%s]\n" % table)
                for key, value in keys.items():
                    f.write("%s = %s\n" % (key, toml_value(value)))
                f.write("\n")

    def start(self, wait=True, extra_args=()):
        self.write_config()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(BIN_DIR, "wasmpoold"), "--config", self.config, *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("wasmpoold exited with %d:\n%s" %
                                     (self.proc.returncode, self.read_log()))
            try:
                if self.request("GET", "/v1/health").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("wasmpoold did not come up:\n" + self.read_log())

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signals the daemon and returns its exit status."""
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None and not self.log.closed:
                self.log.close()
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("wasmpoold ignored the signal:\n" + self.read_log())
        finally:
            self.log.close()

    def cleanup(self):
        try:
            self.stop()
        finally:
            if self.own_dir:
                shutil.rmtree(self.dir, ignore_errors=True)

    # ---- clients ---------------------------------------------------------

    def connection(self, timeout=30):
        return UnixHTTPConnection(self.socket, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None, timeout=30):
        own = conn is None
        conn = conn or self.connection(timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, resp.getheaders(), data)
        finally:
            if own:
                conn.close()

    def deploy(self, name, example):
        with open(os.path.join(EXAMPLES, example), "rb") as f:
            wasm = f.read()
        resp = self.request("PUT", "/v1/modules/" + name, body=wasm)
        if resp.status not in (200, 201):
            raise AssertionError("deploy %s: %r" % (name, resp))
        return resp

    def call(self, module, export, args, headers=None):
        return self.request("POST", "/v1/modules/%s/call/%s" % (module, export),
                            body={"args": args}, headers=headers)

    def raw(self, data, read_timeout=5.0):
        """Sends raw bytes on a fresh connection; returns every byte read
        until the daemon closes or read_timeout passes."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(read_timeout)
        sock.connect(self.socket)
        sock.sendall(data)
        out = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        sock.close()
        return out

    def cli(self, *args, input=None, env=None):
        full_env = dict(os.environ)
        full_env["WASMPOOL_SOCKET"] = self.socket
        full_env.update(env or {})
        return subprocess.run([os.path.join(BIN_DIR, "wasmpool"), *args], input=input,
                              capture_output=True, env=full_env, timeout=60)

    def metric(self, name_and_labels):
        text = self.request("GET", "/metrics").body.decode()
        for line in text.splitlines():
            if line.startswith(name_and_labels + " "):
                return float(line.split()[-1])
        return 0.0


def split_responses(data):
    """Splits raw HTTP/1.1 responses with Content-Length bodies."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(b":")
            headers[key.strip().lower().decode()] = value.strip().decode()
        length = int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:length]))
        data = rest[length:]
    return out


# The Debian 13 tool root's wat2wasm (1.0.36, the one the build uses), run
# through the root's own loader, with every proposal the engine runs.
TOOLROOT = os.environ.get("WP_TOOLROOT") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", ".toolroot", "root")


# What the engine runs (not --enable-all: function references and GC would
# change how plain funcref code type-checks).
WAT2WASM_FEATURES = ["--enable-exceptions", "--enable-tail-call", "--enable-memory64",
                     "--enable-multi-memory", "--enable-extended-const", "--enable-threads"]


def toolroot_command(program):
    libpath = os.path.join(TOOLROOT, "usr", "lib", "x86_64-linux-gnu")
    return [os.path.join(libpath, "ld-linux-x86-64.so.2"), "--library-path", libpath,
            os.path.join(TOOLROOT, "usr", "bin", program)]


def uncached(wasm):
    """The same module with a custom section of random bytes appended: other
    bytes, so the shared compile cache has no code for it (a deploy then
    builds tier 0 and tiers up, whatever other tests built before)."""
    payload = b"\x05nonce" + os.urandom(16)
    return wasm + b"\x00" + bytes([len(payload)]) + payload


def wat2wasm(text):
    """Assembles a .wat snippet with the tool root's wat2wasm."""
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "m.wat")
        dst = os.path.join(d, "m.wasm")
        with open(src, "w") as f:
            f.write(text)
        subprocess.run(toolroot_command("wat2wasm") + WAT2WASM_FEATURES + [src, "-o", dst],
                       check=True)
        with open(dst, "rb") as f:
            return f.read()


def harness_main():
    global BIN_DIR, EXAMPLES, CACHE_DIR
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--examples", required=True)
    parser.add_argument("--cache-dir", required=True)
    args, rest = parser.parse_known_args()
    BIN_DIR = os.path.abspath(args.bin_dir)
    EXAMPLES = os.path.abspath(args.examples)
    CACHE_DIR = os.path.abspath(args.cache_dir)
    os.makedirs(CACHE_DIR, exist_ok=True)
    unittest.main(argv=[sys.argv[0], "-v", *rest])
