# Installs the built tree into a scratch prefix, then configures, builds and runs the examples
# against it. Fails on any step.
# A fresh folder per run, so that two test runs of one build never share it.
string(RANDOM LENGTH 10 suffix)
set(WORK_DIR ${WORK_ROOT}/package_test_${suffix})
file(REMOVE_RECURSE ${WORK_DIR})
function(run_step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()
run_step(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
# The host-pointer API (examples/consumer) and the device API (examples/device_api; where no GPU
# exists, as in CI's nvcc build, it says so and runs nothing, while the simulator build runs it).
# A CPU-only build installs no device API: EXAMPLES is then just the consumer, which builds
# against an install that needs no CUDA toolkit.
if(NOT DEFINED EXAMPLES)
  set(EXAMPLES consumer device_api)
endif()
foreach(example ${EXAMPLES})
  run_step(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/${example} -B ${WORK_DIR}/${example}
           -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release)
  run_step(${CMAKE_COMMAND} --build ${WORK_DIR}/${example})
  run_step(${WORK_DIR}/${example}/${example})
endforeach()
file(REMOVE_RECURSE ${WORK_DIR})
