#!/usr/bin/env bash
# The rig's virtual cards checked by real clients nobody here wrote: Debian's OpenSC
# (opensc-tool, pkcs15-tool, opensc-explorer, gids-tool, piv-tool) and yubico-piv-tool.
# They must recognise the virtual GIDS and PIV cards, read the card id mimcm reads, find
# every mandatory object, and authenticate with the admin / management key.
#
#   opensc.sh RIG_DIR CLI gids|piv|piv-zero-guid|gids-mimcm|piv-mimcm
#
# RIG_DIR: a rig started by tests/rig/rig.sh (pcscd with the vpcd readers); CLI: mimcm-cli
# (for the *-mimcm cases). Cards go into slot 0 (GIDS) and slot 1 (PIV) with
# tests/rig/pcsc-rig.sh and are removed at the end. Exit 0 pass, 1 fail, 77 skip (a
# client is not installed: tests/rig/install-deps.sh installs them).
set -u
here=$(cd "$(dirname "$0")" && pwd)
rig_sh="$here/../rig/pcsc-rig.sh"
rig=${1:?usage: opensc.sh RIG_DIR CLI CASE}
cli=${2:?usage: opensc.sh RIG_DIR CLI CASE}
case_name=${3:?usage: opensc.sh RIG_DIR CLI CASE}
work=$(mktemp -d)
failures=0

GIDS_READER="Virtual PCD 00 00"
PIV_READER="Virtual PCD 00 01"
GIDS_CARD_ID=6d1a8c55e2f04b71a0c9d3e48f2b7a10
PIV_CARD_ID=a2b4c6d8e0f21436587a9cbedf102030
ADMIN_KEY=4b1f08a2c3d5e6f70819a2b3c4d5e6f7a8b9c0d1e2f30415
NEW_ADMIN_KEY=0102030405060708010203040506070801020304050607ab

