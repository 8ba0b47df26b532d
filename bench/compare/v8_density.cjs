// v8_density.cjs — resident memory of node holding N live V8 instances of
// one module, the counterpart of wp_density.c.
//
//   node --expose-gc v8_density.cjs MODULE.wasm COUNT...
//
// Creates instances up to each COUNT in turn and keeps them all reachable;
// each stores one byte into its first page, as a request would. Before each
// reading a full GC runs so that only live instances are counted. Stops
// early, and says so, when V8 cannot allocate another Wasm memory.
'use strict';
const fs = require('fs');

const [file, ...countTexts] = process.argv.slice(2);
const counts = countTexts.map(Number).sort((a, b) => a - b);
if (!file || counts.length === 0 || counts.some((c) => !(c >= 0))) {
  console.error('usage: node --expose-gc v8_density.cjs MODULE.wasm COUNT...');
  process.exit(2);
}
const wasmModule = new WebAssembly.Module(fs.readFileSync(file));
const live = [];
const report = (extra) => {
  if (global.gc) global.gc();
  console.log(`engine=v8 instances=${live.length} rss_bytes=${process.memoryUsage().rss}` +
              (extra ? ` ${extra}` : ''));
};
report();
for (const count of counts) {
  try {
    while (live.length < count) {
      const instance = new WebAssembly.Instance(wasmModule, {});
      const bytes = new Uint8Array(instance.exports.memory.buffer);
      bytes[0] = 1;
      live.push(instance);
    }
  } catch (e) {
    report(`stopped="${String(e.message).replace(/"/g, "'")}"`);
    process.exit(0);
  }
  report();
}
