#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what it needs, builds with g++
# (C++17), runs every test through ctest (the ctest fixture starts pcscd and the CM emulator; the
# tests insert virtual cards), runs each fuzz target briefly, then checks that everything also
# builds warning-free with clang++ and in C++20, and that the code is formatted.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/rig/install-deps.sh

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=g++ -DCMAKE_CXX_STANDARD=17 >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure --timeout 300 -j"$jobs")

# A short libFuzzer run of each fuzz target from its seed corpus (clang, ASan+UBSan): any crash,
# leak or undefined behaviour fails the run. tests/fuzz/run.sh with no argument runs them longer.
echo "== fuzz smoke run"
tests/fuzz/run.sh 15

# The same targets, warnings as errors, with the other compiler and standard combinations.
for combo in "clang++ 17" "clang++ 20" "g++ 20"; do
    set -- $combo
    dir="build-check-${1%++}-$2"
    echo "== build check: $1, C++$2"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER="$1" -DCMAKE_CXX_STANDARD="$2" >/dev/null
    cmake --build "$dir" -j"$jobs" >/dev/null
done

echo "== test names"
# ctest registers Catch test cases by name, and a ';' in a name splits it into names that match
# nothing.
if grep -n 'TEST_CASE("[^"]*;' tests/*/*.cpp; then
    echo "test case names must not contain ';'" >&2
    exit 1
fi

echo "== format check"
git ls-files '*.hpp' '*.cpp' | xargs clang-format --dry-run --Werror
echo "all checks passed"
