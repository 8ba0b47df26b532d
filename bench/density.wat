;; One data page, and a function that writes one byte: the density module.
(module
  (memory (export "memory") 1 1)
  (data (i32.const 0) "wasmpool density: one data page")
  (func (export "touch") (param i32)
    local.get 0 i32.const 1 i32.store8))
