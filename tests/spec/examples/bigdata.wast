;; Assertions on the generated build/examples/bigdata.wat (1 MiB segment),
;; appended to it at build time.
(assert_return (invoke "size") (i32.const 1048576))
(assert_return (invoke "read" (i32.const 0)) (i32.const 48))
(assert_return (invoke "read" (i32.const 15)) (i32.const 102))
(assert_return (invoke "read" (i32.const 1048575)) (i32.const 102))
(assert_return (invoke "read" (i32.const 1048576)) (i32.const 0))
(assert_return (invoke "sum") (i32.const 73531392))
(invoke "write" (i32.const 1048580) (i32.const 7))
(assert_return (invoke "read" (i32.const 1048580)) (i32.const 7))
(invoke "write" (i32.const 16) (i32.const 0))
(assert_return (invoke "sum") (i32.const 73531344))
(assert_trap (invoke "read" (i32.const 1114112)) "out of bounds memory access")
