// v8_instantiate.cjs — instantiate + release latency of a module in V8.
//
//   node v8_instantiate.cjs MODULE.wasm ITERATIONS
//
// The module is compiled once; a cycle is `new WebAssembly.Instance` (which
// allocates the memory and copies the data segments), a one-byte store into
// the first page, and dropping the instance. V8 frees instances in its
// garbage collector, so "release" happens later: median_ns is one cycle
// without collection work, mean_ns is the loop's wall time over the count,
// which includes the collections the loop caused. Output: one line of
// key=value pairs, like the C harnesses.
'use strict';
const fs = require('fs');

const [file, countText] = process.argv.slice(2);
const iterations = Number(countText);
if (!file || !(iterations > 0)) {
  console.error('usage: node v8_instantiate.cjs MODULE.wasm ITERATIONS');
  process.exit(2);
}
const wasmModule = new WebAssembly.Module(fs.readFileSync(file));

function cycle() {
  const instance = new WebAssembly.Instance(wasmModule, {});
  const memory = instance.exports.memory;
  if (memory) {
    const bytes = new Uint8Array(memory.buffer);
    bytes[0] = 1;
  }
}

for (let i = 0; i < Math.min(200, iterations); i++) cycle();
const samples = new Float64Array(iterations);
const totalStart = process.hrtime.bigint();
for (let i = 0; i < iterations; i++) {
  const start = process.hrtime.bigint();
  cycle();
  samples[i] = Number(process.hrtime.bigint() - start);
}
const totalNs = Number(process.hrtime.bigint() - totalStart);
samples.sort();
const at = (q) => samples[Math.min(iterations - 1, Math.round(q * (iterations - 1)))];
console.log(`engine=v8 iterations=${iterations} mean_ns=${Math.round(totalNs / iterations)} ` +
            `median_ns=${at(0.5)} p99_ns=${at(0.99)} node=${process.version}`);
