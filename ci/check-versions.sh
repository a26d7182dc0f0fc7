#!/usr/bin/env bash
# ci/check-versions.sh: the project's version is CMakeLists.txt's project(... VERSION) and
# include/spill.h's SPILL_VERSION_*; everything else that carries a version follows them. Names
# each file that disagrees and exits 1. Shell and sed only, so that it runs in any leg first.
set -euo pipefail
cd "$(dirname "$0")/.."

bad=0
disagree() { echo "check-versions: $1 says $2, the project is $want" >&2; bad=1; }
first() { sed -n "$1" "$2" | head -n 1; }

want=$(first 's/^project(spill VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$want" ] || { echo "check-versions: no project(spill VERSION x.y.z) in CMakeLists.txt" >&2; exit 1; }

header=$(for part in MAJOR MINOR PATCH; do
    first "s/^#define SPILL_VERSION_$part \([0-9][0-9]*\).*/\1/p" include/spill.h
done | paste -sd.)
[ "$header" = "$want" ] || disagree "include/spill.h (SPILL_VERSION_*)" "$header"

# the Rust crates, and spill's dependency on spill-sys
for toml in bindings/rust/spill-sys/Cargo.toml bindings/rust/spill/Cargo.toml; do
    v=$(first 's/^version = "\(.*\)"/\1/p' "$toml")
    [ "$v" = "$want" ] || disagree "$toml" "${v:-nothing}"
done
v=$(first 's/^spill-sys = .*version = "\([^"]*\)".*/\1/p' bindings/rust/spill/Cargo.toml)
[ "$v" = "$want" ] || disagree "bindings/rust/spill/Cargo.toml (its spill-sys dependency)" "${v:-nothing}"
for crate in spill spill-sys; do
    v=$(sed -n "/^name = \"$crate\"\$/{n;s/^version = \"\(.*\)\"/\1/p;}" bindings/rust/Cargo.lock)
    [ "$v" = "$want" ] || disagree "bindings/rust/Cargo.lock ($crate)" "${v:-nothing}"
done

# the Python package: its project metadata and the wheel its own backend writes
v=$(first 's/^version = "\(.*\)"/\1/p' bindings/python/pyproject.toml)
[ "$v" = "$want" ] || disagree bindings/python/pyproject.toml "${v:-nothing}"
v=$(first 's/^NAME, VERSION = "spill", "\(.*\)"/\1/p' bindings/python/_spill_build.py)
[ "$v" = "$want" ] || disagree bindings/python/_spill_build.py "${v:-nothing}"

# the Debian changelog's newest entry (the upstream part, before the Debian revision)
v=$(first 's/^spill (\([^-)]*\).*/\1/p' packaging/debian/changelog)
[ "$v" = "$want" ] || disagree "packaging/debian/changelog (its top entry)" "${v:-nothing}"

# vcpkg's manifest
v=$(first 's/^ *"version": "\(.*\)",*$/\1/p' vcpkg.json)
[ "$v" = "$want" ] || disagree vcpkg.json "${v:-nothing}"

# the benchmark's banner prints spill_version(), the library's own; a literal would go stale
if grep -nE '"spill [0-9]+\.[0-9]+' bench/*.c >&2; then
    echo "check-versions: bench/ prints a version of its own: print spill_version()" >&2
    bad=1
fi
grep -q 'spill_version()' bench/main.c ||
    { echo "check-versions: bench/main.c's banner no longer prints spill_version()" >&2; bad=1; }

[ "$bad" = 0 ] || exit 1
echo "check-versions: $want everywhere"
