;; simd_sum.wat — SIMD guest: sums i32 values in memory four lanes at a time
;; with i32x4.add (the integration test that SIMD modules deploy and run).
;;   sum(n: i32) -> i32          sum of the first n i32s at address 0, n a
;;                               multiple of 4: v128.load + i32x4.add, then
;;                               the four lanes added with extract_lane.
;;   add_arrays(n: i32) -> i32   out[i] = a[i] + b[i] for n i32s (a at 0,
;;                               b at 64, out at 128), i32x4 at a time;
;;                               returns out[n-1].
;; Memory holds 1, 2, ..., 16 at address 0 and 100, 200, ..., 1600 at 64.
;; Expected results (tests/spec/examples/simd_sum.wast):
;;   sum(16) = 136, sum(8) = 36, sum(0) = 0,
;;   add_arrays(16) = 1616 (16 + 1600), add_arrays(4) = 404,
;;   sum(16388) traps: out of bounds memory access (its last v128.load is at
;;   65536, just past the one 64 KiB page; sum(16384) stays in bounds).
(module
  (memory (export "memory") 1)
  (data (i32.const 0)
    "\01\00\00\00\02\00\00\00\03\00\00\00\04\00\00\00"
    "\05\00\00\00\06\00\00\00\07\00\00\00\08\00\00\00"
    "\09\00\00\00\0a\00\00\00\0b\00\00\00\0c\00\00\00"
    "\0d\00\00\00\0e\00\00\00\0f\00\00\00\10\00\00\00")
  (data (i32.const 64)
    "\64\00\00\00\c8\00\00\00\2c\01\00\00\90\01\00\00"
    "\f4\01\00\00\58\02\00\00\bc\02\00\00\20\03\00\00"
    "\84\03\00\00\e8\03\00\00\4c\04\00\00\b0\04\00\00"
    "\14\05\00\00\78\05\00\00\dc\05\00\00\40\06\00\00")

  (func (export "sum") (param $n i32) (result i32)
    (local $acc v128) (local $ptr i32) (local $end i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $acc (i32x4.add (local.get $acc) (v128.load (local.get $ptr))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
        (br $next)))
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
      (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))

  (func (export "add_arrays") (param $n i32) (result i32)
    (local $off i32) (local $end i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $off) (local.get $end)))
        (v128.store offset=128 (local.get $off)
          (i32x4.add (v128.load (local.get $off)) (v128.load offset=64 (local.get $off))))
        (local.set $off (i32.add (local.get $off) (i32.const 16)))
        (br $next)))
    (i32.load offset=124 (local.get $end))))
