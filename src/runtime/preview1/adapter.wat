;; mmhost's WASI preview 1 adapter: every `wasi_snapshot_preview1` function,
;; for core modules wrapped into components (see src/runtime/preview1.rs).
;;
;; It allocates nothing and keeps no state: it works on the memory and the
;; pointers the module passes, answers what the sandbox makes constant by
;; itself (no arguments, no environment, no preopened directories, no files
;; or sockets, a wall clock at 0) and calls the host (`adapter.wit`) for the
;; monotonic clock, sleeping, random bytes, stdout/stderr and exit.
;;
;; errno values: 0 success, 8 badf, 28 inval, 52 nosys, 70 spipe.
(module
  (import "env" "memory" (memory 0))
  (import "mmhost:wasip1/calls@0.1.0" "monotonic-now" (func $now (result i64)))
  (import "mmhost:wasip1/calls@0.1.0" "sleep-until" (func $sleep_until (param i64)))
  (import "mmhost:wasip1/calls@0.1.0" "random-u64" (func $random (result i64)))
  (import "mmhost:wasip1/calls@0.1.0" "write" (func $write (param i32 i32 i32)))
  (import "mmhost:wasip1/calls@0.1.0" "exit" (func $exit (param i32)))

  ;; Whether fd is stdin, stdout or stderr.
  (func $stdio (param $fd i32) (result i32)
    (i32.lt_u (local.get $fd) (i32.const 3)))

  ;; badf for any descriptor but stdio, and `stdio` for those.
  (func $stdio_or_badf (param $fd i32) (param $stdio i32) (result i32)
    (select (local.get $stdio) (i32.const 8) (call $stdio (local.get $fd))))

  ;; No arguments and no environment.
  (func (export "args_sizes_get") (param $count i32) (param $size i32) (result i32)
    (i32.store (local.get $count) (i32.const 0))
    (i32.store (local.get $size) (i32.const 0))
    (i32.const 0))
  (func (export "args_get") (param i32 i32) (result i32)
    (i32.const 0))
  (func (export "environ_sizes_get") (param $count i32) (param $size i32) (result i32)
    (i32.store (local.get $count) (i32.const 0))
    (i32.store (local.get $size) (i32.const 0))
    (i32.const 0))
  (func (export "environ_get") (param i32 i32) (result i32)
    (i32.const 0))

  ;; Clock 0 (realtime) stands at 0 with a resolution of a second; clock 1
  ;; (monotonic) is the host's; the CPU-time clocks do not exist.
  (func (export "clock_res_get") (param $id i32) (param $out i32) (result i32)
    (if (i32.eqz (local.get $id))
      (then
        (i64.store (local.get $out) (i64.const 1000000000))
        (return (i32.const 0))))
    (if (i32.eq (local.get $id) (i32.const 1))
      (then
        (i64.store (local.get $out) (i64.const 1))
        (return (i32.const 0))))
    (i32.const 28))
  (func (export "clock_time_get") (param $id i32) (param $precision i64) (param $out i32) (result i32)
    (if (i32.eqz (local.get $id))
      (then
        (i64.store (local.get $out) (i64.const 0))
        (return (i32.const 0))))
    (if (i32.eq (local.get $id) (i32.const 1))
      (then
        (i64.store (local.get $out) (call $now))
        (return (i32.const 0))))
    (i32.const 28))

  ;; stdout and stderr: every iovec's bytes to the host, all written.
  (func (export "fd_write") (param $fd i32) (param $iovs i32) (param $n i32) (param $written i32) (result i32)
    (local $len i32) (local $total i32)
    (if (i32.and (i32.ne (local.get $fd) (i32.const 1)) (i32.ne (local.get $fd) (i32.const 2)))
      (then (return (i32.const 8))))
    (block $done
      (loop $each
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $len (i32.load offset=4 (local.get $iovs)))
        (if (local.get $len)
          (then (call $write (local.get $fd) (i32.load (local.get $iovs)) (local.get $len))))
        (local.set $total (i32.add (local.get $total) (local.get $len)))
        (local.set $iovs (i32.add (local.get $iovs) (i32.const 8)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $each)))
    (i32.store (local.get $written) (local.get $total))
    (i32.const 0))

  ;; stdin is empty: a read reads nothing (end of file).
  (func (export "fd_read") (param $fd i32) (param i32 i32) (param $read i32) (result i32)
    (if (local.get $fd) (then (return (i32.const 8))))
    (i32.store (local.get $read) (i32.const 0))
    (i32.const 0))

  ;; stdio are character devices, readable (0) or writable (1, 2).
  (func (export "fd_fdstat_get") (param $fd i32) (param $out i32) (result i32)
    (if (i32.eqz (call $stdio (local.get $fd))) (then (return (i32.const 8))))
    ;; filetype 2 (character device) at 0, no flags at 2.
    (i64.store (local.get $out) (i64.const 2))
    ;; rights: fd_read (1 << 1) or fd_write (1 << 6), and poll_fd_readwrite
    ;; (1 << 27).
    (i64.store offset=8 (local.get $out)
      (select (i64.const 0x8000002) (i64.const 0x8000040) (i32.eqz (local.get $fd))))
    (i64.store offset=16 (local.get $out) (i64.const 0))
    (i32.const 0))
  (func (export "fd_filestat_get") (param $fd i32) (param $out i32) (result i32)
    (if (i32.eqz (call $stdio (local.get $fd))) (then (return (i32.const 8))))
    (memory.fill (local.get $out) (i32.const 0) (i32.const 64))
    (i32.store8 offset=16 (local.get $out) (i32.const 2))
    (i32.const 0))
  (func (export "fd_fdstat_set_flags") (param $fd i32) (param i32) (result i32)
    (call $stdio_or_badf (local.get $fd) (i32.const 0)))
  (func (export "fd_close") (param $fd i32) (result i32)
    (call $stdio_or_badf (local.get $fd) (i32.const 0)))
  (func (export "fd_seek") (param $fd i32) (param i64 i32 i32) (result i32)
    (call $stdio_or_badf (local.get $fd) (i32.const 70)))
  (func (export "fd_tell") (param $fd i32) (param i32) (result i32)
    (call $stdio_or_badf (local.get $fd) (i32.const 70)))
  (func (export "fd_pread") (param $fd i32) (param i32 i32 i64 i32) (result i32)
    (call $stdio_or_badf (local.get $fd) (i32.const 70)))
  (func (export "fd_pwrite") (param $fd i32) (param i32 i32 i64 i32) (result i32)
    (call $stdio_or_badf (local.get $fd) (i32.const 70)))
  (func (export "fd_sync") (param $fd i32) (result i32)
    (call $stdio_or_badf (local.get $fd) (i32.const 28)))
  (func (export "fd_datasync") (param $fd i32) (result i32)
    (call $stdio_or_badf (local.get $fd) (i32.const 28)))

  ;; No other descriptor exists: no preopened directory, no file, no socket.
  (func (export "fd_advise") (param i32 i64 i64 i32) (result i32) (i32.const 8))
  (func (export "fd_allocate") (param i32 i64 i64) (result i32) (i32.const 8))
  (func (export "fd_fdstat_set_rights") (param i32 i64 i64) (result i32) (i32.const 8))
  (func (export "fd_filestat_set_size") (param i32 i64) (result i32) (i32.const 8))
  (func (export "fd_filestat_set_times") (param i32 i64 i64 i32) (result i32) (i32.const 8))
  (func (export "fd_prestat_get") (param i32 i32) (result i32) (i32.const 8))
  (func (export "fd_prestat_dir_name") (param i32 i32 i32) (result i32) (i32.const 8))
  (func (export "fd_readdir") (param i32 i32 i32 i64 i32) (result i32) (i32.const 8))
  (func (export "fd_renumber") (param i32 i32) (result i32) (i32.const 8))
  (func (export "path_create_directory") (param i32 i32 i32) (result i32) (i32.const 8))
  (func (export "path_filestat_get") (param i32 i32 i32 i32 i32) (result i32) (i32.const 8))
  (func (export "path_filestat_set_times") (param i32 i32 i32 i32 i64 i64 i32) (result i32) (i32.const 8))
  (func (export "path_link") (param i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 8))
  (func (export "path_open") (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32) (i32.const 8))
  (func (export "path_readlink") (param i32 i32 i32 i32 i32 i32) (result i32) (i32.const 8))
  (func (export "path_remove_directory") (param i32 i32 i32) (result i32) (i32.const 8))
  (func (export "path_rename") (param i32 i32 i32 i32 i32 i32) (result i32) (i32.const 8))
  (func (export "path_symlink") (param i32 i32 i32 i32 i32) (result i32) (i32.const 8))
  (func (export "path_unlink_file") (param i32 i32 i32) (result i32) (i32.const 8))
  (func (export "sock_accept") (param i32 i32 i32) (result i32) (i32.const 8))
  (func (export "sock_recv") (param i32 i32 i32 i32 i32 i32) (result i32) (i32.const 8))
  (func (export "sock_send") (param i32 i32 i32 i32 i32) (result i32) (i32.const 8))
  (func (export "sock_shutdown") (param i32 i32) (result i32) (i32.const 8))

  ;; Subscriptions (48 bytes: userdata at 0, tag at 8; a clock's id at 16,
  ;; timeout at 24, flags at 40; a descriptor's fd at 16) and events (32
  ;; bytes: userdata at 0, error at 8, type at 10). Descriptor
  ;; subscriptions are answered at once: stdin readable (at its end),
  ;; stdout and stderr writable, any other fd badf. Only when there are
  ;; none does it sleep, until the earliest clock (the host ends the sleep
  ;; at the run's deadline), and report that clock.
  (func (export "poll_oneoff") (param $in i32) (param $out i32) (param $nsubs i32) (param $nevents i32) (result i32)
    (local $i i32) (local $s i32) (local $e i32) (local $n i32) (local $tag i32) (local $fd i32)
    (local $now i64) (local $at i64) (local $earliest i64) (local $first i32)
    (if (i32.eqz (local.get $nsubs)) (then (return (i32.const 28))))
    (local.set $now (call $now))
    (local.set $earliest (i64.const -1))
    (local.set $e (local.get $out))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $nsubs)))
        (local.set $s (i32.add (local.get $in) (i32.mul (local.get $i) (i32.const 48))))
        (local.set $tag (i32.load8_u offset=8 (local.get $s)))
        (if (i32.eqz (local.get $tag))
          (then
            ;; An absolute time on the monotonic clock; anything else (the
            ;; realtime clock stands at 0) counts from now, saturating.
            (local.set $at (i64.load offset=24 (local.get $s)))
            (if (i32.eqz (i32.and
                  (i32.and (i32.load16_u offset=40 (local.get $s)) (i32.const 1))
                  (i32.eq (i32.load offset=16 (local.get $s)) (i32.const 1))))
              (then
                (local.set $at (i64.add (local.get $now) (local.get $at)))
                (if (i64.lt_u (local.get $at) (local.get $now))
                  (then (local.set $at (i64.const -1))))))
            (if (i64.lt_u (local.get $at) (local.get $earliest))
              (then
                (local.set $earliest (local.get $at))
                (local.set $first (local.get $s)))))
          (else
            (local.set $fd (i32.load offset=16 (local.get $s)))
            (i64.store (local.get $e) (i64.load (local.get $s)))
            (i64.store offset=8 (local.get $e) (i64.const 0))
            (i64.store offset=16 (local.get $e) (i64.const 0))
            (i64.store offset=24 (local.get $e) (i64.const 0))
            (i32.store16 offset=8 (local.get $e)
              (select (i32.const 0) (i32.const 8)
                (i32.or
                  (i32.and (i32.eq (local.get $tag) (i32.const 1)) (i32.eqz (local.get $fd)))
                  (i32.and (i32.eq (local.get $tag) (i32.const 2))
                    (i32.or (i32.eq (local.get $fd) (i32.const 1)) (i32.eq (local.get $fd) (i32.const 2)))))))
            (i32.store8 offset=10 (local.get $e) (local.get $tag))
            (local.set $e (i32.add (local.get $e) (i32.const 32)))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (if (i32.eqz (local.get $n))
      (then
        (if (i64.gt_u (local.get $earliest) (local.get $now))
          (then (call $sleep_until (local.get $earliest))))
        (i64.store (local.get $e) (i64.load (local.get $first)))
        (i64.store offset=8 (local.get $e) (i64.const 0))
        (i64.store offset=16 (local.get $e) (i64.const 0))
        (i64.store offset=24 (local.get $e) (i64.const 0))
        (local.set $n (i32.const 1))))
    (i32.store (local.get $nevents) (local.get $n))
    (i32.const 0))

  (func (export "proc_exit") (param $code i32)
    (call $exit (local.get $code))
    unreachable)
  (func (export "proc_raise") (param i32) (result i32)
    (i32.const 52))
  (func (export "sched_yield") (result i32)
    (i32.const 0))

  ;; Eight bytes per host call, the rest from one more.
  (func (export "random_get") (param $buf i32) (param $len i32) (result i32)
    (local $r i64)
    (block $done
      (loop $words
        (br_if $done (i32.lt_u (local.get $len) (i32.const 8)))
        (i64.store (local.get $buf) (call $random))
        (local.set $buf (i32.add (local.get $buf) (i32.const 8)))
        (local.set $len (i32.sub (local.get $len) (i32.const 8)))
        (br $words)))
    (if (local.get $len)
      (then
        (local.set $r (call $random))
        (block $end
          (loop $bytes
            (br_if $end (i32.eqz (local.get $len)))
            (i32.store8 (local.get $buf) (i32.wrap_i64 (local.get $r)))
            (local.set $r (i64.shr_u (local.get $r) (i64.const 8)))
            (local.set $buf (i32.add (local.get $buf) (i32.const 1)))
            (local.set $len (i32.sub (local.get $len) (i32.const 1)))
            (br $bytes)))))
    (i32.const 0))
)