cleanup() {
    "$rig_sh" remove "$rig" 0 2>/dev/null
    "$rig_sh" remove "$rig" 1 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

pass() {
    echo "ok: $*"
}

# contains NAME TEXT NEEDLE
contains() {
    if grep -qF -- "$3" <<<"$2"; then
        pass "$1"
    else
        fail "$1: '$3' not in output:"
        echo "$2" | head -40
    fi
}

# run NAME COMMAND... : output in $out, fails the case on a non-zero exit
run() {
    local name=$1
    shift
    out=$("$@" 2>&1)
    local rc=$?
    if [ $rc -ne 0 ]; then
        fail "$name exited $rc:"
        echo "$out" | head -40
        return 1
    fi
    return 0
}

# The raw 16 bytes as mimcm prints the card id: a Windows GUID (Data1-3 little-endian).
guid_of() {
    local h=$1
    local data1=${h:6:2}${h:4:2}${h:2:2}${h:0:2} data2=${h:10:2}${h:8:2} data3=${h:14:2}${h:12:2}
    echo "$data1-$data2-$data3-${h:16:4}-${h:20:12}"
}

# opensc-tool --serial's hex bytes, lowercase, no spaces
serial_of() {
    opensc-tool -r "$1" --serial 2>&1 |
        sed -n 's/^\(\([0-9A-F][0-9A-F] \)*[0-9A-F][0-9A-F]\) .*/\1/p' |
        tr -d ' \n' | tr 'A-F' 'a-f'
}

state_field() {  # FILE FIELD
    /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
        "$1" "$2"
}

for tool in opensc-tool pkcs15-tool opensc-explorer gids-tool piv-tool yubico-piv-tool; do
    if ! command -v $tool >/dev/null; then
        echo "SKIP: $tool is not installed" \
            "(tests/rig/install-deps.sh installs opensc and yubico-piv-tool)"
        exit 77
    fi
done
export OPENSC_CONF=/dev/null  # OpenSC's built-in defaults, not this machine's configuration

insert() {  # SLOT options...
    local slot=$1
    shift
    "$rig_sh" insert "$rig" "$slot" "$@" 2>"$work/insert.log" || {
        cat "$work/insert.log"
        echo "FAIL: cannot insert the card"
        exit 1
    }
}

case_gids() {
    insert 0 --profile gids --card-id $GIDS_CARD_ID --admin-key $ADMIN_KEY --pin 1234 \
        --state-file "$work/gids.json"
    run "opensc-tool -n" opensc-tool -r "$GIDS_READER" -n &&
        contains "OpenSC sees a GIDS card" "$out" "GIDS Smart Card"
    local serial
    serial=$(serial_of "$GIDS_READER")
    [ "$serial" = $GIDS_CARD_ID ] && pass "opensc-tool --serial = the card id" ||
        fail "opensc-tool --serial gave '$serial', expected $GIDS_CARD_ID"
    run "pkcs15-tool -D" pkcs15-tool -r "$GIDS_READER" -D && {
        contains "pkcs15-tool: GIDS card" "$out" "PKCS#15 Card [GIDS card]"
        contains "pkcs15-tool: serial" "$out" "Serial number  : $GIDS_CARD_ID"
        contains "pkcs15-tool: PIN tries from the 7F71 object" "$out" "Tries left     : 3"
    }
    # opensc-explorer opens the MF (SELECT 3F00) and finds the GIDS EFs by file id.
    run "opensc-explorer" opensc-explorer -r "$GIDS_READER" <<<"find A000 A01F" && {
        contains "opensc-explorer: EF A000 (master file table)" "$out" "A000 	 wEF"
        contains "opensc-explorer: EF A010" "$out" "A010 	 wEF"
        contains "opensc-explorer: EF A012 (cardid)" "$out" "A012 	 wEF"
        if grep -q "unable to select" <<<"$out"; then fail "opensc-explorer: $out"; fi
    }
    # gids-tool: mutual admin authentication, then PUT DATA of a new admin key.
    if gids-tool -r "$GIDS_READER" --admin-key $NEW_ADMIN_KEY -C --new-admin-key $ADMIN_KEY \
        >"$work/gids-tool.log" 2>&1; then
        fail "gids-tool authenticated with a wrong admin key"
    else
        pass "gids-tool refused by a wrong admin key"
    fi
    run "gids-tool -C" gids-tool -r "$GIDS_READER" --admin-key $ADMIN_KEY -C \
        --new-admin-key $NEW_ADMIN_KEY &&
        [ "$(state_field "$work/gids.json" admin_key)" = $NEW_ADMIN_KEY ] &&
        pass "gids-tool changed the admin key after mutual authentication" ||
        fail "admin key on the card: $(state_field "$work/gids.json" admin_key)"
    run "gids-tool -U" gids-tool -r "$GIDS_READER" --admin-key $NEW_ADMIN_KEY -U --pin 87654321 &&
        [ "$(state_field "$work/gids.json" pin)" = 87654321 ] &&
        [ "$(state_field "$work/gids.json" admin_authenticated)" = False ] &&
        pass "gids-tool unblocked the PIN; the card logged the admin out" ||
        fail "PIN / admin state on the card: $(cat "$work/gids.json")"
}

case_piv() {
    insert 1 --profile piv --card-id $PIV_CARD_ID --admin-key $ADMIN_KEY \
        --state-file "$work/piv.json"
    run "opensc-tool -n" opensc-tool -r "$PIV_READER" -n &&
        contains "OpenSC sees a PIV card" "$out" "Personal Identity Verification Card"
    local serial
    serial=$(serial_of "$PIV_READER")
    [ "$serial" = $PIV_CARD_ID ] && pass "opensc-tool --serial = the CHUID GUID" ||
        fail "opensc-tool --serial gave '$serial', expected $PIV_CARD_ID"
    run "pkcs15-tool -D" pkcs15-tool -r "$PIV_READER" -D && {
        contains "pkcs15-tool: serial" "$out" "Serial number  : $PIV_CARD_ID"
        contains "pkcs15-tool: PIV authentication certificate" "$out" \
            "X.509 Certificate [Certificate for PIV Authentication]"
        contains "pkcs15-tool: card authentication certificate" "$out" \
            "X.509 Certificate [Certificate for Card Authentication]"
        # Every mandatory object readable without the PIN has data.
        local object
        for object in "Card Capability Container" "Card Holder Unique Identifier" \
            "X.509 Certificate for PIV Authentication" "X.509 Certificate for Card Authentication" \
            "Security Object"; do
            if awk -v o="Data object '$object'" '$0 == o {f=1; next} f && /^Data object/ {exit 1}
                f && /Data \([0-9]+ bytes\)/ {found=1; exit} END {exit !found}' <<<"$out"; then
                pass "pkcs15-tool: $object present"
            else
                fail "pkcs15-tool: $object missing"
            fi
        done
    }
    run "yubico-piv-tool -a status" yubico-piv-tool -r "$PIV_READER" -a status && {
        if grep -q "No data available" <<<"$(grep -E '^(CHUID|CCC):' <<<"$out")"; then
            fail "yubico-piv-tool: CHUID or CCC missing"
        else
            pass "yubico-piv-tool: CHUID and CCC present"
        fi
        contains "yubico-piv-tool: CHUID GUID" "$out" "3410$PIV_CARD_ID"
        contains "yubico-piv-tool: slot 9a certificate" "$out" "Slot 9a:"
        contains "yubico-piv-tool: slot 9e certificate" "$out" "Slot 9e:"
        contains "yubico-piv-tool: PIN tries" "$out" "PIN tries left:	3"
    }
    # piv-tool: mutual 9B authentication (3DES) with the key from PIV_EXT_AUTH_KEY.
    echo $NEW_ADMIN_KEY >"$work/wrong.key"
    echo $ADMIN_KEY >"$work/right.key"
    if PIV_EXT_AUTH_KEY="$work/wrong.key" piv-tool -r "$PIV_READER" -A M:9B:03 \
        >"$work/piv-tool.log" 2>&1; then
        fail "piv-tool authenticated with a wrong management key"
    else
        pass "piv-tool refused by a wrong management key"
    fi
    PIV_EXT_AUTH_KEY="$work/right.key" run "piv-tool -A M:9B:03" \
        piv-tool -r "$PIV_READER" -A M:9B:03 && pass "piv-tool -A M:9B:03 with the management key"
    # yubico-piv-tool: mutual authentication, then SET MANAGEMENT KEY.
    run "yubico-piv-tool set-mgm-key" yubico-piv-tool -r "$PIV_READER" -k$ADMIN_KEY \
        -a set-mgm-key -n $NEW_ADMIN_KEY &&
        [ "$(state_field "$work/piv.json" admin_key)" = $NEW_ADMIN_KEY ] &&
        pass "yubico-piv-tool changed the management key" ||
        fail "management key on the card: $(state_field "$work/piv.json" admin_key)"
}

case_piv_zero_guid() {
    # A zero GUID: OpenSC falls back to the FASC-N (25 bytes, agency 9999) as the serial.
    insert 1 --profile piv --chuid-guid zero
    local serial
    serial=$(serial_of "$PIV_READER")
    [ ${#serial} -eq 50 ] && [ "${serial:0:6}" = d4e739 ] &&
        pass "opensc-tool --serial = the FASC-N when the GUID is zero" ||
        fail "opensc-tool --serial gave '$serial'"
}

# mimcm-cli read-card must give the id OpenSC reads.
compare_with_mimcm() {  # READER RAW_CARD_ID
    local expected got
    expected=$(guid_of "$2")
    run "mimcm-cli read-card" "$cli" read-card --reader "$1" --json || return
    got=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["cardid"])' "$out")
    [ "$got" = "$expected" ] && pass "mimcm reads the card id OpenSC reads ($got)" ||
        fail "mimcm read '$got', OpenSC's serial is $2 = $expected"
}

case_gids_mimcm() {
    insert 0 --profile gids --card-id $GIDS_CARD_ID
    [ "$(serial_of "$GIDS_READER")" = $GIDS_CARD_ID ] || fail "OpenSC's serial"
    compare_with_mimcm "$GIDS_READER" $GIDS_CARD_ID
}

case_piv_mimcm() {
    insert 1 --profile piv --card-id $PIV_CARD_ID
    [ "$(serial_of "$PIV_READER")" = $PIV_CARD_ID ] || fail "OpenSC's serial"
    compare_with_mimcm "$PIV_READER" $PIV_CARD_ID
}

case $case_name in
gids) case_gids ;;
piv) case_piv ;;
piv-zero-guid) case_piv_zero_guid ;;
gids-mimcm) case_gids_mimcm ;;
piv-mimcm) case_piv_mimcm ;;
*)
    echo "unknown case $case_name" >&2
    exit 2
    ;;
esac
if [ $failures -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
