#!/usr/bin/env bash
# pcsc-rig.sh: run a real pcscd and virtual cards (tests/rig/virtual_card.py)
# for the mimcm tests.  See tests/rig/README.md.
#
#   pcsc-rig.sh start-pcscd STATE
#   pcsc-rig.sh stop-pcscd  STATE
#   pcsc-rig.sh insert      STATE SLOT [virtual_card.py options...]
#   pcsc-rig.sh remove      STATE SLOT
#   pcsc-rig.sh wait-state  STATE SLOT present|empty [TIMEOUT_SECONDS]
#   pcsc-rig.sh status      STATE
#   pcsc-rig.sh stop-all    STATE
#
# STATE is a directory (created if missing) holding the PID files and logs:
#   pcscd.pid / pcscd.external   we started pcscd / we found one running
#   pcscd.log                    pcscd's output (started with -f -a: APDUs logged)
#   card<SLOT>.pid, card<SLOT>.log
# Processes are only ever stopped by their recorded PID, never by name.
# Reader state is read through libpcsclite with a small ctypes helper (no
# compilation, no extra package), blocking in SCardGetStatusChange.

set -u

RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$RIG_DIR/lib.sh"  # pid_is, stop_pid, STOP_GRACE
PYTHON=${PCSC_RIG_PYTHON:-/usr/bin/python3}
CARD_SCRIPT="$RIG_DIR/virtual_card.py"
PCSCD_BIN=${PCSCD:-$(command -v pcscd || echo /usr/sbin/pcscd)}
PCSCD_SOCKET=/run/pcscd/pcscd.comm
READER_PREFIX="Virtual PCD 00 0"
START_TIMEOUT=5     # seconds: pcscd answering, card present, card removed

die() {
    echo "pcsc-rig: $*" >&2
    exit 1
}

note() {
    echo "pcsc-rig: $*" >&2
}

now() {
    date +%s.%N
}

elapsed_since() {
    awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'
}

