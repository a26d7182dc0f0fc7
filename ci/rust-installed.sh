#!/usr/bin/env bash
# ci/rust-installed.sh [DIR]: the Rust crate against an installed spill, as a user builds it. The
# default (static) build is installed with `cmake --install` into a prefix under DIR; a crate
# outside the tree (examples/chunk_spill.rs as its main.rs, a path dependency on
# bindings/rust/spill) is built offline with PKG_CONFIG_PATH pointing at that prefix, so that
# spill-sys links the installed library (SPILL_SYS_NO_SOURCE=1: no fallback to building the
# tree); then it runs, and its binary must not need libapr at run time (readelf -d).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-${SPILL_BUILD_DIR:-$root/build-ci}/rust-installed}
rm -rf "$out"
mkdir -p "$out/crate/src"
prefix=$out/prefix

echo "-- rust-installed: the default static build, installed into $prefix"
bash ci/build.sh "$out/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPILL_WERROR=ON \
    -DSPILL_BUILD_TESTS=OFF -DSPILL_BUILD_BENCH=OFF -DSPILL_BUILD_EXAMPLES=OFF >/dev/null
cmake --install "$out/build" --prefix "$prefix" >/dev/null
if [ ! -f "$prefix/lib/libspill.a" ] || compgen -G "$prefix/lib/libspill.so*" >/dev/null; then
    echo "rust-installed: FAIL: the default build did not install a static libspill alone" >&2
    exit 1
fi

echo "-- rust-installed: an outside crate, built against it through pkg-config"
cat >"$out/crate/Cargo.toml" <<EOF
[package]
name = "chunk-client"
version = "0.1.0"
edition = "2021"

[dependencies]
spill = { path = "$root/bindings/rust/spill" }

[workspace]
EOF
cp bindings/rust/spill/examples/chunk_spill.rs "$out/crate/src/main.rs"
(cd "$out/crate" && env -u SPILL_SYS_FROM_SOURCE SPILL_SYS_NO_SOURCE=1 \
    PKG_CONFIG_PATH="$prefix/lib/pkgconfig" CARGO_TARGET_DIR="$out/target" \
    cargo build --offline --quiet)
bin=$out/target/debug/chunk-client

echo "-- rust-installed: it runs, and needs no libapr"
"$bin"
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "-- rust-installed: NEEDED: $needed"
if [[ " $needed" == *" libapr"* ]]; then
    echo "rust-installed: FAIL: the binary needs libapr at run time" >&2
    exit 1
fi
