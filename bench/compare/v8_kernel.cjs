// v8_kernel.cjs — runs one kernel (a WASI command built from bench/kernels)
// in V8 through node's built-in `wasi` module, the way node users run WASI.
//
//   node v8_kernel.cjs KERNEL.wasm N [REPS [WARMUP]]
//
// The guest's own main.c times bench(N) with clock_time_get after WARMUP
// untimed runs (enough for V8's tier-up to TurboFan) and prints its
// "checksum=... median_ns=..." line, which lands on our stdout unchanged.
'use strict';
const fs = require('fs');
const { WASI } = require('wasi');

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: node v8_kernel.cjs KERNEL.wasm N [REPS [WARMUP]]');
  process.exit(2);
}
const wasi = new WASI({ version: 'preview1', args: [file, ...args], env: {} });
const wasmModule = new WebAssembly.Module(fs.readFileSync(file));
const instance = new WebAssembly.Instance(wasmModule, wasi.getImportObject());
process.exitCode = wasi.start(instance);
