#!/usr/bin/env python3
"""daemon_density.py — resident memory of a running wasmpoold holding N live
instances of one module, the daemon's side of the density comparison.

    daemon_density.py SOCKET DAEMON_PID MODULE COUNT...

Over one keep-alive connection: POST /v1/modules/MODULE/instances until each
COUNT (ascending) is live, and on each new instance one call of its `write`
export (write(0, 1)) so that, as in the other harnesses, every instance
dirties one page. After each step prints the daemon's VmRSS from
/proc/DAEMON_PID/status. Instances are released at the end. Stdlib only.
"""
import http.client
import json
import socket
import sys


class UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 over the daemon's Unix socket (also used by bench/density_api.py)."""

    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


def request(conn, method, path, body=None):
    """One request; the decoded JSON answer, or RuntimeError past 2xx. A bytes
    body is a module (application/wasm), a str body JSON."""
    headers = {}
    if body is not None:
        headers["Content-Type"] = ("application/wasm" if isinstance(body, bytes)
                                   else "application/json")
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status >= 300:
        raise RuntimeError(f"{method} {path}: {resp.status} {data[:300]!r}")
    return json.loads(data) if data else None


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    sock_path, pid, module = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    counts = sorted(int(c) for c in sys.argv[4:])
    conn = UnixConnection(sock_path)
    ids = []
    print(f"engine=wasmpoold instances=0 rss_bytes={rss_bytes(pid)}", flush=True)
    status = 0
    try:
        for count in counts:
            while len(ids) < count:
                created = request(conn, "POST", f"/v1/modules/{module}/instances")
                ids.append(created["id"])
                request(conn, "POST", f"/v1/instances/{ids[-1]}/call/write", '{"args":[0,1]}')
            print(f"engine=wasmpoold instances={len(ids)} rss_bytes={rss_bytes(pid)}", flush=True)
    except Exception as e:  # report how far it got; the caller marks the rest not run
        print(f"engine=wasmpoold instances={len(ids)} rss_bytes={rss_bytes(pid)} "
              f"stopped=\"{e}\"", flush=True)
        status = 1
    for instance_id in ids:
        try:
            request(conn, "DELETE", f"/v1/instances/{instance_id}")
        except Exception:
            pass
    return status


if __name__ == "__main__":
    sys.exit(main())
