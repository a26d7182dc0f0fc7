#!/usr/bin/env bash
# ci/test-filesystems.sh BUILD_DIR: the kill, reap, create, trash and cli suites, and
# `spill demo`, with the test root on ext4, tmpfs, xfs and btrfs (loop images made and removed
# here), overlayfs and FUSE (bindfs). Root only. Everything runs in a private mount and PID
# namespace, so each mount is gone when the script ends, however it ends; on a normal exit each
# is also unmounted by the trap. A filesystem this host cannot mount is skipped with a reason.
set -euo pipefail
build=$(cd "${1:?usage: ci/test-filesystems.sh BUILD_DIR}" && pwd)
suites=${SPILL_FS_SUITES:-"kill reap create trash cli"}
wanted=${SPILL_FS_LIST:-"ext4 tmpfs xfs btrfs overlay fuse"}

if [ "$(id -u)" != 0 ]; then
    echo "== filesystems skipped: needs root (loop devices and mounts)"
    exit 0
fi
if ! command -v unshare >/dev/null; then
    echo "== filesystems skipped: no unshare(1) for a private mount namespace"
    exit 0
fi

# Re-run inside a private mount and PID namespace: when this shell (PID 1 there) ends, the
# kernel kills every process left in it (bindfs included) and drops every mount made in it.
if [ "${SPILL_FS_INSIDE:-}" != 1 ]; then
    if ! unshare -m -p -f --propagation private --kill-child true 2>/dev/null; then
        echo "== filesystems skipped: private mount namespaces are not allowed here"
        exit 0
    fi
    SPILL_FS_INSIDE=1 exec unshare -m -p -f --propagation private --kill-child --mount-proc \
        bash "$0" "$@"
fi

work=$(mktemp -d /tmp/spill-fs.XXXXXX)
chmod 0755 "$work" # tests that drop privileges must reach their roots through it
mounts=()
# Each filesystem's size. Every spill takes a lease of 64 MiB at its first put (reservations):
# the create suite's kill stress keeps five spills live at once beside its holders' orphans, so
# a filesystem must hold 5 x 64 MiB with room to spare (at 320 MiB, btrfs's free space dipped
# under that and a put was refused, as the library promises). Images are sparse, tmpfs is a cap.
size=1G
cleanup() {
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount "${mounts[$i]}" 2>/dev/null || umount -l "${mounts[$i]}" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

passed=() skipped=()
skip() { echo "   skipped $1: $2"; skipped+=("$1 ($2)"); }

# Makes $work/$1 and mounts it, setting $dir to its mount point; or returns 1 with a reason on
# stderr. (Not run in a subshell: the trap needs every mount in $mounts.)
mount_loop() { # NAME MKFS...
    local name=$1 img=$work/$1.img; shift
    command -v "$1" >/dev/null || { echo "no $1" >&2; return 1; }
    mkdir -p "$dir"
    truncate -s "$size" "$img"
    "$@" "$img" >"$work/$name.mkfs.log" 2>&1 || { echo "$1 failed" >&2; return 1; }
    mount -o loop "$img" "$dir" 2>"$work/$name.mount.log" ||
        { echo "loop mounts are not allowed: $(head -1 "$work/$name.mount.log")" >&2; return 1; }
    mounts+=("$dir")
}

mount_fs() { # NAME: sets $dir to the directory to test in
    dir=$work/$1
    case $1 in
    ext4) mount_loop ext4 mkfs.ext4 -q -F ;;
    xfs) mount_loop xfs mkfs.xfs -q -f ;;
    btrfs) mount_loop btrfs mkfs.btrfs -q -f ;;
    tmpfs)
        mkdir -p "$dir"
        mount -t tmpfs -o size=$size tmpfs "$dir" ||
            { echo "tmpfs mounts are not allowed" >&2; return 1; }
        mounts+=("$dir") ;;
    overlay) # a container's storage: a lower layer holding the root's parent, an upper on tmpfs
        mkdir -p "$dir.layers" "$dir"
        mount -t tmpfs -o size=$size tmpfs "$dir.layers" ||
            { echo "tmpfs mounts are not allowed" >&2; return 1; }
        mounts+=("$dir.layers")
        mkdir -p "$dir.layers/lower/tests" "$dir.layers/upper" "$dir.layers/work"
        local l=$dir.layers
        mount -t overlay overlay -o "lowerdir=$l/lower,upperdir=$l/upper,workdir=$l/work" "$dir" \
            2>/dev/null || { echo "overlay mounts are not allowed" >&2; return 1; }
        mounts+=("$dir")
        dir=$dir/tests ;;
    fuse) # bindfs over a plain directory: FUSE as sshfs, rclone or s3fs are seen by the kernel
        command -v bindfs >/dev/null || { echo "no bindfs" >&2; return 1; }
        [ -c /dev/fuse ] || { echo "no /dev/fuse" >&2; return 1; }
        mkdir -p "$dir.src" "$dir"
        bindfs "$dir.src" "$dir" 2>"$work/fuse.log" ||
            { echo "FUSE mounts are not allowed: $(head -1 "$work/fuse.log")" >&2; return 1; }
        mounts+=("$dir") ;;
    esac
}

for fs in $wanted; do
    start=$SECONDS
    echo "== filesystem: $fs"
    if ! mount_fs "$fs" 2>"$work/why"; then
        skip "$fs" "$(cat "$work/why")"
        continue
    fi
    echo "   $(findmnt -n -o FSTYPE,SOURCE --target "$dir" | head -1) at $dir"
    regex="^($(echo $suites | tr ' ' '|'))\$"
    (cd "$build" && SPILL_TEST_DIR="$dir" ctest --output-on-failure -j 2 -R "$regex")
    "$build/tools/spill" demo --root "$dir/demo" >"$work/$fs.demo.log" 2>&1 ||
        { cat "$work/$fs.demo.log"; echo "spill demo failed on $fs"; exit 1; }
    echo "   spill demo: $(grep '^Verdict' "$work/$fs.demo.log")"
    [ -z "$(ls -A "$dir/demo")" ] ||
        { ls -la "$dir/demo"; echo "spill demo left entries in its root on $fs"; exit 1; }
    passed+=("$fs $((SECONDS - start))s")
done

echo "filesystems passed: ${passed[*]:-none}"
[ ${#skipped[@]} -eq 0 ] || printf 'filesystems skipped: %s\n' "${skipped[@]}"
