#!/usr/bin/env bash
# Runs tests/rig/install-deps.sh against fake apt-get, dpkg-query, sudo and id on PATH, in every
# state a machine can be in, and checks its exit status, what it asked apt-get for and what it
# left of policy-rc.d. The fakes behave like the real tools: apt-get refuses to run unless root and
# unless policy-rc.d is in place, installs what it is asked for (dpkg-query then reports it), and
# fails with apt's own kind of message when told to.
# Usage: install-deps-test.sh SCRIPT WORK_DIR
set -euo pipefail
script=$1 work=$2
rm -rf "$work"
mkdir -p "$work/bin" "$work/sudo-bin" "$work/tools"
# Only these real tools are on PATH, so a real sudo or apt-get can never be reached.
for tool in sh grep cat cp rm mktemp tee chmod env; do
    ln -s "$(command -v "$tool")" "$work/tools/$tool"
done
fails=0
fail() {
    echo "FAIL: $case_name: $*" >&2
    fails=$((fails + 1))
}

cat >"$work/bin/id" <<'EOF'
#!/bin/sh
[ "$1" = "-u" ] || { echo "fake id: only -u is supported" >&2; exit 2; }
echo "${FAKE_UID:?}"
EOF
cat >"$work/sudo-bin/sudo" <<'EOF'
#!/bin/sh
echo "$*" >>"$FAKE_STATE/sudo.log"
FAKE_UID=0 exec "$@"
EOF
cat >"$work/bin/dpkg-query" <<'EOF'
#!/bin/sh
# dpkg-query -W -f='${Status}' PACKAGE
[ "$1" = "-W" ] && [ "$2" = '-f=${Status}' ] && [ $# -eq 3 ] ||
    { echo "fake dpkg-query: unexpected arguments: $*" >&2; exit 2; }
echo "$3" >>"$FAKE_STATE/queried"
if grep -qx "$3" "$FAKE_STATE/installed"; then
    printf 'install ok installed'
else
    echo "dpkg-query: no packages found matching $3" >&2
    exit 1
fi
EOF
cat >"$work/bin/apt-get" <<'EOF'
#!/bin/sh
echo "$*" >>"$FAKE_STATE/apt.log"
if [ "${FAKE_UID:?}" -ne 0 ]; then
    echo "E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)" >&2
    exit 100
fi
[ "${DEBIAN_FRONTEND:-}" = noninteractive ] || { echo "fake apt-get: interactive frontend" >&2; exit 100; }
rc=0
"$MIMCM_TEST_POLICY_RC_D" x start 2>/dev/null || rc=$?
if [ "$rc" -ne 101 ]; then
    echo "fake apt-get: policy-rc.d does not deny service starts" >&2
    exit 100
fi
cmd=
pkgs=
for a in "$@"; do
    case $a in
        -q|-y|--no-install-recommends) ;;
        -o) ;;
        DPkg::Lock::Timeout=*) ;;
        update|install) cmd=$a ;;
        -*) echo "fake apt-get: unknown option $a" >&2; exit 100 ;;
        *) [ "$cmd" = install ] || { echo "E: Invalid operation $a" >&2; exit 100; }
           pkgs="$pkgs $a" ;;
    esac
done
case $cmd in
    update)
        echo "Reading package lists..."
        # Like apt-get: a source it cannot fetch is only a warning.
        if [ -e "$FAKE_STATE/fail-install" ]; then
            echo "W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Could not connect" >&2
        fi
        if [ -e "$FAKE_STATE/fail-update" ]; then
            echo "E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Temporary failure resolving 'deb.debian.org'" >&2
            exit 100
        fi ;;
    install)
        echo "Reading package lists..."
        if [ -e "$FAKE_STATE/fail-install" ]; then
            echo "E: Unable to locate package$pkgs" >&2
            exit 100
        fi
        for p in $pkgs; do echo "$p" >>"$FAKE_STATE/installed"; done
        echo "$pkgs" >>"$FAKE_STATE/install.log" ;;
    *) echo "E: Invalid operation" >&2; exit 100 ;;
