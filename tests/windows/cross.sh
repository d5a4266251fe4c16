#!/usr/bin/env bash
# Windows without Windows: cross-compiles the unit tests and the CLI for 64-bit Windows with
# Debian's mingw-w64 (warnings are errors, as in every build of the project), checks what the
# executables import, then runs the unit tests under wine.
#
#   tests/windows/cross.sh [BUILD_DIR]      (default: build-windows; JOBS=n sets build jobs)
#
# Dependencies for the Windows target, in BUILD_DIR/deps (a CMake find root, so the build never
# searches the build machine's /usr/include or /usr/lib):
#   include/rapidjson, include/catch2, include/curl   symlinks to Debian's headers (RapidJSON and
#       Catch2 are header-only; curl's headers pick mingw's types in curl/system.h)
#   lib/cmake/Catch2     a Catch2 package with the header-only target Catch2::Catch2 (Debian's
#       package also has a Linux library, Catch2WithMain) and Debian's Catch.cmake
#   lib/libcurl.dll.a    an import library for libcurl.dll made by dlltool from libcurl.def: the CLI
#       links, but runs only where a libcurl.dll is (vcpkg's x64-windows build, for instance)
# WinSCard and the Windows system libraries come from mingw-w64's import libraries.
#
# Only the unit suite runs here: the other suites need the Linux rig (pcscd with virtual cards,
# the Python CM emulator, the TLS, Kerberos and NTLM servers) and POSIX process control.
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(mkdir -p "${1:-$src/build-windows}" && cd "${1:-$src/build-windows}" && pwd)"
jobs="${JOBS:-2}"
triple=x86_64-w64-mingw32

missing=""
for tool in $triple-g++-posix $triple-dlltool $triple-objdump wine wineserver; do
    command -v "$tool" >/dev/null || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "cross.sh: missing$missing (tests/rig/install-deps.sh installs them)" >&2
    exit 1
fi

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# --- the dependency root (kept between runs, so a rerun rebuilds nothing that did not change)
deps="$build/deps"
mkdir -p "$deps/include" "$deps/lib/cmake/Catch2" "$deps/lib/pkgconfig"
curl_include=""
for dir in /usr/include /usr/include/*-linux-gnu; do
    [ -f "$dir/curl/curl.h" ] && curl_include="$dir" && break
done
for header in /usr/include/rapidjson/document.h /usr/include/catch2/catch.hpp \
              "$curl_include/curl/curl.h" /usr/lib/cmake/Catch2/Catch2Config.cmake; do
    if [ ! -f "$header" ]; then
        echo "cross.sh: $header is missing (tests/rig/install-deps.sh installs it)" >&2
        exit 1
    fi
done
ln -sfn /usr/include/rapidjson "$deps/include/rapidjson"
ln -sfn /usr/include/catch2 "$deps/include/catch2"
ln -sfn "$curl_include/curl" "$deps/include/curl"
ln -sf /usr/lib/cmake/Catch2/Catch2ConfigVersion.cmake /usr/lib/cmake/Catch2/Catch.cmake \
       /usr/lib/cmake/Catch2/CatchAddTests.cmake "$deps/lib/cmake/Catch2/"
catch2_config=$(cat <<'EOF'
if(NOT TARGET Catch2::Catch2)
    list(APPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")
    get_filename_component(_catch2_include "${CMAKE_CURRENT_LIST_DIR}/../../../include" ABSOLUTE)
    add_library(Catch2::Catch2 INTERFACE IMPORTED)
    set_target_properties(Catch2::Catch2 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_catch2_include}")
endif()
EOF
)
if [ "$(cat "$deps/lib/cmake/Catch2/Catch2Config.cmake" 2>/dev/null)" != "$catch2_config" ]; then
    printf '%s\n' "$catch2_config" >"$deps/lib/cmake/Catch2/Catch2Config.cmake"
fi
if [ "$src/tests/windows/libcurl.def" -nt "$deps/lib/libcurl.dll.a" ]; then
    $triple-dlltool --input-def "$src/tests/windows/libcurl.def" --output-lib "$deps/lib/libcurl.dll.a"
fi

# --- configure and build
start=$(now)
# No pkg-config file of the build machine may leak into the Windows build. No build type: no
# debug information, which makes linking the static executables the slowest step (the warnings
# are those of the Debug build: neither optimises).
PKG_CONFIG_LIBDIR="$deps/lib/pkgconfig" PKG_CONFIG_PATH="" \
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_STANDARD=17 \
          -DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchains/mingw-w64-x86_64.cmake" \
          -DCMAKE_FIND_ROOT_PATH="$deps" -DMIMCM_INSTALL=OFF >/dev/null
echo "== configured in $(elapsed "$start")"
start=$(now)
cmake --build "$build" -j"$jobs" --target unit mimcm-cli
echo "== cross build (unit tests, CLI) in $(elapsed "$start")"

unit="$build/tests/unit.exe"
cli="$build/examples/mimcm-cli.exe"
imports() { $triple-objdump -p "$1" | sed -n 's/^\s*DLL Name: //p' | tr '[:upper:]' '[:lower:]' | sort -u; }
# The CLI must have linked against WinSCard and libcurl, and neither executable may need a DLL of
# the mingw runtime (libstdc++, libgcc, libwinpthread): a Windows machine does not have them.
for exe in "$cli" "$unit"; do
    if imports "$exe" | grep -v '^libcurl\.dll$' | grep -q '^lib'; then
        echo "cross.sh: $(basename "$exe") needs a mingw runtime DLL: $(imports "$exe" | tr '\n' ' ')" >&2
        exit 1
    fi
done
cli_imports=$(imports "$cli")
echo "== mimcm-cli.exe imports: $(tr '\n' ' ' <<<"$cli_imports")"
for dll in winscard.dll libcurl.dll; do
    if ! grep -qx "$dll" <<<"$cli_imports"; then
        echo "cross.sh: mimcm-cli.exe does not import $dll" >&2
        exit 1
    fi
done
# The unit tests call no libcurl function: they run without libcurl.dll.
unit_imports=$(imports "$unit")
echo "== unit.exe imports: $(tr '\n' ' ' <<<"$unit_imports")"
if grep -qx "libcurl.dll" <<<"$unit_imports"; then
    echo "cross.sh: unit.exe imports libcurl.dll, which wine does not have" >&2
    exit 1
fi

# --- run under wine, headless (console programs need no X server)
export WINEPREFIX="$build/wine"
export WINEDEBUG=-all
# No Mono or Gecko download dialogs while the prefix is created.
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
stop_wineserver() { wineserver -k >/dev/null 2>&1 || true; }
trap stop_wineserver EXIT
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    start=$(now)
    wine wineboot --init >/dev/null 2>&1
    wineserver -w
    echo "== wine prefix created in $(elapsed "$start")"
fi
start=$(now)
set +e
output=$(wine "$unit" -w NoTests 2>&1)
status=$?
set -e
echo "$output" | tail -n 40
echo "== unit tests under wine in $(elapsed "$start"), exit status $status"
if [ "$status" -ne 0 ]; then
    echo "cross.sh: the unit tests failed under wine" >&2
    exit 1
fi
if ! grep -Eq '^All tests passed \([0-9]+ assertions? in [0-9]+ test cases?\)' <<<"$output"; then
    echo "cross.sh: the unit tests did not report that all tests passed" >&2
    exit 1
fi
