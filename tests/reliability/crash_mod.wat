;; crash_mod.wat — the module deployed over and over by test_crash.py. The
;; test replaces @K@ with a number, so each version has different bytes (a
;; fresh compile unless that version was compiled before) and says which
;; version it is: v() returns K, and K is also in the data segment.
(module
  (memory 1 1)
  (data (i32.const 0) "version @K@")
  (func (export "v") (result i32) (i32.const @K@))
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1))))
