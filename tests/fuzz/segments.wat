;; segments.wat — source of corpus/reader/segments.wasm, a seed with every data segment
;; kind the reader and the rewrite handle (active at a constant, at the edge of
;; memory, at a global; passive with memory.init / data.drop; datacount).
;; Rebuild: wat2wasm --enable-all segments.wat -o corpus/reader/segments.wasm
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "g" (global $g i32))
  (memory (export "memory") 2 4)
  (table 2 funcref)
  (global $counter (mut i64) (i64.const 7))
  (data (i32.const 16) "active bytes\00\01\02")
  (data $passive "passive bytes")
  (data (i32.const 65530) "edge!!")
  (data (global.get $g) "from a global")
  (data (i32.const 1024) "a segment longer than a LEB128 byte can count: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
  (elem (i32.const 0) $copy $exit)
  (func $copy (export "copy") (param $dst i32) (result i32)
    (memory.init $passive (local.get $dst) (i32.const 0) (i32.const 13))
    (data.drop $passive)
    (i32.load8_u (local.get $dst)))
  (func (export "count") (result i64) (global.get $counter))
  (func $init (global.set $counter (i64.const 9)))
  (start $init))
