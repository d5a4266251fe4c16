#!/usr/bin/env bash
# Compile cost of mimcm's headers: for each header, the time and peak memory of compiling a
# translation unit that includes only it, against one that includes only the headers of other
# libraries it includes (the C++ standard library, libcurl, RapidJSON, PC/SC: found with the
# compiler's -H, so the list follows the code). Also an application calling two operations
# (two_calls.cpp) against the same two calls written with libcurl and RapidJSON
# (two_calls_raw.cpp), header-only and in the compiled mode (MIMCM_COMPILED, with the one-off
# cost of src/mimcm.cpp beside it). g++ and clang++, -O0 and -O2; the two TUs alternate, REPEATS
# times each; prints the ratio header÷dependencies (median and min–max over the pairs) beside the
# medians.
#
#   tests/bench/compile_cost.sh [REPEATS] [--smoke]
#
# --smoke: one header, one compiler, one level, no two-operation TU (a check that it runs).
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats=${1:-5}
smoke=${2:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/mimcm-compile.XXXXXX")
trap 'rm -rf "$work"' EXIT

# shellcheck disable=SC2207  # pkg-config prints several words on purpose
inc=(-I"$PWD/include" -I"$PWD/tests/bench" $(pkg-config --cflags libcurl libpcsclite))
headers="mimcm/mimcm.hpp mimcm/core.hpp mimcm/client.hpp mimcm/transport/curl.hpp mimcm/pcsc.hpp"
compilers="g++ clang++"
levels="-O0 -O2"
if [ "$smoke" = --smoke ]; then
    headers="mimcm/core.hpp" compilers="g++" levels="-O0"
fi

# The non-mimcm headers that mimcm headers include directly, from -H (dots give the depth), each
# written as <name> relative to the search directory it came from (so that warnings stay off in
# system headers, as in the application's own TU).
dependencies() {  # COMPILER TU
    local dirs
    dirs=$("$1" -std=c++17 "${inc[@]}" -xc++ -E -v /dev/null 2>&1 >/dev/null |
        sed -n '/search starts here/,/End of search list/p' | grep '^ ' | tr '\n' ':')
    "$1" -std=c++17 "${inc[@]}" -H -fsyntax-only "$2" 2>&1 >/dev/null | /usr/bin/python3 -c '
import os, sys
mimcm = os.path.realpath(sys.argv[1])
dirs = sorted({os.path.realpath(d.strip()) for d in sys.argv[2].split(":") if d.strip()},
              key=len, reverse=True)
stack, seen = [], []
for line in sys.stdin:
    dots = len(line) - len(line.lstrip("."))
    if dots == 0 or not line[dots:].startswith(" "):
        continue
    path = os.path.normpath(line[dots:].strip())
    del stack[dots - 1:]
    parent = stack[-1] if stack else None
    stack.append(path)
    inside = os.path.realpath(path).startswith(mimcm + os.sep)
    if parent is not None and os.path.realpath(parent).startswith(mimcm + os.sep) and not inside \
            and path not in seen:
        seen.append(path)
for p in seen:
    d = next((d for d in dirs if os.path.realpath(p).startswith(d + os.sep)), None)
    print("#include <%s>" % os.path.relpath(os.path.realpath(p), d) if d else "#include \"%s\"" % p)
' "$PWD/include" "$dirs"
}

measure() {  # COMPILER LEVEL TU -> "seconds kilobytes"
    /usr/bin/time -f '%e %M' -o "$work/time" "$1" -std=c++17 "$2" "${inc[@]}" -c "$3" \
        -o "$work/out.o"
    cat "$work/time"
}

row() {  # LABEL COMPILER LEVEL TU DEPENDENCY_TU
    local label=$1 cxx=$2 level=$3 tu=$4 deps=$5 i
    : >"$work/pairs"
    for i in $(seq "$repeats"); do
        if [ $((i % 2)) = 1 ]; then
            echo "$(measure "$cxx" "$level" "$deps") $(measure "$cxx" "$level" "$tu")" >>"$work/pairs"
        else
            local h
            h=$(measure "$cxx" "$level" "$tu")
            echo "$(measure "$cxx" "$level" "$deps") $h" >>"$work/pairs"
        fi
    done
    /usr/bin/python3 - "$label" "$cxx" "$level" "$work/pairs" <<'EOF'
import statistics, sys
label, cxx, level, path = sys.argv[1:5]
rows = [list(map(float, l.split())) for l in open(path) if l.strip()]
dt = [r[0] for r in rows]; dm = [r[1] / 1024 for r in rows]
ht = [r[2] for r in rows]; hm = [r[3] / 1024 for r in rows]
tr = [h / d for h, d in zip(ht, dt)]
mr = [h / d for h, d in zip(hm, dm)]
cell = lambda v: "%.2f (%.2f–%.2f)" % (statistics.median(v), min(v), max(v))
print("| %s | %s %s | %s | %.2f | %.2f | %s | %.0f | %.0f |" % (
    label, cxx, level, cell(tr), statistics.median(dt), statistics.median(ht), cell(mr),
    statistics.median(dm), statistics.median(hm)))
EOF
}

# The compiled mode: the same application file, and the file compiled once per program.
printf '#define MIMCM_COMPILED\n#include "%s"\n' "$PWD/tests/bench/two_calls.cpp" \
    >"$work/two_calls_compiled.cpp"
printf '#define MIMCM_COMPILED\n#include "%s"\n' "$PWD/src/mimcm.cpp" >"$work/mimcm_compiled.cpp"

echo "median of $repeats compiles per TU, the two TUs alternating; peak RSS of the compiler"
echo
echo "| TU | compiler | time ratio | deps s | mimcm s | peak memory ratio | deps MiB | mimcm MiB |"
echo "|---|---|---|---|---|---|---|---|"
for cxx in $compilers; do
    for h in $headers; do
        printf '#include <%s>\n' "$h" >"$work/header.cpp"
        dependencies "$cxx" "$work/header.cpp" >"$work/deps.cpp"
        for level in $levels; do
            row "<$h>" "$cxx" "$level" "$work/header.cpp" "$work/deps.cpp"
        done
    done
    for level in $levels; do
        [ "$smoke" = --smoke ] && break
        row "two operations (two_calls.cpp ÷ two_calls_raw.cpp)" "$cxx" "$level" \
            "$PWD/tests/bench/two_calls.cpp" "$PWD/tests/bench/two_calls_raw.cpp"
        row "two operations, compiled mode (MIMCM_COMPILED)" "$cxx" "$level" \
            "$work/two_calls_compiled.cpp" "$PWD/tests/bench/two_calls_raw.cpp"
        row "src/mimcm.cpp, once per program (÷ two_calls_raw.cpp)" "$cxx" "$level" \
            "$work/mimcm_compiled.cpp" "$PWD/tests/bench/two_calls_raw.cpp"
    done
done
