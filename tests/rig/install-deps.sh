#!/bin/sh
# Installs, from Debian's archive, everything mimcm's build, tests and rig need. Idempotent: it
# only calls apt-get when a package is missing.
set -eu
packages="cmake g++ clang clang-format pkg-config make rapidjson-dev catch2 libcurl4-openssl-dev
libpcsclite-dev pcscd vsmartcard-vpcd vsmartcard-vpicc python3 python3-virtualsmartcard
opensc yubico-piv-tool
python3-pycryptodome openssl ca-certificates
krb5-kdc krb5-admin-server krb5-user curl apache2 libapache2-mod-auth-gssapi winbind util-linux"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
# The tests run their own KDC, Apache and NTLM server on loopback ports: keep the packages'
# maintainer scripts from starting system-wide services while installing.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    made_policy=1
fi
cleanup() { [ -n "$made_policy" ] && $SUDO rm -f "$policy"; }
trap cleanup EXIT
$SUDO apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 $missing >/dev/null
