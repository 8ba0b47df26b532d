// density_v8.cjs — how many live instances of bench/density.wat V8 (node)
// holds, and its resident memory per instance: the comparison of
// bench/density_api.py (issue 14).
//
//   node --expose-gc bench/density_v8.cjs build/bench/density.wasm [MAX [STEP]]
//
// Instantiates the same bytes (compiled once) until MAX (default 100,000) are
// live or V8 refuses one; each instance writes one byte of its memory (the
// counterpart of density.wat's `touch`), and all stay reachable. Every STEP
// instances (default 10,000), at the stop and at the end, prints a
// `key=value` line after a full GC: live instances, VmRSS and VmPTE of this
// process (/proc/self/status), RSS per live instance over the start.
'use strict';
const fs = require('fs');

const [file, maxText = '100000', stepText = '10000'] = process.argv.slice(2);
const max = Number(maxText);
const step = Number(stepText);
if (!file || !(max > 0) || !(step > 0)) {
  console.error('usage: node --expose-gc density_v8.cjs MODULE.wasm [MAX [STEP]]');
  process.exit(2);
}

function status() {
  const text = fs.readFileSync('/proc/self/status', 'utf8');
  const field = (name) => Number((text.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm')) || [0, 0])[1]) * 1024;
  return { rss: field('VmRSS'), pte: field('VmPTE') };
}

const started = process.hrtime.bigint();
const wasmModule = new WebAssembly.Module(fs.readFileSync(file));
const live = [];
if (global.gc) global.gc();
const base = status();
function report(extra) {
  if (global.gc) global.gc();
  const now = status();
  const per = live.length ? (now.rss - base.rss) / live.length / 1024 : 0;
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`engine=v8 node=${process.version} live=${live.length} vmrss_bytes=${now.rss} ` +
              `vmpte_bytes=${now.pte} per_instance_rss_kib=${per.toFixed(2)} ` +
              `elapsed_s=${elapsed.toFixed(1)}${extra ? ' ' + extra : ''}`);
}

report();
try {
  while (live.length < max) {
    const instance = new WebAssembly.Instance(wasmModule, {});
    instance.exports.touch(0);
    live.push(instance);
    if (live.length % step === 0) report();
  }
  if (live.length % step !== 0) report();
  report('stopped="reached MAX"');
} catch (e) {
  report(`stopped="${String(e.message).replace(/"/g, "'")}"`);
}
