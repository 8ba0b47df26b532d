;; Assertions on examples/tail_loop.wat (appended to it at build time).
(assert_return (invoke "sum_to" (i64.const 1000000)) (i64.const 500000500000))
(assert_return (invoke "sum_to" (i64.const 0)) (i64.const 0))
(assert_return (invoke "even" (i32.const 1000000)) (i32.const 1))
(assert_return (invoke "even" (i32.const 999999)) (i32.const 0))
