"""test_syscalls.py -- the unit's seccomp and W^X rules fit what wasmpoold does.

configs/wasmpoold.service sets SystemCallFilter= and MemoryDenyWriteExecute=.
Both are inherited by the compiler processes (wasm2c, cc, cc1, as, ld) and a
violation only shows on a real host, as an EPERM in the middle of a deploy.
This test runs wasmpoold (shipped configs/wasmpoold.toml, paths substituted,
an empty compile cache so the compilers run) under `strace -f` through a
deploy, a call and a WASI run, then checks every system call the daemon and
its children made against the unit's filter (groups expanded by
`systemd-analyze syscall-filter`, the unit's lines applied in order, as
systemd does), and that nothing mapped memory writable and executable or
made a mapping executable with mprotect (what MemoryDenyWriteExecute=
refuses, including for ld.so's dlopen of the compiled module).

    python3 test_syscalls.py --bin-dir BUILD/bin --examples BUILD/examples --source-dir REPO

Exits 77 (CTest SKIP_RETURN_CODE) when strace or systemd-analyze is missing.
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

SKIP = 77


def filter_groups(analyze):
    out = subprocess.run([analyze, "syscall-filter"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, check=True, timeout=30).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.split()[0], [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())

    def expand(name):
        if not name.startswith("@"):
            return {name}
        if name not in groups:
            raise AssertionError("systemd-analyze knows no group " + name)
        result = set()
        for item in groups[name]:
            result |= expand(item)
        return result

    return expand


def allowed_syscalls(unit_text, expand):
    """Applies the unit's SystemCallFilter= lines in order: the first, an
    allow-list, sets the default; later lines add (plain) or remove (~)."""
    allowed = None
    for value in re.findall(r"^SystemCallFilter=(.*)$", unit_text, re.M):
        deny = value.startswith("~")
        names = set()
        for word in value.lstrip("~").split():
            names |= expand(word)
        if allowed is None:
            if deny:
                raise AssertionError("the unit's first SystemCallFilter= should be an allow-list")
            allowed = names
        elif deny:
            allowed -= names
        else:
            allowed |= names
    if allowed is None:
        raise AssertionError("the unit sets no SystemCallFilter=")
    return allowed


def request(sock_path, method, path, body=b""):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(sock_path)
        s.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
                  % (method.encode(), path.encode(), len(body)) + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), payload


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--examples", required=True)
    parser.add_argument("--source-dir", required=True)
    opts = parser.parse_args()
    strace = shutil.which("strace")
    analyze = shutil.which("systemd-analyze")
    if strace is None or analyze is None:
        print("SKIP: needs strace and systemd-analyze (Debian packages strace, systemd)")
        return SKIP

    with open(os.path.join(opts.source_dir, "configs", "wasmpoold.service")) as f:
        unit = f.read()
    allowed = allowed_syscalls(unit, filter_groups(analyze))
    check_wx = re.search(r"^MemoryDenyWriteExecute=yes$", unit, re.M) is not None

    tmp = tempfile.mkdtemp(prefix="wp-syscalls-")
    sock_path = os.path.join(tmp, "wp.sock")
    trace_path = os.path.join(tmp, "trace")
    with open(os.path.join(opts.source_dir, "configs", "wasmpoold.toml")) as f:
        config = f.read()
    for old, new in (('"/run/wasmpool/wasmpool.sock"', sock_path),
                     ('"www-data"', ""),
                     ('"/var/cache/wasmpool"', os.path.join(tmp, "cache")),
                     ('"/var/lib/wasmpool/modules"', os.path.join(tmp, "modules"))):
        if config.count(old) != 1:
            print("FAIL: expected %s once in configs/wasmpoold.toml" % old)
            return 1
        config = config.replace(old, json.dumps(new))
    with open(os.path.join(tmp, "wasmpoold.toml"), "w") as f:
        f.write(config)

    log = open(os.path.join(tmp, "wasmpoold.log"), "wb")
    tracer = subprocess.Popen(
        [strace, "-f", "-qq", "-o", trace_path, os.path.join(opts.bin_dir, "wasmpoold"),
         "--config", os.path.join(tmp, "wasmpoold.toml")], stdout=log, stderr=subprocess.STDOUT)
    failures = []
    try:
        deadline = time.time() + 30
        while True:
            try:
                if request(sock_path, "GET", "/v1/health")[0] == 200:
                    break
            except OSError:
                pass
            if tracer.poll() is not None or time.time() > deadline:
                raise AssertionError("wasmpoold did not come up under strace")
            time.sleep(0.1)
        steps = []
        for name in ("add", "upper"):
            with open(os.path.join(opts.examples, name + ".wasm"), "rb") as f:
                steps.append(("PUT", "/v1/modules/" + name, f.read(), 201, None))
        steps.append(("POST", "/v1/modules/add/call/add", b'{"args":[2,3]}', 200,
                      b'{"results":[5]}'))
        steps.append(("POST", "/v1/modules/upper/run", b"traced\n", 200, b"TRACED\n"))
        for method, path, body, status, expect in steps:
            got = request(sock_path, method, path, body)
            if got[0] != status or (expect is not None and got[1] != expect):
                failures.append("%s %s: %d %r" % (method, path, got[0], got[1][:200]))
    finally:
        # strace's child is wasmpoold; SIGTERM goes to it, not to strace.
        children = []
        try:
            with open("/proc/%d/task/%d/children" % (tracer.pid, tracer.pid)) as f:
                children = [int(p) for p in f.read().split()]
        except OSError:
            pass
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        try:
            tracer.wait(timeout=30)
        except subprocess.TimeoutExpired:
            tracer.kill()
            tracer.wait()
        log.close()

    used = {}
    wx = []
    with open(trace_path, errors="replace") as f:
        for line in f:
            m = re.match(r"\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
            if not m:
                continue
            used.setdefault(m.group(1), line.strip())
            if re.search(r"\bmmap\(.*PROT_WRITE\|PROT_EXEC|\bmmap\(.*PROT_EXEC\|PROT_WRITE"
                         r"|\b(pkey_)?mprotect\(.*PROT_EXEC", line):
                wx.append(line.strip())
    # With -f an execve is often split into "unfinished" and "resumed"
    # lines; the paths PATH lookup tried in vain do not exist.
    execs = sorted({path for path in re.findall(r'execve\("([^"]+)"', open(trace_path).read())
                    if os.path.exists(path)})
    print("%d distinct system calls; programs run: %s" % (len(used), ", ".join(execs)))
    if not any(path.endswith(("/cc1", "/as", "/ld")) for path in execs):
        failures.append("the compilers did not run (was the cache empty?)")
    outside = sorted(set(used) - allowed)
    for name in outside:
        failures.append("%s is outside SystemCallFilter=: %s" % (name, used[name]))
    if check_wx:
        for line in wx[:10]:
            failures.append("MemoryDenyWriteExecute= would refuse: " + line)
    if failures:
        with open(os.path.join(tmp, "wasmpoold.log"), errors="replace") as f:
            print(f.read()[-3000:])
    shutil.rmtree(tmp, ignore_errors=True)
    for failure in failures:
        print("FAIL: " + failure)
    total = len(steps) + 3
    print("%d passed, %d failed" % (max(total - len(failures), 0), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
