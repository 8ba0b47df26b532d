;; two_mem.wat — multi-memory guest: two memories, data in each, a copy
;; from one to the other and loads that name their memory.
;;   roundtrip(v: i32) -> i32   stores v at 4 of $a, memory.copy $b <- $a
;;                              to address 8 of $b, loads it from $b
;;   sizes() -> i32             10 * pages($a) + pages($b)
;;   first(which: i32) -> i32   byte 0 of $a (which = 0) or of $b (else)
;; Expected results (tests/spec/examples/two_mem.wast):
;;   roundtrip(42) = 42, roundtrip(-1) = -1, sizes() = 12,
;;   first(0) = 65 ('A'), first(1) = 66 ('B').
(module
  (memory $a (export "memory") 1)
  (memory $b 2)
  (data (memory $a) (i32.const 0) "A")
  (data (memory $b) (i32.const 0) "B")
  (func (export "roundtrip") (param $v i32) (result i32)
    (i32.store $a (i32.const 4) (local.get $v))
    (memory.copy $b $a (i32.const 8) (i32.const 4) (i32.const 4))
    (i32.load $b (i32.const 8)))
  (func (export "sizes") (result i32)
    (i32.add (i32.mul (memory.size $a) (i32.const 10)) (memory.size $b)))
  (func (export "first") (param $which i32) (result i32)
    (if (result i32) (i32.eqz (local.get $which))
      (then (i32.load8_u $a (i32.const 0)))
      (else (i32.load8_u $b (i32.const 0))))))
