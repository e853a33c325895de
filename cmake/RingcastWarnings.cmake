# Warning flags for ringcast's own code (never for generated or third-party code).
# Warnings are errors unless RINGCAST_WERROR is OFF. With clang, thread-safety analysis
# (-Wthread-safety) checks the ABSL_GUARDED_BY annotations.
option(RINGCAST_WERROR "Treat warnings in ringcast's own code as errors" ON)

set(RINGCAST_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Woverloaded-virtual
    # designated initializers that leave members at their defaults are the point of them
    -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(APPEND RINGCAST_WARNING_FLAGS -Wthread-safety)
endif()
if(RINGCAST_WERROR)
  list(APPEND RINGCAST_WARNING_FLAGS -Werror)
endif()
