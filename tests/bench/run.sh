#!/usr/bin/env bash
# The benchmark: what mimcm costs on top of the libraries it wraps, measured side by side.
#
#   tests/bench/run.sh [--smoke]
#
# Builds the benchmark programs (-O2, in build-bench/), then prints one markdown table per section:
#   1. per call: mimcm::Client against raw libcurl (+ RapidJSON), for server_proposed_pin and
#      list_profile_templates over HTTP and HTTPS, against nginx on loopback (started here, with
#      its own configuration, stopped at the end): calls/s, client CPU, heap allocations,
#      connections and TLS handshakes (bench_calls.cpp); then the same calls from N clients on
#      N threads at once (BENCH_THREADS, "1,2,4"; "0": none): aggregate calls/s, scaling with N
#      and mimcm÷raw at each N;
#   2. the card read: mimcm::pcsc::read_card against the same APDUs sent with SCardTransmit, on a
#      virtual GIDS card in pcscd (bench_card.cpp; skipped, saying why, without pcscd and vpcd);
#   3. compile cost: each front-door header against its dependencies' headers (compile_cost.sh).
# --smoke runs tiny counts (a check that everything runs, in well under a minute): its numbers
# mean nothing. Tunables for a full run: BENCH_ROUNDS (11), BENCH_CALLS (20000), BENCH_THREADS
# (1,2,4; also in --smoke), BENCH_CARD_READS (300), BENCH_COMPILE_REPEATS (5).
# BENCH_SECTIONS="calls card compile" picks sections; BENCH_CALLS_PREFIX and BENCH_CALLS_ARGS
# wrap bench_calls, e.g. for a profile of mimcm's side:
#   BENCH_SECTIONS=calls BENCH_CALLS_PREFIX="valgrind --tool=callgrind" \
#       BENCH_CALLS_ARGS="--case seed-http --side mimcm" BENCH_THREADS=0 BENCH_ROUNDS=1 \
#       BENCH_CALLS=2000 run.sh
# Starts servers and pcscd: on a shared machine, run it in its own network namespace.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
smoke=0
case "${1:-}" in
--smoke) smoke=1 ;;
"") ;;
*) sed -n '2,24s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac

if [ "$smoke" = 1 ]; then
    rounds=3 calls=200 card_reads=10 compile_repeats=1
else
    rounds=${BENCH_ROUNDS:-11} calls=${BENCH_CALLS:-20000}
    card_reads=${BENCH_CARD_READS:-300} compile_repeats=${BENCH_COMPILE_REPEATS:-5}
fi

