# Cross-compiles for 64-bit Windows with mingw-w64 (Debian: g++-mingw-w64-x86-64-posix):
#   cmake -S . -B build-windows -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/mingw-w64-x86_64.cmake
# The posix threads variant of the compiler is used: GCC 12's win32 variant has no std::thread.
# Libraries and headers are looked up only under the mingw-w64 root and the roots given in
# CMAKE_FIND_ROOT_PATH (e.g. -DCMAKE_FIND_ROOT_PATH=/opt/mingw-deps), never in the build machine's
# /usr/include or /usr/lib.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(MIMCM_MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${MIMCM_MINGW_TRIPLE}-gcc-posix)
set(CMAKE_CXX_COMPILER ${MIMCM_MINGW_TRIPLE}-g++-posix)
set(CMAKE_RC_COMPILER ${MIMCM_MINGW_TRIPLE}-windres)

list(APPEND CMAKE_FIND_ROOT_PATH /usr/${MIMCM_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Executables carry the C++ runtime (libstdc++, libgcc, winpthread) inside, so they run on a
# Windows machine (or under wine) without the mingw DLLs next to them.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# PE/COFF objects hold at most 32767 sections unless the assembler writes the big-object format;
# a Debug test file instantiating every model parser (one COMDAT section per inline function)
# goes past that.
set(CMAKE_CXX_FLAGS_INIT "-Wa,-mbig-obj")
