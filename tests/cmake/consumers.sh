#!/usr/bin/env bash
# Every way a project can take mimcm, each from scratch in WORK_DIR: builds a small consumer
# project (tests/consumer) and runs it. The consumer prints the layers it got ("core curl pcsc").
# Usage: consumers.sh CASE SOURCE_DIR WORK_DIR CXX_COMPILER
#   find_package      install, then find_package(mimcm CONFIG REQUIRED COMPONENTS curl pcsc)
#   missing_deps      find_package with PC/SC or libcurl hidden: QUIET reports, REQUIRED fails
#   core_only         MIMCM_WITH_CURL=OFF, MIMCM_WITH_PCSC=OFF, with neither library findable
#   old_curl          a libcurl older than 7.76: the build and the curl component refuse it
#   pkg_config        the installed mimcm.pc, with c++ $(pkg-config --cflags --libs mimcm)
#   add_subdirectory  add_subdirectory(mimcm): no tests or examples of mimcm's
#   fetchcontent      FetchContent from a file:// git clone of the source tree: the same
set -euo pipefail
case_name=$1 src=$2 work=$3 cxx=$4
rm -rf "$work"
mkdir -p "$work"
consumer="$src/tests/consumer/layers"
log="$work/log"

# run CMD...: runs a step, output to the log; on failure shows the log and stops.
run() {
    echo "+ $*" >>"$log"
    if ! "$@" >>"$log" 2>&1; then
        cat "$log" >&2
        echo "FAIL: $case_name: step failed: $*" >&2
        exit 1
    fi
}
fail() {
    cat "$log" >&2
    echo "FAIL: $case_name: $*" >&2
    exit 1
}
# install NAME [CMAKE_ARGS...]: configures mimcm as a library only and installs it in
# $work/NAME-prefix.
install_mimcm() {
    local name=$1
    shift
    run cmake -S "$src" -B "$work/$name-build" -DMIMCM_BUILD_TESTS=OFF -DMIMCM_BUILD_EXAMPLES=OFF \
        -DMIMCM_INSTALL=ON -DCMAKE_INSTALL_PREFIX="$work/$name-prefix" "$@"
    run cmake --install "$work/$name-build"
}
# consume NAME [CMAKE_ARGS...]: configures the layers consumer in $work/NAME (output in
# $work/NAME.out, status in $configured), and when it found mimcm builds it and runs it
# ($layers: what it printed).
consume() {
    local name=$1
    shift
    configured=0
    cmake -S "$consumer" -B "$work/$name" -DCMAKE_CXX_COMPILER="$cxx" "$@" >"$work/$name.out" 2>&1 ||
        configured=$?
    cat "$work/$name.out" >>"$log"
    layers=""
    if [ "$configured" -eq 0 ] && grep -q "mimcm-test: building layers" "$work/$name.out"; then
        run cmake --build "$work/$name"
        layers=$("$work/$name/layers") || fail "$name: the consumer program failed"
    fi
}
# expect_report NAME FOUND CURL PCSC [WHY_REGEX]: what find_package(mimcm QUIET) reported.
expect_report() {
    local out="$work/$1.out"
    grep -q "mimcm-test: FOUND=\[$2\] curl=\[$3\] pcsc=\[$4\]" "$out" ||
        fail "$1: expected FOUND=[$2] curl=[$3] pcsc=[$4], got: $(grep 'mimcm-test' "$out")"
    if [ -n "${5:-}" ]; then
        grep -Eq "mimcm-test: why=\[.*$5" "$out" || fail "$1: no reason matching '$5' given"
    fi
}
expect_layers() {
    [ "$layers" = "$1" ] || fail "expected layers '$1', the consumer printed '$layers'"
}
header_version() {
    sed -n 's/^#define MIMCM_VERSION_\(MAJOR\|MINOR\|PATCH\) \+\([0-9]\+\)$/\2/p' \
        "$src/include/mimcm/version.hpp" | paste -sd.
}

case $case_name in
find_package)
    install_mimcm full
    test -f "$work/full-prefix/include/mimcm/mimcm.hpp" || fail "headers not installed"
    test -f "$work/full-prefix/include/mimcm/pcsc/error.hpp" || fail "mimcm/pcsc/ not installed"
    test -f "$work/full-prefix/share/mimcm/cmake/mimcmConfig.cmake" || fail "package config not installed"
    run cmake -S "$src/tests/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/full-prefix" \
        -DCMAKE_CXX_COMPILER="$cxx"
    run cmake --build "$work/consumer"
    run "$work/consumer/consumer"
    # The version CMake read from version.hpp is the one the package announces.
    grep -q "PACKAGE_VERSION \"$(header_version)\"" \
        "$work/full-prefix/share/mimcm/cmake/mimcmConfigVersion.cmake" ||
        fail "mimcmConfigVersion.cmake does not carry version $(header_version)"
    # The vcpkg manifest must name a version too: it has to be the same one.
    grep -q "\"version\": \"$(header_version)\"" "$src/packaging/vcpkg/ports/mimcm/vcpkg.json" ||
        fail "packaging/vcpkg/ports/mimcm/vcpkg.json does not carry version $(header_version)"
    consume plain -DCMAKE_PREFIX_PATH="$work/full-prefix"
    expect_report plain 1 TRUE TRUE
    expect_layers "core curl pcsc"
    # The compiled mode: mimcm::compiled brings the installed src/mimcm.cpp into the program.
    test -f "$work/full-prefix/share/mimcm/src/mimcm.cpp" || fail "src/mimcm.cpp not installed"
    consume compiled -DCMAKE_PREFIX_PATH="$work/full-prefix" -DMIMCM_TEST_TARGET=mimcm::compiled
    expect_report compiled 1 TRUE TRUE
    expect_layers "core curl compiled pcsc"
    ;;
