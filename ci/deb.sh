#!/usr/bin/env bash
# ci/deb.sh: the Debian packages from the tree (libspill0, libspill-dev, spill), built with
# `dpkg-buildpackage -us -uc -b` from a copy of the tree with packaging/debian copied in as
# debian/ (which never enters git); lintian must show no errors; then the packages are installed
# into a throwaway root (an overlay of / in a private mount namespace, so the machine is never
# touched) where ci/deb-check.sh tries them as a user would. Without overlayfs or unshare the
# packages go into the machine and are purged afterwards (SPILL_DEB_ROOT=machine forces that).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${SPILL_DEB_DIR:-$root/build-ci/deb}
jobs=$(nproc 2>/dev/null || echo 2)

. ci/deps.sh
spill_install_deps
spill_install_packaging_deps

# the package's version is the project's
version=$(sed -nE 's/^project\(spill VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
deb_version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
if [ "${deb_version%-*}" != "$version" ]; then
    echo "ci/deb.sh: packaging/debian/changelog says $deb_version, CMakeLists.txt $version" >&2
    exit 1
fi

echo "== deb: dpkg-buildpackage ($deb_version)"
rm -rf "$work"
mkdir -p "$work/spill-$version"
src=$work/spill-$version
tar -C "$root" --exclude='./build*' --exclude=./.git --exclude=./debian -cf - . | tar -C "$src" -xf -
cp -r packaging/debian "$src/debian"
if ! (cd "$src" && DEB_BUILD_OPTIONS="parallel=$jobs" dpkg-buildpackage -us -uc -b) \
    >"$work/build.log" 2>&1; then
    tail -60 "$work/build.log"
    echo "ci/deb.sh: dpkg-buildpackage failed (log: $work/build.log)" >&2
    exit 1
fi
ls "$work"/*.deb

echo "== deb: lintian"
changes=$(ls "$work"/spill_*.changes)
lintian --fail-on error --display-info "$changes" | tee "$work/lintian.log" || {
    echo "ci/deb.sh: lintian reports errors" >&2
    exit 1
}
echo "lintian: $(grep -c '^E:' "$work/lintian.log" || true) errors," \
    "$(grep -c "^W:" "$work/lintian.log" || true) warnings (README, Installing, says which and why)"

echo "== deb: install and try the packages"
mode=${SPILL_DEB_ROOT:-overlay}
if [ "$mode" = overlay ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
    unshare -m --propagation private true 2>/dev/null; then
    # everything mounted here lives in this namespace only and goes with it
    unshare -m --propagation private bash -euo pipefail -c '
        work=$1 root=$2
        top=$(mktemp -d "$work/root.XXXXXX")
        mount -t tmpfs tmpfs "$top"
        mkdir "$top/upper" "$top/work" "$top/merged"
        mount -t overlay overlay -o "lowerdir=/,upperdir=$top/upper,workdir=$top/work" "$top/merged"
        m=$top/merged
        mount -t proc proc "$m/proc"
        mount --rbind /dev "$m/dev"
        chroot "$m" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8 \
            bash "$root/ci/deb-check.sh" "$work" "$root"
    ' _ "$work" "$root"
    rmdir "$work"/root.* 2>/dev/null || true
else
    echo "(no throwaway root here: installing into the machine, purged afterwards)"
    trap 'dpkg --purge spill libspill-dev libspill0 >/dev/null 2>&1 || true' EXIT
    bash ci/deb-check.sh "$work" "$root"
fi
echo "ci/deb.sh: packages built, lintian clean of errors, installed, tried and purged"
