#!/usr/bin/env bash
# ci/build.sh BUILD_DIR [CMAKE_OPTION...]: configures this repository into BUILD_DIR with the
# given options (-D..., and -G/-A for a generator) and builds it, all cores busy; nothing else.
# Every CI leg builds through here, then runs ctest or whatever it checks itself.
#
# The configure output goes to BUILD_DIR.configure.log, shown only when configuring fails (a
# leg may grep it); the build's goes to stdout. CC, CXX and CMAKE_GENERATOR are read by CMake.
#   SPILL_BUILD_TARGETS  what to build, space-separated (default: everything)
#   SPILL_BUILD_CONFIG   the configuration, for multi-config generators (Visual Studio)
#   SPILL_BUILD_SOURCE   another source tree (the abi leg builds 0.1.0's from git history)
set -euo pipefail
dir=${1:?usage: ci/build.sh BUILD_DIR [CMAKE_OPTION...]}
shift
# as the caller named this script (CMake makes it absolute): in Git Bash a path of our own
# making would be a POSIX one, for a Windows cmake
src=${SPILL_BUILD_SOURCE:-$(dirname "${BASH_SOURCE[0]}")/..}
jobs=$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)
log=$dir.configure.log

mkdir -p "$(dirname "$dir")"
cmake -S "$src" -B "$dir" "$@" >"$log" 2>&1 || { cat "$log"; exit 1; }
# shellcheck disable=SC2086 # the targets are words
cmake --build "$dir" -j "$jobs" ${SPILL_BUILD_CONFIG:+--config "$SPILL_BUILD_CONFIG"} \
    ${SPILL_BUILD_TARGETS:+--target $SPILL_BUILD_TARGETS}
