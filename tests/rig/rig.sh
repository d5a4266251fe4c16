#!/usr/bin/env bash
# The test rig: pcscd (shared; started only if none is running), TLS certificates, and the CM
# emulator on loopback over HTTP and HTTPS. Cards are inserted per test with pcsc-rig.sh.
#
#   rig.sh start STATE [--with-auth]   start everything; STATE/emulator.json tells the ports
#   rig.sh stop STATE                  stop what start started (by recorded PID, never by name)
#
# --with-auth also starts the servers of the authentication tests:
#   - a second emulator (STATE/auth-emulator.json) that requires a bearer token, sets a session
#     cookie, listens on 127.0.0.1 and 127.0.0.2 (for redirects to "another host"), and has
#     extra HTTPS listeners with an expired certificate, a wrong host name and client
#     certificates required;
#   - a Kerberos KDC and Apache with mod_auth_gssapi in front of the emulator (kerberos.sh);
#   - an NTLM-verifying front in front of the emulator (ntlm.sh);
#   - a forward proxy that requires credentials (proxy.py; STATE/proxy.json, user proxy-user,
#     password in STATE/proxy.password).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"  # stop_pidfile, wait_for_file
cmd=${1:?usage: rig.sh start|stop STATE [--with-auth]}
state=${2:?usage: rig.sh start|stop STATE [--with-auth]}
with_auth=${3:-}

# The token the auth emulator accepts; the tests know it too.
bearer_token=rig-bearer-token-4c1d

start_emulator() {  # NAME, then emulator options; waits for STATE/NAME.json
    local name=$1 rc=0
    shift
    rm -f "$state/$name.json"
    /usr/bin/python3 "$here/cm_emulator.py" "$@" --cert-dir "$state/certs" \
        --port-file "$state/$name.json" --record "$state/$name-requests.jsonl" \
        >"$state/$name.log" 2>&1 &
    echo $! >"$state/$name.pid"
    wait_for_file "$state/$name.json" "$(cat "$state/$name.pid")" || rc=$?
    [ $rc -ne 0 ] || return 0
    [ $rc -ne 1 ] || { cat "$state/$name.log" >&2; exit 1; }  # it exited
    echo "rig: the CM emulator '$name' did not start" >&2
    exit 1
}

start_proxy() {  # a forward proxy that wants credentials (user proxy-user); STATE/proxy.json
    rm -f "$state/proxy.json"
    (umask 077 && printf '%s' 'Proxy-Passw0rd!' >"$state/proxy.password")
    /usr/bin/python3 "$here/proxy.py" --port 0 --port-file "$state/proxy.json" \
        --user proxy-user --password-file "$state/proxy.password" >"$state/proxy.log" 2>&1 &
    echo $! >"$state/proxy.pid"
    wait_for_file "$state/proxy.json" && return 0
    echo "rig: the proxy did not start" >&2
    cat "$state/proxy.log" >&2
    exit 1
}

case $cmd in
start)
    mkdir -p "$state"
    "$here/rig.sh" stop "$state" >/dev/null 2>&1 || true
    "$here/pcsc-rig.sh" start-pcscd "$state"
    "$here/make-certs.sh" "$state/certs" >/dev/null
    start_emulator emulator --http-port 0 --https-port 0
    if [ "$with_auth" = --with-auth ]; then
        start_emulator auth-emulator --http-port 0 --https-port 0 --bind 127.0.0.1 --bind 127.0.0.2 \
            --bearer-token "$bearer_token" --session-cookie ASP.NET_SessionId \
            --tls-variant expired --tls-variant wrong-host --tls-variant client-cert
        "$here/kerberos.sh" start "$state"
        "$here/ntlm.sh" start "$state"
        start_proxy
    fi
    echo "rig: pcscd and CM emulator up: $(cat "$state/emulator.json")"
    ;;
stop)
    [ -f "$state/kerberos.env" ] && "$here/kerberos.sh" stop "$state" || true
    [ -f "$state/ntlm.env" ] && "$here/ntlm.sh" stop "$state" || true
    stop_pidfile "$state/proxy.pid"
    stop_pidfile "$state/auth-emulator.pid"
    stop_pidfile "$state/emulator.pid"
    "$here/pcsc-rig.sh" stop-all "$state" || true
    ;;
*)
    echo "usage: rig.sh start|stop STATE" >&2
    exit 2
    ;;
esac
