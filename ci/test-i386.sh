#!/usr/bin/env bash
# ci/test-i386.sh: the 32-bit leg: the flock and fcntl legs' whole suites built and run in an
# i386 Debian 12. On a 64-bit Linux host, in a cached debootstrap root under `setarch i686
# chroot`: natively when the kernel runs i386 binaries, else through qemu-user (binfmt_misc);
# already on i386 (GitHub's i386/debian container), in place. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${SPILL_BUILD_DIR:-$src/build-ci}/i386
[ "${1:-}" != --inside ] || build=/build # in the root: the host's $build, bind-mounted

# What the build needs inside; a change here re-installs into a cached root.
packages="cmake gcc g++ make pkg-config libapr1-dev libcunit1-dev file systemd"

# The suites, in place: this is an i386 userland. `setarch i686`, or uname -m (and so CMake)
# says x86_64 under a 64-bit kernel, in a chroot and in a container alike.
run_here() {
    local need=() p
    for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
    if [ ${#need[@]} -gt 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    # the big suite (totals past 4 GiB) runs here: 32-bit is where it can break; the hostile
    # suite's million directories do not (the flock leg on the host plants them)
    echo "i386: $(uname -m) userland, ${SPILL_I386_MODE:-native}"
    SPILL_ONLY=flock SPILL_BUILD_DIR="$build" SPILL_TEST_BIG=1 SPILL_TEST_HOSTILE=0 \
        SPILL_SHOW_FILE=1 setarch i686 bash ci/test.sh
    # the consumer and subproject builds do not depend on the lock backend: once is enough
    # (under qemu-user each takes minutes)
    SPILL_ONLY=fcntl SPILL_BUILD_DIR="$build" SPILL_TEST_BIG=1 SPILL_SHOW_FILE=1 \
        leg_ctest="-E ^(consumer|subproject)$" setarch i686 bash ci/test.sh
}

if [ "$(dpkg --print-architecture 2>/dev/null)" = i386 ]; then
    run_here
    exit
fi
if [ "${1:-}" = --inside ]; then
    echo "ci/test-i386.sh: --inside, but this userland is not i386" >&2
    exit 1
fi

if [ "$(id -u)" != 0 ]; then
    echo "ci/test-i386.sh: needs root (debootstrap, mount, chroot)" >&2
    exit 1
fi
[ "$(uname -s)" = Linux ] || { echo "ci/test-i386.sh: needs Linux" >&2; exit 1; }

# The root lives outside the build tree, so that a fresh clone reuses it. It is complete once
# its stamp (the package list) is written, after debootstrap and the install succeeded; anything
# else under its name is a half-made root, made again.
cache=${SPILL_I386_CACHE:-/var/cache/spill-i386}
rootfs=$cache/bookworm
stamp=$rootfs/.spill-i386-complete
mkdir -p "$cache"

# Debian's archive, from this machine's apt configuration (spill_debian_mirror)
. ci/debian-source.sh
mirror() { spill_debian_mirror | cut -f1; }

# Runs "$@" in a private mount namespace with the root's /proc, /dev, /dev/shm and /tmp
# mounted: the mounts end with the namespace whatever happens, and the trap unmounts them
# on the way out too. /src is this tree, /build the leg's build directory.
in_root() {
    mkdir -p "$build"
    unshare -m --propagation private -- bash -euo pipefail -c '
        r=$1 src=$2 build=$3; shift 3
        mounted=()
        cleanup() {
            local i
            for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
                umount -l "${mounted[i]}" 2>/dev/null || true
            done
        }
        trap cleanup EXIT
        m() { mount "$@"; mounted+=("${@: -1}"); }
        mkdir -p "$r/proc" "$r/dev" "$r/tmp" "$r/src" "$r/build"
        m -t proc proc "$r/proc"
        m --rbind /dev "$r/dev"
        m -t tmpfs -o mode=1777 tmpfs "$r/dev/shm"
        m -t tmpfs -o mode=1777 tmpfs "$r/tmp"
        m --bind "$src" "$r/src"
        m --bind "$build" "$r/build"
        setarch i686 chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
    ' in_root "$rootfs" "$src" "$build" "$@"
}

# Makes the root (or completes its packages); under an exclusive lock, as two runs may share it.
make_root() {
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$packages" ]; then
        echo "i386 root: cached in $rootfs"
        return
    fi
    if [ ! -f "$stamp" ]; then
        local url
        url=$(mirror)
        [ -n "$url" ] || { echo "ci/test-i386.sh: no Debian mirror in apt's sources" >&2; exit 1; }
        . ci/deps.sh
        SPILL_ONLY=i386 spill_install_deps # debootstrap
        echo "i386 root: debootstrap into $rootfs"
        rm -rf "$rootfs"
        # two stages, so that the probe can run the root's own /bin/true between them
        debootstrap --foreign --arch=i386 --variant=minbase bookworm "$rootfs" "$url" \
            >"$cache/debootstrap.log" 2>&1 || { tail -n 30 "$cache/debootstrap.log"; exit 1; }
        i386_exec
        chroot "$rootfs" /debootstrap/debootstrap --second-stage \
            >>"$cache/debootstrap.log" 2>&1 || { tail -n 30 "$cache/debootstrap.log"; exit 1; }
    fi
    echo "i386 root: installing $packages"
    cp /etc/resolv.conf "$rootfs/etc/resolv.conf" 2>/dev/null || true
    in_root /bin/sh -c "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq &&
        apt-get install -y -qq --no-install-recommends $packages >/dev/null && apt-get clean"
    echo "$packages" >"$stamp"
}

. ci/i386-binfmt.sh
start=$SECONDS
exec 9>"$cache/lock"
flock -x 9
make_root
flock -s 9 # others may use the root too, but not remake it under us
i386_exec
echo "i386 root: ready after $((SECONDS - start))s ($SPILL_I386_MODE)"
in_root /usr/bin/env SPILL_I386_MODE="$SPILL_I386_MODE" \
    ${SPILL_TEST_SLOW:+SPILL_TEST_SLOW=$SPILL_TEST_SLOW} \
    ${SPILL_TEST_EMULATED:+SPILL_TEST_EMULATED=$SPILL_TEST_EMULATED} /bin/bash /src/ci/test-i386.sh --inside
