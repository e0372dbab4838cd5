;; count PATTERN: prints the number of non-overlapping occurrences of PATTERN
;; in the region, like plugins/count and Python's bytes.count (matches taken
;; greedily from the left; an empty pattern counts size + 1). Matches that
;; straddle chunk or file boundaries count.
;;
;; A hand-written core module in the lowered canonical ABI of the mmhost
;; `transform` world; mmhost wraps it into a component when it loads it.
;; Reads 1 MiB of new bytes at a time; each chunk after the first also starts
;; with the previous chunk's last len(PATTERN) - 1 bytes, so every occurrence
;; lies whole in one chunk, and a match is counted only if it starts at or
;; after the end of the last one counted ($next, global).
(module
  (import "mmhost:plugin/region@0.1.0" "size" (func $size (result i64)))
  ;; read(at: s64, len: u64) -> result<list<u8>, error> at $ret:
  ;; [ret+0] 0 = ok / 1 = err, [ret+8] list pointer, [ret+12] list length.
  (import "mmhost:plugin/region@0.1.0" "read" (func $read (param i64 i64 i32)))

  (memory (export "memory") 1)

  ;; 0..64: read's return area; 64..76: run's; 128..148: decimal digits.
  (global $hp (mut i32) (i32.const 1024))
  (data (i32.const 256) "usage: count PATTERN")
  (data (i32.const 384) "count: a region read failed")

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

  ;; Whether the n bytes at a equal the n bytes at b.
  (func $equal (param $a i32) (param $b i32) (param $n i32) (result i32)
    (block $differ
      (loop $bytes
        (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
        (br_if $differ (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $bytes)))
    (i32.const 0))

  (func (export "run") (param $args i32) (param $nargs i32) (result i32)
    (local $pat i32) (local $n i32) (local $heap i32)
    (local $size i64) (local $pos i64) (local $from i64) (local $end i64)
    (local $next i64) (local $count i64)
    (local $buf i32) (local $len i32) (local $i i32) (local $last i32)
    (if (i32.ne (local.get $nargs) (i32.const 1))
      (then
        (i32.store8 (i32.const 64) (i32.const 1))
        (i32.store (i32.const 68) (i32.const 256))
        (i32.store (i32.const 72) (i32.const 20))
        (return (i32.const 64))))
    (local.set $pat (i32.load (local.get $args)))
    (local.set $n (i32.load offset=4 (local.get $args)))
    ;; Chunks go above the arguments; the heap is reset for each.
    (local.set $heap (global.get $hp))
    (local.set $size (call $size))
    (if (i32.eqz (local.get $n))
      (then (return (call $ok (i64.add (local.get $size) (i64.const 1))))))
    (block $done
      (loop $chunks
        (br_if $done (i64.ge_u (local.get $pos) (local.get $size)))
        (global.set $hp (local.get $heap))
        (local.set $end (i64.add (local.get $pos) (i64.const 1048576)))
        (if (i64.gt_u (local.get $end) (local.get $size))
          (then (local.set $end (local.get $size))))
        ;; from = pos - (n - 1), but never before 0.
        (local.set $from (i64.sub (local.get $pos) (i64.extend_i32_u (i32.sub (local.get $n) (i32.const 1)))))
        (if (i64.lt_s (local.get $from) (i64.const 0))
          (then (local.set $from (i64.const 0))))
        (call $read (local.get $from) (i64.sub (local.get $end) (local.get $from)) (i32.const 0))
        (if (i32.load8_u (i32.const 0))
          (then
            (i32.store8 (i32.const 64) (i32.const 1))
            (i32.store (i32.const 68) (i32.const 384))
            (i32.store (i32.const 72) (i32.const 27))
            (return (i32.const 64))))
        (local.set $buf (i32.load (i32.const 8)))
        (local.set $len (i32.load (i32.const 12)))
        ;; Search from max(next - from, 0) to the last start that fits.
        (local.set $i (i32.const 0))
        (if (i64.gt_u (local.get $next) (local.get $from))
          (then (local.set $i (i32.wrap_i64 (i64.sub (local.get $next) (local.get $from))))))
        (if (i32.ge_u (local.get $len) (local.get $n))
          (then
            (local.set $last (i32.sub (local.get $len) (local.get $n)))
            (block $searched
              (loop $search
                (br_if $searched (i32.gt_u (local.get $i) (local.get $last)))
                (if (call $equal (i32.add (local.get $buf) (local.get $i)) (local.get $pat) (local.get $n))
                  (then
                    (local.set $count (i64.add (local.get $count) (i64.const 1)))
                    (local.set $i (i32.add (local.get $i) (local.get $n)))
                    (local.set $next (i64.add (local.get $from) (i64.extend_i32_u (local.get $i)))))
                  (else (local.set $i (i32.add (local.get $i) (i32.const 1)))))
                (br $search)))))
        (local.set $pos (local.get $end))
        (br $chunks)))
    (call $ok (local.get $count)))

  ;; Returns ok(decimal of v), the digits at 128..148.
  (func $ok (param $v i64) (result i32)
    (local $p i32)
    (local.set $p (i32.const 148))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $v) (i64.const 0))))
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (local.get $p))
    (i32.store (i32.const 72) (i32.sub (i32.const 148) (local.get $p)))
    (i32.const 64))
)
