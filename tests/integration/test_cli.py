"""test_cli.py -- the wasmpool CLI and curl --unix-socket against a live
daemon, and wasmpoold's command line (--check-config, --socket, --help)."""

import os
import shutil
import subprocess
import unittest

import wp_harness
from wp_harness import Daemon, harness_main


class Cli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        log = cls.d.read_log()
        cls.d.cleanup()
        assert status == 0, "exit status %r\n%s" % (status, log)

    def example(self, name):
        return os.path.join(wp_harness.EXAMPLES, name)

    def test_cli_commands(self):
        d = self.d
        out = d.cli("deploy", "add", self.example("add.wasm"))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(b"add", out.stdout)
        self.assertEqual(d.cli("deploy", "upper", self.example("upper.wasm")).returncode, 0)
        out = d.cli("ls")
        self.assertEqual(out.returncode, 0)
        self.assertIn(b"add", out.stdout)
        self.assertIn(b"upper", out.stdout)
        out = d.cli("info", "add")
        self.assertIn(b'"params"', out.stdout)
        out = d.cli("call", "add", "add", "2", "-7")
        self.assertEqual((out.returncode, out.stdout), (0, b"-5\n"))
        out = d.cli("run", "upper", "--", "ignored-arg", input=b"shout\n")
        self.assertEqual((out.returncode, out.stdout), (0, b"SHOUT\n"))
        # -n: a stdin pipe that never closes is not waited for.
        r, w = os.pipe()
        try:
            proc = subprocess.run([os.path.join(wp_harness.BIN_DIR, "wasmpool"), "--socket",
                                   d.socket, "run", "upper", "-n"], stdin=r,
                                  capture_output=True, timeout=20)
        finally:
            os.close(r)
            os.close(w)
        self.assertEqual((proc.returncode, proc.stdout), (0, b""))
        out = d.cli("health")
        self.assertEqual(out.returncode, 0)
        self.assertTrue(out.stdout.startswith(b"ok"))
        out = d.cli("stats")
        self.assertIn(b'"pool"', out.stdout)
        out = d.cli("instances")
        self.assertEqual(out.returncode, 0)
        out = d.cli("rm", "upper")
        self.assertEqual(out.returncode, 0)
        out = d.cli("call", "upper", "f")
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"unknown_module", out.stderr)

    def test_daemon_version_names_the_engine(self):
        # The exact tool-root packages the compile cache is keyed by.
        proc = subprocess.run([os.path.join(wp_harness.BIN_DIR, "wasmpoold"), "--version"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"^wasmpoold \S+\nengine: wasm2c from the tool root ")
        self.assertRegex(proc.stdout, r"\n  wabt 1\.0\.36\S*\n")
        self.assertIn("\n  libsimde-dev ", proc.stdout)

    def test_cli_errors_and_help(self):
        d = self.d
        d.cli("deploy", "add", self.example("add.wasm"))
        out = d.cli("call", "add", "add", "1")
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"argument_mismatch", out.stderr)
        self.assertIn(b"expected 2 arguments", out.stderr)
        out = d.cli("deploy", "bad", "/nonexistent.wasm")
        self.assertNotEqual(out.returncode, 0)
        for cmd in ("deploy", "ls", "info", "rm", "call", "run", "instances", "stats", "health"):
            out = d.cli(cmd, "--help")
            self.assertEqual(out.returncode, 0, cmd)
            self.assertIn(b"usage: wasmpool", out.stdout, cmd)
        out = d.cli("frobnicate")
        self.assertEqual(out.returncode, 2)
        out = d.cli("--socket", "/nonexistent/wp.sock", "health")
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"/v1/health", out.stderr)

    def test_run_exit_code_passes_through(self):
        d = self.d
        d.deploy("trap", "trap.wasm")
        out = d.cli("run", "trap")
        self.assertEqual(out.returncode, 1, "no _start: an error")
        d.deploy("hello", "hello.wasm")
        out = d.cli("run", "hello")
        self.assertEqual((out.returncode, out.stdout), (0, b"hello, world\n"))

    def test_run_exit_codes_the_shell_can_read(self):
        # Issue 12 item 8: the shell keeps an exit status modulo 256, so
        # proc_exit(256) must not read as success. 0..255 pass through;
        # anything else exits 255 (documented in the CLI's help and API.md).
        d = self.d
        for code, want in ((7, 7), (255, 255), (256, 255), (512, 255), (65536, 255),
                           (-1, 255), (0, 0)):
            wasm = wp_harness.wat2wasm(
                '(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))'
                ' (memory (export "memory") 1)'
                ' (func (export "_start") (call $exit (i32.const %d))))' % code)
            name = "exit%d" % (code & 0xffffffff)
            resp = d.request("PUT", "/v1/modules/" + name, body=wasm)
            self.assertIn(resp.status, (200, 201), resp)
            out = d.cli("run", name, "-n")
            self.assertEqual(out.returncode, want, "proc_exit(%d): %r" % (code, out.stderr))

    @unittest.skipUnless(shutil.which("clang"), "clang (wasm32-wasi) is not installed")
    def test_run_nonzero_exit_and_stderr(self):
        import base64
        import tempfile
        d = self.d
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "fail.c")
            wasm = os.path.join(tmp, "fail.wasm")
            with open(src, "w") as f:
                f.write('#include <stdio.h>\n'
                        'int main(int argc, char **argv) {\n'
                        '  printf("argc=%d last=%s\\n", argc, argv[argc - 1]);\n'
                        '  fputs("oops\\n", stderr);\n'
                        '  return 3;\n'
                        '}\n')
            subprocess.run(["clang", "--target=wasm32-wasi", "-O2", src, "-o", wasm], check=True)
            out = d.cli("deploy", "fail", wasm)
            self.assertEqual(out.returncode, 0, out.stderr)
        out = d.cli("run", "fail", "--", "a", "b c")
        self.assertEqual(out.returncode, 3, "the guest's exit code passes through")
        self.assertEqual(out.stdout, b"argc=3 last=b c\n")
        self.assertEqual(out.stderr, b"oops\n")
        resp = d.request("POST", "/v1/modules/fail/run?arg=x")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.header("X-Wasmpool-Exit-Code"), "3")
        self.assertEqual(base64.b64decode(resp.header("X-Wasmpool-Stderr")), b"oops\n")
        self.assertEqual(resp.header("X-Wasmpool-Stderr-Encoding"), "base64")

    @unittest.skipUnless(shutil.which("curl"), "curl is not installed")
    def test_curl(self):
        d = self.d
        base = ["curl", "-s", "--unix-socket", d.socket]
        out = subprocess.run(base + ["-X", "PUT", "--data-binary", "@" + self.example("fib.wasm"),
                                     "http://localhost/v1/modules/fib"], capture_output=True)
        self.assertIn(b'"name":"fib"', out.stdout)
        out = subprocess.run(base + ["-X", "POST", "-d", '{"args":[10]}',
                                     "http://localhost/v1/modules/fib/call/fib"],
                             capture_output=True)
        self.assertEqual(out.stdout, b'{"results":[55]}')
        out = subprocess.run(base + ["-o", "/dev/null", "-w", "%{http_code}",
                                     "http://localhost/v1/modules/nope"], capture_output=True)
        self.assertEqual(out.stdout, b"404")
        # curl sends Expect: 100-continue for large bodies.
        out = subprocess.run(base + ["-X", "POST", "--data-binary", "@-",
                                     "http://localhost/v1/modules/fib/call/fib"],
                             input=b'{"args":[12]}' + b" " * (2 * 1024 * 1024),
                             capture_output=True)
        self.assertEqual(out.stdout, b'{"results":[144]}')
        out = subprocess.run(base + ["http://localhost/metrics"], capture_output=True)
        self.assertIn(b"wasmpool_requests_total", out.stdout)


