#!/usr/bin/env python3
"""deploy_client.py — one deploy-to-first-answer through wasmpoold.

    deploy_client.py SOCKET NAME PROGRAM.wasm STDIN_FILE STDOUT_FILE [ARG...]

Opens one connection to the daemon's Unix socket, PUTs the module
(PUT /v1/modules/NAME, the bytes as the body), then runs it once as a WASI
command (POST /v1/modules/NAME/run?arg=..., STDIN_FILE as the body) and
writes the response body (the guest's stdout) to STDOUT_FILE. The clock
starts before the PUT is sent and stops when the run's response has been
read: that is what a user who deploys and then calls waits for. Prints

    total_ns=<ns> put_ns=<ns> run_ns=<ns> load_us=<daemon's> exit=<code> [tier=<t>]

(tier when the deploy answer names one).

and exits non-zero if either request fails. Stdlib only.
"""
import http.client
import json
import socket
import sys
import time
import urllib.parse


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=600)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(600)
        self.sock.connect(self.unix_path)


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    sock, name, wasm_path, stdin_path, stdout_path = sys.argv[1:6]
    args = sys.argv[6:]
    with open(wasm_path, "rb") as f:
        wasm = f.read()
    with open(stdin_path, "rb") as f:
        stdin = f.read()
    query = urllib.parse.urlencode([("arg", a) for a in args])
    run_path = f"/v1/modules/{name}/run" + (f"?{query}" if query else "")
    conn = UnixConnection(sock)
    conn.connect()  # connecting is not part of a deploy
    start = time.monotonic_ns()
    conn.request("PUT", f"/v1/modules/{name}", body=wasm,
                 headers={"Content-Type": "application/wasm"})
    put = conn.getresponse()
    put_body = put.read()
    put_done = time.monotonic_ns()
    if put.status != 200 and put.status != 201:
        sys.exit(f"PUT {name}: {put.status} {put_body[:500]!r}")
    conn.request("POST", run_path, body=stdin,
                 headers={"Content-Type": "application/octet-stream"})
    run = conn.getresponse()
    out = run.read()
    done = time.monotonic_ns()
    if run.status != 200:
        sys.exit(f"run {name}: {run.status} {out[:500]!r}")
    with open(stdout_path, "wb") as f:
        f.write(out)
    info = json.loads(put_body)
    print(f"total_ns={done - start} put_ns={put_done - start} run_ns={done - put_done} "
          f"load_us={info.get('load_us', '')} exit={run.getheader('X-Wasmpool-Exit-Code', '')}"
          + (f" tier={info['tier']}" if "tier" in info else ""))


if __name__ == "__main__":
    main()
