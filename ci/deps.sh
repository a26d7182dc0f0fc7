# ci/deps.sh: the packages each OS needs, in one place; sourced by the ci scripts.
# Debian/Ubuntu: apt-get (as root, or through sudo); macOS: Homebrew; Windows: docs/windows.md.

spill_deps_for() { [ -z "${SPILL_ONLY:-}" ] || [[ " $SPILL_ONLY " == *" $1 "* ]]; }

# spill_install_deps [demo]: with "demo", only what ci/demo.sh builds (the library and the
# program: no C++, CUnit or test tools).
spill_install_deps() {
    local need=() tests=1
    # the demo wants no leg's tools: SPILL_ONLY=demo, local to this call, names no leg
    [ "${1:-}" != demo ] || { tests=0; local SPILL_ONLY=demo; }
    if command -v apt-get >/dev/null 2>&1; then
        command -v cmake >/dev/null || need+=(cmake)
        command -v pkg-config >/dev/null || need+=(pkg-config)
        command -v cc >/dev/null || need+=(gcc)
        dpkg -s libapr1-dev >/dev/null 2>&1 || need+=(libapr1-dev)
        if [ $tests = 1 ]; then
            command -v c++ >/dev/null || need+=(g++)
            dpkg -s libcunit1-dev >/dev/null 2>&1 || need+=(libcunit1-dev)
            command -v systemd-tmpfiles >/dev/null || need+=(systemd) # the citizen suite (rule 13)
        fi
        # what one leg needs, only when SPILL_ONLY (unset: every leg) asks for it
        if spill_deps_for sanitize; then
            command -v valgrind >/dev/null || need+=(valgrind) # the memcheck leg
        fi
        if spill_deps_for bindings; then
            python3 -c "import ensurepip" 2>/dev/null || need+=(python3-venv) # ci/python-venv.sh
        fi
        if spill_deps_for workflow; then
            python3 -c "import yaml" 2>/dev/null || need+=(python3 python3-yaml) # its check
        fi
        if spill_deps_for abi; then
            command -v abidiff >/dev/null || need+=(abigail-tools) # the ABI check (ci/abi.sh)
        fi
        if spill_deps_for i386 && [ "$(dpkg --print-architecture)" != i386 ]; then
            command -v debootstrap >/dev/null || need+=(debootstrap) # the i386 root
        fi
        if spill_deps_for systemd; then # ci/test-systemd.sh: its root, and the container
            command -v debootstrap >/dev/null || need+=(debootstrap)
            command -v systemd-nspawn >/dev/null || need+=(systemd-container)
        fi
        if spill_deps_for musl; then # ci/test-musl.sh: musl-gcc, APR's build, `file`
            command -v musl-gcc >/dev/null || need+=(musl-tools)
            command -v make >/dev/null || need+=(make)
            command -v bzip2 >/dev/null || need+=(bzip2)
            command -v file >/dev/null || need+=(file)
        fi
        if spill_deps_for filesystems; then # xfs and btrfs images, FUSE through bindfs
            command -v mkfs.xfs >/dev/null || need+=(xfsprogs)
            command -v mkfs.btrfs >/dev/null || need+=(btrfs-progs)
            command -v bindfs >/dev/null || need+=(bindfs)
            command -v fusermount3 >/dev/null || need+=(fuse3)
        fi
        if spill_deps_for macos; then # the zig cross build (ci/test-macos-cross.sh)
            command -v npm >/dev/null || need+=(npm)     # zig comes as an npm package
            command -v bzip2 >/dev/null || need+=(bzip2) # APR's .orig.tar.bz2
            command -v make >/dev/null || need+=(make)   # APR's configure and make
            command -v file >/dev/null || need+=(file)   # the Mach-O check
        fi
        if [ ${#need[@]} -gt 0 ]; then
            echo "installing: ${need[*]}"
            local sudo=""
            [ "$(id -u)" = 0 ] || sudo=sudo
            export DEBIAN_FRONTEND=noninteractive
            $sudo apt-get update -qq
            $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends \
                "${need[@]}" >/dev/null
        fi
    elif command -v brew >/dev/null 2>&1; then
        brew list apr >/dev/null 2>&1 || brew install apr
        [ $tests = 0 ] || brew list cunit >/dev/null 2>&1 || brew install cunit
        command -v cmake >/dev/null || brew install cmake
        command -v pkg-config >/dev/null || brew install pkg-config
        # Homebrew's apr is keg-only: pkg-config finds it only through its own prefix
        export PKG_CONFIG_PATH="$(brew --prefix apr)/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    else
        echo "ci/deps.sh: no apt-get or brew here; install cmake, pkg-config, APR and CUnit" >&2
    fi
}

# ci/deb.sh (the packaging leg): Debian's packaging tools, scdoc for the man page, promtool
# (Debian's prometheus), systemd-analyze and man. Debian/Ubuntu only.
spill_install_packaging_deps() {
    local need=() p
    for p in debhelper dpkg-dev lintian scdoc prometheus systemd man-db util-linux; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    if [ ${#need[@]} -gt 0 ]; then
        echo "installing: ${need[*]}"
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo=sudo
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
        $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
            "${need[@]}" >/dev/null
    fi
}
