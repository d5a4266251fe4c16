#!/bin/sh
# Installs, from Debian's archive, everything mimcm's build, tests and rig need. Idempotent: it
# only calls apt-get when a package is missing.
set -eu
packages="cmake g++ clang clang-format pkg-config make rapidjson-dev catch2 libcurl4-openssl-dev
libpcsclite-dev pcscd vsmartcard-vpcd vsmartcard-vpicc python3 python3-virtualsmartcard
python3-pycryptodome openssl ca-certificates"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 $missing >/dev/null
