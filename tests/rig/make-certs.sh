#!/bin/sh
# make-certs.sh DIR: throwaway TLS material for the CM emulator and the HTTPS tests (openssl only).
#
# Creates in DIR:
#   ca.pem, ca.key          test CA (EC P-256, valid 2 days)
#   server.pem, server.key  CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1, serverAuth, signed by the CA
#   other-ca.pem            an unrelated CA (for "wrong CA" tests); its key is thrown away
#   server.pin              libcurl pin: sha256//<base64 sha256 of the server's DER SubjectPublicKeyInfo>
#   wrong.pin               a well-formed pin of another key (other-ca's), for pin-mismatch tests
#   expired.pem, expired.key      like server.pem (CN=localhost, same SAN), by the CA, but valid from 31 days
#                                 ago until 1 day ago only
#   wronghost.pem, wronghost.key  CN=wrong.example, SAN DNS:wrong.example only, serverAuth, by the CA
#   client-ca.pem, client-ca.key  test client CA (the CA the emulator's client-cert listener trusts)
#   client.pem, client.key        CN=kiosk01, EKU clientAuth, signed by the client CA
#   client.p12                    client.pem + client.key as PKCS#12 (OpenSSL 3 default AES/PBKDF2)
#   client.p12.password           its password (Client-Passw0rd!), no trailing newline
#   other-client.pem, other-client.key  CN=kiosk01, clientAuth, signed by other-ca: must be rejected
#
# Idempotent: if every file exists, the certificates are valid for at least another hour (expired.pem:
# is expired), each verifies against its CA, every key matches its certificate, the P12 opens with its
# password and the pins are right, nothing is touched. Otherwise everything is made afresh (new files
# are built in a temporary directory and moved in). Concurrent runs on one DIR are serialized (flock).
# Certificates and pins are mode 644; keys, client.p12 and client.p12.password 600.
# Exit status 0 on success, 2 on a usage error.
set -eu

