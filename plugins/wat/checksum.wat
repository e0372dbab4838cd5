;; checksum: prints `<sha256 hex> <size>` of the whole region, like
;; plugins/checksum.
;;
;; A hand-written core module in the lowered canonical ABI of the mmhost
;; `transform` world; mmhost wraps it into a component when it loads it.
;; SHA-256 (FIPS 180-4) over 1 MiB reads: a chunk is a whole number of
;; 64-byte blocks except the last, whose rest is padded at 768.
(module
  (import "mmhost:plugin/region@0.1.0" "size" (func $size (result i64)))
  ;; read(at: s64, len: u64) -> result<list<u8>, error> at $ret:
  ;; [ret+0] 0 = ok / 1 = err, [ret+8] list pointer, [ret+12] list length.
  (import "mmhost:plugin/region@0.1.0" "read" (func $read (param i64 i64 i32)))

  (memory (export "memory") 1)

  ;; 0..64 read's return area; 64..76 run's; 128..160 the hash state H;
  ;; 256..512 the round constants K; 512..768 the message schedule W;
  ;; 768..896 the last block(s), padded; 896..981 the output text;
  ;; 1024.. what the host allocates (reset before each read).
  (global $heap i32 (i32.const 1024))
  (global $hp (mut i32) (i32.const 1024))
  (data (i32.const 128)
    "\67\e6\09\6a\85\ae\67\bb\72\f3\6e\3c\3a\f5\4f\a5"
    "\7f\52\0e\51\8c\68\05\9b\ab\d9\83\1f\19\cd\e0\5b"  )
  (data (i32.const 256)
    "\98\2f\8a\42\91\44\37\71\cf\fb\c0\b5\a5\db\b5\e9"
    "\5b\c2\56\39\f1\11\f1\59\a4\82\3f\92\d5\5e\1c\ab"
    "\98\aa\07\d8\01\5b\83\12\be\85\31\24\c3\7d\0c\55"
    "\74\5d\be\72\fe\b1\de\80\a7\06\dc\9b\74\f1\9b\c1"
    "\c1\69\9b\e4\86\47\be\ef\c6\9d\c1\0f\cc\a1\0c\24"
    "\6f\2c\e9\2d\aa\84\74\4a\dc\a9\b0\5c\da\88\f9\76"
    "\52\51\3e\98\6d\c6\31\a8\c8\27\03\b0\c7\7f\59\bf"
    "\f3\0b\e0\c6\47\91\a7\d5\51\63\ca\06\67\29\29\14"
    "\85\0a\b7\27\38\21\1b\2e\fc\6d\2c\4d\13\0d\38\53"
    "\54\73\0a\65\bb\0a\6a\76\2e\c9\c2\81\85\2c\72\92"
    "\a1\e8\bf\a2\4b\66\1a\a8\70\8b\4b\c2\a3\51\6c\c7"
    "\19\e8\92\d1\24\06\99\d6\85\35\0e\f4\70\a0\6a\10"
    "\16\c1\a4\19\08\6c\37\1e\4c\77\48\27\b5\bc\b0\34"
    "\b3\0c\1c\39\4a\aa\d8\4e\4f\ca\9c\5b\f3\6f\2e\68"
    "\ee\82\8f\74\6f\63\a5\78\14\78\c8\84\08\02\c7\8c"
    "\fa\ff\be\90\eb\6c\50\a4\f7\a3\f9\be\f2\78\71\c6"  )
  (data (i32.const 160) "0123456789abcdef")
  (data (i32.const 192) "checksum: a region read failed")

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

  ;; The big-endian 32-bit word at p.
  (func $be32 (param $p i32) (result i32)
    (i32.or
      (i32.or (i32.shl (i32.load8_u (local.get $p)) (i32.const 24))
              (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 16)))
      (i32.or (i32.shl (i32.load8_u offset=2 (local.get $p)) (i32.const 8))
              (i32.load8_u offset=3 (local.get $p)))))

  ;; Hashes the 64-byte block at p into H.
  (func $compress (param $p i32)
    (local $i i32) (local $w i32) (local $x i32) (local $y i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32)
    (local $e i32) (local $f i32) (local $g i32) (local $h i32)
    (local $t1 i32) (local $t2 i32)
    ;; W[0..16]: the block, big-endian.
    (loop $load
      (i32.store offset=512 (i32.shl (local.get $i) (i32.const 2))
        (call $be32 (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $load (i32.lt_u (local.get $i) (i32.const 16))))
    ;; W[16..64] = W[i-16] + s0(W[i-15]) + W[i-7] + s1(W[i-2]).
    (loop $schedule
      (local.set $w (i32.add (i32.const 512) (i32.shl (local.get $i) (i32.const 2))))
      (local.set $x (i32.load (i32.sub (local.get $w) (i32.const 60))))
      (local.set $y (i32.load (i32.sub (local.get $w) (i32.const 8))))
      (i32.store (local.get $w)
        (i32.add
          (i32.add (i32.load (i32.sub (local.get $w) (i32.const 64)))
                   (i32.xor (i32.xor (i32.rotr (local.get $x) (i32.const 7))
                                     (i32.rotr (local.get $x) (i32.const 18)))
                            (i32.shr_u (local.get $x) (i32.const 3))))
          (i32.add (i32.load (i32.sub (local.get $w) (i32.const 28)))
                   (i32.xor (i32.xor (i32.rotr (local.get $y) (i32.const 17))
                                     (i32.rotr (local.get $y) (i32.const 19)))
                            (i32.shr_u (local.get $y) (i32.const 10))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $schedule (i32.lt_u (local.get $i) (i32.const 64))))
    (local.set $a (i32.load offset=128 (i32.const 0)))
    (local.set $b (i32.load offset=132 (i32.const 0)))
    (local.set $c (i32.load offset=136 (i32.const 0)))
    (local.set $d (i32.load offset=140 (i32.const 0)))
    (local.set $e (i32.load offset=144 (i32.const 0)))
    (local.set $f (i32.load offset=148 (i32.const 0)))
    (local.set $g (i32.load offset=152 (i32.const 0)))
    (local.set $h (i32.load offset=156 (i32.const 0)))
    (local.set $i (i32.const 0))
    (loop $rounds
      ;; t1 = h + S1(e) + ch(e, f, g) + K[i] + W[i]
      (local.set $t1
        (i32.add
          (i32.add (local.get $h)
                   (i32.xor (i32.xor (i32.rotr (local.get $e) (i32.const 6))
                                     (i32.rotr (local.get $e) (i32.const 11)))
                            (i32.rotr (local.get $e) (i32.const 25))))
          (i32.add
            (i32.xor (i32.and (local.get $e) (local.get $f))
                     (i32.and (i32.xor (local.get $e) (i32.const -1)) (local.get $g)))
            (i32.add (i32.load offset=256 (local.get $i))
                     (i32.load offset=512 (local.get $i))))))
      ;; t2 = S0(a) + maj(a, b, c)
      (local.set $t2
        (i32.add
          (i32.xor (i32.xor (i32.rotr (local.get $a) (i32.const 2))
                            (i32.rotr (local.get $a) (i32.const 13)))
                   (i32.rotr (local.get $a) (i32.const 22)))
          (i32.xor (i32.xor (i32.and (local.get $a) (local.get $b))
                            (i32.and (local.get $a) (local.get $c)))
                   (i32.and (local.get $b) (local.get $c)))))
      (local.set $h (local.get $g))
      (local.set $g (local.get $f))
      (local.set $f (local.get $e))
      (local.set $e (i32.add (local.get $d) (local.get $t1)))
      (local.set $d (local.get $c))
      (local.set $c (local.get $b))
      (local.set $b (local.get $a))
      (local.set $a (i32.add (local.get $t1) (local.get $t2)))
      ;; $i counts bytes: K and W are arrays of 4-byte words.
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $rounds (i32.lt_u (local.get $i) (i32.const 256))))
    (i32.store offset=128 (i32.const 0) (i32.add (i32.load offset=128 (i32.const 0)) (local.get $a)))
    (i32.store offset=132 (i32.const 0) (i32.add (i32.load offset=132 (i32.const 0)) (local.get $b)))
    (i32.store offset=136 (i32.const 0) (i32.add (i32.load offset=136 (i32.const 0)) (local.get $c)))
    (i32.store offset=140 (i32.const 0) (i32.add (i32.load offset=140 (i32.const 0)) (local.get $d)))
    (i32.store offset=144 (i32.const 0) (i32.add (i32.load offset=144 (i32.const 0)) (local.get $e)))
    (i32.store offset=148 (i32.const 0) (i32.add (i32.load offset=148 (i32.const 0)) (local.get $f)))
    (i32.store offset=152 (i32.const 0) (i32.add (i32.load offset=152 (i32.const 0)) (local.get $g)))
    (i32.store offset=156 (i32.const 0) (i32.add (i32.load offset=156 (i32.const 0)) (local.get $h))))

  (func (export "run") (param $args i32) (param $nargs i32) (result i32)
    (local $size i64) (local $pos i64) (local $len i32) (local $ptr i32)
    (local $full i32) (local $rest i32) (local $i i32) (local $bits i64)
    (local $word i32) (local $out i32) (local $v i64)
    (local.set $size (call $size))
    (block $done
      (loop $chunks
        (global.set $hp (global.get $heap))
        ;; The last chunk may be empty (size 0 or a multiple of 1 MiB): its
        ;; rest is then 0 bytes, still padded below.
        (local.set $len (i32.wrap_i64 (select (i64.sub (local.get $size) (local.get $pos))
                                              (i64.const 1048576)
                                              (i64.lt_u (i64.sub (local.get $size) (local.get $pos))
                                                        (i64.const 1048576)))))
        (call $read (local.get $pos) (i64.extend_i32_u (local.get $len)) (i32.const 0))
        (if (i32.load8_u (i32.const 0))
          (then
            (i32.store8 (i32.const 64) (i32.const 1))
            (i32.store (i32.const 68) (i32.const 192))
            (i32.store (i32.const 72) (i32.const 30))
            (return (i32.const 64))))
        (local.set $ptr (i32.load (i32.const 8)))
        (local.set $full (i32.and (local.get $len) (i32.const -64)))
        (local.set $i (i32.const 0))
        (block $blocks_done
          (loop $blocks
            (br_if $blocks_done (i32.ge_u (local.get $i) (local.get $full)))
            (call $compress (i32.add (local.get $ptr) (local.get $i)))
            (local.set $i (i32.add (local.get $i) (i32.const 64)))
            (br $blocks)))
        (local.set $pos (i64.add (local.get $pos) (i64.extend_i32_u (local.get $len))))
        (br_if $done (i32.lt_u (local.get $len) (i32.const 1048576)))
        (br $chunks)))
    ;; Padding: the rest of the last chunk, 0x80, zeros, the length in bits.
    (local.set $rest (i32.sub (local.get $len) (local.get $full)))
    (memory.fill (i32.const 768) (i32.const 0) (i32.const 128))
    (memory.copy (i32.const 768) (i32.add (local.get $ptr) (local.get $full)) (local.get $rest))
    (i32.store8 offset=768 (local.get $rest) (i32.const 0x80))
    (local.set $bits (i64.shl (local.get $size) (i64.const 3)))
    ;; One padded block if the rest leaves room for the 8 length bytes, else two.
    (local.set $i (select (i32.const 56) (i32.const 120) (i32.lt_u (local.get $rest) (i32.const 56))))
    (local.set $word (i32.const 0))
    (loop $length
      (i32.store8 offset=768
        (i32.add (local.get $i) (local.get $word))
        (i32.wrap_i64 (i64.shr_u (local.get $bits)
                                 (i64.extend_i32_u (i32.sub (i32.const 56) (i32.shl (local.get $word) (i32.const 3)))))))
      (local.set $word (i32.add (local.get $word) (i32.const 1)))
      (br_if $length (i32.lt_u (local.get $word) (i32.const 8))))
    (call $compress (i32.const 768))
    (if (i32.ge_u (local.get $rest) (i32.const 56))
      (then (call $compress (i32.const 832))))
    ;; Output: 64 hex digits of H, a space, the size in decimal.
    (local.set $out (i32.const 896))
    (local.set $i (i32.const 0))
    (loop $hex
      (local.set $word (i32.load offset=128 (i32.shl (i32.shr_u (local.get $i) (i32.const 3)) (i32.const 2))))
      (i32.store8 (i32.add (local.get $out) (local.get $i))
        (i32.load8_u offset=160
          (i32.and (i32.shr_u (local.get $word)
                              (i32.sub (i32.const 28) (i32.shl (i32.and (local.get $i) (i32.const 7)) (i32.const 2))))
                   (i32.const 15))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $hex (i32.lt_u (local.get $i) (i32.const 64))))
    (i32.store8 (i32.const 960) (i32.const 32))
    ;; The size's digits, written backwards from 981, then moved to 961.
    (local.set $v (local.get $size))
    (local.set $i (i32.const 981))
    (loop $digits
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (local.get $i) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $v) (i64.const 0))))
    (memory.copy (i32.const 961) (local.get $i) (i32.sub (i32.const 981) (local.get $i)))
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (i32.const 896))
    (i32.store (i32.const 72) (i32.add (i32.const 65) (i32.sub (i32.const 981) (local.get $i))))
    (i32.const 64))
)