# ---------------------------------------------------------------------------
# PC/SC helper: python3 + ctypes on libpcsclite.so.1.
#   pcsc ping                        -> prints reader names; exit 1: no pcscd
#   pcsc wait READER WANT TIMEOUT [PID]
#        WANT = present|empty; exit 0 reached, 2 timeout, 4 PID exited
#   pcsc status READER...            -> "READER: empty|present [ATR]" lines
# ---------------------------------------------------------------------------
pcsc() {
    "$PYTHON" - "$@" <<'PYEOF'
import ctypes, sys, time

SUCCESS, E_TIMEOUT = 0, 0x8010000A
STATE_UNAWARE, STATE_CHANGED, STATE_UNKNOWN = 0x0, 0x2, 0x4
STATE_EMPTY, STATE_PRESENT, STATE_MUTE = 0x10, 0x20, 0x200
DWORD = ctypes.c_ulong          # pcsc-lite on Linux: DWORD is unsigned long
SCARDCONTEXT = ctypes.c_long

class ReaderState(ctypes.Structure):
    _fields_ = [("szReader", ctypes.c_char_p), ("pvUserData", ctypes.c_void_p),
                ("dwCurrentState", DWORD), ("dwEventState", DWORD),
                ("cbAtr", DWORD), ("rgbAtr", ctypes.c_ubyte * 33)]

lib = ctypes.CDLL("libpcsclite.so.1")
lib.SCardEstablishContext.argtypes = [DWORD, ctypes.c_void_p, ctypes.c_void_p,
                                      ctypes.POINTER(SCARDCONTEXT)]
lib.SCardReleaseContext.argtypes = [SCARDCONTEXT]
lib.SCardListReaders.argtypes = [SCARDCONTEXT, ctypes.c_char_p, ctypes.c_char_p,
                                 ctypes.POINTER(DWORD)]
lib.SCardGetStatusChange.argtypes = [SCARDCONTEXT, DWORD, ctypes.POINTER(ReaderState), DWORD]
for fn in (lib.SCardEstablishContext, lib.SCardReleaseContext, lib.SCardListReaders,
           lib.SCardGetStatusChange):
    fn.restype = ctypes.c_long

def rc(value):
    return value & 0xFFFFFFFF

def establish():
    ctx = SCARDCONTEXT()
    if rc(lib.SCardEstablishContext(2, None, None, ctypes.byref(ctx))) != SUCCESS:
        return None
    return ctx

def list_readers(ctx):
    size = DWORD(0)
    if rc(lib.SCardListReaders(ctx, None, None, ctypes.byref(size))) != SUCCESS:
        return []
    buf = ctypes.create_string_buffer(size.value)
    if rc(lib.SCardListReaders(ctx, None, buf, ctypes.byref(size))) != SUCCESS:
        return []
    return [r.decode() for r in buf.raw[:size.value].split(b"\0") if r]

def describe(state):
    ev = state.dwEventState
    if ev & STATE_UNKNOWN:
        return "unknown-reader"
    if ev & STATE_PRESENT:
        text = "present" + (" mute" if ev & STATE_MUTE else "")
        return text + " " + bytes(state.rgbAtr[:state.cbAtr]).hex()
    if ev & STATE_EMPTY:
        return "empty"
    return "state-0x%x" % ev

def process_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

def wait(reader, want, timeout, pid=None):
    deadline = time.monotonic() + timeout
    flag = STATE_PRESENT if want == "present" else STATE_EMPTY
    ctx, last = None, "no-pcscd"
    state = ReaderState(reader.encode(), None, STATE_UNAWARE, 0, 0)
    while True:
        remaining = deadline - time.monotonic()
        if pid is not None and not process_alive(pid):
            print("card process %d exited" % pid)
            return 4
        if remaining <= 0:
            print(last)
            return 2
        if ctx is None:
            ctx = establish()
            if ctx is None:
                time.sleep(min(0.05, remaining))
                continue
            state.dwCurrentState = STATE_UNAWARE
        slice_ms = int(min(remaining, 0.1 if pid is not None else remaining) * 1000)
        result = rc(lib.SCardGetStatusChange(ctx, max(slice_ms, 1), ctypes.byref(state), 1))
        if result == E_TIMEOUT:
            continue
        if result != SUCCESS:
            lib.SCardReleaseContext(ctx)
            ctx, last = None, "pcsc-error-0x%08x" % result
            time.sleep(0.05)
            continue
        last = describe(state)
        if state.dwEventState & STATE_UNKNOWN:
            time.sleep(0.05)            # reader not (yet) there
            state.dwCurrentState = STATE_UNAWARE
            continue
        if state.dwEventState & flag:
            print(last)
            return 0
        state.dwCurrentState = state.dwEventState & ~STATE_CHANGED

def status(readers):
    ctx = establish()
    if ctx is None:
        print("pcscd not answering")
        return 1
    for name in readers:
        state = ReaderState(name.encode(), None, STATE_UNAWARE, 0, 0)
        result = rc(lib.SCardGetStatusChange(ctx, 0, ctypes.byref(state), 1))
        print("%s: %s" % (name, describe(state) if result in (SUCCESS, E_TIMEOUT)
                          else "pcsc-error-0x%08x" % result))
    lib.SCardReleaseContext(ctx)
    return 0

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "ping":
    ctx = establish()
    if ctx is None:
        sys.exit(1)
    print("\n".join(list_readers(ctx)))
    lib.SCardReleaseContext(ctx)
    sys.exit(0)
if cmd == "wait":
    sys.exit(wait(args[0], args[1], float(args[2]), int(args[3]) if len(args) > 3 else None))
if cmd == "status":
    sys.exit(status(args))
sys.exit("unknown helper command " + cmd)
PYEOF
}

# ---------------------------------------------------------------------------
# process helpers (PID-based only; pid_is and stop_pid are in lib.sh)
# ---------------------------------------------------------------------------

read_pid() {
    [[ -f $1 ]] && head -n1 "$1"
}

check_state_dir() {
    [[ -n ${1:-} ]] || die "missing STATE directory argument"
    mkdir -p "$1" || die "cannot create state directory $1"
}

check_slot() {
    [[ ${1:-} == 0 || ${1:-} == 1 ]] || die "SLOT must be 0 or 1, got '${1:-}'"
}

# pcscd_answers: the socket exists and SCardEstablishContext works.
pcscd_answers() {
    [[ -S $PCSCD_SOCKET ]] && pcsc ping >/dev/null 2>&1
}

# ---------------------------------------------------------------------------
# subcommands
# ---------------------------------------------------------------------------

