#!/usr/bin/env bash
# ci/test.sh: installs what the build needs (if missing), configures with warnings as errors,
# builds and runs the whole test suite. The same command on a developer's machine and in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${SPILL_BUILD_DIR:-$root/build-ci}

. ci/deps.sh
spill_install_deps

jobs=$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)
timings=()

# one build tree per leg; each runs the whole suite ($leg_ctest: extra ctest arguments)
run_leg() {
    local name=$1 start=$SECONDS; shift
    echo "== leg: $name"
    rm -rf "$build/$name"
    cmake -S "$root" -B "$build/$name" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPILL_WERROR=ON \
        -DSPILL_TEST_HOOKS=ON "$@" >"$build/$name.configure.log" 2>&1 ||
        { cat "$build/$name.configure.log"; return 1; }
    cmake --build "$build/$name" -j "$jobs"
    (cd "$build/$name" && ctest --output-on-failure -j "$jobs" ${leg_ctest:-})
    timings+=("$name $((SECONDS - start))s")
}

mkdir -p "$build"
run_leg flock -DSPILL_LOCK_BACKEND=auto
run_leg fcntl -DSPILL_LOCK_BACKEND=fcntl

# The same suite under the sanitizers and valgrind (ci/sanitize.sh; SPILL_SKIP_SANITIZE=1 skips).
if [ "${SPILL_SKIP_SANITIZE:-0}" != 1 ]; then
    . ci/sanitize.sh
fi

# the reaper's fuzzer, about a minute (SPILL_SKIP_FUZZ=1 skips it)
[ "${SPILL_SKIP_FUZZ:-}" = 1 ] || bash ci/fuzz.sh

# The Windows leg: a MinGW-w64 cross build and its whole suite under Wine (Debian only).
if [ "${SPILL_SKIP_WINDOWS:-0}" = 1 ]; then
    echo "== leg: windows skipped (SPILL_SKIP_WINDOWS=1)"
elif ! command -v apt-get >/dev/null 2>&1 || [ "$(uname -s)" != Linux ]; then
    echo "== leg: windows skipped (needs Debian's MinGW-w64 and Wine; see README)"
else
    echo "== leg: windows"
    bash ci/test-windows.sh
fi

printf 'ci/test.sh: leg %s\n' "${timings[@]}"
echo "ci/test.sh: all legs passed"
