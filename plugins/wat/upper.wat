;; upper: ASCII-uppercases the whole region in place, like plugins/upper.
;;
;; A hand-written core module in the lowered canonical ABI of the mmhost
;; `transform` world (wit/mmhost.wit); mmhost wraps it into a component when
;; it loads it (or ahead of time: `mmhost wrap upper.wat -o upper.wasm`).
;; Needs a writable run (--in-place or --output). Reads and writes 1 MiB at a
;; time, 16 bytes per step with SIMD.
(module
  (import "mmhost:plugin/region@0.1.0" "size" (func $size (result i64)))
  (import "mmhost:plugin/region@0.1.0" "writable" (func $writable (result i32)))
  ;; read(at: s64, len: u64) -> result<list<u8>, error>, result in memory at $ret:
  ;; [ret+0] 0 = ok / 1 = err, [ret+8] list pointer, [ret+12] list length.
  (import "mmhost:plugin/region@0.1.0" "read" (func $read (param i64 i64 i32)))
  ;; write(at: s64, data: list<u8>) -> result<_, error>, [ret+0] 0 = ok.
  (import "mmhost:plugin/region@0.1.0" "write" (func $write (param i64 i32 i32 i32)))

  (memory (export "memory") 1)

  ;; 0..64: return area of read and write; 64..76: return area of run.
  (global $heap_start i32 (i32.const 1024))
  (global $hp (mut i32) (i32.const 1024))
  (data (i32.const 256) "region is read-only (run with --in-place or --output)")
  (data (i32.const 384) "upper: a region call failed")

  ;; A bump allocator for what the host passes in (the run arguments, read
  ;; results); $reset frees everything at once between chunks.
  (func (export "cabi_realloc") (param $old i32) (param $old_size i32)
        (param $align i32) (param $size i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (i32.and (i32.add (global.get $hp) (i32.sub (local.get $align) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $p) (local.get $size)))
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $end)
                        (i32.shl (memory.size) (i32.const 16))) (i32.const 0xffff)) (i32.const 16)))
                    (i32.const -1))
          (then unreachable))))
    (if (local.get $old_size)
      (then (memory.copy (local.get $p) (local.get $old) (local.get $old_size))))
    (global.set $hp (local.get $end))
    (local.get $p))

  ;; Uppercases len bytes at p: 16 at a time, then the rest one by one.
  (func $uppercase (param $p i32) (param $len i32)
    (local $end i32) (local $v v128) (local $b i32)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (block $done16
      (loop $simd
        (br_if $done16 (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (local.set $v (v128.load (local.get $p)))
        ;; lowercase iff (b - 'a') < 26 unsigned; subtract 32 there.
        (v128.store (local.get $p)
          (i8x16.sub (local.get $v)
            (v128.and (i8x16.lt_u (i8x16.sub (local.get $v) (i8x16.splat (i32.const 97)))
                                  (i8x16.splat (i32.const 26)))
                      (i8x16.splat (i32.const 32)))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $simd)))
    (block $done
      (loop $scalar
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $b (i32.load8_u (local.get $p)))
        (if (i32.lt_u (i32.sub (local.get $b) (i32.const 97)) (i32.const 26))
          (then (i32.store8 (local.get $p) (i32.sub (local.get $b) (i32.const 32)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $scalar))))

  ;; run(args: list<string>) -> result<string, string>: returns a pointer to
  ;; [0] 0 = ok / 1 = err, [4] string pointer, [8] string length.
  (func (export "run") (param $args i32) (param $nargs i32) (result i32)
    (local $size i64) (local $pos i64) (local $len i64) (local $ptr i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (i32.const 0))
    (i32.store (i32.const 72) (i32.const 0))
    (if (i32.eqz (call $writable))
      (then (return (call $err (i32.const 256) (i32.const 53)))))
    (local.set $size (call $size))
    (block $done
      (loop $chunks
        (br_if $done (i64.ge_u (local.get $pos) (local.get $size)))
        (global.set $hp (global.get $heap_start))
        (local.set $len (i64.sub (local.get $size) (local.get $pos)))
        (if (i64.gt_u (local.get $len) (i64.const 1048576))
          (then (local.set $len (i64.const 1048576))))
        (call $read (local.get $pos) (local.get $len) (i32.const 0))
        (if (i32.load8_u (i32.const 0))
          (then (return (call $err (i32.const 384) (i32.const 27)))))
        (local.set $ptr (i32.load (i32.const 8)))
        (call $uppercase (local.get $ptr) (i32.wrap_i64 (local.get $len)))
        (call $write (local.get $pos) (local.get $ptr) (i32.wrap_i64 (local.get $len)) (i32.const 0))
        (if (i32.load8_u (i32.const 0))
          (then (return (call $err (i32.const 384) (i32.const 27)))))
        (local.set $pos (i64.add (local.get $pos) (local.get $len)))
        (br $chunks)))
    (i32.const 64))

  (func $err (param $msg i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 1))
    (i32.store (i32.const 68) (local.get $msg))
    (i32.store (i32.const 72) (local.get $len))
    (i32.const 64))
)
