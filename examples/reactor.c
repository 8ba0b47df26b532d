/* reactor.c — WASI reactor (built with -mexec-model=reactor): it exports
 * _initialize instead of _start, and the runtime must run _initialize at
 * instantiation. The constructor below runs from _initialize, so
 * initialized() tells a test whether that happened.
 *
 *   initialized() -> i32   1 if _initialize ran, else 0
 *   bump() -> i32          increments and returns a counter (instance state)
 */
static int ready;
static int counter;

__attribute__((constructor)) static void on_initialize(void) {
  ready = 1;
}

__attribute__((export_name("initialized"))) int initialized(void) {
  return ready;
}

__attribute__((export_name("bump"))) int bump(void) {
  return ++counter;
}
