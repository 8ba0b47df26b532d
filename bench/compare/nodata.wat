;; nodata.wat — the comparison suite's "no data" module: the same shape as
;; examples/bigdata (exported memory, a few functions) but 16 pages of
;; memory with no data segment, so instantiation has no image to attach and
;; no bytes to copy. Measures each engine's fixed per-instance cost.
(module
  (memory (export "memory") 16)
  (func (export "read") (param $addr i32) (result i32)
    (i32.load8_u (local.get $addr)))
  (func (export "write") (param $addr i32) (param $v i32)
    (i32.store8 (local.get $addr) (local.get $v)))
  (func (export "add") (param $a i32) (param $b i32) (result i32)
    (i32.add (local.get $a) (local.get $b))))
