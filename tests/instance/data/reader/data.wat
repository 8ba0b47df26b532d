;; Active segments (two), a passive one between them, and bulk-memory
;; instructions that need the datacount section.
(module
  (memory 1)
  (data (i32.const 16) "hello")
  (data "passive!")
  (data (i32.const 40000) "\01\02\03\04")
  (func (export "active_byte") (result i32)
    (i32.load8_u (i32.const 16)))
  (func (export "passive_byte") (result i32)
    (memory.init 1 (i32.const 100) (i32.const 0) (i32.const 8))
    (i32.load8_u (i32.const 100)))
  (func (export "init_active_empty") (result i32)
    (memory.init 0 (i32.const 0) (i32.const 0) (i32.const 0))
    (i32.const 1))
  (func (export "drop_active") (result i32)
    (data.drop 2)
    (i32.const 2)))
