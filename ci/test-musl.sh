#!/usr/bin/env bash
# ci/test-musl.sh: the musl leg: spill, its tests and the spill program built with musl-gcc
# and linked statically (as static musl clients ship), then the flock leg's whole ctest suite
# run natively. APR 1.7.2 and CUnit come from Debian's bookworm source packages, built
# against musl once and cached outside the tree:
#
#   SPILL_MUSL_CACHE   the cache (default /var/cache/spill-musl): src/ build/ logs/ prefix/
#                      (prefix/lib/pkgconfig/{apr-1,cunit}.pc); complete once its stamp is
#                      written, anything else under its name is remade
#   SPILL_BUILD_DIR    build-ci by default; this leg builds in its musl/ directory
#
# ctest again by hand in that directory wants PKG_CONFIG_LIBDIR=<cache>/prefix/lib/pkgconfig:
# the consumer and subproject tests configure projects of their own against APR.
# C++ is not built here: musl-gcc wraps the C compiler only, and g++ would bring glibc's
# libstdc++ (headertest_cxx and hpp are the glibc legs'; the bindings have their own leg).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. ci/debian-source.sh

cache=${SPILL_MUSL_CACHE:-/var/cache/spill-musl}
build=${SPILL_BUILD_DIR:-$root/build-ci}/musl
prefix=$cache/prefix
logs=$cache/logs
stamp=$cache/.spill-musl-complete
jobs=$(nproc 2>/dev/null || echo 2)
start=$SECONDS

say() { printf '[musl] %s\n' "$*"; }
die() { printf '[musl] ERROR: %s\n' "$*" >&2; exit 1; }

# run LOG CMD...: quietly, the output kept in LOG (a path), its tail shown on failure
run() {
    local log=$1; shift
    if ! "$@" >"$log" 2>&1; then
        printf '[musl] FAILED: %s (log: %s)\n' "$*" "$log" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
}

# musl-tools and the rest (ci/deps.sh; already there when ci/test.sh runs this leg)
if command -v apt-get >/dev/null 2>&1; then
    . ci/deps.sh
    SPILL_ONLY=musl spill_install_deps
fi
command -v musl-gcc >/dev/null || die "musl-gcc not found: apt-get install musl-tools"
musl_version=$(dpkg-query -W -f='${Version}' musl-dev 2>/dev/null || echo unknown)
# What the cache was made from; a change here (or in musl) remakes it.
recipe="apr 1.7.2 --disable-shared, cunit Framework+Basic; musl $musl_version; recipe 1"

# ---------------------------------------------------------------- APR
# APR's own configure, natively: its run tests run on this kernel with musl's libc, as the
# binaries will. musl has no libuuid, and musl-gcc searches neither /usr/include nor
# /usr/lib/x86_64-linux-gnu, so configure cannot find glibc's uuid: APR generates UUIDs
# itself (checked below, as is that no glibc library is named on its link line). Nothing is
# forced: its run tests (robust process-shared mutexes, epoll, dup3, accept4...) pass on musl.
build_apr() {
    local src=$cache/build/apr
    rm -rf "$src" && mkdir -p "$src"
    tar -xf "$cache/src/apr_1.7.2.orig.tar.bz2" -C "$src" --strip-components=1
    (cd "$src" && run "$logs/apr-configure.log" env CC=musl-gcc CFLAGS="-O2 -g" \
        ./configure --prefix="$prefix" --disable-shared --enable-static)
    grep -q '^#define APR_HAS_OS_UUID *0' "$src/include/apr.h" ||
        die "APR's configure found an OS uuid library (see $logs/apr-configure.log)"
    apr_libs=$(sed -n 's/^\(EXTRA_LIBS\|LIBS\)=//p' "$src/build/apr_rules.mk" | xargs)
    apr_cppflags=$(sed -n 's/^EXTRA_CPPFLAGS=//p' "$src/build/apr_rules.mk")
    local l
    for l in $apr_libs; do
        case $l in
        -lpthread | -ldl | -lrt | -lm) ;; # in musl's libc.a (their own archives are empty)
        *) die "APR wants $l, which musl does not have (see $src/build/apr_rules.mk)" ;;
        esac
    done
    run "$logs/apr-build.log" make -C "$src" -j "$jobs"
    run "$logs/apr-install.log" make -C "$src" install
    write_apr_pc
}

