;; Byte 0xFD inside immediates only (i32.const 253 is 0xFD 0x01, and so is
;; offset=253); no SIMD. A byte scanner would take them for SIMD opcodes.
(module
  (memory 1)
  (global i32 (i32.const 253))
  (func (export "f") (result i32)
    (drop (i64.const 253))
    (drop (f32.const 0x1.fafafap+0))
    (i32.load offset=253 (i32.const 253))))