missing_deps)
    install_mimcm full
    mkdir -p "$work/empty-pkgconfig"
    # PC/SC hidden: pkg-config (which finds pcsc-lite) sees no .pc files.
    export PKG_CONFIG_LIBDIR="$work/empty-pkgconfig"
    consume no-pcsc -DCMAKE_PREFIX_PATH="$work/full-prefix"
    expect_report no-pcsc 0 TRUE FALSE "PC/SC was not found"
    [ -z "$layers" ] || fail "built although mimcm was not found"
    consume no-pcsc-curl-only -DCMAKE_PREFIX_PATH="$work/full-prefix" -DMIMCM_TEST_COMPONENTS=curl
    expect_report no-pcsc-curl-only 1 TRUE FALSE
    expect_layers "core curl"
    consume no-pcsc-asked -DCMAKE_PREFIX_PATH="$work/full-prefix" "-DMIMCM_TEST_COMPONENTS=curl;pcsc"
    expect_report no-pcsc-asked 0 TRUE FALSE "component pcsc: PC/SC was not found"
    consume no-pcsc-required -DCMAKE_PREFIX_PATH="$work/full-prefix" -DMIMCM_TEST_REQUIRED=ON
    [ "$configured" -ne 0 ] || fail "REQUIRED configured although PC/SC is missing"
    grep -q "PC/SC was not found" "$work/no-pcsc-required.out" ||
        fail "REQUIRED failed without saying why"
    unset PKG_CONFIG_LIBDIR
    # libcurl hidden.
    consume no-curl -DCMAKE_PREFIX_PATH="$work/full-prefix" -DCMAKE_DISABLE_FIND_PACKAGE_CURL=ON
    expect_report no-curl 0 FALSE TRUE "libcurl 7.76 or newer was not found"
    consume no-curl-pcsc-only -DCMAKE_PREFIX_PATH="$work/full-prefix" \
        -DCMAKE_DISABLE_FIND_PACKAGE_CURL=ON -DMIMCM_TEST_COMPONENTS=pcsc
    expect_report no-curl-pcsc-only 1 FALSE TRUE
    expect_layers "core pcsc"
    consume unknown-component -DCMAKE_PREFIX_PATH="$work/full-prefix" -DMIMCM_TEST_COMPONENTS=ldap
    expect_report unknown-component 0 TRUE TRUE "unknown component 'ldap'"
    ;;
core_only)
    # Neither libcurl nor PC/SC can be found, while mimcm is configured, installed and used.
    mkdir -p "$work/empty-pkgconfig"
    export PKG_CONFIG_LIBDIR="$work/empty-pkgconfig"
    install_mimcm core -DMIMCM_WITH_CURL=OFF -DMIMCM_WITH_PCSC=OFF -DCMAKE_DISABLE_FIND_PACKAGE_CURL=ON
    consume core -DCMAKE_PREFIX_PATH="$work/core-prefix" -DCMAKE_DISABLE_FIND_PACKAGE_CURL=ON
    expect_report core 1 FALSE FALSE
    expect_layers "core"
    consume core-asked-curl -DCMAKE_PREFIX_PATH="$work/core-prefix" -DMIMCM_TEST_COMPONENTS=curl
    expect_report core-asked-curl 0 FALSE FALSE "installed without it \(MIMCM_WITH_CURL=OFF\)"
    pc="$work/core-prefix/share/pkgconfig/mimcm.pc"
    grep -q "^Cflags:.* -DMIMCM_NO_CURL -DMIMCM_NO_PCSC" "$pc" || fail "mimcm.pc does not leave the layers out"
    ! grep -Eq "^Requires:.*(libcurl|libpcsclite)" "$pc" || fail "mimcm.pc requires a library left out"
    ;;
