#!/usr/bin/env bash
# NTLM front (IIS-style Windows Integrated Authentication, verified by Samba's ntlm_auth) in front of
# the CM emulator. Needs `rig.sh start STATE` first (STATE/emulator.json, STATE/certs/).
#
#   ntlm.sh start STATE   start it; STATE/ntlm.env tells the URLs and the account
#   ntlm.sh stop STATE    stop what start started (by recorded PID, never by name)
#
# Debian package: winbind (for /usr/bin/ntlm_auth; winbindd is not started). See README.md, "NTLM".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"  # stop_pidfile, wait_for_file
cmd=${1:?usage: ntlm.sh start|stop STATE}
state=${2:?usage: ntlm.sh start|stop STATE}
python=${NTLM_RIG_PYTHON:-/usr/bin/python3}
domain=CONTOSO
user=kiosk
password='Kiosk-Passw0rd!'

case $cmd in
start)
    [ -s "$state/emulator.json" ] || { echo "ntlm: $state/emulator.json missing (run rig.sh start $state first)" >&2; exit 1; }
    [ -x /usr/bin/ntlm_auth ] || { echo "ntlm: /usr/bin/ntlm_auth missing (apt-get install winbind)" >&2; exit 1; }
    state=$(cd "$state" && pwd)
    dir=$state/ntlm
    stop_pidfile "$dir/front.pid"
    http_port=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$state/emulator.json")
    mkdir -p "$dir"
    chmod 700 "$dir"
    mkdir -p "$dir/lock" "$dir/state" "$dir/cache" "$dir/private" "$dir/log"
    cat >"$dir/smb.conf" <<CONF
# ntlm_auth's configuration for the NTLM front (nothing in /etc is used or changed)
[global]
    workgroup = $domain
    netbios name = CMFRONT
    server role = standalone server
    ntlm auth = ntlmv2-only
    lock directory = $dir/lock
    state directory = $dir/state
    cache directory = $dir/cache
    private dir = $dir/private
    pid directory = $dir/lock
    ncalrpc dir = $dir/lock/ncalrpc
    log file = $dir/log/%m.log
    log level = 0
    load printers = no
CONF
    (umask 077 && printf '%s\n' "$password" >"$dir/password")
    chmod 600 "$dir/password"
    rm -f "$dir/ports.json" "$state/ntlm.env"
    "$python" "$here/ntlm_front.py" --http-port 0 --https-port 0 \
        --cert "$state/certs/server.pem" --key "$state/certs/server.key" \
        --upstream "http://127.0.0.1:$http_port" \
        --domain "$domain" --user "$user" --password-file "$dir/password" \
        --smb-conf "$dir/smb.conf" --port-file "$dir/ports.json" ${NTLM_FRONT_VERBOSE:+-v} \
        >"$dir/front.log" 2>&1 &
    echo $! >"$dir/front.pid"
    rc=0
    wait_for_file "$dir/ports.json" "$(cat "$dir/front.pid")" || rc=$?
    [ $rc -ne 1 ] || { cat "$dir/front.log" >&2; rm -f "$dir/front.pid"; exit 1; }  # it exited
    [ $rc -eq 0 ] || { echo "ntlm: the front did not start within 10 s" >&2; cat "$dir/front.log" >&2; stop_pidfile "$dir/front.pid"; exit 1; }
    read -r p_http p_https < <("$python" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["http"], d["https"])' "$dir/ports.json")
    cat >"$state/ntlm.env.tmp" <<ENV
NTLM_HTTP_URL=http://127.0.0.1:$p_http/CertificateManagement
NTLM_HTTPS_URL=https://localhost:$p_https/CertificateManagement
NTLM_DOMAIN=$domain
NTLM_USER=$user
NTLM_PASSWORD=$password
ENV
    mv "$state/ntlm.env.tmp" "$state/ntlm.env"
    echo "ntlm: front up: http $p_http, https $p_https (pid $(cat "$dir/front.pid")); $state/ntlm.env"
    ;;
stop)
    stop_pidfile "$state/ntlm/front.pid"
    rm -f "$state/ntlm.env"
    ;;
*)
    echo "usage: ntlm.sh start|stop STATE" >&2
    exit 2
    ;;
esac