# use_external_pcscd STATE: record that the running pcscd is not ours.
use_external_pcscd() {
    local readers
    echo external >"$1/pcscd.external"
    readers=$(pcsc ping 2>/dev/null)
    [[ $readers == *"${READER_PREFIX}0"* ]] ||
        note "warning: the running pcscd has no '${READER_PREFIX}0' reader (vpcd not configured?)"
    note "pcscd already running (not started by this rig): using it"
}

# clear_stale_socket: a socket left by a pcscd that died (e.g. SIGKILL) makes a new
# pcscd refuse to start while the old PID still exists, even as a zombie.
clear_stale_socket() {
    local other
    [[ -e $PCSCD_SOCKET ]] || return 0
    other=$(tr -dc 0-9 2>/dev/null </run/pcscd/pcscd.pid)
    if [[ -n $other ]] && pid_is "$other" pcscd; then
        return 0        # alive: maybe still starting; the caller waits for it
    fi
    note "removing the stale $PCSCD_SOCKET (its pcscd ${other:-?} is gone)"
    rm -f "$PCSCD_SOCKET" /run/pcscd/pcscd.pid
}

cmd_start_pcscd() {
    local state=$1 pid start i readers
    check_state_dir "$state"
    pid=$(read_pid "$state/pcscd.pid")
    if [[ -n $pid ]] && pid_is "$pid" pcscd; then
        note "pcscd already started by this rig (PID $pid)"
        return 0
    fi
    rm -f "$state/pcscd.pid" "$state/pcscd.external"
    if pcscd_answers; then
        use_external_pcscd "$state"
        return 0
    fi
    [[ -x $PCSCD_BIN ]] || die "pcscd not found (install the pcscd package)"
    [[ -f /etc/reader.conf.d/vpcd ]] || note "warning: /etc/reader.conf.d/vpcd missing (install vsmartcard-vpcd)"
    clear_stale_socket
    start=$(now)
    "$PCSCD_BIN" -f -a </dev/null >>"$state/pcscd.log" 2>&1 &
    pid=$!
    echo "$pid" >"$state/pcscd.pid"
    for ((i = 0; i < START_TIMEOUT * 50; i++)); do
        if [[ -n $pid ]] && ! pid_is "$pid" pcscd; then
            # Ours exited: fine if another pcscd (started concurrently) answers.
            rm -f "$state/pcscd.pid"
            pid=
        fi
        if [[ -S $PCSCD_SOCKET ]] && readers=$(pcsc ping 2>/dev/null) &&
            [[ $readers == *"${READER_PREFIX}1"* ]]; then
            if [[ -z $pid ]]; then
                use_external_pcscd "$state"
            else
                note "pcscd started (PID $pid) and answering after $(elapsed_since "$start") s"
            fi
            return 0
        fi
        sleep 0.02
    done
    if [[ -n $pid ]]; then
        stop_pid "$pid" pcscd
        rm -f "$state/pcscd.pid"
    fi
    tail -n 5 "$state/pcscd.log" >&2
    die "pcscd did not answer with the vpcd readers within ${START_TIMEOUT}s (see $state/pcscd.log)"
}

cmd_stop_pcscd() {
    local state=$1 pid
    check_state_dir "$state"
    pid=$(read_pid "$state/pcscd.pid")
    if [[ -n $pid ]]; then
        stop_pid "$pid" pcscd || die "could not stop pcscd (PID $pid)"
        rm -f "$state/pcscd.pid"
    elif [[ -f $state/pcscd.external ]]; then
        note "pcscd was not started by this rig: leaving it running"
    fi
    rm -f "$state/pcscd.external"
}

# wait_state READER_SLOT WANT TIMEOUT [PID]
wait_state() {
    local slot=$1 want=$2 timeout=$3 pid=${4:-} out code
    out=$(pcsc wait "${READER_PREFIX}${slot}" "$want" "$timeout" ${pid:+"$pid"} 2>&1)
    code=$?
    LAST_STATE=$out
    return $code
}

# Stop our card in SLOT (if any); do not wait for the reader.
kill_card() {
    local state=$1 slot=$2 pid
    pid=$(read_pid "$state/card$slot.pid")
    [[ -n $pid ]] || return 0
    stop_pid "$pid" virtual_card.py || die "could not stop the card in slot $slot (PID $pid)"
    rm -f "$state/card$slot.pid"
}