# As APR's own apr-1.pc (its defines in Cflags, as Debian's), with what a static libapr needs
# ($apr_libs) on the link line itself: Libs, not Libs.private, which CMake's pkg_check_modules
# leaves out. An absolute prefix: the subproject test copies the file elsewhere.
write_apr_pc() {
    cat >"$prefix/lib/pkgconfig/apr-1.pc" <<EOF
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include/apr-1

Name: APR
Description: Apache Portable Runtime 1.7.2 (static, musl)
Version: 1.7.2
Cflags: $apr_cppflags -I\${includedir}
Libs: -L\${libdir} -lapr-1 $apr_libs
EOF
}

# ---------------------------------------------------------------- the cache
make_cache() {
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$recipe" ]; then
        say "APR and CUnit: cached in $cache"
        return
    fi
    say "APR and CUnit: building into $cache (musl $musl_version)"
    rm -rf "$cache/src" "$cache/build" "$cache/prefix" "$logs" "$stamp"
    mkdir -p "$cache/src" "$cache/build" "$prefix/lib/pkgconfig" "$logs"
    spill_debian_source "$cache/src" apr cunit || die "the source packages could not be downloaded"
    [ -f "$cache/src/apr_1.7.2.orig.tar.bz2" ] ||
        die "Debian's apr source is not 1.7.2 any more (see $cache/src)"
    build_apr
    local cunit_orig=("$cache"/src/cunit_*.orig.tar.*)
    [ -f "${cunit_orig[0]}" ] || die "cunit source package missing after download"
    spill_build_cunit "${cunit_orig[0]}" "$cache/build" "$prefix" musl-gcc ar -g ||
        die "CUnit did not build"
    echo "$recipe" >"$stamp"
}

mkdir -p "$cache"
exec 9>"$cache/lock"
flock -x 9 # one maker at a time
make_cache
flock -s 9 # others may use the cache too, but not remake it under us
say "deps ready after $((SECONDS - start))s"

# ---------------------------------------------------------------- spill
# As ci/test.sh's flock leg (run_leg), with musl-gcc, every executable linked -static, APR and
# CUnit from the cache only (PKG_CONFIG_LIBDIR: no pkg-config file of the host's glibc
# libraries), and no C++ (CMAKE_CXX_COMPILER NOTFOUND is what check_language(CXX) leaves when
# it finds none: tests/CMakeLists.txt then skips headertest_cxx and hpp).
export PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig PKG_CONFIG_PATH=
say "configure and build (musl-gcc, -static, -Werror)"
rm -rf "$build"
mkdir -p "$build"
run "$build.build.log" env CC=musl-gcc bash ci/build.sh "$build" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPILL_WERROR=ON -DSPILL_TEST_HOOKS=ON \
    -DSPILL_LOCK_BACKEND=auto -DCMAKE_EXE_LINKER_FLAGS=-static \
    -DCMAKE_CXX_COMPILER=CMAKE_CXX_COMPILER-NOTFOUND
# (ci/build.sh keeps the configure output in $build.configure.log)
grep -q 'APR found by pkg-config' "$build.configure.log" ||
    die "APR was not found through the cache's apr-1.pc (see $build.configure.log)"

# Static, or the leg proves nothing about the binaries musl clients ship; and no library of
# the host's glibc on their link lines (musl-gcc searches none of its directories itself).
check_static() {
    local exe=$1 link=$2
    file "$exe"
    file "$exe" | grep -q 'statically linked' || die "$exe is not statically linked"
    ! grep -q 'linux-gnu' "$link" || die "$exe links a glibc library: $(cat "$link")"
}
check_static "$build/tests/spill_tests" "$build/tests/CMakeFiles/spill_tests.dir/link.txt"
check_static "$build/tools/spill" "$build/tools/CMakeFiles/spill_cli.dir/link.txt"

say "ctest (the flock leg's whole suite)"
# SPILL_TEST_BIG=1: the big suite's chunk of real bytes past 2 GiB, as in the flock leg
(cd "$build" && SPILL_TEST_BIG=${SPILL_TEST_BIG:-1} ctest --output-on-failure -j "$jobs")
say "passed in $((SECONDS - start))s"
