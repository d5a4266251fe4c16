#!/usr/bin/env bash
# The test rig: pcscd (shared; started only if none is running), TLS certificates, and the CM
# emulator on loopback over HTTP and HTTPS. Cards are inserted per test with pcsc-rig.sh.
#
#   rig.sh start STATE   start everything; STATE/emulator.json tells the ports
#   rig.sh stop STATE    stop what start started (by recorded PID, never by name)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?usage: rig.sh start|stop STATE}
state=${2:?usage: rig.sh start|stop STATE}

stop_pid() {  # TERM, then KILL after 3 s
    local pidfile=$1 pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

case $cmd in
start)
    mkdir -p "$state"
    "$here/rig.sh" stop "$state" >/dev/null 2>&1 || true
    "$here/pcsc-rig.sh" start-pcscd "$state"
    "$here/make-certs.sh" "$state/certs" >/dev/null
    rm -f "$state/emulator.json"
    /usr/bin/python3 "$here/cm_emulator.py" --http-port 0 --https-port 0 \
        --cert-dir "$state/certs" --port-file "$state/emulator.json" \
        --record "$state/emulator-requests.jsonl" >"$state/emulator.log" 2>&1 &
    echo $! >"$state/emulator.pid"
    for _ in $(seq 100); do
        [ -s "$state/emulator.json" ] && break
        kill -0 "$(cat "$state/emulator.pid")" 2>/dev/null || { cat "$state/emulator.log" >&2; exit 1; }
        sleep 0.1
    done
    [ -s "$state/emulator.json" ] || { echo "rig: the CM emulator did not start" >&2; exit 1; }
    echo "rig: pcscd and CM emulator up: $(cat "$state/emulator.json")"
    ;;
stop)
    stop_pid "$state/emulator.pid"
    "$here/pcsc-rig.sh" stop-all "$state" || true
    ;;
*)
    echo "usage: rig.sh start|stop STATE" >&2
    exit 2
    ;;
esac
