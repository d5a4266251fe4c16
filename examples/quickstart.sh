#!/usr/bin/env bash
# The main job, from a fresh Debian machine: installs what mimcm needs, builds the example CLI,
# starts pcscd, a virtual GIDS smart card and the CM emulator (HTTPS on loopback), runs
#   mimcm-cli proposed-pin
# which reads the card and asks the emulator for the PIN it proposes, prints the PIN, and stops
# everything it started. Extra arguments go to mimcm-cli (e.g. --verbose, --json).
set -euo pipefail
cd "$(dirname "$0")/.."
tests/rig/install-deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target mimcm-cli >/dev/null

rig=$PWD/build/quickstart-rig
trap 'tests/rig/rig.sh stop "$rig" >/dev/null 2>&1' EXIT
tests/rig/rig.sh start "$rig" >/dev/null
tests/rig/pcsc-rig.sh insert "$rig" 0 --profile gids --card-id 3ff188bcba833740826246eba1291c6e >/dev/null
port=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["https"])' "$rig/emulator.json")

echo "Reading the virtual card in 'Virtual PCD 00 00' and asking the CM emulator at https://localhost:$port ..." >&2
build/examples/mimcm-cli proposed-pin \
    --server "https://localhost:$port/CertificateManagement" \
    --smartcard-id 17cf063d-e337-4aa9-a822-346554ddd3c9 \
    --reader "Virtual PCD 00 00" \
    --ca-file "$rig/certs/ca.pem" "$@"
