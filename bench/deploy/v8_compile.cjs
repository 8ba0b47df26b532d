// v8_compile.cjs — V8's side of bench/deploy.sh: compiles a module's bytes
// with WebAssembly.compile, then (optionally) instantiates it and runs it
// once as a WASI command with a fixed stdin, like wasmpool's first answer.
//
//   node --no-liftoff --no-wasm-lazy-compilation v8_compile.cjs PROGRAM.wasm \
//        [STDIN_FILE STDOUT_FILE [ARG...]]
//
// With those flags (what issue 10 names) V8 compiles every function with
// TurboFan before the promise resolves: an eager optimising compile. Without
// them it is node's default (lazy, Liftoff first). The bytes are read before
// the clock starts; node's own start-up is not counted. Prints
//
//   compile_ns=<ns> [first_answer_ns=<ns> exit=<code>]
//
// where first_answer_ns runs from before the compile to the end of _start.
'use strict';
const fs = require('fs');
const { WASI } = require('wasi');

async function main() {
  const [file, stdinPath, stdoutPath, ...args] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node v8_compile.cjs PROGRAM.wasm [STDIN_FILE STDOUT_FILE [ARG...]]');
    process.exit(2);
  }
  const bytes = fs.readFileSync(file);
  const start = process.hrtime.bigint();
  const module = await WebAssembly.compile(bytes);
  const compiled = process.hrtime.bigint();
  let line = `compile_ns=${compiled - start}`;
  if (stdinPath) {
    const stdin = fs.openSync(stdinPath, 'r');
    const stdout = fs.openSync(stdoutPath, 'w');
    const wasi = new WASI({ version: 'preview1', args: [file, ...args], env: {},
                            stdin, stdout, returnOnExit: true });
    const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
    const code = wasi.start(instance);
    const done = process.hrtime.bigint();
    try { fs.closeSync(stdout); } catch (e) { /* the guest closed it (fclose(stdout)) */ }
    line += ` first_answer_ns=${done - start} exit=${code}`;
  }
  console.log(line);
}
main().catch((e) => { console.error(e); process.exit(1); });
