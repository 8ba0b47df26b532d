// node_server.cjs — the "what a node user would write" baseline for the
// end-to-end comparison: an HTTP server on a Unix socket that instantiates
// the module in V8 for every request, on wasmpoold's paths so the same
// wasmpool-bench command drives both.
//
//   node node_server.cjs SOCKET HELLO.wasm ADD.wasm
//
//   POST /v1/modules/hello/run       runs hello's _start; body = its stdout
//   POST /v1/modules/add/call/add    {"args":[a,b]} -> {"results":[a+b]}
//   GET  /v1/health                  200, which wasmpool-bench checks first
//
// Modules are compiled once at start-up (as wasmpoold compiles at deploy);
// each request gets a fresh instance, as wasmpoold's one-shot endpoints do.
// WASI is a minimal shim (fd_write to a buffer, proc_exit, the rest ENOSYS)
// because node's `wasi` module writes to real file descriptors.
'use strict';
const fs = require('fs');
const http = require('http');

const [socketPath, helloPath, addPath] = process.argv.slice(2);
if (!socketPath || !helloPath || !addPath) {
  console.error('usage: node node_server.cjs SOCKET HELLO.wasm ADD.wasm');
  process.exit(2);
}
const helloModule = new WebAssembly.Module(fs.readFileSync(helloPath));
const addModule = new WebAssembly.Module(fs.readFileSync(addPath));

const ERRNO_BADF = 8;
const ERRNO_NOSYS = 52;
class ProcExit {
  constructor(code) { this.code = code; }
}

// Runs a WASI command in a fresh instance; returns { code, stdout }.
function runCommand(wasmModule) {
  const chunks = [];
  let memory = null;
  const wasi = {
    fd_write(fd, iovs, iovsLen, nwrittenPtr) {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      const view = new DataView(memory.buffer);
      let written = 0;
      for (let i = 0; i < iovsLen; i++) {
        const ptr = view.getUint32(iovs + i * 8, true);
        const len = view.getUint32(iovs + i * 8 + 4, true);
        if (fd === 1) chunks.push(Buffer.from(new Uint8Array(memory.buffer, ptr, len)));
        written += len;
      }
      view.setUint32(nwrittenPtr, written, true);
      return 0;
    },
    proc_exit(code) { throw new ProcExit(code); },
  };
  const shim = new Proxy(wasi, {
    get: (target, name) => target[name] || (() => ERRNO_NOSYS),
  });
  const instance = new WebAssembly.Instance(wasmModule, { wasi_snapshot_preview1: shim });
  memory = instance.exports.memory;
  let code = 0;
  try {
    instance.exports._start();
  } catch (e) {
    if (!(e instanceof ProcExit)) throw e;
    code = e.code;
  }
  return { code, stdout: Buffer.concat(chunks) };
}

function reply(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const body = [];
  req.on('data', (chunk) => body.push(chunk));
  req.on('end', () => {
    try {
      const path = req.url.split('?')[0];
      // wasmpool-bench checks health before it starts.
      if (req.method === 'GET' && path === '/v1/health') {
        return reply(res, 200, 'application/json', '{"status":"ok"}');
      }
      if (req.method === 'POST' && path === '/v1/modules/hello/run') {
        const { code, stdout } = runCommand(helloModule);
        res.setHeader('X-Wasmpool-Exit-Code', String(code));
        return reply(res, 200, 'application/octet-stream', stdout);
      }
      if (req.method === 'POST' && path === '/v1/modules/add/call/add') {
        const args = JSON.parse(Buffer.concat(body).toString() || '{}').args || [0, 0];
        const instance = new WebAssembly.Instance(addModule, {});
        const result = instance.exports.add(Number(args[0]) | 0, Number(args[1]) | 0);
        return reply(res, 200, 'application/json', JSON.stringify({ results: [result] }));
      }
      reply(res, 404, 'application/json', '{"error":"not_found"}');
    } catch (e) {
      reply(res, 500, 'application/json', JSON.stringify({ error: String(e) }));
    }
  });
});
server.keepAliveTimeout = 60000;
try { fs.unlinkSync(socketPath); } catch (e) { /* not there */ }
server.listen(socketPath, () => console.log(`listening on ${socketPath}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
