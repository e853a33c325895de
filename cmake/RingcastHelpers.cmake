# One helper per target kind, so that a folder's CMakeLists.txt is a few lines
# (the pattern of abseil's CMake/AbseilHelpers.cmake).
#
#   ringcast_cc_library(NAME ringcast_ring SRCS ring.cc HDRS ring.h DEPS absl::status)
#   ringcast_cc_binary(NAME ringcast-node SRCS main.cc DEPS ringcast_node)
#   ringcast_cc_test(NAME ring_test SRCS ring_test.cc DEPS ringcast_ring)
#
# Libraries see the repository root as their include root: #include "ring/ring.h".

function(_ringcast_apply_defaults target)
  target_compile_options(${target} PRIVATE ${RINGCAST_WARNING_FLAGS})
  target_include_directories(${target} PUBLIC "${PROJECT_SOURCE_DIR}")
endfunction()

function(ringcast_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;HDRS;DEPS" ${ARGN})
  if(ARG_SRCS)
    add_library(${ARG_NAME} STATIC ${ARG_SRCS} ${ARG_HDRS})
    _ringcast_apply_defaults(${ARG_NAME})
    target_link_libraries(${ARG_NAME} PUBLIC ${ARG_DEPS})
  else()
    add_library(${ARG_NAME} INTERFACE ${ARG_HDRS})
    target_include_directories(${ARG_NAME} INTERFACE "${PROJECT_SOURCE_DIR}")
    target_link_libraries(${ARG_NAME} INTERFACE ${ARG_DEPS})
  endif()
endfunction()

function(ringcast_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  _ringcast_apply_defaults(${ARG_NAME})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
endfunction()

# A GoogleTest executable registered with ctest. LABELS (e.g. "unit", "integration")
# let scripts/test and developers pick suites: ctest -L unit.
function(ringcast_cc_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  _ringcast_apply_defaults(${ARG_NAME})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  target_compile_definitions(${ARG_NAME} PRIVATE
    RINGCAST_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
  if(ARG_LABELS)
    set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
