# Finds the Debian 12 packages ringcast builds on (see DESIGN.md "Dependencies").
# Nothing is vendored or downloaded: scripts/bootstrap installs these packages.
find_package(Threads REQUIRED)
find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS headers)
find_package(absl CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(GTest CONFIG REQUIRED)
find_package(benchmark CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
find_package(prometheus-cpp CONFIG REQUIRED)

# Asio's io_uring backend (liburing-dev) instead of epoll for every Asio user, so that the sends
# of one event to many connections go to the kernel in one io_uring submission instead of one
# syscall each (DESIGN.md "Performance architecture"). Every target that includes Asio must use
# the same backend, so the definitions ride on Boost::headers.
option(RINGCAST_IO_URING "Asio on io_uring instead of epoll" ON)
if(RINGCAST_IO_URING)
  pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
  target_compile_definitions(Boost::headers INTERFACE BOOST_ASIO_HAS_IO_URING
                                                      BOOST_ASIO_DISABLE_EPOLL)
  target_link_libraries(Boost::headers INTERFACE PkgConfig::URING)
endif()
