;; add.wat — the smallest useful guest: one pure export, no memory, no imports.
;; Call: add(i32, i32) -> i32 (wrapping two's-complement addition).
(module
  (func (export "add") (param $a i32) (param $b i32) (result i32)
    (i32.add (local.get $a) (local.get $b))))
