#!/usr/bin/env bash
# ci/test-systemd.sh: the systemd leg: the installed units under a real systemd. Boots systemd
# 252 as PID 1 in systemd-nspawn (a Debian 12 root with systemd, dbus and libpam-systemd, made
# with debootstrap and cached outside the tree), with this tree built (the default static
# build, Release) and installed with prefix /usr into an overlay of that root, and runs
# ci/systemd/check.sh there from check.service: systemd-analyze verify, the timer, the timer's
# service (an orphan reaped, a live spill kept, the journal's summary line), --as-owner on a
# user's root, the user manager's copy, tmpfiles --clean beside a live spill. Prints each
# check's result; fails if one failed or the boot did not finish. Linux, root.
#
#   SPILL_SYSTEMD_CACHE    the root's cache (default /var/cache/spill-systemd)
#   SPILL_SYSTEMD_TIMEOUT  seconds the whole boot may take (default 300)
#   SPILL_BUILD_DIR        build-ci by default; this leg builds in its systemd/ directory and
#                          writes the checks' results and logs to systemd-out/
#
# `ci/test-systemd.sh --why-not` prints why this machine cannot boot the container (nothing if
# it can); ci/test.sh prints that and skips the leg.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${SPILL_BUILD_DIR:-$src/build-ci}/systemd
out=$build-out
cache=${SPILL_SYSTEMD_CACHE:-/var/cache/spill-systemd}
rootfs=$cache/bookworm
stamp=$rootfs/.spill-systemd-complete
# What the root holds; a change here makes it again. libapr1: what the program links.
packages="systemd,systemd-sysv,dbus,libpam-systemd,libapr1"

say() { printf '[systemd] %s\n' "$*"; }
die() { printf '[systemd] ERROR: %s\n' "$*" >&2; exit 1; }

# Is systemd this machine's PID 1? Then a transient scope gives the container its cgroup.
under_systemd() { [ -d /run/systemd/system ]; }

# Otherwise the container gets a cgroup of its own, made here: in every hierarchy systemd
# uses (cgroup2, and v1's name=systemd), under the cgroup this process is in. One per line.
own_cgroups() {
    local m p
    m=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
    p=$(sed -n 's/^0:://p' /proc/self/cgroup)
    [ -z "$m" ] || echo "$m${p%/}/spill-systemd-$$"
    m=$(findmnt -n -t cgroup -o TARGET,OPTIONS | awk '$2 ~ /name=systemd/ { print $1; exit }')
    p=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup)
    [ -z "$m" ] || echo "$m${p%/}/spill-systemd-$$"
}

# Why this machine cannot boot the container, or nothing.
why_not() {
    [ "$(uname -s)" = Linux ] || { echo "not Linux"; return; }
    [ "$(id -u)" = 0 ] || { echo "not root"; return; }
    # the root is bootstrapped from apt's own sources: they must carry Debian 12
    [ "$(. /etc/os-release 2>/dev/null && echo "${ID:-}")" = debian ] ||
        { echo "not Debian: apt's sources have no Debian 12 to bootstrap"; return; }
    unshare -m true 2>/dev/null || { echo "private mount namespaces are not allowed here"; return; }
    under_systemd && return
    local cgs cg err
    cgs=$(own_cgroups)
    [ -n "$cgs" ] ||
        { echo "no cgroup hierarchy systemd can use (cgroup2 or name=systemd)"; return; }
    for cg in $cgs; do
        err=$(mkdir "$cg" 2>&1 && rmdir "$cg") ||
            { echo "cannot make a cgroup for the container: ${err#mkdir: }"; return; }
    done
}

# Debian's archive, from this machine's apt configuration (spill_debian_mirror)
. ci/debian-source.sh
mirror() { spill_debian_mirror | cut -f1; }

