#!/usr/bin/env bash
# ci/abi.sh: the shared library's ABI against 0.1.0, the baseline taken from git history.
#  1. abidiff (Debian's abigail-tools) between 0.1.0's libspill.so and this tree's, internal
#     symbols ignored (tests/abi/spill.abignore): ci/abi-check.py accepts only added functions
#     and versioned structs grown at their end.
#  2. A client compiled against 0.1.0's header, its opts and stats in heap blocks of 0.1's
#     sizes, run under ASan against this tree's library (built with ASan too): no report.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${SPILL_BUILD_DIR:-$root/build-ci}/abi
baseline=3e43ffa # the last commit of 0.1.0 (SPILL_VERSION_MINOR 1)

git -C "$root" cat-file -e "$baseline^{commit}" 2>/dev/null || {
    echo "ci/abi.sh: 0.1.0 ($baseline) is not in this clone's history (a shallow clone?)" >&2
    exit 1
}
rm -rf "$work"
mkdir -p "$work/v0.1.0"
git -C "$root" archive "$baseline" | tar -x -C "$work/v0.1.0"

build() { # source dir, build dir, extra cmake args (ci/build.sh; the old tree has none)
    local src=$1 dir=$2; shift 2
    SPILL_BUILD_SOURCE=$src SPILL_BUILD_TARGETS=spill bash ci/build.sh "$dir" \
        -DCMAKE_BUILD_TYPE=Debug -DBUILD_SHARED_LIBS=ON -DSPILL_BUILD_TESTS=OFF "$@" \
        >"$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
}
build "$work/v0.1.0" "$work/old"
build "$root" "$work/new"
old=$(readlink -f "$work/old/libspill.so")
new=$(readlink -f "$work/new/libspill.so")
echo "abi: $(basename "$old") (0.1.0) against $(basename "$new")"
echo "abi: SONAME $(objdump -p "$new" | awk '/SONAME/ {print $2}')"
[ "$(objdump -p "$new" | awk '/SONAME/ {print $2}')" = libspill.so.0 ] ||
    { echo "ci/abi.sh: the SONAME changed" >&2; exit 1; }

status=0
abidiff --suppressions tests/abi/spill.abignore \
    --headers-dir1 "$work/v0.1.0/include" --headers-dir2 "$root/include" \
    "$old" "$new" >"$work/abidiff.txt" || status=$?
cat "$work/abidiff.txt"
# abidiff's status is a bit field: 1 error, 2 usage, 4 ABI change, 8 incompatible change. A
# change (4) may be compatible (a function added, a versioned struct grown at its end):
# ci/abi-check.py reads the report and accepts only those.
if [ $((status & 11)) -ne 0 ] || ! python3 ci/abi-check.py "$work/abidiff.txt"; then
    echo "ci/abi.sh: abidiff reports a change 0.1 programs would meet (status $status)" >&2
    exit 1
fi

# The 0.1 client: its own header, this library, ASan on both sides.
build "$root" "$work/asan" -DSPILL_SANITIZE=address
cc -std=c99 -Wall -Wextra -Werror -g -fsanitize=address -fno-omit-frame-pointer \
    -I"$work/v0.1.0/include" tests/abi/client01.c -o "$work/client01" \
    -L"$work/asan" -lspill -Wl,-rpath,"$work/asan"
rm -rf "$work/client-root"
ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:exitcode=99 "$work/client01" "$work/client-root"
echo "ci/abi.sh: 0.1.0's ABI kept"
