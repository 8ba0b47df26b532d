# check_crash_recovery.cmake — a command that crashes the runner is one
# failure with its line, and the file goes on after it (main.c, runner.c).
#
#   cmake -DSPEC=<wasmpool-spec> -DWAST=<fixtures/crash_recovery.wast> -P this
#
# The fixture (one command per line): line 2 fails on purpose, line 3 sets a
# global that line 5 reads back (so the state was rebuilt after the crash),
# line 6 is a module that line 7 uses. --crash-at-line makes the child abort
# at that command.

# A private TMPDIR: the runner must leave nothing in it, not even the
# wast2json directory of a child that was killed.
set(tmp ${CMAKE_CURRENT_BINARY_DIR}/crash_recovery_tmp)
file(REMOVE_RECURSE ${tmp})
file(MAKE_DIRECTORY ${tmp})
set(ENV{TMPDIR} ${tmp})

function(run_case line expect_total expect_line_regex)
  execute_process(COMMAND ${SPEC} --crash-at-line ${line} ${WAST}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  file(GLOB left ${tmp}/*)
  if(left)
    message(FATAL_ERROR "crash at line ${line}: left behind in TMPDIR: ${left}")
  endif()
  if(NOT rc EQUAL 1)
    message(FATAL_ERROR "crash at line ${line}: exit ${rc}, expected 1\n${out}${err}")
  endif()
  if(NOT out MATCHES "${expect_line_regex}")
    message(FATAL_ERROR "crash at line ${line}: no line matching '${expect_line_regex}'\n${out}")
  endif()
  if(NOT out MATCHES "\n${expect_total}\n")
    message(FATAL_ERROR "crash at line ${line}: total is not '${expect_total}'\n${out}")
  endif()
  # The deliberate failure on line 2 is printed once, not once per child.
  string(REGEX MATCHALL "crash_recovery.wast:2 " twice "${out}")
  list(LENGTH twice count)
  if(NOT count EQUAL 1)
    message(FATAL_ERROR "crash at line ${line}: line 2 reported ${count} times\n${out}")
  endif()
  message(STATUS "crash at line ${line}: ok")
endfunction()

run_case(4 "5 passed, 2 failed, 0 skipped"
         "FAIL crash_recovery.wast:4 assert_return invoke \"one\": the runner crashed with signal 6")
# A module that crashed leaves nothing for line 7 to call: it fails too.
run_case(6 "4 passed, 3 failed, 0 skipped"
         "FAIL crash_recovery.wast:7 assert_return invoke \"two\": the module at line 6 did not instantiate")
# Without a crash: 6 passed, the one deliberate failure.
execute_process(COMMAND ${SPEC} ${WAST} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT out MATCHES "\n6 passed, 1 failed, 0 skipped\n")
  message(FATAL_ERROR "no crash: unexpected total\n${out}")
endif()
file(REMOVE_RECURSE ${tmp})
