# ci/i386-binfmt.sh: can this host run the i386 root's binaries? Sourced by ci/test-i386.sh.
# i386_exec probes with the root's own /bin/true. Some 64-bit kernels refuse i386 binaries
# although CONFIG_IA32_EMULATION is set (a paravirtualised guest's 6.18 did: "Exec format
# error"); there the root runs under Debian's qemu-i386-static, registered with binfmt_misc.
# Only what this leg added is taken away on exit: the entry if it registered it, the
# binfmt_misc mount if it mounted it; other entries are never touched.
# SPILL_I386_QEMU=1 takes the qemu-user way even where the kernel runs i386 (a binfmt_misc entry
# is tried before the kernel's own ELF loader), so that either way can be tried on any host.
# Sets SPILL_I386_MODE ("native" or "qemu-user ...") and, under qemu, SPILL_TEST_SLOW (the
# factor the suites scale their own deadlines and ctest's timeouts by) unless the caller set
# it, and SPILL_TEST_EMULATED (what the few tests that cannot hold there read).

binfmt_dir=/proc/sys/fs/binfmt_misc
binfmt_entry=$binfmt_dir/qemu-i386
binfmt_registered=0
binfmt_mounted=0

# The i386 ELF header's magic and mask (executables and shared objects), as qemu's own
# qemu-binfmt-conf.sh gives them; F: the interpreter is opened now, so it works in a chroot.
binfmt_line=':qemu-i386:M::\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x03\x00:\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-i386-static:F'

i386_binfmt_cleanup() {
    if [ "$binfmt_registered" = 1 ] && [ -e "$binfmt_entry" ]; then
        echo -1 >"$binfmt_entry" || echo "ci/i386-binfmt.sh: could not remove $binfmt_entry" >&2
    fi
    if [ "$binfmt_mounted" = 1 ]; then
        umount "$binfmt_dir" || echo "ci/i386-binfmt.sh: could not unmount $binfmt_dir" >&2
    fi
    binfmt_registered=0 binfmt_mounted=0
}

i386_runs() { chroot "$rootfs" /bin/true 2>/dev/null; }
i386_binfmt_on() { [ -e "$binfmt_entry" ] && head -n 1 "$binfmt_entry" | grep -qx enabled; }

i386_qemu_setup() {
    if ! [ -x /usr/bin/qemu-i386-static ]; then
        echo "i386: installing qemu-user-static"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
            --no-install-recommends qemu-user-static >/dev/null
    fi
    trap i386_binfmt_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if ! [ -e "$binfmt_dir/register" ]; then
        mount -t binfmt_misc binfmt_misc "$binfmt_dir"
        binfmt_mounted=1
    fi
    if ! [ -e "$binfmt_entry" ]; then
        printf '%s' "$binfmt_line" >"$binfmt_dir/register" # printf: the backslashes reach the kernel
        binfmt_registered=1
    fi
}

i386_exec() {
    if [ -n "${SPILL_I386_MODE:-}" ]; then
        return 0
    fi
    if [ "${SPILL_I386_QEMU:-0}" = 1 ]; then
        echo "i386: qemu-user asked for (SPILL_I386_QEMU=1)"
    elif i386_runs && ! i386_binfmt_on; then
        SPILL_I386_MODE=native
        return 0
    elif i386_runs; then
        echo "i386: $binfmt_entry is registered already: the root runs under it"
    else
        echo "i386: this kernel does not run i386 binaries ($(uname -r)); using qemu-user"
    fi
    i386_qemu_setup
    if ! i386_runs; then
        echo "ci/i386-binfmt.sh: the i386 root does not run under qemu-user either;" \
            "$binfmt_entry: $(head -n 3 "$binfmt_entry" 2>/dev/null | tr '\n' ' ')" >&2
        exit 1
    fi
    SPILL_I386_MODE="qemu-user ($(/usr/bin/qemu-i386-static --version | head -n 1))"
    : "${SPILL_TEST_SLOW:=8}"
    SPILL_TEST_EMULATED=qemu-user
    export SPILL_TEST_SLOW SPILL_TEST_EMULATED
}
