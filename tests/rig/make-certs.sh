#!/bin/sh
# make-certs.sh DIR: throwaway TLS material for the CM emulator and the HTTPS tests (openssl only).
#
# Creates in DIR:
#   ca.pem, ca.key        test CA (EC P-256, valid 2 days)
#   server.pem, server.key  CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1, serverAuth, signed by the CA
#   other-ca.pem          an unrelated CA (for "wrong CA" tests); its key is thrown away
#   server.pin            libcurl pin: sha256//<base64 sha256 of the server's DER SubjectPublicKeyInfo>
#
# Idempotent: if every file exists, the certificates are valid for at least another hour, the server
# certificate verifies against ca.pem, the key matches it and the pin is right, nothing is touched.
# Otherwise everything is made afresh (new files are built in a temporary directory and moved in).
# Certificates and the pin are mode 644, keys 600. Exit status 0 on success.
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

is_valid() {
    for f in ca.pem ca.key server.pem server.key other-ca.pem server.pin; do
        [ -s "$dir/$f" ] || return 1
    done
    for f in ca.pem server.pem other-ca.pem; do
        "$OPENSSL" x509 -in "$dir/$f" -noout -checkend 3600 >/dev/null 2>&1 || return 1
    done
    "$OPENSSL" verify -CAfile "$dir/ca.pem" -purpose sslserver "$dir/server.pem" >/dev/null 2>&1 || return 1
    [ "$(spki_of_cert "$dir/server.pem")" = "$(spki_of_key "$dir/server.key")" ] || return 1
    [ "$(spki_of_cert "$dir/ca.pem")" = "$(spki_of_key "$dir/ca.key")" ] || return 1
    [ "$(cat "$dir/server.pin")" = "$(pin_of "$dir/server.pem")" ] || return 1
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

make_ca ca "mimcm Test CA"
make_ca other-ca "mimcm Unrelated Test CA"

"$OPENSSL" req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$tmp/server.key" -out "$tmp/server.csr" -subj "/CN=localhost" 2>/dev/null
cat >"$tmp/server.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
"$OPENSSL" x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
    -set_serial "0x$("$OPENSSL" rand -hex 16)" -days 2 -sha256 \
    -extfile "$tmp/server.ext" -out "$tmp/server.pem" 2>/dev/null
pin_of "$tmp/server.pem" >"$tmp/server.pin"

chmod 644 "$tmp/ca.pem" "$tmp/server.pem" "$tmp/other-ca.pem" "$tmp/server.pin"
chmod 600 "$tmp/ca.key" "$tmp/server.key"
# Keys first, so that a reader never pairs a new certificate with an old key for long.
for f in ca.key server.key ca.pem server.pem other-ca.pem server.pin; do
    mv -f "$tmp/$f" "$dir/$f"
done

if ! is_valid; then
    echo "$0: generated files in $dir do not verify" >&2
    exit 1
fi
