;; Assertions on examples/simd_sum.wat (appended to it at build time).
(assert_return (invoke "sum" (i32.const 16)) (i32.const 136))
(assert_return (invoke "sum" (i32.const 8)) (i32.const 36))
(assert_return (invoke "sum" (i32.const 0)) (i32.const 0))
(assert_return (invoke "add_arrays" (i32.const 16)) (i32.const 1616))
(assert_return (invoke "add_arrays" (i32.const 4)) (i32.const 404))
(assert_trap (invoke "sum" (i32.const 16388)) "out of bounds memory access")
