;; trap.wat — one export per trap kind, for the runtime's trap tests.
;; Each trapping export takes its operands as parameters so that neither
;; wat2wasm nor the C compiler can fold the fault away.
;;
;;   ok() -> i32                    42; proves the instance still works after a trap
;;   oob(addr: i32) -> i32          i32.load at addr; 1 page of memory, so any
;;                                  addr > 65532 traps (out of bounds)
;;   oob_store(addr: i32)           i32.store at addr
;;   div0(a: i32, b: i32) -> i32    a / b signed; traps when b = 0
;;   overflow(a: i32, b: i32) -> i32 a / b signed; traps for INT32_MIN / -1
;;   conversion(x: f32) -> i32      i32.trunc_f32_s; NaN traps as an invalid
;;                                  conversion, out of range as integer overflow
;;   unreachable()                  executes unreachable
;;   stack_overflow(n: i32) -> i32  unbounded recursion (call stack exhausted)
;;   bad_indirect() -> i32          call_indirect with the wrong signature
;;   null_indirect() -> i32         call_indirect of an uninitialized element
;;   indirect_oob(i: i32) -> i32    call_indirect past the end of the table
;;   spin() -> i32                  infinite loop (never returns; for deadlines)
;;   counter() -> i32               iterations spin() made so far (global)
(module
  (type $ret_i32 (func (result i32)))
  (type $ret_i64 (func (result i64)))

  (memory (export "memory") 1 1)
  (table 4 funcref)
  (elem (i32.const 0) $ok $ret64)
  (global $spins (mut i32) (i32.const 0))

  (func $ok (export "ok") (result i32) (i32.const 42))
  (func $ret64 (result i64) (i64.const 64))

  (func (export "oob") (param $addr i32) (result i32)
    (i32.load (local.get $addr)))
  (func (export "oob_store") (param $addr i32)
    (i32.store (local.get $addr) (i32.const 1)))

  (func (export "div0") (param $a i32) (param $b i32) (result i32)
    (i32.div_s (local.get $a) (local.get $b)))
  (func (export "overflow") (param $a i32) (param $b i32) (result i32)
    (i32.div_s (local.get $a) (local.get $b)))
  (func (export "conversion") (param $x f32) (result i32)
    (i32.trunc_f32_s (local.get $x)))

  (func (export "unreachable") (unreachable))

  (func $recurse (export "stack_overflow") (param $n i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))

  (func (export "bad_indirect") (result i32)
    ;; slot 1 holds $ret64 (result i64), called as (result i32)
    (call_indirect (type $ret_i32) (i32.const 1)))
  (func (export "null_indirect") (result i32)
    (call_indirect (type $ret_i32) (i32.const 2)))
  (func (export "indirect_oob") (param $i i32) (result i32)
    (call_indirect (type $ret_i32) (local.get $i)))

  (func (export "spin") (result i32)
    (loop $forever
      (global.set $spins (i32.add (global.get $spins) (i32.const 1)))
      (br $forever))
    (unreachable))
  (func (export "counter") (result i32) (global.get $spins)))
