# SPDX-License-Identifier: GPL-3.0-only
# Cross build for i386 (32-bit x86), run natively on an x86-64 host: Debian's gcc-i686-linux-gnu
# and the i386 multiarch libcmocka-dev (tools/portability.sh sets them up).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR i686)
set(CMAKE_C_COMPILER i686-linux-gnu-gcc)
# cmocka for i386 lives in the multiarch directories, outside the cross sysroot.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/i386-linux-gnu/pkgconfig)
set(MASQUE_CROSS_INCLUDE ${CMAKE_BINARY_DIR}/cross-include)
file(MAKE_DIRECTORY ${MASQUE_CROSS_INCLUDE})
file(CREATE_LINK /usr/include/cmocka.h ${MASQUE_CROSS_INCLUDE}/cmocka.h SYMBOLIC)
set(CMAKE_C_FLAGS_INIT "-isystem ${MASQUE_CROSS_INCLUDE}")
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "-L/usr/lib/i386-linux-gnu -Wl,-rpath-link,/usr/lib/i386-linux-gnu -Wl,-rpath,/usr/lib/i386-linux-gnu")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
