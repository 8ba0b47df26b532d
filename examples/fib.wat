;; fib.wat — CPU-bound guest for benchmarks and deadline tests.
;;   fib(n: i32) -> i32       naive doubly recursive Fibonacci (fib(0)=0,
;;                            fib(1)=1); exponential time on purpose, so
;;                            fib(30..40) makes a steady CPU load.
;;   fib_iter(n: i32) -> i64  iterative, exact up to n = 92.
(module
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else
        (i32.add
          (call $fib (i32.sub (local.get $n) (i32.const 1)))
          (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  (func (export "fib_iter") (param $n i32) (result i64)
    (local $a i64) (local $b i64) (local $t i64)
    (local.set $b (i64.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $t (i64.add (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $t))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $a)))
