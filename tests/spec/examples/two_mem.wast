;; Assertions on examples/two_mem.wat (appended to it at build time).
(assert_return (invoke "roundtrip" (i32.const 42)) (i32.const 42))
(assert_return (invoke "roundtrip" (i32.const -1)) (i32.const -1))
(assert_return (invoke "sizes") (i32.const 12))
(assert_return (invoke "first" (i32.const 0)) (i32.const 65))
(assert_return (invoke "first" (i32.const 1)) (i32.const 66))
