;; extras.wat — source of corpus/reader/names_tags_memory64.wasm: a name section,
;; imported and defined tags, a memory64 memory with a data segment and a
;; memarg offset of 0xffffffff. Rebuild:
;; wat2wasm --enable-all --debug-names extras.wat -o corpus/reader/names_tags_memory64.wasm
;; (corpus/reader/segments_named.wasm is segments.wat built the same way.)
(module $named
  (import "env" "tag" (tag $imported (param i32)))
  (tag $t (export "t") (param i64))
  (memory $m i64 1 2)
  (data (i64.const 8) "memory64 bytes")
  (func $thrower (export "throw") (param $x i64)
    (throw $t (local.get $x)))
  (func $load (export "load") (param $addr i64) (result i32)
    (i32.load offset=4294967295 (local.get $addr))))
