# Cross compilation for aarch64 Linux with Debian's crossbuild-essential-arm64
# (aarch64-linux-gnu-gcc/g++). Used by scripts/dev/build-prebuilds.cjs (the
# linux-arm64 release binary) and scripts/dev/arm64-selftest.cjs (the kernel
# self-test). Run the results with qemu-aarch64 -L /usr/aarch64-linux-gnu; CTest
# does so through CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(QMM_CROSS_PREFIX "aarch64-linux-gnu-" CACHE STRING "prefix of the cross tools")
set(CMAKE_C_COMPILER ${QMM_CROSS_PREFIX}gcc)
set(CMAKE_CXX_COMPILER ${QMM_CROSS_PREFIX}g++)

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
