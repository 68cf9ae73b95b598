# The sources name no tracker issue ("issue 23, item 4"): the tracker is not in the repository, so
# such a reference rots; the reasoning belongs in the comment, its history in docs/design/.
# Run with -DSOURCE_DIR=<checkout>.
file(GLOB_RECURSE files
  ${SOURCE_DIR}/kernels/* ${SOURCE_DIR}/host/* ${SOURCE_DIR}/include/* ${SOURCE_DIR}/tests/*.cpp
  ${SOURCE_DIR}/tests/*.hpp ${SOURCE_DIR}/tests/*.cu ${SOURCE_DIR}/tests/fuzz/*.cpp
  ${SOURCE_DIR}/sim/src/* ${SOURCE_DIR}/sim/include/* ${SOURCE_DIR}/python/rnnattn/*.py
  ${SOURCE_DIR}/python/src/* ${SOURCE_DIR}/python/tests/*.py ${SOURCE_DIR}/bench/* ${SOURCE_DIR}/tools/*.py
  ${SOURCE_DIR}/tools/*.sh ${SOURCE_DIR}/examples/*)
set(found "")
foreach(f ${files})
  file(STRINGS ${f} lines REGEX "[Ii]ssues? #?[0-9]+")
  foreach(line ${lines})
    string(APPEND found "\n  ${f}: ${line}")
  endforeach()
endforeach()
if(found)
  message(FATAL_ERROR "issue numbers in the sources (say the reason instead):${found}")
endif()