cmd_remove() {
    local state=$1 slot=$2 start
    check_state_dir "$state"
    check_slot "$slot"
    start=$(now)
    kill_card "$state" "$slot"
    if ! pcscd_answers; then
        return 0        # no pcscd: no reader to wait for
    fi
    wait_state "$slot" empty "$START_TIMEOUT" ||
        die "slot $slot: reader not EMPTY within ${START_TIMEOUT}s ($LAST_STATE); a card not started by this rig?"
    note "slot $slot: reader empty after $(elapsed_since "$start") s"
}

cmd_insert() {
    local state=$1 slot=$2 start pid code
    shift 2
    check_state_dir "$state"
    check_slot "$slot"
    [[ -f $CARD_SCRIPT ]] || die "missing $CARD_SCRIPT"
    pcscd_answers || die "pcscd is not running (run: $0 start-pcscd $state)"
    kill_card "$state" "$slot"
    # A card we just killed may still be reported for a moment: wait for EMPTY.
    wait_state "$slot" empty 2 ||
        die "slot $slot is occupied ($LAST_STATE) by a card not started by this rig"
    start=$(now)
    "$PYTHON" "$CARD_SCRIPT" --slot "$slot" "$@" </dev/null >>"$state/card$slot.log" 2>&1 &
    pid=$!
    echo "$pid" >"$state/card$slot.pid"
    wait_state "$slot" present "$START_TIMEOUT" "$pid"
    code=$?
    if ((code == 0)); then
        note "slot $slot: card present after $(elapsed_since "$start") s (PID $pid, ${LAST_STATE#present })"
        return 0
    fi
    stop_pid "$pid" virtual_card.py
    rm -f "$state/card$slot.pid"
    tail -n 20 "$state/card$slot.log" >&2
    if ((code == 4)); then
        die "slot $slot: virtual card exited before it was seen (see $state/card$slot.log)"
    fi
    die "slot $slot: card not PRESENT within ${START_TIMEOUT}s ($LAST_STATE)"
}

cmd_wait_state() {
    local state=$1 slot=$2 want=${3:-} timeout=${4:-$START_TIMEOUT}
    check_state_dir "$state"
    check_slot "$slot"
    [[ $want == present || $want == empty ]] || die "wait-state: want 'present' or 'empty', got '$want'"
    [[ $timeout =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "wait-state: bad timeout '$timeout'"
    wait_state "$slot" "$want" "$timeout" ||
        die "slot $slot: not ${want^^} within ${timeout}s ($LAST_STATE)"
}

cmd_status() {
    local state=$1 slot pid what
    check_state_dir "$state"
    pid=$(read_pid "$state/pcscd.pid")
    if [[ -n $pid ]] && pid_is "$pid" pcscd; then
        echo "pcscd: started by this rig, PID $pid"
    elif [[ -f $state/pcscd.external ]]; then
        echo "pcscd: external (not started by this rig)"
    else
        echo "pcscd: not started by this rig"
    fi
    for slot in 0 1; do
        pid=$(read_pid "$state/card$slot.pid")
        what="none"
        [[ -n $pid ]] && { pid_is "$pid" virtual_card.py && what="PID $pid" || what="PID $pid (dead)"; }
        echo "card$slot: $what"
    done
    pcsc status "${READER_PREFIX}0" "${READER_PREFIX}1"
}

cmd_stop_all() {
    local state=$1 slot rc=0
    check_state_dir "$state"
    for slot in 0 1; do
        if [[ -f $state/card$slot.pid ]]; then
            (cmd_remove "$state" "$slot") || rc=1
        fi
    done
    (cmd_stop_pcscd "$state") || rc=1
    return $rc
}

usage() {
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

main() {
    local cmd=${1:-}
    [[ $# -ge 2 ]] || usage
    shift
    case $cmd in
    start-pcscd) cmd_start_pcscd "$1" ;;
    stop-pcscd) cmd_stop_pcscd "$1" ;;
    insert) [[ $# -ge 2 ]] || usage; cmd_insert "$@" ;;
    remove) [[ $# -ge 2 ]] || usage; cmd_remove "$1" "$2" ;;
    wait-state) [[ $# -ge 3 ]] || usage; cmd_wait_state "$@" ;;
    status) cmd_status "$1" ;;
    stop-all) cmd_stop_all "$1" ;;
    *) usage ;;
    esac
}

main "$@"
