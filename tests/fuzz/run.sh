#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz/ and runs each one for the given
# number of seconds (default 300) from its seed corpus (tests/fuzz/corpus/<target>); what a run
# finds is kept in build-fuzz/corpus/<target> for the next run. Prints executions, executions per
# second and coverage (cov: edges, ft: features) per target; fails on any crash, leak, undefined
# behaviour, timeout or out-of-memory, naming the input that caused it (build-fuzz/artifacts/).
#   tests/fuzz/run.sh [seconds-per-target] [target...]
# With --merge instead of the seconds, adds to tests/fuzz/corpus/<target> the inputs of
# build-fuzz/corpus/<target> that reach code (edges) its files do not, for committing.
#   tests/fuzz/run.sh --merge [target...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-300}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(fuzz_json fuzz_encoding fuzz_apdu fuzz_client fuzz_card)
fi
build=${MIMCM_FUZZ_BUILD_DIR:-build-fuzz}
if [ "$seconds" != "--merge" ] && ! [ "$seconds" -gt 0 ] 2>/dev/null; then
    echo "usage: tests/fuzz/run.sh [seconds-per-target | --merge] [target...]" >&2
    exit 2
fi

# Only the fuzz targets: no tests, examples or transport libraries. -O1 with the sanitizers keeps
# the build short and the targets fast.
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS=-O1 \
    -DMIMCM_FUZZ=ON -DMIMCM_BUILD_TESTS=OFF -DMIMCM_BUILD_EXAMPLES=OFF -DMIMCM_INSTALL=OFF \
    -DMIMCM_WITH_CURL=OFF -DMIMCM_WITH_PCSC=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

if [ "$seconds" = "--merge" ]; then
    for t in "${targets[@]}"; do
        before=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
        # Edges only (no hit counts), so the committed corpus stays small.
        "$build/tests/fuzz/$t" -merge=1 -use_counters=0 "tests/fuzz/corpus/$t" "$build/corpus/$t" \
            >"$build/merge-$t.log" 2>&1
        echo "$t: $(($(find "tests/fuzz/corpus/$t" -type f | wc -l) - before)) inputs added"
    done
    exit 0
fi

dict_of() {
    case "$1" in
        fuzz_json | fuzz_client) echo tests/fuzz/json.dict ;;
        fuzz_apdu | fuzz_card) echo tests/fuzz/card.dict ;;
    esac
}

mkdir -p "$build/artifacts" "$build/logs"
summary=""
failed=""
for t in "${targets[@]}"; do
    work="$build/corpus/$t"
    log="$build/logs/$t.log"
    mkdir -p "$work"
    args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
          -artifact_prefix="$build/artifacts/$t-")
    dict=$(dict_of "$t")
    if [ -n "$dict" ]; then
        args+=(-dict="$dict")
    fi
    echo "== $t: ${seconds} s"
    status=0
    "$build/tests/fuzz/$t" "${args[@]}" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -Eo 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    line=$(printf '%-14s %12s execs %8s exec/s  cov %6s  ft %7s  peak %5s MB' "$t" "${execs:-?}" \
        "${rate:-?}" "${cov:-?}" "${ft:-?}" "${rss:-?}")
    if [ "$status" -ne 0 ]; then
        line="$line  FAILED (exit $status)"
        failed="$failed $t"
        grep -E 'ERROR|runtime error|check failed|Test unit written|SUMMARY' "$log" | head -20 >&2 || true
        echo "full log: $log" >&2
    fi
    echo "$line"
    summary="$summary$line"$'\n'
done

echo "== fuzz summary (${seconds} s per target)"
printf '%s' "$summary"
if [ -n "$failed" ]; then
    echo "fuzzing failed:$failed (inputs in $build/artifacts/)" >&2
    exit 1
fi
