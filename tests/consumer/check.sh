#!/bin/sh
# Installs mimcm into a temporary prefix, then configures, builds and runs a consumer project
# that finds it with find_package(mimcm CONFIG REQUIRED).
# Usage: check.sh SOURCE_DIR WORK_DIR CXX_COMPILER
set -eu
src=$1 work=$2 cxx=$3
rm -rf "$work"
cmake -S "$src" -B "$work/build" -DMIMCM_BUILD_TESTS=OFF -DMIMCM_BUILD_EXAMPLES=OFF \
      -DMIMCM_INSTALL=ON -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
cmake --install "$work/build" >/dev/null
test -f "$work/prefix/include/mimcm/mimcm.hpp"
test -f "$work/prefix/share/mimcm/cmake/mimcmConfig.cmake"
cmake -S "$src/tests/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" \
      -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
cmake --build "$work/consumer" >/dev/null
"$work/consumer/consumer"
