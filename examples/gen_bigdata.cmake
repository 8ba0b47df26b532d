# gen_bigdata.cmake — writes a bigdata .wat with a data segment of BYTES bytes
# from bigdata.wat.in, so a multi-MiB source never sits in the repository.
#   cmake -DBYTES=1048576 -DTEMPLATE=.../bigdata.wat.in -DOUT=.../bigdata.wat -P gen_bigdata.cmake
# BYTES must be a multiple of 16 (the pattern's length).
if(NOT DEFINED BYTES OR NOT DEFINED TEMPLATE OR NOT DEFINED OUT)
  message(FATAL_ERROR "gen_bigdata.cmake: BYTES, TEMPLATE and OUT are required")
endif()
math(EXPR remainder "${BYTES} % 16")
if(NOT remainder EQUAL 0)
  message(FATAL_ERROR "gen_bigdata.cmake: BYTES (${BYTES}) is not a multiple of 16")
endif()
math(EXPR repeats "${BYTES} / 16")
# One page past the segment, rounded up to whole 64 KiB pages.
math(EXPR BIGDATA_PAGES "(${BYTES} + 65535) / 65536 + 1")
set(BIGDATA_BYTES ${BYTES})
string(REPEAT "0123456789abcdef" ${repeats} BIGDATA_STRING)
configure_file(${TEMPLATE} ${OUT} @ONLY)
