;; Assertions on examples/fib.wat (appended to it at build time).
(assert_return (invoke "fib" (i32.const 0)) (i32.const 0))
(assert_return (invoke "fib" (i32.const 1)) (i32.const 1))
(assert_return (invoke "fib" (i32.const 20)) (i32.const 6765))
(assert_return (invoke "fib" (i32.const 30)) (i32.const 832040))
(assert_return (invoke "fib_iter" (i32.const 0)) (i64.const 0))
(assert_return (invoke "fib_iter" (i32.const 30)) (i64.const 832040))
(assert_return (invoke "fib_iter" (i32.const 92)) (i64.const 7540113804746346429))
