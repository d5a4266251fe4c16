#!/usr/bin/env bash
# Benchmark: wall time of one `mimcm-cli proposed-pin` end to end (process start, PC/SC read of a
# virtual GIDS card through pcscd, HTTPS call to the CM emulator, PIN printed), N runs, over HTTP
# and HTTPS side by side. Prints min / median / p90 in milliseconds. Needs a built build/.
#   tests/bench/proposed_pin.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-50}
cli=build/examples/mimcm-cli
[ -x "$cli" ] || { echo "build first: cmake -S . -B build && cmake --build build" >&2; exit 2; }

rig=$PWD/build/bench-rig
trap 'tests/rig/rig.sh stop "$rig" >/dev/null 2>&1' EXIT
tests/rig/rig.sh start "$rig" >/dev/null
tests/rig/pcsc-rig.sh insert "$rig" 0 --profile gids >/dev/null
ports=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["http"], d["https"])' "$rig/emulator.json")
read -r http https <<<"$ports"
id=17cf063d-e337-4aa9-a822-346554ddd3c9

measure() {  # label, then the server options
    local label=$1; shift
    local times=()
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(date +%s%N)
        "$cli" proposed-pin --smartcard-id "$id" --reader "Virtual PCD 00 00" "$@" >/dev/null
        t1=$(date +%s%N)
        times+=($(( (t1 - t0) / 1000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v label="$label" -v n="$runs" '
        { v[NR] = $1 }
        END { printf "%-6s runs=%d  min=%.2f ms  median=%.2f ms  p90=%.2f ms\n", label, n,
              v[1] / 1000, v[int((n + 1) / 2)] / 1000, v[int(n * 0.9)] / 1000 }'
}

measure http --server "http://127.0.0.1:$http/CertificateManagement"
measure https --server "https://localhost:$https/CertificateManagement" --ca-file "$rig/certs/ca.pem"
