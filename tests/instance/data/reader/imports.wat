;; Imports the host partly provides; two names carry odd bytes.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (import "env" "missing_func" (func))
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (import "\00odd" "tab\09\7f" (global i32))
  (import "env" "memory" (memory 1)))
