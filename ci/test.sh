#!/usr/bin/env bash
# ci/test.sh: installs what the build needs (if missing), configures with warnings as errors,
# builds and runs the whole test suite. The same command on a developer's machine and in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${SPILL_BUILD_DIR:-$root/build-ci}

# every version in the tree follows the project's (seconds, no dependencies: in every leg)
bash ci/check-versions.sh

# SPILL_ONLY="layering flock fcntl filesystems abi packaging sanitize fuzz windows macos
# systemd" picks legs (the CI matrix passes it); the SPILL_SKIP_* variables drop one. Unset:
# every leg this machine can run.
want() {
    local skip="SPILL_SKIP_$(echo "$1" | tr a-z A-Z)"
    [ "${!skip:-0}" != 1 ] || return 1
    [ -z "${SPILL_ONLY:-}" ] || [[ " $SPILL_ONLY " == *" $1 "* ]]
}

# the core, the platforms and the clients keep to their seams (a second: before any build)
if want layering; then
    bash ci/layering.sh
fi

. ci/deps.sh
spill_install_deps

jobs=$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)
timings=()

# one build tree per leg (ci/build.sh); each runs the whole suite ($leg_ctest: extra ctest
# arguments)
run_leg() {
    local name=$1 start=$SECONDS; shift
    echo "== leg: $name"
    rm -rf "$build/$name"
    bash ci/build.sh "$build/$name" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPILL_WERROR=ON \
        -DSPILL_TEST_HOOKS=ON "$@"
    [ -z "${SPILL_SHOW_FILE:-}" ] || file "$build/$name/tests/spill_tests"
    (cd "$build/$name" && ctest --output-on-failure -j "$jobs" ${leg_ctest:-})
    timings+=("$name $((SECONDS - start))s")
}

mkdir -p "$build"
want workflow && /usr/bin/env python3 ci/check-workflow.py .github/workflows/ci.yml
# SPILL_TEST_BIG: the big suite's chunk of real bytes past 2 GiB (a few seconds) runs here
# and SPILL_TEST_HOSTILE: a million planted entries, reaped through in budgeted slices
want flock && SPILL_TEST_BIG=${SPILL_TEST_BIG:-1} SPILL_TEST_HOSTILE=${SPILL_TEST_HOSTILE:-1} \
    run_leg flock -DSPILL_LOCK_BACKEND=auto
want fcntl && run_leg fcntl -DSPILL_LOCK_BACKEND=fcntl

# The kill, reap, create, trash and cli suites and `spill demo` with the test root on ext4,
# tmpfs, xfs, btrfs, overlayfs and FUSE (ci/test-filesystems.sh; Linux and root only).
if want filesystems; then
    if [ "$(uname -s)" != Linux ]; then
        echo "== leg: filesystems skipped (Linux only: loop devices, overlayfs, bindfs)"
    else
        echo "== leg: filesystems"
        start=$SECONDS
        rm -rf "$build/filesystems"
        bash ci/build.sh "$build/filesystems" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DSPILL_WERROR=ON -DSPILL_TEST_HOOKS=ON
        bash ci/test-filesystems.sh "$build/filesystems"
        timings+=("filesystems $((SECONDS - start))s")
    fi
fi

# The shared library's ABI against 0.1.0 from git history: abidiff, and a 0.1 client under ASan.
if want abi && [ "$(uname -s)" = Linux ]; then
    echo "== leg: abi"
    start=$SECONDS
    bash ci/abi.sh
    timings+=("abi $((SECONDS - start))s")
fi

# Packaging and the host (Debian/Ubuntu): a shared build's exports (nm -D against spill.h and
# the symbols file), the subproject and installed-package consumers, the program's tests
# (--as-owner as root, --prometheus); then ci/deb.sh: the Debian packages, lintian, and the
# packages tried in a throwaway root (units verified, promtool, man, completion, purge).
if want packaging && command -v apt-get >/dev/null 2>&1 && [ "$(uname -s)" = Linux ]; then
    leg_ctest="-R ^(exports|subproject|consumer|cli|headertest)$" \
        run_leg packaging -DBUILD_SHARED_LIBS=ON -DSPILL_BUILD_BENCH=OFF
    start=$SECONDS
    bash ci/install-prefix.sh "$build/install-prefix" # the units and spill.pc under --prefix P
    SPILL_DEB_DIR="$build/deb" bash ci/deb.sh
    timings+=("packaging-deb $((SECONDS - start))s")
fi

# The same suite under the sanitizers and valgrind (ci/sanitize.sh).
if want sanitize; then
    . ci/sanitize.sh
fi

# the Rust, Python and C++ bindings (ci/bindings.sh); cargo or python3 missing: that part skipped
if want bindings; then
    start=$SECONDS
    bash ci/bindings.sh
    timings+=("bindings $((SECONDS - start))s")
fi

# the reaper's fuzzer, about a minute (Linux and clang only)
if want fuzz && [ "$(uname -s)" = Linux ]; then
    bash ci/fuzz.sh
fi

# script_leg NAME WHY CMD...: a leg that is a script of its own, timed; WHY, when not empty,
# is why this machine cannot run it, printed instead.
script_leg() {
    local name=$1 why=$2 start=$SECONDS
    shift 2
    if ! want "$name"; then
        echo "== leg: $name skipped"
    elif [ -n "$why" ]; then
        echo "== leg: $name skipped ($why)"
    else
        echo "== leg: $name"
        "$@"
        timings+=("$name $((SECONDS - start))s")
    fi
}
not_linux=$([ "$(uname -s)" = Linux ] || echo "not Linux")
not_root=$([ "$(id -u)" = 0 ] || echo "not root")
no_apt=$(command -v apt-get >/dev/null 2>&1 || echo "no apt-get")

# The 32-bit leg: flock and fcntl suites in an i386 Debian 12 root, natively or through
# qemu-user where the kernel refuses i386 binaries (ci/test-i386.sh; debootstrap and chroot).
script_leg i386 "${not_linux:-$not_root}" bash ci/test-i386.sh

# The musl leg: spill, its tests and the program built with musl-gcc and linked statically
# (APR and CUnit from Debian's sources, built against musl and cached outside the tree), and
# the flock leg's whole suite run natively (ci/test-musl.sh; musl-tools and the cache as root).
script_leg musl "${not_linux:-${no_apt:-$not_root}}" bash ci/test-musl.sh

# The Windows leg: a MinGW-w64 cross build and its whole suite under Wine (Debian's packages).
script_leg windows "${not_linux:-$no_apt}" bash ci/test-windows.sh

# The macOS leg: zig cc cross-builds the library, the program, the tests, the benchmark and the
# example for x86_64 and arm64 macOS with -Werror (ci/test-macos-cross.sh; Debian's APR source).
# Nothing runs: the GitHub macOS job runs the suites.
script_leg macos "${not_linux:-$no_apt}" bash ci/test-macos-cross.sh

# The systemd leg: the installed units under systemd 252 booted as PID 1 in systemd-nspawn (a
# cached Debian 12 root): verify, the timer and its service (an orphan reaped, a live spill
# kept), --as-owner, the user manager's copy, tmpfiles --clean (ci/test-systemd.sh says why a
# machine cannot boot it).
script_leg systemd "${not_linux:-${no_apt:-${not_root:-$(! want systemd ||
    bash ci/test-systemd.sh --why-not)}}}" bash ci/test-systemd.sh

[ ${#timings[@]} -eq 0 ] || printf 'ci/test.sh: leg %s\n' "${timings[@]}"
echo "ci/test.sh: all legs passed"
