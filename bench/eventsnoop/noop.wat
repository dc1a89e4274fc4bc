;; noop.wat: the no-op function of `hearth bench events`. It answers every
;; request with status 200 and no body, and does nothing else: no log, no
;; copy of the request, so that what the bench times is hearth's own work.
;; The binary interface is docs/abi.md's (see also examples/wat-echo).
(module
  (memory (export "memory") 2)

  ;; $heap is the next free byte: the host asks for a request buffer only
  ;; when it needs a larger one, so a bump allocator is enough.
  (global $heap (mut i32) (i32.const 65536))

  ;; hearth_alloc(n) -> ptr: a buffer the host writes requests into, or 0.
  (func (export "hearth_alloc") (param $n i32) (result i32)
    (local $ptr i32) (local $end i32)
    (local.set $ptr (global.get $heap))
    (local.set $end (i32.add (local.get $ptr) (local.get $n)))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq
              (memory.grow (i32.sub
                (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16))
                (memory.size)))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (local.get $ptr))

  ;; hearth_handle(req, len) -> ptr<<32 | len of the response: a 24-byte
  ;; response header at 1024 (version 1, status 200, no headers, no body,
  ;; no error).
  (func (export "hearth_handle") (param $req i32) (param $len i32) (result i64)
    (i32.store offset=0 (i32.const 1024) (i32.const 1))
    (i32.store offset=4 (i32.const 1024) (i32.const 200))
    (i64.store offset=8 (i32.const 1024) (i64.const 0))
    (i64.store offset=16 (i32.const 1024) (i64.const 0))
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 24)))
)
