#!/usr/bin/env bash
# ci/fuzz.sh: builds the reaper's libFuzzer target (fuzz/) with clang, ASan and UBSan, and runs
# it for about a minute over a copy of the checked-in corpus. Fails on any crash, leak or broken
# invariant; prints the executions and invariant checks. Linux only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${SPILL_BUILD_DIR:-$root/build-ci}/fuzz
seconds=${SPILL_FUZZ_SECONDS:-60}

if [ "$(uname -s)" != Linux ]; then
    echo "ci/fuzz.sh: the fuzz target is Linux-only; skipped"
    exit 0
fi

. ci/deps.sh
spill_install_deps
# Debian's clang and its compiler-rt (libFuzzer, the sanitizers' runtimes)
if ! command -v clang-14 >/dev/null || ! dpkg -s libclang-rt-14-dev >/dev/null 2>&1; then
    echo "installing: clang-14 libclang-rt-14-dev"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends clang-14 libclang-rt-14-dev >/dev/null
fi

rm -rf "$out"
mkdir -p "$out"
SPILL_BUILD_TARGETS=reap_fuzz bash ci/build.sh "$out/build" -DCMAKE_C_COMPILER=clang-14 \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPILL_WERROR=ON -DSPILL_FUZZ=ON -DSPILL_BUILD_TESTS=OFF

# Started as root, the target builds and reaps as an unprivileged user: a crash there must still
# be able to write its artifact. The trees go to tmpfs where there is one (many times faster).
cp -r fuzz/corpus "$out/corpus"
mkdir -p "$out/artifacts"
chmod 1777 "$out/artifacts"
if [ -z "${SPILL_FUZZ_DIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export SPILL_FUZZ_DIR=/dev/shm
fi

echo "== fuzz: reap_fuzz for ${seconds}s over $(ls fuzz/corpus | wc -l) seed inputs"
start=$(date +%s)
set +e
"$out/build/fuzz/reap_fuzz" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/artifacts/" "$out/corpus" >"$out/fuzz.log" 2>&1
status=$?
set -e
elapsed=$(($(date +%s) - start))
# the progress lines are many; the rest (a report, the final figures) is what a reader needs
grep -v -E '^#[0-9]+|^[[:space:]]+NEW_FUNC|^"' "$out/fuzz.log" | tail -n 60
summary=$(grep -E '^reap_fuzz: [0-9]+ executions' "$out/fuzz.log" || true)
if [ "$status" -ne 0 ] || [ -z "$summary" ]; then
    echo "ci/fuzz.sh: FAILED (exit $status); the input is in $out/artifacts/, the log in $out/fuzz.log"
    ls -l "$out/artifacts/" || true
    exit 1
fi
echo "ci/fuzz.sh: passed in ${elapsed}s: ${summary#reap_fuzz: }"
