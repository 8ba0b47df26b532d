"""test_consistency.py -- the deployment files agree with each other.

configs/wasmpoold.toml, configs/wasmpoold.service and
configs/nginx-wasmpool.conf each hold numbers that only work together
(configs/wasmpoold.toml lists them). The daemon's values are taken from
`wasmpoold --check-config` (the effective config, defaults filled in), so a
key that is dropped from the file is still compared with its default.

    python3 test_consistency.py --bin-dir BUILD/bin --source-dir REPO
"""

import argparse
import os
import re
import subprocess
import sys
import tomllib

SIZE_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
              "kB": 1000, "KB": 1000, "MB": 10**6, "GB": 10**9, "TB": 10**12}
DURATION_MS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}
# nginx: sizes k/m/g, times ms/s/m/h/d (a bare number is bytes / seconds).
NGINX_SIZE = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
NGINX_TIME_MS = {"ms": 1, "": 1000, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}


def parse_unit(value, units, default_unit):
    if isinstance(value, int):
        return value * units[default_unit]
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", value)
    if not m or m.group(2) not in units:
        raise ValueError("cannot read %r" % value)
    return round(float(m.group(1)) * units[m.group(2)])


def nginx_directives(text):
    """Yields (context, name, args) for each simple directive, where context
    is the innermost block: 'upstream', 'server' or 'location <pattern>'."""
    stack = []
    text = re.sub(r"#[^\n]*", "", text)
    for token in re.finditer(r"([^{};]+)([{};])", text):
        words = token.group(1).split()
        if token.group(2) == "{":
            stack.append(" ".join(words))
        elif token.group(2) == "}":
            stack.pop()
        elif words:
            yield (stack[-1] if stack else "", words[0], words[1:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--source-dir", required=True)
    opts = parser.parse_args()
    configs = os.path.join(opts.source_dir, "configs")

    dump = subprocess.run(
        [os.path.join(opts.bin_dir, "wasmpoold"), "--check-config",
         os.path.join(configs, "wasmpoold.toml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    if dump.returncode != 0:
        print("FAIL: wasmpoold --check-config configs/wasmpoold.toml:\n" + dump.stdout)
        print("0 passed, 1 failed")
        return 1
    cfg = tomllib.loads(dump.stdout)
    server, runtime = cfg["server"], cfg["runtime"]

    def ms(value):
        return parse_unit(value, DURATION_MS, "ms")

    with open(os.path.join(configs, "wasmpoold.service")) as f:
        unit = dict(re.findall(r"^(\w+)=(.*)$", f.read(), re.M))
    with open(os.path.join(configs, "nginx-wasmpool.conf")) as f:
        site = list(nginx_directives(f.read()))

    def nginx(context_prefix, name):
        found = [args for ctx, n, args in site if n == name and ctx.startswith(context_prefix)]
        if len(found) != 1:
            raise AssertionError("nginx site: expected one %s in %s, found %d" %
                                 (name, context_prefix, len(found)))
        return found[0]

    def nginx_ms(context, name):
        return parse_unit(nginx(context, name)[0], NGINX_TIME_MS, "")

    compile_ms = ms(runtime["compile_timeout"])
    checks = [
        ("service config is loaded by the unit",
         "/etc/wasmpool/wasmpoold.toml" in unit["ExecStart"].split()),
        ("socket is in the unit's RuntimeDirectory",
         server["socket_path"] == "/run/%s/wasmpool.sock" % unit["RuntimeDirectory"]),
        ("module_dir is in the unit's StateDirectory",
         runtime["module_dir"].startswith("/var/lib/%s/" % unit["StateDirectory"])),
        ("cache_dir is the unit's CacheDirectory",
         runtime["cache_dir"] == "/var/cache/%s" % unit["CacheDirectory"]),
        ("socket group is one the service belongs to",
         server["socket_group"] in unit.get("SupplementaryGroups", "").split() + [unit["Group"]]),
        ("socket lets its group connect",
         int(server["socket_mode"], 8) & 0o060 == 0o060),
        ("nginx upstream is the daemon's socket",
         nginx("upstream", "server")[0] == "unix:" + server["socket_path"]),
        ("TimeoutStopSec > shutdown_grace",
         parse_unit(unit["TimeoutStopSec"], DURATION_MS, "s") > ms(server["shutdown_grace"])),
        ("KillSignal is SIGTERM (graceful shutdown)", unit["KillSignal"] == "SIGTERM"),
        ("client_max_body_size = max_body_size",
         parse_unit(nginx("server", "client_max_body_size")[0], NGINX_SIZE, "")
         == parse_unit(server["max_body_size"], SIZE_UNITS, "B")),
        ("upstream keepalive_timeout < idle_timeout",
         nginx_ms("upstream", "keepalive_timeout") < ms(server["idle_timeout"])),
        ("client_header_timeout <= header_timeout",
         nginx_ms("server", "client_header_timeout") <= ms(server["header_timeout"])),
        ("proxy_read_timeout > max_deadline",
         nginx_ms("server", "proxy_read_timeout") > ms(runtime["max_deadline"])),
        ("deploy proxy_read_timeout > 2 x compile_timeout",
         nginx_ms("location ~ ^/v1/modules/[^/]+$", "proxy_read_timeout") > 2 * compile_ms),
        ("nginx talks HTTP/1.1 upstream", nginx("server", "proxy_http_version") == ["1.1"]),
        ("nginx clears the Connection header",
         ["Connection", '""'] in [a for c, n, a in site if n == "proxy_set_header"]),
    ]
    failed = [name for name, ok in checks if not ok]
    for name in failed:
        print("FAIL: " + name)
    print("%d passed, %d failed" % (len(checks) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
