#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what it needs, builds with g++
# (C++17), runs every test through ctest (the ctest fixture starts pcscd and the CM emulator; the
# tests insert virtual cards), runs each fuzz target briefly, then checks that everything also
# builds warning-free with clang++ and in C++20, runs the unit, emulator, card and CLI suites again
# under AddressSanitizer and UndefinedBehaviorSanitizer and the threads suite under
# ThreadSanitizer, runs the benchmark (tests/bench/run.sh) once with tiny counts, and checks that
# the code is formatted.
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

# The same targets, warnings as errors, with the other compiler and standard combinations. The
# clang++ C++17 build is the sanitizer build (AddressSanitizer + UndefinedBehaviorSanitizer).
for combo in "clang++ 17 address,undefined" "clang++ 20" "g++ 20"; do
    set -- $combo
    dir="build-check-${1%++}-$2"
    echo "== build check: $1, C++$2${3:+, -fsanitize=$3}"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER="$1" -DCMAKE_CXX_STANDARD="$2" \
        -DMIMCM_SANITIZE="${3:-}" >/dev/null
    cmake --build "$dir" -j"$jobs" >/dev/null
done

# Sanitizer runs. Every finding ends the program (-fno-sanitize-recover=all, halt_on_error), leaks
# included, so a test cannot pass over one; programs the tests start (mimcm-cli) inherit this.
sanitizer_env=(
    ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
)
echo "== AddressSanitizer + UndefinedBehaviorSanitizer: the unit, emulator, card and CLI suites"
(cd build-check-clang-17 && env "${sanitizer_env[@]}" ctest --output-on-failure --timeout 300 -j"$jobs" \
    -R '^(unit|http|auth|pcsc|cli|enroll|threads):')

echo "== ThreadSanitizer: several clients on several threads"
cmake -S . -B build-check-tsan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_STANDARD=17 \
    -DMIMCM_SANITIZE=thread >/dev/null
cmake --build build-check-tsan -j"$jobs" --target threads >/dev/null
(cd build-check-tsan && env "${sanitizer_env[@]}" ctest --output-on-failure --timeout 300 -R '^threads:')

echo "== benchmark smoke run (tiny counts; checks that it runs, judges no numbers)"
tests/bench/run.sh --smoke

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
