#!/usr/bin/env bash
# ci/abi.sh: the shared library's ABI against each earlier release, the baselines taken from git
# history (0.1.0 and 0.2.0). For each:
#  1. abidiff (Debian's abigail-tools) between that release's libspill.so and this tree's,
#     internal symbols ignored (tests/abi/spill.abignore): ci/abi-check.py accepts only added
#     functions and versioned structs grown at their end.
#  2. A client compiled against that release's header (tests/abi/client01.c, client02.c), its
#     opts and stats in heap blocks of that release's sizes, run under ASan against this tree's
#     library (built with ASan too): no report.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${SPILL_BUILD_DIR:-$root/build-ci}/abi
# release, its last commit, the client built against its header
baselines=("0.1.0 3e43ffa client01" "0.2.0 8927819 client02")

build() { # source dir, build dir, extra cmake args (ci/build.sh; the old trees have none)
    local src=$1 dir=$2; shift 2
    SPILL_BUILD_SOURCE=$src SPILL_BUILD_TARGETS=spill bash ci/build.sh "$dir" \
        -DCMAKE_BUILD_TYPE=Debug -DBUILD_SHARED_LIBS=ON -DSPILL_BUILD_TESTS=OFF "$@" \
        >"$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
}

rm -rf "$work"
mkdir -p "$work"
build "$root" "$work/new"
new=$(readlink -f "$work/new/libspill.so")
echo "abi: SONAME $(objdump -p "$new" | awk '/SONAME/ {print $2}')"
[ "$(objdump -p "$new" | awk '/SONAME/ {print $2}')" = libspill.so.0 ] ||
    { echo "ci/abi.sh: the SONAME changed" >&2; exit 1; }
build "$root" "$work/asan" -DSPILL_SANITIZE=address

for b in "${baselines[@]}"; do
    read -r release commit client <<<"$b"
    git -C "$root" cat-file -e "$commit^{commit}" 2>/dev/null || {
        echo "ci/abi.sh: $release ($commit) is not in this clone's history (a shallow clone?)" >&2
        exit 1
    }
    src=$work/v$release
    mkdir -p "$src"
    git -C "$root" archive "$commit" | tar -x -C "$src"
    build "$src" "$work/old-$release"
    old=$(readlink -f "$work/old-$release/libspill.so")
    echo "abi: $(basename "$old") ($release) against $(basename "$new")"

    status=0
    abidiff --suppressions tests/abi/spill.abignore \
        --headers-dir1 "$src/include" --headers-dir2 "$root/include" \
        "$old" "$new" >"$work/abidiff-$release.txt" || status=$?
    cat "$work/abidiff-$release.txt"
    # abidiff's status is a bit field: 1 error, 2 usage, 4 ABI change, 8 incompatible change. A
    # change (4) may be compatible (a function added, a versioned struct grown at its end):
    # ci/abi-check.py reads the report and accepts only those.
    if [ $((status & 11)) -ne 0 ] ||
        ! python3 ci/abi-check.py "$work/abidiff-$release.txt" "$release"; then
        echo "ci/abi.sh: abidiff reports a change $release programs would meet (status $status)" >&2
        exit 1
    fi

    # The old client: its own header, this library, ASan on both sides.
    cc -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -g -fsanitize=address \
        -fno-omit-frame-pointer -I"$src/include" "tests/abi/$client.c" -o "$work/$client" \
        -L"$work/asan" -lspill -Wl,-rpath,"$work/asan"
    rm -rf "$work/$client-root"
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:exitcode=99 "$work/$client" "$work/$client-root"
    echo "ci/abi.sh: $release's ABI kept"
done
