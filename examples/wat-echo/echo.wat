;; echo.wat: a hearth reactor written by hand in the WebAssembly text format,
;; to show that the binary interface (docs/abi.md) needs no SDK. It answers
;; every request with status 200 and the request body, and logs one line per
;; request through the hearth host module.
;;
;;   wat2wasm echo.wat -o echo.wasm
;;   hearth deploy wat-echo --wasm echo.wasm
;;   hearth invoke wat-echo --data hello        # hello
(module
  ;; log(level, msg, msg_len): level 0 is INFO.
  (import "hearth" "log" (func $log (param i32 i32 i32)))

  (memory (export "memory") 2)
  (data (i32.const 1024) "echoing a request")

  ;; $heap is the next free byte: a bump allocator that never frees, which is
  ;; enough because the host reuses the request buffer and $out is reused.
  (global $heap (mut i32) (i32.const 65536))
  (global $out (mut i32) (i32.const 0))
  (global $out_cap (mut i32) (i32.const 0))

  ;; reserve returns n fresh bytes, growing memory as needed, or 0.
  (func $reserve (param $n i32) (result i32)
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

  ;; hearth_alloc(n) -> ptr: a buffer the host writes requests into.
  (func (export "hearth_alloc") (param $n i32) (result i32)
    (call $reserve (local.get $n)))

  ;; hearth_handle(req, len) -> ptr<<32 | len of the response.
  (func (export "hearth_handle") (param $req i32) (param $len i32) (result i64)
    (local $body i32) (local $body_len i32) (local $size i32)
    (call $log (i32.const 0) (i32.const 1024) (i32.const 17))
    ;; The body follows the 28-byte header and the id, method, path, query
    ;; and headers fields, whose lengths are the header's words 1 to 5.
    (local.set $body (i32.add (local.get $req) (i32.const 28)))
    (local.set $body (i32.add (local.get $body) (i32.load offset=4 (local.get $req))))
    (local.set $body (i32.add (local.get $body) (i32.load offset=8 (local.get $req))))
    (local.set $body (i32.add (local.get $body) (i32.load offset=12 (local.get $req))))
    (local.set $body (i32.add (local.get $body) (i32.load offset=16 (local.get $req))))
    (local.set $body (i32.add (local.get $body) (i32.load offset=20 (local.get $req))))
    (local.set $body_len (i32.load offset=24 (local.get $req)))

    ;; The response: a 24-byte header, then the body.
    (local.set $size (i32.add (i32.const 24) (local.get $body_len)))
    (if (i32.gt_u (local.get $size) (global.get $out_cap))
      (then
        (global.set $out (call $reserve (local.get $size)))
        (if (i32.eqz (global.get $out)) (then unreachable))
        (global.set $out_cap (local.get $size))))
    (i32.store offset=0 (global.get $out) (i32.const 1))            ;; version
    (i32.store offset=4 (global.get $out) (i32.const 200))          ;; status
    (i32.store offset=8 (global.get $out) (i32.const 0))            ;; headers
    (i32.store offset=12 (global.get $out) (local.get $body_len))   ;; body
    (i32.store offset=16 (global.get $out) (i32.const 0))           ;; error type
    (i32.store offset=20 (global.get $out) (i32.const 0))           ;; error message
    (memory.copy (i32.add (global.get $out) (i32.const 24)) (local.get $body) (local.get $body_len))
    (i64.or
      (i64.shl (i64.extend_i32_u (global.get $out)) (i64.const 32))
      (i64.extend_i32_u (local.get $size))))
)
