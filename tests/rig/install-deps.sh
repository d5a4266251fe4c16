#!/bin/sh
# Installs, from Debian's archive, everything mimcm's build, tests and rig need. Idempotent: it
# only calls apt-get when a package is missing. Runs as root, or as a user with sudo. Quiet when
# all goes well; when apt-get fails, its own output is shown.
set -eu

# One group per line.
packages="
cmake make pkg-config g++ clang clang-format git libclang-rt-dev
rapidjson-dev catch2 libcurl4-openssl-dev libpcsclite-dev
pcscd vsmartcard-vpcd vsmartcard-vpicc
python3 python3-virtualsmartcard python3-pycryptodome
opensc yubico-piv-tool
openssl ca-certificates curl util-linux nginx time
krb5-kdc krb5-admin-server krb5-user apache2 libapache2-mod-auth-gssapi winbind
g++-mingw-w64-x86-64-posix wine64 wine
"

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    exit 0
fi
echo "install-deps: installing$missing"

if [ "$(id -u)" -eq 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
else
    echo "install-deps: missing packages and no sudo: run this script as root" >&2
    exit 1
fi

# The tests run their own KDC, Apache and NTLM server on loopback ports: keep the packages'
# maintainer scripts from starting system-wide services while installing. Debian's container
# images already ship a policy-rc.d; any existing one is put back as it was afterwards.
# (MIMCM_TEST_POLICY_RC_D only serves this script's own test.)
policy=${MIMCM_TEST_POLICY_RC_D:-/usr/sbin/policy-rc.d}
saved=
log=$(mktemp)
cleanup() {
    status=$?
    if [ -n "$saved" ]; then
        $SUDO cp -p "$saved" "$policy" && $SUDO rm -f "$saved" || status=1
    else
        $SUDO rm -f "$policy" || status=1
    fi
    rm -f "$log"
    exit "$status"
}
if [ -e "$policy" ]; then
    saved=$(mktemp)
    $SUDO cp -p "$policy" "$saved"
fi
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
$SUDO chmod 755 "$policy"

# apt_get ARGS...: runs apt-get non-interactively; when it fails, shows everything apt-get said
# (apt-get update only warns about sources it could not fetch; that is often the reason).
apt_get() {
    if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 "$@" \
        >>"$log" 2>&1; then
        cat "$log" >&2
        echo "install-deps: apt-get $1 failed (see above)" >&2
        exit 1
    fi
}
apt_get update
# shellcheck disable=SC2086
apt_get install -y --no-install-recommends $missing

still=""
for p in $missing; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || still="$still $p"
done
if [ -n "$still" ]; then
    cat "$log" >&2
    echo "install-deps: still not installed after apt-get:$still" >&2
    exit 1
fi