class DaemonCommandLine(unittest.TestCase):
    def wasmpoold(self, *args):
        return subprocess.run([os.path.join(wp_harness.BIN_DIR, "wasmpoold"), *args],
                              capture_output=True, timeout=30)

    def test_check_config(self):
        d = Daemon()
        try:
            d.write_config()
            out = self.wasmpoold("--check-config", d.config)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn(b"[pool]", out.stdout)
            self.assertIn(b"total_instances = 8", out.stdout)
            bad = os.path.join(d.dir, "bad.toml")
            with open(bad, "w") as f:
                f.write("[pool]\ntotal_instances = 8\n\n[server]\nworkerz = 3\n")
            out = self.wasmpoold("--check-config", bad)
            self.assertEqual(out.returncode, 1)
            self.assertIn(b"bad.toml:5", out.stderr)
            self.assertIn(b"workerz", out.stderr)
            out = self.wasmpoold("--config", bad)
            self.assertEqual(out.returncode, 1, "a bad config stops start-up")
        finally:
            d.cleanup()

    def test_check_config_refuses_what_cannot_start_or_deploy(self):
        # Issue 12 item 9: these parse, but the daemon would not start
        # (guard too small) or could not deploy (no compiler, cache_dir a
        # file); --check-config says so, file:line: key, and exits 1.
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            a_file = os.path.join(tmp, "a-file")
            open(a_file, "w").close()
            cases = (
                ('[pool]\nmax_memory_size = "64MiB"\nguard_size = "64KiB"\n',
                 b"t.toml:3: pool.guard_size: "),
                ('[runtime]\ntoolroot = "/nonexistent/root"\n', b"t.toml:2: runtime.toolroot: "),
                ('[runtime]\ntcc = "/nonexistent/tcc"\n', b"t.toml:2: runtime.tcc: "),
                ('[runtime]\ncc = "no-such-cc-wasmpool"\n', b"t.toml:2: runtime.cc: "),
                ('[runtime]\ncache_dir = "%s"\n' % a_file,
                 b"t.toml:2: runtime.cache_dir: %s exists and is not a directory" %
                 a_file.encode()),
                ('[runtime]\nmodule_dir = "%s/sub"\n' % a_file,
                 b"t.toml:2: runtime.module_dir: cannot be created"),
            )
            path = os.path.join(tmp, "t.toml")
            for text, message in cases:
                with open(path, "w") as f:
                    f.write(text)
                out = self.wasmpoold("--check-config", path)
                self.assertEqual(out.returncode, 1, text)
                self.assertIn(message, out.stderr, text)
            with open(path, "w") as f:
                f.write('[runtime]\ncache_dir = "%s/cache"\n' % tmp)
            out = self.wasmpoold("--check-config", path)
            self.assertEqual(out.returncode, 0, out.stderr)

    def test_socket_in_missing_directory(self):
        # libuv reports bind() in a missing directory as EACCES.
        d = Daemon()
        try:
            d.write_config()
            out = self.wasmpoold("--config", d.config, "--socket", "/nonexistent-wp/dir/wp.sock")
            self.assertEqual(out.returncode, 1)
            self.assertIn(b"/nonexistent-wp/dir, does not exist", out.stderr)
            self.assertNotIn(b"permission denied", out.stderr)
        finally:
            d.cleanup()

    def test_shipped_configs_start(self):
        # configs/*.toml as shipped, on a fresh state directory (the default
        # cache and module dirs do not exist yet), with --socket overriding.
        import tempfile
        configs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs")
        with open(os.path.join(wp_harness.BIN_DIR, "wasmpoold"), "rb") as f:
            sanitized = b"__asan_init" in f.read()
        for name in ("default", "dense", "large"):
            with self.subTest(config=name), tempfile.TemporaryDirectory() as tmp:
                d = Daemon(workdir=tmp)
                d.config = os.path.join(configs, name + ".toml")
                d.write_config = lambda: None
                sock = os.path.join(tmp, "wp.sock")
                env_state = os.path.join(tmp, "state")
                old = os.environ.get("XDG_STATE_HOME")
                os.environ["XDG_STATE_HOME"] = env_state
                try:
                    d.start(wait=False, extra_args=("--socket", sock))
                finally:
                    if old is None:
                        del os.environ["XDG_STATE_HOME"]
                    else:
                        os.environ["XDG_STATE_HOME"] = old
                d.socket = sock
                if name == "dense" and sanitized:
                    # ASan's shadow memory leaves too little address space
                    # for dense.toml's reservation (10,000 slots).
                    d.stop()
                    continue
                try:
                    d.wait_ready()
                    d.deploy("add", "add.wasm")
                    self.assertEqual(d.call("add", "add", [2, 3]).json(), {"results": [5]})
                    self.assertTrue(os.path.isdir(os.path.join(env_state, "wasmpool", "modules")))
                finally:
                    self.assertEqual(d.stop(), 0, d.read_log())

    def test_socket_override_help_version(self):
        d = Daemon()
        try:
            other = os.path.join(d.dir, "other.sock")
            d.start(wait=False, extra_args=("--socket", other))
            d.socket = other
            d.wait_ready()
            self.assertEqual(d.request("GET", "/v1/health").status, 200)
            self.assertEqual(d.stop(), 0)
        finally:
            d.cleanup()
        out = self.wasmpoold("--help")
        self.assertEqual(out.returncode, 0)
        self.assertIn(b"--check-config", out.stdout)
        out = self.wasmpoold("--version")
        self.assertTrue(out.stdout.startswith(b"wasmpoold "))
        self.assertEqual(self.wasmpoold("--bogus").returncode, 2)


if __name__ == "__main__":
    harness_main()