usage() {
    echo "usage: $0 DIR" >&2
    exit 2
}
[ $# -eq 1 ] || usage
case "$1" in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac

dir=$1
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
OPENSSL=${OPENSSL:-openssl}

# Serialize concurrent runs on the same directory (e.g. parallel test fixtures), when flock exists.
if command -v flock >/dev/null 2>&1 && [ -z "${MAKE_CERTS_LOCKED:-}" ]; then
    MAKE_CERTS_LOCKED=1 exec flock "$dir/.make-certs.lock" sh "$0" "$@"
fi

pin_of() { # pin_of CERT: print the libcurl pin of CERT
    "$OPENSSL" x509 -in "$1" -noout -pubkey |
        "$OPENSSL" pkey -pubin -outform der |
        "$OPENSSL" dgst -sha256 -binary |
        "$OPENSSL" base64 -A |
        sed 's|^|sha256//|'
}

spki_of_cert() { "$OPENSSL" x509 -in "$1" -noout -pubkey 2>/dev/null; }
spki_of_key() { "$OPENSSL" pkey -in "$1" -pubout 2>/dev/null; }

same_key() { # same_key CERT KEY: the key belongs to the certificate
    [ "$(spki_of_cert "$1")" = "$(spki_of_key "$2")" ]
}

P12_PASSWORD='Client-Passw0rd!'
CERTS="ca server other-ca expired wronghost client-ca client other-client"
KEYS="ca server expired wronghost client-ca client other-client"
OTHERS="server.pin wrong.pin client.p12 client.p12.password"

is_valid() {
    for f in $CERTS; do [ -s "$dir/$f.pem" ] || return 1; done
    for f in $KEYS; do [ -s "$dir/$f.key" ] || return 1; done
    for f in $OTHERS; do [ -s "$dir/$f" ] || return 1; done
    for f in ca server other-ca wronghost client-ca client other-client; do
        "$OPENSSL" x509 -in "$dir/$f.pem" -noout -checkend 3600 >/dev/null 2>&1 || return 1
    done
    # expired.pem must be expired now, and otherwise be a good server certificate from the CA
    ! "$OPENSSL" x509 -in "$dir/expired.pem" -noout -checkend 0 >/dev/null 2>&1 || return 1
    "$OPENSSL" verify -no_check_time -CAfile "$dir/ca.pem" -purpose sslserver "$dir/expired.pem" >/dev/null 2>&1 ||
        return 1
    "$OPENSSL" verify -CAfile "$dir/ca.pem" -purpose sslserver "$dir/server.pem" "$dir/wronghost.pem" \
        >/dev/null 2>&1 || return 1
    "$OPENSSL" verify -CAfile "$dir/client-ca.pem" -purpose sslclient "$dir/client.pem" >/dev/null 2>&1 || return 1
    "$OPENSSL" verify -CAfile "$dir/other-ca.pem" -purpose sslclient "$dir/other-client.pem" >/dev/null 2>&1 ||
        return 1
    for f in $KEYS; do same_key "$dir/$f.pem" "$dir/$f.key" || return 1; done
    [ "$(cat "$dir/client.p12.password")" = "$P12_PASSWORD" ] || return 1
    [ "$("$OPENSSL" pkcs12 -in "$dir/client.p12" -passin "file:$dir/client.p12.password" -nokeys -clcerts 2>/dev/null |
        "$OPENSSL" x509 -noout -fingerprint -sha256 2>/dev/null)" = \
      "$("$OPENSSL" x509 -in "$dir/client.pem" -noout -fingerprint -sha256)" ] || return 1
    [ "$(cat "$dir/server.pin")" = "$(pin_of "$dir/server.pem")" ] || return 1
    [ "$(cat "$dir/wrong.pin")" = "$(pin_of "$dir/other-ca.pem")" ] || return 1
    return 0
}

if is_valid; then
    exit 0
fi

tmp=$(mktemp -d "$dir/.make-certs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
umask 077

# A self-signed CA: make_ca NAME "CN"
make_ca() {
    "$OPENSSL" req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$tmp/$1.key" -out "$tmp/$1.pem" -days 2 -sha256 -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" 2>/dev/null
}

# A key and a CSR: make_csr NAME "CN"
make_csr() {
    "$OPENSSL" req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$tmp/$1.key" -out "$tmp/$1.csr" -subj "/CN=$2" 2>/dev/null
}

# An extension file: make_ext NAME EKU SAN (SAN may be empty)
make_ext() {
    {
        echo "basicConstraints=critical,CA:FALSE"
        if [ "$2" = serverAuth ]; then
            echo "keyUsage=critical,digitalSignature,keyEncipherment"
        else
            echo "keyUsage=critical,digitalSignature"
        fi
        echo "extendedKeyUsage=$2"
        [ -z "$3" ] || echo "subjectAltName=$3"
        echo "subjectKeyIdentifier=hash"
        echo "authorityKeyIdentifier=keyid"
    } >"$tmp/$1.ext"
}

# A certificate valid from now for 2 days: sign NAME CA
sign() {
    "$OPENSSL" x509 -req -in "$tmp/$1.csr" -CA "$tmp/$2.pem" -CAkey "$tmp/$2.key" \
        -set_serial "0x$("$OPENSSL" rand -hex 16)" -days 2 -sha256 \
        -extfile "$tmp/$1.ext" -out "$tmp/$1.pem" 2>/dev/null
}

# A certificate with explicit dates (openssl 3.0's x509 cannot backdate, "openssl ca" can):
# sign_dated NAME CA START END, dates as YYYYMMDDHHMMSSZ
sign_dated() {
    mkdir "$tmp/ca-db"
    : >"$tmp/ca-db/index.txt"
    "$OPENSSL" rand -hex 16 >"$tmp/ca-db/serial"
    cat >"$tmp/ca-db/ca.cnf" <<EOF
[ca]
default_ca = test_ca
[test_ca]
database = $tmp/ca-db/index.txt
serial = $tmp/ca-db/serial
new_certs_dir = $tmp/ca-db
default_md = sha256
policy = any_cn
unique_subject = no
[any_cn]
commonName = supplied
EOF
    "$OPENSSL" ca -batch -config "$tmp/ca-db/ca.cnf" -cert "$tmp/$2.pem" -keyfile "$tmp/$2.key" \
        -in "$tmp/$1.csr" -out "$tmp/$1.pem" -notext -startdate "$3" -enddate "$4" \
        -extfile "$tmp/$1.ext" >/dev/null 2>&1
    rm -rf "$tmp/ca-db"
}

# UTC time SECONDS from now as YYYYMMDDHHMMSSZ (GNU date; fixed dates in the past otherwise)
utc_in() {
    date -u -d "@$(($(date +%s) + $1))" +%Y%m%d%H%M%SZ 2>/dev/null || if [ "$1" -lt -86400 ]; then
        echo 20240101000000Z
    else
        echo 20240131000000Z
    fi
}

make_ca ca "mimcm Test CA"
make_ca other-ca "mimcm Unrelated Test CA"
make_ca client-ca "mimcm Test Client CA"

server_san="DNS:localhost,IP:127.0.0.1,IP:::1"
make_csr server localhost
make_ext server serverAuth "$server_san"
sign server ca

make_csr expired localhost
make_ext expired serverAuth "$server_san"
sign_dated expired ca "$(utc_in -2678400)" "$(utc_in -86400)"

make_csr wronghost wrong.example
make_ext wronghost serverAuth "DNS:wrong.example"
sign wronghost ca

make_csr client kiosk01
make_ext client clientAuth ""
sign client client-ca

make_csr other-client kiosk01
make_ext other-client clientAuth ""
sign other-client other-ca

printf '%s' "$P12_PASSWORD" >"$tmp/client.p12.password"
"$OPENSSL" pkcs12 -export -in "$tmp/client.pem" -inkey "$tmp/client.key" -name kiosk01 \
    -passout "file:$tmp/client.p12.password" -out "$tmp/client.p12" 2>/dev/null

pin_of "$tmp/server.pem" >"$tmp/server.pin"
pin_of "$tmp/other-ca.pem" >"$tmp/wrong.pin"

for f in $CERTS; do chmod 644 "$tmp/$f.pem"; done
for f in $KEYS; do chmod 600 "$tmp/$f.key"; done
chmod 644 "$tmp/server.pin" "$tmp/wrong.pin"
chmod 600 "$tmp/client.p12" "$tmp/client.p12.password"
# Keys first, so that a reader never pairs a new certificate with an old key for long.
for f in $KEYS; do mv -f "$tmp/$f.key" "$dir/$f.key"; done
for f in $CERTS; do mv -f "$tmp/$f.pem" "$dir/$f.pem"; done
for f in $OTHERS; do mv -f "$tmp/$f" "$dir/$f"; done

if ! is_valid; then
    echo "$0: generated files in $dir do not verify" >&2
    exit 1
fi