# The root, complete once its stamp (the package list) is written after debootstrap
# succeeded; anything else under its name is a half-made root, made again.
make_root() {
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$packages" ]; then
        say "root: cached in $rootfs"
        return
    fi
    local url
    url=$(mirror)
    [ -n "$url" ] || die "no Debian mirror in apt's sources"
    say "root: debootstrap --variant=minbase --include=$packages bookworm into $rootfs"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$url" \
        >"$cache/debootstrap.log" 2>&1 || { tail -n 30 "$cache/debootstrap.log"; exit 1; }
    rm -f "$rootfs"/var/cache/apt/archives/*.deb
    echo "$packages" >"$stamp"
}

# --boot WORK CGROUP...: in the private mount namespace the leg made, an overlay of the cached
# root on a tmpfs at WORK (the cache stays clean), the tree installed into it, then the boot.
boot() {
    local work=$1 cg
    shift
    mount -t tmpfs -o mode=0755 tmpfs "$work"
    mkdir "$work/upper" "$work/work" "$work/root"
    mount -t overlay overlay \
        -o "lowerdir=$rootfs,upperdir=$work/upper,workdir=$work/work" "$work/root"
    DESTDIR=$work/root cmake --install "$build" --prefix /usr >"$out/install.log"
    install -D -m 0755 ci/systemd/check.sh "$work/root/usr/local/lib/spill-ci/check.sh"
    install -m 0644 ci/systemd/check.service "$work/root/etc/systemd/system/check.service"
    # nspawn keeps a directory per container under /run/systemd/nspawn and will not remove it
    # from a disk (here /run is one): a tmpfs of this namespace instead
    mkdir -p /run/systemd/nspawn
    mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn
    local scope=()
    if under_systemd; then
        scope=(systemd-run --scope --quiet -p Delegate=yes --)
    else
        for cg in "$@"; do echo $$ >"$cg/cgroup.procs"; done
    fi
    # --register=no --keep-unit: no machined, the cgroup is the one made for it; --console=pipe:
    # there is no terminal; check.service powers it off
    exec timeout -k 10 "${SPILL_SYSTEMD_TIMEOUT:-300}" "${scope[@]}" systemd-nspawn --quiet \
        --register=no --keep-unit --private-network --console=pipe --machine=spill-ci \
        -D "$work/root" --bind="$out:/out" --boot systemd.wants=check.service </dev/null
}

# The cgroups made for the container, removed deepest first, once whatever the container left
# in them (only after a timeout) is killed.
remove_cgroups() {
    local cg pid
    for cg in "$@"; do
        [ -d "$cg" ] || continue
        for pid in $(find "$cg" -name cgroup.procs -exec cat {} +); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
}

case ${1:-} in
--why-not) why_not; exit 0 ;;
--boot) shift; boot "$@" ;;
esac

why=$(why_not)
[ -z "$why" ] || die "this machine cannot boot systemd in a container: $why"
. ci/deps.sh
SPILL_ONLY=systemd spill_install_deps # debootstrap, systemd-nspawn
start=$SECONDS
mkdir -p "$cache"
exec 9>"$cache/lock"
flock -x 9
make_root
flock -s 9 # others may boot the root too, but not remake it under us
say "root: ready after $((SECONDS - start))s"

start=$SECONDS
rm -rf "$build" "$out"
mkdir -p "$out"
bash ci/build.sh "$build" -DCMAKE_BUILD_TYPE=Release -DSPILL_WERROR=ON -DSPILL_BUILD_TESTS=OFF \
    -DSPILL_BUILD_BENCH=OFF -DSPILL_BUILD_EXAMPLES=OFF >"$out/build.log" 2>&1 ||
    { tail -n 40 "$out/build.log"; die "the build failed"; }
say "built in $((SECONDS - start))s"

start=$SECONDS
work=$(mktemp -d /tmp/spill-systemd.XXXXXX)
cgroups=()
under_systemd || mapfile -t cgroups < <(own_cgroups)
trap 'remove_cgroups "${cgroups[@]}"; rmdir "$work"' EXIT
for cg in "${cgroups[@]}"; do mkdir "$cg"; done
set +e
unshare -m --propagation private -- bash ci/test-systemd.sh --boot "$work" "${cgroups[@]}" \
    >"$out/console.log" 2>&1
rc=$?
set -e
case $rc in
124 | 137) say "stopped after ${SPILL_SYSTEMD_TIMEOUT:-300}s: the boot did not end by itself" ;;
*) say "booted, checked and powered off in $((SECONDS - start))s (nspawn exited $rc)" ;;
esac

[ -s "$out/results" ] || {
    tail -n 30 "$out/console.log"
    die "no results: the container did not boot or check.service did not run (above: its console)"
}
sed 's/^/[systemd]   /' "$out/results"
if grep -q '^FAIL' "$out/results" || ! grep -qx 'done' "$out/results"; then
    grep -qx 'done' "$out/results" || say "check.service did not finish (timeout or a crash)"
    die "a check failed (the details: $out/check.log)"
fi
say "all checks passed"
