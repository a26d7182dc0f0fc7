#!/usr/bin/env bash
# ci/test-windows.sh: the Windows leg on a Debian machine: MinGW-w64 cross build of spill, its
# tests and the spill program with warnings as errors, then the whole ctest suite under Wine.
# APR, CUnit and the Wine prefix are built once and cached (/var/cache/spill-windows as root,
# else build-win/deps; a first run takes a few minutes, later ones well under one).
# No Wine process outlives this script.
#
#   ci/test-windows.sh               build-win/build is rebuilt from scratch each run
#   SPILL_WIN_BUILD_DIR=DIR          another build directory
#
# What Wine cannot show (symbolic links, junctions, POSIX delete semantics, the rule that a
# directory with an open file inside cannot be renamed) is tested by the win32 suite on a real
# Windows runner; under Wine those tests say "skipped: needs real Windows: <reason>".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# APR, CUnit and the Wine prefix live outside the tree when run as root, so that every fresh
# clone reuses them (SPILL_WIN_CACHE moves them); one run at a time uses that Wine prefix.
if [[ -z ${SPILL_WIN_CACHE:-} && $(id -u) == 0 ]]; then
    SPILL_WIN_CACHE=/var/cache/spill-windows
fi
deps=${SPILL_WIN_CACHE:-$root/build-win/deps}
mkdir -p "$deps"
exec 8>"$deps.lock"
flock -x 8
build=${SPILL_WIN_BUILD_DIR:-$root/build-win/build}
wine_run=$deps/prefix/bin/wine-run
start=$SECONDS

# Whatever happens, stop the prefix's wineserver, and with it every Wine process it runs.
# `wineserver -w` returns as the server exits; its processes are reaped (by init) a moment
# later: wait, bounded, until none is left, zombies included.
wine_left() { ps -eo comm= | grep -E -q '^wine|\.exe$'; }
stop_wine() {
    local i
    [[ -x $wine_run ]] || return 0
    "$wine_run" --kill >/dev/null 2>&1 || true
    for ((i = 0; i < 100; i++)); do
        wine_left || return 0
        sleep 0.1
    done
    echo "ci/test-windows.sh: Wine processes still listed:" >&2
    ps -eo pid,ppid,stat,comm | grep -E ' (wine|.*\.exe$)' >&2 || true
}
trap stop_wine EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash ci/windows-deps.sh "$deps"

jobs=$(nproc 2>/dev/null || echo 2)
echo "== windows: configure and build (MinGW-w64, -Werror)"
rm -rf "$build"
mkdir -p "$(dirname "$build")" # for the log
bash ci/build.sh "$build" -DCMAKE_TOOLCHAIN_FILE="$root/ci/mingw-toolchain.cmake" \
    -DSPILL_WIN_DEPS="$deps/prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPILL_WERROR=ON \
    -DSPILL_TEST_HOOKS=ON >"$build.build.log" 2>&1 || { tail -n 60 "$build.build.log"; exit 1; }

echo "== windows: ctest under Wine"
# The wineserver made persistent and Wine's own services (wineboot) started before ctest, with
# their output going nowhere: a service a test starts inherits that test's output pipe, and
# ctest would wait for it, on that test's clock, until the end of the run.
export WINEPREFIX=$deps/wine WINEDEBUG=-all
wineserver=""
for c in /usr/lib/wine/wineserver64 "$(command -v wineserver || true)"; do
    [[ -n $c && -x $c ]] && { wineserver=$c; break; }
done
[[ -n $wineserver ]] || { echo "ci/test-windows.sh: no wineserver" >&2; exit 1; }
"$wineserver" -p
"$wine_run" wineboot >/dev/null 2>&1
# tests make their directories under the prefix's %TEMP%; what a run leaves (content deeper
# than the walker goes, a killed run's) is removed here
clean_test_dirs() { rm -rf "$deps"/wine/drive_c/users/*/Temp/spill-tests-*; }
clean_test_dirs
(cd "$build" && ctest --output-on-failure -j "$jobs")
clean_test_dirs
echo "ci/test-windows.sh: passed in $((SECONDS - start)) s"
