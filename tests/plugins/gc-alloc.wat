;; gc-alloc MODE MIB: allocates MIB arrays of 1 MiB on the GC heap (the wasm
;; GC proposal), one after another. MODE `keep` links each into a list, so
;; all stay reachable (MIB MiB live at the end); MODE `drop` lets each go
;; before the next (one live at a time). Returns the sum of one byte per
;; array. Test plugin of tests/gc.rs: the GC heap is held to --max-memory.
(module
  (type $bytes (array (mut i8)))
  (type $node (struct (field $next (ref null $node)) (field $data (ref $bytes))))
  (memory (export "memory") 1)
  (global $hp (mut i32) (i32.const 1024))
  (global $list (mut (ref null $node)) (ref.null $node))
  (data (i32.const 256) "usage: gc-alloc keep|drop MIB")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $hp) (i32.sub (local.get 2) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get 2))))
    (global.set $hp (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  (func (export "run") (param $args i32) (param $nargs i32) (result i32)
    (local $keep i32) (local $n i32) (local $i i32) (local $p i32) (local $end i32)
    (local $a (ref null $bytes)) (local $sum i32)
    (if (i32.ne (local.get $nargs) (i32.const 2))
      (then
        (i32.store8 (i32.const 64) (i32.const 1))
        (i32.store (i32.const 68) (i32.const 256))
        (i32.store (i32.const 72) (i32.const 29))
        (return (i32.const 64))))
    ;; MODE: "keep" starts with 'k'.
    (local.set $keep (i32.eq (i32.load8_u (i32.load (local.get $args))) (i32.const 107)))
    ;; MIB in decimal.
    (local.set $p (i32.load offset=8 (local.get $args)))
    (local.set $end (i32.add (local.get $p) (i32.load offset=12 (local.get $args))))
    (block $d (loop $digits
      (br_if $d (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 10))
                             (i32.sub (i32.load8_u (local.get $p)) (i32.const 48))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $digits)))
    (block $done (loop $alloc
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $a (array.new $bytes (i32.const 1) (i32.const 1048576)))
      (if (local.get $keep)
        (then (global.set $list (struct.new $node (global.get $list) (ref.as_non_null (local.get $a))))))
      (local.set $sum (i32.add (local.get $sum)
        (array.get_u $bytes (local.get $a) (i32.const 1048575))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $alloc)))
    ;; ok(decimal of sum) at 128..148.
    (local.set $p (i32.const 148))
    (loop $out
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $sum) (i32.const 10))))
      (local.set $sum (i32.div_u (local.get $sum) (i32.const 10)))
      (br_if $out (local.get $sum)))
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (local.get $p))
    (i32.store (i32.const 72) (i32.sub (i32.const 148) (local.get $p)))
    (i32.const 64))
)
