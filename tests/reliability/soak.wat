;; soak.wat — the guest of the fault soak (test_soak.py): one healthy export
;; and one export per fault class, so every request's expected answer is
;; known from the export it calls.
;;
;;   ok(a, b) -> i32         a + b
;;   oob(addr) -> i32        i32.load past the single page: trap_out_of_bounds
;;   div0(a, b) -> i32       a / b with b = 0: trap_divide_by_zero
;;   unreachable()           trap_unreachable
;;   deep(n) -> i32          recursion that is NOT a tail call (the result of
;;                           the call is stored to memory after it returns), so
;;                           cc -O2 cannot turn it into a loop:
;;                           trap_stack_exhausted
;;   bad_indirect() -> i32   call_indirect with the wrong signature:
;;                           trap_indirect_call
;;   spin() -> i32           never returns: deadline_exceeded
(module
  (type $ret_i32 (func (result i32)))
  (type $ret_i64 (func (result i64)))
  (memory 1 1)
  (table 2 funcref)
  (elem (i32.const 0) $seven $ret64)
  (global $spins (mut i32) (i32.const 0))

  (func $seven (result i32) (i32.const 7))
  (func $ret64 (result i64) (i64.const 64))

  (func (export "ok") (param $a i32) (param $b i32) (result i32)
    (i32.add (local.get $a) (local.get $b)))

  (func (export "oob") (param $addr i32) (result i32)
    (i32.load (local.get $addr)))

  (func (export "div0") (param $a i32) (param $b i32) (result i32)
    (i32.div_s (local.get $a) (local.get $b)))

  (func (export "unreachable") (unreachable))

  (func $deep (export "deep") (param $n i32) (result i32)
    (local $r i32)
    (local.set $r (call $deep (i32.add (local.get $n) (i32.const 1))))
    ;; a store that depends on the callee's result keeps the frame alive
    (i32.store (i32.and (local.get $n) (i32.const 0xfffc)) (local.get $r))
    (i32.xor (local.get $r) (local.get $n)))

  (func (export "bad_indirect") (result i32)
    (call_indirect (type $ret_i32) (i32.const 1)))

  (func (export "spin") (result i32)
    (loop $forever
      (global.set $spins (i32.add (global.get $spins) (i32.const 1)))
      (br $forever))
    (unreachable)))
