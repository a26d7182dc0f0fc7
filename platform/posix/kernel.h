/* kernel.h (POSIX, Linux): the three Linux calls rule 2 and the creation rest on, whether or
 * not libc wraps them: statx (a stat by name that never waits on a dead mount), openat2 (an
 * open below the root that crosses no mount and follows no link) and renameat2 with
 * RENAME_NOREPLACE (the atomic publish of a new spill directory).
 *
 * The trap: a libc without a wrapper or without <linux/...> headers (musl 1.2.3: no statx,
 * no renameat2, no linux/ directory; it does define every SYS_ number) must not quietly turn
 * spill into fstatat, openat and check-then-rename. Where the wrapper is missing, the call
 * goes through syscall() with the structures and constants the kernel documents (uapi
 * linux/stat.h, linux/fcntl.h, linux/openat2.h, linux/fs.h), spelled here; where libc or the
 * kernel headers declare them too (glibc), the build checks they agree. CMakeLists.txt fails
 * the build on a Linux that has neither a wrapper nor the SYS_ number, and so does the #error
 * below for a build made without it. */
#ifndef SPILL_POSIX_KERNEL_H
#define SPILL_POSIX_KERNEL_H
#if defined(__linux__)

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A compile-time check (C11's _Static_assert, which GCC and Clang accept in C99 mode too).
 * The syscall() wrappers below pass int arguments as long: syscall() reads its arguments as
 * longs, and an int's upper half in a register is unspecified. */
#define SPILL__SAME(a, b) _Static_assert((a) == (b), #a " is not the kernel's " #b)

/* ---- statx(2) */
#define SPILL__STATX_TYPE 0x00000001U
#define SPILL__STATX_BASIC_STATS 0x000007ffU
#define SPILL__STATX_MNT_ID 0x00001000U /* Linux 5.8 */
#define SPILL__AT_NO_AUTOMOUNT 0x800
#define SPILL__AT_EMPTY_PATH 0x1000
#define SPILL__AT_STATX_DONT_SYNC 0x4000

struct spill__statx_timestamp {
    int64_t tv_sec;
    uint32_t tv_nsec;
    int32_t reserved;
};

/* the kernel's struct statx, 256 bytes, every field at its uapi offset */
struct spill__kstatx {
    uint32_t stx_mask, stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink, stx_uid, stx_gid;
    uint16_t stx_mode, spare0;
    uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    struct spill__statx_timestamp stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t stx_mnt_id;
    uint32_t stx_dio_mem_align, stx_dio_offset_align;
    uint64_t spare3[12];
};
SPILL__SAME(sizeof(struct spill__kstatx), 0x100);
SPILL__SAME(offsetof(struct spill__kstatx, stx_mtime), 0x70);
SPILL__SAME(offsetof(struct spill__kstatx, stx_mnt_id), 0x90);

#ifdef AT_NO_AUTOMOUNT
SPILL__SAME(AT_NO_AUTOMOUNT, SPILL__AT_NO_AUTOMOUNT);
#endif
#ifdef AT_EMPTY_PATH
SPILL__SAME(AT_EMPTY_PATH, SPILL__AT_EMPTY_PATH);
#endif
#ifdef AT_STATX_DONT_SYNC
SPILL__SAME(AT_STATX_DONT_SYNC, SPILL__AT_STATX_DONT_SYNC);
#endif

#if defined(SPILL_HAVE_STATX)
/* libc's wrapper and structure (glibc 2.28+): checked against the kernel's layout */
#define SPILL__HAVE_STATX 1
typedef struct statx spill__statx_buf;
#define SPILL__STATX_FIELD(f) \
    SPILL__SAME(offsetof(struct statx, f), offsetof(struct spill__kstatx, f))
SPILL__SAME(sizeof(struct statx), sizeof(struct spill__kstatx));
SPILL__STATX_FIELD(stx_mode);
SPILL__STATX_FIELD(stx_nlink);
SPILL__STATX_FIELD(stx_uid);
SPILL__STATX_FIELD(stx_ino);
SPILL__STATX_FIELD(stx_size);
SPILL__STATX_FIELD(stx_mtime);
SPILL__STATX_FIELD(stx_dev_major);
SPILL__STATX_FIELD(stx_dev_minor);
SPILL__SAME(STATX_TYPE, SPILL__STATX_TYPE);
SPILL__SAME(STATX_BASIC_STATS, SPILL__STATX_BASIC_STATS);
#ifdef STATX_MNT_ID /* glibc's own struct statx (no linux/stat.h) has no stx_mnt_id */
#define SPILL__HAVE_STX_MNT_ID 1
SPILL__STATX_FIELD(stx_mnt_id);
SPILL__SAME(STATX_MNT_ID, SPILL__STATX_MNT_ID);
#endif
static inline int spill__statx(int at, const char *name, int flags, unsigned mask,
                               spill__statx_buf *buf)
{
    return statx(at, name, flags, mask, buf);
}
#elif defined(SYS_statx)
/* no wrapper (musl before 1.2.5): the system call itself, into the kernel's structure */
#define SPILL__HAVE_STATX 1
#define SPILL__HAVE_STX_MNT_ID 1
typedef struct spill__kstatx spill__statx_buf;
static inline int spill__statx(int at, const char *name, int flags, unsigned mask,
                               spill__statx_buf *buf)
{
    return (int)syscall(SYS_statx, (long)at, name, (long)flags, (long)mask, buf);
}
#else
#error "statx: neither a libc wrapper nor SYS_statx (rule 2 would be lost; see kernel.h)"
#endif

/* ---- openat2(2), Linux 5.6: no libc wraps it (glibc 2.36, musl 1.2.3), so always syscall() */
#define SPILL__RESOLVE_NO_XDEV 0x01
#define SPILL__RESOLVE_NO_SYMLINKS 0x04

struct spill__open_how {
    uint64_t flags, mode, resolve;
};

#if defined(__has_include)
/* quoted: in GNU C modes `linux` is a macro (1), and <linux/...> in __has_include would
 * expand it (GCC PR 80005) */
#if __has_include("linux/openat2.h")
#include <linux/openat2.h>
SPILL__SAME(sizeof(struct open_how), sizeof(struct spill__open_how));
SPILL__SAME(offsetof(struct open_how, resolve), offsetof(struct spill__open_how, resolve));
SPILL__SAME(RESOLVE_NO_XDEV, SPILL__RESOLVE_NO_XDEV);
SPILL__SAME(RESOLVE_NO_SYMLINKS, SPILL__RESOLVE_NO_SYMLINKS);
#endif
#endif

#if defined(SYS_openat2)
#define SPILL__HAVE_OPENAT2 1
static inline int spill__openat2(int at, const char *name, struct spill__open_how *how)
{
    return (int)syscall(SYS_openat2, (long)at, name, how, sizeof *how);
}
#else
#error "openat2: no SYS_openat2 in <sys/syscall.h> (rule 2 would be lost; see kernel.h)"
#endif

/* ---- renameat2(2) with RENAME_NOREPLACE (linux/fs.h) */
#define SPILL__RENAME_NOREPLACE 1U

#if defined(SPILL_HAVE_RENAMEAT2)
/* libc's wrapper (glibc 2.28+) */
#define SPILL__HAVE_RENAMEAT2 1
SPILL__SAME(RENAME_NOREPLACE, SPILL__RENAME_NOREPLACE);
static inline int spill__renameat2(int from_at, const char *from, int to_at, const char *to,
                                   unsigned flags)
{
    return renameat2(from_at, from, to_at, to, flags);
}
#elif defined(SYS_renameat2)
/* no wrapper (musl before 1.2.5) */
#define SPILL__HAVE_RENAMEAT2 1
static inline int spill__renameat2(int from_at, const char *from, int to_at, const char *to,
                                   unsigned flags)
{
    return (int)syscall(SYS_renameat2, (long)from_at, from, (long)to_at, to, (long)flags);
}
#else
#error "renameat2: neither a libc wrapper nor SYS_renameat2 (see kernel.h)"
#endif

#endif /* __linux__ */
#endif
