;; A SIMD instruction without any v128 in a type, local or global.
(module
  (func (export "lane") (result i32)
    (i32x4.extract_lane 1 (i32x4.splat (i32.const 7)))))
