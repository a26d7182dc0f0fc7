#!/usr/bin/env bash
# ci/test-msvc.sh: the Windows MSVC leg: APR and CUnit from vcpkg (manifest mode, vcpkg.json),
# /W4 /WX, the whole suite through ctest. Runs in Git Bash on a Windows runner.
set -euo pipefail
cd "$(dirname "$0")/.."
vcpkg_root=${VCPKG_ROOT:-${VCPKG_INSTALLATION_ROOT:?set VCPKG_ROOT to a vcpkg checkout}}
SPILL_BUILD_CONFIG=RelWithDebInfo bash ci/build.sh build-msvc -G "Visual Studio 17 2022" -A x64 \
    -DCMAKE_TOOLCHAIN_FILE="$vcpkg_root/scripts/buildsystems/vcpkg.cmake" \
    -DVCPKG_MANIFEST_MODE=ON -DSPILL_WERROR=ON -DSPILL_TEST_HOOKS=ON
(cd build-msvc && ctest -C RelWithDebInfo --output-on-failure)
