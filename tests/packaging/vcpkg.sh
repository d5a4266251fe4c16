#!/bin/sh
# Builds the vcpkg port (packaging/vcpkg/ports/mimcm) with vcpkg, offline: curl and RapidJSON
# resolve to the system's packages through the empty overlay ports in vcpkg/overlay-ports; PC/SC is
# the system's, as in the port.
#  1. manifest mode: tests/consumer (find_package(mimcm ... COMPONENTS curl pcsc)) configured
#     through the vcpkg toolchain with the manifest vcpkg/manifest/vcpkg.json (mimcm, default
#     features), built and run;
#  2. classic mode: `vcpkg install mimcm[core]` (no curl, no pcsc), then the Conan test_package
#     project (a plain find_package(mimcm) consumer) built against it and run.
# VCPKG_ROOT is only read: everything vcpkg writes goes under WORK_DIR.
# Usage: vcpkg.sh SOURCE_DIR WORK_DIR CXX_COMPILER
# Exits 77 (SKIP) when vcpkg is not on PATH or VCPKG_ROOT is not a bootstrapped vcpkg root.
set -eu
src=$(cd "$1" && pwd) work=$2 cxx=$3
fixtures="$src/tests/packaging/vcpkg"

if ! command -v vcpkg >/dev/null 2>&1; then
    echo "SKIP: vcpkg is not on PATH"
    exit 77
fi
if [ -z "${VCPKG_ROOT:-}" ] || [ ! -f "$VCPKG_ROOT/scripts/buildsystems/vcpkg.cmake" ]; then
    echo "SKIP: VCPKG_ROOT does not name a vcpkg root (scripts/buildsystems/vcpkg.cmake)"
    exit 77
fi
# The toolchain runs the vcpkg executable of its root (bootstrap-vcpkg.sh puts it there).
if [ ! -x "$VCPKG_ROOT/vcpkg" ]; then
    echo "SKIP: $VCPKG_ROOT/vcpkg is missing (bootstrap-vcpkg.sh puts it there; the toolchain needs it)"
    exit 77
fi

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)

# cmake and ninja from PATH, no metrics, no binary cache (it hashes the port files only, so it would
# serve a stale build of changed sources).
export VCPKG_FORCE_SYSTEM_BINARIES=1 VCPKG_DISABLE_METRICS=1 VCPKG_BINARY_SOURCES=clear
export VCPKG_DOWNLOADS="${VCPKG_DOWNLOADS:-$work/downloads}"
mkdir -p "$VCPKG_DOWNLOADS"
# After each port vcpkg runs patchelf, which it downloads unless its copy is already there: use
# the system's patchelf when there is one, so the test needs no network.
patchelf_version=$(sed -n 's/^ *set(program_version \([0-9.]*\)).*/\1/p' \
    "$VCPKG_ROOT/scripts/cmake/vcpkg_find_acquire_program(PATCHELF).cmake" 2>/dev/null | head -n 1)
patchelf_dir="$VCPKG_DOWNLOADS/tools/patchelf/$patchelf_version-$(uname -m)-linux/bin"
if [ "$(uname -s)" = Linux ] && [ -n "$patchelf_version" ] && command -v patchelf >/dev/null 2>&1 &&
   [ ! -e "$patchelf_dir/patchelf" ]; then
    mkdir -p "$patchelf_dir"
    ln -s "$(command -v patchelf)" "$patchelf_dir/patchelf"
fi

overlays="$src/packaging/vcpkg/ports;$fixtures/overlay-ports"
scratch="--x-buildtrees-root=$work/buildtrees;--x-packages-root=$work/packages"

fail() {  # fail LOG MESSAGE
    cat "$1"
    echo "FAIL: $2"
    exit 1
}

