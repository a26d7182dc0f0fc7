#!/usr/bin/env bash
# ci/demo.sh: the main job for a newcomer: installs what is missing, builds, and runs
# `spill demo` (uploads on a fresh temporary root, some killed hard, ls, reap, a verdict).
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/deps.sh
spill_install_deps
build=${SPILL_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
exec "$build/tools/spill" demo "$@"
