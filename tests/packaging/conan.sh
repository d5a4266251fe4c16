#!/bin/sh
# Builds the Conan 2 recipe (packaging/conan) with `conan create` and runs its test_package, offline:
# libcurl and RapidJSON resolve to the system's packages through the fixture recipes in conan/ and
# a [replace_requires] profile; PC/SC is the system's pcsc-lite, as in the recipe. Twice: with the
# default options, then with with_curl=False and with_pcsc=False. Then tests/consumer, the project
# written for the CMake package config (find_package(mimcm 0.1 CONFIG REQUIRED COMPONENTS curl pcsc)),
# is built against the package through CMakeDeps.
# Usage: conan.sh SOURCE_DIR WORK_DIR CXX_COMPILER
# Exits 77 (SKIP) when conan is not on PATH.
set -eu
src=$(cd "$1" && pwd) work=$2 cxx=$3
fixtures="$src/tests/packaging/conan"

if ! command -v conan >/dev/null 2>&1; then
    echo "SKIP: conan (Conan 2) is not on PATH"
    exit 77
fi
case $(conan --version 2>/dev/null) in
    *" 2."*) ;;
    *) echo "SKIP: conan on PATH is not Conan 2: $(conan --version 2>&1 | head -n 1)"; exit 77 ;;
esac

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)

# A Conan home of our own: no remote, the default profile detected here, the fixtures exported.
export CONAN_HOME="$work/conan-home"
log="$work/setup.log"
{
    conan profile detect &&
    if conan remote list | grep -q '^conancenter'; then conan remote remove conancenter; fi &&
    cp "$fixtures/offline.profile" "$CONAN_HOME/profiles/offline" &&
    conan export "$fixtures/libcurl-system" &&
    conan export "$fixtures/rapidjson-system"
} >"$log" 2>&1 || { cat "$log"; echo "FAIL: setting up the Conan home"; exit 1; }

# test_package is copied so that conan create writes its build files outside the source tree.
cp -R "$src/packaging/conan/test_package" "$work/test_package"

# create LOG [conan options...]: conan create with the test_package, output kept in LOG.
create() {
    log=$1
    shift
    rm -rf "$work/test_package/build" "$work/test_package/CMakeUserPresets.json"
    if ! conan create "$src/packaging/conan" --test-folder "$work/test_package" \
            -pr:h offline -pr:b default --build=missing "$@" >"$log" 2>&1; then
        cat "$log"
        echo "FAIL: conan create $*"
        exit 1
    fi
}

expect() {  # expect LOG TEXT: TEXT must be in LOG
    if ! grep -qF -- "$2" "$1"; then
        cat "$1"
        echo "FAIL: expected '$2' in the conan create output"
        exit 1
    fi
}

in_graph() {  # in_graph LOG REF: REF (name/version) is a node of the dependency graph in LOG
    grep -qE "^ +$2#" "$1"
}

version=$(sed -n 's/^#define MIMCM_VERSION_\(MAJOR\|MINOR\|PATCH\) \+\([0-9]\+\)$/\2/p' \
    "$src/include/mimcm/version.hpp" | paste -sd.)

create "$work/default.log"
expect "$work/default.log" "mimcm $version: core ok, curl=1 pcsc=1"
for ref in libcurl/system rapidjson/system "mimcm/$version"; do
    if ! in_graph "$work/default.log" "$ref"; then
        cat "$work/default.log"
        echo "FAIL: $ref is not in the dependency graph"
        exit 1
    fi
done
echo "conan: mimcm/$version with curl and pcsc: test_package passed"

create "$work/core.log" -o "mimcm/*:with_curl=False" -o "mimcm/*:with_pcsc=False"
expect "$work/core.log" "mimcm $version: core ok, curl=0 pcsc=0"
if in_graph "$work/core.log" libcurl/system; then
    cat "$work/core.log"
    echo "FAIL: with_curl=False still requires libcurl"
    exit 1
fi
echo "conan: mimcm/$version core only: test_package passed"

log="$work/consumer.log"
{
    # From WORK_DIR: CMakeToolchain writes a CMakeUserPresets.json into the current directory
    # when it holds a CMakeLists.txt.
    (cd "$work" && conan install --requires="mimcm/$version" -pr:h offline -pr:b default \
          -g CMakeDeps -g CMakeToolchain --output-folder="$work/consumer-deps") &&
    cmake -S "$src/tests/consumer" -B "$work/consumer" -DCMAKE_BUILD_TYPE=Release \
          -DCMAKE_CXX_COMPILER="$cxx" \
          -DCMAKE_TOOLCHAIN_FILE="$work/consumer-deps/conan_toolchain.cmake" &&
    cmake --build "$work/consumer"
} >"$log" 2>&1 || { cat "$log"; echo "FAIL: building tests/consumer against the Conan package"; exit 1; }
out=$("$work/consumer/consumer") || { cat "$log"; echo "FAIL: the consumer failed: $out"; exit 1; }
echo "conan: tests/consumer built with CMakeDeps and ran: $out"