old_curl)
    # A libcurl whose headers say 7.61.1 (RHEL 8's): found, but too old.
    mkdir -p "$work/old-curl/include/curl"
    printf '#define LIBCURL_VERSION "7.61.1"\n#define LIBCURL_VERSION_NUM 0x073d01\n' \
        >"$work/old-curl/include/curl/curlver.h"
    printf '#include "curlver.h"\n' >"$work/old-curl/include/curl/curl.h"
    old=(-DCURL_NO_CURL_CMAKE=ON -DCURL_INCLUDE_DIR="$work/old-curl/include")
    configured=0
    cmake -S "$src" -B "$work/old-build" -DMIMCM_BUILD_TESTS=OFF -DMIMCM_BUILD_EXAMPLES=OFF \
        "${old[@]}" >"$work/old-build.out" 2>&1 || configured=$?
    cat "$work/old-build.out" >>"$log"
    [ "$configured" -ne 0 ] || fail "mimcm configured with libcurl 7.61.1"
    grep -q "libcurl 7.61.1 is too old: mimcm needs libcurl 7.76 or newer" "$work/old-build.out" ||
        fail "the configure step failed without saying libcurl is too old"
    install_mimcm full
    consume old-curl -DCMAKE_PREFIX_PATH="$work/full-prefix" "${old[@]}" -DMIMCM_TEST_COMPONENTS=curl
    expect_report old-curl 0 FALSE TRUE "libcurl 7.61.1 is too old"
    consume old-curl-pcsc-only -DCMAKE_PREFIX_PATH="$work/full-prefix" "${old[@]}" \
        -DMIMCM_TEST_COMPONENTS=pcsc
    expect_report old-curl-pcsc-only 1 FALSE TRUE
    expect_layers "core pcsc"
    ;;
pkg_config)
    command -v pkg-config >/dev/null || fail "pkg-config is not installed"
    install_mimcm full
    # The installed tree is moved: mimcm.pc finds its headers relative to itself.
    mv "$work/full-prefix" "$work/moved-prefix"
    export PKG_CONFIG_PATH="$work/moved-prefix/share/pkgconfig"
    [ "$(pkg-config --modversion mimcm)" = "$(header_version)" ] ||
        fail "mimcm.pc says version $(pkg-config --modversion mimcm), version.hpp $(header_version)"
    requires=$(pkg-config --print-requires mimcm)
    for r in RapidJSON libcurl libpcsclite; do
        grep -q "^$r\b" <<<"$requires" || fail "mimcm.pc does not require $r: $requires"
    done
    flags=$(pkg-config --cflags --libs mimcm)
    grep -q -- "-I$work/moved-prefix/share/pkgconfig/../../include\|-I$work/moved-prefix/include" \
        <<<"$flags" || fail "mimcm.pc does not point at the installed headers: $flags"
    # shellcheck disable=SC2086
    run "$cxx" -std=c++17 -Wall -Wextra -Wpedantic -Werror \
        -DMIMCM_EXPECTED_VERSION="\"$(pkg-config --modversion mimcm)\"" \
        "$consumer/layers.cpp" $flags -o "$work/layers"
    layers=$("$work/layers") || fail "the consumer program failed"
    expect_layers "core curl pcsc"
    ;;
add_subdirectory)
    consume subdir -DMIMCM_TEST_MODE=subdirectory -DMIMCM_TEST_SOURCE="$src"
    [ "$configured" -eq 0 ] || fail "the consumer did not configure"
    grep -q "mimcm-test: subproject adds no tests, examples or subdirectories" "$work/subdir.out" ||
        fail "the subproject check did not run"
    expect_layers "core curl pcsc"
    consume subdir-compiled -DMIMCM_TEST_MODE=subdirectory -DMIMCM_TEST_SOURCE="$src" \
        -DMIMCM_TEST_TARGET=mimcm::compiled
    expect_layers "core curl compiled pcsc"
    ;;
fetchcontent)
    command -v git >/dev/null || fail "git is not installed"
    # A git repository of the source tree as it is (committed or not), reached by a file:// URL.
    repo="$work/mimcm.git"
    mkdir -p "$repo"
    git -C "$src" ls-files -co --exclude-standard -z >"$work/files" 2>>"$log" ||
        fail "the source tree is not a git checkout git can read"
    # (A tracked file deleted in the working tree is left out, as a commit would.)
    (cd "$src" && while IFS= read -r -d '' f; do
        if [ -e "$f" ]; then cp --parents -t "$repo" "$f" || exit 1; fi
    done <"$work/files") || fail "copying the sources failed"
    run git -C "$repo" init -q
    run git -C "$repo" add -A
    run git -C "$repo" -c user.name=test -c user.email=test@localhost commit -q -m snapshot
    tag=$(git -C "$repo" rev-parse HEAD)
    consume fetch -DMIMCM_TEST_MODE=fetchcontent -DMIMCM_TEST_GIT_URL="file://$repo" \
        -DMIMCM_TEST_GIT_TAG="$tag" -DFETCHCONTENT_BASE_DIR="$work/deps"
    [ "$configured" -eq 0 ] || fail "the consumer did not configure"
    test -f "$work/deps/mimcm-src/include/mimcm/version.hpp" || fail "FetchContent did not clone mimcm"
    grep -q "mimcm-test: subproject adds no tests, examples or subdirectories" "$work/fetch.out" ||
        fail "the subproject check did not run"
    expect_layers "core curl pcsc"
    ;;
*)
    echo "unknown case $case_name" >&2
    exit 2
    ;;
esac
echo "$case_name: passed${layers:+ (layers: $layers)}"
