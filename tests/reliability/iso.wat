;; iso.wat — the isolation probe (test_isolation.py). The test replaces
;; @DATA@ with a data segment of 16 bytes of its own at address 0, or with
;; nothing (a module without an image), @MEM@ with the initial memory pages,
;; @MAX@ with the maximum (which picks the slot class when the pool has small
;; slots) and @TAB@ with the initial table size, so several distinct modules
;; (different images or none, artifacts, shapes and slot classes) come from
;; this one text.
;;
;;   plant(secret: i64, pages: i32) -> i32
;;       grows memory by `pages`, writes `secret` into every 8-byte word of
;;       all of memory (the data segment too), into the mutable globals, and
;;       a function reference into every table element (and grows the table);
;;       returns the memory size in pages
;;   plant_trap(secret, pages)      plant, then trap: the slot is released by
;;                                  the trap path instead of a clean return
;;   plant_spin(secret, pages)      plant, then loop until the deadline
;;                                  interrupts it (the instance is discarded)
;;   scan(pages: i32, tag0: i64, tag1: i64) -> i64
;;       what a fresh instance must see: memory.size @MEM@ pages, then after
;;       growing by `pages` every word zero except the 16-byte data segment
;;       (tag0, tag1 little-endian; both 0 without one: then every word
;;       must be zero); globals at their initial zero; the table
;;       back to @TAB@ elements with only element 0 set. Returns the number of
;;       findings (0 = nothing leaked). The whole scan runs in the guest.
(module
  (type $ret_i32 (func (result i32)))
  (memory (export "memory") @MEM@ @MAX@)
  (table $t @TAB@ 64 funcref)
  (elem (i32.const 0) $f0)
  (elem declare func $f1)
  (global $g32 (mut i32) (i32.const 0))
  (global $g64 (export "g64") (mut i64) (i64.const 0))
  (global $gf (mut f64) (f64.const 0))
  @DATA@

  (func $f0 (result i32) (i32.const 7))
  (func $f1 (result i32) (i32.const 11))

  (func $plant (export "plant") (param $s i64) (param $pages i32) (result i32)
    (local $a i32) (local $end i32) (local $i i32)
    (drop (memory.grow (local.get $pages)))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (block $done
      (loop $fill
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (i64.store (local.get $a) (local.get $s))
        (local.set $a (i32.add (local.get $a) (i32.const 8)))
        (br $fill)))
    (global.set $g32 (i32.wrap_i64 (local.get $s)))
    (global.set $g64 (local.get $s))
    (global.set $gf (f64.reinterpret_i64 (local.get $s)))
    (local.set $i (i32.const 1))
    (block $tdone
      (loop $tfill
        (br_if $tdone (i32.ge_u (local.get $i) (table.size $t)))
        (table.set $t (local.get $i) (ref.func $f1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tfill)))
    (drop (table.grow $t (ref.func $f1) (i32.const 8)))
    (memory.size))

  (func (export "plant_trap") (param $s i64) (param $pages i32)
    (drop (call $plant (local.get $s) (local.get $pages)))
    (unreachable))

  (func (export "plant_spin") (param $s i64) (param $pages i32)
    (drop (call $plant (local.get $s) (local.get $pages)))
    (loop $forever (br $forever)))

  (func (export "scan") (param $pages i32) (param $tag0 i64) (param $tag1 i64) (result i64)
    (local $n i64) (local $a i32) (local $end i32) (local $i i32)
    (if (i32.ne (memory.size) (i32.const @MEM@))
      (then (local.set $n (i64.add (local.get $n) (i64.const 1000)))))
    (if (i32.ne (memory.grow (local.get $pages)) (i32.const @MEM@))
      (then (local.set $n (i64.add (local.get $n) (i64.const 1000)))))
    (if (i64.ne (i64.load (i32.const 0)) (local.get $tag0))
      (then (local.set $n (i64.add (local.get $n) (i64.const 1)))))
    (if (i64.ne (i64.load (i32.const 8)) (local.get $tag1))
      (then (local.set $n (i64.add (local.get $n) (i64.const 1)))))
    (local.set $a (i32.const 16))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (if (i64.ne (i64.load (local.get $a)) (i64.const 0))
          (then (local.set $n (i64.add (local.get $n) (i64.const 1)))))
        (local.set $a (i32.add (local.get $a) (i32.const 8)))
        (br $scan)))
    (if (i32.ne (global.get $g32) (i32.const 0))
      (then (local.set $n (i64.add (local.get $n) (i64.const 1)))))
    (if (i64.ne (global.get $g64) (i64.const 0))
      (then (local.set $n (i64.add (local.get $n) (i64.const 1)))))
    (if (i64.ne (i64.reinterpret_f64 (global.get $gf)) (i64.const 0))
      (then (local.set $n (i64.add (local.get $n) (i64.const 1)))))
    (if (i32.ne (table.size $t) (i32.const @TAB@))
      (then (local.set $n (i64.add (local.get $n) (i64.const 1000)))))
    (if (ref.is_null (table.get $t (i32.const 0)))
      (then (local.set $n (i64.add (local.get $n) (i64.const 1)))))
    (local.set $i (i32.const 1))
    (block $tdone
      (loop $tscan
        (br_if $tdone (i32.ge_u (local.get $i) (table.size $t)))
        (if (i32.eqz (ref.is_null (table.get $t (local.get $i))))
          (then (local.set $n (i64.add (local.get $n) (i64.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tscan)))
    (local.get $n)))
