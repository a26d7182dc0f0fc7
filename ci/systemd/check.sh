#!/bin/bash
# ci/systemd/check.sh: run by check.service in the container ci/test-systemd.sh boots (systemd
# as PID 1, spill installed under /usr): uses the installed units as an operator would and
# writes one line per check to /out/results ("ok NAME: what was seen" or "FAIL NAME: why"),
# then "done". Every check runs even when one before it failed; the details go to
# /out/check.log.
set -uo pipefail
exec >/out/check.log 2>&1
results=/out/results
: >"$results"

user=spilluser                                 # an ordinary user, with a 0700 home
sys_root=/var/lib/spill-ci/spill               # a root of root's
owner_root=/home/$user/.local/share/app/spill # a user's root, reaped by the system unit
user_root=/home/$user/.cache/app/spill        # a user's root, reaped by the user's manager
aged_root=/var/lib/spill-ci/aged               # a root tmpfiles ages
ready=/run/spill-ci                            # the holders' ready files

why="" seen=""
# cond || no "why" || return: a check's failure, with the reason it reports
no() { why=$*; return 1; }

# check NAME FUNCTION: runs one check and records its result
check() {
    why="" seen=""
    echo "== $1"
    if "$2"; then
        echo "ok   $1${seen:+: $seen}" >>"$results"
    else
        echo "FAIL $1: ${why:-see check.log}" >>"$results"
    fi
}

unit() { echo "spill-reap@$(systemd-escape --path "$1").$2"; }
as() { setpriv --reuid="$1" --regid="$1" --init-groups -- "${@:2}"; }

# hold USER ROOT NAME: `spill hold` as USER under ROOT, in the background; once its ready file
# says where its spill is (polled, the holder's liveness checked each time), $held is that
# directory and $holder its pid.
hold() {
    local file=$ready/$3
    rm -f "$file"
    # setpriv itself, not through as(): it execs, so $! is the holder (a function would be a
    # subshell, and the signals would reach the subshell only)
    setpriv --reuid="$1" --regid="$1" --init-groups -- \
        spill hold --root "$2" --chunks 1 --ready-file "$file" >/dev/null &
    holder=$!
    while [ ! -s "$file" ]; do
        kill -0 $holder 2>/dev/null || no "spill hold under $2 ended before it was ready" ||
            return
        sleep 0.1
    done
    held=$(cat "$file")
}

# orphan USER ROOT NAME: a spill whose holder was killed hard (SIGKILL): $orphan. Made after
# the live spill ($held and $holder are kept): a holder's spill_open reaps the orphans under
# its root first.
orphan() {
    local live=$held live_holder=$holder
    hold "$@" || return
    orphan=$held
    kill -KILL $holder
    wait $holder 2>/dev/null
    [ $? = 137 ] || no "the holder of $orphan did not die of SIGKILL" || return
    [ -d "$orphan" ] || no "the killed holder's spill $orphan is not there" || return
    held=$live holder=$live_holder
}

# release: the live holder closes gracefully (SIGTERM), which removes its spill
release() {
    kill -TERM $holder
    wait $holder || no "spill hold exited $? on SIGTERM" || return
    [ ! -e "$held" ] || no "the closed holder's spill $held is still there" || return
}

# reaped_and_kept UNIT ROOT JOURNAL_MATCH...: the orphan gone, the live spill whole, and the
# journal's summary line for this reap (the entries of every reap line go to check.log if not)
reaped_and_kept() {
    [ ! -e "$orphan" ] || no "$1 left the orphan $orphan" || return
    [ -f "$held/.lock" ] || no "$1 touched the live spill $held" || return
    journalctl --sync
    seen=$(journalctl -o cat "${@:3}" | grep '^reaped ' | grep -F " under $2: ")
    [[ $seen == "reaped 1 of 2 under $2: "*"; kept 1 live, "* ]] && return
    journalctl -o verbose -g '^reaped '
    no "the journal has no line 'reaped 1 of 2 under $2: ... kept 1 live, ...' for $1" \
        "(it has: ${seen:-nothing})"
}

# The journal's entries of a system unit and of a user unit (as journalctl -u and --user-unit,
# which as root would look for root's user units only)
sys_log() { echo "_SYSTEMD_UNIT=$1 + UNIT=$1"; }
user_log() { echo "_SYSTEMD_USER_UNIT=$1 + USER_UNIT=$1"; }

# For a failure's reason: how a unit ended (status SYSTEMCTL... show UNIT), and its last
# lines in the journal but systemd's own about the failure (errors MATCH...)
status() { "$@" -p Result -p ExecMainStatus | tr '\n' ' '; }
errors() {
    journalctl --sync
    journalctl -o cat "$@" | grep -v -e '^Starting ' -e 'Main process exited' \
        -e 'Failed with result' -e '^Failed to start ' | tail -n 2 | tr '\n' ' '
}

setup() {
    useradd --create-home --user-group "$user"
    chmod 700 "/home/$user" # root reaches into it with CAP_DAC_READ_SEARCH only
    mkdir -p "$sys_root" "$aged_root" && chmod 700 "$sys_root" "$aged_root"
    mkdir -m 1777 "$ready"
    as $user mkdir -p "$owner_root" "$user_root"
}

