;; tail_loop.wat — tail-call guest: a loop written as tail recursion with
;; return_call, so 1e6 iterations run in constant stack (a plain call of
;; the same depth would exhaust the stack).
;;   sum_to(n: i64) -> i64   1 + 2 + ... + n by a tail-recursive helper
;;                           (return_call $go n-1 acc+n) per step.
;;   even(n: i32) -> i32     1 if n is even, by mutual tail recursion with
;;                           odd through return_call_indirect.
;; Expected results (tests/spec/examples/tail_loop.wast):
;;   sum_to(1000000) = 500000500000 (1e6 tail calls), sum_to(0) = 0,
;;   even(1000000) = 1, even(999999) = 0.
(module
  (type $pred (func (param i32) (result i32)))
  (table funcref (elem $even $odd))

  (func $go (param $n i64) (param $acc i64) (result i64)
    (if (result i64) (i64.eqz (local.get $n))
      (then (local.get $acc))
      (else
        (return_call $go
          (i64.sub (local.get $n) (i64.const 1))
          (i64.add (local.get $acc) (local.get $n))))))

  (func (export "sum_to") (param $n i64) (result i64)
    (return_call $go (local.get $n) (i64.const 0)))

  ;; Table slot 0 is $even, slot 1 is $odd.
  (func $even (export "even") (type $pred)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 1))
      (else
        (return_call_indirect (type $pred)
          (i32.sub (local.get 0) (i32.const 1)) (i32.const 1)))))

  (func $odd (type $pred)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else
        (return_call_indirect (type $pred)
          (i32.sub (local.get 0) (i32.const 1)) (i32.const 0))))))