# 0. The port's manifest is in vcpkg's canonical format (as the registry requires).
mkdir -p "$work/format/mimcm"
cp "$src/packaging/vcpkg/ports/mimcm/vcpkg.json" "$work/format/mimcm/vcpkg.json"
vcpkg format-manifest "$work/format/mimcm/vcpkg.json" >"$work/format.log" 2>&1 ||
    fail "$work/format.log" "vcpkg format-manifest"
diff -u "$src/packaging/vcpkg/ports/mimcm/vcpkg.json" "$work/format/mimcm/vcpkg.json" ||
    fail "$work/format.log" "packaging/vcpkg/ports/mimcm/vcpkg.json is not formatted as vcpkg format-manifest does"

# 1. Manifest mode through the toolchain.
log="$work/manifest.log"
cmake -S "$src/tests/consumer" -B "$work/manifest" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_TOOLCHAIN_FILE="$VCPKG_ROOT/scripts/buildsystems/vcpkg.cmake" \
      -DVCPKG_MANIFEST_DIR="$fixtures/manifest" -DVCPKG_OVERLAY_PORTS="$overlays" \
      -DVCPKG_INSTALLED_DIR="$work/manifest/vcpkg_installed" -DVCPKG_INSTALL_OPTIONS="$scratch" \
      >"$log" 2>&1 || fail "$log" "configuring the manifest-mode consumer"
cat "$work/manifest/vcpkg-manifest-install.log" >>"$log" 2>/dev/null || true
grep -q "mimcm\[core,curl,pcsc\]" "$log" || fail "$log" "vcpkg did not install mimcm[core,curl,pcsc]"
config=$(find "$work/manifest/vcpkg_installed" -path '*/share/mimcm/mimcmConfig.cmake' | head -n 1)
[ -n "$config" ] || fail "$log" "no share/mimcm/mimcmConfig.cmake in vcpkg_installed"
installed=$(dirname "$(dirname "$(dirname "$config")")")
for f in include/mimcm/mimcm.hpp share/mimcm/copyright share/mimcm/usage; do
    [ -f "$installed/$f" ] || fail "$log" "$f is not installed"
done
[ ! -e "$installed/debug" ] || fail "$log" "a header-only port installs no debug/ tree"
cmake --build "$work/manifest" >>"$log" 2>&1 || fail "$log" "building the manifest-mode consumer"
out=$("$work/manifest/consumer") || fail "$log" "the consumer failed: $out"
echo "vcpkg manifest mode: mimcm[curl,pcsc] consumer built and ran: $out"

# 2. Classic mode, core only, then a consumer of that install.
log="$work/classic.log"
(cd "$work" && vcpkg install "mimcm[core]" --classic --overlay-ports="$src/packaging/vcpkg/ports" \
    --overlay-ports="$fixtures/overlay-ports" --x-install-root="$work/classic" \
    --x-buildtrees-root="$work/buildtrees" --x-packages-root="$work/packages") \
    >"$log" 2>&1 || fail "$log" "vcpkg install mimcm[core]"
config=$(find "$work/classic" -path '*/share/mimcm/mimcmConfig.cmake' | head -n 1)
[ -n "$config" ] || fail "$log" "no share/mimcm/mimcmConfig.cmake in the classic install"
installed=$(dirname "$(dirname "$(dirname "$config")")")
[ ! -e "$installed/share/curl" ] || fail "$log" "mimcm[core] must not install curl"
cmake -S "$src/packaging/conan/test_package" -B "$work/core-consumer" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$installed" >>"$log" 2>&1 ||
    fail "$log" "configuring a consumer of mimcm[core]"
cmake --build "$work/core-consumer" >>"$log" 2>&1 || fail "$log" "building a consumer of mimcm[core]"
out=$("$work/core-consumer/test_package") || fail "$log" "the mimcm[core] consumer failed: $out"
case $out in
    *"core ok, curl=0 pcsc=0"*) ;;
    *) fail "$log" "the mimcm[core] consumer saw curl or pcsc: $out" ;;
esac
echo "vcpkg classic mode: mimcm[core] consumer built and ran: $out"