# The units as installed: ExecStart names where the program went (the install prefix, never
# DESTDIR), and systemd-analyze verify has nothing to say about either manager's copy.
check_verify() {
    local inst out
    inst=$(systemd-escape --path "$sys_root")
    grep -qx 'ExecStart=/usr/bin/spill reap --as-owner --root %f' \
        /usr/lib/systemd/system/spill-reap@.service ||
        no "system unit: $(grep ^ExecStart= /usr/lib/systemd/system/spill-reap@.service)" || return
    grep -qx 'ExecStart=/usr/bin/spill reap --root %f' /usr/lib/systemd/user/spill-reap@.service ||
        no "user unit: $(grep ^ExecStart= /usr/lib/systemd/user/spill-reap@.service)" || return
    out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
        "spill-reap@$inst.service" "spill-reap@$inst.timer" 2>&1)
    [ -z "$out" ] || no "systemd-analyze verify (system): $out" || return
    # --user wants a runtime directory; the user's manager is not started yet
    as $user mkdir -p -m 700 "$ready/$user-run"
    out=$(as $user env XDG_RUNTIME_DIR="$ready/$user-run" SYSTEMD_LOG_LEVEL=notice \
        systemd-analyze --user verify --man=no "spill-reap@$inst.service" \
        "spill-reap@$inst.timer" 2>&1)
    [ -z "$out" ] || no "systemd-analyze --user verify: $out" || return
    seen="ExecStart /usr/bin/spill in both copies, verify clean"
}

# The timer enables and runs, and triggers the service of its instance.
check_timer() {
    local t s
    t=$(unit "$sys_root" timer) s=$(unit "$sys_root" service)
    systemctl enable --now "$t" || no "systemctl enable --now $t failed" || return
    [ "$(systemctl is-enabled "$t")" = enabled ] || no "$t is not enabled" || return
    [ "$(systemctl is-active "$t")" = active ] || no "$t is not active" || return
    [ "$(systemctl show -p Unit --value "$t")" = "$s" ] ||
        no "$t starts $(systemctl show -p Unit --value "$t"), not $s" || return
    # its first run is two minutes after boot: not during the other checks
    systemctl disable --now "$t" || no "systemctl disable --now $t failed" || return
    seen="enabled, active, triggers $s"
}

# The system unit's service on ROOT, whose spills WHO makes (names NAME-live, NAME-orphan),
# started as the timer would: reaps the orphan, keeps the live spill.
system_reap() {
    local who=$1 root=$2 name=$3 s
    s=$(unit "$root" service)
    hold "$who" "$root" "$name-live" || return
    orphan "$who" "$root" "$name-orphan" || return
    systemctl start "$s" ||
        no "systemctl start $s failed: $(status systemctl show "$s")$(errors $(sys_log "$s"))" ||
        return
    reaped_and_kept "$s" "$root" $(sys_log "$s") || return
    release
}

check_system_reap() { system_reap root "$sys_root" sys; }

# The system unit on a root in a user's 0700 home: it reaps as the root's owner (--as-owner).
check_as_owner() { system_reap "$user" "$owner_root" owner; }

# The user manager's copy, started by the user in their own manager.
check_user_manager() {
    local uid s t
    uid=$(id -u $user)
    s=$(unit "$user_root" service) t=$(unit "$user_root" timer)
    loginctl enable-linger $user || no "loginctl enable-linger $user failed" || return
    systemctl start "user@$uid.service" || no "the user manager user@$uid did not start" || return
    usys() { as $user env XDG_RUNTIME_DIR=/run/user/$uid systemctl --user "$@"; }
    # nspawn mounts a FIFO over /proc/kmsg; a user manager's unit with PrivateUsers=yes and
    # ProtectKernelLogs=yes cannot hide that one and fails with 226/NAMESPACE: made /proc's own
    # again, as on a machine
    ! mountpoint -q /proc/kmsg || umount /proc/kmsg || no "cannot unmount /proc/kmsg" || return
    hold $user "$user_root" user-live || return
    orphan $user "$user_root" user-orphan || return
    usys start "$s" ||
        no "systemctl --user start $s failed: $(status usys show "$s")$(errors $(user_log "$s"))" ||
        return
    # journald tags a user service's line with its unit from the process's cgroup, read when
    # the line arrives: spill reap's one line comes as it exits, and about one in a hundred
    # arrives too late to be tagged. The program's name and the user find them all.
    reaped_and_kept "$s" "$user_root" $(user_log "$s") + SYSLOG_IDENTIFIER=spill "_UID=$uid" ||
        return
    release || return
    usys enable --now "$t" || no "systemctl --user enable --now $t failed" || return
    [ "$(usys is-active "$t")" = active ] || no "$t is not active in the user's manager" || return
    usys disable --now "$t" || no "systemctl --user disable --now $t failed" || return
}

# systemd-tmpfiles --clean with a short age on a root: the live spill's files are past the age,
# but its lock on its own directory keeps tmpfiles out; a stale file beside it goes (the age
# did apply).
check_tmpfiles() {
    local conf=/etc/tmpfiles.d/spill-ci.conf before after
    echo "d $aged_root 0700 root root 1s" >"$conf"
    hold root "$aged_root" aged-live || return
    touch "$aged_root/stale"
    before=$(cd "$held" && ls -A)
    # tmpfiles ages by atime, mtime and ctime together: nothing but time makes a file old
    sleep 2
    systemd-tmpfiles --clean "$conf" || no "systemd-tmpfiles --clean failed" || return
    [ ! -e "$aged_root/stale" ] || no "tmpfiles kept a stale file: the age did not apply" ||
        return
    [ -d "$held" ] || no "tmpfiles removed the live spill $held" || return
    after=$(cd "$held" && ls -A)
    [ "$after" = "$before" ] || no "tmpfiles changed the live spill: '$before' became '$after'" ||
        return
    release || return
    seen="the live spill whole, the stale file beside it removed"
}

setup
check verify check_verify
check timer check_timer
check system-reap check_system_reap
check as-owner check_as_owner
check user-manager check_user_manager
check tmpfiles check_tmpfiles
echo done >>"$results"
