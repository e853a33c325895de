# Uses ccache for every compile when it is installed (scripts/bootstrap installs it):
# gRPC and protobuf headers make cold builds slow on small machines.
find_program(RINGCAST_CCACHE ccache)
if(RINGCAST_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${RINGCAST_CCACHE}")
endif()
