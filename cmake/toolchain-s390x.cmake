# SPDX-License-Identifier: GPL-3.0-only
# Cross build for s390x (64-bit big-endian), run under qemu-user: Debian's gcc-s390x-linux-gnu,
# qemu-user and the s390x multiarch libcmocka-dev (tools/portability.sh sets them up).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR s390x)
set(CMAKE_C_COMPILER s390x-linux-gnu-gcc)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-s390x)
# cmocka for s390x lives in the multiarch directories, outside the cross sysroot.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/s390x-linux-gnu/pkgconfig)
set(MASQUE_CROSS_INCLUDE ${CMAKE_BINARY_DIR}/cross-include)
file(MAKE_DIRECTORY ${MASQUE_CROSS_INCLUDE})
file(CREATE_LINK /usr/include/cmocka.h ${MASQUE_CROSS_INCLUDE}/cmocka.h SYMBOLIC)
set(CMAKE_C_FLAGS_INIT "-isystem ${MASQUE_CROSS_INCLUDE}")
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "-L/usr/lib/s390x-linux-gnu -Wl,-rpath-link,/usr/lib/s390x-linux-gnu -Wl,-rpath,/usr/lib/s390x-linux-gnu")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
