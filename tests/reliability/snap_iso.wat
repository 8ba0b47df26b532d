;; snap_iso.wat — the snapshot isolation probe (test_snapshot_isolation.py).
;;
;;   wizer.initialize  grows memory from 2 to 5 pages, writes a pattern word
;;                     into pages 0, 1, 3 and 4 (page 2 stays zero, so the
;;                     image has a hole) and sets both mutable globals
;;   plant(secret: i64)       grows by 4 pages, writes secret into every word
;;                            of memory and into both globals
;;   plant_trap(secret)       plant, then trap
;;   scan() -> i32            what a fresh instance must see: exactly the
;;                            snapshot (size 5 pages, the pattern, the hole,
;;                            the globals), and zeroes in 4 pages grown past
;;                            it. Returns the number of findings (0: none).
(module
  (memory (export "memory") 2 16)
  (global $g32 (mut i32) (i32.const 0))
  (global $g64 (mut i64) (i64.const 0))
  (func $pattern (param $a i32) (result i32)
    (i32.or (i32.mul (local.get $a) (i32.const 0x9E3779B1)) (i32.const 1)))
  (func $patterned (param $a i32) (result i32)
    (i32.ne (i32.shr_u (local.get $a) (i32.const 16)) (i32.const 2)))
  (func (export "wizer.initialize") (local $a i32)
    (drop (memory.grow (i32.const 3)))
    (loop $l
      (if (call $patterned (local.get $a))
        (then (i32.store (local.get $a) (call $pattern (local.get $a)))))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (br_if $l (i32.lt_u (local.get $a) (i32.const 327680))))
    (global.set $g32 (i32.const 0x5eed))
    (global.set $g64 (i64.const 0x5eed5eed5eed)))
  (func $plant (param $s i64) (local $a i32) (local $end i32)
    (drop (memory.grow (i32.const 4)))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (loop $l
      (i64.store (local.get $a) (local.get $s))
      (local.set $a (i32.add (local.get $a) (i32.const 8)))
      (br_if $l (i32.lt_u (local.get $a) (local.get $end))))
    (global.set $g32 (i32.wrap_i64 (local.get $s)))
    (global.set $g64 (local.get $s)))
  (func (export "plant") (param i64) (call $plant (local.get 0)))
  (func (export "plant_trap") (param i64) (call $plant (local.get 0)) unreachable)
  (func (export "scan") (result i32) (local $a i32) (local $bad i32) (local $want i32)
    (if (i32.ne (memory.size) (i32.const 5))
      (then (return (i32.const 1000000))))
    (loop $l
      (local.set $want
        (select (call $pattern (local.get $a)) (i32.const 0) (call $patterned (local.get $a))))
      (if (i32.ne (i32.load (local.get $a)) (local.get $want))
        (then (local.set $bad (i32.add (local.get $bad) (i32.const 1)))))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (br_if $l (i32.lt_u (local.get $a) (i32.const 327680))))
    (drop (memory.grow (i32.const 4)))
    (loop $z
      (if (i32.load (local.get $a))
        (then (local.set $bad (i32.add (local.get $bad) (i32.const 1)))))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (br_if $z (i32.lt_u (local.get $a) (i32.const 589824))))
    (if (i32.ne (global.get $g32) (i32.const 0x5eed))
      (then (local.set $bad (i32.add (local.get $bad) (i32.const 1)))))
    (if (i64.ne (global.get $g64) (i64.const 0x5eed5eed5eed))
      (then (local.set $bad (i32.add (local.get $bad) (i32.const 1)))))
    (local.get $bad)))
