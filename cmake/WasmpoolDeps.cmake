# Finds every third-party dependency and fails with the Debian package to install.
# scripts/bootstrap.sh installs all of them; this file is the check.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

# wp_require_pkg(<target-suffix> <pkg-config name> <debian package>)
function(wp_require_pkg suffix module debian)
  pkg_check_modules(WP_${suffix} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT WP_${suffix}_FOUND)
    message(FATAL_ERROR "wasmpool: '${module}' not found. Install the Debian package "
                        "'${debian}' (or run scripts/bootstrap.sh).")
  endif()
  add_library(wp::${suffix} ALIAS PkgConfig::WP_${suffix})
endfunction()

wp_require_pkg(uv libuv libuv1-dev)
wp_require_pkg(jemalloc jemalloc libjemalloc-dev)
wp_require_pkg(jansson jansson libjansson-dev)
wp_require_pkg(tomlplusplus tomlplusplus libtomlplusplus-dev)
if(WASMPOOL_TESTS)
  wp_require_pkg(criterion criterion libcriterion-dev)
endif()

# http-parser ships no pkg-config file on Debian 12.
find_path(WP_HTTP_PARSER_INCLUDE http_parser.h)
find_library(WP_HTTP_PARSER_LIB http_parser)
if(NOT WP_HTTP_PARSER_INCLUDE OR NOT WP_HTTP_PARSER_LIB)
  message(FATAL_ERROR "wasmpool: http_parser.h / libhttp_parser not found. Install the "
                      "Debian package 'libhttp-parser-dev' (or run scripts/bootstrap.sh).")
endif()
add_library(wp::http_parser UNKNOWN IMPORTED GLOBAL)
set_target_properties(wp::http_parser PROPERTIES IMPORTED_LOCATION ${WP_HTTP_PARSER_LIB}
                      INTERFACE_INCLUDE_DIRECTORIES ${WP_HTTP_PARSER_INCLUDE})

# wasm2c and its runtime header come from wabt; compile-time tools for guests too.
find_program(WP_WASM2C wasm2c)
find_program(WP_WAT2WASM wat2wasm)
find_program(WP_WAST2JSON wast2json)
find_path(WP_WASM_RT_INCLUDE wasm-rt.h)
if(NOT WP_WASM2C OR NOT WP_WAT2WASM OR NOT WP_WAST2JSON OR NOT WP_WASM_RT_INCLUDE)
  message(FATAL_ERROR "wasmpool: wasm2c / wat2wasm / wast2json / wasm-rt.h not found. "
                      "Install the Debian package 'wabt' (or run scripts/bootstrap.sh).")
endif()

# Guest C examples are built with clang for wasm32-wasi (wasi-libc + wasm32 builtins).
find_program(WP_CLANG clang)
if(NOT WP_CLANG OR NOT EXISTS /usr/include/wasm32-wasi/stdio.h)
  message(FATAL_ERROR "wasmpool: clang with wasi-libc not found. Install the Debian "
                      "packages 'clang', 'lld', 'wasi-libc' and 'libclang-rt-14-dev-wasm32'.")
endif()

# wp_add_criterion_test(<name> SOURCES <files...> LIBS <targets...>)
# One Criterion executable per source file under test, registered with CTest.
function(wp_add_criterion_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} wp::criterion Threads::Threads)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name} --jobs 1)
  set_tests_properties(${name} PROPERTIES TIMEOUT 300)
endfunction()
