;; Only active segments and no bulk-memory instruction: no datacount
;; section, and the rewrite must not need one.
(module
  (memory 2)
  (data (i32.const 0) "first")
  (data (i32.const 70000) "second")
  (func (export "second_byte") (result i32)
    (i32.load8_u (i32.const 70000))))
