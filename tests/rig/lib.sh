# lib.sh: process helpers of the rig scripts (rig.sh, ntlm.sh, kerberos.sh, pcsc-rig.sh), sourced by
# them. Processes are found by their recorded PID only, never by name. Messages go to the sourcing
# script's note() if it has one (otherwise the helpers are silent).

STOP_GRACE=3        # seconds between TERM and KILL

lib_note() {
    if declare -F note >/dev/null; then
        note "$@"
    fi
}

# pid_is PID WORD: PID is alive (not a zombie) and its command line contains WORD (""
# matches any), so a recycled PID is never signalled.
pid_is() {
    local pid=$1 word=$2 stat cmdline
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]] || return 1
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *"$word"* ]]
}

# stop_pid PID [WORD [kids]]: if pid_is PID WORD, TERM, then KILL after $STOP_GRACE seconds (with
# "kids": its direct children too) and wait up to 1 s more. Status 1 if it is still there then.
stop_pid() {
    local pid=$1 word=${2:-} with_kids=${3:-} kids="" i
    pid_is "$pid" "$word" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_GRACE * 50; i++)); do
        pid_is "$pid" "$word" || return 0
        sleep 0.02
    done
    lib_note "PID $pid ($word) ignored SIGTERM for ${STOP_GRACE}s: sending SIGKILL"
    if [[ $with_kids == kids ]]; then
        kids=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
    fi
    # shellcheck disable=SC2086 # $kids is a list of PIDs
    kill -KILL "$pid" $kids 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        pid_is "$pid" "$word" || return 0
        sleep 0.02
    done
    lib_note "PID $pid ($word) still there after SIGKILL"
    return 1
}

# stop_pidfile FILE [WORD [kids]]: stop_pid on the PID in FILE's first line (if FILE exists), then
# remove FILE. Always status 0.
stop_pidfile() {
    local file=$1
    [[ -f $file ]] || return 0
    stop_pid "$(head -n1 "$file")" "${@:2}" || true
    rm -f "$file"
}

# wait_for_file FILE [PID]: wait up to 10 s for FILE (a server's port file) to be non-empty.
# Status 0: it is; 1: PID (if given) exited first; 2: time is up.
wait_for_file() {
    local file=$1 pid=${2:-} i
    for ((i = 0; i < 100; i++)); do
        [[ -s $file ]] && return 0
        [[ -z $pid ]] || kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    [[ -s $file ]] && return 0
    return 2
}
