;; v128 only in a function type: no SIMD instruction anywhere.
(module
  (type (func (param v128))))
