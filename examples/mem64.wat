;; mem64.wat — memory64 guest: one 64-bit memory (i64 addresses, sizes in
;; pages as i64), which a pooled slot bounds-checks explicitly.
;;   store_load(addr: i64, v: i32) -> i32   stores v at addr, loads it back
;;   pages() -> i64                         memory.size
;;   grow(delta: i64) -> i64                memory.grow (old size or -1)
;;   byte(addr: i64) -> i32                 load8_u
;; The data segment puts "wasm64" at address 16 (an i64 offset).
;; Expected results (tests/spec/examples/mem64.wast):
;;   store_load(65532, 7) = 7, store_load(65533, 7) traps (out of bounds),
;;   store_load(0x100000000, 1) traps (past 4 GiB: no 32-bit wrap-around),
;;   byte(16) = 119 ('w'), byte(21) = 52 ('4'), pages() = 1,
;;   grow(2) = 1, then pages() = 3 and store_load(196604, 9) = 9.
(module
  (memory (export "memory") i64 1 4)
  (data (i64.const 16) "wasm64")
  (func (export "store_load") (param $addr i64) (param $v i32) (result i32)
    (i32.store (local.get $addr) (local.get $v))
    (i32.load (local.get $addr)))
  (func (export "pages") (result i64) (memory.size))
  (func (export "grow") (param $delta i64) (result i64) (memory.grow (local.get $delta)))
  (func (export "byte") (param $addr i64) (result i32) (i32.load8_u (local.get $addr))))
