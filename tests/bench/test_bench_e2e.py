"""test_bench_e2e.py -- wasmpool-bench against a real wasmpoold.

Starts the daemon on a temporary socket with a copy of configs/default.toml
(small pool, temporary socket and module directory, the build tree's shared
compile cache), then runs every workload of wasmpool-bench for a few hundred
requests with --json and checks the counts: every request answered, with
its expected status, errors counted under their JSON codes, instances
released afterwards. Run by CTest as

    python3 test_bench_e2e.py --bin-dir BUILD/bin --examples BUILD/examples \
        --cache-dir DIR --config configs/default.toml
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None


def override(text, table, key, value):
    """Set key in [table] of a TOML text (uncommenting a default line)."""
    lines = text.split("\n")
    current = None
    for i, line in enumerate(lines):
        header = re.match(r"^\[(\w+)\]\s*$", line)
        if header:
            current = header.group(1)
            continue
        if current == table and re.match(r"^#?\s*%s\s*=" % re.escape(key), line):
            lines[i] = "%s = %s" % (key, value)
            return "\n".join(lines)
    raise AssertionError("no key %s in [%s] of the config" % (key, table))


def unix_get(path, target):
    data = b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                      % target).encode())
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


class BenchE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="wpb-e2e-")
        cls.sock = os.path.join(cls.tmp, "d.sock")
        with open(ARGS.config) as f:
            text = f.read()
        text = override(text, "pool", "total_instances", "32")
        text = override(text, "server", "socket_path", json.dumps(cls.sock))
        text = override(text, "server", "workers", "2")
        text = override(text, "runtime", "cache_dir", json.dumps(os.path.abspath(ARGS.cache_dir)))
        text = override(text, "runtime", "module_dir",
                        json.dumps(os.path.join(cls.tmp, "modules")))
        text = override(text, "log", "level", json.dumps("warn"))
        os.makedirs(ARGS.cache_dir, exist_ok=True)
        config = os.path.join(cls.tmp, "wasmpool.toml")
        with open(config, "w") as f:
            f.write(text)
        cls.log = open(os.path.join(cls.tmp, "daemon.log"), "w+")
        cls.proc = subprocess.Popen([os.path.join(ARGS.bin_dir, "wasmpoold"), "--config", config],
                                    stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while True:
            try:
                if unix_get(cls.sock, "/v1/health")[0] == 200:
                    break
            except OSError:
                pass
            if cls.proc.poll() is not None or time.time() > deadline:
                cls.log.seek(0)
                raise AssertionError("wasmpoold did not start: " + cls.log.read())
            time.sleep(0.05)
        ex = ARGS.examples
        cls.bench("--deploy", "add=%s/add.wasm" % ex, "--deploy", "hello=%s/hello.wasm" % ex,
                  "--deploy", "trap=%s/trap.wasm" % ex, "--deploy", "reactor=%s/reactor.wasm" % ex,
                  "--call", "add", "add", "1", "2", "-n", "1")

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        try:
            cls.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            cls.proc.wait()
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def bench(cls, *args):
        cmd = [os.path.join(ARGS.bin_dir, "wasmpool-bench"), "--socket", cls.sock, "--json",
               "--timeout", "20s"] + list(args)
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            raise AssertionError("%s exited %d: %s" % (" ".join(cmd), run.returncode, run.stderr))
        return json.loads(run.stdout)

    def check_all_expected(self, report, count):
        self.assertEqual(report["requests"], count, report)
        self.assertEqual(report["expected"], count, report)
        self.assertEqual(report["latency_us"]["count"], count)
        self.assertGreater(report["throughput_rps"], 0)
        self.assertLessEqual(report["latency_us"]["p50"], report["latency_us"]["p99"])
        self.assertLessEqual(report["latency_us"]["p99"], report["latency_us"]["max"])
        self.assertEqual(sum(report["transport_errors"].values()), 0, report)

    def test_call(self):
        r = self.bench("--call", "add", "add", "2", "3", "-n", "300", "-c", "2",
                       "--pipeline", "4")
        self.check_all_expected(r, 300)
        self.assertEqual(r["status"], {"200": 300})
        self.assertEqual(r["bytes_received"], 300 * len('{"results":[5]}'))

    def test_run(self):
        r = self.bench("--run", "hello", "--body", "world", "-n", "200")
        self.check_all_expected(r, 200)
        self.assertEqual(r["bytes_received"], 200 * len("hello, world\n"))

    def test_instantiate_pairs(self):
        r = self.bench("--instantiate", "add", "-n", "200", "-c", "2")
        self.check_all_expected(r, 200)
        self.assertEqual(r["status"], {"200": 200, "201": 200})
        self.assertEqual(r["http_responses"], 400)

    def test_instance_call_releases_its_instances(self):
        r = self.bench("--instance-call", "reactor", "bump", "-n", "300", "-c", "3")
        self.check_all_expected(r, 300)
        status, body = unix_get(self.sock, "/v1/instances")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["instances"], [])

    def test_open_loop(self):
        r = self.bench("--call", "add", "add", "1", "1", "--rate", "400", "-d", "1s", "-c", "2")
        self.assertEqual(r["mode"], "open")
        self.assertGreaterEqual(r["requests"], 395)
        self.assertLessEqual(r["requests"], 401)
        self.assertEqual(r["expected"], r["requests"])
        self.assertEqual(r["send_lag_us"]["count"], r["requests"])

    def test_mix_with_traps_and_timeouts(self):
        mix = os.path.join(self.tmp, "mix.json")
        with open(mix, "w") as f:
            json.dump({"requests": [
                {"weight": 4, "kind": "call", "module": "add", "export": "add", "args": [1, 2]},
                {"weight": 1, "kind": "run", "module": "hello"},
                {"weight": 1, "kind": "instantiate", "module": "add"},
                {"weight": 1, "kind": "instance_call", "module": "trap", "export": "ok"},
                {"weight": 1, "kind": "call", "module": "trap", "export": "div0", "args": [1, 0],
                 "expect": 502},
                {"weight": 1, "kind": "call", "module": "trap", "export": "spin",
                 "deadline_ms": 5, "expect": 504}]}, f)
        r = self.bench("--mix", mix, "-n", "300", "-c", "2", "--seed", "7")
        self.check_all_expected(r, 300)
        entries = {e["name"]: e for e in r["entries"]}
        self.assertEqual(sum(e["requests"] for e in r["entries"]), 300)
        div0 = entries["call trap/div0"]["requests"]
        spin = entries["call trap/spin"]["requests"]
        self.assertGreater(div0, 0)
        self.assertGreater(spin, 0)
        self.assertEqual(r["error_codes"].get("trap_divide_by_zero"), div0)
        self.assertEqual(r["error_codes"].get("deadline_exceeded"), spin)
        self.assertEqual(r["status"].get("502"), div0)
        self.assertEqual(r["status"].get("504"), spin)

    def test_unexpected_status_fails_the_run(self):
        cmd = [os.path.join(ARGS.bin_dir, "wasmpool-bench"), "--socket", self.sock, "--json",
               "--call", "nosuch", "f", "-n", "5"]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 1, run.stderr)
        r = json.loads(run.stdout)
        self.assertEqual(r["status"], {"404": 5})
        self.assertEqual(r["error_codes"], {"unknown_module": 5})


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--examples", required=True)
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("--config", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
