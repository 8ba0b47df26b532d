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

# The tool root: wabt 1.0.36 and SIMDe from Debian 13, unpacked by
# scripts/toolroot.sh (called from scripts/bootstrap.sh). Its binaries need
# trixie's glibc, so every tool runs through the root's own loader:
#   ${WP_TOOL_LOADER} --library-path ${WP_TOOL_LIBPATH} ${WP_TOOLROOT}/usr/bin/<tool>
# wp_tool_command(<var> <tool>) builds that command list; WP_WASM2C_CMD,
# WP_WAT2WASM_CMD and WP_WAST2JSON_CMD are made here. wasm-rt.h and simde/
# are under ${WP_TOOLROOT}/usr/include.
set(WP_TOOLROOT "${CMAKE_SOURCE_DIR}/.toolroot/root" CACHE PATH
    "Debian 13 tool root made by scripts/toolroot.sh (wabt 1.0.36, SIMDe)")
set(WP_TOOL_LIBPATH "${WP_TOOLROOT}/usr/lib/x86_64-linux-gnu")
set(WP_TOOL_LOADER "${WP_TOOL_LIBPATH}/ld-linux-x86-64.so.2")
foreach(required ${WP_TOOLROOT}/usr/bin/wasm2c ${WP_TOOL_LOADER} ${WP_TOOLROOT}/usr/include/wasm-rt.h)
  if(NOT EXISTS ${required})
    message(FATAL_ERROR "wasmpool: ${required} is missing: the Debian 13 tool root "
                        "(WP_TOOLROOT=${WP_TOOLROOT}) is not there. Run scripts/bootstrap.sh "
                        "(it calls scripts/toolroot.sh), or point -DWP_TOOLROOT= at one.")
  endif()
endforeach()

function(wp_tool_command var tool)
  set(${var} ${WP_TOOL_LOADER} --library-path ${WP_TOOL_LIBPATH} ${WP_TOOLROOT}/usr/bin/${tool}
      PARENT_SCOPE)
endfunction()
wp_tool_command(WP_WASM2C_CMD wasm2c)
wp_tool_command(WP_WAT2WASM_CMD wat2wasm)
wp_tool_command(WP_WAST2JSON_CMD wast2json)
execute_process(COMMAND ${WP_WASM2C_CMD} --version OUTPUT_VARIABLE WP_TOOL_WASM2C_VERSION
                RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "wasmpool: ${WP_TOOLROOT}/usr/bin/wasm2c does not run through "
                      "${WP_TOOL_LOADER}; rerun scripts/toolroot.sh --force.")
endif()
message(STATUS "wasmpool: tool root ${WP_TOOLROOT} (wasm2c ${WP_TOOL_WASM2C_VERSION})")

# Debian 12's wabt 1.0.32 (/usr/bin, /usr/include/wasm-rt.h): only
# bench/compare's stock-runtime harness (wasm2c with wabt's own wasm-rt-impl.c,
# the baseline of the instantiate comparison) uses it; everything else runs
# the tool root's 1.0.36.
find_program(WP_WASM2C wasm2c)
find_path(WP_WASM_RT_INCLUDE wasm-rt.h)
if(NOT WP_WASM2C OR NOT WP_WASM_RT_INCLUDE)
  message(FATAL_ERROR "wasmpool: wasm2c / wasm-rt.h not found. "
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
