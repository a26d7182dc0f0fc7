#!/usr/bin/env bash
# ci/bindings.sh: the bindings leg. A shared build of the library runs the C++ wrapper's test;
# the Rust crates run `cargo test --offline` (spill-sys building this tree with cmake, as on a
# fresh machine); the Python package is installed offline with pip and runs its unittest tests;
# the examples of the README and docs/ run as written, and every block of commands there is
# checked to be run somewhere (ci/readme-examples.py). A missing cargo or python3 skips its part,
# saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${SPILL_BUILD_DIR:-$root/build-ci}/bindings
jobs=$(nproc 2>/dev/null || echo 2)
rm -rf "$out"
mkdir -p "$out"
t0=$SECONDS

echo "-- bindings: shared library and the C++ wrapper's test"
# spill: the docs' examples
SPILL_BUILD_TARGETS="spill spill_hpp_test spill_cli" bash ci/build.sh "$out/build" \
    -DBUILD_SHARED_LIBS=ON -DSPILL_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
(cd "$out/build" && ctest --output-on-failure -R '^hpp$')
lib=$out/build
echo "-- bindings: shared build and C++ $((SECONDS - t0))s"

rust_target=""
if command -v cargo >/dev/null 2>&1; then
    t=$SECONDS
    echo "-- bindings: Rust (cargo test --offline)"
    export CARGO_TARGET_DIR=$out/cargo
    (cd bindings/rust && SPILL_SYS_FROM_SOURCE=1 cargo test --offline --quiet --jobs "$jobs" &&
        SPILL_SYS_FROM_SOURCE=1 cargo run --offline --quiet --example chunk_spill)
    rust_target=$CARGO_TARGET_DIR/debug
    # and as a user builds it against an installed static spill (pkg-config): no libapr needed
    bash ci/rust-installed.sh "$out/rust-installed"
    echo "-- bindings: Rust $((SECONDS - t))s"
else
    echo "-- bindings: Rust SKIPPED: cargo is not installed"
fi

if command -v python3 >/dev/null 2>&1; then
    t=$SECONDS
    echo "-- bindings: Python (pip install --no-index, python3 -m unittest)"
    if python3 -m pip --version >/dev/null 2>&1; then
        python3 -m pip install --quiet --no-index --no-build-isolation --target "$out/python" bindings/python
    else
        echo "-- bindings: no pip for python3: testing the package from the tree, not installed"
        mkdir -p "$out/python" && cp -r bindings/python/spill "$out/python/"
    fi
    (cd bindings/python/tests && SPILL_LIBRARY=$lib/libspill.so PYTHONPATH=$out/python SPILL_INCLUDE_DIR=$root/include \
        python3 -m unittest discover -s . -v 2>&1 | tail -n 20; exit "${PIPESTATUS[0]}")
    echo "-- bindings: Python $((SECONDS - t))s"
    t=$SECONDS
    # as a user installs it: a fresh venv, no SPILL_LIBRARY, the docs' example
    echo "-- bindings: Python in a venv (ci/python-venv.sh)"
    bash ci/python-venv.sh "$out/python-venv"
    echo "-- bindings: Python in a venv $((SECONDS - t))s"
else
    echo "-- bindings: Python SKIPPED: python3 is not installed"
fi

if command -v python3 >/dev/null 2>&1; then
    t=$SECONDS
    echo "-- bindings: the examples and commands of README.md and docs/"
    PYTHONPATH=$out/python python3 ci/readme-examples.py --include include --libdir "$lib" \
        --bindir "$lib/tools" ${rust_target:+--rust-target "$rust_target"}
    echo "-- bindings: the documentation's examples $((SECONDS - t))s"
else
    echo "-- bindings: the documentation's examples SKIPPED: running them needs python3"
fi
echo "-- bindings: $((SECONDS - t0))s"
