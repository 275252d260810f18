# generate.cmake — writes one man page from its template at build time:
# @PROJECT_VERSION@ and the install paths come from the configure step,
# @HAKMEM_KNOBS@, @HAKMEM_COUNTERS@ and @HAKMEM_RULES@ from hakmem-config, so
# that hakmem(3) lists exactly the knobs, counters and advisor's rules of the
# library it ships with.
#   cmake -DIN=page.in -DOUT=page -DCONFIG_TOOL=hakmem-config -DVARS=vars.cmake -P generate.cmake
include(${VARS})
foreach(part KNOBS COUNTERS RULES)
  string(TOLOWER ${part} option)
  execute_process(COMMAND ${CONFIG_TOOL} --${option}=man
    OUTPUT_VARIABLE HAKMEM_${part} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR HAKMEM_${part} STREQUAL "")
    message(FATAL_ERROR "${CONFIG_TOOL} --${option}=man failed (${rc}): cannot write ${OUT}")
  endif()
  string(STRIP "${HAKMEM_${part}}" HAKMEM_${part})
endforeach()
configure_file(${IN} ${OUT} @ONLY)