esac
EOF
chmod 755 "$work/bin"/* "$work/sudo-bin/sudo"

# run_case NAME UID HAS_SUDO POLICY(none|debian|custom) INSTALLED_FILE [fail-update|fail-install]
# Leaves the state in $state, the script's status in $status and its stderr in $state/stderr.
run_case() {
    case_name=$1
    state="$work/$1"
    mkdir -p "$state/sbin"
    cp "$5" "$state/installed"
    : >"$state/queried"
    policy="$state/sbin/policy-rc.d"
    case $4 in
        debian) printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" ;;
        custom) printf '#!/bin/sh\n# site policy\nexit 0\n' >"$policy" && chmod 700 "$policy" ;;
    esac
    [ -n "${6:-}" ] && touch "$state/$6"
    local path="$work/bin:$work/tools"
    [ -n "$3" ] && path="$work/sudo-bin:$path"
    status=0
    env -i PATH="$path" HOME="$state" TMPDIR="$state" FAKE_STATE="$state" FAKE_UID="$2" \
        MIMCM_TEST_POLICY_RC_D="$policy" "$work/tools/sh" "$script" >"$state/stdout" 2>"$state/stderr" || status=$?
    check_no_temp_left
}
# Every case: no temporary file left behind.
check_no_temp_left() { ! ls "$state"/tmp.* >/dev/null 2>&1 || fail "temporary files left: $(ls "$state"/tmp.*)"; }
sorted_words() { tr ' ' '\n' | grep -v '^$' | sort; }

# Nothing installed: every package the script knows is asked for, in one install.
: >"$work/none"
run_case nothing-installed 0 "" none "$work/none"
[ "$status" -eq 0 ] || fail "exit $status: $(cat "$state/stderr")"
all=$(sort -u "$state/queried")
[ "$(wc -l <<<"$all")" -ge 10 ] || fail "only $(wc -l <<<"$all") packages queried"
for p in cmake g++ rapidjson-dev catch2 libcurl4-openssl-dev libpcsclite-dev pcscd git; do
    grep -qx -- "$p" <<<"$all" || fail "$p is not in the package list"
done
[ "$(wc -l <"$state/install.log")" -eq 1 ] || fail "not exactly one apt-get install"
[ "$(sorted_words <"$state/install.log")" = "$all" ] || fail "asked apt for other than the missing packages"
head -n1 "$state/apt.log" | grep -q update || fail "apt-get update did not come first"
[ ! -e "$state/sbin/policy-rc.d" ] || fail "policy-rc.d it created was left behind"
[ ! -s "$state/stderr" ] || fail "not quiet on success: $(cat "$state/stderr")"
printf '%s\n' "$all" >"$work/all"

# Everything installed: no apt-get, no sudo, nothing touched.
run_case all-installed 1000 "" none "$work/all"
[ "$status" -eq 0 ] || fail "exit $status: $(cat "$state/stderr")"
[ ! -e "$state/apt.log" ] || fail "apt-get was called: $(cat "$state/apt.log")"
[ ! -e "$state/sudo.log" ] || fail "sudo was called"
[ ! -e "$state/sbin/policy-rc.d" ] || fail "policy-rc.d was created"

# Some missing, with and without a policy-rc.d already there (Debian's images ship one).
grep -vx -e pcscd -e rapidjson-dev "$work/all" >"$work/some"
for policy_state in none debian custom; do
    run_case "some-missing-policy-$policy_state" 0 "" "$policy_state" "$work/some"
    [ "$status" -eq 0 ] || fail "exit $status: $(cat "$state/stderr")"
    [ "$(sorted_words <"$state/install.log" | tr '\n' ' ')" = "pcscd rapidjson-dev " ] ||
        fail "asked apt for: $(cat "$state/install.log")"
    [ ! -e "$state/sudo.log" ] || fail "root used sudo"
    p="$state/sbin/policy-rc.d"
    case $policy_state in
        none) [ ! -e "$p" ] || fail "policy-rc.d it created was left behind" ;;
        debian) [ "$(cat "$p")" = "$(printf '#!/bin/sh\nexit 101')" ] && [ -x "$p" ] ||
            fail "Debian's policy-rc.d was not restored" ;;
        custom) grep -q "site policy" "$p" && [ "$(stat -c %a "$p")" = 700 ] ||
            fail "the site's policy-rc.d was not restored as it was" ;;
    esac
done

# apt-get failing: non-zero exit, apt's own message on stderr, policy-rc.d cleaned up.
for failure in fail-update fail-install; do
    run_case "$failure" 0 "" debian "$work/some" "$failure"
    [ "$status" -ne 0 ] || fail "exit 0 although apt-get failed"
    case $failure in
        fail-update) grep -q "Temporary failure resolving 'deb.debian.org'" "$state/stderr" ||
            fail "apt's message is not shown: $(cat "$state/stderr")" ;;
        fail-install) grep -q "E: Unable to locate package" "$state/stderr" &&
            grep -q "W: Failed to fetch" "$state/stderr" ||
            fail "apt's messages are not shown: $(cat "$state/stderr")" ;;
    esac
    [ "$(cat "$state/sbin/policy-rc.d")" = "$(printf '#!/bin/sh\nexit 101')" ] ||
        fail "policy-rc.d not restored after the failure"
done

# Not root, with sudo: everything privileged goes through sudo.
run_case non-root-sudo 1000 1 none "$work/some"
[ "$status" -eq 0 ] || fail "exit $status: $(cat "$state/stderr")"
[ "$(sorted_words <"$state/install.log" | tr '\n' ' ')" = "pcscd rapidjson-dev " ] ||
    fail "asked apt for: $(cat "$state/install.log" 2>/dev/null)"
grep -q "apt-get.* update" "$state/sudo.log" || fail "apt-get update not run with sudo"
grep -q "apt-get.* install" "$state/sudo.log" || fail "apt-get install not run with sudo"
grep -q "^tee .*policy-rc.d" "$state/sudo.log" || fail "policy-rc.d not written with sudo"
[ ! -e "$state/sbin/policy-rc.d" ] || fail "policy-rc.d it created was left behind"

# Not root, no sudo: a clear error, nothing attempted.
run_case non-root-no-sudo 1000 "" none "$work/some"
[ "$status" -ne 0 ] || fail "exit 0 without root or sudo"
grep -q "run this script as root" "$state/stderr" || fail "no clear message: $(cat "$state/stderr")"
[ ! -e "$state/apt.log" ] || fail "apt-get was called"

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed" >&2
    exit 1
fi
echo "install-deps.sh: all cases passed"
