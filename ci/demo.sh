#!/usr/bin/env bash
# ci/demo.sh: the main job for a newcomer: installs what is missing (cmake, pkg-config, a C
# compiler and APR's headers), builds the library and the `spill` program only (no tests,
# benchmark, examples, man page or CUnit), and runs `spill demo`: uploads on a fresh temporary
# root, some killed hard, ls, reap, a verdict. Arguments go to `spill demo` (e.g. --resume).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "ci/demo.sh: $*"; }

. ci/deps.sh
say "checking for cmake, pkg-config, a C compiler and libapr1-dev (apt-get installs what is missing)"
spill_install_deps demo

build=${SPILL_DEMO_BUILD_DIR:-build-demo}
say "configuring in $build: the library and the spill program only"
say "building (about 45 C files; the log is $build.build.log)"
SPILL_BUILD_TARGETS=spill_cli bash ci/build.sh "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSPILL_BUILD_TESTS=OFF -DSPILL_BUILD_BENCH=OFF -DSPILL_BUILD_EXAMPLES=OFF -DSPILL_MAN=OFF \
    >"$build.build.log" 2>&1 || { tail -n 40 "$build.build.log"; exit 1; }
say "running $build/tools/spill demo $*"
echo
exec "$build/tools/spill" demo "$@"
