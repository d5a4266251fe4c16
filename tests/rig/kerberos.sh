#!/usr/bin/env bash
# Kerberos rig: a real MIT KDC and Apache httpd + mod_auth_gssapi (HTTPS, Negotiate) in front of the
# CM emulator, all on 127.0.0.1, everything in STATE/krb (nothing in /etc is read or changed).
#
#   kerberos.sh start STATE   needs STATE/emulator.json (rig.sh start STATE); writes STATE/kerberos.env
#   kerberos.sh stop STATE    stops Apache and the KDC by recorded PID (TERM, KILL after 3 s)
#
# Packages: krb5-kdc krb5-admin-server (kadmin.local) krb5-user apache2 libapache2-mod-auth-gssapi curl.
# See tests/rig/README.md, section "Kerberos". Set KERBEROS_RIG_TRACE=1 for KRB5_TRACE logs.
set -Eeuo pipefail
export PATH=$PATH:/usr/sbin:/sbin   # krb5kdc, kdb5_util, kadmin.local, apache2
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # pid_is, stop_pidfile, STOP_GRACE

usage() {
    echo "usage: kerberos.sh start|stop STATE" >&2
    exit 2
}
[[ $# -eq 2 ]] || usage
cmd=$1
state=$2
[[ -n $state ]] || usage
case $state in /*) ;; *) state=$PWD/$state ;; esac
state=${state%/}
krb=$state/krb

REALM=TEST.LOCAL
USER_PRINC=alice@$REALM
USER_PW='alice-Passw0rd!'
MASTER_PW='rig-master-Passw0rd!'
SERVICES=("HTTP/localhost@$REALM" "HTTP/127.0.0.1@$REALM")
APACHE_MODULES=/usr/lib/apache2/modules
WAIT_KDC=5       # seconds for the KDC to answer
WAIT_APACHE=10   # seconds for Apache to answer
SMOKE_PATH=/_rig/ok

note() { echo "kerberos: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

# ---------------------------------------------------------------------------
# processes: by recorded PID only (lib.sh); a SIGKILL also gets the direct children (Apache's workers)
# ---------------------------------------------------------------------------

do_stop() {
    rm -f "$state/kerberos.env"
    stop_pidfile "$krb/apache.pid" apache2 kids
    stop_pidfile "$krb/kdc.pid" krb5kdc kids
}

# ---------------------------------------------------------------------------
# start helpers
# ---------------------------------------------------------------------------

log_tails() {
    local f
    for f in kdc.stderr kdc.log kadmin.log apache.stderr apache-error.log; do
        [[ -s $krb/$f ]] || continue
        echo "---- $krb/$f (tail)" >&2
        tail -n 10 "$krb/$f" | cut -c1-400 >&2
    done
}

fail() {
    trap - ERR
    note "start failed: $*"
    log_tails
    do_stop
    exit 1
}

# free_ports: "KDC_PORT APACHE_PORT"; the KDC port is free for both TCP and UDP on 127.0.0.1.
free_ports() {
    /usr/bin/python3 - <<'PY'
import socket
def tcp():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); return s
while True:
    t = tcp(); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        t.close(); u.close(); continue
    a = tcp()
    print(p, a.getsockname()[1])
    break
PY
}

# Apache's children run as www-data: STATE/krb and every parent directory must be traversable by it.
# Only the missing o+x bit is added to parents (never to /); STATE/krb itself is 755.
make_traversable() {
    local d=$state mode
    while [[ -n $d && $d != / ]]; do
        mode=$(stat -c %A "$d")
        if [[ ${mode:9:1} != [xt] ]]; then
            chmod o+x "$d" || fail "cannot make $d traversable for www-data"
            note "added o+x to $d (Apache runs as www-data)"
        fi
        d=$(dirname "$d")
    done
}

write_krb5_conf() {
    local kdc_port=$1
    cat >"$krb/krb5.conf" <<EOF
# kerberos.sh: client and library configuration of the rig (KRB5_CONFIG)
[libdefaults]
    default_realm = $REALM
    dns_lookup_realm = false
    dns_lookup_kdc = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    forwardable = false
    ticket_lifetime = 24h
    default_ccache_name = FILE:$krb/default.ccache
    default_client_keytab_name = FILE:$krb/no-client.keytab
    default_keytab_name = FILE:$krb/http.keytab

[realms]
    $REALM = {
        kdc = 127.0.0.1:$kdc_port
    }

[domain_realm]
    localhost = $REALM
    127.0.0.1 = $REALM
EOF
    cat >"$krb/kdc.conf" <<EOF
# kerberos.sh: KDC configuration of the rig (KRB5_KDC_PROFILE)
[kdcdefaults]
    kdc_listen = 127.0.0.1:$kdc_port
    kdc_tcp_listen = 127.0.0.1:$kdc_port

[realms]
    $REALM = {
        database_name = $krb/db/principal
        key_stash_file = $krb/db/stash
        acl_file = $krb/db/kadm5.acl
        admin_keytab = FILE:$krb/db/kadm5.keytab
        master_key_type = aes256-cts-hmac-sha1-96
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
        max_life = 24h
        max_renewable_life = 0
    }

[plugins]
    kdcpreauth = {
        disable = spake
    }

[logging]
    kdc = FILE:$krb/kdc.log
    admin_server = FILE:$krb/kadmin.log
    default = FILE:$krb/kadmin.log
EOF
}

write_httpd_conf() {
    local port=$1 http=$2 run_as=""
    if [[ $(id -u) -eq 0 ]]; then
        run_as="User www-data
Group www-data"
    fi
    cat >"$krb/httpd.conf" <<EOF
# kerberos.sh: Apache in front of the CM emulator (http://127.0.0.1:$http), Negotiate over HTTPS.
ServerRoot "$krb"
DefaultRuntimeDir "$krb/run"
PidFile "$krb/run/httpd.pid"
ServerName localhost
Listen 127.0.0.1:$port https
$run_as

LoadModule mpm_event_module $APACHE_MODULES/mod_mpm_event.so
LoadModule authn_core_module $APACHE_MODULES/mod_authn_core.so
LoadModule authz_core_module $APACHE_MODULES/mod_authz_core.so
LoadModule authz_user_module $APACHE_MODULES/mod_authz_user.so
LoadModule auth_gssapi_module $APACHE_MODULES/mod_auth_gssapi.so
LoadModule headers_module $APACHE_MODULES/mod_headers.so
LoadModule proxy_module $APACHE_MODULES/mod_proxy.so
LoadModule proxy_http_module $APACHE_MODULES/mod_proxy_http.so
LoadModule socache_shmcb_module $APACHE_MODULES/mod_socache_shmcb.so
LoadModule ssl_module $APACHE_MODULES/mod_ssl.so

StartServers 1
ServerLimit 4
ThreadsPerChild 16
MaxRequestWorkers 64
MinSpareThreads 8
MaxSpareThreads 32

Timeout 120
KeepAlive On
KeepAliveTimeout 30
MaxKeepAliveRequests 100000

ErrorLog "$krb/apache-error.log"
LogLevel warn
LogFormat "%a %u [%{%F %T}t.%{msec_frac}t] \"%r\" %>s %b %{ms}Tms cport=%{remote}p keepalive=%k" rig
CustomLog "$krb/apache-access.log" rig

SSLSessionCache "shmcb:$krb/run/ssl_scache(512000)"
SSLProtocol -all +TLSv1.2 +TLSv1.3
SSLHonorCipherOrder off

DocumentRoot "$krb/htdocs"

<VirtualHost 127.0.0.1:$port>
    SSLEngine on
    SSLCertificateFile "$state/certs/server.pem"
    SSLCertificateKeyFile "$state/certs/server.key"
    AllowEncodedSlashes NoDecode

    ProxyRequests Off
    ProxyPreserveHost On
    ProxyPass /_emulator/ http://127.0.0.1:$http/_emulator/ retry=0
    ProxyPassReverse /_emulator/ http://127.0.0.1:$http/_emulator/
    ProxyPass /CertificateManagement http://127.0.0.1:$http/CertificateManagement retry=0 nocanon
    ProxyPassReverse /CertificateManagement http://127.0.0.1:$http/CertificateManagement

    # Like IIS with only Windows Authentication: everything needs Kerberos ...
    <Location />
        AuthType GSSAPI
        AuthName "mimcm Kerberos rig"
        GssapiCredStore keytab:$krb/http.keytab
        GssapiAllowedMech krb5
        GssapiBasicAuth Off
        Require valid-user
        RequestHeader set X-Remote-User "expr=%{REMOTE_USER}"
    </Location>
    # ... except the emulator's control API, so tests can read its request record.
    <Location /_emulator/>
        AuthType None
        Require all granted
        RequestHeader unset X-Remote-User
    </Location>
</VirtualHost>
EOF
}

start_kdc() {
    env KRB5_CONFIG="$krb/krb5.conf" KRB5_KDC_PROFILE="$krb/kdc.conf" ${trace_kdc:+KRB5_TRACE="$trace_kdc"} \
        /usr/sbin/krb5kdc -n -r "$REALM" </dev/null >"$krb/kdc.stderr" 2>&1 &
    echo $! >"$krb/kdc.pid"
}

# kinit_to CCACHE: alice's TGT into CCACHE; retried until the KDC answers (WAIT_KDC).
kinit_to() {
    local cc=$1 deadline out
    deadline=$(awk -v t="$(now)" -v w="$WAIT_KDC" 'BEGIN { printf "%.3f", t + w }')
    while :; do
        if out=$(printf '%s\n' "$USER_PW" | kinit -c "FILE:$cc" "$USER_PRINC" 2>&1); then
            return 0
        fi
        pid_is "$(cat "$krb/kdc.pid")" krb5kdc || return 1
        awk -v t="$(now)" -v d="$deadline" 'BEGIN { exit !(t > d) }' && { echo "$out" >&2; return 1; }
        sleep 0.02
    done
}

start_apache() {
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C \
        KRB5_CONFIG="$krb/krb5.conf" KRB5RCACHEDIR="$krb/rcache" KRB5_KTNAME="FILE:$krb/http.keytab" \
        KRB5CCNAME="FILE:$krb/apache.ccache" ${trace_apache:+KRB5_TRACE=$trace_apache} \
        /usr/sbin/apache2 -f "$krb/httpd.conf" -DFOREGROUND </dev/null >"$krb/apache.stderr" 2>&1 &
    echo $! >"$krb/apache.pid"
}

# http_code CCACHE|- URL: the status curl gets (Negotiate with CCACHE, or none with -).
http_code() {
    local cc=$1 url=$2
    if [[ $cc == - ]]; then
        curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$state/certs/ca.pem" "$url" || true
    else
        KRB5_CONFIG=$krb/krb5.conf KRB5CCNAME=FILE:$cc curl -s -o /dev/null -w '%{http_code}' \
            --max-time 5 --negotiate -u : --cacert "$state/certs/ca.pem" "$url" || true
    fi
}

do_start() {
    local t0 emu http kdc_port port ok i code f b
    t0=$(now)
    emu=$state/emulator.json
    [[ -s $emu ]] || { note "$emu missing: start the emulator first (tests/rig/rig.sh start $state)"; exit 1; }
    http=$(sed -n 's/.*"http": *\([0-9][0-9]*\).*/\1/p' "$emu")
    [[ -n $http ]] || { note "no plain HTTP port in $emu"; exit 1; }
    for f in ca.pem server.pem server.key; do
        [[ -s $state/certs/$f ]] || { note "$state/certs/$f missing (tests/rig/make-certs.sh)"; exit 1; }
    done
    for b in krb5kdc kdb5_util kadmin.local kinit kvno apache2 curl; do
        command -v "$b" >/dev/null || [[ -x /usr/sbin/$b ]] || {
            note "$b not found: apt-get install krb5-kdc krb5-admin-server krb5-user apache2 libapache2-mod-auth-gssapi curl"
            exit 1
        }
    done
    [[ -f $APACHE_MODULES/mod_auth_gssapi.so ]] || { note "mod_auth_gssapi missing: apt-get install libapache2-mod-auth-gssapi"; exit 1; }

    do_stop
    rm -rf "$krb"
    mkdir -p "$krb/db" "$krb/run" "$krb/rcache" "$krb/htdocs/_rig"
    chmod 755 "$krb" "$krb/run" "$krb/htdocs" "$krb/htdocs/_rig"
    chmod 700 "$krb/db"
    echo ok >"$krb/htdocs/_rig/ok"
    chmod 644 "$krb/htdocs/_rig/ok"
    trap 'fail "command failed (line $LINENO)"' ERR
    if [[ $(id -u) -eq 0 ]]; then
        make_traversable
        chown www-data:www-data "$krb/rcache"
    fi
    chmod 700 "$krb/rcache"
    trace_kdc="" trace_apache="" trace_client=""
    if [[ ${KERBEROS_RIG_TRACE:-} == 1 ]]; then
        trace_kdc=$krb/kdc-trace.log trace_apache=$krb/apache-trace.log trace_client=$krb/client-trace.log
        touch "$trace_apache"
        [[ $(id -u) -ne 0 ]] || chown www-data "$trace_apache"
    fi

    export KRB5_CONFIG=$krb/krb5.conf KRB5_KDC_PROFILE=$krb/kdc.conf
    unset KRB5CCNAME KRB5_KTNAME KRB5_CLIENT_KTNAME
    [[ -z $trace_client ]] || export KRB5_TRACE=$trace_client

    # --- KDC: database, principals, daemon (a new port if the chosen one was taken meanwhile)
    read -r kdc_port port < <(free_ports)
    write_krb5_conf "$kdc_port"
    kdb5_util create -s -r "$REALM" -P "$MASTER_PW" >"$krb/kdb5_util.log" 2>&1
    kadmin.local -r "$REALM" >"$krb/kadmin-commands.log" 2>&1 <<EOF
addprinc +requires_preauth -pw $USER_PW $USER_PRINC
addprinc -randkey ${SERVICES[0]}
addprinc -randkey ${SERVICES[1]}
EOF
    ok=""
    for _ in 1 2 3; do
        start_kdc
        if kinit_to "$krb/alice.ccache"; then ok=1; break; fi
        grep -qi 'in use' "$krb/kdc.stderr" "$krb/kdc.log" 2>/dev/null || fail "the KDC does not answer"
        stop_pidfile "$krb/kdc.pid" krb5kdc kids
        note "KDC port $kdc_port taken, retrying"
        read -r kdc_port port < <(free_ports)
        write_krb5_conf "$kdc_port"
    done
    [[ -n $ok ]] || fail "the KDC does not answer"

    # --- the wrong ticket: service tickets encrypted with key version 1 ...
    kinit_to "$krb/wrong.ccache" || fail "kinit for the wrong ccache"
    kvno -q -c "FILE:$krb/wrong.ccache" "${SERVICES[@]}" || fail "kvno for the wrong ccache"
    # ... then ktadd re-keys both services (kvno 2) and writes only the new keys to Apache's keytab.
    kadmin.local -r "$REALM" >>"$krb/kadmin-commands.log" 2>&1 <<EOF
ktadd -k $krb/http.keytab ${SERVICES[0]} ${SERVICES[1]}
EOF
    [[ -s $krb/http.keytab ]] || fail "ktadd wrote no keytab"
    if [[ $(id -u) -eq 0 ]]; then
        chown root:www-data "$krb/http.keytab"
        chmod 640 "$krb/http.keytab"
    fi
    # Self-check with the keytab: a fresh ticket decrypts, the wrong one does not.
    cp "$krb/alice.ccache" "$krb/check.ccache"
    kvno -q -c "FILE:$krb/check.ccache" -k "$krb/http.keytab" "${SERVICES[@]}" >/dev/null 2>&1 ||
        fail "a fresh service ticket does not decrypt with http.keytab"
    if kvno -q -c "FILE:$krb/wrong.ccache" -k "$krb/http.keytab" "${SERVICES[0]}" >/dev/null 2>&1; then
        fail "the wrong ccache's ticket decrypts with http.keytab"
    fi
    rm -f "$krb/empty.ccache"

    # --- Apache (a new port if the chosen one was taken meanwhile)
    ok=""
    for _ in 1 2 3; do
        write_httpd_conf "$port" "$http"
        start_apache
        for ((i = 0; i < WAIT_APACHE * 50; i++)); do
            pid_is "$(cat "$krb/apache.pid")" apache2 || break
            code=$(http_code "$krb/check.ccache" "https://localhost:$port$SMOKE_PATH")
            if [[ $code == 200 ]]; then ok=1; break; fi
            [[ $code == 000 ]] || fail "Apache answers $code to a valid Kerberos ticket"
            sleep 0.02
        done
        [[ -z $ok ]] || break
        pid_is "$(cat "$krb/apache.pid")" apache2 && fail "Apache does not answer within ${WAIT_APACHE}s"
        grep -qi 'in use' "$krb/apache.stderr" "$krb/apache-error.log" 2>/dev/null || fail "Apache exited"
        note "HTTPS port $port taken, retrying"
        read -r _ port < <(free_ports)
    done
    [[ -n $ok ]] || fail "Apache could not bind a port"
    code=$(http_code "$krb/wrong.ccache" "https://localhost:$port$SMOKE_PATH")
    [[ $code == 401 ]] || fail "the wrong ticket got $code, not 401"
    code=$(http_code - "https://localhost:$port/_emulator/health")
    [[ $code == 200 ]] || fail "the emulator is not reachable through Apache ($code)"
    rm -f "$krb/check.ccache"
    trap - ERR

    cat >"$state/kerberos.env.tmp" <<EOF
KRB5_CONFIG=$krb/krb5.conf
KRB5CCNAME_ALICE=FILE:$krb/alice.ccache
KRB5CCNAME_EMPTY=FILE:$krb/empty.ccache
KRB5CCNAME_WRONG=FILE:$krb/wrong.ccache
KERBEROS_HTTPS_PORT=$port
KERBEROS_URL=https://localhost:$port/CertificateManagement
KERBEROS_URL_IP=https://127.0.0.1:$port/CertificateManagement
KERBEROS_EMULATOR_URL=https://localhost:$port/_emulator
KERBEROS_CA=$state/certs/ca.pem
KERBEROS_REALM=$REALM
KERBEROS_USER=$USER_PRINC
KERBEROS_PASSWORD=$USER_PW
KERBEROS_KDC=127.0.0.1:$kdc_port
EOF
    mv "$state/kerberos.env.tmp" "$state/kerberos.env"
    note "KDC 127.0.0.1:$kdc_port (UDP+TCP, PID $(cat "$krb/kdc.pid")), Apache https://localhost:$port (PID $(cat "$krb/apache.pid")) -> emulator :$http; up in $(since "$t0") s"
}

case $cmd in
start) do_start ;;
stop)
    t0=$(now)
    do_stop
    note "stopped in $(since "$t0") s"
    ;;
*) usage ;;
esac