threads=${BENCH_THREADS:-1,2,4}
sections=${BENCH_SECTIONS:-calls card compile}
section() { case " $sections " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

tests/rig/install-deps.sh

out=$root/build-bench
mkdir -p "$out"
cxx=${CXX:-g++}
flags=(-std=c++17 -O2 -DNDEBUG -Wall -Wextra -Wpedantic -Werror -I"$root/include")
# Rebuilt when a source or header is newer than the program.
build() {  # PROGRAM SOURCE PKG-CONFIG-MODULE [EXTRA LIBS...]
    local name=$1 program=$out/$1 source=$2 module=$3
    shift 3
    if [ -x "$program" ] &&
        [ -z "$(find tests/bench tests/support include -newer "$program" -type f | head -1)" ]; then
        return 0
    fi
    echo "== building $name ($cxx -O2)"
    # shellcheck disable=SC2046  # pkg-config prints several words on purpose
    "$cxx" "${flags[@]}" $(pkg-config --cflags "$module") "$source" -o "$program" \
        $(pkg-config --libs "$module") "$@"
}
build bench_calls tests/bench/bench_calls.cpp libcurl -pthread
build bench_card tests/bench/bench_card.cpp libpcsclite -ldl

state=$(mktemp -d "${TMPDIR:-/tmp}/mimcm-bench.XXXXXX")
chmod 755 "$state"
nginx_pid=
cleanup() {
    if [ -n "$nginx_pid" ]; then
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    [ -f "$state/pcscd.pid" ] && tests/rig/pcsc-rig.sh stop-all "$state" >/dev/null 2>&1
    rm -rf "$state"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# 1. Per call, against nginx.
if section calls; then
tests/rig/make-certs.sh "$state/certs" >/dev/null
read -r http_port https_port < <(/usr/bin/python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
mkdir -p "$state/nginx"
templates='[{"Name":"Smart card logon","Description":"Logon certificate on a smart card","Uuid":"3f0e6a2b-1c4d-4e5f-8a9b-0c1d2e3f4a5b","IsSmartcardProfileTemplate":true,"IsVirtualSmartcardProfileTemplate":false},{"Name":"Virtual smart card","Description":"TPM virtual smart card","Uuid":"4a1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d","IsSmartcardProfileTemplate":false,"IsVirtualSmartcardProfileTemplate":true},{"Name":"Kiosk badge","Description":"Badge and logon for kiosk users","Uuid":"5c3e4c1a-0d4f-4f7e-9b3a-0c1d2e3f4a5b","IsSmartcardProfileTemplate":true,"IsVirtualSmartcardProfileTemplate":false}]'
# One worker per core (reuseport spreads the connections over them), and room for the threads
# section's keep-alive connections (one per client thread) many times over.
cat >"$state/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $state/nginx/nginx.pid;
error_log $state/nginx/error.log warn;
events { worker_connections 512; }
http {
    client_body_temp_path $state/nginx/body;
    proxy_temp_path $state/nginx/proxy;
    fastcgi_temp_path $state/nginx/fastcgi;
    uwsgi_temp_path $state/nginx/uwsgi;
    scgi_temp_path $state/nginx/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
    # One line per new connection: connections and TLS handshakes per run.
    map \$connection_requests \$first_request { 1 1; default 0; }
    log_format connection '\$connection \$ssl_protocol';
    access_log $state/nginx/connections.log connection if=\$first_request;
    default_type application/json;
    server {
        listen 127.0.0.1:$http_port reuseport;
        listen 127.0.0.1:$https_port ssl reuseport;
        ssl_certificate $state/certs/server.pem;
        ssl_certificate_key $state/certs/server.key;
        location ~ /serverproposedpin\$ { return 200 '"12345678"'; }
        location ~ /profiletemplates\$ { return 200 '$templates'; }
        location / { return 404; }
    }
}
EOF
: >"$state/nginx/connections.log"
/usr/sbin/nginx -p "$state/nginx" -c "$state/nginx/nginx.conf" -g 'daemon off; master_process on;' \
    2>"$state/nginx/stderr.log" &
nginx_pid=$!
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$http_port/x/serverproposedpin" && break
    kill -0 "$nginx_pid" 2>/dev/null || { cat "$state/nginx/stderr.log" "$state/nginx/error.log" >&2; exit 1; }
    sleep 0.1
done
: >"$state/nginx/connections.log"

echo
echo "## Per call: mimcm::Client ÷ raw libcurl (nginx on loopback)"
echo
# shellcheck disable=SC2086  # word splitting of the wrapper and extra arguments is wanted
${BENCH_CALLS_PREFIX:-} "$out/bench_calls" --http "http://127.0.0.1:$http_port/CertificateManagement" \
    --https "https://127.0.0.1:$https_port/CertificateManagement" --ca-file "$state/certs/ca.pem" \
    --connection-log "$state/nginx/connections.log" --rounds "$rounds" --calls "$calls" \
    --threads "$threads" ${BENCH_CALLS_ARGS:-}
kill -QUIT "$nginx_pid"
wait "$nginx_pid" || true
nginx_pid=
fi

# ---------------------------------------------------------------------------------------------
# 2. The card read, on a virtual GIDS card.
if section card; then
echo
echo "## Card read: mimcm::pcsc::read_card ÷ the same APDUs by hand (virtual GIDS card in pcscd)"
echo
if ! command -v pcscd >/dev/null && [ ! -x /usr/sbin/pcscd ]; then
    echo "SKIP: no pcscd"
elif [ -e /run/pcscd/pcscd.comm ] && [ -z "${BENCH_SHARED_PCSCD:-}" ]; then
    # Another pcscd is running: a card read timed against it would share its readers.
    echo "SKIP: a pcscd is already running here (run the benchmark in its own namespace, or set" \
        "BENCH_SHARED_PCSCD=1 to use it)"
else
    tests/rig/pcsc-rig.sh start-pcscd "$state" >/dev/null 2>&1
    tests/rig/pcsc-rig.sh insert "$state" 0 --profile gids >/dev/null 2>&1
    "$out/bench_card" --reader "Virtual PCD 00 00" --rounds "$rounds" --reads "$card_reads"
    tests/rig/pcsc-rig.sh stop-all "$state" >/dev/null 2>&1 || true
fi
fi

# ---------------------------------------------------------------------------------------------
# 3. Compile cost.
section compile || exit 0
echo
echo "## Compile cost: a TU including the header ÷ a TU including only its dependencies' headers"
echo
if [ "$smoke" = 1 ]; then
    tests/bench/compile_cost.sh "$compile_repeats" --smoke
else
    tests/bench/compile_cost.sh "$compile_repeats"
fi
